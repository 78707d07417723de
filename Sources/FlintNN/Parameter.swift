import FlintCore

/// A tensor a module owns and saves: a trainable weight, or state such as BatchNorm's moving
/// statistics (`isTrainable == false`), which is saved and loaded but never given a gradient.
///
/// Optimizers replace `value` each step with a new leaf, so the graph of the previous step is
/// released and gradients never leak across steps.
public final class Parameter {
    /// The name within its module ("kernel"); the full path comes from `Module.namedParameters`.
    public let name: String
    /// False for state: no gradient, no optimizer update.
    public let isTrainable: Bool
    /// Weight penalty added to the loss for this parameter (kernels usually; biases rarely).
    public var regularizer: Regularizer?
    /// A frozen parameter keeps its value: it records no gradient and optimizers skip it.
    public var isFrozen = false {
        didSet { value = Self.leaf(value, tracked: isTrainable && !isFrozen) }
    }
    /// The current value, a leaf of the autograd graph when the parameter is trained.
    public private(set) var value: Tensor

    /// A parameter holding `value`, registered with the module being built.
    ///
    /// - Parameters:
    ///   - value: The initial value.
    ///   - name: The name within its module (`kernel`).
    ///   - trainable: False for state such as moving statistics.
    ///   - regularizer: A penalty added to the loss; nil for none.
    public init(_ value: Tensor, name: String, trainable: Bool = true, regularizer: Regularizer? = nil) {
        self.name = name
        self.isTrainable = trainable
        self.regularizer = regularizer
        self.value = Self.leaf(value, tracked: trainable)
        BuildScope.current?.created(self)
    }

    /// The gradient accumulated by `backward()`, until the optimizer's step clears it.
    public var grad: Tensor? { value.grad }

    /// Replaces the accumulated gradient (data-parallel training sums it over processes).
    func setGradient(_ gradient: Tensor) { value.setGrad(gradient) }
    /// The number of elements.
    public var count: Int { value.count }
    /// The value's shape.
    public var shape: [Int] { value.shape }

    /// Installs `newValue` (same shape) as the new value: used by optimizers, state updates and
    /// weight loading. It becomes a fresh leaf, so gradients of earlier steps are dropped.
    public func assign(_ newValue: Tensor) {
        ensure(newValue.shape == value.shape, "assign: \(name) has shape \(value.shape), got \(newValue.shape)")
        value = Self.leaf(newValue, tracked: isTrainable && !isFrozen)
    }

    private static func leaf(_ tensor: Tensor, tracked: Bool) -> Tensor {
        tracked ? tensor.detached().requiringGrad() : tensor.detached()
    }
}

/// Keras-style weight penalties, added to the training loss.
public enum Regularizer: Sendable, Hashable {
    /// `factor · Σ|w|`
    case l1(Float)
    /// `factor · Σw²`
    case l2(Float)
    /// Both penalties, `l1 · Σ|w| + l2 · Σw²`.
    case l1l2(l1: Float, l2: Float)

    /// The penalty for weights `w`, a scalar added to the loss.
    public func penalty(_ w: Tensor) -> Tensor {
        switch self {
        case .l1(let f): w.abs().sum() * f
        case .l2(let f): w.square().sum() * f
        case .l1l2(let a, let b): w.abs().sum() * a + w.square().sum() * b
        }
    }
}
