import Synchronization

/// A seeded source of random tensors. Each draw reserves a fresh range of Philox counters,
/// so a sequence of draws is reproducible from the seed alone and identical on every device.
public final class RandomGenerator: Sendable {
    /// The seed every draw derives from.
    public let seed: UInt64
    private let nextBlock = Mutex<UInt64>(0)

    /// A generator whose draws depend on `seed` alone.
    ///
    /// - Parameter seed: Any value; the same seed gives the same tensors on every device.
    public init(seed: UInt64) {
        self.seed = seed
    }

    /// How many Philox blocks have been reserved: with the seed, the whole state of the stream.
    /// Checkpoints save it so that a resumed run draws the same numbers as an uninterrupted one.
    public var position: UInt64 {
        get { nextBlock.withLock { $0 } }
        set { nextBlock.withLock { $0 = newValue } }
    }

    /// Reserves `blocks` Philox blocks (4 values each) and returns the first counter.
    public func reserve(blocks: Int) -> UInt64 {
        nextBlock.withLock { next in
            defer { next &+= UInt64(blocks) }
            return next
        }
    }
}
