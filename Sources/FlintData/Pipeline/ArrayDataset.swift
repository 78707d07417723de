/// Samples held in host arrays, one row per sample: the in-memory dataset the others build on
/// (CSV tables, tabular datasets, CPU tensors).
public struct ArrayDataset: SampleDataset {
    /// One array per input, `[count] + sample shape` each.
    public let inputs: [HostArray]
    public let target: HostArray?

    public init(inputs: [HostArray], target: HostArray? = nil) throws {
        guard let first = inputs.first else { throw DatasetError.empty("a dataset needs at least one input") }
        guard (inputs + (target.map { [$0] } ?? [])).allSatisfy({ !$0.shape.isEmpty }) else {
            throw DatasetError.invalidConversion("every array needs a sample axis, got shapes \(inputs.map(\.shape)) and \(target?.shape ?? [])")
        }
        let counts = (inputs + (target.map { [$0] } ?? [])).map { $0.shape[0] }
        guard counts.allSatisfy({ $0 == first.shape[0] }) else { throw DatasetError.mismatchedCounts(counts) }
        self.inputs = inputs
        self.target = target
    }

    public init(_ input: HostArray, target: HostArray? = nil) throws {
        try self.init(inputs: [input], target: target)
    }

    public var count: Int { inputs[0].shape[0] }

    public func sample(at index: Int) throws -> Sample {
        try checkIndex(index)
        return Sample(inputs: inputs.map { $0.row(index) }, target: target?.row(index))
    }

    public func batch(at indices: [Int]) throws -> HostBatch {
        try indices.forEach(checkIndex)
        return HostBatch(inputs: inputs.map { $0.gathering(rows: indices) }, target: target?.gathering(rows: indices))
    }

    public func layout() throws -> SampleLayout {
        HostBatch(inputs: inputs.map { $0.rows(0..<0) }, target: target?.rows(0..<0)).layout
    }
}
