import FlintBackend
import FlintCPU
import Testing

@Suite struct RandomTests {
    @Test func uniformMatchesPhiloxBitForBit() {
        let count = 100_003
        let distribution = RandomDistribution.uniform(low: 0, high: 1)
        let (seed, counterOffset): (UInt64, UInt64) = (0x1234_5678_9ABC_DEF0, 77)
        let out = backend.allocate(byteCount: count * 4)
        backend.random(out, count: count, distribution: distribution, seed: seed, counterOffset: counterOffset)
        let values = readFloats(out, count: count)
        var mismatches = 0
        for i in 0..<count
        where values[i].bitPattern
            != Philox.value(at: i, distribution: distribution, seed: seed, counterOffset: counterOffset).bitPattern
        {
            mismatches += 1
        }
        #expect(mismatches == 0)
        #expect(values.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(count)
        #expect(abs(mean - 0.5) < 0.005)
    }

    @Test func scaledUniformAndOddCountsMatchPhilox() {
        let distribution = RandomDistribution.uniform(low: -3, high: 5)
        let out = backend.allocate(byteCount: 4 * 7)
        backend.random(out, count: 7, distribution: distribution, seed: 42, counterOffset: 3)
        let expected = (0..<7).map { Philox.value(at: $0, distribution: distribution, seed: 42, counterOffset: 3) }
        #expect(readFloats(out, count: 7) == expected)
        #expect(expected.allSatisfy { $0 >= -3 && $0 < 5 })
    }

    @Test func normalMatchesPhiloxAndHasUnitMoments() {
        let count = 200_001
        let distribution = RandomDistribution.normal(mean: 0, standardDeviation: 1)
        let out = backend.allocate(byteCount: count * 4)
        backend.random(out, count: count, distribution: distribution, seed: 9, counterOffset: 0)
        let values = readFloats(out, count: count)
        var mismatches = 0
        for i in stride(from: 0, to: count, by: 97)
        where values[i] != Philox.value(at: i, distribution: distribution, seed: 9, counterOffset: 0) {
            mismatches += 1
        }
        #expect(mismatches == 0)
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(count)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(count)
        #expect(abs(mean) < 0.01)
        #expect(abs(variance.squareRoot() - 1) < 0.01)

        let shifted = backend.allocate(byteCount: 4 * 4)
        backend.random(
            shifted, count: 4, distribution: .normal(mean: 10, standardDeviation: 2), seed: 9, counterOffset: 0)
        #expect(readFloats(shifted, count: 4) == values.prefix(4).map { 10 + 2 * $0 })
    }

    @Test func counterOffsetContinuesTheStream() {
        let distribution = RandomDistribution.uniform(low: 0, high: 1)
        let whole = backend.allocate(byteCount: 64 * 4)
        backend.random(whole, count: 64, distribution: distribution, seed: 5, counterOffset: 0)
        // Blocks are four elements, so elements 40... come from counter offset 10.
        let tail = backend.allocate(byteCount: 24 * 4)
        backend.random(tail, count: 24, distribution: distribution, seed: 5, counterOffset: 10)
        #expect(readFloats(tail, count: 24) == Array(readFloats(whole, count: 64)[40...]))
    }
}
