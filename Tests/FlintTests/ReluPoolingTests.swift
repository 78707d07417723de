import Flint
@testable import FlintCore
import Foundation
import Testing

/// Max pooling over a ReLU's output hands the ReLU its adjoint ready made (the pooled gradient
/// masked by the pooled value's sign, scattered), with the bias's sums; the ReLU skips its own
/// pass. These check the gradients that take that way against Float64 finite differences,
/// against the ordinary way, and that a ReLU output with more than one consumer does not take it.
extension Conformance {
    @Suite struct ReluPooling {
        /// Pooling geometries over a 3×3 `same` convolution of a two-channel image: 2×2 windows,
        /// windows partly in padding, overlapping windows.
        static let pools: [WindowCase] = [poolCases[0], poolCases[1], poolCases[3], poolCases[4]]

        static func convolution(for pool: WindowCase) -> WindowCase {
            WindowCase(input: [pool.input[0], pool.input[1], pool.input[2], 2], kernel: (3, 3), strides: (1, 1), padding: .same)
        }

        /// The Float64 reference of `maxPool(relu(conv(x, w) + b))`.
        static func reference(_ pool: WindowCase, _ refs: [Ref]) -> Ref {
            pool.pool(Ref.zip(convolution(for: pool).convolve(refs[0], refs[1]), refs[2]) { Swift.max($0 + $1, 0) }, max: true)
        }

        @Test(arguments: TestDevices.all)
        func gradientsMatchFiniteDifferences(device: Device) {
            for pool in Self.pools {
                let shapes = [Self.convolution(for: pool).input, [3, 3, 2, pool.input[3]], [pool.input[3]]]
                @Sendable func pooled(_ y: Tensor) -> Tensor { y.maxPool2d(size: pool.kernel, strides: pool.strides, padding: pool.padding) }
                // The ReLU fused into the convolution's epilogue with its bias, and the ReLU as an op of its own.
                Gradients.check(GradCase(name: "conv+bias+relu → maxPool2d \(pool)", shapes: shapes,
                                         flint: { pooled($0[0].conv2d($0[1], padding: .same, adding: $0[2], then: .relu)) },
                                         reference: { Self.reference(pool, $0) }), on: device)
                #expect(Tensor.ones([1, 2, 2, 1], on: device).requiringGrad().relu().node?.reluHandoff != nil,
                        "relu() offers a handoff on \(device)")
                Gradients.check(GradCase(name: "relu() → maxPool2d \(pool)", shapes: shapes,
                                         flint: { pooled(($0[0].conv2d($0[1], padding: .same) + $0[2]).relu()) },
                                         reference: { Self.reference(pool, $0) }), on: device)
                // The ReLU's output also summed directly: its gradient is the sum of two, and the
                // ReLU masks it itself.
                Gradients.check(GradCase(name: "conv+bias+relu → maxPool2d and sum \(pool)", shapes: shapes,
                                         flint: { inputs in
                                             let y = inputs[0].conv2d(inputs[1], padding: .same, adding: inputs[2], then: .relu)
                                             return pooled(y).sum(axes: [1, 2]) + y.sum(axes: [1, 2]) * 0.5
                                         },
                                         reference: { refs in
                                             let y = Ref.zip(Self.convolution(for: pool).convolve(refs[0], refs[1]), refs[2]) { Swift.max($0 + $1, 0) }
                                             let pooledSums = pool.pool(y, max: true).reduced(axes: [1, 2], keepDims: false) { $0.reduce(0, +) }
                                             let sums = y.reduced(axes: [1, 2], keepDims: false) { $0.reduce(0, +) }
                                             return Ref.zip(pooledSums, sums) { $0 + $1 * 0.5 }
                                         }), on: device)
            }
        }

        /// The handed-over gradients equal the ordinary ones: the input's and the filter's
        /// exactly (only zeros' signs may differ), the bias's up to the order of its sums.
        @Test(arguments: TestDevices.all)
        func handoffMatchesTheOrdinaryPath(device: Device) {
            var rng = TestRNG(seed: 163)
            for pool in Self.pools {
                let (x, _) = makeInput(Self.convolution(for: pool).input, rng: &rng, on: device)
                let (w, _) = makeInput([3, 3, 2, pool.input[3]], rng: &rng, on: device)
                let (b, _) = makeInput([pool.input[3]], rng: &rng, on: device)
                let shape = pool.layout
                let (upstream, _) = makeInput([pool.input[0], shape.2, shape.3, pool.input[3]], rng: &rng, on: device)
                func gradients(throughHandoff: Bool) -> [[Float]] {
                    let leaves = [x, w, b].map { Tensor($0.toArray(), shape: $0.shape, on: device).requiringGrad() }
                    let y = leaves[0].conv2d(leaves[1], padding: .same, adding: leaves[2], then: .relu)
                    // Multiplying by one puts a node between the ReLU and the pooling: the ordinary path.
                    let source = throughHandoff ? y : y * 1
                    // What pooling looks for on its input (the fused ReLU's, through a reshape where the
                    // product had two axes), and not past another op.
                    #expect((source.node?.reluHandoff != nil) == throughHandoff, "handoff on pooling's input, \(pool) on \(device)")
                    (source.maxPool2d(size: pool.kernel, strides: pool.strides, padding: pool.padding) * upstream).sum().backward()
                    return leaves.map { $0.grad!.toArray() }
                }
                let (handed, ordinary) = (gradients(throughHandoff: true), gradients(throughHandoff: false))
                #expect(handed[0] == ordinary[0], "input gradient, \(pool) on \(device)")
                #expect(handed[1] == ordinary[1], "filter gradient, \(pool) on \(device)")
                #expect(Swift.zip(handed[2], ordinary[2]).allSatisfy { abs($0 - $1) <= 1e-5 * Swift.max(1, abs($1)) },
                        "bias gradient, \(pool) on \(device): \(handed[2]) vs \(ordinary[2])")
            }
        }

        /// A convolution over a ReLU's output (the Keras convnet's second layer over its first)
        /// hands the ReLU its adjoint, masked image by image where the backend's input gradient
        /// runs without columns: the gradients equal the ordinary path's (the bias's up to the order
        /// of its sums), through `same` and `valid` padding and a stride, with and without a bias
        /// that learns.
        @Test(arguments: TestDevices.all)
        func convolutionAfterReluMatchesTheOrdinaryPath(device: Device) {
            var rng = TestRNG(seed: 211)
            for (padding, strides, learnsBias) in [(Padding.valid, 1, true), (.same, 2, true), (.same, 1, false)] {
                let (x, _) = makeInput([3, 9, 8, 3], rng: &rng, on: device)
                let (w1, _) = makeInput([3, 3, 3, 12], rng: &rng, on: device)
                let (b1, _) = makeInput([12], rng: &rng, on: device)
                let (w2, _) = makeInput([3, 3, 12, 16], rng: &rng, on: device)
                func gradients(throughHandoff: Bool) -> [[Float]] {
                    let leaves = [x, w1, b1, w2].map { Tensor($0.toArray(), shape: $0.shape, on: device).requiringGrad() }
                    let bias = learnsBias ? leaves[2] : leaves[2].detached()
                    let y = leaves[0].conv2d(leaves[1], padding: .same, adding: bias, then: .relu)
                    let source = throughHandoff ? y : y * 1
                    let z = source.conv2d(leaves[3], strides: (strides, strides), padding: padding)
                    (z * z).sum().backward()
                    return leaves.map { $0.grad?.toArray() ?? [] }
                }
                let (handed, ordinary) = (gradients(throughHandoff: true), gradients(throughHandoff: false))
                let what = "\(padding), stride \(strides), bias learns \(learnsBias) on \(device)"
                #expect(handed[0] == ordinary[0], "input gradient, \(what)")
                #expect(handed[1] == ordinary[1], "first filter gradient, \(what)")
                #expect(handed[3] == ordinary[3], "second filter gradient, \(what)")
                #expect(handed[2].count == ordinary[2].count
                            && Swift.zip(handed[2], ordinary[2]).allSatisfy { abs($0 - $1) <= 1e-5 * Swift.max(1, abs($1)) },
                        "bias gradient, \(what): \(handed[2]) vs \(ordinary[2])")
            }
        }
    }
}
