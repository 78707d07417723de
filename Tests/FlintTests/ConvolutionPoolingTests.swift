import Flint
@testable import FlintCore
import Foundation
import Testing

/// `conv2d(_:…:maxPooling:)`, a convolution and the max pooling after it as one op (the CPU
/// pools rows as they are computed): gradients against Float64 finite differences, values and
/// gradients against the two ops, and `Sequential` taking it for a Conv2D then a MaxPool2D.
extension Conformance {
    @Suite struct ConvolutionPooling {
        /// 2×2 windows, windows partly in padding, overlapping windows, and 16 filters, over a
        /// 3×3 `same` convolution of a six-channel image (more channels than the CPU's
        /// few-channel kernels take, so its pooling product runs).
        static let pools: [WindowCase] = [poolCases[0], poolCases[1], poolCases[2], poolCases[4]]

        static func convolution(for pool: WindowCase) -> WindowCase {
            WindowCase(input: [pool.input[0], pool.input[1], pool.input[2], 6], kernel: (3, 3), strides: (1, 1), padding: .same)
        }

        static func pooling(_ pool: WindowCase) -> MaxPooling {
            MaxPooling(size: pool.kernel, strides: pool.strides, padding: pool.padding)
        }

        @Test(arguments: TestDevices.all)
        func gradientsMatchFiniteDifferences(device: Device) {
            for pool in Self.pools {
                let conv = Self.convolution(for: pool)
                let shapes = [conv.input, [3, 3, 6, pool.input[3]], [pool.input[3]]]
                Gradients.check(GradCase(name: "conv2d(…, adding:, then: .relu, maxPooling:) \(pool)", shapes: shapes,
                                         flint: { $0[0].conv2d($0[1], padding: .same, adding: $0[2], then: .relu, maxPooling: Self.pooling(pool)) },
                                         reference: { pool.pool(Ref.zip(conv.convolve($0[0], $0[1]), $0[2]) { Swift.max($0 + $1, 0) }, max: true) }),
                                on: device)
                Gradients.check(GradCase(name: "conv2d(…, maxPooling:) without bias or activation \(pool)", shapes: Array(shapes[0...1]),
                                         flint: { $0[0].conv2d($0[1], padding: .same, adding: nil, then: nil, maxPooling: Self.pooling(pool)) },
                                         reference: { pool.pool(conv.convolve($0[0], $0[1]), max: true) }),
                                on: device)
            }
        }

        /// The one op gives the two ops' values bit for bit, the input's gradient exactly and the
        /// filter's and the bias's up to the order of their sums: with and without a bias or a
        /// ReLU, a leaky ReLU and a sigmoid (which take the two ops), and a frozen input.
        @Test(arguments: TestDevices.all)
        func matchesTheSeparateOps(device: Device) {
            var rng = TestRNG(seed: 227)
            let activations: [FusedActivation?] = [.relu, nil, .leakyRelu(slope: 0.2), .sigmoid]
            // A window wholly in padding (top 2 with 2×2 windows): it takes no gradient, which
            // without a ReLU's mask the fused bias sums would count, so that case takes the two ops.
            let padded = WindowCase(input: [2, 6, 6, 8], kernel: (2, 2), strides: (2, 2),
                                    padding: .explicit(top: 2, bottom: 0, left: 0, right: 0))
            for pool in Self.pools + [padded] {
                let conv = Self.convolution(for: pool)
                let (x, _) = makeInput(conv.input, rng: &rng, on: device)
                let (w, _) = makeInput([3, 3, 6, pool.input[3]], rng: &rng, on: device)
                let (b, _) = makeInput([pool.input[3]], rng: &rng, on: device)
                let shape = pool.layout
                let (upstream, _) = makeInput([pool.input[0], shape.2, shape.3, pool.input[3]], rng: &rng, on: device)
                for activation in activations {
                    for (withBias, inputLearns, filterLearns) in [(true, true, true), (false, true, true), (true, false, true),
                                                                  (true, true, false)] {
                        func run(fused: Bool) -> (values: [Float], gradients: [[Float]]) {
                            let leaves = [x, w, b].map { Tensor($0.toArray(), shape: $0.shape, on: device).requiringGrad() }
                            let input = inputLearns ? leaves[0] : leaves[0].detached()
                            let filter = filterLearns ? leaves[1] : leaves[1].detached()
                            let bias = withBias ? leaves[2] : nil
                            let y = fused
                                ? input.conv2d(filter, padding: .same, adding: bias, then: activation, maxPooling: Self.pooling(pool))
                                : input.conv2d(filter, padding: .same, adding: bias, then: activation)
                                    .maxPool2d(size: pool.kernel, strides: pool.strides, padding: pool.padding)
                            (y * upstream).sum().backward()
                            return (y.toArray(), leaves.map { $0.grad?.toArray() ?? [] })
                        }
                        let (fused, separate) = (run(fused: true), run(fused: false))
                        let what = "\(pool), \(activation.map { "\($0)" } ?? "no activation"), bias \(withBias), "
                            + "input learns \(inputLearns), filter learns \(filterLearns) on \(device)"
                        #expect(fused.values.map(\.bitPattern) == separate.values.map(\.bitPattern), "values, \(what)")
                        #expect(fused.gradients[0] == separate.gradients[0], "input gradient, \(what)")
                        // The filter's sums image by image on the CPU: the same terms in another order.
                        #expect(fused.gradients[1].count == separate.gradients[1].count
                                    && Swift.zip(fused.gradients[1], separate.gradients[1]).allSatisfy { abs($0 - $1) <= 2e-5 * Swift.max(1, abs($1)) },
                                "filter gradient, \(what)")
                        #expect(fused.gradients[2].count == separate.gradients[2].count
                                    && Swift.zip(fused.gradients[2], separate.gradients[2]).allSatisfy { abs($0 - $1) <= 1e-5 * Swift.max(1, abs($1)) },
                                "bias gradient, \(what): \(fused.gradients[2]) vs \(separate.gradients[2])")
                    }
                }
            }
        }

        /// A Conv2D followed by a MaxPool2D in a `Sequential` runs as the one op: the same output
        /// and gradients as the layers called one by one, the pooling layer's own forward never
        /// reached for that pair, and a Conv2D with another activation left to the two layers.
        @Test(arguments: TestDevices.all)
        func sequentialFusesAConvolutionAndItsPooling(device: Device) throws {
            for activation in [Activation.relu, .tanh] {
                // The third convolution reads the second's ReLU output: the pooled backward hands
                // that ReLU its adjoint and its bias's sums.
                let model = try Sequential([Conv2D(12, kernelSize: 3, activation: activation), MaxPool2D(),
                                            Conv2D(8, kernelSize: 3, padding: .same, activation: .relu),
                                            Conv2D(8, kernelSize: 3, padding: .same, activation: .relu), MaxPool2D(), Flatten(), Dense(3)],
                                           inputShape: [12, 10, 5], device: device, seed: 5)
                // Whether this backend fuses: the op on its own, with an input that takes a gradient.
                let probe = Tensor.ones([1, 4, 4, 5], on: device).requiringGrad()
                    .conv2d(Tensor.ones([3, 3, 5, 2], on: device), adding: nil, then: .relu, maxPooling: MaxPooling())
                let fuses = probe.node?.op == "conv2d+maxPool2d"
                var rng = TestRNG(seed: 17)
                let (x, _) = makeInput([3, 12, 10, 5], rng: &rng, on: device)
                func run(layerByLayer: Bool) -> (output: [Float], gradients: [[Float]]) {
                    model.zeroGrad()
                    let y = layerByLayer ? model.layers.reduce(x) { $1($0, training: true) } : model(x, training: true)
                    // The ops recorded: the one op for each pair the model fuses.
                    var ops: [String] = [], pending = [y.node]
                    while let next = pending.popLast() {
                        guard let node = next else { continue }
                        ops.append(node.op)
                        pending += node.inputs
                    }
                    let fusedPairs = layerByLayer || !fuses ? 0 : activation == .relu ? 2 : 1
                    #expect(ops.filter { $0 == "conv2d+maxPool2d" }.count == fusedPairs, "\(activation), layer by layer \(layerByLayer): \(ops)")
                    (y * y).sum().backward()
                    return (y.toArray(), model.parameters.map { $0.grad?.toArray() ?? [] })
                }
                let (whole, layers) = (run(layerByLayer: false), run(layerByLayer: true))
                #expect(whole.output.map(\.bitPattern) == layers.output.map(\.bitPattern), "output, \(activation) on \(device)")
                for (index, (a, b)) in Swift.zip(whole.gradients, layers.gradients).enumerated() {
                    #expect(a.count == b.count && Swift.zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * Swift.max(1, abs($1)) },
                            "parameter \(index) gradient, \(activation) on \(device)")
                }
            }
        }
    }
}
