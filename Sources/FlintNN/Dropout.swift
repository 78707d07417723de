import FlintCore

/// Inverted dropout: in training, zeroes each element with probability `rate` and scales the
/// rest by `1 / (1 - rate)`; in evaluation it is the identity.
public final class Dropout: Layer {
    /// The probability of zeroing an element in training.
    public let rate: Float
    private var generator: RandomGenerator?

    /// Dropout at `rate`.
    ///
    /// - Parameter rate: In [0, 1).
    public init(_ rate: Float) {
        ensure(rate >= 0 && rate < 1, "Dropout: rate must be in [0, 1), got \(rate)")
        self.rate = rate
    }

    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        generator = context.generator
        return inputShape
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        guard training, rate > 0 else { return input }
        let generator = generator ?? RandomGenerator(seed: 0)
        return input.dropout(rate: rate, generator: generator)
    }
}
