import FlintBackend

extension Tensor {
    func view(shape: [Int], strides: [Int], offset: Int) -> Tensor {
        Tensor(buffer: buffer, backend: backend, shape: shape, strides: strides, offset: offset, dtype: dtype)
    }

    /// A row-major copy, or this tensor itself when it already is one.
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        let result = Tensor(uninitializedShape: shape, dtype: dtype, backend: backend)
        if count > 0 {
            let (dims, operands) = Shape.coalesce(shape: shape, strides: [strides, result.strides])
            backend.copy(StridedOperand(buffer: buffer, offset: offset, strides: operands[0]),
                         to: StridedOperand(buffer: result.buffer, offset: 0, strides: operands[1]),
                         shape: dims)
        }
        return result.recorded("contiguous", [self]) { g in [g] }
    }

    /// The same elements in a new shape; one dimension may be -1 to infer it.
    /// A view when the tensor is contiguous, else a copy.
    public func reshaped(to newShape: [Int]) -> Tensor {
        var resolved = newShape
        let inferred = newShape.indices.filter { newShape[$0] == -1 }
        let known = newShape.filter { $0 != -1 }.reduce(1, *)
        guard checkArgument(inferred.count <= 1, "reshape: more than one -1 in \(newShape)"),
              checkArgument(inferred.isEmpty || (known > 0 && count % known == 0), "reshape: cannot reshape \(shape) to \(newShape)")
        else { return .placeholder(newShape, dtype: dtype, on: device) }
        if let axis = inferred.first { resolved[axis] = count / known }
        guard checkArgument(resolved.allSatisfy { $0 >= 0 } && Shape.count(resolved) == count,
                            "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
        else { return .placeholder(resolved, dtype: dtype, on: device) }
        let source = contiguous()
        // A reshaped ReLU output keeps the ReLU's handoff: its elements are the output's, in order.
        return source.view(shape: resolved, strides: Shape.contiguousStrides(resolved), offset: source.offset)
            .recorded("reshape", [source], reluHandoff: source.node?.reluHandoff) { [shape] g in [g.reshaped(to: shape)] }
    }

    /// All elements as one dimension.
    public func flattened() -> Tensor { reshaped(to: [count]) }

    /// Axes reordered: result axis `i` is this tensor's axis `permutation[i]`. A view.
    public func permuted(_ permutation: [Int]) -> Tensor {
        let axes = permutation.map { Shape.axis($0, rank: rank, op: "permute") }
        ensure(axes.count == rank && Set(axes).count == rank,
                     "permute: \(permutation) is not a permutation of \(rank) axes")
        var inverse = axes
        for (i, axis) in axes.enumerated() { inverse[axis] = i }
        return view(shape: axes.map { shape[$0] }, strides: axes.map { strides[$0] }, offset: offset)
            .recorded("permute", [self]) { g in [g.permuted(inverse)] }
    }

    /// Two axes swapped (the last two by default). A view.
    public func transposed(_ first: Int = -2, _ second: Int = -1) -> Tensor {
        let a = Shape.axis(first, rank: rank, op: "transpose")
        let b = Shape.axis(second, rank: rank, op: "transpose")
        var order = Array(0..<rank)
        order.swapAt(a, b)
        return permuted(order)
    }

    /// Elements `range` along `axis`. A view.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let a = Shape.axis(axis, rank: rank, op: "slice")
        ensure(range.lowerBound >= 0 && range.upperBound <= shape[a],
                     "slice: range \(range) is outside 0..<\(shape[a]) on axis \(axis) of shape \(shape)")
        var newShape = shape
        newShape[a] = range.count
        return view(shape: newShape, strides: strides, offset: offset + range.lowerBound * strides[a])
            .recorded("slice", [self], region: GradRegion(axis: a, start: range.lowerBound, keepsAxis: true, inputShape: shape)) { [shape] g in [g.padded(axis: a, before: range.lowerBound, to: shape)] }
    }

    /// `self` placed at `before` along `axis` inside zeros of `shape` (the adjoint of slicing).
    func padded(axis: Int, before: Int, to shape: [Int]) -> Tensor {
        var head = shape, tail = shape
        head[axis] = before
        tail[axis] = shape[axis] - before - self.shape[axis]
        return Tensor.concatenate([Tensor.zeros(head, on: device), self, Tensor.zeros(tail, on: device)], axis: axis)
    }

    /// The sub-tensor at `index` along `axis`, with that axis removed. A view.
    public func select(index: Int, axis: Int = 0) -> Tensor {
        let a = Shape.axis(axis, rank: rank, op: "select")
        ensure(index >= 0 && index < shape[a], "select: index \(index) is outside 0..<\(shape[a]) on axis \(axis)")
        var newShape = shape, newStrides = strides
        newShape.remove(at: a)
        newStrides.remove(at: a)
        return view(shape: newShape, strides: newStrides, offset: offset + index * strides[a])
            .recorded("select", [self], region: GradRegion(axis: a, start: index, keepsAxis: false, inputShape: shape)) { [shape] g in [g.unsqueezed(axis: a).padded(axis: a, before: index, to: shape)] }
    }

    /// A size-1 axis inserted at `axis` (which may equal `rank`). A view.
    public func unsqueezed(axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        ensure(a >= 0 && a <= rank, "unsqueeze: axis \(axis) is out of range for rank \(rank)")
        var newShape = shape, newStrides = strides
        newShape.insert(1, at: a)
        newStrides.insert(0, at: a)
        return view(shape: newShape, strides: newStrides, offset: offset)
            .recorded("unsqueeze", [self]) { [shape] g in [g.reshaped(to: shape)] }
    }

    /// Size-1 axes removed: the given one, or all when `axis` is nil. A view.
    public func squeezed(axis: Int? = nil) -> Tensor {
        let keep: [Int]
        if let axis {
            let a = Shape.axis(axis, rank: rank, op: "squeeze")
            ensure(shape[a] == 1, "squeeze: axis \(axis) of shape \(shape) has size \(shape[a]), not 1")
            keep = shape.indices.filter { $0 != a }
        } else {
            keep = shape.indices.filter { shape[$0] != 1 }
        }
        return view(shape: keep.map { shape[$0] }, strides: keep.map { strides[$0] }, offset: offset)
            .recorded("squeeze", [self]) { [shape] g in [g.reshaped(to: shape)] }
    }

    /// This tensor broadcast to `target` (NumPy rules) without copying: broadcast axes get stride 0.
    public func expanded(to target: [Int]) -> Tensor {
        guard checkArgument(Shape.broadcast(shape, target) == target, "expand: cannot broadcast \(shape) to \(target)") else {
            return .placeholder(target, dtype: dtype, on: device)
        }
        return view(shape: target, strides: Shape.broadcastStrides(shape: shape, strides: strides, to: target), offset: offset)
            .recorded("expand", [self]) { [shape] g in [g.unbroadcast(to: shape)] }
    }

    /// Tensors joined along `axis`; all other dimensions must match.
    public static func concatenate(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        ensure(!tensors.isEmpty, "concatenate: needs at least one tensor")
        let first = tensors[0]
        let a = Shape.axis(axis, rank: first.rank, op: "concatenate")
        for t in tensors.dropFirst() {
            first.requireSameDevice(t, "concatenate")
            ensure(t.dtype == first.dtype, "concatenate: mixes \(first.dtype) and \(t.dtype)")
            guard checkArgument(t.rank == first.rank && t.shape.indices.allSatisfy { $0 == a || t.shape[$0] == first.shape[$0] },
                                "concatenate: shapes \(first.shape) and \(t.shape) differ outside axis \(axis)")
            else { return .placeholder(first.shape, dtype: first.dtype, on: first.device) }
        }
        var outShape = first.shape
        outShape[a] = tensors.reduce(0) { $0 + $1.shape[a] }
        let result = Tensor(uninitializedShape: outShape, dtype: first.dtype, backend: first.backend)
        var start = 0
        for t in tensors {
            defer { start += t.shape[a] }
            guard t.count > 0 else { continue }
            let target = result.slice(axis: a, start..<(start + t.shape[a]))
            let (dims, operands) = Shape.coalesce(shape: t.shape, strides: [t.strides, target.strides])
            result.backend.copy(StridedOperand(buffer: t.buffer, offset: t.offset, strides: operands[0]),
                                to: StridedOperand(buffer: result.buffer, offset: target.offset, strides: operands[1]),
                                shape: dims)
        }
        return result.recorded("concatenate", tensors) { g in
            var start = 0
            return tensors.map { t in
                defer { start += t.shape[a] }
                return t.requiresGrad ? g.slice(axis: a, start..<(start + t.shape[a])) : nil
            }
        }
    }
}
