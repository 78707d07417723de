import FlintBackend
import Testing

/// `conv2d` and `conv2dFilterGradient` (and their compositions) against Float64 sums over the
/// column matrix that `ConvCase.source` defines.
extension BackendConformance {
    static let convolution: [ConformanceCheck] = [
        ConformanceCheck("conv2d and its filter gradient: every geometry, 1, 5, 32 and 40 filters, at offsets, stale output overwritten") { backend in
            for (test, filters) in ConvCase.convolutions {
                let g = test.geometry
                var random = TestRandom(seed: 7 &+ UInt64(test.columnCount * filters))
                let x = random.floats(test.imageCount), w = random.floats(g.patchSize * filters)
                let dy = random.floats(g.patchCount * filters)
                let (forward, filterGradient) = test.referenceConvolution(x, filter: w, gradient: dy, filters: filters)
                let input = backend.upload([9, 9] + x), filter = backend.upload([9] + w), gradient = backend.upload([9, 9, 9] + dy)
                for composed in [false, true] {
                    let out = backend.upload([Float](repeating: .nan, count: g.patchCount * filters))
                    let dw = backend.upload([Float](repeating: .nan, count: g.patchSize * filters))
                    if composed {
                        backend.composedConv2d(input, offset: 2, filter: filter, filterOffset: 1, geometry: g, filters: filters, out: out)
                        backend.composedConv2dFilterGradient(input, offset: 2, gradient: gradient, gradientOffset: 3, geometry: g,
                                                             filters: filters, out: dw)
                    } else {
                        backend.conv2d(input, offset: 2, filter: filter, filterOffset: 1, geometry: g, filters: filters, out: out)
                        backend.conv2dFilterGradient(input, offset: 2, gradient: gradient, gradientOffset: 3, geometry: g,
                                                     filters: filters, out: dw)
                    }
                    let what = "\(composed ? "composed " : "")\(test), \(filters) filters"
                    expectClose(backend.floats(out, count: g.patchCount * filters), forward, tolerance: 1e-5, "conv2d \(what)")
                    // Sums over every output position (thousands in the parallel case), in Float.
                    expectClose(backend.floats(dw, count: g.patchSize * filters), filterGradient, tolerance: 1e-4,
                                "conv2dFilterGradient \(what)")
                }
            }
        },
        ConformanceCheck("conv2dInputGradient: every geometry, 1, 5, 32 and 40 filters, at offsets, stale output overwritten") { backend in
            for (test, filters) in ConvCase.convolutions {
                let g = test.geometry
                var random = TestRandom(seed: 11 &+ UInt64(test.columnCount * filters))
                let w = random.floats(g.patchSize * filters), dy = random.floats(g.patchCount * filters)
                let expected = test.referenceInputGradient(filter: w, gradient: dy, filters: filters)
                let filter = backend.upload([9] + w), gradient = backend.upload([9, 9, 9] + dy)
                for composed in [false, true] {
                    let dx = backend.upload([Float](repeating: .nan, count: test.imageCount))
                    if composed {
                        backend.composedConv2dInputGradient(gradient, gradientOffset: 3, filter: filter, filterOffset: 1,
                                                            geometry: g, filters: filters, out: dx)
                    } else {
                        backend.conv2dInputGradient(gradient, gradientOffset: 3, filter: filter, filterOffset: 1,
                                                    geometry: g, filters: filters, out: dx)
                    }
                    expectClose(backend.floats(dx, count: test.imageCount), expected, tolerance: 1e-5,
                                "conv2dInputGradient \(composed ? "composed " : "")\(test), \(filters) filters")
                }
            }
        },
        ConformanceCheck("conv2dInputGradient through a ReLU: the gradient masked by the ReLU's output, and its column sums") { backend in
            for (test, filters) in ConvCase.convolutions where filters == 5 || filters == 32 {
                let g = test.geometry
                var random = TestRandom(seed: 29 &+ UInt64(test.columnCount * filters))
                let w = random.floats(g.patchSize * filters), dy = random.floats(g.patchCount * filters)
                // The ReLU's output: zeros (a quarter, exactly), NaN and positives.
                var y = random.floats(test.imageCount, -1, 3).map { $0 < 0 ? 0 : $0 }
                if y.count > 3 { y[y.count / 2] = .nan }
                let plain = test.referenceInputGradient(filter: w, gradient: dy, filters: filters)
                let expected = zip(plain, y).map { $1 > 0 ? $0 : 0 }
                var sums = [Double](repeating: 0, count: g.channels)
                for (i, value) in expected.enumerated() { sums[i % g.channels] += value }
                let filter = backend.upload([9] + w), gradient = backend.upload([9, 9, 9] + dy), output = backend.upload([7, 7] + y)
                for composed in [false, true] {
                    for withSums in [true, false] {
                        let dx = backend.upload([Float](repeating: .nan, count: test.imageCount))
                        let totals = withSums ? backend.upload([Float](repeating: .nan, count: g.channels)) : nil
                        if composed {
                            backend.composedConv2dInputGradient(gradient, gradientOffset: 3, filter: filter, filterOffset: 1, geometry: g,
                                                                filters: filters, reluOutput: output, reluOutputOffset: 2, out: dx,
                                                                sums: totals)
                        } else {
                            backend.conv2dInputGradient(gradient, gradientOffset: 3, filter: filter, filterOffset: 1, geometry: g,
                                                        filters: filters, reluOutput: output, reluOutputOffset: 2, out: dx, sums: totals)
                        }
                        let what = "conv2dInputGradient through a ReLU \(composed ? "composed " : "")\(test), \(filters) filters"
                        expectClose(backend.floats(dx, count: test.imageCount), expected, tolerance: 1e-5, what)
                        if let totals { expectClose(backend.floats(totals, count: g.channels), sums, tolerance: 1e-4, "\(what): sums") }
                    }
                }
            }
        },
    ]
}

extension ConvCase {
    /// Every geometry the convolution checks run, each with 1, 5, 32 and 40 filters.
    static let convolutions: [(ConvCase, Int)] = {
        let fewChannels = ConvCase("one channel, 28×28 3×3 (parallel)", batch: 3, height: 28, width: 28, channels: 1, kernel: (3, 3))
        return (all + [fewChannels] + manyChannels).flatMap { test in [1, 5, 32, 40].map { (test, $0) } }
    }()

    /// col2im of `gradient · filterᵀ` in Float64: each input element's sum over the outputs and
    /// taps that read it.
    func referenceInputGradient(filter: [Float], gradient: [Float], filters: Int) -> [Double] {
        let g = geometry
        var image = [Double](repeating: 0, count: imageCount)
        for p in 0..<g.patchCount {
            for j in 0..<g.patchSize {
                guard let at = source(row: p, column: j) else { continue }
                for f in 0..<filters { image[at] += Double(gradient[p * filters + f]) * Double(filter[j * filters + f]) }
            }
        }
        return image
    }

    /// Geometries with more channels than the CPU's few-channel kernels take (its product over the
    /// image): rows of taps read in place or gathered, 6-row panels across output rows and images,
    /// two k blocks, every kind of padding.
    static let manyChannels = [
        ConvCase("32 channels, 3×3 valid, output rows of 7", batch: 2, height: 10, width: 9, channels: 32, kernel: (3, 3)),
        ConvCase("64 channels, 3×3 (two k blocks)", batch: 1, height: 7, width: 8, channels: 64, kernel: (3, 3), pad: (1, 0)),
        ConvCase("6 channels, dilation (1, 2) stride (1, 2)", batch: 2, height: 7, width: 11, channels: 6, kernel: (2, 3),
                 stride: (1, 2), dilation: (1, 2)),
        ConvCase("12 channels, dilation (2, 1), bottom and right padding", batch: 2, height: 8, width: 6, channels: 12,
                 kernel: (3, 3), dilation: (2, 1), pad: (0, 0), padBottomRight: (1, 2)),
        ConvCase("7 channels, stride 3 (unread gaps)", batch: 2, height: 8, width: 7, channels: 7, kernel: (2, 2), stride: (3, 3)),
        ConvCase("9 channels, kernel wider than the image", batch: 1, height: 3, width: 2, channels: 9, kernel: (5, 5), pad: (2, 2)),
        ConvCase("8 channels, 1×1 over 1,024 positions (filter gradient in column bands)", batch: 4, height: 16, width: 16,
                 channels: 8, kernel: (1, 1)),
        ConvCase("20 channels, 1×1 (one run of taps; the last tile overlaps its neighbour)", batch: 2, height: 9,
                 width: 10, channels: 20, kernel: (1, 1)),
        ConvCase("16 channels, 3×3 padded, 800 positions (three blocks of positions)", batch: 2,
                 height: 20, width: 20, channels: 16, kernel: (3, 3), pad: (1, 1)),
    ]

    /// `columns · filter` and `columnsᵀ · gradient` in Float64, over the zero-padded column matrix.
    func referenceConvolution(_ x: [Float], filter: [Float], gradient: [Float], filters: Int) -> (forward: [Double], filterGradient: [Double]) {
        let g = geometry
        var forward = [Double](repeating: 0, count: g.patchCount * filters)
        var filterGradient = [Double](repeating: 0, count: g.patchSize * filters)
        for p in 0..<g.patchCount {
            for j in 0..<g.patchSize {
                guard let at = source(row: p, column: j) else { continue }
                let v = Double(x[at])
                for f in 0..<filters {
                    forward[p * filters + f] += v * Double(filter[j * filters + f])
                    filterGradient[j * filters + f] += v * Double(gradient[p * filters + f])
                }
            }
        }
        return (forward, filterGradient)
    }
}
