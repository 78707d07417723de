import FlintBackend

/// Where a view lies in its input: `count` elements from `start` along `axis` of `inputShape`;
/// `keepsAxis` is false for `select`, whose result drops that axis.
struct GradRegion {
    let axis: Int
    let start: Int
    let keepsAxis: Bool
    let inputShape: [Int]
}

/// The gradient arriving at one node during backward, summed only when the node is reached.
///
/// Gradients of a matrix product's right operand, `aᵀ·g`, are kept as their factors: a weight
/// used at every step of a sequence (a recurrent kernel) gets `Σₜ aₜᵀ·gₜ` as one product of the
/// stacked factors, one long GEMM instead of one short GEMM and one addition per step.
///
/// Gradients of regions (slices and selects of the node's value, such as the gates of a
/// recurrent step or the timesteps of a sequence) are kept apart until then: disjoint regions
/// along one axis become one concatenation with zeros only in the gaps, so `k` slices cost one
/// pass over the input's size instead of `k` zero-padded copies and `k − 1` additions.
struct PendingGradient {
    private var whole: Tensor?
    private var parts: [(region: GradRegion, gradient: Tensor)] = []
    private var products: [(left: Tensor, gradient: Tensor)] = []

    init(_ gradient: Tensor? = nil) { whole = gradient }

    mutating func add(_ gradient: Tensor) {
        whole = whole.map { $0 + gradient } ?? gradient
    }

    mutating func add(_ gradient: Tensor, in region: GradRegion) {
        parts.append((region, region.keepsAxis ? gradient : gradient.unsqueezed(axis: region.axis)))
    }

    /// Adds `leftᵀ·gradient` (both two-dimensional with as many rows).
    mutating func add(productOf left: Tensor, _ gradient: Tensor) {
        products.append((left, gradient))
    }

    /// The region gradients as they arrived, when nothing else was added (see
    /// `GradNode.regionBackward`); nil otherwise.
    var regionsOnly: [(region: GradRegion, gradient: Tensor)]? {
        whole == nil && products.isEmpty && !parts.isEmpty ? parts : nil
    }

    /// The sum of everything added (nil if nothing was).
    func total() -> Tensor? {
        guard let product = stackedProduct() else { return regionsAndWhole() }
        return regionsAndWhole().map { $0 + product } ?? product
    }

    /// The sum of the deferred products, as one product of the stacked factors.
    private func stackedProduct() -> Tensor? {
        guard let first = products.first else { return nil }
        if products.count == 1 { return first.left.matmul(first.gradient, transposeSelf: true) }
        let lefts = Tensor.concatenate(products.map(\.left), axis: 0)
        let gradients = Tensor.concatenate(products.map(\.gradient), axis: 0)
        return lefts.matmul(gradients, transposeSelf: true)
    }

    private func regionsAndWhole() -> Tensor? {
        guard let first = parts.first else { return whole }
        var sum: Tensor
        if let disjoint = Self.disjointParts(parts) {
            sum = Self.assemble(disjoint, axis: first.region.axis, shape: first.region.inputShape)
        } else {
            // Overlapping regions, or regions along different axes: pad each and add.
            let padded = parts.map { $0.gradient.padded(axis: $0.region.axis, before: $0.region.start, to: $0.region.inputShape) }
            sum = padded.dropFirst().reduce(padded[0], +)
        }
        if let whole { sum = sum + whole }
        return sum
    }

    /// The parts sorted by start when they lie along one axis without overlapping; else nil.
    private static func disjointParts(_ parts: [(region: GradRegion, gradient: Tensor)]) -> [(start: Int, gradient: Tensor)]? {
        let axis = parts[0].region.axis
        guard parts.allSatisfy({ $0.region.axis == axis }) else { return nil }
        let sorted = parts.map { (start: $0.region.start, gradient: $0.gradient) }.sorted { $0.start < $1.start }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.start + a.gradient.shape[axis] > b.start { return nil }
        return sorted
    }

    /// Disjoint parts placed along `axis` of a tensor of `shape`, zeros between them.
    private static func assemble(_ parts: [(start: Int, gradient: Tensor)], axis: Int, shape: [Int]) -> Tensor {
        let device = parts[0].gradient.device
        // A gap is one zero broadcast over it: the concatenation writes it in its single pass,
        // where a zero-filled tensor was written and then copied (an LSTM's gradient for the
        // 27 steps before its last state, 3.5 MB per training step of the benchmark).
        func zeros(_ size: Int) -> Tensor {
            var gap = shape
            gap[axis] = size
            return Tensor.zeros(Array(repeating: 1, count: shape.count), on: device).expanded(to: gap)
        }
        var pieces: [Tensor] = []
        var position = 0
        for (start, gradient) in parts {
            if start > position { pieces.append(zeros(start - position)) }
            pieces.append(gradient)
            position = start + gradient.shape[axis]
        }
        if position < shape[axis] { pieces.append(zeros(shape[axis] - position)) }
        return pieces.count == 1 ? pieces[0] : Tensor.concatenate(pieces, axis: axis)
    }
}
