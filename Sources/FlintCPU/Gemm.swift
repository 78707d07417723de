import CBLAS
import CGemm
import FlintBackend

extension CPUBackend {
    public func gemm(
        m: Int, n: Int, k: Int, batch: Int, alpha: Float,
        _ a: MatrixOperand, _ b: MatrixOperand, beta: Float, _ c: MatrixOperand
    ) {
        product(m: m, n: n, k: k, batch: batch, alpha: alpha, a, b, beta: beta, c, epilogue: nil)
    }

    /// The bias and a ReLU (or leaky ReLU) are applied by FlintCPU's own kernel as it stores each
    /// tile of C, while it is still in registers; other activations, and products that take
    /// another route (OpenBLAS, matrix–vector), get the epilogue in one pass after.
    public func gemm(m: Int, n: Int, k: Int, batch: Int, _ a: MatrixOperand, _ b: MatrixOperand, _ c: MatrixOperand,
                     epilogue: GemmEpilogue) {
        product(m: m, n: n, k: k, batch: batch, alpha: 1, a, b, beta: 0, c, epilogue: epilogue)
    }

    private func product(
        m: Int, n: Int, k: Int, batch: Int, alpha: Float,
        _ a: MatrixOperand, _ b: MatrixOperand, beta: Float, _ c: MatrixOperand, epilogue: GemmEpilogue?
    ) {
        ensure(
            m >= 0 && n >= 0 && k >= 0 && batch >= 0,
            "CPUBackend.gemm: negative size m \(m), n \(n), k \(k), batch \(batch)")
        ensure(
            max(m, n, k) <= Int(Int32.max),
            "CPUBackend.gemm: m \(m), n \(n), k \(k) exceed BLAS's 32-bit sizes")
        guard m > 0, n > 0, batch > 0 else { return }
        let left = cpuBuffer(a.buffer, "gemm")
        let right = cpuBuffer(b.buffer, "gemm")
        let output = cpuBuffer(c.buffer, "gemm")
        checkMatrix(c, output, rows: m, columns: n, batch: batch, "C")
        ensure(
            (n == 1 || c.colStride == 1) && (m == 1 || c.rowStride >= n),
            "CPUBackend.gemm: C (\(m)×\(n)) needs colStride 1 and rowStride >= \(n); got rowStride \(c.rowStride), colStride \(c.colStride)")
        let ldc = m == 1 ? n : c.rowStride
        let cBase = output.floats + c.offset
        // The part of the epilogue left for a pass after the product (all of it unless our kernel fuses it).
        var after = epilogue
        defer {
            if let after { applyEpilogue(m: m, n: n, batch: batch, c, bias: after.bias, activation: after.activation) }
        }

        if k == 0 {
            // A·B is an empty sum: C = beta * C (zero when beta == 0, whatever C held).
            for batchIndex in 0..<batch {
                for row in 0..<m {
                    let p = cBase + batchIndex * c.batchStride + row * ldc
                    if beta == 0 {
                        p.update(repeating: 0, count: n)
                    } else {
                        for i in 0..<n { p[i] *= beta }
                    }
                }
            }
            return
        }

        checkMatrix(a, left, rows: m, columns: k, batch: batch, "A")
        checkMatrix(b, right, rows: k, columns: n, batch: batch, "B")
        let aBase = UnsafePointer(left.floats + a.offset)
        let bBase = UnsafePointer(right.floats + b.offset)
        if BlockedGemm.enabled {
            let left = BlockedGemm.Matrix(base: aBase, rowStride: a.rowStride, colStride: a.colStride, batchStride: a.batchStride)
            let right = BlockedGemm.Matrix(base: bBase, rowStride: b.rowStride, colStride: b.colStride, batchStride: b.batchStride)
            if m == 1 || n == 1 {
                BlockedGemm.vectorProduct(m: m, n: n, k: k, batch: batch, alpha: alpha, left, right,
                                          beta: beta, c: cBase, ldc: ldc, cBatchStride: c.batchStride)
            } else {
                var fused: flint_epilogue?
                if let epilogue { (fused, after) = split(epilogue, columns: n, "gemm") }
                BlockedGemm.product(m: m, n: n, k: k, batch: batch, alpha: alpha, left, right,
                                    beta: beta, c: cBase, ldc: ldc, cBatchStride: c.batchStride, epilogue: fused)
            }
            return
        }
        let (transA, lda) = Self.blasLayout(a, rows: m, columns: k, "A")
        let (transB, ldb) = Self.blasLayout(b, rows: k, columns: n, "B")
        let (m32, n32, k32) = (blasint(m), blasint(n), blasint(k))
        let (lda32, ldb32, ldc32) = (blasint(lda), blasint(ldb), blasint(ldc))
        OpenBLAS.prepareOnce()

        // A row vector times a matrix (or a matrix times a column vector) goes to sgemv: this
        // OpenBLAS's sgemm packs the whole matrix first, which cost more than the product itself
        // (the wide MLP's batch-1 inference copied 4 MB of weights per call). Only for products
        // OpenBLAS threads anyway: sgemv threads from m·n ≥ 9216, and an LSTM's 28 small
        // per-step products at batch 1 ran twice as slow woken threaded than as sgemm on one.
        let vector = m * n * k < 64 * 64 * 64 ? nil
            : Self.vectorProduct(m: m, n: n, k: k, transA: transA, lda: lda, transB: transB, ldb: ldb, ldc: ldc)
        let isVector = vector != nil
        let product = { (batchIndex: Int) in
            if let vector {
                let y = cBase + batchIndex * c.batchStride
                if beta == 0 {
                    // BLAS may read y even when beta is 0 (0 · NaN); pooled buffers can hold anything.
                    for i in 0..<(m == 1 ? n : m) { y[i * Int(vector.incy)] = 0 }
                }
                cblas_sgemv(CblasRowMajor, vector.trans, vector.rows, vector.columns, alpha,
                            vector.matrixIsA ? aBase + batchIndex * a.batchStride : bBase + batchIndex * b.batchStride, vector.ld,
                            vector.matrixIsA ? bBase + batchIndex * b.batchStride : aBase + batchIndex * a.batchStride, vector.incx,
                            beta, y, vector.incy)
                return
            }
            cblas_sgemm(
                CblasRowMajor, transA, transB, m32, n32, k32, alpha,
                aBase + batchIndex * a.batchStride, lda32,
                bBase + batchIndex * b.batchStride, ldb32,
                beta, cBase + batchIndex * c.batchStride, ldc32)
        }
        // OpenBLAS runs products below 64³ multiply-adds on the calling thread, so a batch of
        // small ones is split across cores here instead. Each task owns its own C matrices.
        let footprint = (m - 1) * ldc + n
        let small = m * n * k < 64 * 64 * 64
        if batch > 1 && small && !isVector && c.batchStride >= footprint && batch * m * n * k >= 1 << 18 {
            Parallel.forEachTask(batch, work: Int.max, product)
        } else if small && !isVector {
            Parallel.flushingDenormals { for batchIndex in 0..<batch { product(batchIndex) } }
        } else {
            // OpenBLAS threads this product: one caller at a time (see `OpenBLAS.threadedProducts`).
            OpenBLAS.threadedProducts.withLock { _ in
                Parallel.flushingDenormals { for batchIndex in 0..<batch { product(batchIndex) } }
            }
        }
    }

    /// `epilogue` as the part FlintCPU's C code applies while outputs are in registers or cache
    /// (the bias, and a ReLU or leaky ReLU) and the part left for a pass after (another
    /// activation), for outputs of `columns` columns.
    func split(_ epilogue: GemmEpilogue, columns: Int, _ name: StaticString) -> (fused: flint_epilogue, after: GemmEpilogue?) {
        var bias: UnsafePointer<Float>?
        if let (buffer, offset) = epilogue.bias {
            let storage = cpuBuffer(buffer, name)
            ensure(offset >= 0 && offset + columns <= storage.elementCount,
                   "CPUBackend.\(name): bias of \(columns) at offset \(offset) overruns a buffer of \(storage.elementCount)")
            bias = UnsafePointer(storage.floats + offset)
        }
        let (code, slope): (Int32, Float) = switch epilogue.activation {
        case .relu: (Int32(FLINT_ACTIVATION_RELU), 0)
        case .leakyRelu(let slope): (Int32(FLINT_ACTIVATION_LEAKY_RELU), slope)
        default: (Int32(FLINT_ACTIVATION_NONE), 0)
        }
        let after = code == FLINT_ACTIVATION_NONE && epilogue.activation != nil ? GemmEpilogue(bias: nil, activation: epilogue.activation) : nil
        return (flint_epilogue(bias: bias, activation: code, slope: slope), after)
    }

    /// The sgemv call computing a product with m == 1 (`y = x · B`, as `Bᵀ · x`) or n == 1
    /// (`y = A · x`), or nil for a true matrix product. `rows`/`columns` describe the matrix as
    /// stored (row-major, leading dimension `ld`); `incx`/`incy` step through the vectors.
    static func vectorProduct(m: Int, n: Int, k: Int, transA: CBLAS_TRANSPOSE, lda: Int, transB: CBLAS_TRANSPOSE, ldb: Int, ldc: Int)
        -> (matrixIsA: Bool, trans: CBLAS_TRANSPOSE, rows: blasint, columns: blasint, ld: blasint, incx: blasint, incy: blasint)? {
        if m == 1 && n > 1 {
            // x: A's one row, element c at c (row-major) or c · lda (stored transposed).
            let incx = blasint(transA == CblasNoTrans ? 1 : lda)
            // B stored k × n (NoTrans): y = Bᵀ x; stored n × k (Trans): y = B' x.
            return transB == CblasNoTrans
                ? (false, CblasTrans, blasint(k), blasint(n), blasint(ldb), incx, 1)
                : (false, CblasNoTrans, blasint(n), blasint(k), blasint(ldb), incx, 1)
        }
        if n == 1 && m > 1 {
            // x: B's one column, element r at r · ldb (row-major) or r (stored transposed); y: C's column.
            let incx = blasint(transB == CblasNoTrans ? ldb : 1)
            return transA == CblasNoTrans
                ? (true, CblasNoTrans, blasint(m), blasint(k), blasint(lda), incx, blasint(ldc))
                : (true, CblasTrans, blasint(k), blasint(m), blasint(lda), incx, blasint(ldc))
        }
        return nil
    }

    /// The CBLAS (row-major) transpose flag and leading dimension describing `matrix`
    /// (`rows × columns`) without copying it. A dimension of extent 1 may have any stride.
    static func blasLayout(
        _ matrix: MatrixOperand, rows: Int, columns: Int, _ name: StaticString
    ) -> (CBLAS_TRANSPOSE, Int) {
        // Row-major: element (r, c) at r * ld + c.
        if (columns == 1 || matrix.colStride == 1) && (rows == 1 || matrix.rowStride >= columns) {
            return (CblasNoTrans, rows == 1 ? columns : matrix.rowStride)
        }
        // Column-major, i.e. the transpose of a row-major columns × rows matrix: (r, c) at r + c * ld.
        if (rows == 1 || matrix.rowStride == 1) && (columns == 1 || matrix.colStride >= rows) {
            return (CblasTrans, columns == 1 ? rows : matrix.colStride)
        }
        fatalError(
            "CPUBackend.gemm: \(name) (\(rows)×\(columns)) with rowStride \(matrix.rowStride), colStride \(matrix.colStride) is neither row-major (colStride 1, rowStride >= \(columns)) nor column-major (rowStride 1, colStride >= \(rows))")
    }

    /// Checks that every element of a batch of `rows × columns` matrices lies inside `buffer`.
    func checkMatrix(
        _ matrix: MatrixOperand, _ buffer: CPUBuffer, rows: Int, columns: Int, batch: Int, _ name: StaticString
    ) {
        var low = matrix.offset, high = matrix.offset
        for (extent, stride) in [(batch, matrix.batchStride), (rows, matrix.rowStride), (columns, matrix.colStride)]
        where extent > 1 {
            let span = (extent - 1) * stride
            if span < 0 { low += span } else { high += span }
        }
        ensure(
            low >= 0 && high < buffer.elementCount,
            "CPUBackend.gemm: \(name) (batch \(batch) of \(rows)×\(columns), offset \(matrix.offset), strides \(matrix.batchStride)/\(matrix.rowStride)/\(matrix.colStride)) reaches elements \(low)...\(high) of a buffer of \(buffer.elementCount)")
    }
}
