import FlintCore

/// Quantities reported during training besides the loss. Each gives a per-batch sum that the
/// loop accumulates on the device and reads back only when it reports.
public enum Metric: String, Sendable, Hashable, CaseIterable {
    /// Fraction of correct predictions: argmax for several outputs (targets as labels or
    /// one-hot), a 0.5 threshold for a single sigmoid output.
    case accuracy
    /// Mean absolute error.
    case meanAbsoluteError = "mae"

    public var name: String { rawValue }

    /// Sum over the batch (a rank-0 tensor); divide by the sample count for the mean.
    func batchSum(_ predictions: Tensor, _ targets: Tensor) -> Tensor {
        switch self {
        case .accuracy:
            let classes = predictions.shape.last ?? 1
            if classes == 1 {
                return ((predictions .> 0.5) .== (targets.dtype == .int32 ? targets.cast(to: .float32) : targets)).sum()
            }
            let predicted = predictions.argmax(axis: -1).cast(to: .float32)
            let truth = targets.dtype == .int32 ? targets.reshaped(to: predicted.shape).cast(to: .float32)
                                                : targets.argmax(axis: -1).cast(to: .float32)
            return (predicted .== truth).sum()
        case .meanAbsoluteError:
            let perSample = predictions.count / Swift.max(predictions.shape.first ?? 1, 1)
            return (predictions - targets).abs().sum() / Float(Swift.max(perSample, 1))
        }
    }
}
