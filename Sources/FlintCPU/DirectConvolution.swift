import CGemm
import CVectorMath
import FlintBackend

// Direct convolution for inputs with few channels (more go to ImplicitConvolution.swift). With
// one input channel and a 3×3 kernel the im2col route builds a K = 9 column matrix, which OpenBLAS packs again, then zeroes the output
// (beta = 0) and sweeps it once per tiny K block: three memory passes over the output for nine
// multiply-adds per element. Here eight filters of one output position stay in a register while
// every tap adds into them, and the filter gradient sums a row's positions per tap the same way.

extension CPUBackend {
    public func conv2d(_ input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                       geometry g: ConvGeometry, filters: Int, out: any DeviceBuffer) {
        directConvolution(input, offset: offset, filter: filter, filterOffset: filterOffset, geometry: g, filters: filters,
                          out: out, epilogue: nil)
    }

    /// The bias and a ReLU or leaky ReLU are applied to each output row right after it is
    /// computed, while it is in cache (the first layer's output is the largest tensor of a small
    /// CNN); another activation in one pass after.
    public func conv2d(_ input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                       geometry g: ConvGeometry, filters: Int, out: any DeviceBuffer, epilogue: GemmEpilogue) {
        let output = MatrixOperand(buffer: out, offset: 0, rowStride: filters, colStride: 1, batchStride: 0)
        guard BlockedGemm.available else {
            // The C epilogue needs AVX2: the convolution, then one pass.
            conv2d(input, offset: offset, filter: filter, filterOffset: filterOffset, geometry: g, filters: filters, out: out)
            return applyEpilogue(m: g.patchCount, n: filters, batch: 1, output, bias: epilogue.bias, activation: epilogue.activation)
        }
        let (fused, after) = split(epilogue, columns: filters, "conv2d")
        directConvolution(input, offset: offset, filter: filter, filterOffset: filterOffset, geometry: g, filters: filters,
                          out: out, epilogue: fused)
        if let after { applyEpilogue(m: g.patchCount, n: filters, batch: 1, output, bias: nil, activation: after.activation) }
    }

    private func directConvolution(_ input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                                   geometry g: ConvGeometry, filters: Int, out: any DeviceBuffer, epilogue: flint_epilogue?) {
        let source = cpuBuffer(input, "conv2d")
        let weights = cpuBuffer(filter, "conv2d")
        let target = cpuBuffer(out, "conv2d")
        checkGeometry(g, "conv2d")
        ensure(filters >= 1, "CPUBackend.conv2d: filters must be positive, got \(filters)")
        checkRange(source, offset: offset, count: g.imageCount, "conv2d", "input")
        checkRange(weights, offset: filterOffset, count: g.patchSize * filters, "conv2d", "filter")
        checkRange(target, offset: 0, count: g.patchCount * filters, "conv2d", "output")
        let src = UnsafePointer(source.floats + offset), w = UnsafePointer(weights.floats + filterOffset)
        let dst = target.floats
        if Self.convolvesImplicitly(g) {
            return implicitConvolution(src, geometry: g, weights: w, filters: filters, out: dst, epilogue: epilogue)
        }
        let rows = g.batch * g.outHeight
        let tasks = min(rows, Parallel.taskCount(forElements: g.patchCount * filters * g.patchSize))
        /// One output row (image n, output row oh) of every filter; returns the positions whose
        /// epilogue was applied as they were stored (none, except in flint_conv_row's AVX-512 runs).
        func convolveRow(_ row: Int) -> Range<Int> {
            let oh = row % g.outHeight, n = row / g.outHeight
            let kernelRows = Self.validTaps(oh, g.strideHeight, g.padTop, g.dilationHeight, g.kernelHeight, g.height)
            if filters % 8 == 0 {
                // The same sums in C, eight lanes wide on AVX2 (this loop runs four in Swift).
                let ih = oh * g.strideHeight - g.padTop + kernelRows.lowerBound * g.dilationHeight
                var finished = (begin: 0, end: 0)
                flint_conv_row(src + n * g.height * g.width * g.channels, g.width, g.channels, g.kernelWidth,
                               g.strideWidth, g.padLeft, g.dilationHeight, g.dilationWidth,
                               kernelRows.lowerBound, kernelRows.upperBound, ih, g.outWidth,
                               w, filters, epilogue?.bias, epilogue?.activation ?? 0, epilogue?.slope ?? 0,
                               dst + row * g.outWidth * filters, &finished.begin, &finished.end)
                return finished.begin..<finished.end
            }
            let fullColumns = 0..<g.kernelWidth
            var ow = 0
            while ow < g.outWidth {
                let kernelColumns = Self.validTaps(ow, g.strideWidth, g.padLeft, g.dilationWidth, g.kernelWidth, g.width)
                let four = ow + 4 <= g.outWidth && kernelColumns == fullColumns
                    && Self.validTaps(ow + 3, g.strideWidth, g.padLeft, g.dilationWidth, g.kernelWidth, g.width) == fullColumns
                let positions = four ? 4 : 1
                let o = dst + (row * g.outWidth + ow) * filters
                // Eight filters of up to four neighbouring positions in registers (four
                // independent sums share each filter load), every tap added before one store.
                var f = 0
                while f < filters {
                    let lanes = min(8, filters - f)
                    let taps = w + f
                    // Constant flags, so each inlined copy keeps its inner loop free of branches.
                    let sums = switch (four, lanes == 8) {
                    case (true, true): Self.convolve(src, taps, g, n, oh, ow, kernelRows, kernelColumns, filters, lanes, four: true, full: true)
                    case (true, false): Self.convolve(src, taps, g, n, oh, ow, kernelRows, kernelColumns, filters, lanes, four: true, full: false)
                    case (false, true): Self.convolve(src, taps, g, n, oh, ow, kernelRows, kernelColumns, filters, lanes, four: false, full: true)
                    case (false, false): Self.convolve(src, taps, g, n, oh, ow, kernelRows, kernelColumns, filters, lanes, four: false, full: false)
                    }
                    Self.store(sums.0, o + f, lanes)
                    if four {
                        Self.store(sums.1, o + filters + f, lanes)
                        Self.store(sums.2, o + 2 * filters + f, lanes)
                        Self.store(sums.3, o + 3 * filters + f, lanes)
                    }
                    f += 8
                }
                ow += positions
            }
            return 0..<0
        }

        Parallel.run(tasks: tasks) { task in
            for row in Parallel.range(task, of: tasks, count: rows) {
                let finished = convolveRow(row)
                guard var epilogue else { continue }
                // The positions before and after those finished in registers.
                let before = finished.lowerBound, after = g.outWidth - finished.upperBound
                let start = dst + row * g.outWidth * filters
                if before > 0 { flint_apply_epilogue(before, filters, start, filters, &epilogue) }
                if after > 0 { flint_apply_epilogue(after, filters, start + finished.upperBound * filters, filters, &epilogue) }
            }
        }
    }

    public func conv2dFilterGradient(_ input: any DeviceBuffer, offset: Int, gradient: any DeviceBuffer, gradientOffset: Int,
                                     geometry g: ConvGeometry, filters: Int, out: any DeviceBuffer) {
        let source = cpuBuffer(input, "conv2dFilterGradient")
        let gradients = cpuBuffer(gradient, "conv2dFilterGradient")
        let target = cpuBuffer(out, "conv2dFilterGradient")
        checkGeometry(g, "conv2dFilterGradient")
        ensure(filters >= 1, "CPUBackend.conv2dFilterGradient: filters must be positive, got \(filters)")
        checkRange(source, offset: offset, count: g.imageCount, "conv2dFilterGradient", "input")
        checkRange(gradients, offset: gradientOffset, count: g.patchCount * filters, "conv2dFilterGradient", "gradient")
        checkRange(target, offset: 0, count: g.patchSize * filters, "conv2dFilterGradient", "output")
        let src = UnsafePointer(source.floats + offset), dy = UnsafePointer(gradients.floats + gradientOffset)
        if Self.convolvesImplicitly(g) {
            return implicitFilterGradient(src, geometry: g, gradient: dy, filters: filters, out: target.floats)
        }
        if fewChannelFilterGradient(src, geometry: g, gradient: dy, filters: filters, out: target.floats) { return }
        let size = g.patchSize * filters, rows = g.batch * g.outHeight
        // Each task sums its output rows in Float, one row at a time, into Double totals; the
        // totals are added in task order, so the result does not depend on scheduling.
        let tasks = min(rows, Parallel.taskCount(forElements: g.patchCount * size))
        withUnsafeTemporaryAllocation(of: Double.self, capacity: tasks * size) { partials in
            let totals = partials.baseAddress!
            Parallel.run(tasks: tasks) { task in
                let total = totals + task * size
                total.initialize(repeating: 0, count: size)
                withUnsafeTemporaryAllocation(of: Float.self, capacity: size) { block in
                    let sums = block.baseAddress!
                    for row in Parallel.range(task, of: tasks, count: rows) {
                        let oh = row % g.outHeight, n = row / g.outHeight
                        sums.initialize(repeating: 0, count: size)
                        let kernelRows = Self.validTaps(oh, g.strideHeight, g.padTop, g.dilationHeight, g.kernelHeight, g.height)
                        if filters % 8 == 0 {
                            // The same sums in C, eight lanes wide on AVX2.
                            let ih = oh * g.strideHeight - g.padTop + kernelRows.lowerBound * g.dilationHeight
                            flint_conv_filter_gradient_row(
                                src + n * g.height * g.width * g.channels, g.width, g.channels, g.kernelWidth,
                                g.strideWidth, g.padLeft, g.dilationHeight, g.dilationWidth,
                                kernelRows.lowerBound, kernelRows.upperBound, ih, g.outWidth,
                                dy + row * g.outWidth * filters, filters, sums)
                        } else {
                            // Per tap and eight filters, the row's positions summed in a register.
                            for kh in kernelRows {
                                let ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight
                                let imageRow = src + (n * g.height + ih) * g.width * g.channels
                                for kw in 0..<g.kernelWidth {
                                    let outputs = Self.outputsInside(tap: kw, g.outWidth, g.strideWidth, g.padLeft, g.dilationWidth, g.width)
                                    guard !outputs.isEmpty else { continue }
                                    for c in 0..<g.channels {
                                        let target = sums + ((kh * g.kernelWidth + kw) * g.channels + c) * filters
                                        var f = 0
                                        while f < filters {
                                            let lanes = min(8, filters - f)
                                            let pixels = imageRow + (kw * g.dilationWidth - g.padLeft) * g.channels + c
                                            let step = g.strideWidth * g.channels
                                            let gradients = dy + row * g.outWidth * filters + f
                                            let sum = lanes == 8
                                                ? Self.sumPositions(pixels, step, gradients, filters, outputs, lanes, full: true)
                                                : Self.sumPositions(pixels, step, gradients, filters, outputs, lanes, full: false)
                                            Self.store(sum, target + f, lanes)
                                            f += 8
                                        }
                                    }
                                }
                            }
                        }
                        for i in 0..<size { total[i] += Double(sums[i]) }
                    }
                }
            }
            let dst = target.floats
            for i in 0..<size {
                var value: Double = 0
                for task in 0..<tasks { value += totals[task * size + i] }
                dst[i] = Float(value)
            }
        }
    }

    /// Eight filters (`lanes` of them real) of output `(n, oh, ow)` and, when `four`, of the three
    /// outputs to its right, all of whose taps in `kernelRows × kernelColumns` read the image.
    @inline(__always)
    static func convolve(_ src: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ g: ConvGeometry, _ n: Int, _ oh: Int,
                         _ ow: Int, _ kernelRows: Range<Int>, _ kernelColumns: Range<Int>, _ filters: Int, _ lanes: Int,
                         four: Bool, full: Bool) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        let step = g.strideWidth &* g.channels
        for kh in kernelRows {
            let ih = oh &* g.strideHeight &- g.padTop &+ kh &* g.dilationHeight
            for kw in kernelColumns {
                let iw = ow &* g.strideWidth &- g.padLeft &+ kw &* g.dilationWidth
                let pixel = src + ((n &* g.height &+ ih) &* g.width &+ iw) &* g.channels
                let weights = taps + (kh &* g.kernelWidth &+ kw) &* g.channels &* filters
                for c in 0..<g.channels {
                    let w = full ? UnsafeRawPointer(weights + c &* filters).loadUnaligned(as: SIMD8<Float>.self)
                        : load(weights + c &* filters, lanes)
                    s0 += pixel[c] * w
                    if four {
                        s1 += pixel[c &+ step] * w
                        s2 += pixel[c &+ 2 &* step] * w
                        s3 += pixel[c &+ 3 &* step] * w
                    }
                }
            }
        }
        return (s0, s1, s2, s3)
    }

    /// `Σ_{ow ∈ outputs} pixels[ow · step] · gradients[ow · filters ..< +8]` (`lanes` real), in
    /// two sums so that consecutive positions do not wait on each other's add.
    @inline(__always)
    static func sumPositions(_ pixels: UnsafePointer<Float>, _ step: Int, _ gradients: UnsafePointer<Float>, _ filters: Int,
                             _ outputs: Range<Int>, _ lanes: Int, full: Bool) -> SIMD8<Float> {
        @inline(__always) func gradient(_ ow: Int) -> SIMD8<Float> {
            full ? UnsafeRawPointer(gradients + ow &* filters).loadUnaligned(as: SIMD8<Float>.self)
                : load(gradients + ow &* filters, lanes)
        }
        var even = SIMD8<Float>(), odd = SIMD8<Float>()
        var ow = outputs.lowerBound
        while ow &+ 2 <= outputs.upperBound {
            even += pixels[ow &* step] * gradient(ow)
            odd += pixels[(ow &+ 1) &* step] * gradient(ow &+ 1)
            ow &+= 2
        }
        if ow < outputs.upperBound { even += pixels[ow &* step] * gradient(ow) }
        return even + odd
    }

    /// The outputs `o < outputs` whose input `o·stride − pad + tap·dilation` lies in `0..<size`.
    @inline(__always)
    static func outputsInside(tap: Int, _ outputs: Int, _ stride: Int, _ pad: Int, _ dilation: Int, _ size: Int) -> Range<Int> {
        let base = tap * dilation - pad
        let first = base >= 0 ? 0 : (-base + stride - 1) / stride
        guard size - 1 - base >= 0 else { return 0..<0 }
        let end = min((size - 1 - base) / stride + 1, outputs)
        return first < end ? first..<end : 0..<0
    }

    /// `count` (1...8) floats from `p`, zeros beyond.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ count: Int) -> SIMD8<Float> {
        if count == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        var v = SIMD8<Float>()
        for i in 0..<count { v[i] = p[i] }
        return v
    }

    /// The first `count` (1...8) lanes of `v` to `p`.
    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
        if count == 8 {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
        } else {
            for i in 0..<count { p[i] = v[i] }
        }
    }
}
