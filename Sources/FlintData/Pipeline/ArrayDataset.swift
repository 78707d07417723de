/// Samples held in host arrays, one row per sample: the in-memory dataset the others build on
/// (CSV tables, tabular datasets, CPU tensors).
public struct ArrayDataset: SampleDataset {
    /// One array per input, `[count] + sample shape` each.
    public let inputs: [HostArray]
    /// The targets, `[count] + target shape`; nil for models that need none.
    public let target: HostArray?

    /// A dataset of several inputs.
    ///
    /// - Parameters:
    ///   - inputs: One array per input, all with the same first dimension.
    ///   - target: The targets with that first dimension too, or nil.
    /// - Throws: `DatasetError` when no input is given or the row counts differ.
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

    /// A dataset of one input.
    ///
    /// - Parameters:
    ///   - input: The inputs, one row per sample.
    ///   - target: The targets, one row per sample, or nil.
    /// - Throws: `DatasetError` when the row counts differ.
    public init(_ input: HostArray, target: HostArray? = nil) throws {
        try self.init(inputs: [input], target: target)
    }

    /// The number of samples.
    public var count: Int { inputs[0].shape[0] }

    /// Sample `index`, for `index` in `0..<count`.
    public func sample(at index: Int) throws -> Sample {
        try checkIndex(index)
        return Sample(inputs: inputs.map { $0.row(index) }, target: target?.row(index))
    }

    /// The samples at `indices` stacked into one batch, in that order.
    public func batch(at indices: [Int]) throws -> HostBatch {
        try indices.forEach(checkIndex)
        return HostBatch(inputs: inputs.map { $0.gathering(rows: indices) }, target: target?.gathering(rows: indices))
    }

    /// What every sample looks like.
    public func layout() throws -> SampleLayout {
        HostBatch(inputs: inputs.map { $0.rows(0..<0) }, target: target?.rows(0..<0)).layout
    }
}
