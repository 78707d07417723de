import FlintBackend

extension Tensor {
    /// Matrix product with NumPy's `matmul` rules: 2-D × 2-D, batched over leading axes (which
    /// broadcast), and 1-D operands promoted to a row (left) or column (right) and dropped after.
    /// Transposes are stride swaps handed to the backend, never copies. A contiguous `[…, m, k]`
    /// times a matrix is one `[… · m, k]` product (a layer applied to every step of a sequence):
    /// one GEMM forward, and the matrix's gradient one product instead of one per member and a sum.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        requireFloat("matmul")
        other.requireFloat("matmul")
        requireSameDevice(other, "matmul")
        guard checkArgument(rank >= 1 && other.rank >= 1, "matmul: scalars are not matrices (shapes \(shape) and \(other.shape))") else {
            return .placeholder([], on: device)
        }
        if let rows = foldedRows(other, transposeSelf: transposeSelf) {
            let product = rows.matmul(other, transposeOther: transposeOther)
            return product.reshaped(to: Array(shape.dropLast()) + [product.shape[1]])
        }
        var a = rank == 1 ? unsqueezed(axis: 0) : self
        var b = other.rank == 1 ? other.unsqueezed(axis: 1) : other
        if transposeSelf { a = a.transposed() }
        if transposeOther { b = b.transposed() }
        let (m, k) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (k2, n) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        guard k == k2, let batchShape = Shape.broadcast(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2))) else {
            failArgument("matmul: shapes \(a.shape) and \(b.shape) do not multiply (inner \(k) vs \(k2), batch must broadcast)")
            return .placeholder(Array(a.shape.dropLast(2)) + [m, n], on: device)
        }
        var outShape = batchShape + [m, n]
        let result: Tensor
        if k == 0 {
            result = .zeros(outShape, on: device)
        } else {
            let product = Tensor(uninitializedShape: outShape, backend: backend)
            if product.count > 0 { Tensor.gemm(a.blasLegal(), b.blasLegal(), batchShape: batchShape, into: product) }
            result = product.recordedProduct(a, b)
        }
        if other.rank == 1 { outShape.removeLast() }
        if rank == 1 { outShape.remove(at: outShape.count - (other.rank == 1 ? 1 : 2)) }
        return result.reshaped(to: outShape)
    }

    /// `activation(self · weight + bias)`: a layer's affine map. Where the backend fuses them
    /// (the CPU's own kernel), the bias and a ReLU or leaky ReLU are applied as the product is
    /// stored instead of in passes over the output. Values and gradients have the bits of
    /// `matmul` followed by `adding(_:then:)` (or `+`, or the activation alone).
    ///
    /// - Parameters:
    ///   - weight: The `[k, n]` matrix; `self` is `[…, k]`.
    ///   - bias: Added to every row, `[n]`; nil for none. Another shape that broadcasts is
    ///     added by the separate ops.
    ///   - activation: Applied last; nil for none. A leaky ReLU's slope must be positive.
    /// - Returns: `[…, n]`.
    public func matmul(_ weight: Tensor, adding bias: Tensor?, then activation: FusedActivation? = nil) -> Tensor {
        guard activation?.checkFusable("matmul(_:adding:then:)") ?? true else { return matmul(weight) }
        let rows = rank == 2 ? self : foldedRows(weight, transposeSelf: false)
        let shift = bias.flatMap { fusableBias($0, columns: weight.rank == 2 ? weight.shape[1] : 0) }
        let fusable = rows != nil && weight.rank == 2 && shape[rank - 1] == weight.shape[0] && weight.shape[0] > 0
            && (bias == nil || shift != nil)
            && dtype == .float32 && weight.dtype == .float32 && weight.backend === backend && count > 0 && weight.count > 0
        guard fusable, let rows else { return matmul(weight).unfusedEpilogue(bias: bias, activation: activation) }
        let (k, n) = (weight.shape[0], weight.shape[1])
        let (a, b) = (rows.blasLegal(), weight.blasLegal())
        let m = a.shape[0]
        let values = Tensor(uninitializedShape: [m, n], backend: backend)
        backend.gemm(m: m, n: n, k: k, batch: 1, a.matrixOperand(offset: a.offset, batchStride: 0),
                     b.matrixOperand(offset: b.offset, batchStride: 0),
                     MatrixOperand(buffer: values.buffer, offset: 0, rowStride: n, colStride: 1, batchStride: 0),
                     epilogue: GemmEpilogue(bias: shift.map { ($0.buffer, $0.offset) }, activation: activation?.op))
        // The product's node holds the finished values; neither its backward nor the epilogue's
        // reads the bare product, so it never needs to exist.
        let product = values.recordedProduct(a, b)
        let output = product.recordedEpilogue(values: values, bias: shift, activation: activation)
        return rank == 2 ? output : output.reshaped(to: Array(shape.dropLast()) + [n])
    }

    /// This contiguous `[…, m, k]` tensor as one `[… · m, k]` matrix when `other` is a matrix it
    /// multiplies (see `matmul`), else nil (a matrix already, transposed, or not contiguous).
    private func foldedRows(_ other: Tensor, transposeSelf: Bool) -> Tensor? {
        guard rank >= 3, other.rank == 2, !transposeSelf, isContiguous else { return nil }
        let k = shape[rank - 1]
        return k > 0 ? reshaped(to: [count / k, k]) : nil
    }

    /// This product of `a · b` with the graph node of `matmul`.
    private func recordedProduct(_ a: Tensor, _ b: Tensor) -> Tensor {
        // Plain 2-D products leave b's gradient to the autograd engine (see PendingGradient).
        let deferred = a.rank == 2 && b.rank == 2 && b.requiresGrad
        return recorded("matmul", [a, b], deferredLeft: deferred ? a.detached() : nil) { [a, b] g in
            [a.requiresGrad ? g.matmul(b.detached(), transposeOther: true).unbroadcast(to: a.shape) : nil,
             b.requiresGrad && !deferred ? a.detached().matmul(g, transposeSelf: true).unbroadcast(to: b.shape) : nil]
        }
    }

    /// The last two axes as a `gemm` operand at `offset`. A size-1 axis may carry any stride;
    /// it gets the one BLAS expects.
    private func matrixOperand(offset: Int, batchStride: Int) -> MatrixOperand {
        let (rows, cols) = (shape[rank - 2], shape[rank - 1])
        var (rs, cs) = (strides[rank - 2], strides[rank - 1])
        if rows == 1 { rs = cs == 1 ? Swift.max(1, cols) : 1 }
        if cols == 1 { cs = rs == 1 ? Swift.max(1, rows) : 1 }
        if rows == 1 && cols == 1 { (rs, cs) = (1, 1) }
        return MatrixOperand(buffer: buffer, offset: offset, rowStride: rs, colStride: cs, batchStride: batchStride)
    }

    /// Self, or a contiguous copy when its last two axes are not a layout BLAS can read.
    private func blasLegal() -> Tensor {
        let (r, c) = (shape[rank - 2], shape[rank - 1])
        let (rs, cs) = (strides[rank - 2], strides[rank - 1])
        let rowMajor = (cs == 1 || c == 1) && (r == 1 || rs >= Swift.max(1, c))
        let colMajor = (rs == 1 || r == 1) && (c == 1 || cs >= Swift.max(1, r))
        return rowMajor || colMajor ? self : contiguous()
    }

    private static func gemm(_ a: Tensor, _ b: Tensor, batchShape: [Int], into c: Tensor) {
        let (m, k, n) = (a.shape[a.rank - 2], a.shape[a.rank - 1], b.shape[b.rank - 1])
        let aBatch = Shape.broadcastStrides(shape: Array(a.shape.dropLast(2)), strides: Array(a.strides.dropLast(2)), to: batchShape)
        let bBatch = Shape.broadcastStrides(shape: Array(b.shape.dropLast(2)), strides: Array(b.strides.dropLast(2)), to: batchShape)
        let cBatch = Array(c.strides.dropLast(2))
        // Merge batch axes so one launch covers as much as possible; loop over what will not merge.
        let (dims, merged) = Shape.coalesce(shape: batchShape, strides: [aBatch, bBatch, cBatch])
        let inner = dims.count - 1
        let outerCount = Shape.count(Array(dims[..<inner]))
        let outerShape = Array(dims[..<inner])
        for outer in 0..<outerCount {
            var rest = outer, offsets = [a.offset, b.offset, 0]
            for axis in outerShape.indices.reversed() {
                let i = rest % outerShape[axis]
                rest /= outerShape[axis]
                for operand in 0..<3 { offsets[operand] += i * merged[operand][axis] }
            }
            c.backend.gemm(
                m: m, n: n, k: k, batch: dims[inner], alpha: 1,
                a.matrixOperand(offset: offsets[0], batchStride: merged[0][inner]),
                b.matrixOperand(offset: offsets[1], batchStride: merged[1][inner]),
                beta: 0,
                MatrixOperand(buffer: c.buffer, offset: offsets[2], rowStride: n, colStride: 1, batchStride: merged[2][inner]))
        }
    }
}
