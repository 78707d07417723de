import FlintBackend

extension Tensor {
    /// Sum over `axes` (all axes when nil). Empty axes sum to 0.
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        reduced(.sum, axes: axes, keepDims: keepDims, name: "sum")
    }

    /// Sum along one axis (negative counts from the end).
    ///
    /// - Parameters:
    ///   - axis: The axis to reduce.
    ///   - keepDims: Whether to keep the axis with size 1, so the result broadcasts against `self`.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all axes when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let total = sum(axes: axes, keepDims: keepDims)
        let reducedCount = count / Swift.max(total.count, 1)
        return total / Float(reducedCount)
    }

    /// Mean along one axis (negative counts from the end).
    ///
    /// - Parameters:
    ///   - axis: The axis to reduce.
    ///   - keepDims: Whether to keep the axis with size 1.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Maximum over `axes` (all axes when nil).
    ///
    /// - Parameters:
    ///   - axes: The axes to reduce; nil for all.
    ///   - keepDims: Whether to keep the reduced axes with size 1.
    public func max(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        reduced(.max, axes: axes, keepDims: keepDims, name: "max")
    }

    /// Maximum along one axis.
    ///
    /// - Parameters:
    ///   - axis: The axis to reduce.
    ///   - keepDims: Whether to keep the axis with size 1.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor { max(axes: [axis], keepDims: keepDims) }

    /// Minimum over `axes` (all axes when nil).
    ///
    /// - Parameters:
    ///   - axes: The axes to reduce; nil for all.
    ///   - keepDims: Whether to keep the reduced axes with size 1.
    public func min(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        reduced(.min, axes: axes, keepDims: keepDims, name: "min")
    }

    /// Minimum along one axis.
    ///
    /// - Parameters:
    ///   - axis: The axis to reduce.
    ///   - keepDims: Whether to keep the axis with size 1.
    public func min(axis: Int, keepDims: Bool = false) -> Tensor { min(axes: [axis], keepDims: keepDims) }

    /// Index (int32) of the first largest element along `axis`, or in the flattened tensor when nil.
    public func argmax(axis: Int? = nil, keepDims: Bool = false) -> Tensor {
        requireFloat("argmax")
        guard let axis else {
            ensure(count > 0, "argmax: tensor of shape \(shape) is empty")
            let flat = flattened()
            let result = Tensor(uninitializedShape: keepDims ? shape.map { _ in 1 } : [], dtype: .int32, backend: backend)
            backend.argmax(flat.buffer, offset: flat.offset, layout: AxisLayout(outer: 1, length: count, inner: 1), out: result.buffer)
            return result
        }
        let a = Shape.axis(axis, rank: rank, op: "argmax")
        ensure(shape[a] > 0, "argmax: axis \(axis) of shape \(shape) is empty")
        var outShape = shape
        if keepDims { outShape[a] = 1 } else { outShape.remove(at: a) }
        let result = Tensor(uninitializedShape: outShape, dtype: .int32, backend: backend)
        guard result.count > 0 else { return result }
        let source = contiguous()
        backend.argmax(source.buffer, offset: source.offset, layout: source.axisLayout(a), out: result.buffer)
        return result
    }

    /// `[outer, length, inner]` around axis `a` of this (contiguous) tensor.
    func axisLayout(_ a: Int) -> AxisLayout {
        AxisLayout(outer: Shape.count(Array(shape[..<a])), length: shape[a], inner: Shape.count(Array(shape[(a + 1)...])))
    }

    /// Reduces runs of adjacent axes one launch each, last run first so earlier axes keep their positions.
    private func reduced(_ op: ReduceOp, axes: [Int]?, keepDims: Bool, name: String) -> Tensor {
        requireFloat(name)
        let reducedAxes = Set((axes ?? Array(0..<rank)).map { Shape.axis($0, rank: rank, op: name) })
        var keptShape = shape
        for a in reducedAxes { keptShape[a] = 1 }
        let finalShape = keepDims ? keptShape : shape.indices.filter { !reducedAxes.contains($0) }.map { shape[$0] }
        if reducedAxes.contains(where: { shape[$0] == 0 }) {
            ensure(op == .sum || Shape.count(finalShape) == 0,
                         "\(name): cannot reduce an empty axis of shape \(shape)")
            return Tensor.zeros(finalShape, on: device)
        }
        guard count > 0, !reducedAxes.isEmpty else {
            return reducedAxes.isEmpty ? contiguous().reshaped(to: finalShape) : Tensor.zeros(finalShape, on: device)
        }

        var current = contiguous()
        var currentShape = shape
        var runs: [(start: Int, end: Int)] = []
        for a in reducedAxes.sorted() {
            if let last = runs.last, last.end == a - 1 { runs[runs.count - 1].end = a } else { runs.append((a, a)) }
        }
        for run in runs.reversed() {
            let layout = AxisLayout(
                outer: Shape.count(Array(currentShape[..<run.start])),
                length: Shape.count(Array(currentShape[run.start...run.end])),
                inner: Shape.count(Array(currentShape[(run.end + 1)...])))
            currentShape.replaceSubrange(run.start...run.end, with: [1])
            let result = Tensor(uninitializedShape: currentShape, backend: backend)
            backend.reduce(op, current.buffer, offset: current.offset, layout: layout, out: result.buffer)
            current = result
        }
        let result = current.reshaped(to: finalShape)
        return result.recorded(name, [self]) { [self] g in
            let spread = g.reshaped(to: keptShape).expanded(to: self.shape)
            guard op != .sum else { return [spread] }
            // Max and min: the gradient is shared equally by the elements that attain the extreme.
            let mask = self.detached() .== result.reshaped(to: keptShape)
            return [spread * mask / mask.sum(axes: Array(reducedAxes), keepDims: true)]
        }
    }
}
