import FlintCore

/// A lookup table from integer indices to dense vectors, Keras' `Embedding`: int32 indices of
/// any shape (`[batch, time]` usually) become `[batch, time, outputDimension]`. The gradient
/// reaches the table through `gather`'s adjoint, a scatter-add, so repeated indices accumulate.
/// Float inputs are truncated to integers; an index outside `0..<inputDimension` reads zeros.
///
/// With `maskZero`, index 0 is padding and its vectors are zeros (no gradient reaches row 0), so
/// a following recurrent layer with `maskValue: 0` skips those steps.
public final class Embedding: Layer {
    /// The number of indices, the table's rows.
    public let inputDimension: Int
    /// The vector length, the table's columns.
    public let outputDimension: Int
    /// Whether index 0 is padding, read as zeros.
    public let maskZero: Bool
    /// How the table starts.
    public let embeddingsInitializer: Initializer
    /// A penalty on the table added to the loss; nil for none.
    public let embeddingsRegularizer: Regularizer?
    /// `[inputDimension, outputDimension]`.
    public private(set) var embeddings: Parameter!

    /// An embedding table.
    ///
    /// - Parameters:
    ///   - inputDimension: The number of indices.
    ///   - outputDimension: The vector length.
    ///   - maskZero: Whether index 0 is padding.
    ///   - embeddingsInitializer: How the table starts (uniform in ±0.05 by default).
    ///   - embeddingsRegularizer: A penalty on the table; nil for none.
    public init(
        _ inputDimension: Int, _ outputDimension: Int, maskZero: Bool = false,
        embeddingsInitializer: Initializer = .uniform(low: -0.05, high: 0.05), embeddingsRegularizer: Regularizer? = nil
    ) {
        ensure(inputDimension > 0 && outputDimension > 0,
                     "Embedding: dimensions must be positive, got \(inputDimension) and \(outputDimension)")
        self.inputDimension = inputDimension
        self.outputDimension = outputDimension
        self.maskZero = maskZero
        self.embeddingsInitializer = embeddingsInitializer
        self.embeddingsRegularizer = embeddingsRegularizer
    }

    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError.incompatibleShape(layer: "Embedding(\(inputDimension), \(outputDimension))", inputShape: inputShape,
                                               reason: "needs non-empty samples of indices")
        }
        embeddings = Parameter(embeddingsInitializer.make([inputDimension, outputDimension], fanIn: inputDimension,
                                                          fanOut: outputDimension, generator: context.generator,
                                                          on: context.device),
                               name: "embeddings", regularizer: embeddingsRegularizer)
        return inputShape + [outputDimension]
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        let indices = input.detached().cast(to: .int32).to(embeddings.value.device)
        let rows = embeddings.value.indexSelect(axis: 0, indices: indices.flattened())
        let vectors = rows.reshaped(to: input.shape + [outputDimension])
        guard maskZero else { return vectors }
        let keep = indices.cast(to: .float32) .!= 0
        return vectors * keep.unsqueezed(axis: input.rank)
    }

}
