import FlintBackend
extension SampleDataset {
    /// Each sample passed through `transform` (augmentation, feature engineering), when it is read.
    public func map(_ transform: @escaping @Sendable (Sample) throws -> Sample) -> MappedSamples<Self> {
        MappedSamples(base: self, transform: transform)
    }

    /// The first `n` samples (all of them when there are fewer).
    public func take(_ n: Int) -> SampleRange<Self> {
        SampleRange(base: self, range: 0..<Swift.min(Swift.max(n, 0), count))
    }

    /// All samples but the first `n`.
    public func skip(_ n: Int) -> SampleRange<Self> {
        SampleRange(base: self, range: Swift.min(Swift.max(n, 0), count)..<count)
    }

    /// The samples in one fixed order drawn from `seed` (for a random split:
    /// `data.shuffled(seed: 0).take(50_000)` and `.skip(50_000)`). `fit` reshuffles every epoch by itself.
    public func shuffled(seed: UInt64) -> ShuffledSamples<Self> {
        var shuffler = Shuffler(seed: seed)
        return ShuffledSamples(base: self, order: shuffler.permutation(count))
    }

    /// Input `input` made float32 as `x · scale + shift` when its batch is made (on the device,
    /// in one pass, for byte images): `normalized(scale: 1 / 255)` gives pixels in [0, 1].
    public func normalized(scale: Float, shift: Float = 0, input: Int = 0) -> EditedSamples<Self> {
        EditedSamples(base: self, edit: ArrayEdit(input: input, shape: nil, conversion: .float(scale: scale, shift: shift)))
    }

    /// Input `input` standardised, `(x − mean) / standardDeviation`, per batch.
    public func standardized(mean: Float, standardDeviation: Float, input: Int = 0) -> EditedSamples<Self> {
        normalized(scale: 1 / standardDeviation, shift: -mean / standardDeviation, input: input)
    }

    /// Input `input` given another per-sample shape of as many elements (`[28, 28]` as `[28, 28, 1]`), at no cost.
    public func reshaped(_ shape: [Int], input: Int = 0) -> EditedSamples<Self> {
        EditedSamples(base: self, edit: ArrayEdit(input: input, shape: shape, conversion: nil))
    }

    /// Batches of `size` (the last smaller, unless `dropRemainder`), in order or, with
    /// `shuffleSeed`, in the order of `Shuffler(seed: shuffleSeed &+ epoch)`: what `fit` does.
    public func batched(_ size: Int, shuffleSeed: UInt64? = nil, dropRemainder: Bool = false) -> BatchedSamples<Self> {
        ensure(size > 0, "batched: the batch size must be positive, got \(size)")
        return BatchedSamples(base: self, size: size, shuffleSeed: shuffleSeed, dropRemainder: dropRemainder)
    }
}

/// A dataset whose samples pass through a closure; see `SampleDataset.map(_:)`.
public struct MappedSamples<Base: SampleDataset>: SampleDataset {
    /// The samples transformed.
    public let base: Base
    let transform: @Sendable (Sample) throws -> Sample

    /// The number of samples.
    public var count: Int { base.count }
    /// Sample `index`, for `index` in `0..<count`.
    public func sample(at index: Int) throws -> Sample { try transform(base.sample(at: index)) }
}

/// A contiguous part of a dataset; see `take(_:)` and `skip(_:)`.
public struct SampleRange<Base: SampleDataset>: SampleDataset {
    /// The whole dataset.
    public let base: Base
    /// The indices of `base` this part holds.
    public let range: Range<Int>

    /// The number of samples.
    public var count: Int { range.count }
    /// Sample `index`, for `index` in `0..<count`.
    public func sample(at index: Int) throws -> Sample {
        try checkIndex(index)
        return try base.sample(at: range.lowerBound + index)
    }
    /// The samples at `indices` stacked into one batch, in that order.
    public func batch(at indices: [Int]) throws -> HostBatch {
        try indices.forEach(checkIndex)
        return try base.batch(at: indices.map { range.lowerBound + $0 })
    }
    /// What every sample looks like.
    public func layout() throws -> SampleLayout { try base.layout() }
}

/// A dataset in a fixed permuted order; see `shuffled(seed:)`.
public struct ShuffledSamples<Base: SampleDataset>: SampleDataset {
    /// The samples reordered.
    public let base: Base
    let order: [Int]

    /// The number of samples.
    public var count: Int { order.count }
    /// Sample `index`, for `index` in `0..<count`.
    public func sample(at index: Int) throws -> Sample {
        try checkIndex(index)
        return try base.sample(at: order[index])
    }
    /// The samples at `indices` stacked into one batch, in that order.
    public func batch(at indices: [Int]) throws -> HostBatch {
        try indices.forEach(checkIndex)
        return try base.batch(at: indices.map { order[$0] })
    }
    /// What every sample looks like.
    public func layout() throws -> SampleLayout { try base.layout() }
}

/// A change of one input's shape or conversion, applied to samples and batches alike.
struct ArrayEdit: Sendable {
    let input: Int
    let shape: [Int]?
    let conversion: TensorConversion?

    func apply(_ array: HostArray, batched: Bool) -> HostArray {
        var result = array
        if let shape { result = result.reshaped(batched ? [array.shape[0]] + shape : shape) }
        if let conversion { result.conversion = conversion }
        return result
    }

    func apply(_ layout: ArrayLayout) throws -> ArrayLayout {
        var result = layout
        if let shape {
            guard shape.reduce(1, *) == layout.shape.reduce(1, *) else {
                throw DatasetError.invalidConversion("cannot reshape input \(input) of shape \(layout.shape) to \(shape): the element counts differ")
            }
            result.shape = shape
        }
        if let conversion { result.conversion = conversion }
        return result
    }
}

/// A dataset with one input reshaped or converted differently; see `normalized` and `reshaped`.
public struct EditedSamples<Base: SampleDataset>: SampleDataset {
    /// The samples whose arrays are edited.
    public let base: Base
    let edit: ArrayEdit

    /// The number of samples.
    public var count: Int { base.count }
    /// Sample `index`, for `index` in `0..<count`.
    public func sample(at index: Int) throws -> Sample {
        var sample = try base.sample(at: index)
        try check(sample.inputs.count)
        sample.inputs[edit.input] = edit.apply(sample.inputs[edit.input], batched: false)
        return sample
    }
    /// The samples at `indices` stacked into one batch, in that order.
    public func batch(at indices: [Int]) throws -> HostBatch {
        var batch = try base.batch(at: indices)
        try check(batch.inputs.count)
        batch.inputs[edit.input] = edit.apply(batch.inputs[edit.input], batched: true)
        return batch
    }
    /// What every sample looks like.
    public func layout() throws -> SampleLayout {
        var layout = try base.layout()
        try check(layout.inputs.count)
        layout.inputs[edit.input] = try edit.apply(layout.inputs[edit.input])
        return layout
    }
    private func check(_ inputs: Int) throws {
        guard edit.input >= 0 && edit.input < inputs else {
            throw DatasetError.invalidConversion("input \(edit.input) does not exist: the samples have \(inputs) input(s)")
        }
    }
}
