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
        let window = WindowSize(kernel: kernelSize, strides: strides, padding: padding, dilation: dilation)
        guard let geometry = window.output(height: inputShape[0], width: inputShape[1]) else {
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

/// Output size of a sliding window, computed the same way as the tensor ops, so layers can
/// check shapes when the model is built.
struct WindowSize {
    let kernel: (Int, Int)
    let strides: (Int, Int)
    let padding: Padding
    let dilation: (Int, Int)

    func output(height: Int, width: Int) -> (outHeight: Int, outWidth: Int)? {
        func size(_ n: Int, _ k: Int, _ s: Int, _ d: Int, _ before: Int, _ after: Int) -> Int? {
            let span = d * (k - 1) + 1
            guard k > 0, s > 0, d > 0, n + before + after >= span else { return nil }
            return (n + before + after - span) / s + 1
        }
        switch padding {
        case .valid:
            guard let h = size(height, kernel.0, strides.0, dilation.0, 0, 0),
                  let w = size(width, kernel.1, strides.1, dilation.1, 0, 0) else { return nil }
            return (h, w)
        case .same:
            guard strides.0 > 0, strides.1 > 0 else { return nil }
            return ((height + strides.0 - 1) / strides.0, (width + strides.1 - 1) / strides.1)
        case .explicit(let t, let b, let l, let r):
            guard let h = size(height, kernel.0, strides.0, dilation.0, t, b),
                  let w = size(width, kernel.1, strides.1, dilation.1, l, r) else { return nil }
            return (h, w)
        }
    }
}
