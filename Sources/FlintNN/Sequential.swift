import FlintCore

/// A stack of layers applied in order, built for a per-sample input shape on one device.
/// Building checks every layer against the shape it receives, so a model that cannot run
/// fails here, not in the middle of training.
public final class Sequential {
    public let layers: [Layer]
    public let inputShape: [Int]
    public let outputShape: [Int]
    public let device: Device
    /// Each layer's output shape, for the summary.
    public let layerShapes: [[Int]]
    let generator: RandomGenerator

    var optimizer: Optimizer?
    var loss: (any Loss)?
    var metrics: [Metric] = []

    public init(_ layers: [Layer], inputShape: [Int], device: Device = .current, seed: UInt64 = 0) throws {
        self.layers = layers
        self.inputShape = inputShape
        self.device = device
        self.generator = RandomGenerator(seed: seed)
        let context = BuildContext(device: device, generator: generator)
        var shape = inputShape
        var shapes: [[Int]] = []
        for layer in layers {
            shape = try layer.build(inputShape: shape, context: context)
            shapes.append(shape)
        }
        self.outputShape = shape
        self.layerShapes = shapes
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Runs the batch `input` (shape `[batch] + inputShape`) through every layer.
    public func callAsFunction(_ input: Tensor, training: Bool = false) -> Tensor {
        layers.reduce(input.to(device)) { $1.forward($0, training: training) }
    }

    /// The sum of every parameter's weight penalty, or nil when no layer has one.
    func regularizationLoss() -> Tensor? {
        let penalties = parameters.compactMap { p in p.regularizer.map { $0.penalty(p.value) } }
        guard var total = penalties.first else { return nil }
        for penalty in penalties.dropFirst() { total = total + penalty }
        return total
    }

    public func compile(optimizer: Optimizer, loss: any Loss, metrics: [Metric] = []) throws {
        try loss.validate(outputShape: outputShape, targetShape: lossTargetShape(loss), targetType: lossTargetType(loss))
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
    }

    private func lossTargetShape(_ loss: any Loss) -> [Int] { loss is SparseCategoricalCrossEntropy ? [] : outputShape }
    private func lossTargetType(_ loss: any Loss) -> DType { loss is SparseCategoricalCrossEntropy ? .int32 : .float32 }

    /// A Keras-style table of layers, output shapes and parameter counts.
    public var summary: String {
        var lines = ["Layer (type)                Output shape        Params"]
        lines.append(String(repeating: "=", count: 56))
        for (index, layer) in layers.enumerated() {
            let name = "\(layer.typeName.lowercased())_\(index) (\(layer.typeName))"
            let shape = "(None, " + layerShapes[index].map(String.init).joined(separator: ", ") + ")"
            let count = layer.parameters.reduce(0) { $0 + $1.count }
            lines.append(name.padding(toLength: 28, withPad: " ", startingAt: 0)
                         + shape.padding(toLength: 20, withPad: " ", startingAt: 0) + "\(count)")
        }
        lines.append(String(repeating: "=", count: 56))
        lines.append("Total params: \(parameterCount)  (input \(inputShape), device \(device))")
        return lines.joined(separator: "\n")
    }
}
