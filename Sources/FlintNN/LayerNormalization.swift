import FlintCore

/// Layer normalisation over the last (feature) axis of each sample, as Keras and PyTorch define
/// it: `(x - mean) / √(variance + ε) · γ + β`, with the mean and (biased) variance of each
/// sample's features, the same in training and evaluation. ε is Keras' 1e-3 by default
/// (PyTorch's `LayerNorm` uses 1e-5).
public final class LayerNormalization: Layer {
    /// Added to the variance before the square root.
    public let epsilon: Float
    /// Whether a learned shift β is added.
    public let center: Bool
    /// Whether a learned scale γ multiplies.
    public let scale: Bool
    /// `[features]`, or nil without `scale`.
    public private(set) var gamma: Parameter?
    /// `[features]`, or nil without `center`.
    public private(set) var beta: Parameter?

    /// Layer normalisation.
    ///
    /// - Parameters:
    ///   - epsilon: Added to the variance; Keras' 1e-3 by default.
    ///   - center: Whether to learn a shift β.
    ///   - scale: Whether to learn a scale γ.
    public init(epsilon: Float = 1e-3, center: Bool = true, scale: Bool = true) {
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
    }

    public override var typeName: String { "LayerNormalization" }

    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard let features = inputShape.last, features > 0 else {
            throw ModelError.incompatibleShape(layer: typeName, inputShape: inputShape, reason: "needs a non-empty feature axis")
        }
        gamma = scale ? Parameter(.ones([features], on: context.device), name: "gamma") : nil
        beta = center ? Parameter(.zeros([features], on: context.device), name: "beta") : nil
        return inputShape
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        let axis = input.rank - 1
        let centered = input - input.mean(axis: axis, keepDims: true)
        var output = centered * (centered.square().mean(axis: axis, keepDims: true) + epsilon).rsqrt()
        if let gamma { output = output * gamma.value }
        if let beta { output = output + beta.value }
        return output
    }
}
