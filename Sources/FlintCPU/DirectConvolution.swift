import FlintBackend

// Direct convolution for inputs with few channels. With one input channel and a 3×3 kernel the
// im2col route builds a K = 9 column matrix, which OpenBLAS packs again, then zeroes the output
// (beta = 0) and sweeps it once per tiny K block: three memory passes over the output for nine
// multiply-adds per element. Here eight filters of one output position stay in a register while
// every tap adds into them, and the filter gradient sums a row's positions per tap the same way.

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
                let kernelRows = Self.validTaps(oh, g.strideHeight, g.padTop, g.dilationHeight, g.kernelHeight, g.height)
                let fullColumns = 0..<g.kernelWidth
                var ow = 0
                while ow < g.outWidth {
                    let kernelColumns = Self.validTaps(ow, g.strideWidth, g.padLeft, g.dilationWidth, g.kernelWidth, g.width)
                    let four = ow + 4 <= g.outWidth && kernelColumns == fullColumns
                        && Self.validTaps(ow + 3, g.strideWidth, g.padLeft, g.dilationWidth, g.kernelWidth, g.width) == fullColumns
                    let positions = four ? 4 : 1
                    let o = dst + (row * g.outWidth + ow) * filters
                    let step = g.strideWidth * g.channels
                    // Eight filters of up to four neighbouring positions in registers (four
                    // independent sums share each filter load), every tap added before one store.
                    var f = 0
                    while f < filters {
                        let lanes = min(8, filters - f)
                        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
                        for kh in kernelRows {
                            let ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight
                            for kw in kernelColumns {
                                let iw = ow * g.strideWidth - g.padLeft + kw * g.dilationWidth
                                let pixel = src + ((n * g.height + ih) * g.width + iw) * g.channels
                                let taps = w + ((kh * g.kernelWidth + kw) * g.channels) * filters + f
                                for c in 0..<g.channels {
                                    let weights = Self.load(taps + c * filters, lanes)
                                    s0 += pixel[c] * weights
                                    if four {
                                        s1 += pixel[c + step] * weights
                                        s2 += pixel[c + 2 * step] * weights
                                        s3 += pixel[c + 3 * step] * weights
                                    }
                                }
                            }
                        }
                        Self.store(s0, o + f, lanes)
                        if four {
                            Self.store(s1, o + filters + f, lanes)
                            Self.store(s2, o + 2 * filters + f, lanes)
                            Self.store(s3, o + 3 * filters + f, lanes)
                        }
                        f += 8
                    }
                    ow += positions
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
                        // Per tap and eight filters, the row's positions summed in a register.
                        for kh in Self.validTaps(oh, g.strideHeight, g.padTop, g.dilationHeight, g.kernelHeight, g.height) {
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
                                        // Two sums, so consecutive positions do not wait on each other's add.
                                        var even = SIMD8<Float>(), odd = SIMD8<Float>()
                                        let pixels = imageRow + (kw * g.dilationWidth - g.padLeft) * g.channels + c
                                        let step = g.strideWidth * g.channels
                                        let gradients = dy + row * g.outWidth * filters + f
                                        var ow = outputs.lowerBound
                                        while ow + 2 <= outputs.upperBound {
                                            even += pixels[ow * step] * Self.load(gradients + ow * filters, lanes)
                                            odd += pixels[(ow + 1) * step] * Self.load(gradients + (ow + 1) * filters, lanes)
                                            ow += 2
                                        }
                                        if ow < outputs.upperBound {
                                            even += pixels[ow * step] * Self.load(gradients + ow * filters, lanes)
                                        }
                                        Self.store(even + odd, target + f, lanes)
                                        f += 8
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
