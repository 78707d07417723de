import FlintCore

/// A layer that combines several tensors into one, for models with branches (residual
/// connections, several inputs): call it on an array inside a model's `forward`,
///
///     let merged = Concatenate()([imageFeatures, tabularFeatures])
///
/// Shapes are checked when the model is built: a mismatch is a `ModelError` from `build`, not a
/// crash in training.
public class Merge: Layer {
    /// Combines `inputs` (at least two).
    public final func callAsFunction(_ inputs: [Tensor]) -> Tensor {
        let scope = BuildScope.current
        if scope?.failure != nil { return inputs[0] }
        let shapes = inputs.map { Array($0.shape.dropFirst()) }
        do {
            guard inputs.count >= 2 else { throw ModelError.incompatibleShape(layer: typeName, inputShape: shapes.first ?? [], reason: "it merges two or more inputs, got \(inputs.count)") }
            let output = try outputShape(for: shapes)
            if !isBuilt { markBuilt(inputShape: nil, outputShape: output) }
        } catch {
            guard let scope else { fatalError("\(error)") }
            scope.failure = error
            return inputs[0]
        }
        return combine(inputs)
    }

    /// A merge layer has no single-input form.
    public override func makeParameters(inputShape: [Int], context: BuildContext) throws -> [Int] {
        throw ModelError.incompatibleShape(layer: typeName, inputShape: inputShape,
                                           reason: "it merges several inputs: call it on an array of tensors in a model's forward")
    }

    func outputShape(for shapes: [[Int]]) throws -> [Int] {
        guard shapes.allSatisfy({ $0 == shapes[0] }) else {
            throw ModelError.incompatibleShape(layer: typeName, inputShape: shapes[0], reason: "all inputs must have the same shape, got \(shapes)")
        }
        return shapes[0]
    }

    func combine(_ inputs: [Tensor]) -> Tensor { fatalError("\(typeName) must override combine") }
}

/// The element-wise sum of its inputs (Keras' `Add`), as in residual connections.
public final class Add: Merge {
    public override init() {}
    override func combine(_ inputs: [Tensor]) -> Tensor { inputs.dropFirst().reduce(inputs[0], +) }
}

/// The element-wise product of its inputs (Keras' `Multiply`), as in gating.
public final class Multiply: Merge {
    public override init() {}
    override func combine(_ inputs: [Tensor]) -> Tensor { inputs.dropFirst().reduce(inputs[0], *) }
}

/// Its inputs joined along `axis` (of the per-sample shape; -1, the last, by default), Keras'
/// `Concatenate`. The other axes must agree.
public final class Concatenate: Merge {
    /// The per-sample axis joined along; negative counts from the end.
    public let axis: Int

    /// Concatenation along `axis`.
    ///
    /// - Parameter axis: Of the per-sample shape; -1, the last, by default.
    public init(axis: Int = -1) { self.axis = axis }

    override func outputShape(for shapes: [[Int]]) throws -> [Int] {
        let rank = shapes[0].count
        let resolved = axis < 0 ? axis + rank : axis
        guard rank > 0, resolved >= 0, resolved < rank else {
            throw ModelError.incompatibleShape(layer: typeName, inputShape: shapes[0], reason: "axis \(axis) is out of range for rank \(rank)")
        }
        func others(_ shape: [Int]) -> [Int] { shape.enumerated().filter { $0.offset != resolved }.map(\.element) }
        guard shapes.allSatisfy({ $0.count == rank && others($0) == others(shapes[0]) }) else {
            throw ModelError.incompatibleShape(layer: typeName, inputShape: shapes[0],
                                               reason: "inputs must agree on every axis but \(axis), got \(shapes)")
        }
        var output = shapes[0]
        output[resolved] = shapes.reduce(0) { $0 + $1[resolved] }
        return output
    }

    override func combine(_ inputs: [Tensor]) -> Tensor {
        let rank = inputs[0].rank
        return Tensor.concatenate(inputs, axis: axis < 0 ? axis + rank : axis + 1)
    }
}
