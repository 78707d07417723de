import Flint
import Foundation
import Testing

/// `Tensor.dropout(rate:generator:)` is `x * dropoutMask(…)` as one op: the same draws, the same
/// values, the same gradient, and the generator advances by as much.
extension Conformance {
    @Suite struct Dropout {
        @Test(arguments: TestDevices.all)
        func dropoutEqualsTimesItsMask(device: Device) {
            var rng = TestRNG(seed: 61)
            // A tail past whole blocks of four, a tensor split across cores, a strided input.
            for (shape, rate) in [([3, 5, 7], Float(0.25)), ([64, 1_031], 0.5), ([2, 3], 0.9)] {
                let (x, _) = makeInput(shape, rng: &rng, on: device)
                let (upstream, _) = makeInput(shape, rng: &rng, on: device)
                for transposed in [false, true] {
                    let (fused, composed) = (RandomGenerator(seed: 5), RandomGenerator(seed: 5))
                    _ = Tensor.uniform([3], generator: fused, on: device)
                    _ = Tensor.uniform([3], generator: composed, on: device)
                    let leaves = (0..<2).map { _ in Tensor(x.toArray(), shape: x.shape, on: device).requiringGrad() }
                    let inputs = leaves.map { transposed ? $0.transposed() : $0 }
                    let y = inputs[0].dropout(rate: rate, generator: fused)
                    let reference = inputs[1] * Tensor.dropoutMask(inputs[1].shape, rate: rate, generator: composed, on: device)
                    let what = "\(shape) at rate \(rate)\(transposed ? ", transposed" : "") on \(device)"
                    #expect(y.toArray() == reference.toArray(), "values, \(what)")
                    let g = transposed ? upstream.transposed() : upstream
                    (y * g).sum().backward()
                    (reference * g).sum().backward()
                    #expect(leaves[0].grad!.toArray() == leaves[1].grad!.toArray(), "gradient, \(what)")
                    #expect(fused.position == composed.position, "generator position, \(what)")
                    // Some kept and some dropped (the gradient is the mask times the upstream).
                    let kept = y.toArray().filter { $0 != 0 }.count
                    #expect(kept > 0 && (kept < y.count || y.count < 8), "\(kept) of \(y.count) kept, \(what)")
                }
            }
        }

        /// A rate outside [0, 1) is the caller's error to catch, not a stop.
        @Test func aRateOutsideTheUnitIntervalThrows() {
            let x = Tensor([1, 2, 3, 4], shape: [2, 2], on: .cpu)
            for rate: Float in [-0.1, 1, 2, .nan] {
                #expect("rate \(rate)") {
                    try withError { _ = x.dropout(rate: rate, generator: RandomGenerator(seed: 1)) }
                } throws: { ($0 as? ArgumentError)?.message.contains("dropout: rate must be in [0, 1)") == true }
                #expect("mask, rate \(rate)") {
                    try withError { _ = Tensor.dropoutMask([2, 2], rate: rate, generator: RandomGenerator(seed: 1), on: .cpu) }
                } throws: { ($0 as? ArgumentError)?.message.contains("dropoutMask: rate must be in [0, 1)") == true }
            }
        }
    }
}
