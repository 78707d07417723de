import FlintBackend

extension OpenCLBackend {
    public func gemm(
        m: Int, n: Int, k: Int, batch: Int, alpha: Float,
        _ a: MatrixOperand, _ b: MatrixOperand, beta: Float, _ c: MatrixOperand
    ) {
        guard m > 0, n > 0, batch > 0 else { return }
        ensure(k >= 0, "OpenCLBackend.gemm: negative k \(k)")
        ensure(c.colStride == 1, "OpenCLBackend.gemm: C must be row-major (colStride 1), got \(c.colStride)")
        let aBuffer = clBuffer(a.buffer, "gemm")
        let bBuffer = clBuffer(b.buffer, "gemm")
        let cBuffer = clBuffer(c.buffer, "gemm")
        checkMatrix(cBuffer, c, rows: m, columns: n, batch: batch, "C")
        if k > 0 {
            checkMatrix(aBuffer, a, rows: m, columns: k, batch: batch, "A")
            checkMatrix(bBuffer, b, rows: k, columns: n, batch: batch, "B")
        }

        // Both kernels read A row-major, and `gemm` reads B row-major too. A column-major operand (a
        // transpose) is copied to row-major scratch memory first: m·k or k·n element moves against
        // m·n·k multiply-adds, and faster than reading it strided (measured on PoCL). With few rows
        // of C that copy of B would dominate, so `gemm_bt` reads a column-major B in place.
        let (aData, aOffset, lda, aBatchStride) = rowMajor(a, aBuffer, rows: m, columns: k, batch: batch, "A")
        if b.colStride != 1 && b.rowStride == 1 && m < tuning.gemmColumnMajorBRows && k > 0 {
            launch(
                kernels.gemmBT,
                global: [(n + tuning.gemmDotBlock - 1) / tuning.gemmDotBlock, (m + tuning.gemmDotBlock - 1) / tuning.gemmDotBlock, batch],
                local: [tuning.local2D.0, tuning.local2D.1, 1],
                [
                    .int(m), .int(n), .int(k), .float(alpha),
                    .buffer(aData), .int(aOffset), .int(lda), .int(aBatchStride),
                    .buffer(bBuffer), .int(b.offset), .int(b.colStride), .int(b.batchStride),
                    .float(beta), .buffer(cBuffer), .int(c.offset), .int(c.rowStride), .int(c.batchStride),
                ])
            return
        }
        let (bData, bOffset, ldb, bBatchStride) = rowMajor(b, bBuffer, rows: k, columns: n, batch: batch, "B")

        let columnItems = (n + tuning.gemmVectorWidth - 1) / tuning.gemmVectorWidth
        let rowItems = (m + tuning.gemmRows - 1) / tuning.gemmRows
        launch(
            kernels.gemm,
            global: [columnItems, rowItems, batch],
            local: [tuning.local2D.0, tuning.local2D.1, 1],
            [
                .int(m), .int(n), .int(k), .float(alpha),
                .buffer(aData), .int(aOffset), .int(lda), .int(aBatchStride),
                .buffer(bData), .int(bOffset), .int(ldb), .int(bBatchStride),
                .float(beta), .buffer(cBuffer), .int(c.offset), .int(c.rowStride), .int(c.batchStride),
            ])
    }

    /// A row-major view of a matrix operand: the operand itself, or a row-major copy of a
    /// column-major one in scratch memory (one copy when its batch stride is 0).
    func rowMajor(
        _ matrix: MatrixOperand, _ buffer: OpenCLBuffer, rows: Int, columns: Int, batch: Int, _ name: String
    ) -> (buffer: OpenCLBuffer, offset: Int, leading: Int, batchStride: Int) {
        if matrix.colStride == 1 || rows == 0 || columns == 0 {
            return (buffer, matrix.offset, matrix.rowStride, matrix.batchStride)
        }
        ensure(
            matrix.rowStride == 1,
            "OpenCLBackend.gemm: \(name) needs colStride 1 or rowStride 1, got \(matrix.rowStride), \(matrix.colStride)")
        let copies = matrix.batchStride == 0 ? 1 : batch
        let copied = scratch(elements: copies * rows * columns)
        copy(
            StridedOperand(buffer: buffer, offset: matrix.offset, strides: [matrix.batchStride, 1, matrix.colStride]),
            to: StridedOperand(buffer: copied, offset: 0, strides: [rows * columns, columns, 1]),
            shape: [copies, rows, columns])
        return (copied, 0, columns, copies == 1 ? 0 : rows * columns)
    }

    /// Checks every element of a (batched) matrix operand lies inside its buffer.
    func checkMatrix(
        _ buffer: OpenCLBuffer, _ matrix: MatrixOperand, rows: Int, columns: Int, batch: Int, _ name: String
    ) {
        let strides = [matrix.batchStride, matrix.rowStride, matrix.colStride]
        ensure(
            strides.allSatisfy { $0 >= 0 } && matrix.offset >= 0,
            "OpenCLBackend.gemm: \(name) has a negative offset or stride (\(matrix.offset), \(strides))")
        let last = matrix.offset + (batch - 1) * matrix.batchStride + (rows - 1) * matrix.rowStride
            + (columns - 1) * matrix.colStride
        ensure(
            (last + 1) * 4 <= buffer.byteCount,
            "OpenCLBackend.gemm: \(name) (\(batch)×\(rows)×\(columns), offset \(matrix.offset), strides \(strides)) "
                + "reaches element \(last) of a buffer of \(buffer.byteCount) bytes")
    }
}
