import CGemm
import Foundation

/// FlintCPU's own matrix product (`flint_sgemm` in CGemm) on CPUs with AVX2 and FMA, split
/// across cores by `Parallel`. Beside OpenBLAS it skips the pass that zeroes C when beta is 0,
/// reads A's rows in place for narrow products, and keeps one thread pool: OpenBLAS's workers
/// spun in `sched_yield` against FlintCPU's own loops between products (14% of LSTM training's
/// samples in `__schedule`). `FLINT_GEMM=openblas` routes products to OpenBLAS instead, for
/// comparing the two (`flint`, the default, keeps them here); other CPUs always use OpenBLAS.
enum BlockedGemm {
    /// Whether this CPU and build run the C kernels (AVX2 and FMA, compiled with optimisation),
    /// whatever `FLINT_GEMM` says; `enabled` is what products use.
    static let available = flint_sgemm_supported() != 0

    static let enabled: Bool = {
        switch ProcessInfo.processInfo.environment["FLINT_GEMM"] {
        case "openblas": return false
        case nil, "", "flint": break
        case let other?:
            // A typo must not pass silently, nor stop the program: say so once and carry on.
            FileHandle.standardError.write(Data(
                "Flint: FLINT_GEMM=\"\(other)\" is neither \"flint\" nor \"openblas\"; using the default (flint where the CPU allows)\n".utf8))
        }
        return available
    }()

    /// Whether products run the AVX-512 tiles (12×32 and 12×16 from packed A, 6×32 from A in
    /// place; every CPU with AVX-512 unless `FLINT_GEMM_AVX512=0`) rather than the 6×16 AVX2 one.
    /// Same bits either way.
    static var usesAVX512: Bool { flint_sgemm_avx512_in_use() != 0 }

    /// One matrix of a batched product: element (r, c) of batch member i at
    /// `base[i·batchStride + r·rowStride + c·colStride]`.
    struct Matrix {
        var base: UnsafePointer<Float>
        var rowStride: Int, colStride: Int, batchStride: Int
    }

    /// The tile of the kernel (rows × columns of C one call to it produces), for aligning splits.
    private static let (tileRows, tileColumns) = (6, 16)
    /// The size of A (floats) from which column bands share one packed copy of it: below, the
    /// second parallel region costs more than the packing it saves (512 KB).
    private static let sharedPackingFloats = 1 << 17
    /// Products below this many multiply-adds run on the calling thread (OpenBLAS's rule too).
    private static let threadedWork = 64 * 64 * 64

    /// `C[i] = alpha · A[i] · B[i] + beta · C[i]` for every batch member i; C row-major with
    /// leading dimension `ldc`. `epilogue` (its bias one float per column of C) is applied to
    /// each element as it is stored for the last time.
    static func product(m: Int, n: Int, k: Int, batch: Int, alpha: Float, _ a: Matrix, _ b: Matrix,
                        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, cBatchStride: Int,
                        epilogue: flint_epilogue? = nil) {
        // `packedA`: all of A_i's rows as flint_sgemm_pack_a packed them.
        func run(_ i: Int, rows: Range<Int>, columns: Range<Int>, packedA: UnsafePointer<Float>? = nil) {
            let call = { (epilogue: UnsafePointer<flint_epilogue>?) in
                let (bBase, cBase) = (b.base + i * b.batchStride + columns.lowerBound * b.colStride,
                                      c + i * cBatchStride + rows.lowerBound * ldc + columns.lowerBound)
                if let packedA {
                    flint_sgemm_a_packed(rows.count, columns.count, k, alpha, packedA, bBase, b.rowStride, b.colStride, beta, cBase,
                                         ldc, epilogue)
                } else {
                    flint_sgemm(rows.count, columns.count, k, alpha,
                                a.base + i * a.batchStride + rows.lowerBound * a.rowStride, a.rowStride, a.colStride,
                                bBase, b.rowStride, b.colStride, beta, cBase, ldc, epilogue)
                }
            }
            guard var band = epilogue else { return call(nil) }
            band.bias = band.bias.map { $0 + columns.lowerBound }
            withUnsafePointer(to: band) { call($0) }
        }
        // In Double: a broadcast operand lets batch · m · n · k exceed what any buffer holds.
        let work = Double(batch) * Double(m) * Double(n) * Double(k)
        let cores = Parallel.cores
        if work < Double(threadedWork) || cores == 1 {
            Parallel.flushingDenormals { for i in 0..<batch { run(i, rows: 0..<m, columns: 0..<n) } }
        } else if batch >= cores && cBatchStride >= (m - 1) * ldc + n {
            // Whole products per task (their Cs are disjoint).
            let tasks = min(batch, cores)
            Parallel.concurrentPerform(tasks) { task in
                for i in Parallel.range(task, of: tasks, count: batch) { run(i, rows: 0..<m, columns: 0..<n) }
            }
        } else {
            // Each product split into bands of whole tiles: of rows when C is taller than it is
            // wide, else of columns (each band then packs its own copy of the other operand,
            // which costs little beside its share of the product).
            let byRows = m > n
            let tiles = byRows ? (m + tileRows - 1) / tileRows : (n + tileColumns - 1) / tileColumns
            let extent = byRows ? m : n, tile = byRows ? tileRows : tileColumns
            let bands = min(tiles, cores)
            let panels = (m + tileRows - 1) / tileRows
            if !byRows, bands > 1, panels >= 2 * bands, m * k >= sharedPackingFloats, flint_sgemm_packs_a(n / bands, a.colStride) != 0 {
                // Column bands would each pack all of A: they pack a share of its panels into one
                // copy first, then every band reads it (the wide MLP's packing of A 6.5% → 3.6%
                // of its training step, perf).
                let packed = flint_sgemm_shared_floats(flint_sgemm_packed_a_size(m, k))!
                for i in 0..<batch {
                    let base = a.base + i * a.batchStride
                    Parallel.concurrentPerform(bands) { band in
                        let share = Parallel.range(band, of: bands, count: panels)
                        flint_sgemm_pack_a(m, k, share.lowerBound, share.count, base, a.rowStride, a.colStride, packed)
                    }
                    Parallel.concurrentPerform(bands) { band in
                        let tileRange = Parallel.range(band, of: bands, count: tiles)
                        run(i, rows: 0..<m, columns: (tileRange.lowerBound * tile)..<min(n, tileRange.upperBound * tile),
                            packedA: UnsafePointer(packed))
                    }
                }
                return
            }
            for i in 0..<batch {
                Parallel.concurrentPerform(bands) { band in
                    let tileRange = Parallel.range(band, of: bands, count: tiles)
                    let span = (tileRange.lowerBound * tile)..<min(extent, tileRange.upperBound * tile)
                    if byRows { run(i, rows: span, columns: 0..<n) } else { run(i, rows: 0..<m, columns: span) }
                }
            }
        }
    }

    /// A product with one row or one column (`m == 1` or `n == 1`): batch-1 inference, bound by
    /// reading the matrix. Each batch member's output elements are split into bands across cores.
    static func vectorProduct(m: Int, n: Int, k: Int, batch: Int, alpha: Float, _ a: Matrix, _ b: Matrix,
                              beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, cBatchStride: Int) {
        // As y = M·x: for a row, M = Bᵀ (n × k) and x = A's row; for a column, M = A and x = B's column.
        let row = m == 1
        let rows = row ? n : m
        let (mRow, mCol) = row ? (b.colStride, b.rowStride) : (a.rowStride, a.colStride)
        let incx = row ? a.colStride : b.rowStride, incy = row ? 1 : ldc
        func run(_ i: Int, _ band: Range<Int>) {
            let matrix = row ? b.base + i * b.batchStride : a.base + i * a.batchStride
            let x = row ? a.base + i * a.batchStride : b.base + i * b.batchStride
            flint_sgemv(band.count, k, alpha, matrix + band.lowerBound * mRow, mRow, mCol, x, incx,
                        beta, c + i * cBatchStride + band.lowerBound * incy, incy)
        }
        // Bands of 64 outputs (the column form's register block), at least ~64K multiply-adds each.
        let blocks = (rows + 63) / 64
        let bands = min(blocks, Parallel.cores, max(1, rows * k / 65_536))
        for i in 0..<batch {
            if bands <= 1 {
                Parallel.flushingDenormals { run(i, 0..<rows) }
            } else {
                Parallel.concurrentPerform(bands) { band in
                    let span = Parallel.range(band, of: bands, count: blocks)
                    run(i, (span.lowerBound * 64)..<min(rows, span.upperBound * 64))
                }
            }
        }
    }
}
