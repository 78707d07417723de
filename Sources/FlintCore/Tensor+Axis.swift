import FlintBackend

extension Tensor {
    /// `exp(x) / Σ exp(x)` along `axis`, computed stably (max subtracted first).
    public func softmax(axis: Int = -1) -> Tensor { softmaxed(axis: axis, log: false) }

    /// `x - log Σ exp(x)` along `axis`, computed stably.
    public func logSoftmax(axis: Int = -1) -> Tensor { softmaxed(axis: axis, log: true) }

    private func softmaxed(axis: Int, log: Bool) -> Tensor {
        let name = log ? "logSoftmax" : "softmax"
        requireFloat(name)
        let a = Shape.axis(axis, rank: rank, op: name)
        let result = Tensor(uninitializedShape: shape, backend: backend)
        guard count > 0 else { return result }
        let source = contiguous()
        backend.softmax(source.buffer, offset: source.offset, layout: source.axisLayout(a), log: log, out: result.buffer)
        return result.recorded(name, [self]) { g in
            log ? [g - result.exp() * g.sum(axis: a, keepDims: true)]
                : [result * (g - (g * result).sum(axis: a, keepDims: true))]
        }
    }

    /// PyTorch's `gather`: `out[…, j, …] = self[…, indices[…, j, …], …]` along `axis`.
    /// `indices` (int32) has this tensor's rank and matches its shape on every other axis;
    /// the result has the shape of `indices`. An out-of-range index reads as 0.
    public func gather(axis: Int, indices: Tensor) -> Tensor {
        let a = checkIndexing(axis: axis, indices: indices, op: "gather")
        let result = Tensor(uninitializedShape: indices.shape, dtype: dtype, backend: backend)
        guard result.count > 0 else { return result }
        let source = contiguous(), index = indices.contiguous()
        backend.gather(source.buffer, offset: source.offset, layout: source.axisLayout(a),
                       indices: index.buffer, indicesOffset: index.offset, indexLength: indices.shape[a],
                       out: result.buffer)
        return result.recorded("gather", [self]) { [shape] g in
            [Tensor.zeros(shape, on: g.device).scatterAdd(axis: a, indices: index, source: g)]
        }
    }

    /// This tensor with `source` added at `indices` along `axis` (the adjoint of `gather`):
    /// `out[…, indices[…, j, …], …] += source[…, j, …]`. Repeated indices accumulate;
    /// out-of-range ones are skipped.
    public func scatterAdd(axis: Int, indices: Tensor, source: Tensor) -> Tensor {
        requireFloat("scatterAdd")
        requireSameDevice(source, "scatterAdd")
        let a = checkIndexing(axis: axis, indices: indices, op: "scatterAdd")
        ensure(source.shape == indices.shape,
                     "scatterAdd: source shape \(source.shape) differs from indices shape \(indices.shape)")
        let result = Tensor(uninitializedShape: shape, backend: backend)
        guard count > 0 else { return result }
        let (dims, strides) = Shape.coalesce(shape: shape, strides: [self.strides, result.strides])
        backend.copy(StridedOperand(buffer: buffer, offset: offset, strides: strides[0]),
                     to: StridedOperand(buffer: result.buffer, offset: 0, strides: strides[1]), shape: dims)
        guard source.count > 0 else { return result }
        let values = source.contiguous(), index = indices.contiguous()
        backend.scatterAdd(values.buffer, srcOffset: values.offset,
                           indices: index.buffer, indicesOffset: index.offset, indexLength: indices.shape[a],
                           layout: result.axisLayout(a), out: result.buffer)
        return result.recorded("scatterAdd", [self, source]) { g in
            [g, source.requiresGrad ? g.gather(axis: a, indices: index) : nil]
        }
    }

    /// The entries at 1-D int32 `indices` along `axis` (embedding lookup, row selection).
    public func indexSelect(axis: Int, indices: Tensor) -> Tensor {
        let a = Shape.axis(axis, rank: rank, op: "indexSelect")
        ensure(indices.rank == 1 && indices.dtype == .int32,
                     "indexSelect: indices must be 1-D int32, got shape \(indices.shape) \(indices.dtype)")
        var outShape = shape
        outShape[a] = indices.shape[0]
        var lifted = [Int](repeating: 1, count: rank)
        lifted[a] = indices.shape[0]
        return gather(axis: a, indices: indices.reshaped(to: lifted).expanded(to: outShape).contiguous())
    }

    private func checkIndexing(axis: Int, indices: Tensor, op: String) -> Int {
        requireSameDevice(indices, op)
        ensure(indices.dtype == .int32, "\(op): indices must be int32, got \(indices.dtype)")
        let a = Shape.axis(axis, rank: rank, op: op)
        ensure(indices.rank == rank && shape.indices.allSatisfy { $0 == a || shape[$0] == indices.shape[$0] },
                     "\(op): indices shape \(indices.shape) must match \(shape) except on axis \(axis)")
        return a
    }
}
