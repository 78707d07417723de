/// The seeded shuffle `fit` orders epochs by: epoch `e` follows `Shuffler(seed: seed &+ e)`.
/// SplitMix64 draws and Fisher–Yates swaps (by `draw % (i + 1)`, as the earlier loop did, so
/// the same seed keeps giving the same batches), reproducible across runs, machines and devices.
public struct Shuffler: Sendable {
    private var generator: SplitMix64

    public init(seed: UInt64) { generator = SplitMix64(seed: seed ^ 0x5DEE_CE66_D1CE_4E5B) }

    public mutating func next() -> UInt64 { generator.next() }

    /// A permutation of `0..<count`.
    public mutating func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(next() % UInt64(i + 1)))
        }
        return order
    }
}
