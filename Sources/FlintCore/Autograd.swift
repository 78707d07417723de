import FlintBackend

/// A vertex of the dynamic graph that reverse mode walks. Leaves (tensors marked with
/// `requiringGrad()`) accumulate `grad`; other nodes hold the backward function of the op
/// that made them, which maps the output's gradient to one gradient per input.
final class GradNode: @unchecked Sendable {
    let op: String
    let inputs: [GradNode?]
    let backward: ((Tensor) -> [Tensor?])?
    /// Set for views that take a region of their one input (slice, select): backward then
    /// gathers the region's gradient instead of calling `backward`, see `PendingGradient`.
    let region: GradRegion?
    /// Set for matrix products `a·b` whose gradient for `b` (`aᵀ·g`) is left to
    /// `PendingGradient`, which sums all such products for one `b` as a single product; holds `a`.
    let deferredLeft: Tensor?
    /// Optional: the backward of an op whose output is used only through regions (an LSTM step's
    /// `[h' | c']`, sliced into its two states), taking their gradients as they arrived instead of
    /// assembled into one tensor (a copy of each). Returns nil to decline; `backward` then runs.
    let regionBackward: (([(region: GradRegion, gradient: Tensor)]) -> [Tensor?]?)?
    /// Set on a ReLU's output: where a consumer hands back the ReLU's adjoint (see `ReluHandoff`).
    let reluHandoff: ReluHandoff?
    /// Accumulated gradient (leaves only). Training is single-threaded per graph.
    var grad: Tensor?

    init(op: String, inputs: [GradNode?], region: GradRegion? = nil, deferredLeft: Tensor? = nil,
         regionBackward: (([(region: GradRegion, gradient: Tensor)]) -> [Tensor?]?)? = nil,
         reluHandoff: ReluHandoff? = nil, backward: ((Tensor) -> [Tensor?])?) {
        self.op = op
        self.inputs = inputs
        self.region = region
        self.deferredLeft = deferredLeft
        self.regionBackward = regionBackward
        self.reluHandoff = reluHandoff
        self.backward = backward
    }

    var isLeaf: Bool { backward == nil }
}

/// Whether ops record the graph. Off inside `Tensor.withoutGrad` and while running backward.
enum GradMode {
    @TaskLocal static var isEnabled = true
}

extension Tensor {
    /// True when gradients flow to this tensor: a leaf marked with `requiringGrad()`, or the
    /// result of an op on such tensors.
    public var requiresGrad: Bool { node != nil }

    /// The same storage as a leaf of the graph whose gradient `backward()` accumulates.
    public func requiringGrad() -> Tensor {
        withNode(GradNode(op: "leaf", inputs: [], backward: nil))
    }

    /// The same storage cut off from the graph.
    public func detached() -> Tensor { withNode(nil) }

    /// The gradient accumulated on this leaf by `backward()`, or nil if none has arrived.
    public var grad: Tensor? { node?.grad }

    /// Forgets this leaf's accumulated gradient.
    public func zeroGrad() { node?.grad = nil }

    /// Replaces this leaf's accumulated gradient (it must require grad; `gradient` has its shape).
    public func setGrad(_ gradient: Tensor) {
        ensure(node?.isLeaf == true, "setGrad: tensor of shape \(shape) is not a leaf that requires grad")
        ensure(gradient.shape == shape, "setGrad: gradient shape \(gradient.shape) differs from \(shape)")
        node?.grad = gradient.detached()
    }

    /// Runs `body` without recording the graph (inference, optimizer updates).
    public static func withoutGrad<R>(_ body: () throws -> R) rethrows -> R {
        try GradMode.$isEnabled.withValue(false, operation: body)
    }

    func withNode(_ node: GradNode?) -> Tensor {
        Tensor(buffer: buffer, backend: backend, shape: shape, strides: strides, offset: offset, dtype: dtype, node: node)
    }

    /// `self` (an op's result) attached to the graph when any of `inputs` requires grad.
    /// `backward` receives the gradient of `self` and returns one gradient per input (nil for
    /// inputs that need none). It must not capture `self` after attachment, only values.
    /// `region` marks a view of a region of its one input (see `GradRegion`).
    /// `deferredLeft` marks a product `a·b` whose backward returns nil for `b` (see `GradNode`).
    /// `regionBackward` takes the gradients of regions of `self` unassembled (see `GradNode`).
    /// `reluHandoff` marks a ReLU's output (see `ReluHandoff`).
    func recorded(_ op: String, _ inputs: [Tensor], region: GradRegion? = nil, deferredLeft: Tensor? = nil,
                  regionBackward: (([(region: GradRegion, gradient: Tensor)]) -> [Tensor?]?)? = nil,
                  reluHandoff: ReluHandoff? = nil, backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.node != nil }) else { return self }
        return withNode(GradNode(op: op, inputs: inputs.map(\.node), region: region, deferredLeft: deferredLeft,
                                 regionBackward: regionBackward, reluHandoff: reluHandoff, backward: backward))
    }

    /// Back-propagates from this tensor: a scalar (seeded with 1) or any tensor with an explicit
    /// `gradient` of its shape. Gradients add up on the leaves.
    public func backward(_ gradient: Tensor? = nil) {
        // Inside a `withError` scope that has failed, the loss is a placeholder: leave the
        // gradients as they are.
        if ErrorScope.hasFailed { return }
        guard let root = node else {
            fatalError("backward: tensor of shape \(shape) does not require grad")
        }
        let seed = gradient ?? {
            ensure(count == 1, "backward: tensor of shape \(shape) is not a scalar; pass its gradient")
            return Tensor.ones(shape, on: device)
        }()
        ensure(seed.shape == shape, "backward: gradient shape \(seed.shape) differs from tensor shape \(shape)")

        // Reverse topological order by iterative depth-first search.
        var order: [GradNode] = []
        var visited: Set<ObjectIdentifier> = []
        var stack: [(GradNode, Bool)] = [(root, false)]
        while let (current, expanded) = stack.popLast() {
            if expanded { order.append(current); continue }
            guard visited.insert(ObjectIdentifier(current)).inserted else { continue }
            stack.append((current, true))
            for case let input? in current.inputs where !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }

        Tensor.withoutGrad {
            var pending: [ObjectIdentifier: PendingGradient] = [ObjectIdentifier(root): PendingGradient(seed.detached())]
            func distribute(_ inputGrads: [Tensor?], of current: GradNode) {
                for (input, inputGrad) in zip(current.inputs, inputGrads) {
                    guard let input, let inputGrad else { continue }
                    pending[ObjectIdentifier(input), default: PendingGradient()].add(inputGrad)
                }
            }
            for current in order.reversed() {
                guard let arrived = pending.removeValue(forKey: ObjectIdentifier(current)) else { continue }
                if let regionBackward = current.regionBackward, let parts = arrived.regionsOnly,
                   let inputGrads = regionBackward(parts) {
                    distribute(inputGrads, of: current)
                    continue
                }
                guard let g = arrived.total() else { continue }
                guard let backward = current.backward else {
                    current.grad = current.grad.map { $0 + g } ?? g
                    continue
                }
                if let region = current.region, let input = current.inputs[0] {
                    pending[ObjectIdentifier(input), default: PendingGradient()].add(g, in: region)
                    continue
                }
                if let left = current.deferredLeft, let right = current.inputs[1] {
                    pending[ObjectIdentifier(right), default: PendingGradient()].add(productOf: left, g)
                }
                distribute(backward(g), of: current)
            }
        }
    }

    /// Sums a broadcast gradient back down to `target` (the shape of the op's input).
    func unbroadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        var axes = Array(0..<lead)
        for (i, size) in target.enumerated() where size == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        let summed = axes.isEmpty ? self : sum(axes: axes, keepDims: true)
        return summed.reshaped(to: target)
    }
}
