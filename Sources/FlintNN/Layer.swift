import FlintCore

/// What a layer gets when its model is built.
public struct BuildContext {
    public let device: Device
    public let generator: RandomGenerator

    public init(device: Device, generator: RandomGenerator) {
        self.device = device
        self.generator = generator
    }
}

/// A building block of a model. Shapes exclude the batch axis.
public protocol Layer: AnyObject {
    /// A short type name for summaries ("Dense", "Dropout").
    var typeName: String { get }
    /// Creates parameters for inputs of `inputShape` and returns the output shape, or throws
    /// `ModelError.incompatibleShape` when the layer cannot take such inputs.
    func build(inputShape: [Int], context: BuildContext) throws -> [Int]
    /// Applies the layer to a batch; `training` switches Dropout and BatchNorm behaviour.
    func forward(_ input: Tensor, training: Bool) -> Tensor
    var parameters: [Parameter] { get }
    /// Tensors a layer keeps besides its parameters (BatchNorm's running statistics), saved with weights.
    var state: [Parameter] { get }
}

extension Layer {
    public var parameters: [Parameter] { [] }
    public var state: [Parameter] { [] }
    public var typeName: String { String(describing: type(of: self)) }

    public func callAsFunction(_ input: Tensor, training: Bool = false) -> Tensor {
        forward(input, training: training)
    }
}

/// Errors found when a model is built, compiled or fed data.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case incompatibleShape(layer: String, inputShape: [Int], reason: String)
    case inputShapeMismatch(expected: [Int], got: [Int])
    case targetMismatch(reason: String)
    case notCompiled
    case invalidArgument(String)

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
        case .invalidArgument(let message):
            return message
        }
    }
}
