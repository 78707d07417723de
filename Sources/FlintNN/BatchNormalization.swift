import FlintCore

/// Batch normalisation over the last (feature or channel) axis, as Keras defines it: in
/// training, normalise with the batch's mean and (biased) variance and update the moving
/// statistics as `moving = momentum · moving + (1 - momentum) · batch`; in evaluation,
/// normalise with the moving statistics. Works after Dense (`[batch, features]`) and Conv2D
/// (`[batch, height, width, channels]`) layers.
public final class BatchNormalization: Layer {
    /// The weight of the old moving statistics in each update (Keras' convention).
    public let momentum: Float
    /// Added to the variance before the square root.
    public let epsilon: Float
    /// The learned scale, `[features]`.
    public private(set) var gamma: Parameter!
    /// The learned shift, `[features]`.
    public private(set) var beta: Parameter!
    /// The moving mean used in evaluation (state, not trained).
    public private(set) var movingMean: Parameter!
    /// The moving variance used in evaluation (state, not trained).
    public private(set) var movingVariance: Parameter!

    /// Keras' defaults (PyTorch's `momentum=0.1` is `momentum: 0.9` here; its `eps` is 1e-5).
    public init(momentum: Float = 0.99, epsilon: Float = 1e-3) {
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public override var typeName: String { "BatchNormalization" }

    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard let features = inputShape.last, features > 0 else {
            throw ModelError.incompatibleShape(layer: typeName, inputShape: inputShape, reason: "needs a feature axis")
        }
        gamma = Parameter(.ones([features], on: context.device), name: "gamma")
        beta = Parameter(.zeros([features], on: context.device), name: "beta")
        movingMean = Parameter(.zeros([features], on: context.device), name: "moving_mean", trainable: false)
        movingVariance = Parameter(.ones([features], on: context.device), name: "moving_variance", trainable: false)
        return inputShape
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        let axes = Array(0..<(input.rank - 1))
        let normalized: Tensor
        if training {
            let mean = input.mean(axes: axes)
            let centered = input - mean
            let variance = centered.square().mean(axes: axes)
            normalized = centered * (variance + epsilon).rsqrt()
            Tensor.withoutGrad {
                movingMean.assign(movingMean.value * momentum + mean.detached() * (1 - momentum))
                movingVariance.assign(movingVariance.value * momentum + variance.detached() * (1 - momentum))
            }
        } else {
            normalized = (input - movingMean.value.detached()) * (movingVariance.value.detached() + epsilon).rsqrt()
        }
        return normalized * gamma.value + beta.value
    }

}
