import FlintCore

/// A stack of layers applied in order: the simplest kind of model. Building checks every layer
/// against the shape it receives, so a model that cannot run fails there, not in the middle of
/// training. Its parameters are named `layers.0.kernel`, `layers.0.bias`, … .
///
///     let model = try Sequential([Flatten(), Dense(128, activation: .relu), Dense(10)],
///                                inputShape: [28, 28], device: .cpu)
///
/// Without `inputShape` it is built later, by `build(inputShape:device:seed:)` or by the model
/// that holds it, so it can serve as a block inside other models.
public final class Sequential: Model {
    /// The layers, applied in order.
    public let layers: [Layer]

    /// An unbuilt stack.
    public init(_ layers: [Layer]) {
        self.layers = layers
    }

    /// A stack built for samples of `inputShape` on `device`, its weights initialised from `seed`.
    public convenience init(_ layers: [Layer], inputShape: [Int], device: Device = .current, seed: UInt64 = 0) throws {
        self.init(layers)
        try build(inputShape: inputShape, device: device, seed: seed)
    }

    /// Each layer's output shape, for the summary.
    public var layerShapes: [[Int]] { layers.map { $0.outputShape ?? [] } }

    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        begin([inputShape], context: context)
        var shape = inputShape
        for layer in layers { shape = try layer.build(inputShape: shape, context: context) }
        return shape
    }

    public override func forward(_ input: Tensor, training: Bool) -> Tensor {
        var x = input, index = layers.startIndex
        while index < layers.endIndex {
            // A convolution and the max pooling after it run as one op, which need not store the
            // convolution's output (the layers are built: building the stack builds them).
            if let convolution = layers[index] as? Conv2D, index + 1 < layers.endIndex,
               let pooling = layers[index + 1] as? MaxPool2D, convolution.isBuilt, pooling.isBuilt {
                x = convolution.forward(x, training: training, pooledBy: pooling)
                index += 2
                continue
            }
            x = layers[index](x, training: training)
            index += 1
        }
        return x
    }

    override func summaryRows() -> [(name: String, shape: [Int]?, count: Int)] {
        layers.enumerated().map { index, layer in
            ("\(layer.typeName.lowercased())_\(index) (\(layer.typeName))", layer.outputShape, layer.parameterCount)
        }
    }
}
