import FlintCore

/// A 2-D convolution over `(height, width, channels)` samples (Keras' layout), with a kernel
/// of shape `[kernelHeight, kernelWidth, inChannels, filters]`.
public final class Conv2D: Layer {
    /// Output channels.
    public let filters: Int
    /// The window's height and width.
    public let kernelSize: (Int, Int)
    /// Steps between window positions, down and across.
    public let strides: (Int, Int)
    /// How the border is treated.
    public let padding: Padding
    /// Distance between the window's taps (1: adjacent).
    public let dilation: (Int, Int)
    /// Applied to the output, fused with the bias where possible; nil for none.
    public let activation: Activation?
    /// Whether a bias per filter is added.
    public let useBias: Bool
    /// How the kernel starts.
    public let kernelInitializer: Initializer
    /// How the bias starts.
    public let biasInitializer: Initializer
    /// A penalty on the kernel added to the loss; nil for none.
    public let kernelRegularizer: Regularizer?
    /// The kernel, `[kernelHeight, kernelWidth, inChannels, filters]`; set when the layer is built.
    public private(set) var kernel: Parameter!
    /// The bias, `[filters]`; nil without `useBias`.
    public private(set) var bias: Parameter?

    /// A convolution layer; the input channels come from the first input it sees.
    ///
    /// - Parameters:
    ///   - filters: Output channels.
    ///   - kernelSize: The window's height and width.
    ///   - strides: Steps between window positions.
    ///   - padding: `.valid` (only whole windows), `.same` (`ceil(size / stride)` positions) or explicit.
    ///   - dilation: Distance between taps.
    ///   - activation: Applied to the output; nil for none.
    ///   - useBias: Whether to add a bias per filter.
    ///   - kernelInitializer: How the kernel starts (Glorot uniform by default).
    ///   - biasInitializer: How the bias starts (zeros by default).
    ///   - kernelRegularizer: A penalty on the kernel; nil for none.
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
        Activation.applyToProduct(activation) {
            input.conv2d(kernel.value, strides: strides, padding: padding, dilation: dilation, adding: bias?.value, then: $0)
        }
    }

    /// `pooling(forward(input))` in one op where the activation is a ReLU or none (see
    /// `Tensor.conv2d(_:…:maxPooling:)`): `Sequential` runs a Conv2D followed by a MaxPool2D so.
    func forward(_ input: Tensor, training: Bool, pooledBy pooling: MaxPool2D) -> Tensor {
        guard activation == nil || activation?.fused == .relu else {
            return pooling.forward(forward(input, training: training), training: training)
        }
        return input.conv2d(kernel.value, strides: strides, padding: padding, dilation: dilation, adding: bias?.value,
                            then: activation?.fused,
                            maxPooling: MaxPooling(size: pooling.poolSize, strides: pooling.strides, padding: pooling.padding))
    }

}
