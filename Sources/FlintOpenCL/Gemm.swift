import COpenCL
import FlintBackend

/// The operands of one GEMM launch, in the kernels' argument order: row-major, except that a
/// `gemm_tiled` launch may read A or B column-major (`trans` bits 0 and 1; see gemm.cl).
struct GemmOperands {
    var a: KernelArg, aOffset: Int, lda: Int, aBatchStride: Int
    var b: KernelArg, bOffset: Int, ldb: Int, bBatchStride: Int
    var c: KernelArg, cOffset: Int, ldc: Int, cBatchStride: Int
    var trans = 0

    /// Elements between neighbours along k in A and in B.
    var kStrides: (a: Int, b: Int) { (trans & 1 != 0 ? lda : 1, trans & 2 != 0 ? 1 : ldb) }
}

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

        // `gemm` (CPU devices) reads A and B row-major: a column-major operand (a transpose) is
        // copied to row-major scratch memory first, m·k or k·n element moves against m·n·k
        // multiply-adds, and faster than reading it strided (measured on PoCL). With few rows of C
        // that copy of B would dominate, so `gemm_bt` reads a column-major B in place. `gemm_tiled`
        // (GPUs) reads a column-major operand in place as it fills its local tiles: on an H200 the
        // transposes of a convnet's weight gradients and dense layers made its strided copies 7.8% of
        // its kernel time (under 2% reading in place), and each was one more launch.
        if b.colStride != 1 && b.rowStride == 1 && m < tuning.gemmColumnMajorBRows && k > 0 {
            let (aData, aOffset, lda, aBatchStride) = rowMajor(a, aBuffer, rows: m, columns: k, batch: batch, "A")
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
        let variant = gemmTuner.variant(for: GemmShapeClass(m: m, n: n, k: k, batch: batch), backend: self)
        let inPlace = variant.config.kernel == .tiled
        let (aData, aOffset, lda, aBatchStride, aTrans) =
            operand(a, aBuffer, rows: m, columns: k, batch: batch, inPlace: inPlace, "A")
        let (bData, bOffset, ldb, bBatchStride, bTrans) =
            operand(b, bBuffer, rows: k, columns: n, batch: batch, inPlace: inPlace, "B")
        let operands = GemmOperands(
            a: .buffer(aData), aOffset: aOffset, lda: lda, aBatchStride: aBatchStride,
            b: .buffer(bData), bOffset: bOffset, ldb: ldb, bBatchStride: bBatchStride,
            c: .buffer(cBuffer), cOffset: c.offset, ldc: c.rowStride, cBatchStride: c.batchStride,
            trans: (aTrans ? 1 : 0) | (bTrans ? 2 : 0))
        if batch == 1, let parts = splitKParts(m: m, n: n, k: k) {
            splitK(variant, parts: parts, m: m, n: n, k: k, alpha: alpha, operands, beta: beta)
        } else {
            launchGemm(variant, m: m, n: n, k: k, batch: batch, alpha: alpha, operands, beta: beta)
        }
    }

    /// Enqueues one configuration's kernel; the tuner calls it too, so it returns the status.
    @discardableResult
    func launchGemm(
        _ variant: GemmVariant, m: Int, n: Int, k: Int, batch: Int, alpha: Float, _ o: GemmOperands, beta: Float,
        fatal: Bool = true
    ) -> cl_int {
        var kernel = variant.kernel
        if let vector = variant.vectorKernel {
            // Aligned vector pointers need every offset and stride of A and B to be whole vectors.
            let width = variant.config.tileVectorWidth
            let values = [o.aOffset, o.lda, o.bOffset, o.ldb] + (batch > 1 ? [o.aBatchStride, o.bBatchStride] : [])
            if values.allSatisfy({ $0 % width == 0 }) { kernel = vector }
        }
        ensure(o.trans == 0 || variant.config.kernel == .tiled, "OpenCLBackend.gemm: only gemm_tiled reads transposed operands")
        let global = variant.config.global(m: m, n: n, batch: batch)
        let args: [KernelArg] = [
            .int(m), .int(n), .int(k), .float(alpha),
            o.a, .int(o.aOffset), .int(o.lda), .int(o.aBatchStride),
            o.b, .int(o.bOffset), .int(o.ldb), .int(o.bBatchStride),
            .float(beta), o.c, .int(o.cOffset), .int(o.ldc), .int(o.cBatchStride), .int(o.trans),
        ]
        if fatal {
            launch(kernel, global: global, local: variant.config.localSize, args)
            return CL_SUCCESS
        }
        return enqueue(kernel, global: global, local: variant.config.localSize, args).0
    }

    /// How many runs of k to split a product into when C alone has too few work-groups to occupy
    /// the device and k is long; nil to run it whole. Decided from the standard configuration, not
    /// the tuned one, so the summation order (and every bit of the result) never depends on tuning.
    func splitKParts(m: Int, n: Int, k: Int) -> Int? {
        let groups = tuning.gemmStandard.groups(m: m, n: n)
        guard groups * 2 <= tuning.splitKGroups, k >= 4 * tuning.splitKChunk else { return nil }
        let parts = min((tuning.splitKGroups + groups - 1) / groups, k / tuning.splitKChunk)
        return parts >= 2 ? parts : nil
    }

    /// C = alpha · Σ_p A[:, run p] · B[run p, :] + beta · C, the partial products in scratch memory.
    private func splitK(
        _ variant: GemmVariant, parts wanted: Int, m: Int, n: Int, k: Int, alpha: Float, _ o: GemmOperands, beta: Float
    ) {
        let run = (k + wanted - 1) / wanted
        let parts = (k + run - 1) / run
        let last = k - (parts - 1) * run
        let partials = scratch(elements: parts * m * n)
        // Runs of equal length go as one batched launch, the shorter last run on its own.
        var whole = o
        let kStrides = o.kStrides
        whole.aBatchStride = run * kStrides.a
        whole.bBatchStride = run * kStrides.b
        (whole.c, whole.cOffset, whole.ldc, whole.cBatchStride) = (.buffer(partials), 0, n, m * n)
        let equalRuns = last == run ? parts : parts - 1
        if equalRuns > 0 {
            launchGemm(variant, m: m, n: n, k: run, batch: equalRuns, alpha: 1, whole, beta: 0)
        }
        if last != run {
            var tail = whole
            tail.aOffset += equalRuns * run * kStrides.a
            tail.bOffset += equalRuns * run * kStrides.b
            tail.cOffset = equalRuns * m * n
            launchGemm(variant, m: m, n: n, k: last, batch: 1, alpha: 1, tail, beta: 0)
        }
        launch(kernels.gemmSplitKCombine, global: [n, m], local: [tuning.local2D.0, tuning.local2D.1], [
            .int(m), .int(n), .int(parts), .buffer(partials), .float(alpha), .float(beta), o.c, .int(o.cOffset), .int(o.ldc),
        ])
    }

    /// A matrix operand as a GEMM kernel reads it: row-major as it is; column-major as it is when
    /// `inPlace` (then `transposed`), else as a row-major copy.
    func operand(
        _ matrix: MatrixOperand, _ buffer: OpenCLBuffer, rows: Int, columns: Int, batch: Int, inPlace: Bool, _ name: String
    ) -> (buffer: OpenCLBuffer, offset: Int, leading: Int, batchStride: Int, transposed: Bool) {
        if inPlace && matrix.colStride != 1 && matrix.rowStride == 1 && rows > 0 && columns > 0 {
            return (buffer, matrix.offset, matrix.colStride, matrix.batchStride, true)
        }
        let view = rowMajor(matrix, buffer, rows: rows, columns: columns, batch: batch, name)
        return (view.buffer, view.offset, view.leading, view.batchStride, false)
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
