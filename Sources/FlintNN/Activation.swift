import FlintCore

/// Activation functions, usable as a layer argument (`Dense(128, activation: .relu)`) or as
/// layers of their own (`ReLU()`, `Softmax()`).
public enum Activation: Sendable, Hashable, CustomStringConvertible {
    case relu
    case leakyRelu(slope: Float)
    case sigmoid
    case tanh
    case softmax
    case linear

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .relu: x.relu()
        case .leakyRelu(let slope): x.leakyRelu(slope: slope)
        case .sigmoid: x.sigmoid()
        case .tanh: x.tanh()
        case .softmax: x.softmax(axis: -1)
        case .linear: x
        }
    }

    /// The same function as a fusable activation, when it is one.
    var fused: FusedActivation? {
        switch self {
        case .relu: .relu
        case .sigmoid: .sigmoid
        case .tanh: .tanh
        case .leakyRelu(let slope) where slope > 0: .leakyRelu(slope: slope)
        default: nil
        }
    }

    /// `activation(x + bias)`, fused into one pass where possible (Dense and Conv2D outputs).
    static func apply(_ activation: Activation?, to x: Tensor, bias: Tensor?) -> Tensor {
        if let bias, let fused = activation?.fused { return x.adding(bias, then: fused) }
        let shifted = bias.map { x + $0 } ?? x
        return activation.map { $0(shifted) } ?? shifted
    }

    public var description: String {
        switch self {
        case .relu: "relu"
        case .leakyRelu(let slope): "leaky_relu(\(slope))"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .softmax: "softmax"
        case .linear: "linear"
        }
    }
}

/// A layer that applies an activation function element-wise (softmax along the last axis).
public class ActivationLayer: Layer {
    public let activation: Activation

    public init(_ activation: Activation) { self.activation = activation }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] { inputShape }
    public func forward(_ input: Tensor, training: Bool) -> Tensor { activation(input) }
}

public final class ReLU: ActivationLayer {
    public init() { super.init(.relu) }
}

/// Leaky ReLU; the default slope is Keras' 0.3 (PyTorch uses 0.01).
public final class LeakyReLU: ActivationLayer {
    public init(slope: Float = 0.3) { super.init(.leakyRelu(slope: slope)) }
}

public final class Sigmoid: ActivationLayer {
    public init() { super.init(.sigmoid) }
}

public final class Tanh: ActivationLayer {
    public init() { super.init(.tanh) }
}

public final class Softmax: ActivationLayer {
    public init() { super.init(.softmax) }
}
