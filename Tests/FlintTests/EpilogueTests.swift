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

        /// Partial tiles, two k blocks (k > 384 on the CPU), a rank-3 input and a transposed
        /// (column-major) weight; one input row is NaN for ReLU to keep.
        @Test(arguments: TestDevices.all)
        func matmulEpilogueEqualsSeparateOps(device: Device) {
            var rng = TestRNG(seed: 303)
            for (xShape, n, transposed) in [([37, 29], 23, false), ([13, 400], 40, true), ([2, 5, 29], 17, false)] {
                let k = xShape.last!
                var xValues = rng.floats(xShape.reduce(1, *))
                xValues[k + 3] = .nan
                let x = Tensor(xValues, shape: xShape, on: device)
                let (w, _) = makeInput([k, n], layout: transposed ? .transposed : .contiguous, rng: &rng, on: device)
                let (b, _) = makeInput([n], rng: &rng, on: device)
                let weights = rng.floats(xShape.dropLast().reduce(1, *) * n)
                for activation in Self.activations {
                    for bias in [b, nil] {
                        let fused = Self.valuesAndGradients([x, w] + (bias.map { [$0] } ?? []), weights: weights) {
                            $0[0].matmul($0[1], adding: $0.count > 2 ? $0[2] : nil, then: activation)
                        }
                        let plain = Self.valuesAndGradients([x, w] + (bias.map { [$0] } ?? []), weights: weights) {
                            // Rows of every leading axis as one matrix, as the fused form takes them (a
                            // batched matmul sums the weight gradient per member, in another order).
                            let rows = $0[0].reshaped(to: [$0[0].count / k, k])
                            return Self.separate(rows.matmul($0[1]), $0.count > 2 ? $0[2] : nil, activation)
                                .reshaped(to: Array(xShape.dropLast()) + [n])
                        }
                        let what = "\(xShape)·[\(k), \(n)] + bias \(bias != nil), \(String(describing: activation)) on \(device)"
                        #expect(fused[0] == plain[0], "values of \(what)")
                        #expect(Array(fused.dropFirst()) == Array(plain.dropFirst()), "gradients of \(what)")
                        CaseCounter.add(device)
                    }
                }
            }
        }

        /// The direct convolution (an input without a gradient, few channels): eight-filter groups
        /// in C, and 12 filters, whose last four take the Swift loop.
        @Test(arguments: TestDevices.all)
        func directConvolutionEpilogueEqualsSeparateOps(device: Device) {
            var rng = TestRNG(seed: 305)
            for (channels, filters) in [(1, 16), (3, 12)] {
                let (x, _) = makeInput([3, 9, 11, channels], rng: &rng, on: device)
                let (w, _) = makeInput([3, 3, channels, filters], rng: &rng, on: device)
                let (b, _) = makeInput([filters], rng: &rng, on: device)
                for padding in [Padding.valid, .same] {
                    let outputs = padding == .same ? 3 * 9 * 11 * filters : 3 * 7 * 9 * filters
                    let weights = rng.floats(outputs)
                    for activation in Self.activations {
                        Tensor.$directConvolution.withValue(true) {
                            let fused = Self.valuesAndGradients([w, b], weights: weights) {
                                x.conv2d($0[0], padding: padding, adding: $0[1], then: activation)
                            }
                            let plain = Self.valuesAndGradients([w, b], weights: weights) {
                                Self.separate(x.conv2d($0[0], padding: padding), $0[1], activation)
                            }
                            let what = "direct conv2d of \(channels) channels, \(filters) filters, \(padding), \(String(describing: activation)) on \(device)"
                            #expect(fused[0] == plain[0], "values of \(what)")
                            #expect(Array(fused.dropFirst()) == Array(plain.dropFirst()), "gradients of \(what)")
                            CaseCounter.add(device)
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
                for activation in [nil, .relu, .tanh] as [FusedActivation?] {
                    Tensor.$directConvolution.withValue(false) { Tensor.$convolutionColumnBudget.withValue(budget) {
                        let fused = Self.valuesAndGradients([x, w, b], weights: weights) {
                            $0[0].conv2d($0[1], padding: .same, adding: $0[2], then: activation)
                        }
                        let plain = Self.valuesAndGradients([x, w, b], weights: weights) {
                            Self.separate($0[0].conv2d($0[1], padding: .same), $0[2], activation)
                        }
                        let what = "conv2d + bias, \(String(describing: activation)), column budget \(budget) on \(device)"
                        #expect(fused[0] == plain[0], "values of \(what)")
                        #expect(Array(fused.dropFirst()) == Array(plain.dropFirst()), "gradients of \(what)")
                        CaseCounter.add(device)
                    } }
                }
            }
        }
    }
}
