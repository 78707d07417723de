import FlintCore

/// What a layer gets when it is built: where to put its parameters and the generator that
/// initialises them (so the same seed gives the same weights on every device).
public struct BuildContext {
    /// Where the parameters go.
    public let device: Device
    /// Initialises the parameters, seeded by the model.
    public let generator: RandomGenerator

    /// A context for building on `device` with `generator`.
    ///
    /// - Parameters:
    ///   - device: Where the parameters go.
    ///   - generator: Initialises them.
    public init(device: Device, generator: RandomGenerator) {
        self.device = device
        self.generator = generator
    }
}

/// A module that maps one batch to another. Shapes exclude the batch axis.
///
/// Layers are built when their input shape is known, as in Keras: `build(inputShape:context:)`
/// calls `makeParameters(inputShape:context:)` once, which creates the parameters and returns
/// the output shape. A layer made only of other layers needs no `makeParameters` of its own:
/// the default runs `forward` once on a one-sample batch, and each sub-layer builds itself when
/// first called. Subclass and override `forward`:
///
///     final class ResidualBlock: Layer {
///         let conv1 = Conv2D(32, kernelSize: 3, padding: .same, activation: .relu)
///         let conv2 = Conv2D(32, kernelSize: 3, padding: .same)
///         override func forward(_ x: Tensor, training: Bool) -> Tensor {
///             (x + conv2(conv1(x))).relu()
///         }
///     }
open class Layer: Module {
    /// The per-sample input and output shapes, once built.
    public private(set) var inputShape: [Int]?
    /// The per-sample output shape, once built.
    public private(set) var outputShape: [Int]?

    /// Whether the layer has made its parameters.
    public private(set) var isBuilt = false

    public override init() {}

    /// Creates the parameters for inputs of `inputShape` and returns the output shape, or throws
    /// `ModelError.incompatibleShape` when the layer cannot take such inputs. Override it; Flint
    /// calls it once, from `build(inputShape:context:)`. The default traces `forward` on a
    /// one-sample batch, so that sub-layers build themselves.
    open func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        let probe = Tensor.zeros([1] + inputShape, on: context.device)
        let output = Tensor.withoutGrad { forward(probe, training: false) }
        if let error = BuildScope.current?.failure { throw error }
        return Array(output.shape.dropFirst())
    }

    /// Applies the layer to a batch; `training` switches Dropout, BatchNorm and augmentation.
    open func forward(_ input: Tensor, training: Bool) -> Tensor {
        fatalError("\(typeName) must override forward(_:training:)")
    }

    /// Builds the layer for `inputShape` unless it is already built for it; returns the output
    /// shape. Building twice for different shapes is an error (a layer's weights fit one shape).
    @discardableResult
    public final func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        if isBuilt, let outputShape {
            guard self.inputShape == inputShape else {
                let built = self.inputShape.map { "inputs of shape \($0)" } ?? "several inputs"
                throw ModelError.incompatibleShape(layer: typeName, inputShape: inputShape, reason: "it was already built for \(built)")
            }
            return outputShape
        }
        let output = try BuildScope.building(self, context: context) { try makeParameters(inputShape: inputShape, context: context) }
        markBuilt(inputShape: inputShape, outputShape: output)
        return output
    }

    /// Runs the layer on `input`, building it first if needed (inside a model's build, with the
    /// model's device and generator; alone, on the input's device with seed 0).
    public final func callAsFunction(_ input: Tensor, training: Bool = false) -> Tensor {
        guard buildIfNeeded(for: [input]) else { return input }
        return forward(adapt(input), training: training)
    }

    /// Builds the layer from the shapes of `inputs` when it is not built. Returns false while a
    /// model's build has already failed, so the caller skips its work and the error surfaces.
    func buildIfNeeded(for inputs: [Tensor]) -> Bool {
        let scope = BuildScope.current
        if scope?.failure != nil { return false }
        guard !isBuilt else { return true }
        let context = scope?.context ?? BuildContext(device: inputs.first?.device ?? .current, generator: RandomGenerator(seed: 0))
        do {
            try prepareForCall(inputs, context: context)
            return true
        } catch {
            guard let scope else { fatalError("\(typeName): \(error)") }
            scope.failure = error
            return false
        }
    }

    /// How a call builds the layer; models with several inputs override it.
    func prepareForCall(_ inputs: [Tensor], context: BuildContext) throws {
        try build(inputShape: Array((inputs.first?.shape ?? []).dropFirst()), context: context)
    }

    /// A hook for models, which move their inputs to their device.
    func adapt(_ input: Tensor) -> Tensor { input }

    /// Records shapes for a layer built by other means (a model built from several inputs).
    func markBuilt(inputShape: [Int]?, outputShape: [Int]) {
        self.inputShape = inputShape
        self.outputShape = outputShape
        isBuilt = true
    }
}

/// The state of one model (or layer) build: the context every lazily built sub-layer uses, the
/// first error, and the parameters created, to find any the module tree cannot reach.
final class BuildScope: @unchecked Sendable {
    @TaskLocal static var current: BuildScope?

    let context: BuildContext
    var failure: (any Error)?
    private var owners: [String] = []
    private var made: [(owner: String, parameter: Parameter)] = []

    private init(context: BuildContext) { self.context = context }

    func created(_ parameter: Parameter) { made.append((owners.last ?? "?", parameter)) }

    /// Runs `body` as the build of `module`. The outermost build checks, at the end, that every
    /// parameter created meanwhile is reachable from `module`'s properties.
    static func building<R>(_ module: Module, context: BuildContext, _ body: () throws -> R) throws -> R {
        if let scope = current {
            scope.owners.append(module.typeName)
            defer { scope.owners.removeLast() }
            return try body()
        }
        let scope = BuildScope(context: context)
        let result = try $current.withValue(scope) {
            scope.owners.append(module.typeName)
            let value = try body()
            if let failure = scope.failure { throw failure }
            return value
        }
        let reached = Set(module.parameters.map(ObjectIdentifier.init))
        let lost = scope.made.filter { !reached.contains(ObjectIdentifier($0.parameter)) }
        guard lost.isEmpty else {
            throw ModelError.unreachableParameters(lost.map { "\($0.owner).\($0.parameter.name) \($0.parameter.shape)" })
        }
        return result
    }
}

/// Errors found when a model is built, compiled or fed data.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case incompatibleShape(layer: String, inputShape: [Int], reason: String)
    case inputShapeMismatch(expected: [Int], got: [Int])
    case targetMismatch(reason: String)
    case notCompiled
    case notBuilt(String)
    /// Parameters created while building that no stored property of the model holds, so they
    /// would never be trained or saved.
    case unreachableParameters([String])
    case invalidArgument(String)

    /// What went wrong, for a user.
    public var description: String {
        switch self {
        case .incompatibleShape(let layer, let shape, let reason):
            return "\(layer) cannot take inputs of shape \(shape): \(reason)"
        case .inputShapeMismatch(let expected, let got):
            return "the model expects samples of shape \(expected), but the data has samples of shape \(got)"
        case .targetMismatch(let reason):
            return "targets do not fit the model: \(reason)"
        case .notCompiled:
            return "call compile(optimizer:loss:metrics:) before fit or evaluate"
        case .notBuilt(let model):
            return "\(model) is not built: call build(inputShape:device:seed:) first"
        case .unreachableParameters(let names):
            return "parameters created but not held by any stored property of the model (they would never be trained or saved): "
                + names.joined(separator: ", ") + ". Keep each parameter or sub-layer in a stored property, array or dictionary."
        case .invalidArgument(let message):
            return message
        }
    }
}
