import FlintCore

/// An element-wise function, usable as a layer argument (`Dense(128, activation: .relu)`) or as
/// a layer of its own (`ActivationLayer(.relu)`, `ReLU()`). Equality compares names, which
/// include the arguments (`leaky_relu(0.2)`).
///
/// Your own activation works wherever the built-ins do (it runs unfused):
///
///     extension Activation {
///         static let mish = Activation(name: "mish") { x in x * x.softplus().tanh() }
///     }
public struct Activation: Sendable, Hashable, CustomStringConvertible {
    /// The name, with any arguments (`leaky_relu(0.2)`): what equality compares and summaries show.
    public let name: String
    private let function: @Sendable (Tensor) -> Tensor
    /// The same function as one that fuses with a preceding bias add, for the built-ins that can.
    let fused: FusedActivation?

    /// An activation of your own; it runs unfused.
    ///
    /// - Parameters:
    ///   - name: A name unique to this function and its arguments.
    ///   - function: The element-wise function, built from differentiable tensor ops.
    public init(name: String, _ function: @escaping @Sendable (Tensor) -> Tensor) {
        self.init(name: name, fused: nil, function)
    }

    init(name: String, fused: FusedActivation?, _ function: @escaping @Sendable (Tensor) -> Tensor) {
        self.name = name
        self.fused = fused
        self.function = function
    }

    /// The function applied to `x`.
    public func callAsFunction(_ x: Tensor) -> Tensor { function(x) }

    /// The name.
    public var description: String { name }
    /// Whether both have the same name.
    public static func == (a: Activation, b: Activation) -> Bool { a.name == b.name }
    /// Hashes the name.
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    /// `max(x, 0)`.
    public static let relu = Activation(name: "relu", fused: .relu) { $0.relu() }
    /// `1 / (1 + e⁻ˣ)`.
    public static let sigmoid = Activation(name: "sigmoid", fused: .sigmoid) { $0.sigmoid() }
    /// The hyperbolic tangent.
    public static let tanh = Activation(name: "tanh", fused: .tanh) { $0.tanh() }
    /// Softmax along the last axis.
    public static let softmax = Activation(name: "softmax") { $0.softmax(axis: -1) }
    /// The identity.
    public static let linear = Activation(name: "linear") { $0 }

    /// The exact GELU, `x · Φ(x)` (PyTorch's default; Keras' `approximate=False`).
    public static let gelu = Activation(name: "gelu") { $0.gelu() }
    /// `log(1 + eˣ)`.
    public static let softplus = Activation(name: "softplus") { $0.softplus() }
    /// `x · sigmoid(x)`; `swish` is the same function under its other name.
    public static let silu = Activation(name: "silu") { $0.silu() }
    /// `silu` under its other name.
    public static let swish = Activation(name: "silu") { $0.silu() }

    /// `x > 0 ? x : slope · x`
    public static func leakyRelu(slope: Float) -> Activation {
        Activation(name: "leaky_relu(\(slope))", fused: slope > 0 ? .leakyRelu(slope: slope) : nil) { $0.leakyRelu(slope: slope) }
    }

    /// `activation(product + bias)` for a layer: `product(f)` computes the product with its bias
    /// and `f` applied as it is stored; an activation without a fused form runs after it.
    static func applyToProduct(_ activation: Activation?, _ product: (FusedActivation?) -> Tensor) -> Tensor {
        guard let activation, activation.fused == nil else { return product(activation?.fused) }
        return activation(product(nil))
    }

    /// `activation(x + bias)`, fused into one pass where possible (Dense and Conv2D outputs).
    static func apply(_ activation: Activation?, to x: Tensor, bias: Tensor?) -> Tensor {
        if let bias, let fused = activation?.fused { return x.adding(bias, then: fused) }
        let shifted = bias.map { x + $0 } ?? x
        return activation.map { $0(shifted) } ?? shifted
    }
}

/// A layer that applies an activation function element-wise (softmax along the last axis).
public class ActivationLayer: Layer {
    /// The function applied.
    public let activation: Activation

    /// A layer applying `activation`.
    ///
    /// - Parameter activation: The element-wise function.
    public init(_ activation: Activation) { self.activation = activation }

    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] { inputShape }
    public override func forward(_ input: Tensor, training: Bool) -> Tensor { activation(input) }
}

/// `max(x, 0)` as a layer.
public final class ReLU: ActivationLayer {
    /// A ReLU layer.
    public init() { super.init(.relu) }
}

/// Leaky ReLU; the default slope is Keras' 0.3 (PyTorch uses 0.01).
public final class LeakyReLU: ActivationLayer {
    /// A leaky ReLU layer.
    ///
    /// - Parameter slope: The factor below zero.
    public init(slope: Float = 0.3) { super.init(.leakyRelu(slope: slope)) }
}

/// The logistic function as a layer.
public final class Sigmoid: ActivationLayer {
    /// A sigmoid layer.
    public init() { super.init(.sigmoid) }
}

/// The hyperbolic tangent as a layer.
public final class Tanh: ActivationLayer {
    /// A tanh layer.
    public init() { super.init(.tanh) }
}

/// Softmax along the last axis as a layer.
public final class Softmax: ActivationLayer {
    /// A softmax layer.
    public init() { super.init(.softmax) }
}
