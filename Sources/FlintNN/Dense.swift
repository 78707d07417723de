import FlintCore

/// A fully connected layer: `activation(x · W + b)` with `W` of shape `[inputs, units]`
/// (Keras' kernel layout). Inputs of rank > 1 are transformed along their last axis.
public final class Dense: Layer {
    public let units: Int
    public let activation: Activation?
    public let useBias: Bool
    public let kernelInitializer: Initializer
    public let biasInitializer: Initializer
    public let kernelRegularizer: Regularizer?
    public private(set) var kernel: Parameter!
    public private(set) var bias: Parameter?

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
        Activation.apply(activation, to: input.matmul(kernel.value), bias: bias?.value)
    }

}
