import FlintBackend
import FlintCPU
import Testing

/// The conformance suite allows normals within 1e-5 of `Philox.value` (devices differ in their
/// `log` and `cos`); the CPU backend runs the same Float code, so it matches bit for bit.
@Suite struct RandomTests {
    @Test func normalFillsEqualPhiloxBitForBit() {
        let count = 200_001
        let distribution = RandomDistribution.normal(mean: 0, standardDeviation: 1)
        let out = backend.allocate(byteCount: count * 4)
        backend.random(out, count: count, distribution: distribution, seed: 9, counterOffset: 0)
        let values = readFloats(out, count: count)
        let wrong = stride(from: 0, to: count, by: 97).filter {
            values[$0] != Philox.value(at: $0, distribution: distribution, seed: 9, counterOffset: 0)
        }
        #expect(wrong.isEmpty)

        let shifted = backend.allocate(byteCount: 4 * 4)
        backend.random(shifted, count: 4, distribution: .normal(mean: 10, standardDeviation: 2), seed: 9, counterOffset: 0)
        #expect(readFloats(shifted, count: 4) == values.prefix(4).map { 10 + 2 * $0 })
    }
}
