import CBLAS
import FlintBackend

extension CPUBackend {
    public func gemm(
        m: Int, n: Int, k: Int, batch: Int, alpha: Float,
        _ a: MatrixOperand, _ b: MatrixOperand, beta: Float, _ c: MatrixOperand
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
        let (transA, lda) = Self.blasLayout(a, rows: m, columns: k, "A")
        let (transB, ldb) = Self.blasLayout(b, rows: k, columns: n, "B")
        let aBase = UnsafePointer(left.floats + a.offset)
        let bBase = UnsafePointer(right.floats + b.offset)
        let (m32, n32, k32) = (blasint(m), blasint(n), blasint(k))
        let (lda32, ldb32, ldc32) = (blasint(lda), blasint(ldb), blasint(ldc))
        OpenBLAS.prepareOnce()

        let product = { (batchIndex: Int) in
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
        if batch > 1 && small && c.batchStride >= footprint && batch * m * n * k >= 1 << 18 {
            Parallel.forEachTask(batch, work: Int.max, product)
        } else if small {
            Parallel.flushingDenormals { for batchIndex in 0..<batch { product(batchIndex) } }
        } else {
            // OpenBLAS threads this product: one caller at a time (see `OpenBLAS.threadedProducts`).
            OpenBLAS.threadedProducts.withLock { _ in
                Parallel.flushingDenormals { for batchIndex in 0..<batch { product(batchIndex) } }
            }
        }
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
