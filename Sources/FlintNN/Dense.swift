import FlintCore

/// A fully connected layer: `activation(x · W + b)` with `W` of shape `[inputs, units]`
/// (Keras' kernel layout). Inputs of rank > 1 are transformed along their last axis.
public final class Dense: Layer {
    /// Output features.
    public let units: Int
    /// Applied to the output, fused with the bias where possible; nil for none.
    public let activation: Activation?
    /// Whether a bias per unit is added.
    public let useBias: Bool
    /// How the kernel starts.
    public let kernelInitializer: Initializer
    /// How the bias starts.
    public let biasInitializer: Initializer
    /// A penalty on the kernel added to the loss; nil for none.
    public let kernelRegularizer: Regularizer?
    /// The weights, `[inputs, units]`; set when the layer is built.
    public private(set) var kernel: Parameter!
    /// The bias, `[units]`; nil without `useBias`.
    public private(set) var bias: Parameter?

    /// A fully connected layer; the input size comes from the first input it sees.
    ///
    /// - Parameters:
    ///   - units: Output features.
    ///   - activation: Applied to the output; nil for none.
    ///   - useBias: Whether to add a bias per unit.
    ///   - kernelInitializer: How the kernel starts (Glorot uniform by default).
    ///   - biasInitializer: How the bias starts (zeros by default).
    ///   - kernelRegularizer: A penalty on the kernel; nil for none.
    public init(
        _ units: Int, activation: Activation? = nil, useBias: Bool = true,
        kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
        kernelRegularizer: Regularizer? = nil
    ) {
        ensure(units > 0, "Dense: units must be positive, got \(units)")
        self.units = units
        self.activation = activation
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
        self.kernelRegularizer = kernelRegularizer
    }

    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard let inputs = inputShape.last, inputs > 0 else {
            throw ModelError.incompatibleShape(layer: "Dense(\(units))", inputShape: inputShape, reason: "needs a non-empty last axis")
        }
        kernel = Parameter(kernelInitializer.make([inputs, units], fanIn: inputs, fanOut: units,
                                                  generator: context.generator, on: context.device),
                           name: "kernel", regularizer: kernelRegularizer)
        bias = useBias ? Parameter(biasInitializer.make([units], fanIn: inputs, fanOut: units,
                                                        generator: context.generator, on: context.device), name: "bias") : nil
        return Array(inputShape.dropLast()) + [units]
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        Activation.applyToProduct(activation) { input.matmul(kernel.value, adding: bias?.value, then: $0) }
    }

}
