import FlintBackend
// Per-column feature scaling on row-major `[Float]` tables, after scikit-learn's scalers.
//
// Fit on the training rows only, then transform training and test rows with those statistics,
// so nothing about the test set leaks into training. Statistics are accumulated in Double.
//
// Misuse is a programming error and stops with a message, in release builds too (as an out-of-range array
// index does): transforming before `fit`, fitting on no rows, or passing a value count that is not
// whole rows of the fitted `featureCount`. Bad data is not misuse: `fit` and `transform` throw
// `DataError.nonFinite` for NaN or an infinity, which would otherwise poison a whole column's
// statistics (or a row's prediction) without a word.

/// A per-column scaler: fitted on training rows, then applied to any rows of that width.
public protocol FeatureScaler: Sendable {
    /// Learns the per-column statistics of `features`.
    ///
    /// - Parameters:
    ///   - features: Training rows, row-major.
    ///   - featureCount: Values per row.
    /// - Throws: `DataError.nonFinite` for NaN or an infinity.
    mutating func fit(_ features: [Float], featureCount: Int) throws
    /// `features` scaled with the fitted statistics.
    ///
    /// - Parameter features: Rows of the fitted width, row-major.
    /// - Returns: The scaled rows.
    /// - Throws: `DataError.nonFinite` for NaN or an infinity.
    func transform(_ features: [Float]) throws -> [Float]
}

extension FeatureScaler {
    /// `fit` then `transform` on the same rows.
    ///
    /// - Parameters:
    ///   - features: Training rows, row-major.
    ///   - featureCount: Values per row.
    /// - Returns: The scaled rows.
    /// - Throws: `DataError.nonFinite` for NaN or an infinity.
    public mutating func fitTransform(_ features: [Float], featureCount: Int) throws -> [Float] {
        try fit(features, featureCount: featureCount)
        return try transform(features)
    }
}

/// Centres each column on 0 and scales it to unit variance: `(x − mean) / std`.
/// The std is the population one (ddof 0), as scikit-learn's; a constant column keeps scale 1
/// rather than dividing by zero, so it becomes all zeros.
public struct StandardScaler: FeatureScaler {
    private var means: [Double] = []
    private var scales: [Double] = []

    /// An unfitted scaler.
    public init() {}

    /// Columns seen by `fit`; 0 before.
    public var featureCount: Int { means.count }
    /// Whether `fit` has run.
    public var isFitted: Bool { !means.isEmpty }
    /// Per-column means.
    public var mean: [Float] { means.map(Float.init) }
    /// Per-column divisors: the std, or 1 for constant columns.
    public var scale: [Float] { scales.map(Float.init) }

    /// Learns each column's mean and spread.
    ///
    /// - Parameters:
    ///   - features: Training rows, row-major.
    ///   - featureCount: Values per row.
    /// - Throws: `DataError.nonFinite` for NaN or an infinity.
    public mutating func fit(_ features: [Float], featureCount: Int) throws {
        let rows = checkedRows(features, featureCount: featureCount, caller: "StandardScaler.fit")
        try checkFinite(features, featureCount: featureCount, caller: "StandardScaler.fit")
        var sums = [Double](repeating: 0, count: featureCount)
        for (i, x) in features.enumerated() { sums[i % featureCount] += Double(x) }
        means = sums.map { $0 / Double(rows) }
        // Two passes: summing squares directly loses precision when the mean is large.
        var squares = [Double](repeating: 0, count: featureCount)
        for (i, x) in features.enumerated() {
            let d = Double(x) - means[i % featureCount]
            squares[i % featureCount] += d * d
        }
        scales = zip(squares, means).map { square, mean in
            let variance = square / Double(rows)
            // Rounding alone can leave a constant column a tiny variance; treat that as zero too.
            let noise = Double(rows) * Double.ulpOfOne * abs(mean)
            return variance <= noise * noise ? 1 : variance.squareRoot()
        }
    }

    /// `(x − mean) / std` per column.
    ///
    /// - Parameter features: Rows of the fitted width, row-major.
    /// - Returns: The scaled rows.
    /// - Throws: `DataError.nonFinite` for NaN or an infinity.
    public func transform(_ features: [Float]) throws -> [Float] {
        ensure(isFitted, "StandardScaler.transform called before fit(_:featureCount:)")
        _ = checkedRows(features, featureCount: featureCount, caller: "StandardScaler.transform", allowEmpty: true)
        try checkFinite(features, featureCount: featureCount, caller: "StandardScaler.transform")
        return features.enumerated().map { i, x in Float((Double(x) - means[i % featureCount]) / scales[i % featureCount]) }
    }

    /// The rows `transform` was given back from its output: `x · std + mean`.
    public func inverseTransform(_ features: [Float]) -> [Float] {
        ensure(isFitted, "StandardScaler.inverseTransform called before fit(_:featureCount:)")
        _ = checkedRows(features, featureCount: featureCount, caller: "StandardScaler.inverseTransform", allowEmpty: true)
        return features.enumerated().map { i, x in Float(Double(x) * scales[i % featureCount] + means[i % featureCount]) }
    }
}

/// Maps each column's training minimum and maximum onto `range` (0…1 by default). A constant
/// column has no spread to stretch; it keeps scale 1 (as scikit-learn) and lands on the range's
/// lower end. Test values outside the training extremes land outside `range`, not clipped.
public struct MinMaxScaler: FeatureScaler {
    /// Where the training extremes land.
    public let range: ClosedRange<Float>
    private var minimums: [Double] = []
    private var factors: [Double] = []
    private var maximums: [Double] = []

    /// An unfitted scaler onto `range`.
    ///
    /// - Parameter range: A non-empty target range; 0...1 by default.
    public init(range: ClosedRange<Float> = 0...1) {
        ensure(range.lowerBound < range.upperBound, "MinMaxScaler: the target range \(range) is empty")
        self.range = range
    }

    /// Columns seen by `fit`; 0 before.
    public var featureCount: Int { minimums.count }
    /// Whether `fit` has run.
    public var isFitted: Bool { !minimums.isEmpty }
    /// Per-column minimum seen by `fit`.
    public var dataMin: [Float] { minimums.map(Float.init) }
    /// Per-column maximum seen by `fit`.
    public var dataMax: [Float] { maximums.map(Float.init) }

    /// Learns each column's minimum and maximum.
    ///
    /// - Parameters:
    ///   - features: Training rows, row-major.
    ///   - featureCount: Values per row.
    /// - Throws: `DataError.nonFinite` for NaN or an infinity.
    public mutating func fit(_ features: [Float], featureCount: Int) throws {
        _ = checkedRows(features, featureCount: featureCount, caller: "MinMaxScaler.fit")
        try checkFinite(features, featureCount: featureCount, caller: "MinMaxScaler.fit")
        var low = [Double](repeating: .infinity, count: featureCount)
        var high = [Double](repeating: -.infinity, count: featureCount)
        for (i, x) in features.enumerated() {
            low[i % featureCount] = min(low[i % featureCount], Double(x))
            high[i % featureCount] = max(high[i % featureCount], Double(x))
        }
        let width = Double(range.upperBound) - Double(range.lowerBound)
        minimums = low
        maximums = high
        factors = zip(low, high).map { low, high in high > low ? width / (high - low) : 1 }
    }

    /// Each column mapped linearly so that its training extremes land on `range`.
    ///
    /// - Parameter features: Rows of the fitted width, row-major.
    /// - Returns: The scaled rows.
    /// - Throws: `DataError.nonFinite` for NaN or an infinity.
    public func transform(_ features: [Float]) throws -> [Float] {
        ensure(isFitted, "MinMaxScaler.transform called before fit(_:featureCount:)")
        _ = checkedRows(features, featureCount: featureCount, caller: "MinMaxScaler.transform", allowEmpty: true)
        try checkFinite(features, featureCount: featureCount, caller: "MinMaxScaler.transform")
        let lower = Double(range.lowerBound)
        // Measuring from the minimum maps the training extremes exactly onto the range's ends.
        return features.enumerated().map { i, x in
            Float(lower + (Double(x) - minimums[i % featureCount]) * factors[i % featureCount])
        }
    }

    /// The rows `transform` was given back from its output.
    public func inverseTransform(_ features: [Float]) -> [Float] {
        ensure(isFitted, "MinMaxScaler.inverseTransform called before fit(_:featureCount:)")
        _ = checkedRows(features, featureCount: featureCount, caller: "MinMaxScaler.inverseTransform", allowEmpty: true)
        let lower = Double(range.lowerBound)
        return features.enumerated().map { i, x in
            Float(minimums[i % featureCount] + (Double(x) - lower) / factors[i % featureCount])
        }
    }
}

/// Throws `DataError.nonFinite` for the first NaN or infinity, naming its row and column.
private func checkFinite(_ features: [Float], featureCount: Int, caller: String) throws {
    guard let index = features.firstIndex(where: { !$0.isFinite }) else { return }
    throw DataError.nonFinite(source: caller, row: index / featureCount, column: index % featureCount, value: "\(features[index])")
}

/// The number of rows in `features`, stopping with a message naming `caller` when they are not whole rows.
private func checkedRows(_ features: [Float], featureCount: Int, caller: String, allowEmpty: Bool = false) -> Int {
    ensure(featureCount > 0, "\(caller): featureCount must be positive, got \(featureCount)")
    ensure(
        features.count % featureCount == 0,
        "\(caller): \(features.count) values are not whole rows of \(featureCount) features")
    ensure(allowEmpty || !features.isEmpty, "\(caller): needs at least one row")
    return features.count / featureCount
}
