import FlintCore

/// A layer that can be trained on its own: `compile`, `fit`, `evaluate`, `predict`, `summary`.
///
/// Subclass it for any architecture, holding layers (and other models) as stored properties, and
/// override `forward(_:training:)` — taking one tensor, or `[Tensor]` for several inputs:
///
///     final class TwoTower: Model {
///         let image = Sequential([Conv2D(16, kernelSize: 3, activation: .relu), Flatten()])
///         let features = Dense(16, activation: .relu)
///         let head = Dense(10)
///         override func forward(_ inputs: [Tensor], training: Bool) -> Tensor {
///             head(Concatenate()([image(inputs[0], training: training), features(inputs[1])]))
///         }
///     }
///     let model = TwoTower()
///     try model.build(inputShapes: [[28, 28, 1], [4]], device: .cpu, seed: 0)
///
/// A model's default training step is "loss of the outputs against the targets"; override
/// `trainStep(_:logs:)` for other objectives (see `GAN`-style models in docs/models.md).
open class Model: Layer {
    /// Where the parameters live; inputs are moved here. Set when the model is built.
    public private(set) var device: Device = .cpu
    /// The per-sample shape of each input, once built.
    public private(set) var inputShapes: [[Int]] = []
    /// What `compile` set.
    public internal(set) var optimizer: Optimizer?
    /// The loss `compile` set.
    public internal(set) var loss: (any Loss)?
    /// The metrics `compile` set.
    public internal(set) var metrics: [Metric] = []
    /// The epochs of the current (or last) `fit`, resumed ones included; callbacks read it and
    /// checkpoints save it. `fit` replaces it when it starts.
    public var history = History()
    /// What `fit` does when a loss turns NaN or infinite: by default it stops with
    /// `TrainingDiverged` and the weights of the start of that epoch.
    public var onNonFiniteLoss: NonFiniteLossPolicy = .stop
    /// The parameters the default step updates, found once per `fit` instead of every step. Kept
    /// in a box, where reflection does not look: they are not the model's own properties.
    let fitCache = FitCache()

    public override init() {}

    /// The model's output for several inputs. The default passes a single input to
    /// `forward(_:training:)`; override this one for models with several inputs.
    open func forward(_ inputs: [Tensor], training: Bool) -> Tensor {
        ensure(inputs.count == 1, "\(typeName) takes one input, got \(inputs.count); override forward(_ inputs: [Tensor], training:) for several")
        return forward(inputs[0], training: training)
    }

    /// Runs the model on several inputs (moved to its device), building it first if needed.
    public final func callAsFunction(_ inputs: [Tensor], training: Bool = false) -> Tensor {
        guard buildIfNeeded(for: inputs) else { return inputs[0] }
        return forward(inputs.map { $0.to(device) }, training: training)
    }

    override func adapt(_ input: Tensor) -> Tensor { input.to(device) }

    // MARK: Building

    /// Creates every parameter for samples of `inputShape` on `device`, initialised from `seed`.
    public func build(inputShape: [Int], device: Device = .current, seed: UInt64 = 0) throws {
        try build(inputShapes: [inputShape], device: device, seed: seed)
    }

    /// Creates every parameter for inputs of `inputShapes` (one per input) on `device`.
    public func build(inputShapes: [[Int]], device: Device = .current, seed: UInt64 = 0) throws {
        guard !inputShapes.isEmpty else { throw ModelError.invalidArgument("\(typeName): build needs at least one input shape") }
        let context = BuildContext(device: device, generator: RandomGenerator(seed: seed))
        try prepare(inputShapes: inputShapes, context: context)
    }

    /// Builds for one input by tracing `forward` (the multi-input form, so either override works).
    open override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        begin([inputShape], context: context)
        return try trace([inputShape], context: context)
    }

    /// Records where and for what the model is being built (subclasses with a `build` of their own call it first).
    func begin(_ shapes: [[Int]], context: BuildContext) {
        device = context.device
        inputShapes = shapes
    }

    override func prepareForCall(_ inputs: [Tensor], context: BuildContext) throws {
        try prepare(inputShapes: inputs.map { Array($0.shape.dropFirst()) }, context: context)
    }

    private func prepare(inputShapes shapes: [[Int]], context: BuildContext) throws {
        if shapes.count == 1 {
            try build(inputShape: shapes[0], context: context)
            return
        }
        if isBuilt {
            guard inputShapes == shapes else {
                throw ModelError.incompatibleShape(layer: typeName, inputShape: shapes.flatMap { $0 },
                                                   reason: "it was already built for inputs of shapes \(inputShapes)")
            }
            return
        }
        let output = try BuildScope.building(self, context: context) { () throws -> [Int] in
            begin(shapes, context: context)
            return try trace(shapes, context: context)
        }
        markBuilt(inputShape: nil, outputShape: output)
    }

    /// The output shape found by running `forward` once on one-sample batches of zeros.
    private func trace(_ shapes: [[Int]], context: BuildContext) throws -> [Int] {
        let probes = shapes.map { Tensor.zeros([1] + $0, on: context.device) }
        let output = Tensor.withoutGrad { forward(probes, training: false) }
        if let error = BuildScope.current?.failure { throw error }
        return Array(output.shape.dropFirst())
    }

    /// The output shape, or an error naming the model when it has not been built.
    func builtOutputShape() throws -> [Int] {
        guard isBuilt, let outputShape else { throw ModelError.notBuilt(typeName) }
        return outputShape
    }

    // MARK: Compiling

    /// Sets the optimizer, the loss (nil for models whose `trainStep` computes its own) and the
    /// metrics reported besides the loss.
    public func compile(optimizer: Optimizer, loss: (any Loss)? = nil, metrics: [Metric] = []) throws {
        if let loss, isBuilt, let outputShape {
            let sparse = loss is SparseCategoricalCrossEntropy
            try loss.validate(outputShape: outputShape, targetShape: sparse ? [] : outputShape, targetType: sparse ? .int32 : .float32)
        }
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
    }

    // MARK: Steps

    /// The parameters a training step updates: fixed for the length of a `fit`.
    public var stepParameters: [Parameter] { fitCache.parameters ?? trainableParameters }

    /// The default training step: the compiled loss of the outputs against the targets (plus
    /// weight penalties), one backward pass, one optimizer step; it records `loss` and the
    /// metrics in `logs`. Override it for other objectives, keeping `fit`'s progress, history
    /// and callbacks; `evaluate` uses `testStep(_:logs:)`.
    open func trainStep(_ batch: Dataset.Batch, logs: StepLogs) throws {
        guard let optimizer, let loss else { throw ModelError.notCompiled }
        guard let targets = batch.targets else {
            throw ModelError.targetMismatch(reason: "\(loss.name) needs targets; pass them to fit")
        }
        let output = self(batch.inputs, training: true)
        let dataLoss = loss(output, targets)
        let parameters = stepParameters
        let penalties = parameters.compactMap { p in p.regularizer.map { $0.penalty(p.value) } }
        let objective = penalties.reduce(dataLoss, +)
        objective.backward()
        optimizer.step(parameters)
        // The reported loss is the data term already computed for backward, not a second forward pass.
        logs.record("loss", mean: dataLoss, count: batch.count)
        for metric in metrics { logs.record(metric, predictions: output, targets: targets) }
    }

    /// The default evaluation step (run without recording gradients): the compiled loss and
    /// metrics of the outputs in evaluation mode.
    open func testStep(_ batch: Dataset.Batch, logs: StepLogs) throws {
        guard let loss else { throw ModelError.notCompiled }
        guard let targets = batch.targets else {
            throw ModelError.targetMismatch(reason: "\(loss.name) needs targets; pass them to evaluate")
        }
        let output = self(batch.inputs)
        logs.record("loss", mean: loss(output, targets), count: batch.count)
        for metric in metrics { logs.record(metric, predictions: output, targets: targets) }
    }

    /// Checks a dataset before `fit` or `evaluate` uses it: by default, that its inputs fit the
    /// model's and its targets the loss. Override it when `trainStep` takes other data than
    /// `forward` (a GAN trains on images but maps noise to images).
    open func checkData(_ data: Dataset) throws {
        try checkInputs(data)
        if let loss, let targetShape = data.targetShape, let targetType = data.targetType {
            try loss.validate(outputShape: try builtOutputShape(), targetShape: targetShape, targetType: targetType)
        }
    }

    // MARK: Summary

    /// A Keras-style table of the model's direct sub-modules (a `Sequential`'s layers), their
    /// output shapes and parameter counts; the columns widen to fit long names.
    public var summary: String {
        let rows = summaryRows().map { row in
            (row.name, row.shape.map { "(None, " + $0.map(String.init).joined(separator: ", ") + ")" } ?? "?", String(row.count))
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
        let state = stateParameters.reduce(0) { $0 + $1.count }
        let frozen = parameterCount - state - trainableParameterCount
        var total = "Total params: \(parameterCount)"
        if state > 0 { total += " (weights \(parameterCount - state), state \(state))" }
        if frozen > 0 { total += ", frozen \(frozen)" }
        let inputs = inputShapes.count == 1 ? "\(inputShapes[0])" : "\(inputShapes)"
        lines.append(total + "  (input \(inputs), device \(device))")
        return lines.joined(separator: "\n")
    }

    /// One row per direct sub-module; models may list theirs differently.
    func summaryRows() -> [(name: String, shape: [Int]?, count: Int)] {
        namedChildren.map { child in
            ("\(child.path) (\(child.module.typeName))", (child.module as? Layer)?.outputShape, child.module.parameterCount)
        }
    }
}

/// State of a `fit` in progress that must not look like part of the model to reflection.
final class FitCache {
    var parameters: [Parameter]?
}
