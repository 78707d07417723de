import FlintCore

/// Reshapes each sample to one axis, keeping the batch axis.
public final class Flatten: Layer {
    public init() {}

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        [inputShape.reduce(1, *)]
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        input.reshaped(to: [input.shape.first ?? 1, -1])
    }
}
