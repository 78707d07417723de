import CGemm
import Foundation
@testable import FlintCPU
import Testing

/// The suites that flip the process-wide AVX-512 switch (`flint_sgemm_use_avx512`), one test at a
/// time across all of them: each needs the kernels it chose for its whole run (a filter gradient
/// test saw the gathered product's bits while the wide-kernel tests had AVX-512 off).
@Suite(.serialized) enum AVX512SwitchTests {}

extension AVX512SwitchTests {
    /// The AVX-512 micro-kernels (12×32 and 12×16 on packed A, 6×32 on A read in place) against the
    /// AVX2 6×16 one (the 12×32 tile with A broadcast from memory and from a register): the same bits for every row count around their pairs of panels (a partial second
    /// panel, an odd panel of 1–6 rows or a single last B panel), odd and even depths, A read in place and packed,
    /// B either way (and read in place for few rows of A, its last columns packed), several k blocks, alpha, beta (1 and 0 or 1: whole tiles stored directly) and an
    /// epilogue with a bias and ReLU or leaky ReLU.
    /// Serialized with every suite under AVX512SwitchTests: the kernel switch is one setting for the whole process. Skipped, with the reason,
    /// on CPUs without AVX-512 (a Zen 3 has none), where there is no second kernel to compare.
    @Suite(.serialized, .enabled(if: BlockedGemm.available && flint_sgemm_avx512_supported() != 0,
                                 "this CPU has no AVX-512 (or no AVX2/FMA): the AVX-512 kernels do not run here"))
    struct WideKernelTests {
        /// The default is the AVX-512 tiles wherever the CPU has AVX-512, whatever its vendor or
        /// FMA width: a probe that left Zen 4 on AVX2 cost it 1.24–1.44× on the benchmark models.
        /// Only `FLINT_GEMM_AVX512=0` turns them off.
        @Test func defaultWhereverTheCPUHasAVX512() {
            defer { _ = flint_sgemm_use_avx512(-1) }
            let optedOut = ProcessInfo.processInfo.environment["FLINT_GEMM_AVX512"] == "0"
            #expect((flint_sgemm_use_avx512(-1) == 1) == !optedOut)
            #expect(flint_sgemm_use_avx512(0) == 0, "asked off, the tiles are off")
            #expect(flint_sgemm_use_avx512(1) == 1, "asked on, the tiles run on this AVX-512 CPU")
        }

        @Test(arguments: [(m: 12, n: 16, k: 7), (m: 13, n: 17, k: 385), (m: 29, n: 40, k: 64), (m: 150, n: 530, k: 33),
                          (m: 300, n: 48, k: 800), (m: 5, n: 20, k: 10), (m: 28, n: 70, k: 100), (m: 64, n: 96, k: 130),
                          (m: 100, n: 72, k: 800)])
        func sameBitsAsTheAVX2Kernel(m: Int, n: Int, k: Int) throws {
            defer { _ = flint_sgemm_use_avx512(-1); _ = flint_sgemm_use_register_broadcasts(-1) }
            try #require(flint_sgemm_use_avx512(1) == 1, "the CPU has AVX-512, yet the switch to its tiles failed")
            let a = BlockedGemmTests.values(m * k, seed: 21), b = BlockedGemmTests.values(k * n, seed: 22)
            let start = BlockedGemmTests.values(m * n, seed: 23), bias = BlockedGemmTests.values(n, seed: 24)
            var cases = 0
            for (aRow, aCol) in [(k, 1), (1, m)] {  // A read in place (when n ≤ 32) or packed
                var storedA = [Float](repeating: 0, count: m * k)
                for i in 0..<m { for p in 0..<k { storedA[i * aRow + p * aCol] = a[i * k + p] } }
                for (bRow, bCol) in [(n, 1), (1, k)] {
                    var storedB = [Float](repeating: 0, count: k * n)
                    for p in 0..<k { for j in 0..<n { storedB[p * bRow + j * bCol] = b[p * n + j] } }
                    for (alpha, beta, fused, activation) in [(Float(1), Float(0), false, FLINT_ACTIVATION_NONE),
                                                             (1, 1, false, FLINT_ACTIVATION_NONE), (0.5, 1, false, FLINT_ACTIVATION_NONE),
                                                             (1, 0, true, FLINT_ACTIVATION_RELU), (1, 1, true, FLINT_ACTIVATION_LEAKY_RELU),
                                                             (-2, 0.25, true, FLINT_ACTIVATION_RELU)] {
                        var results: [[Float]] = []
                        // AVX-512 with A broadcast as a memory operand, then into a register; AVX2 last.
                        for (kernel, broadcasts) in [(1, 0), (1, 1), (0, -1)] {
                            _ = flint_sgemm_use_avx512(Int32(kernel))
                            _ = flint_sgemm_use_register_broadcasts(Int32(broadcasts))
                            var c = start
                            bias.withUnsafeBufferPointer { bias in
                                var epilogue = flint_epilogue(bias: bias.baseAddress, activation: Int32(activation), slope: 0.1)
                                withUnsafePointer(to: &epilogue) { epilogue in
                                    flint_sgemm(m, n, k, alpha, storedA, aRow, aCol, storedB, bRow, bCol, beta, &c, n,
                                                fused ? epilogue : nil)
                                }
                            }
                            results.append(c)
                        }
                        cases += 1
                        for (variant, name) in [(0, "memory"), (1, "register")] {
                            let differing = results[variant].indices.first { results[variant][$0].bitPattern != results[2][$0].bitPattern }
                            #expect(differing == nil, "element \(differing ?? -1) differs (A broadcast from \(name)): \(m)×\(n)×\(k), A strides (\(aRow), \(aCol)), B strides (\(bRow), \(bCol)), alpha \(alpha), beta \(beta), epilogue \(fused) (activation \(activation))")
                        }
                        #expect(!results[0].contains { $0.isNaN }, "no NaN from finite inputs")
                    }
                }
            }
            #expect(cases == 24)
        }

        /// A gathered A (a convolution's column matrix as offsets into an image) with runs of
        /// adjacent columns long enough to be read in place: pairs of B panels, a single last panel,
        /// and the rows past the last whole panel (gathered into a packed panel).
        @Test(arguments: [(m: 20, n: 40), (m: 50, n: 64), (m: 7, n: 16)])
        func gatheredSameBitsAsTheAVX2Kernel(m: Int, n: Int) throws {
            defer { _ = flint_sgemm_use_avx512(-1) }
            try #require(flint_sgemm_use_avx512(1) == 1, "the CPU has AVX-512, yet the switch to its tiles failed")
            let image = BlockedGemmTests.values(2_000, seed: 31)
            let rows = (0..<m).map { $0 * 13 }, columns = Array(0..<20) + Array(50..<70)  // two runs of 20
            let k = columns.count, b = BlockedGemmTests.values(k * n, seed: 32), start = BlockedGemmTests.values(m * n, seed: 33)
            var results: [[Float]] = []
            for kernel in [1, 0] {
                _ = flint_sgemm_use_avx512(Int32(kernel))
                var c = start
                flint_sgemm_gathered(m, n, k, 0.5, image, rows, columns, b, n, 1, 1, &c, n, nil)
                results.append(c)
            }
            let differing = results[0].indices.first { results[0][$0].bitPattern != results[1][$0].bitPattern }
            #expect(differing == nil, "element \(differing ?? -1) differs: gathered \(m)×\(n)×\(k)")
        }
    }
}
