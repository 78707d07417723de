import Flint
import Foundation
import Testing

/// Convolution and pooling against direct Float64 loops over NHWC data.
extension Conformance {
    struct WindowCase: Sendable, CustomStringConvertible {
        let input: [Int]        // [batch, height, width, channels]
        let kernel: (Int, Int)
        let strides: (Int, Int)
        let padding: Padding
        var dilation: (Int, Int) = (1, 1)
        var description: String { "\(input) k\(kernel) s\(strides) \(padding) d\(dilation)" }

        /// (padTop, padLeft, outHeight, outWidth) by TensorFlow's rules, written out independently.
        var layout: (Int, Int, Int, Int) {
            let (h, w) = (input[1], input[2])
            let span = (dilation.0 * (kernel.0 - 1) + 1, dilation.1 * (kernel.1 - 1) + 1)
            switch padding {
            case .valid: return (0, 0, (h - span.0) / strides.0 + 1, (w - span.1) / strides.1 + 1)
            case .same:
                let oh = Int((Double(h) / Double(strides.0)).rounded(.up)), ow = Int((Double(w) / Double(strides.1)).rounded(.up))
                return (Swift.max((oh - 1) * strides.0 + span.0 - h, 0) / 2, Swift.max((ow - 1) * strides.1 + span.1 - w, 0) / 2, oh, ow)
            case .explicit(let t, let b, let l, let r):
                return (t, l, (h + t + b - span.0) / strides.0 + 1, (w + l + r - span.1) / strides.1 + 1)
            }
        }

        /// Calls `body(n, oh, ow, [(input flat index or nil for padding, kh, kw)])` for each output position and channel-less tap list.
        func forEachWindow(_ body: (Int, Int, Int, [(Int?, Int, Int)]) -> Void) {
            let (top, left, oh, ow) = layout
            let (h, w, c) = (input[1], input[2], input[3])
            for n in 0..<input[0] { for y in 0..<oh { for x in 0..<ow {
                var taps: [(Int?, Int, Int)] = []
                for kh in 0..<kernel.0 { for kw in 0..<kernel.1 {
                    let (iy, ix) = (y * strides.0 - top + kh * dilation.0, x * strides.1 - left + kw * dilation.1)
                    let inside = iy >= 0 && iy < h && ix >= 0 && ix < w
                    taps.append((inside ? ((n * h + iy) * w + ix) * c : nil, kh, kw))
                } }
                body(n, y, x, taps)
            } } }
        }

        func convolve(_ x: Ref, _ filter: Ref) -> Ref {
            let (_, _, oh, ow) = layout
            let (c, o) = (input[3], filter.shape[3])
            var out = Ref(shape: [input[0], oh, ow, o], data: [Double](repeating: 0, count: input[0] * oh * ow * o))
            forEachWindow { n, y, xx, taps in
                for k in 0..<o {
                    var sum = 0.0
                    for (base, kh, kw) in taps { if let base { for ch in 0..<c { sum += x.data[base + ch] * filter.data[((kh * kernel.1 + kw) * c + ch) * o + k] } } }
                    out.data[((n * oh + y) * ow + xx) * o + k] = sum
                }
            }
            return out
        }

        func pool(_ x: Ref, max: Bool) -> Ref {
            let (_, _, oh, ow) = layout
            let c = input[3]
            var out = Ref(shape: [input[0], oh, ow, c], data: [Double](repeating: 0, count: input[0] * oh * ow * c))
            forEachWindow { n, y, xx, taps in
                for ch in 0..<c {
                    let values = taps.compactMap { $0.0 }.map { x.data[$0 + ch] }
                    out.data[((n * oh + y) * ow + xx) * c + ch] = max ? values.max()! : values.reduce(0, +) / Double(values.count)
                }
            }
            return out
        }
    }

    static let convCases: [WindowCase] = [
        WindowCase(input: [2, 5, 5, 1], kernel: (3, 3), strides: (1, 1), padding: .valid),
        WindowCase(input: [1, 6, 7, 3], kernel: (3, 3), strides: (1, 1), padding: .same),
        WindowCase(input: [2, 7, 9, 2], kernel: (3, 3), strides: (2, 2), padding: .valid),
        WindowCase(input: [2, 8, 8, 3], kernel: (3, 3), strides: (2, 2), padding: .same),
        WindowCase(input: [1, 9, 9, 2], kernel: (3, 3), strides: (1, 1), padding: .valid, dilation: (2, 2)),
        WindowCase(input: [3, 6, 5, 4], kernel: (2, 3), strides: (2, 1), padding: .explicit(top: 1, bottom: 0, left: 0, right: 2)),
        WindowCase(input: [1, 4, 4, 5], kernel: (1, 1), strides: (1, 1), padding: .valid),
        // One channel, wide enough for groups of four outputs (and a remainder), with and without padding.
        WindowCase(input: [2, 8, 11, 1], kernel: (3, 3), strides: (1, 1), padding: .valid),
        WindowCase(input: [1, 7, 10, 1], kernel: (3, 3), strides: (1, 1), padding: .same),
        // One channel at stride 2 with padding, and dilated: the AVX-512 runs' other steps.
        WindowCase(input: [2, 9, 20, 1], kernel: (3, 3), strides: (2, 2), padding: .same),
        WindowCase(input: [1, 9, 13, 1], kernel: (3, 3), strides: (1, 1), padding: .valid, dilation: (2, 2)),
    ]

    static let poolCases: [WindowCase] = [
        WindowCase(input: [2, 6, 6, 3], kernel: (2, 2), strides: (2, 2), padding: .valid),
        WindowCase(input: [1, 7, 5, 2], kernel: (2, 2), strides: (2, 2), padding: .same),
        WindowCase(input: [2, 7, 7, 1], kernel: (3, 3), strides: (2, 2), padding: .valid),
        WindowCase(input: [1, 5, 6, 4], kernel: (3, 2), strides: (1, 2), padding: .same),
        WindowCase(input: [2, 6, 6, 16], kernel: (2, 2), strides: (2, 2), padding: .valid),
    ]

    @Suite struct Convolution {
        @Test(arguments: TestDevices.all, Conformance.convCases)
        func conv2dMatchesDirectLoops(device: Device, geometry: WindowCase) {
            var rng = TestRNG(seed: 151)
            let (x, refX) = makeInput(geometry.input, rng: &rng, on: device)
            // 16 filters: whole groups of eight (the CPU's C row loop), 4: a partial group; 48:
            // one channel's AVX-512 runs of 32 filters and of 16.
            for filters in [4, 16, 48] {
                let filterShape = [geometry.kernel.0, geometry.kernel.1, geometry.input[3], filters]
                let (w, refW) = makeInput(filterShape, rng: &rng, on: device)
                // The backend's choice (direct on the CPU for few channels), then the im2col path.
                for direct in [nil, false] as [Bool?] {
                    let result = Tensor.$directConvolution.withValue(direct) {
                        x.conv2d(w, strides: geometry.strides, padding: geometry.padding, dilation: geometry.dilation)
                    }
                    expectClose(result, geometry.convolve(refX, refW), rtol: 1e-5, atol: 1e-5,
                                "conv2d on \(device), \(geometry), \(filters) filters, direct \(String(describing: direct))")
                }
            }
        }

        @Test(arguments: TestDevices.all, Conformance.poolCases)
        func poolingMatchesDirectLoops(device: Device, geometry: WindowCase) {
            var rng = TestRNG(seed: 161)
            let (x, refX) = makeInput(geometry.input, rng: &rng, on: device)
            expectClose(x.maxPool2d(size: geometry.kernel, strides: geometry.strides, padding: geometry.padding),
                        geometry.pool(refX, max: true), "maxPool2d on \(device), \(geometry)")
            expectClose(x.avgPool2d(size: geometry.kernel, strides: geometry.strides, padding: geometry.padding),
                        geometry.pool(refX, max: false), rtol: 1e-5, atol: 1e-6, "avgPool2d on \(device), \(geometry)")
        }

        @Test(arguments: TestDevices.all)
        func convolutionGradientsMatchFiniteDifferences(device: Device) {
            // The last two have more than four channels: on the CPU, the product over the image
            // (forward and filter gradient) and the input gradient added as its tiles are stored.
            let manyChannels = [WindowCase(input: [2, 6, 5, 12], kernel: (3, 3), strides: (1, 1), padding: .same),
                                WindowCase(input: [1, 7, 7, 16], kernel: (2, 2), strides: (2, 1), padding: .valid)]
            for geometry in [Conformance.convCases[3], Conformance.convCases[5], Conformance.convCases[4]] + manyChannels {
                let filterShape = [geometry.kernel.0, geometry.kernel.1, geometry.input[3], 2]
                let op = GradCase(name: "conv2d \(geometry)", shapes: [geometry.input, filterShape],
                                  flint: { $0[0].conv2d($0[1], strides: geometry.strides, padding: geometry.padding, dilation: geometry.dilation) },
                                  reference: { geometry.convolve($0[0], $0[1]) })
                Gradients.check(op, on: device)
            }
        }

        /// The chunked path (columns of a few images at a time, see Tensor+ChunkedConvolution)
        /// under a budget of two images' columns: chunks of 2, 2 and 1 image, forward against
        /// the Float64 loops and gradients against finite differences.
        @Test(arguments: TestDevices.all)
        func chunkedConvolutionMatchesDirectLoops(device: Device) {
            let cases = [WindowCase(input: [5, 6, 7, 3], kernel: (3, 3), strides: (1, 1), padding: .same),
                         WindowCase(input: [3, 7, 9, 2], kernel: (3, 2), strides: (2, 1), padding: .valid, dilation: (1, 2))]
            for geometry in cases {
                let (_, _, oh, ow) = geometry.layout
                let budget = 2 * oh * ow * geometry.kernel.0 * geometry.kernel.1 * geometry.input[3] * 4
                var rng = TestRNG(seed: 171)
                let (x, refX) = makeInput(geometry.input, rng: &rng, on: device)
                let (w, refW) = makeInput([geometry.kernel.0, geometry.kernel.1, geometry.input[3], 4], rng: &rng, on: device)
                // Not the direct path, which an input without a gradient would otherwise take.
                Tensor.$directConvolution.withValue(false) { Tensor.$convolutionColumnBudget.withValue(budget) {
                    let result = x.conv2d(w, strides: geometry.strides, padding: geometry.padding, dilation: geometry.dilation)
                    expectClose(result, geometry.convolve(refX, refW), rtol: 1e-5, atol: 1e-5, "chunked conv2d on \(device), \(geometry)")
                    let small = WindowCase(input: [3] + geometry.input.dropFirst(), kernel: geometry.kernel, strides: geometry.strides,
                                           padding: geometry.padding, dilation: geometry.dilation)
                    let filterShape = [geometry.kernel.0, geometry.kernel.1, geometry.input[3], 2]
                    Gradients.check(GradCase(name: "chunked conv2d \(small)", shapes: [small.input, filterShape],
                                             flint: { $0[0].conv2d($0[1], strides: small.strides, padding: small.padding, dilation: small.dilation) },
                                             reference: { small.convolve($0[0], $0[1]) }), on: device)
                } }
            }
        }

        /// Inputs with many channels, which the CPU convolves as a product over the image (no
        /// column matrix) on the whole batch, gradients included: forward against the Float64
        /// loops and bit for bit against the im2col path, gradients of input and filter against
        /// finite differences, and the direct path forced on every backend.
        @Test(arguments: TestDevices.all)
        func manyChannelConvolutionMatchesDirectLoops(device: Device) {
            let cases = [WindowCase(input: [2, 6, 7, 6], kernel: (3, 3), strides: (1, 1), padding: .same),
                         WindowCase(input: [2, 7, 9, 5], kernel: (2, 3), strides: (2, 1), padding: .valid, dilation: (1, 2)),
                         WindowCase(input: [1, 8, 8, 40], kernel: (3, 3), strides: (1, 1), padding: .valid)]
            for geometry in cases {
                var rng = TestRNG(seed: 191)
                let (x, refX) = makeInput(geometry.input, rng: &rng, on: device)
                let (w, refW) = makeInput([geometry.kernel.0, geometry.kernel.1, geometry.input[3], 16], rng: &rng, on: device)
                func convolve(_ direct: Bool?) -> Tensor {
                    Tensor.$directConvolution.withValue(direct) {
                        x.conv2d(w, strides: geometry.strides, padding: geometry.padding, dilation: geometry.dilation)
                    }
                }
                // Sums of up to 360 products of values in (-2, 2): a few float32 roundings apart.
                let chosen = convolve(nil), viaColumns = convolve(false)
                expectClose(chosen, geometry.convolve(refX, refW), rtol: 1e-5, atol: 5e-5, "conv2d on \(device), \(geometry)")
                expectClose(convolve(true), geometry.convolve(refX, refW), rtol: 1e-5, atol: 5e-5,
                            "direct conv2d on \(device), \(geometry)")
                if device == .cpu {
                    // The same sums in the same order as im2col then the product.
                    #expect(chosen.toArray().map(\.bitPattern) == viaColumns.toArray().map(\.bitPattern),
                            "conv2d on the CPU, \(geometry): differs from the im2col path")
                }
                // Finite differences on the smaller inputs (two forward runs per element).
                guard geometry.input[3] < 40 else { continue }
                let filterShape = [geometry.kernel.0, geometry.kernel.1, geometry.input[3], 2]
                for direct in [nil, true] as [Bool?] {
                    Tensor.$directConvolution.withValue(direct) {
                        Gradients.check(GradCase(name: "conv2d \(geometry), direct \(String(describing: direct))",
                                                 shapes: [geometry.input, filterShape],
                                                 flint: { $0[0].conv2d($0[1], strides: geometry.strides, padding: geometry.padding,
                                                                       dilation: geometry.dilation) },
                                                 reference: { geometry.convolve($0[0], $0[1]) }), on: device)
                    }
                }
            }
        }

        /// Both gradients of many-channel convolutions against the Float64 adjoint, with filter
        /// counts that are not multiples of the tiles: kernels 1×1 to 5×5, dilation, stride 2,
        /// 'same', asymmetric padding, padding wider than the kernel reaches, and input columns
        /// no output reaches. On the CPU the filter's gradient is a product over the image,
        /// zero-padded into a copy where the geometry pads (see ImplicitConvolution.swift).
        @Test(arguments: TestDevices.all)
        func gradientsMatchAdjoint(device: Device) {
            let cases = [
                (WindowCase(input: [2, 9, 8, 6], kernel: (3, 3), strides: (1, 1), padding: .valid), 7),
                (WindowCase(input: [3, 7, 6, 5], kernel: (3, 3), strides: (1, 1), padding: .same), 33),
                (WindowCase(input: [2, 8, 9, 12], kernel: (2, 3), strides: (1, 1), padding: .same, dilation: (2, 1)), 16),
                (WindowCase(input: [1, 9, 11, 8], kernel: (5, 5), strides: (1, 1), padding: .explicit(top: 3, bottom: 1, left: 0, right: 4)), 9),
                (WindowCase(input: [2, 5, 6, 40], kernel: (1, 1), strides: (1, 1), padding: .valid), 24),
                (WindowCase(input: [1, 6, 6, 7], kernel: (3, 3), strides: (1, 1), padding: .explicit(top: 1, bottom: 5, left: 2, right: 0)), 6),
                (WindowCase(input: [2, 8, 7, 6], kernel: (3, 3), strides: (2, 2), padding: .same), 10),
                (WindowCase(input: [1, 6, 7, 6], kernel: (3, 3), strides: (1, 1), padding: .explicit(top: 3, bottom: 0, left: 0, right: 0)), 8),
                (WindowCase(input: [2, 6, 6, 9], kernel: (3, 3), strides: (1, 1), padding: .same), 4),
                (WindowCase(input: [2, 9, 9, 6], kernel: (3, 3), strides: (2, 2), padding: .explicit(top: 1, bottom: 0, left: 1, right: 0)), 10),
            ]
            for (geometry, filters) in cases {
                var rng = TestRNG(seed: 193)
                let (x, refX) = makeInput(geometry.input, rng: &rng, on: device)
                let (w, refW) = makeInput([geometry.kernel.0, geometry.kernel.1, geometry.input[3], filters], rng: &rng, on: device)
                let (_, _, oh, ow) = geometry.layout
                let (upstream, refUp) = makeInput([geometry.input[0], oh, ow, filters], rng: &rng, on: device)
                let leaf = Tensor(x.toArray(), shape: x.shape, on: device).requiringGrad()
                let kernel = Tensor(w.toArray(), shape: w.shape, on: device).requiringGrad()
                (leaf.conv2d(kernel, strides: geometry.strides, padding: geometry.padding, dilation: geometry.dilation) * upstream)
                    .sum().backward()
                // dX[i, c] = Σ over windows and taps reading input element i: dY[window, f] · W[kh, kw, c, f].
                let c = geometry.input[3]
                var expected = Ref(shape: refX.shape, data: [Double](repeating: 0, count: refX.count))
                // dW[kh, kw, c, f] = Σ over windows: x[tap's element, c] · dY[window, f].
                var expectedW = Ref(shape: refW.shape, data: [Double](repeating: 0, count: refW.count))
                geometry.forEachWindow { n, y, xx, taps in
                    let out = ((n * oh + y) * ow + xx) * filters
                    for (base, kh, kw) in taps {
                        guard let base else { continue }
                        for ch in 0..<c {
                            let tap = ((kh * geometry.kernel.1 + kw) * c + ch) * filters
                            var sum = 0.0
                            for f in 0..<filters {
                                sum += refUp.data[out + f] * refW.data[tap + f]
                                expectedW.data[tap + f] += refX.data[base + ch] * refUp.data[out + f]
                            }
                            expected.data[base + ch] += sum
                        }
                    }
                }
                // Sums of up to 25·33 (input) or 2·9·11 (filter) products of values in (-2, 2).
                expectClose(leaf.grad!, expected, rtol: 1e-5, atol: 1e-4, "conv2d input gradient on \(device), \(geometry), \(filters) filters")
                expectClose(kernel.grad!, expectedW, rtol: 1e-5, atol: 1e-4, "conv2d filter gradient on \(device), \(geometry), \(filters) filters")
            }
        }

        /// The direct path (the backend's conv2d primitive, taken for an input without a
        /// gradient), forced on every backend: forward against the Float64 loops and the
        /// filter's gradient against finite differences; an input that needs a gradient still
        /// gets one (through the im2col path).
        @Test(arguments: TestDevices.all)
        func directConvolutionMatchesDirectLoops(device: Device) {
            let cases = [Conformance.convCases[3], Conformance.convCases[4], Conformance.convCases[5], Conformance.convCases[8],
                         WindowCase(input: [2, 9, 8, 1], kernel: (3, 3), strides: (1, 2), padding: .same, dilation: (2, 1))]
            Tensor.$directConvolution.withValue(true) {
                for geometry in cases {
                    var rng = TestRNG(seed: 181)
                    let (x, refX) = makeInput(geometry.input, rng: &rng, on: device)
                    for filters in [3, 8] {
                        let (w, refW) = makeInput([geometry.kernel.0, geometry.kernel.1, geometry.input[3], filters], rng: &rng, on: device)
                        let result = x.conv2d(w, strides: geometry.strides, padding: geometry.padding, dilation: geometry.dilation)
                        expectClose(result, geometry.convolve(refX, refW), rtol: 1e-5, atol: 1e-5,
                                    "direct conv2d on \(device), \(geometry), \(filters) filters")
                        // The filter's gradient (for eight filters, the CPU's C row loop) against the im2col path's.
                        let (upstream, _) = makeInput(result.shape, rng: &rng, on: device)
                        func filterGradient(direct: Bool) -> Tensor {
                            let leaf = Tensor(w.toArray(), shape: w.shape, on: device).requiringGrad()
                            Tensor.$directConvolution.withValue(direct) {
                                (x.conv2d(leaf, strides: geometry.strides, padding: geometry.padding, dilation: geometry.dilation)
                                    * upstream).sum().backward()
                            }
                            return leaf.grad!
                        }
                        let viaColumns = filterGradient(direct: false)
                        expectClose(filterGradient(direct: true), Ref(shape: viaColumns.shape, data: viaColumns.toArray().map(Double.init)),
                                    rtol: 1e-4, atol: 1e-5, "direct conv2d filter gradient on \(device), \(geometry), \(filters) filters")
                    }
                    let filterShape = [geometry.kernel.0, geometry.kernel.1, geometry.input[3], 2]
                    for constantInputs: Set<Int> in [[0], []] {
                        Gradients.check(GradCase(name: "direct conv2d \(geometry), constant \(constantInputs)",
                                                 shapes: [geometry.input, filterShape],
                                                 flint: { inputs in
                                                     // A constant input is detached, so that conv2d sees no gradient to give it.
                                                     let x = constantInputs.contains(0) ? inputs[0].detached() : inputs[0]
                                                     return x.conv2d(inputs[1], strides: geometry.strides, padding: geometry.padding,
                                                                     dilation: geometry.dilation)
                                                 },
                                                 reference: { geometry.convolve($0[0], $0[1]) }, constantInputs: constantInputs),
                                        on: device)
                    }
                }
            }
        }

        @Test(arguments: TestDevices.all)
        func poolingGradientsMatchFiniteDifferences(device: Device) {
            for geometry in [Conformance.poolCases[0], Conformance.poolCases[1], Conformance.poolCases[2], Conformance.poolCases[3]] {
                Gradients.check(GradCase(name: "maxPool2d \(geometry)", shapes: [geometry.input],
                                         flint: { $0[0].maxPool2d(size: geometry.kernel, strides: geometry.strides, padding: geometry.padding) },
                                         reference: { geometry.pool($0[0], max: true) }), on: device)
                Gradients.check(GradCase(name: "avgPool2d \(geometry)", shapes: [geometry.input],
                                         flint: { $0[0].avgPool2d(size: geometry.kernel, strides: geometry.strides, padding: geometry.padding) },
                                         reference: { geometry.pool($0[0], max: false) }), on: device)
            }
        }

        /// Ties go to the first element of the window (in row-major window order), NaN wins, and
        /// overlapping windows that pick the same element add their gradients there.
        @Test(arguments: TestDevices.all)
        func maxPoolTiesNaNAndOverlaps(device: Device) {
            // One 4×4 image of 10 channels (on the CPU a SIMD block of 8 and a scalar tail) or 16
            // (two blocks): even channels all equal, odd ones the pixel number with a NaN at pixel 6.
            for c in [10, 16] {
                var values = [Float](repeating: 0, count: 16 * c)
                for pixel in 0..<16 {
                    for k in 0..<c { values[pixel * c + k] = k % 2 == 0 ? 5 : pixel == 6 ? .nan : Float(pixel) }
                }
                let x = Tensor(values, shape: [1, 4, 4, c], on: device).requiringGrad()
                let pooled = x.maxPool2d(size: (2, 2))
                let out = pooled.toArray()
                pooled.sum().backward()
                let grad = x.grad!.toArray()
                // Windows' pixels: first (0, 2, 8, 10), maximum of the odd channels (5, NaN at 6, 13, 15).
                let firstOfWindows: Set = [0, 2, 8, 10], oddWinners: Set = [5, 6, 13, 15]
                for k in 0..<c {
                    let expected: [Float] = k % 2 == 0 ? [5, 5, 5, 5] : [5, .nan, 13, 15]
                    let got = (0..<4).map { out[$0 * c + k] }
                    #expect(Swift.zip(got, expected).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "channel \(k) on \(device): \(got)")
                    let winners = k % 2 == 0 ? firstOfWindows : oddWinners
                    let gradient = (0..<16).map { grad[$0 * c + k] }
                    #expect(gradient == (0..<16).map { winners.contains($0) ? 1 : 0 }, "channel \(k) gradient on \(device): \(gradient)")
                }
            }

            // A window wholly in padding gives -∞ and no gradient; a NaN in a window's first tap wins.
            let padded = Tensor([.nan, 5, 7, 1], shape: [1, 2, 2, 1], on: device).requiringGrad()
            let edge = padded.maxPool2d(size: (2, 2), padding: .explicit(top: 2, bottom: 0, left: 0, right: 0))
            let edgeValues = edge.toArray()
            #expect(edge.shape == [1, 2, 1, 1] && edgeValues[0] == -.infinity && edgeValues[1].isNaN, "\(edgeValues) on \(device)")
            edge.sum().backward()
            #expect(padded.grad!.toArray() == [1, 0, 0, 0], "padding and NaN gradient on \(device)")
            // The same over eight channels (one SIMD block on the CPU).
            let padded8 = Tensor([Float.nan, 5, 7, 1].flatMap { Array(repeating: $0, count: 8) }, shape: [1, 2, 2, 8], on: device)
            let edge8 = padded8.maxPool2d(size: (2, 2), padding: .explicit(top: 2, bottom: 0, left: 0, right: 0)).toArray()
            #expect(edge8.count == 16 && edge8[..<8].allSatisfy { $0 == -.infinity } && edge8[8...].allSatisfy(\.isNaN),
                    "eight channels: \(edge8) on \(device)")

            // 3×3 windows at stride 1 over a 4×4 image whose maximum is in the middle: all four
            // windows pick it, so its gradient is the sum of theirs.
            let peak = Tensor((0..<16).map { $0 == 5 ? 9 : Float($0) / 16 }, shape: [1, 4, 4, 1], on: device).requiringGrad()
            let overlapping = peak.maxPool2d(size: (3, 3), strides: (1, 1))
            (overlapping * Tensor([1, 2, 3, 4], shape: [1, 2, 2, 1], on: device)).sum().backward()
            #expect(peak.grad!.toArray() == (0..<16).map { $0 == 5 ? 10 : 0 }, "overlap on \(device)")
        }
    }
}
