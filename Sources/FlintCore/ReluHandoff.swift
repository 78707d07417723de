import FlintBackend

/// Lets a ReLU's consumer hand back a gradient that is already ReLU's adjoint, so the ReLU's
/// backward skips its own pass over the full-size tensor.
///
/// Max pooling over a ReLU's output is the case: its gradient reaches only each window's winner,
/// and the pooled value is the winner's output, so masking the pooled gradient (a quarter of the
/// size for 2×2 windows) by `pooled > 0` before it is scattered gives ReLU's adjoint directly,
/// and its column sums (a layer bias's gradient) come from the pooled gradient too. In the Keras
/// convnet this removes a pass over a 19 MB gradient and the output it is masked by.
///
/// The ReLU's node holds the handoff, and so does a reshape of its output (the same elements in
/// the same order); a consumer offers the gradient it returns. The ReLU's backward takes it only
/// if the gradient that arrives is that very tensor: when the output has other consumers their
/// gradients are added to it first, the sum is a new tensor, and the ReLU masks it as usual.
/// Backward runs on one thread per graph (see `GradNode.grad`).
final class ReluHandoff: @unchecked Sendable {
    /// Whether the ReLU's backward uses the gradient's sums over every axis but the last (a
    /// fused bias's gradient).
    let wantsColumnSums: Bool
    private var offered: (gradient: Tensor, columnSums: Tensor?)?

    init(wantsColumnSums: Bool) {
        self.wantsColumnSums = wantsColumnSums
    }

    /// Offers `gradient`, already zero wherever the ReLU's output is not positive, with its sums
    /// over every axis but the last, where the consumer has them.
    func offer(_ gradient: Tensor, columnSums: Tensor?) {
        offered = (gradient, columnSums)
    }

    /// Whether `g` is the offered gradient (the same elements of the same buffer, in any shape:
    /// a reshape between pooling and ReLU keeps them), with the offered sums. What was offered is
    /// released either way.
    func take(_ g: Tensor) -> (accepted: Bool, columnSums: Tensor?) {
        defer { offered = nil }
        guard let offered, offered.gradient.buffer === g.buffer, offered.gradient.offset == g.offset,
              offered.gradient.count == g.count, offered.gradient.isContiguous, g.isContiguous else { return (false, nil) }
        return (true, offered.columnSums)
    }
}
