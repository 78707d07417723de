import CGemm
@testable import FlintCPU
import Testing

/// `flint_sgemm_packed` (B packed once by `flint_sgemm_pack`, as an LSTM packs its recurrent
/// kernel for a whole sequence) against `flint_sgemm` packing B itself: the same bits, across
/// several blocks of k and of columns, partial tiles, B stored either way, alpha and beta, and k = 0.
@Suite struct PackedGemmTests {
    @Test(arguments: [(m: 7, n: 17, k: 3), (m: 13, n: 40, k: 800), (m: 64, n: 512, k: 128), (m: 9, n: 4120, k: 33),
                      (m: 20, n: 130, k: 1030), (m: 5, n: 20, k: 0)])
    func packedOnceMatchesPackingPerCall(m: Int, n: Int, k: Int) throws {
        try #require(BlockedGemm.available, "this CPU has no AVX2/FMA: flint_sgemm does not run here")
        let a = BlockedGemmTests.values(m * k, seed: 8), b = BlockedGemmTests.values(k * n, seed: 9)
        let start = BlockedGemmTests.values(m * n, seed: 10)
        for transposed in [false, true] {
            // B stored row-major (k × n) or transposed (n × k).
            let (bRow, bCol) = transposed ? (1, k) : (n, 1)
            var stored = [Float](repeating: 0, count: k * n)
            for p in 0..<k { for j in 0..<n { stored[p * bRow + j * bCol] = b[p * n + j] } }
            var packed = [Float](repeating: .nan, count: flint_sgemm_packed_size(k, n) + 24)
            // Packed B 64-byte aligned, and only 32-byte aligned (all the header asks).
            for (alpha, beta, shift) in [(Float(1), Float(0), 0), (0.5, 1, 8), (-2, 0.25, 0), (1, 0, 8)] {
                var expected = start, actual = start
                flint_sgemm(m, n, k, alpha, a, k, 1, stored, bRow, bCol, beta, &expected, n, nil)
                packed.withUnsafeMutableBufferPointer { buffer in
                    let base = buffer.baseAddress!
                    let aligned = base + (16 - (Int(bitPattern: base) / 4) % 16) % 16 + shift
                    flint_sgemm_pack(k, n, stored, bRow, bCol, aligned)
                    flint_sgemm_packed(m, n, k, alpha, a, k, 1, aligned, beta, &actual, n, nil)
                }
                #expect(actual.map(\.bitPattern) == expected.map(\.bitPattern),
                        "\(m)×\(n)×\(k), B \(transposed ? "transposed" : "row-major"), alpha \(alpha), beta \(beta), shift \(shift)")
            }
        }
    }
}
