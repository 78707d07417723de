/// The seeded shuffle `fit` orders epochs by: epoch `e` follows `Shuffler(seed: seed &+ e)`.
/// SplitMix64 draws and the unbiased Fisher–Yates of `Splitting.swift`, the one shuffle of
/// Flint, reproducible across runs, machines and devices.
public struct Shuffler: Sendable {
    private var generator: SplitMix64

    /// A shuffler whose permutations depend on `seed` alone.
    ///
    /// - Parameter seed: Any value; the same seed gives the same permutations.
    public init(seed: UInt64) { generator = SplitMix64(seed: seed ^ 0x5DEE_CE66_D1CE_4E5B) }

    /// The next 64 random bits of the underlying generator.
    public mutating func next() -> UInt64 { generator.next() }

    /// A permutation of `0..<count`, each equally likely.
    ///
    /// Earlier versions drew `next() % (i + 1)`, which favours small indices. The unbiased draw
    /// differs only when it redraws, with probability below (i + 1) / 2⁶⁴ per swap (for 60,000
    /// rows, about 10⁻¹⁰ for the whole permutation), so seeds keep the orders they gave before.
    ///
    /// - Parameter count: How many indices to permute.
    /// - Returns: The indices `0..<count` in shuffled order.
    public mutating func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        order.fisherYatesShuffle(using: &generator)
        return order
    }
}
