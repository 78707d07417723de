import Foundation

/// The learning rate at a point of training, given the initial rate. `fit` applies it before
/// every step, at `epoch` = completed epochs plus the fraction of the current one.
///
/// Define your own with a closure:
///
///     extension LearningRateSchedule {
///         /// Linear warm-up over the first epoch, then constant.
///         static let warmUp = LearningRateSchedule(name: "warm_up") { epoch, initial in initial * Float(min(epoch, 1)) }
///     }
public struct LearningRateSchedule: Sendable, CustomStringConvertible {
    /// The name history and summaries show.
    public let name: String
    private let function: @Sendable (Double, Float) -> Float

    /// A schedule of your own.
    ///
    /// - Parameters:
    ///   - name: A name for logs.
    ///   - rate: The rate at a fractional epoch, given the initial rate.
    public init(name: String, _ rate: @escaping @Sendable (_ epoch: Double, _ initial: Float) -> Float) {
        self.name = name
        self.function = rate
    }

    /// The name.
    public var description: String { name }

    /// The rate at `epoch` (fractional: 1.5 is half-way through the second epoch).
    public func rate(epoch: Double, initial: Float) -> Float { function(epoch, initial) }

    /// The rate at the start of whole epoch `epoch`.
    public func rate(epoch: Int, initial: Float) -> Float { function(Double(epoch), initial) }

    /// The initial rate throughout.
    public static let constant = LearningRateSchedule(name: "constant") { _, initial in initial }

    /// Multiply by `gamma` every `stepSize` whole epochs (PyTorch StepLR).
    public static func step(stepSize: Int, gamma: Float) -> LearningRateSchedule {
        LearningRateSchedule(name: "step(\(stepSize), \(gamma))") { epoch, initial in
            initial * Foundation.pow(gamma, Float(Int(epoch) / Swift.max(stepSize, 1)))
        }
    }

    /// Multiply by `gamma` every whole epoch (PyTorch ExponentialLR).
    public static func exponential(gamma: Float) -> LearningRateSchedule {
        LearningRateSchedule(name: "exponential(\(gamma))") { epoch, initial in initial * Foundation.pow(gamma, Float(Int(epoch))) }
    }

    /// Cosine annealing from the initial rate to `minimum` over `period` epochs, updated every
    /// step (Keras CosineDecay with `decay_steps` = `period` epochs of steps): short runs end at
    /// `minimum` instead of stopping a third of the way down the curve.
    public static func cosine(period: Int, minimum: Float = 0) -> LearningRateSchedule {
        LearningRateSchedule(name: "cosine(\(period), \(minimum))") { epoch, initial in
            let progress = Float(Swift.min(epoch, Double(period)) / Double(Swift.max(period, 1)))
            return minimum + (initial - minimum) * (1 + Foundation.cos(Float.pi * progress)) / 2
        }
    }
}
