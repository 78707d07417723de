import FlintBackend
/// SplitMix64 (Steele, Lea & Flood 2014, the seeding generator of Java's SplittableRandom and
/// xoshiro): tiny, fast and statistically sound for shuffling. Written out here, together with
/// `nextIndex(below:)` and `fisherYatesShuffle(using:)`, because the standard library does not
/// promise that `shuffle(using:)` or `random(in:using:)` keep their algorithms across Swift
/// versions or platforms: a seed here gives the same split everywhere, for good.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose draws depend on `seed` alone.
    ///
    /// - Parameter seed: Any value; the same seed gives the same draws everywhere.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1): the top 53 bits of a draw, every value a multiple of 2⁻⁵³.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in `0..<bound`. Draws below 2⁶⁴ mod `bound` are redrawn so that every result is
    /// equally likely (a bare `%` would favour small values).
    public mutating func nextIndex(below bound: Int) -> Int {
        ensure(bound > 0, "SplitMix64.nextIndex(below:): bound must be positive, got \(bound)")
        let bound = UInt64(bound)
        let threshold = (0 &- bound) % bound
        var draw = next()
        while draw < threshold { draw = next() }
        return Int(draw % bound)
    }
}

extension MutableCollection where Self: RandomAccessCollection {
    /// Fisher–Yates (Durstenfeld): walk from the end, swapping each element with a uniformly chosen
    /// one at or before it; every permutation is equally likely.
    public mutating func fisherYatesShuffle(using generator: inout SplitMix64) {
        var remaining = count
        guard remaining > 1 else { return }
        var last = index(before: endIndex)
        while remaining > 1 {
            let other = index(startIndex, offsetBy: generator.nextIndex(below: remaining))
            swapAt(last, other)
            formIndex(before: &last)
            remaining -= 1
        }
    }
}

/// Splits `0..<count` into shuffled train and test indices, reproducibly for a given `seed`.
///
/// The test part has `⌈testFraction × count⌉` indices (as scikit-learn's `train_test_split`), but
/// always leaves at least one for training. With `labels`, each class goes to the test part in
/// proportion: its test count is within 1 of `classCount × testCount / count`.
/// Both lists come back in shuffled order, ready to train on.
///
/// - Throws: `DataError.cannotSplit` for fewer than 2 rows (each part needs one), a fraction
///   outside the open interval (0, 1), or a label count that differs from `count`.
public func trainTestSplit(
    count: Int, testFraction: Double, seed: UInt64, stratifyBy labels: [Int32]? = nil
) throws -> (train: [Int], test: [Int]) {
    guard count >= 2 else {
        throw DataError.cannotSplit(reason: "a train/test split needs at least 2 rows (one for each part), found \(count)")
    }
    guard testFraction > 0 && testFraction < 1 else {
        throw DataError.cannotSplit(reason: "the test fraction must lie strictly between 0 and 1, got \(testFraction)")
    }
    try checkLabels(labels, count: count)
    // The small allowance keeps 0.1 × 30 (3.0000000000000004 in Double) at 3.
    var testCount = Int((testFraction * Double(count) - 1e-9).rounded(.up))
    testCount = min(max(testCount, 1), count - 1)

    var generator = SplitMix64(seed: seed)
    var train: [Int] = [], test: [Int] = []
    if let labels {
        let groups = classMembers(labels)
        for (members, take) in zip(groups, proportionalShares(of: testCount, among: groups.map(\.count))) {
            var members = members
            members.fisherYatesShuffle(using: &generator)
            test += members[..<take]
            train += members[take...]
        }
        // Classes were appended one after another; mix them.
        train.fisherYatesShuffle(using: &generator)
        test.fisherYatesShuffle(using: &generator)
    } else {
        var order = Array(0..<count)
        order.fisherYatesShuffle(using: &generator)
        test = Array(order[..<testCount])
        train = Array(order[testCount...])
    }
    return (train, test)
}

/// K-fold cross-validation: `k` folds whose test parts partition `0..<count`, each fold training
/// on the other `k − 1` parts. Test sizes differ by at most one.
///
/// Without a seed the folds are consecutive runs of indices (scikit-learn's `shuffle=False`); with
/// one the indices are shuffled first. Stratified folds deal each class round-robin over the folds,
/// so every class's count in a test part is within one of `classCount / k`.
public struct KFold: Sendable {
    /// The number of folds.
    public let k: Int
    /// `nil`: keep the indices' order.
    public let shuffleSeed: UInt64?

    /// K-fold splitting.
    ///
    /// - Parameters:
    ///   - k: The number of folds, at least 2.
    ///   - shuffleSeed: Shuffles the indices first when given; nil keeps their order.
    public init(k: Int, shuffleSeed: UInt64? = nil) {
        ensure(k >= 2, "KFold: k must be at least 2, got \(k)")
        self.k = k
        self.shuffleSeed = shuffleSeed
    }

    /// The `k` folds; train and test indices each come back in increasing order.
    ///
    /// - Throws: `DataError.cannotSplit` when there are fewer rows than folds (a fold's test part
    ///   would be empty) or the label count differs from `count`.
    public func folds(count: Int, stratifyBy labels: [Int32]? = nil) throws -> [(train: [Int], test: [Int])] {
        guard count >= k else {
            throw DataError.cannotSplit(reason: "\(k)-fold cross-validation needs at least \(k) rows, found \(count)")
        }
        try checkLabels(labels, count: count)
        var generator = shuffleSeed.map(SplitMix64.init(seed:))
        var foldOf = [Int](repeating: 0, count: count)
        if let labels {
            // Dealing the classes one after another round-robin balances both each class and the fold sizes.
            var position = 0
            for var members in classMembers(labels) {
                if generator != nil { members.fisherYatesShuffle(using: &generator!) }
                for index in members {
                    foldOf[index] = position % k
                    position += 1
                }
            }
        } else {
            var order = Array(0..<count)
            if generator != nil { order.fisherYatesShuffle(using: &generator!) }
            // The first count % k folds take one extra index.
            let base = count / k, extra = count % k
            var start = 0
            for fold in 0..<k {
                let size = base + (fold < extra ? 1 : 0)
                for index in order[start..<(start + size)] { foldOf[index] = fold }
                start += size
            }
        }
        return (0..<k).map { fold in
            let test = foldOf.indices.filter { foldOf[$0] == fold }
            let train = foldOf.indices.filter { foldOf[$0] != fold }
            return (train, test)
        }
    }
}

/// Throws unless `labels` is nil or has one label per row.
private func checkLabels(_ labels: [Int32]?, count: Int) throws {
    if let labels, labels.count != count {
        throw DataError.cannotSplit(reason: "\(labels.count) labels for \(count) rows")
    }
}

/// The indices of each class, classes in increasing label order (a dictionary's order would
/// change from run to run and break reproducibility).
func classMembers(_ labels: [Int32]) -> [[Int]] {
    let grouped = Dictionary(grouping: labels.indices, by: { labels[$0] })
    return grouped.keys.sorted().map { grouped[$0]! }
}

/// Splits `total` among groups in proportion to `sizes` by largest remainder: each share is the
/// floor or ceiling of its exact value, never more than its group, and the shares sum to `total`.
func proportionalShares(of total: Int, among sizes: [Int]) -> [Int] {
    let sum = sizes.reduce(0, +)
    guard sum > 0 else { return sizes.map { _ in 0 } }
    var shares = sizes.map { $0 * total / sum }
    let remainders = sizes.map { $0 * total % sum }
    // Ties go to the earlier (smaller-label) class so the result is deterministic.
    let order = sizes.indices.sorted { remainders[$0] != remainders[$1] ? remainders[$0] > remainders[$1] : $0 < $1 }
    for group in order.prefix(total - shares.reduce(0, +)) { shares[group] += 1 }
    return shares
}
