import Foundation

/// The learning rate for each epoch, given the initial rate. Applied by `fit` at each epoch start.
public enum LearningRateSchedule: Sendable, Hashable {
    case constant
    /// Multiply by `gamma` every `stepSize` epochs (PyTorch StepLR).
    case step(stepSize: Int, gamma: Float)
    /// Multiply by `gamma` every epoch (PyTorch ExponentialLR).
    case exponential(gamma: Float)
    /// Cosine annealing from the initial rate to `minimum` over `period` epochs (PyTorch CosineAnnealingLR).
    case cosine(period: Int, minimum: Float = 0)

    public func rate(epoch: Int, initial: Float) -> Float {
        switch self {
        case .constant:
            return initial
        case .step(let size, let gamma):
            return initial * Foundation.pow(gamma, Float(epoch / Swift.max(size, 1)))
        case .exponential(let gamma):
            return initial * Foundation.pow(gamma, Float(epoch))
        case .cosine(let period, let minimum):
            let progress = Float(Swift.min(epoch, period)) / Float(Swift.max(period, 1))
            return minimum + (initial - minimum) * (1 + Foundation.cos(Float.pi * progress)) / 2
        }
    }
}
