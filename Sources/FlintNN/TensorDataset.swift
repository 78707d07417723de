import FlintCore
import FlintData

/// Tensors as a dataset: one row per sample along the first axis of every input and of the
/// targets. CPU tensors are read where they are (no copy); tensors on another device are
/// read back once. float32 tensors stay float32 and int32 ones (class indices) int32.
public struct TensorDataset: SampleDataset {
    let arrays: ArrayDataset

    /// Several inputs of the same number of samples, and their targets (nil for models that need none).
    public init(inputs: [Tensor], targets: Tensor? = nil) throws {
        guard !inputs.isEmpty else { throw ModelError.invalidArgument("a dataset needs at least one input") }
        guard inputs.allSatisfy({ $0.rank >= 1 }) else {
            throw ModelError.invalidArgument("inputs must have a sample axis, got shapes \(inputs.map(\.shape))")
        }
        let count = inputs[0].shape[0]
        guard inputs.allSatisfy({ $0.shape[0] == count }) else {
            throw ModelError.invalidArgument("inputs hold different numbers of samples: \(inputs.map { $0.shape[0] })")
        }
        if let targets {
            guard targets.rank >= 1, targets.shape[0] == count else {
                throw ModelError.targetMismatch(reason: "\(count) samples but \(targets.shape.first ?? 0) targets")
            }
        }
        arrays = try ArrayDataset(inputs: inputs.map(Self.hostArray), target: targets.map(Self.hostArray))
    }

    /// One input and its targets.
    public init(_ x: Tensor, _ y: Tensor? = nil) throws {
        try self.init(inputs: [x], targets: y)
    }

    /// The number of samples.
    public var count: Int { arrays.count }
    /// Sample `index`, for `index` in `0..<count`.
    public func sample(at index: Int) throws -> Sample { try arrays.sample(at: index) }
    /// The samples at `indices` stacked into one batch, in that order.
    public func batch(at indices: [Int]) throws -> HostBatch { try arrays.batch(at: indices) }
    /// What every sample looks like.
    public func layout() throws -> SampleLayout { try arrays.layout() }

    static func hostArray(_ tensor: Tensor) -> HostArray {
        let type: ElementType = tensor.dtype == .int32 ? .int32 : .float32
        if let (bytes, owner) = tensor.hostBytes {
            return HostArray(storage: HostStorage(borrowing: bytes, owner: owner), type: type, shape: tensor.shape)
        }
        let storage = tensor.dtype == .int32 ? HostStorage(copying: tensor.toInt32Array()) : HostStorage(copying: tensor.toArray())
        return HostArray(storage: storage, type: type, shape: tensor.shape)
    }
}
