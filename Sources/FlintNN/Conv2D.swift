import FlintCore

/// A 2-D convolution over `(height, width, channels)` samples (Keras' layout), with a kernel
/// of shape `[kernelHeight, kernelWidth, inChannels, filters]`.
public final class Conv2D: Layer {
    public let filters: Int
    public let kernelSize: (Int, Int)
    public let strides: (Int, Int)
    public let padding: Padding
    public let dilation: (Int, Int)
    public let activation: Activation?
    public let useBias: Bool
    public let kernelInitializer: Initializer
    public let biasInitializer: Initializer
    public let kernelRegularizer: Regularizer?
    public private(set) var kernel: Parameter!
    public private(set) var bias: Parameter?

    public init(
        _ filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
        dilation: (Int, Int) = (1, 1), activation: Activation? = nil, useBias: Bool = true,
        kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
        kernelRegularizer: Regularizer? = nil
    ) {
        ensure(filters > 0, "Conv2D: filters must be positive, got \(filters)")
        self.filters = filters
        self.kernelSize = kernelSize
        self.strides = strides
        self.padding = padding
        self.dilation = dilation
        self.activation = activation
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
        self.kernelRegularizer = kernelRegularizer
    }

    /// A square kernel: `Conv2D(32, kernelSize: 3)`.
    public convenience init(
        _ filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid, activation: Activation? = nil,
        kernelInitializer: Initializer = .glorotUniform, kernelRegularizer: Regularizer? = nil
    ) {
        self.init(filters, kernelSize: (kernelSize, kernelSize), strides: (strides, strides), padding: padding,
                  activation: activation, kernelInitializer: kernelInitializer, kernelRegularizer: kernelRegularizer)
    }

    public override var typeName: String { "Conv2D" }

    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError.incompatibleShape(layer: "Conv2D(\(filters))", inputShape: inputShape,
                                               reason: "needs (height, width, channels) samples")
        }
        let channels = inputShape[2]
        let receptive = kernelSize.0 * kernelSize.1
        guard let geometry = WindowPlacement(height: inputShape[0], width: inputShape[1], kernel: kernelSize,
                                             strides: strides, dilation: dilation, padding: padding) else {
            throw ModelError.incompatibleShape(layer: "Conv2D(\(filters))", inputShape: inputShape,
                                               reason: "a \(kernelSize) kernel does not fit with \(padding) padding")
        }
        kernel = Parameter(kernelInitializer.make([kernelSize.0, kernelSize.1, channels, filters],
                                                  fanIn: receptive * channels, fanOut: receptive * filters,
                                                  generator: context.generator, on: context.device),
                           name: "kernel", regularizer: kernelRegularizer)
        bias = useBias ? Parameter(biasInitializer.make([filters], fanIn: receptive * channels, fanOut: receptive * filters,
                                                        generator: context.generator, on: context.device), name: "bias") : nil
        return [geometry.outHeight, geometry.outWidth, filters]
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        Activation.apply(activation, to: input.conv2d(kernel.value, strides: strides, padding: padding, dilation: dilation),
                         bias: bias?.value)
    }

}
