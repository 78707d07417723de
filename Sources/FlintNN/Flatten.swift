import FlintCore

/// Reshapes each sample to one axis, keeping the batch axis.
public final class Flatten: Layer {
    public override init() {}

    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        [inputShape.reduce(1, *)]
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        input.reshaped(to: [input.shape.first ?? 1, -1])
    }
}
