import FlintBackend

// Direct convolution for inputs with few channels. With one input channel and a 3×3 kernel the
// im2col route builds a K = 9 column matrix, which OpenBLAS packs again, then zeroes the output
// (beta = 0) and sweeps it once per tiny K block: three memory passes over the output for nine
// multiply-adds per element. Here each output row of `filters` values stays in L1 while every
// tap adds into it, and the filter gradient's `[patchSize, filters]` sums stay there too.

extension CPUBackend {
    public func conv2d(_ input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                       geometry g: ConvGeometry, filters: Int, out: any DeviceBuffer) {
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
        let rows = g.batch * g.outHeight
        let tasks = min(rows, Parallel.taskCount(forElements: g.patchCount * filters * g.patchSize))
        Parallel.run(tasks: tasks) { task in
            for row in Parallel.range(task, of: tasks, count: rows) {
                let oh = row % g.outHeight, n = row / g.outHeight
                for ow in 0..<g.outWidth {
                    let o = dst + (row * g.outWidth + ow) * filters
                    o.update(repeating: 0, count: filters)
                    Self.forEachTap(g, n: n, oh: oh, ow: ow) { tap, pixel in
                        for c in 0..<g.channels {
                            Self.addScaled(o, w + (tap * g.channels + c) * filters, src[pixel + c], count: filters)
                        }
                    }
                }
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
                        for ow in 0..<g.outWidth {
                            let d = dy + (row * g.outWidth + ow) * filters
                            Self.forEachTap(g, n: n, oh: oh, ow: ow) { tap, pixel in
                                for c in 0..<g.channels {
                                    Self.addScaled(sums + (tap * g.channels + c) * filters, d, src[pixel + c], count: filters)
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

    /// Calls `body(kh·kernelWidth + kw, index of the pixel's first channel)` for each tap of
    /// output `(n, oh, ow)` that reads inside the image, in ascending `(kh, kw)`.
    @inline(__always)
    static func forEachTap(_ g: ConvGeometry, n: Int, oh: Int, ow: Int, _ body: (Int, Int) -> Void) {
        let columns = validTaps(ow, g.strideWidth, g.padLeft, g.dilationWidth, g.kernelWidth, g.width)
        guard !columns.isEmpty else { return }
        let x0 = ow * g.strideWidth - g.padLeft
        for kh in 0..<g.kernelHeight {
            let ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight
            guard ih >= 0 && ih < g.height else { continue }
            let rowStart = (n * g.height + ih) * g.width
            for kw in columns {
                body(kh * g.kernelWidth + kw, (rowStart + x0 + kw * g.dilationWidth) * g.channels)
            }
        }
    }

    /// `q[i] += s · p[i]` for `i < count`.
    @inline(__always)
    static func addScaled(_ q: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, _ s: Float, count: Int) {
        for i in 0..<count { q[i] += s * p[i] }
    }
}
