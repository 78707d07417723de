import Foundation

/// Samples from one IDX file and, optionally, their targets from another: the MNIST layout
/// (images and labels). Inputs keep their stored type (bytes stay bytes) until a batch is
/// made; integer targets become int32 class indices, float ones float32 values.
///
///     let train = try IDXDataset(inputs: imagesURL, targets: labelsURL)
///     try model.fit(train.normalized(scale: 1 / 255), epochs: 5, batchSize: 64)
public struct IDXDataset: SampleDataset {
    /// The file of inputs, one row per sample.
    public let inputs: IDXFile
    /// The file of targets, one row per sample; nil for none.
    public let targets: IDXFile?

    /// Reads both files' headers (see `IDXFile.Access` for where the elements are kept).
    public init(inputs: URL, targets: URL? = nil, access: IDXFile.Access = .automatic) throws {
        try self.init(inputs: IDXFile(contentsOf: inputs, access: access),
                      targets: targets.map { try IDXFile(contentsOf: $0, access: access == .disk ? .automatic : access) })
    }

    /// Throws when the files hold different numbers of samples.
    public init(inputs: IDXFile, targets: IDXFile?) throws {
        if let targets, targets.count != inputs.count {
            throw DataError.corrupt(path: targets.url.path, reason: "\(targets.count) targets for the \(inputs.count) samples of \(inputs.url.lastPathComponent)")
        }
        self.inputs = inputs
        self.targets = targets
    }

    /// The number of samples.
    public var count: Int { inputs.count }

    /// Sample `index`, for `index` in `0..<count`.
    public func sample(at index: Int) throws -> Sample {
        let batch = try self.batch(at: [index])
        return Sample(inputs: [batch.inputs[0].row(0)], target: batch.target?.row(0))
    }

    /// The samples at `indices` stacked into one batch, in that order.
    public func batch(at indices: [Int]) throws -> HostBatch {
        HostBatch(inputs: [try inputs.rows(at: indices)], target: try targets.map { try convertedTargets($0.rows(at: indices)) })
    }

    /// What every sample looks like.
    public func layout() throws -> SampleLayout {
        SampleLayout(inputs: [ArrayLayout(type: inputs.type, shape: inputs.sampleShape)],
                     target: targets.map { ArrayLayout(type: $0.type, shape: $0.sampleShape, conversion: $0.type.isInteger ? .int32 : .float) })
    }

    /// Every target as an int32 class index (integer targets only).
    public func labels() throws -> [Int32] {
        guard let targets, targets.type.isInteger else { return [] }
        return try targets.rows(at: Array(0..<targets.count)).int32s
    }

    private func convertedTargets(_ array: HostArray) -> HostArray {
        array.converted(array.type.isInteger ? .int32 : .float)
    }
}
