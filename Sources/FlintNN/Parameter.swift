import FlintCore

/// A trainable tensor owned by a layer. Optimizers replace `value` each step with a new leaf,
/// so the graph of the previous step is released and gradients never leak across steps.
public final class Parameter {
    public let name: String
    public var value: Tensor
    /// Weight penalty added to the loss for this parameter (kernels usually; biases rarely).
    public var regularizer: Regularizer?

    public init(_ value: Tensor, name: String, regularizer: Regularizer? = nil) {
        self.name = name
        self.value = value.detached().requiringGrad()
        self.regularizer = regularizer
    }

    public var grad: Tensor? { value.grad }
    public var count: Int { value.count }

    /// Installs `newValue` as a fresh leaf (used by optimizers and weight loading).
    public func assign(_ newValue: Tensor) {
        precondition(newValue.shape == value.shape, "assign: \(name) has shape \(value.shape), got \(newValue.shape)")
        value = newValue.detached().requiringGrad()
    }
}

/// Keras-style weight penalties, added to the training loss.
public enum Regularizer: Sendable, Hashable {
    /// `factor · Σ|w|`
    case l1(Float)
    /// `factor · Σw²`
    case l2(Float)
    case l1l2(l1: Float, l2: Float)

    public func penalty(_ w: Tensor) -> Tensor {
        switch self {
        case .l1(let f): w.abs().sum() * f
        case .l2(let f): w.square().sum() * f
        case .l1l2(let a, let b): w.abs().sum() * a + w.square().sum() * b
        }
    }
}
