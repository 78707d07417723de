import CGemm
import FlintBackend

// Convolution as a product over the image itself (an implicit im2col): `flint_sgemm_gathered`
// reads each element of the column matrix from the input through two offset tables, one per
// output position and one per tap, so the matrix (nine times the image for a 3×3 kernel) is
// never written nor read back. im2col and its copies were 12% of the Keras convnet's training.
// The sums are those of im2col then the blocked product, in the same order, bit for bit
// (the im2col path hands products with one row or one column to the matrix–vector kernel
// instead, whose order differs: a single filter, a single output position).

extension CPUBackend {
    /// Inputs with at most this many channels take the direct kernels (DirectConvolution.swift):
    /// their column matrix is too thin for a product.
    static let fewChannels = 4

    /// Whether `conv2d` and `conv2dFilterGradient` of `g` run as a product over the image.
    static func convolvesImplicitly(_ g: ConvGeometry) -> Bool {
        BlockedGemm.enabled && g.channels > fewChannels
    }

    public func convolvesWithoutColumns(_ geometry: ConvGeometry) -> Bool { Self.convolvesImplicitly(geometry) }

    /// The convolution of `input` with `weights` (`[patchSize, filters]`) into `out`
    /// (`[patchCount, filters]`), the fused part of an epilogue applied as it is stored.
    func implicitConvolution(_ input: UnsafePointer<Float>, geometry g: ConvGeometry, weights: UnsafePointer<Float>,
                             filters: Int, out: UnsafeMutablePointer<Float>, epilogue: flint_epilogue?) {
        ConvolutionImage.with(input, g, on: self) { image, positions, taps in
            let m = g.patchCount, k = g.patchSize
            Self.forEachBand(rows: m, work: m * filters * k) { rows in
                let call = { (epilogue: UnsafePointer<flint_epilogue>?) in
                    flint_sgemm_gathered(rows.count, filters, k, 1, image, positions + rows.lowerBound, taps,
                                         weights, filters, 1, 0, out + rows.lowerBound * filters, filters, epilogue)
                }
                if var epilogue { withUnsafePointer(to: &epilogue) { call($0) } } else { call(nil) }
            }
        }
    }

    /// The filter gradient `Σ_p columns[p, j] · gradient[p, f]` into `out` (`[patchSize, filters]`).
    func implicitFilterGradient(_ input: UnsafePointer<Float>, geometry g: ConvGeometry, gradient: UnsafePointer<Float>,
                                filters: Int, out: UnsafeMutablePointer<Float>) {
        ConvolutionImage.with(input, g, on: self) { image, positions, taps in
            // The column matrix transposed: rows are taps, the sum runs over output positions.
            let m = g.patchSize, k = g.patchCount
            if inPlaceFilterGradient(image, positions: positions, taps: taps, geometry: g, gradient: gradient,
                                     filters: filters, out: out) {
                return
            }
            guard m <= filters else {
                return Self.forEachBand(rows: m, work: m * filters * k) { rows in
                    flint_sgemm_gathered(rows.count, filters, k, 1, image, taps + rows.lowerBound, positions,
                                         gradient, filters, 1, 0, out + rows.lowerBound * filters, filters, nil)
                }
            }
            // Few taps (a 1×1 kernel): bands of whole 16-column tiles of filters instead, so
            // every core gets a share however few the taps.
            Self.forEachBand(rows: filters, tile: 16, work: m * filters * k) { columns in
                flint_sgemm_gathered(m, columns.count, k, 1, image, taps, positions, gradient + columns.lowerBound,
                                     filters, 1, 0, out + columns.lowerBound, filters, nil)
            }
        }
    }

    /// `flint_filter_gradient` for an input of few channels (which `conv2dFilterGradient` otherwise
    /// sums row by row): false, and nothing done, where it does not apply (see
    /// `inPlaceFilterGradient`). One channel, 3×3, 32 filters: tiles of 3 taps (a window's row).
    func fewChannelFilterGradient(_ input: UnsafePointer<Float>, geometry g: ConvGeometry, gradient: UnsafePointer<Float>,
                                  filters: Int, out: UnsafeMutablePointer<Float>) -> Bool {
        // The taps alone first: the positions' table is as long as the output.
        guard BlockedGemm.enabled, g.patchCount >= 2 * Self.filterGradientShare, Self.filterGradientInPlace(g) else { return false }
        var done = false
        ConvolutionImage.with(input, g, on: self) { image, positions, taps in
            done = inPlaceFilterGradient(image, positions: positions, taps: taps, geometry: g, gradient: gradient,
                                         filters: filters, out: out)
        }
        return done
    }

    /// Output positions per share of `inPlaceFilterGradient`: a fixed length, so that the sums,
    /// added share by share, do not depend on the number of cores.
    static let filterGradientShare = 4096

    /// The filter gradient by `flint_filter_gradient` over shares of the output positions, each
    /// summed into its own copy of the result on whichever core takes it, the copies then added
    /// in order. Split by taps instead (as the gathered product is), both cores read all of the
    /// image and the gradient (one Zen 5, the Keras convnet's second filter gradient: 312–322
    /// against 358–370 GFLOP/s). False, and nothing done, where the tiles cannot read the taps in
    /// place or there are too few positions for two shares: the gathered product, split by taps,
    /// then gives the bits a single share would.
    private func inPlaceFilterGradient(_ image: UnsafePointer<Float>, positions: UnsafePointer<Int>,
                                       taps: UnsafePointer<Int>, geometry g: ConvGeometry, gradient: UnsafePointer<Float>,
                                       filters: Int, out: UnsafeMutablePointer<Float>) -> Bool {
        let m = g.patchSize, k = g.patchCount, size = m * filters
        let shares = k / Self.filterGradientShare
        guard shares >= 2, flint_filter_gradient_in_place(m, taps) != 0 else { return false }
        let copies = cpuBuffer(allocate(byteCount: (shares - 1) * size * MemoryLayout<Float>.stride), "conv2dFilterGradient")
        withExtendedLifetime(copies) {
            let partial = copies.floats
            let tasks = min(Parallel.cores, shares)
            Parallel.run(tasks: tasks) { task in
                for share in Parallel.range(task, of: tasks, count: shares) {
                    let span = Parallel.range(share, of: shares, count: k)
                    flint_filter_gradient(m, filters, span.count, image, positions + span.lowerBound, taps,
                                          gradient + span.lowerBound * filters, share == 0 ? out : partial + (share - 1) * size)
                }
            }
            Self.addPartials(partial, count: shares - 1, size: size, into: out)
        }
        return true
    }

    /// `out[i] += partials[p · size + i]` for each partial sum p in order (so the result does not
    /// depend on which core made which), the elements split across cores.
    static func addPartials(_ partials: UnsafePointer<Float>, count: Int, size: Int, into out: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        let parts = min(Parallel.cores, max(1, size / 4096))
        Parallel.run(tasks: parts) { part in
            let elements = Parallel.range(part, of: parts, count: size)
            for p in 0..<count {
                let copy = partials + p * size
                for i in elements { out[i] += copy[i] }
            }
        }
    }
}

extension CPUBackend {
    /// Runs `body` on bands of whole tiles (6 rows, or `tile`) of a product's `rows`, one per
    /// core (on the calling thread below 64³ multiply-adds of `work`, as BlockedGemm does).
    fileprivate static func forEachBand(rows m: Int, tile: Int = 6, work: Int, _ body: (Range<Int>) -> Void) {
        let tiles = (m + tile - 1) / tile
        let bands = work < 64 * 64 * 64 ? 1 : min(Parallel.cores, tiles)
        Parallel.run(tasks: bands) { band in
            let span = Parallel.range(band, of: bands, count: tiles)
            let rows = (span.lowerBound * tile)..<min(m, span.upperBound * tile)
            if !rows.isEmpty { body(rows) }
        }
    }
}

/// Where a convolution's outputs read: the image itself, or a zero-padded copy of the part of it
/// that outputs reach, when the geometry pads (then every tap of every position lies inside it).
enum ConvolutionLayout {
    /// The rows and columns of the image the offsets index, and whether that is a padded copy.
    static func extent(_ g: ConvGeometry) -> (height: Int, width: Int, padded: Bool) {
        // The rows and columns the outputs reach, in padded coordinates.
        let height = (g.outHeight - 1) * g.strideHeight + (g.kernelHeight - 1) * g.dilationHeight + 1
        let width = (g.outWidth - 1) * g.strideWidth + (g.kernelWidth - 1) * g.dilationWidth + 1
        let padded = g.padTop > 0 || g.padLeft > 0 || height > g.height || width > g.width
        return padded ? (height, width, true) : (g.height, g.width, false)
    }

    /// The offset of each output position of `images` images (`positions`, `images · outHeight ·
    /// outWidth` of them) and of each tap (`taps`, `patchSize`) in an image `width` columns wide.
    static func fillTables(_ g: ConvGeometry, images: Int, width w: Int, height h: Int,
                           positions: UnsafeMutablePointer<Int>, taps: UnsafeMutablePointer<Int>) {
        let c = g.channels
        var i = 0
        for n in 0..<images {
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    positions[i] = ((n * h + oh * g.strideHeight) * w + ow * g.strideWidth) * c
                    i += 1
                }
            }
        }
        fillTaps(g, width: w, taps: taps)
    }

    /// The offset of each tap (`patchSize` of them) in an image `width` columns wide.
    static func fillTaps(_ g: ConvGeometry, width w: Int, taps: UnsafeMutablePointer<Int>) {
        var j = 0
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                for channel in 0..<g.channels {
                    taps[j] = (kh * g.dilationHeight * w + kw * g.dilationWidth) * g.channels + channel
                    j += 1
                }
            }
        }
    }
}

/// The image a convolution reads and its offset tables (see `ConvolutionLayout`).
enum ConvolutionImage {
    /// Runs `body(image, positions, taps)`. The tables and the copy come from the backend's
    /// pool: fresh memory for them on every call cost 6% of a convnet's training in page clearing.
    static func with(_ input: UnsafePointer<Float>, _ g: ConvGeometry, on backend: CPUBackend,
                     _ body: (UnsafePointer<Float>, UnsafePointer<Int>, UnsafePointer<Int>) -> Void) {
        let (h, w, padded) = ConvolutionLayout.extent(g)
        let c = g.channels
        let tables = backend.cpuBuffer(backend.allocate(byteCount: (g.patchCount + g.patchSize) * MemoryLayout<Int>.stride),
                                       "conv2d")
        // The pool takes a buffer back when its last reference goes: keep them to the end.
        withExtendedLifetime(tables) {
            let positions = tables.pointer.assumingMemoryBound(to: Int.self), taps = positions + g.patchCount
            ConvolutionLayout.fillTables(g, images: g.batch, width: w, height: h, positions: positions, taps: taps)
            guard padded else { return body(input, positions, taps) }
            let padding = backend.cpuBuffer(backend.allocate(byteCount: g.batch * h * w * c * 4), "conv2d")
            withExtendedLifetime(padding) {
                let copy = padding.floats
                // Each padded row: the input row at its place, clipped to the part outputs reach,
                // and zeros around it; rows split across cores (one thread zeroing and copying
                // the padded output gradient of a convnet's input gradient took 9% of its step).
                let columns = max(0, min(g.width, w - g.padLeft)), rowLength = w * c
                let rows = g.batch * h
                let tasks = min(rows, Parallel.taskCount(forElements: rows * rowLength))
                Parallel.run(tasks: tasks) { task in
                    for row in Parallel.range(task, of: tasks, count: rows) {
                        let target = copy + row * rowLength, ih = row % h - g.padTop, n = row / h
                        guard ih >= 0, ih < g.height, columns > 0 else {
                            target.update(repeating: 0, count: rowLength)
                            continue
                        }
                        target.update(repeating: 0, count: g.padLeft * c)
                        (target + g.padLeft * c).update(from: input + (n * g.height + ih) * g.width * c, count: columns * c)
                        let end = (g.padLeft + columns) * c
                        (target + end).update(repeating: 0, count: rowLength - end)
                    }
                }
                body(copy, positions, taps)
            }
        }
    }
}
