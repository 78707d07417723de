/// Samples read by index, in any order: PyTorch's map-style `Dataset`, Keras' `PyDataset`.
/// Implement `count` and `sample(at:)`; implement `batch(at:)` too when a whole batch can be
/// read faster than sample by sample (the built-in IDX, CSV and tensor datasets do).
///
///     struct Squares: SampleDataset {
///         var count: Int { 100 }
///         func sample(at index: Int) -> Sample {
///             Sample([Float(index)], label: Int32(index % 2))
///         }
///     }
///     try model.fit(Squares(), epochs: 5, batchSize: 10)
///
/// Datasets are `Sendable`: batches are assembled on a background thread while the model
/// trains. `fit` shuffles reproducibly (the same seed gives the same batches on every device);
/// `map`, `take`, `skip`, `shuffled(seed:)` and `batched(_:shuffleSeed:)` compose datasets.
public protocol SampleDataset: Sendable {
    /// The number of samples.
    var count: Int { get }
    /// Sample `index`, for `index` in `0..<count`.
    func sample(at index: Int) throws -> Sample
    /// The samples at `indices` stacked into one batch, in that order. The default stacks `sample(at:)`.
    func batch(at indices: [Int]) throws -> HostBatch
    /// What every sample looks like. The default reads sample 0.
    func layout() throws -> SampleLayout
}

extension SampleDataset {
    /// The samples at `indices` stacked into one batch, in that order.
    public func batch(at indices: [Int]) throws -> HostBatch {
        try HostBatch(stacking: indices.map { try sample(at: $0) })
    }

    /// What every sample looks like.
    public func layout() throws -> SampleLayout {
        guard count > 0 else { throw DatasetError.empty("the dataset holds no samples, so it has no layout") }
        return try sample(at: 0).layout
    }

    /// Throws unless `index` is in `0..<count`.
    public func checkIndex(_ index: Int) throws {
        guard index >= 0 && index < count else { throw DatasetError.indexOutOfRange(index: index, count: count) }
    }
}

/// Batches in sequence: `tf.data`'s and PyTorch's iterable datasets, for data read in order
/// (a stream from disk, a generator) or batches made a particular way. An epoch is one pass
/// of the iterator that `makeBatchIterator(epoch:)` returns.
public protocol BatchDataset: Sendable {
    /// Samples in one epoch.
    var count: Int { get }
    /// Batches in one epoch (steps, for progress and per-step learning-rate schedules).
    var batchCount: Int { get }
    /// A fresh pass over the batches of `epoch` (epochs may differ: a reshuffle, say).
    func makeBatchIterator(epoch: Int) throws -> any BatchIterator
    /// What every sample looks like. The default reads the first batch of epoch 0.
    func layout() throws -> SampleLayout
}

/// One pass over a `BatchDataset`'s batches; `next()` returns nil at the end of the epoch.
public protocol BatchIterator {
    mutating func next() throws -> HostBatch?
}

extension BatchDataset {
    /// What every sample looks like.
    public func layout() throws -> SampleLayout {
        var iterator = try makeBatchIterator(epoch: 0)
        guard let first = try iterator.next() else { throw DatasetError.empty("the dataset yields no batches, so it has no layout") }
        return first.layout
    }
}
