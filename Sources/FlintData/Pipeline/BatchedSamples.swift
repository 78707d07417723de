/// A sample dataset cut into batches, in order or reshuffled every epoch; see
/// `SampleDataset.batched(_:shuffleSeed:dropRemainder:)`.
public struct BatchedSamples<Base: SampleDataset>: BatchDataset {
    /// The samples batched.
    public let base: Base
    /// Samples per batch.
    public let size: Int
    /// Epoch `e` is ordered by `Shuffler(seed: shuffleSeed &+ e)`; nil keeps the samples' order.
    public let shuffleSeed: UInt64?
    /// Whether a last, smaller batch is left out.
    public let dropRemainder: Bool

    /// The samples an epoch visits.
    public var count: Int { dropRemainder ? base.count / size * size : base.count }
    /// The batches of an epoch.
    public var batchCount: Int { dropRemainder ? base.count / size : (base.count + size - 1) / size }

    /// The sample indices of every batch of `epoch`, in order.
    public func order(epoch: Int) -> [Int] {
        guard let shuffleSeed else { return Array(0..<count) }
        var shuffler = Shuffler(seed: shuffleSeed &+ UInt64(epoch))
        return Array(shuffler.permutation(base.count).prefix(count))
    }

    /// The batches of `epoch`, in order.
    public func makeBatchIterator(epoch: Int) throws -> any BatchIterator {
        Iterator(base: base, order: order(epoch: epoch), size: size)
    }

    /// The base's sample layout.
    public func layout() throws -> SampleLayout { try base.layout() }

    struct Iterator: BatchIterator {
        let base: Base
        let order: [Int]
        let size: Int
        var position = 0

        mutating func next() throws -> HostBatch? {
            guard position < order.count else { return nil }
            let end = Swift.min(position + size, order.count)
            defer { position = end }
            return try base.batch(at: Array(order[position..<end]))
        }
    }
}

extension BatchDataset {
    /// Each batch passed through `transform` when it is made (on the prefetching thread in `fit`).
    public func map(_ transform: @escaping @Sendable (HostBatch) throws -> HostBatch) -> MappedBatches<Self> {
        MappedBatches(base: self, transform: transform)
    }

    /// The first `n` batches of every epoch.
    public func take(_ n: Int) -> BatchPrefix<Self> {
        BatchPrefix(base: self, limit: Swift.min(Swift.max(n, 0), batchCount))
    }
}

/// Batches passed through a closure; see `BatchDataset.map(_:)`.
public struct MappedBatches<Base: BatchDataset>: BatchDataset {
    /// The batches transformed.
    public let base: Base
    let transform: @Sendable (HostBatch) throws -> HostBatch

    /// The base's sample count.
    public var count: Int { base.count }
    /// The base's batch count.
    public var batchCount: Int { base.batchCount }
    /// The base's batches of `epoch`, each transformed as it is made.
    public func makeBatchIterator(epoch: Int) throws -> any BatchIterator {
        Iterator(base: try base.makeBatchIterator(epoch: epoch), transform: transform)
    }

    struct Iterator: BatchIterator {
        var base: any BatchIterator
        let transform: @Sendable (HostBatch) throws -> HostBatch
        mutating func next() throws -> HostBatch? { try base.next().map(transform) }
    }
}

/// The first batches of every epoch; see `BatchDataset.take(_:)`.
public struct BatchPrefix<Base: BatchDataset>: BatchDataset {
    /// The batches cut short.
    public let base: Base
    /// Batches per epoch.
    public let limit: Int

    /// Samples in the first `limit` batches, assuming full batches but for the dataset's last.
    public var count: Int {
        limit == base.batchCount ? base.count : Swift.min(base.count, limit * ((base.count + base.batchCount - 1) / Swift.max(base.batchCount, 1)))
    }
    /// The limit.
    public var batchCount: Int { limit }
    /// The first `limit` batches of the base's epoch.
    public func makeBatchIterator(epoch: Int) throws -> any BatchIterator {
        Iterator(base: try base.makeBatchIterator(epoch: epoch), remaining: limit)
    }
    /// The base's sample layout.
    public func layout() throws -> SampleLayout { try base.layout() }

    struct Iterator: BatchIterator {
        var base: any BatchIterator
        var remaining: Int
        mutating func next() throws -> HostBatch? {
            guard remaining > 0 else { return nil }
            remaining -= 1
            return try base.next()
        }
    }
}
