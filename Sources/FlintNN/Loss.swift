import FlintCore
import FlintData

/// A training objective: the mean over the batch of a per-sample loss.
public protocol Loss: Sendable {
    /// The name history and progress show (`loss`), in Keras' words (`binary_crossentropy`).
    var name: String { get }
    /// Checks that `targets` of per-sample shape `targetShape` fit outputs of `outputShape`.
    func validate(outputShape: [Int], targetShape: [Int], targetType: DType) throws
    /// Checks a batch's target values before they are uploaded (labels within the classes, say);
    /// `fit` and `evaluate` call it on the thread that assembles batches. The default accepts all.
    func checkTargets(_ targets: HostArray, outputShape: [Int]) throws
    /// The loss of a batch: a scalar, the mean over samples.
    ///
    /// - Parameters:
    ///   - predictions: The model's outputs for the batch.
    ///   - targets: What they should have been.
    /// - Returns: A rank-0 tensor on the predictions' device.
    func callAsFunction(_ predictions: Tensor, _ targets: Tensor) -> Tensor
}

extension Loss {
    /// Accepts any targets.
    public func checkTargets(_ targets: HostArray, outputShape: [Int]) throws {}
}

/// `mean((p - y)²)`
public struct MeanSquaredError: Loss {
    /// Mean squared error.
    public init() {}
    /// `mean_squared_error`.
    public var name: String { "mean_squared_error" }

    /// Checks that targets of `targetShape` and `targetType` fit outputs of `outputShape`.
    ///
    /// - Throws: `ModelError.targetMismatch`, naming both shapes.
    public func validate(outputShape: [Int], targetShape: [Int], targetType: DType) throws {
        guard targetType == .float32, targetShape == outputShape else {
            throw ModelError.targetMismatch(reason: "MSE needs float32 targets of shape \(outputShape), got \(targetType) \(targetShape)")
        }
    }

    /// The mean squared error of a batch, averaged over samples.
    public func callAsFunction(_ predictions: Tensor, _ targets: Tensor) -> Tensor {
        (predictions - targets).square().mean()
    }
}

/// Binary cross-entropy on probabilities or, with `fromLogits`, on logits via the stable form
/// `max(z, 0) - z·y + log(1 + exp(-|z|))`. Label smoothing ε trains against `y·(1-ε) + ε/2` (Keras).
public struct BinaryCrossEntropy: Loss {
    /// Whether predictions are logits (more stable) rather than probabilities.
    public let fromLogits: Bool
    /// The label smoothing ε in [0, 1); 0 for none.
    public let labelSmoothing: Float
    /// The loss with the given settings.
    ///
    /// - Parameters:
    ///   - fromLogits: Whether predictions are logits rather than probabilities.
    ///   - labelSmoothing: ε in [0, 1); 0 for none.
    public init(fromLogits: Bool = false, labelSmoothing: Float = 0) {
        self.fromLogits = fromLogits
        self.labelSmoothing = labelSmoothing
    }
    /// `binary_crossentropy`.
    public var name: String { "binary_crossentropy" }

    /// Checks that targets of `targetShape` and `targetType` fit outputs of `outputShape`.
    ///
    /// - Throws: `ModelError.targetMismatch`, naming both shapes.
    public func validate(outputShape: [Int], targetShape: [Int], targetType: DType) throws {
        try checkLabelSmoothing(labelSmoothing)
        guard targetType == .float32, targetShape == outputShape else {
            throw ModelError.targetMismatch(reason: "binary cross-entropy needs float32 targets of shape \(outputShape), got \(targetType) \(targetShape)")
        }
    }

    /// The binary cross-entropy of a batch, averaged over samples.
    public func callAsFunction(_ predictions: Tensor, _ rawTargets: Tensor) -> Tensor {
        let targets = labelSmoothing == 0 ? rawTargets : rawTargets * (1 - labelSmoothing) + labelSmoothing / 2
        if fromLogits {
            let z = predictions
            return (z.relu() - z * targets + (1 + (-z.abs()).exp()).log()).mean()
        }
        let p = predictions.clamped(min: 1e-7, max: 1 - 1e-7)
        return -(targets * p.log() + (1 - targets) * (1 - p).log()).mean()
    }
}

/// Cross-entropy against one-hot (or soft) targets over the last axis. Label smoothing ε trains
/// against `y·(1-ε) + ε/classes` (Keras, PyTorch).
public struct CategoricalCrossEntropy: Loss {
    /// Whether predictions are logits (more stable) rather than probabilities.
    public let fromLogits: Bool
    /// The label smoothing ε in [0, 1); 0 for none.
    public let labelSmoothing: Float
    /// The loss with the given settings.
    ///
    /// - Parameters:
    ///   - fromLogits: Whether predictions are logits rather than probabilities.
    ///   - labelSmoothing: ε in [0, 1); 0 for none.
    public init(fromLogits: Bool = false, labelSmoothing: Float = 0) {
        self.fromLogits = fromLogits
        self.labelSmoothing = labelSmoothing
    }
    /// `categorical_crossentropy`.
    public var name: String { "categorical_crossentropy" }

    /// Checks that targets of `targetShape` and `targetType` fit outputs of `outputShape`.
    ///
    /// - Throws: `ModelError.targetMismatch`, naming both shapes.
    public func validate(outputShape: [Int], targetShape: [Int], targetType: DType) throws {
        try checkLabelSmoothing(labelSmoothing)
        guard targetType == .float32, targetShape == outputShape else {
            throw ModelError.targetMismatch(reason: "categorical cross-entropy needs one-hot float32 targets of shape \(outputShape), got \(targetType) \(targetShape)")
        }
    }

    /// The categorical cross-entropy of a batch, averaged over samples.
    public func callAsFunction(_ predictions: Tensor, _ targets: Tensor) -> Tensor {
        let logProbabilities = fromLogits ? predictions.logSoftmax(axis: -1) : predictions.clamped(min: 1e-7, max: 1).log()
        let classes = Float(predictions.shape.last ?? 1)
        let smoothed = labelSmoothing == 0 ? targets : targets * (1 - labelSmoothing) + labelSmoothing / classes
        return -(smoothed * logProbabilities).sum(axis: -1).mean()
    }
}

/// Cross-entropy against integer class labels (int32, one per sample). Label smoothing ε trains
/// against the one-hot label mixed with the uniform distribution, `(1-ε)·onehot + ε/classes`
/// (PyTorch's `label_smoothing`), without building the one-hot matrix.
public struct SparseCategoricalCrossEntropy: Loss {
    /// Whether predictions are logits (more stable) rather than probabilities.
    public let fromLogits: Bool
    /// The label smoothing ε in [0, 1); 0 for none.
    public let labelSmoothing: Float
    /// The loss with the given settings.
    ///
    /// - Parameters:
    ///   - fromLogits: Whether predictions are logits rather than probabilities.
    ///   - labelSmoothing: ε in [0, 1); 0 for none.
    public init(fromLogits: Bool = false, labelSmoothing: Float = 0) {
        self.fromLogits = fromLogits
        self.labelSmoothing = labelSmoothing
    }
    /// `sparse_categorical_crossentropy`.
    public var name: String { "sparse_categorical_crossentropy" }

    /// Checks that targets of `targetShape` and `targetType` fit outputs of `outputShape`.
    ///
    /// - Throws: `ModelError.targetMismatch`, naming both shapes.
    public func validate(outputShape: [Int], targetShape: [Int], targetType: DType) throws {
        try checkLabelSmoothing(labelSmoothing)
        guard outputShape.count == 1, targetType == .int32, targetShape.isEmpty || targetShape == [1] else {
            throw ModelError.targetMismatch(reason: "sparse categorical cross-entropy needs outputs of shape [classes] and one int32 label per sample, got outputs \(outputShape) and targets \(targetType) \(targetShape)")
        }
    }

    /// A label outside the classes would be gathered as nothing at all (PyTorch and Keras raise).
    public func checkTargets(_ targets: HostArray, outputShape: [Int]) throws {
        guard let classes = outputShape.last else { return }
        if let label = targets.int32s.first(where: { $0 < 0 || Int($0) >= classes }) {
            throw ModelError.targetMismatch(reason: "label \(label) is outside the model's \(classes) classes (0…\(classes - 1))")
        }
    }

    /// The sparse categorical cross-entropy of a batch, averaged over samples.
    public func callAsFunction(_ predictions: Tensor, _ targets: Tensor) -> Tensor {
        let logProbabilities = fromLogits ? predictions.logSoftmax(axis: -1) : predictions.clamped(min: 1e-7, max: 1).log()
        let labels = targets.reshaped(to: [targets.shape.first ?? 0, 1])
        let labelTerm = logProbabilities.gather(axis: 1, indices: labels).mean()
        guard labelSmoothing > 0 else { return -labelTerm }
        // The uniform part is ε times log p averaged over classes and batch alike.
        return -(labelTerm * (1 - labelSmoothing) + logProbabilities.mean() * labelSmoothing)
    }
}

/// Label smoothing outside [0, 1) would train towards a distribution that is not one.
private func checkLabelSmoothing(_ value: Float) throws {
    guard value >= 0 && value < 1 else {
        throw ModelError.invalidArgument("labelSmoothing must be in [0, 1), got \(value)")
    }
}
