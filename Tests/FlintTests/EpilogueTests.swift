import Flint
import Foundation
import Testing

/// A layer's product with its bias and activation applied as the product is stored
/// (`matmul(_:adding:then:)`, `conv2d(…, adding:then:)`) gives the values and gradients of the
/// separate ops, bit for bit, on every device: the fused form changes where the work is done,
/// not the arithmetic.
extension Conformance {
    @Suite struct Epilogue {
        static let activations: [FusedActivation?] = [nil, .relu, .leakyRelu(slope: 0.2), .sigmoid, .tanh]

        /// Values and the gradients of every input of `Σ f(inputs) ⊙ w`, as bit patterns.
        static func valuesAndGradients(_ inputs: [Tensor], weights: [Float], _ f: ([Tensor]) -> Tensor) -> [[UInt32]] {
            let leaves = inputs.map { $0.detached().requiringGrad() }
            let output = f(leaves)
            (output * Tensor(weights, shape: output.shape, on: output.device)).sum().backward()
            return [output.toArray().map(\.bitPattern)] + leaves.map { ($0.grad?.toArray() ?? []).map(\.bitPattern) }
        }

        static func separate(_ product: Tensor, _ bias: Tensor?, _ activation: FusedActivation?) -> Tensor {
            switch (bias, activation) {
            case (let bias?, let activation?): product.adding(bias, then: activation)
            case (let bias?, nil): product + bias
            case (nil, .relu): product.relu()
            case (nil, .sigmoid): product.sigmoid()
            case (nil, .tanh): product.tanh()
            case (nil, .leakyRelu(let slope)): product.leakyRelu(slope: slope)
            case (nil, nil): product
            }
        }

        /// Partial tiles, two k blocks (k > 384 on the CPU), a transposed (column-major) weight,
        /// rank-3 inputs (contiguous: one folded product on both sides; a transposed view: a
        /// batched product on both), one row per batch member; a NaN input row for ReLU to keep.
        @Test(arguments: TestDevices.all)
        func matmulEpilogueEqualsSeparateOps(device: Device) {
            var rng = TestRNG(seed: 303)
            let cases: [([Int], Int, Layout, Layout)] = [
                ([37, 29], 23, .contiguous, .contiguous), ([13, 400], 40, .contiguous, .transposed),
                ([2, 5, 29], 17, .contiguous, .contiguous), ([3, 6, 29], 17, .transposed, .contiguous), ([6, 1, 40], 9, .contiguous, .contiguous),
            ]
            for (xShape, n, xLayout, wLayout) in cases {
                let k = xShape.last!
                var (x, _) = makeInput(xShape, layout: xLayout, rng: &rng, on: device)
                if xLayout == .contiguous {
                    var values = x.toArray()
                    values[k + 3] = .nan
                    x = Tensor(values, shape: xShape, on: device)
                }
                let (w, _) = makeInput([k, n], layout: wLayout, rng: &rng, on: device)
                let (b, _) = makeInput([n], rng: &rng, on: device)
                let weights = rng.floats(xShape.dropLast().reduce(1, *) * n)
                for activation in Self.activations {
                    for bias in [b, nil] {
                        let fused = Self.valuesAndGradients([x, w] + (bias.map { [$0] } ?? []), weights: weights) {
                            $0[0].matmul($0[1], adding: $0.count > 2 ? $0[2] : nil, then: activation)
                        }
                        let plain = Self.valuesAndGradients([x, w] + (bias.map { [$0] } ?? []), weights: weights) {
                            Self.separate($0[0].matmul($0[1]), $0.count > 2 ? $0[2] : nil, activation)
                        }
                        let what = "\(xShape) (\(xLayout))·[\(k), \(n)] + bias \(bias != nil), \(String(describing: activation)) on \(device)"
                        #expect(fused[0] == plain[0], "values of \(what)")
                        #expect(Array(fused.dropFirst()) == Array(plain.dropFirst()), "gradients of \(what)")
                        CaseCounter.add(device)
                    }
                }
            }
        }

        /// An int32 bias stops the program with the message of the separate ops, on the direct and
        /// the chunked path alike (its bits must never be read as floats).
        @Test func anIntegerBiasIsRefused() async {
            let direct = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
                let x = Tensor.ones([2, 5, 5, 3], on: .cpu), w = Tensor.ones([3, 3, 3, 8], on: .cpu)
                Tensor.$directConvolution.withValue(true) {
                    _ = x.conv2d(w, adding: Tensor.zeros([8], dtype: .int32, on: .cpu), then: .relu).toArray()
                }
            }
            let chunked = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
                let x = Tensor.ones([2, 5, 5, 3], on: .cpu), w = Tensor.ones([3, 3, 3, 8], on: .cpu)
                Tensor.$directConvolution.withValue(false) { Tensor.$convolutionColumnBudget.withValue(9 * 27 * 4) {
                    _ = x.conv2d(w, adding: Tensor.zeros([8], dtype: .int32, on: .cpu), then: .relu).toArray()
                } }
            }
            for (path, result) in [("direct", direct), ("chunked", chunked)] {
                let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
                #expect(stderr.contains("expects a float32 tensor"), "\(path): \(stderr)")
            }
        }

        /// A leaky ReLU fuses only with a positive slope (its gradient is read off the output's
        /// sign); a bias that is not one float32 per column is added by the separate ops.
        @Test(arguments: TestDevices.all)
        func badEpiloguesAreCaughtOrLeftToTheSeparateOps(device: Device) {
            let x = Tensor.ones([2, 3, 5, 5], on: device).reshaped(to: [2, 5, 5, 3])
            let w = Tensor.ones([3, 3, 3, 4], on: device), m = Tensor.ones([3, 4], on: device)
            #expect {
                try withError { _ = m.matmul(m.reshaped(to: [4, 3]), adding: nil, then: .leakyRelu(slope: -0.5)) }
            } throws: { ($0 as? ArgumentError)?.message.contains("leakyRelu slope must be positive") == true }
            #expect {
                try withError { _ = x.conv2d(w, adding: nil, then: .leakyRelu(slope: 0)) }
            } throws: { ($0 as? ArgumentError)?.message.contains("leakyRelu slope must be positive") == true }
            // A bias per output column and channel broadcasts: the separate ops add it, on every path.
            let wide = Tensor.uniform([3, 4], seed: 9, on: device)
            for direct in [true, false] {
                Tensor.$directConvolution.withValue(direct) {
                    let fused = x.conv2d(w, adding: wide, then: .relu).toArray()
                    let plain = x.conv2d(w).adding(wide, then: .relu).toArray()
                    #expect(fused.map(\.bitPattern) == plain.map(\.bitPattern), "a [3, 4] bias, direct \(direct), on \(device)")
                }
            }
        }

        /// The direct convolution (an input without a gradient, few channels): eight-filter groups
        /// in C (one channel: AVX-512 runs of 16 filters, and of 32 and 16 for 48), and 12
        /// filters, whose last four take the Swift loop.
        @Test(arguments: TestDevices.all)
        func directConvolutionEpilogueEqualsSeparateOps(device: Device) {
            var rng = TestRNG(seed: 305)
            for (channels, filters) in [(1, 16), (1, 48), (3, 12)] {
                let (x, _) = makeInput([3, 9, 11, channels], rng: &rng, on: device)
                let (w, _) = makeInput([3, 3, channels, filters], rng: &rng, on: device)
                let (b, _) = makeInput([filters], rng: &rng, on: device)
                for padding in [Padding.valid, .same] {
                    let outputs = padding == .same ? 3 * 9 * 11 * filters : 3 * 7 * 9 * filters
                    let weights = rng.floats(outputs)
                    for activation in Self.activations {
                      for withBias in [true, false] {
                        Tensor.$directConvolution.withValue(true) {
                            let inputs = withBias ? [w, b] : [w]
                            let fused = Self.valuesAndGradients(inputs, weights: weights) {
                                x.conv2d($0[0], padding: padding, adding: withBias ? $0[1] : nil, then: activation)
                            }
                            let plain = Self.valuesAndGradients(inputs, weights: weights) {
                                Self.separate(x.conv2d($0[0], padding: padding), withBias ? $0[1] : nil, activation)
                            }
                            let what = "direct conv2d of \(channels) channels, \(filters) filters, \(padding), bias \(withBias), \(String(describing: activation)) on \(device)"
                            #expect(fused[0] == plain[0], "values of \(what)")
                            #expect(Array(fused.dropFirst()) == Array(plain.dropFirst()), "gradients of \(what)")
                            CaseCounter.add(device)
                        }
                      }
                    }
                }
            }
        }

        /// The chunked convolution (three chunks) and the plain one (one product).
        @Test(arguments: TestDevices.all)
        func convolutionEpilogueEqualsSeparateOps(device: Device) {
            var rng = TestRNG(seed: 304)
            let (x, _) = makeInput([5, 6, 7, 3], rng: &rng, on: device)
            let (w, _) = makeInput([3, 3, 3, 20], rng: &rng, on: device)
            let (b, _) = makeInput([20], rng: &rng, on: device)
            let weights = rng.floats(5 * 6 * 7 * 20)
            for budget in [2 * 6 * 7 * 27 * 4, 0] {
                for activation in Self.activations {
                  for withBias in [true, false] {
                    Tensor.$directConvolution.withValue(false) { Tensor.$convolutionColumnBudget.withValue(budget) {
                        let inputs = withBias ? [x, w, b] : [x, w]
                        let fused = Self.valuesAndGradients(inputs, weights: weights) {
                            $0[0].conv2d($0[1], padding: .same, adding: withBias ? $0[2] : nil, then: activation)
                        }
                        let plain = Self.valuesAndGradients(inputs, weights: weights) {
                            Self.separate($0[0].conv2d($0[1], padding: .same), withBias ? $0[2] : nil, activation)
                        }
                        let what = "conv2d + bias \(withBias), \(String(describing: activation)), column budget \(budget) on \(device)"
                        #expect(fused[0] == plain[0], "values of \(what)")
                        #expect(Array(fused.dropFirst()) == Array(plain.dropFirst()), "gradients of \(what)")
                        CaseCounter.add(device)
                    } }
                  }
                }
            }
        }
    }
}
