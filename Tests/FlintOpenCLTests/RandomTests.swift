import FlintBackend
import FlintOpenCL
import Testing

@Suite("OpenCL Philox random fills", .enabled(if: TestDevice.available))
struct RandomTests {
    @Test("uniform matches Philox.value bit for bit",
        arguments: [(UInt64(0), UInt64(0)), (0x1234_5678_9ABC_DEF0, 0xFFFF_FFFD), (42, 7)])
    func uniform(_ stream: (UInt64, UInt64)) throws {
        let backend = try TestDevice.backend()
        let count = 1003
        let out = backend.allocate(byteCount: count * 4)
        let distribution = RandomDistribution.uniform(low: -0.5, high: 2)
        backend.random(out, count: count, distribution: distribution, seed: stream.0, counterOffset: stream.1)
        let result = backend.floats(out, count: count)
        let expected = (0..<count).map {
            Philox.value(at: $0, distribution: distribution, seed: stream.0, counterOffset: stream.1)
        }
        #expect(result.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test("normal matches Philox.value within 1e-5")
    func normal() throws {
        let backend = try TestDevice.backend()
        let count = 4098
        let out = backend.allocate(byteCount: count * 4)
        let distribution = RandomDistribution.normal(mean: 1, standardDeviation: 0.5)
        backend.random(out, count: count, distribution: distribution, seed: 7, counterOffset: 0xFFFF_FFFF)
        let result = backend.floats(out, count: count)
        for i in 0..<count {
            let expected = Philox.value(at: i, distribution: distribution, seed: 7, counterOffset: 0xFFFF_FFFF)
            #expect(abs(result[i] - expected) <= 1e-5 * max(1, abs(expected)), "element \(i): \(result[i]) vs \(expected)")
        }
        let mean = result.reduce(0, +) / Float(count)
        #expect(abs(mean - 1) < 0.05)
    }
}
