import Synchronization

/// A seeded source of random tensors. Each draw reserves a fresh range of Philox counters,
/// so a sequence of draws is reproducible from the seed alone and identical on every device.
public final class RandomGenerator: Sendable {
    public let seed: UInt64
    private let nextBlock = Mutex<UInt64>(0)

    public init(seed: UInt64) {
        self.seed = seed
    }

    /// Reserves `blocks` Philox blocks (4 values each) and returns the first counter.
    public func reserve(blocks: Int) -> UInt64 {
        nextBlock.withLock { next in
            defer { next &+= UInt64(blocks) }
            return next
        }
    }
}
