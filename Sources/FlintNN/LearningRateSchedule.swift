import Foundation

/// The learning rate at a point of training, given the initial rate. `fit` applies it before
/// every step, at `epoch` = completed epochs plus the fraction of the current one.
public enum LearningRateSchedule: Sendable, Hashable {
    case constant
    /// Multiply by `gamma` every `stepSize` whole epochs (PyTorch StepLR).
    case step(stepSize: Int, gamma: Float)
    /// Multiply by `gamma` every whole epoch (PyTorch ExponentialLR).
    case exponential(gamma: Float)
    /// Cosine annealing from the initial rate to `minimum` over `period` epochs, updated every
    /// step (Keras CosineDecay with `decay_steps` = `period` epochs of steps): short runs end at
    /// `minimum` instead of stopping a third of the way down the curve.
    case cosine(period: Int, minimum: Float = 0)

    /// The rate at the start of whole epoch `epoch`.
    public func rate(epoch: Int, initial: Float) -> Float { rate(epoch: Double(epoch), initial: initial) }

    public func rate(epoch: Double, initial: Float) -> Float {
        switch self {
        case .constant:
            return initial
        case .step(let size, let gamma):
            return initial * Foundation.pow(gamma, Float(Int(epoch) / Swift.max(size, 1)))
        case .exponential(let gamma):
            return initial * Foundation.pow(gamma, Float(Int(epoch)))
        case .cosine(let period, let minimum):
            let progress = Float(Swift.min(epoch, Double(period)) / Double(Swift.max(period, 1)))
            return minimum + (initial - minimum) * (1 + Foundation.cos(Float.pi * progress)) / 2
        }
    }
}
