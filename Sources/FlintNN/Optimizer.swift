import Foundation
import FlintCore

/// Updates parameters from their gradients. Subclass it for your own rule: override
/// `update(_:gradient:)` and keep per-parameter state (moments, velocities) in slots, which live
/// on the parameters' device and are saved with checkpoints.
///
///     final class SignSGD: Optimizer {
/// `w − lr · g`, with momentum and weight decay as configured.
///         public override func update(_ parameter: Parameter, gradient: Tensor) -> Tensor {
///             parameter.value - gradient.sign() * learningRate
///         }
///     }
open class Optimizer {
    /// The learning rate used by the next step (a schedule may change it every step).
    public var learningRate: Float
    /// Clip the global gradient norm to this value before each step (none when nil).
    public var clipNorm: Float?
    /// Steps taken so far (Adam's bias correction counts them); restored with checkpoints.
    public var iterations = 0

    /// An optimizer with a learning rate and optional gradient clipping.
    ///
    /// - Parameters:
    ///   - learningRate: The step size.
    ///   - clipNorm: The largest global gradient norm; nil for no clipping.
    public init(learningRate: Float, clipNorm: Float? = nil) {
        self.learningRate = learningRate
        self.clipNorm = clipNorm
    }

    /// Applies one update to every trainable, unfrozen parameter of `module` that has a
    /// gradient, then clears the gradients.
    public func step(_ module: Module) {
        step(module.trainableParameters)
    }

    /// Applies one update to every parameter in `parameters` that has a gradient, then clears
    /// the gradients.
    public func step(_ parameters: [Parameter]) {
        // A `withError` scope that has failed computed its gradients from placeholders.
        if ErrorScope.hasFailed { return }
        iterations += 1
        // In a data-parallel fit, the gradients become the global batch's first.
        GradientReduction.current?.reduce(parameters.filter { $0.isTrainable && !$0.isFrozen })
        Tensor.withoutGrad {
            let withGrads = parameters.filter { $0.grad != nil && $0.isTrainable && !$0.isFrozen }
            let scale = clipNorm.map { clipScale(withGrads.map { $0.grad! }, maxNorm: $0) }
            for parameter in withGrads {
                var g = parameter.grad!
                if let scale { g = g * scale }
                parameter.assign(update(parameter, gradient: g))
            }
        }
    }

    /// The new value of `parameter` given its (clipped) gradient; runs without recording
    /// gradients. Subclasses implement the rule.
    open func update(_ parameter: Parameter, gradient: Tensor) -> Tensor {
        fatalError("\(type(of: self)) must override update(_:gradient:)")
    }

    /// `min(1, maxNorm / ‖g‖)` as a rank-0 tensor, computed on the device (no host round trip).
    private func clipScale(_ grads: [Tensor], maxNorm: Float) -> Tensor {
        var squares = Tensor.zeros([], on: grads.first?.device ?? .cpu)
        for g in grads { squares = squares + g.square().sum() }
        return (maxNorm / (squares.sqrt() + 1e-6)).clamped(max: 1)
    }

    private var slots: [ObjectIdentifier: [String: Tensor]] = [:]

    /// Per-parameter state tensor `name`, or nil before it is first set.
    public func slot(_ name: String, of parameter: Parameter) -> Tensor? {
        slots[ObjectIdentifier(parameter)]?[name]
    }

    /// Sets per-parameter state tensor `name`.
    public func setSlot(_ name: String, of parameter: Parameter, to value: Tensor) {
        slots[ObjectIdentifier(parameter), default: [:]][name] = value
    }

    /// Every state tensor kept for `parameter`, by slot name.
    public func slots(of parameter: Parameter) -> [String: Tensor] {
        slots[ObjectIdentifier(parameter)] ?? [:]
    }

    /// Forgets all per-parameter state and the step count.
    public func reset() {
        slots = [:]
        iterations = 0
    }
}

/// Stochastic gradient descent, as PyTorch defines it: with momentum μ the buffer is
/// `b = μ·b + g` (starting at `g`), the step uses `b`, or `g + μ·b` with Nesterov.
/// `weightDecay` adds `λ·w` to the gradient.
public final class SGD: Optimizer {
    /// The momentum μ; 0 for plain SGD.
    public let momentum: Float
    /// Whether the step looks ahead along the momentum (Nesterov).
    public let nesterov: Bool
    /// The L2 factor λ added to the gradient as `λ·w`.
    public let weightDecay: Float

    /// SGD with the given settings.
    ///
    /// - Parameters:
    ///   - learningRate: The step size.
    ///   - momentum: μ; 0 for none.
    ///   - nesterov: Whether to use Nesterov momentum (needs μ > 0).
    ///   - weightDecay: λ; 0 for none.
    ///   - clipNorm: The largest global gradient norm; nil for no clipping.
    public init(learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0, clipNorm: Float? = nil) {
        ensure(!nesterov || momentum > 0, "SGD: Nesterov needs momentum > 0")
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        super.init(learningRate: learningRate, clipNorm: clipNorm)
    }

    /// One fused Adam step of `parameter`, updating its moments.
    public override func update(_ parameter: Parameter, gradient: Tensor) -> Tensor {
        let w = parameter.value.detached()
        var g = weightDecay != 0 ? gradient + w * weightDecay : gradient
        if momentum != 0 {
            let buffer = slot("momentum", of: parameter).map { $0 * momentum + g } ?? g
            setSlot("momentum", of: parameter, to: buffer)
            g = nesterov ? g + buffer * momentum : buffer
        }
        return w - g * learningRate
    }
}

/// RMSprop, as PyTorch defines it: `v = α·v + (1-α)·g²`, `w -= lr · g / (√v + ε)`
/// (defaults α = 0.99, ε = 1e-8; Keras uses ρ = 0.9, ε = 1e-7).
public final class RMSprop: Optimizer {
    /// The smoothing constant α of the squared-gradient average.
    public let alpha: Float
    /// Added to the denominator for stability.
    public let epsilon: Float
    /// The momentum of the scaled step; 0 for none.
    public let momentum: Float

    /// RMSprop with PyTorch's defaults.
    ///
    /// - Parameters:
    ///   - learningRate: The step size.
    ///   - alpha: The smoothing constant α.
    ///   - epsilon: Added to the denominator.
    ///   - momentum: The momentum of the step; 0 for none.
    ///   - clipNorm: The largest global gradient norm; nil for no clipping.
    public init(learningRate: Float = 0.01, alpha: Float = 0.99, epsilon: Float = 1e-8, momentum: Float = 0, clipNorm: Float? = nil) {
        self.alpha = alpha
        self.epsilon = epsilon
        self.momentum = momentum
        super.init(learningRate: learningRate, clipNorm: clipNorm)
    }

    /// `w − lr · g / (√v + ε)`, updating the squared-gradient average `v`.
    public override func update(_ parameter: Parameter, gradient g: Tensor) -> Tensor {
        let w = parameter.value.detached()
        let squared = g.square() * (1 - alpha)
        let v = slot("square_avg", of: parameter).map { $0 * alpha + squared } ?? squared
        setSlot("square_avg", of: parameter, to: v)
        var step = g / (v.sqrt() + epsilon)
        if momentum != 0 {
            let plain = step
            step = slot("momentum", of: parameter).map { $0 * momentum + plain } ?? plain
            setSlot("momentum", of: parameter, to: step)
        }
        return w - step * learningRate
    }
}

/// Adam, as PyTorch defines it: `m = β₁m + (1-β₁)g`, `v = β₂v + (1-β₂)g²`,
/// `w -= lr · m̂ / (√v̂ + ε)` with bias-corrected `m̂ = m/(1-β₁ᵗ)`, `v̂ = v/(1-β₂ᵗ)`.
/// `weightDecay` is L2 added to the gradient (Adam) or decoupled decay (AdamW).
public class Adam: Optimizer {
    /// β₁, the decay of the first moment.
    public let beta1: Float
    /// β₂, the decay of the second moment.
    public let beta2: Float
    /// Added to the denominator for stability.
    public let epsilon: Float
    /// L2 on the gradient (Adam) or decoupled decay of the weights (AdamW).
    public let weightDecay: Float
    let decoupled: Bool

    /// Adam with PyTorch's defaults.
    ///
    /// - Parameters:
    ///   - learningRate: The step size.
    ///   - beta1: β₁.
    ///   - beta2: β₂.
    ///   - epsilon: Added to the denominator.
    ///   - weightDecay: L2 added to the gradient; 0 for none.
    ///   - clipNorm: The largest global gradient norm; nil for no clipping.
    public init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0, clipNorm: Float? = nil) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupled = false
        super.init(learningRate: learningRate, clipNorm: clipNorm)
    }

    init(learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, decoupledWeightDecay: Float, clipNorm: Float?) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = decoupledWeightDecay
        self.decoupled = true
        super.init(learningRate: learningRate, clipNorm: clipNorm)
    }

    public override func update(_ parameter: Parameter, gradient: Tensor) -> Tensor {
        let t = Float(iterations)
        let step = AdamStep(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                            correction1: 1 - pow(beta1, t), correction2: 1 - pow(beta2, t),
                            l2: decoupled ? 0 : weightDecay, decoupledDecay: decoupled ? weightDecay : 0)
        // One fused pass per parameter (a single kernel on backends that provide one).
        let updated = Tensor.adamStep(step, parameter: parameter.value.detached(), gradient: gradient,
                                      m: slot("m", of: parameter), v: slot("v", of: parameter))
        setSlot("m", of: parameter, to: updated.m)
        setSlot("v", of: parameter, to: updated.v)
        return updated.parameter
    }
}

/// AdamW (Loshchilov & Hutter): Adam with weight decay applied to the weights, not the gradient.
/// PyTorch's default decay is 0.01.
public final class AdamW: Adam {
    /// AdamW with PyTorch's defaults.
    ///
    /// - Parameters:
    ///   - learningRate: The step size.
    ///   - beta1: β₁.
    ///   - beta2: β₂.
    ///   - epsilon: Added to the denominator.
    ///   - weightDecay: The decoupled decay; PyTorch's 0.01 by default.
    ///   - clipNorm: The largest global gradient norm; nil for no clipping.
    public override init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0.01, clipNorm: Float? = nil) {
        super.init(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                   decoupledWeightDecay: weightDecay, clipNorm: clipNorm)
    }
}
