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

    /// A Keras-style table of layers, output shapes and parameter counts; the columns widen
    /// to fit long layer names.
    public var summary: String {
        let rows = layers.enumerated().map { index, layer in
            ("\(layer.typeName.lowercased())_\(index) (\(layer.typeName))",
             "(None, " + layerShapes[index].map(String.init).joined(separator: ", ") + ")",
             String(layer.parameters.reduce(0) { $0 + $1.count }))
        }
        let nameWidth = Swift.max(28, (rows.map(\.0.count).max() ?? 0) + 2)
        let shapeWidth = Swift.max(20, (rows.map(\.1.count).max() ?? 0) + 2)
        func line(_ name: String, _ shape: String, _ count: String) -> String {
            name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                + shape.padding(toLength: shapeWidth, withPad: " ", startingAt: 0) + count
        }
        let rule = String(repeating: "=", count: nameWidth + shapeWidth + 8)
        var lines = [line("Layer (type)", "Output shape", "Params"), rule]
        lines += rows.map { line($0.0, $0.1, $0.2) }
        lines.append(rule)
        lines.append("Total params: \(parameterCount)  (input \(inputShape), device \(device))")
        return lines.joined(separator: "\n")
    }
}
