import FlintBackend
import Foundation
import Testing

/// `conv2dMaxPool` against `conv2d` then `maxPool2d` on the same backend (the same bits: values
/// and winning taps), and its values against Float64.
extension BackendConformance {
    static let convolutionPooling: [ConformanceCheck] = [
        ConformanceCheck("conv2dMaxPool: the bits of conv2d then maxPool2d, every epilogue, pooled rows in chunks") { backend in
            for (test, pool, filters) in ConvCase.pooledConvolutions {
                let g = test.geometry, p = pool.geometry
                var random = TestRandom(seed: 41 &+ UInt64(test.columnCount * filters))
                let x = random.floats(test.imageCount), w = random.floats(g.patchSize * filters), b = random.floats(filters)
                let (forward, _) = test.referenceConvolution(x, filter: w, gradient: [Float](repeating: 0, count: g.patchCount * filters),
                                                             filters: filters)
                let input = backend.upload([9, 9] + x), filter = backend.upload([9] + w), bias = backend.upload([5] + b)
                let epilogues: [(String, GemmEpilogue?, (Double, Int) -> Double)] = [
                    ("none", nil, { v, _ in v }),
                    ("bias", GemmEpilogue(bias: (bias, 1), activation: nil), { v, f in v + Double(b[f]) }),
                    ("relu", GemmEpilogue(bias: nil, activation: .relu), { v, _ in max(v, 0) }),
                    ("bias and relu", GemmEpilogue(bias: (bias, 1), activation: .relu), { v, f in max(v + Double(b[f]), 0) }),
                    ("bias and leaky relu", GemmEpilogue(bias: (bias, 1), activation: .leakyRelu(slope: 0.125)),
                     { v, f in v + Double(b[f]) > 0 ? v + Double(b[f]) : 0.125 * (v + Double(b[f])) }),
                    ("tanh (applied after)", GemmEpilogue(bias: nil, activation: .tanh), { v, _ in Foundation.tanh(v) }),
                ]
                for (name, epilogue, activation) in epilogues {
                    let what = "\(test), \(filters) filters, \(pool), \(name)"
                    // The two ops.
                    let convolved = backend.allocate(byteCount: g.patchCount * filters * 4)
                    if let epilogue {
                        backend.conv2d(input, offset: 2, filter: filter, filterOffset: 1, geometry: g, filters: filters,
                                       out: convolved, epilogue: epilogue)
                    } else {
                        backend.conv2d(input, offset: 2, filter: filter, filterOffset: 1, geometry: g, filters: filters, out: convolved)
                    }
                    let separate = (values: backend.allocate(byteCount: pool.pooledCount * 4),
                                    taps: backend.allocate(byteCount: pool.pooledCount * 4))
                    backend.maxPool2d(convolved, offset: 0, geometry: p, out: separate.values, taps: separate.taps)
                    let expectedValues = backend.bits(separate.values, count: pool.pooledCount)
                    let expectedTaps = backend.ints(separate.taps, count: pool.pooledCount)
                    // The pooled Float64 reference of the activated convolution.
                    let reference = pool.referenceMaxPool(forward.enumerated().map { Float(activation($1, $0 % filters)) }).values
                    for composed in [false, true] {
                        let values = backend.upload([Float](repeating: .nan, count: pool.pooledCount))
                        let taps = backend.upload(ints: [Int32](repeating: 77, count: pool.pooledCount))
                        if composed {
                            backend.composedConv2dMaxPool(input, offset: 2, filter: filter, filterOffset: 1, geometry: g,
                                                          filters: filters, epilogue: epilogue, pool: p, out: values, taps: taps)
                        } else {
                            backend.conv2dMaxPool(input, offset: 2, filter: filter, filterOffset: 1, geometry: g, filters: filters,
                                                  epilogue: epilogue, pool: p, out: values, taps: taps)
                        }
                        let label = "\(composed ? "composed " : "")\(what)"
                        // The first difference, not thousands of elements.
                        let (valueBits, tapValues) = (backend.bits(values, count: pool.pooledCount), backend.ints(taps, count: pool.pooledCount))
                        let valueDifference = valueBits.indices.first { valueBits[$0] != expectedValues[$0] }
                        let tapDifference = tapValues.indices.first { tapValues[$0] != expectedTaps[$0] }
                        #expect(valueDifference == nil, "values differ from element \(valueDifference ?? 0), \(label)")
                        #expect(tapDifference == nil, "taps differ from element \(tapDifference ?? 0), \(label)")
                        expectClose(backend.floats(values, count: pool.pooledCount), reference.map(Double.init), tolerance: 1e-5,
                                    "values against Float64, \(label)")
                    }
                }
            }
        },
        ConformanceCheck("conv2dMaxPoolBackward: the output gradient scattered to the winners, then the filter's and input's gradients, through a ReLU") { backend in
            for (test, pool, filters) in ConvCase.pooledConvolutions {
                let g = test.geometry
                var random = TestRandom(seed: 43 &+ UInt64(test.columnCount * filters))
                let x = random.floats(test.imageCount), w = random.floats(g.patchSize * filters)
                let taps = pool.referenceMaxPool(random.floats(pool.imageCount)).taps
                let pooledGradient = random.floats(pool.pooledCount)
                // The ReLU's output that the convolution read: zeros (a quarter) and positives.
                let reluOutput = random.floats(test.imageCount, -1, 3).map { $0 < 0 ? 0 : $0 }
                let dy = pool.referenceMaxPoolBackward(pooledGradient, taps: taps).map { Float($0) }
                let (_, filterGradient) = test.referenceConvolution(x, filter: w, gradient: dy, filters: filters)
                let inputGradient = test.referenceInputGradient(filter: w, gradient: dy, filters: filters)
                let maskedGradient = zip(inputGradient, reluOutput).map { $1 > 0 ? $0 : 0 }
                var sums = [Double](repeating: 0, count: g.channels)
                for (i, value) in maskedGradient.enumerated() { sums[i % g.channels] += value }
                let input = backend.upload([9, 9] + x), filter = backend.upload([9] + w)
                let gradient = backend.upload([7] + pooledGradient), winners = backend.upload(ints: taps)
                let output = backend.upload([5, 5, 5] + reluOutput)
                // (filter gradient, input gradient, through the ReLU, its sums)
                for (wantsFilter, wantsInput, throughRelu, withSums) in [(true, true, false, false), (true, false, false, false),
                                                                        (false, true, false, false), (true, true, true, true),
                                                                        (false, true, true, false)] {
                    var inputs: [[Float]] = []
                    for composed in [false, true] {
                        let dw = wantsFilter ? backend.upload([Float](repeating: .nan, count: g.patchSize * filters)) : nil
                        let dx = wantsInput ? backend.upload([Float](repeating: .nan, count: test.imageCount)) : nil
                        let totals = withSums ? backend.upload([Float](repeating: .nan, count: g.channels)) : nil
                        let relu = throughRelu ? output : nil
                        if composed {
                            backend.composedConv2dMaxPoolBackward(gradient, gradientOffset: 1, taps: winners, pool: pool.geometry,
                                                                  input: input, offset: 2, filter: filter, filterOffset: 1, geometry: g,
                                                                  filters: filters, filterGradient: dw, inputGradient: dx,
                                                                  reluOutput: relu, reluOutputOffset: 3, sums: totals)
                        } else {
                            backend.conv2dMaxPoolBackward(gradient, gradientOffset: 1, taps: winners, pool: pool.geometry,
                                                          input: input, offset: 2, filter: filter, filterOffset: 1, geometry: g,
                                                          filters: filters, filterGradient: dw, inputGradient: dx,
                                                          reluOutput: relu, reluOutputOffset: 3, sums: totals)
                        }
                        let what = "\(composed ? "composed, " : "")\(test), \(filters) filters, \(pool), filter \(wantsFilter), "
                            + "input \(wantsInput), ReLU \(throughRelu)"
                        if let dw {
                            expectClose(backend.floats(dw, count: g.patchSize * filters), filterGradient, tolerance: 1e-4,
                                        "filter gradient, \(what)")
                        }
                        if let dx {
                            let values = backend.floats(dx, count: test.imageCount)
                            inputs.append(values)
                            expectClose(values, throughRelu ? maskedGradient : inputGradient, tolerance: 1e-5, "input gradient, \(what)")
                        }
                        if let totals { expectClose(backend.floats(totals, count: g.channels), sums, tolerance: 1e-4, "sums, \(what)") }
                    }
                    // The input's gradient has the bits of the separate ops.
                    if inputs.count == 2 {
                        #expect(inputs[0].map(\.bitPattern) == inputs[1].map(\.bitPattern),
                                "input gradient against the composed one, \(test), \(filters) filters, \(pool), ReLU \(throughRelu)")
                    }
                }
            }
        },
    ]
}

extension ConvCase {
    /// A convolution, a max pooling over its output and a number of filters: 2×2 windows (the
    /// Keras convnet's), an odd output whose last row and column no window reads, overlapping
    /// windows, gaps between windows, a padded pooling (which the CPU runs as the two ops), a
    /// padded convolution, a single image split among cores, rows beyond one chunk's buffer, a
    /// batch of many images, and a strided, dilated convolution.
    static let pooledConvolutions: [(ConvCase, ConvCase, Int)] = {
        func pooled(_ c: ConvCase, _ name: String, kernel: (Int, Int), stride: (Int, Int), pad: (Int, Int) = (0, 0),
                    filters: Int) -> (ConvCase, ConvCase, Int) {
            let g = c.geometry
            return (c, ConvCase(name, batch: g.batch, height: g.outHeight, width: g.outWidth, channels: filters,
                                kernel: kernel, stride: stride, pad: pad), filters)
        }
        let keras = ConvCase("16 channels 3×3 over 10×12", batch: 3, height: 10, width: 12, channels: 16, kernel: (3, 3))
        let odd = ConvCase("8 channels 3×3 over 11×9", batch: 2, height: 11, width: 9, channels: 8, kernel: (3, 3))
        let padded = ConvCase("6 channels 3×3 same over 7×8", batch: 2, height: 7, width: 8, channels: 6, kernel: (3, 3), pad: (1, 1))
        let single = ConvCase("12 channels 3×3 over one 22×14 image", batch: 1, height: 22, width: 14, channels: 12, kernel: (3, 3))
        let large = ConvCase("8 channels 3×3 over 36×36", batch: 4, height: 36, width: 36, channels: 8, kernel: (3, 3))
        let few = ConvCase("2 channels 3×3 over 8×8", batch: 2, height: 8, width: 8, channels: 2, kernel: (3, 3))
        let strided = ConvCase("10 channels 3×2 stride (2, 1) dilation (1, 2) over 11×12", batch: 2, height: 11, width: 12,
                               channels: 10, kernel: (3, 2), stride: (2, 1), dilation: (1, 2))
        // More images than the CPU's backward has groups: several images summed into each group's partial.
        let many = ConvCase("6 channels 3×3 over 130 images of 5×4", batch: 130, height: 5, width: 4, channels: 6, kernel: (3, 3))
        return [
            pooled(keras, "2×2", kernel: (2, 2), stride: (2, 2), filters: 32),
            pooled(keras, "2×2", kernel: (2, 2), stride: (2, 2), filters: 5),
            pooled(odd, "2×2 (last row and column unread)", kernel: (2, 2), stride: (2, 2), filters: 40),
            pooled(odd, "3×3 stride 2 (overlapping)", kernel: (3, 3), stride: (2, 2), filters: 16),
            pooled(odd, "2×2 stride 3 (gaps)", kernel: (2, 2), stride: (3, 3), filters: 8),
            pooled(padded, "2×2 pad 1", kernel: (2, 2), stride: (2, 2), pad: (1, 1), filters: 16),
            pooled(padded, "2×1 stride (2, 1)", kernel: (2, 1), stride: (2, 1), filters: 24),
            pooled(single, "2×2", kernel: (2, 2), stride: (2, 2), filters: 64),
            pooled(large, "2×2", kernel: (2, 2), stride: (2, 2), filters: 64),
            pooled(few, "2×2", kernel: (2, 2), stride: (2, 2), filters: 8),
            pooled(many, "2×2", kernel: (2, 2), stride: (2, 2), filters: 16),
            pooled(strided, "2×2", kernel: (2, 2), stride: (2, 2), filters: 24),
        ]
    }()
}
