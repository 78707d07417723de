import Testing
@testable import FlintData

@Suite struct Scalers {
    /// Per-column mean and population std of a row-major table.
    static func columnStatistics(_ values: [Float], featureCount: Int) -> (mean: [Double], std: [Double]) {
        let rows = Double(values.count / featureCount)
        let mean = (0..<featureCount).map { c in stride(from: c, to: values.count, by: featureCount).map { Double(values[$0]) }.reduce(0, +) / rows }
        let std = (0..<featureCount).map { c in
            (stride(from: c, to: values.count, by: featureCount).map { pow2(Double(values[$0]) - mean[c]) }.reduce(0, +) / rows).squareRoot()
        }
        return (mean, std)
    }
    static func pow2(_ x: Double) -> Double { x * x }
    static func close(_ a: [Float], _ b: [Float], _ tolerance: Float = 1e-5) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
    }

    // Three columns: wide-ranging, offset, and constant.
    static let table: [Float] = [1, 100, 7, 2, 101, 7, 3, 103, 7, 10, 96, 7]

    @Test func standardScalerCentresAndScales() throws {
        var scaler = StandardScaler()
        let scaled = try scaler.fitTransform(Self.table, featureCount: 3)
        let (mean, std) = Self.columnStatistics(scaled, featureCount: 3)
        for c in 0..<2 {
            #expect(abs(mean[c]) < 1e-6)
            #expect(abs(std[c] - 1) < 1e-5)
        }
        // The constant column: scale 1, so it becomes zeros rather than NaN.
        #expect(scaler.scale[2] == 1 && mean[2] == 0 && std[2] == 0)
        #expect(scaled.allSatisfy { $0.isFinite })
        // Population std (ddof 0), as scikit-learn: column 0 is 1, 2, 3, 10, with mean 4 and
        // squared deviations 9 + 4 + 1 + 36 = 50 over 4 rows (not 3).
        #expect(scaler.mean[0] == 4)
        #expect(abs(scaler.scale[0] - Float((50.0 / 4).squareRoot())) < 1e-6)
        #expect(Self.close(scaler.inverseTransform(scaled), Self.table))
    }

    @Test func standardScalerUsesTrainingStatisticsOnTest() throws {
        var scaler = StandardScaler()
        try scaler.fit([0, 10, 2, 30], featureCount: 2)  // means 1, 20; stds 1, 10
        #expect(try scaler.transform([1, 20, 3, 0]) == [0, 0, 2, -2])
        #expect(scaler.featureCount == 2 && scaler.isFitted)
        #expect(!StandardScaler().isFitted)
    }

    @Test(.enabled(if: sharedData("iris") != nil, noSharedData("iris")))
    func standardScalerOnRealIris() throws {
        let directory = try #require(sharedData("iris"))
        let iris = try TabularDataset.iris(from: directory)
        let (train, test) = try trainTestSplit(count: iris.count, testFraction: 0.2, seed: 0, stratifyBy: iris.labels)
        var scaler = StandardScaler()
        let trainScaled = try scaler.fitTransform(iris.subset(train).features, featureCount: 4)
        let (mean, std) = Self.columnStatistics(trainScaled, featureCount: 4)
        #expect(mean.allSatisfy { abs($0) < 1e-5 } && std.allSatisfy { abs($0 - 1) < 1e-5 })
        // The test rows use the training statistics, so theirs are near but not exactly 0 and 1.
        let testScaled = try scaler.transform(iris.subset(test).features)
        let testStats = Self.columnStatistics(testScaled, featureCount: 4)
        #expect(testStats.mean.allSatisfy { abs($0) < 0.5 } && testStats.mean.contains { abs($0) > 1e-4 })
        #expect(Self.close(scaler.inverseTransform(testScaled), iris.subset(test).features))
    }

    @Test func minMaxScalerMapsOntoTheRange() throws {
        var scaler = MinMaxScaler()
        let scaled = try scaler.fitTransform(Self.table, featureCount: 3)
        for c in 0..<2 {
            let column = stride(from: c, to: scaled.count, by: 3).map { scaled[$0] }
            #expect(column.min() == 0 && column.max() == 1)
        }
        #expect(stride(from: 2, to: scaled.count, by: 3).allSatisfy { scaled[$0] == 0 })  // constant column
        #expect(scaler.dataMin == [1, 96, 7] && scaler.dataMax == [10, 103, 7])
        #expect(Self.close(scaler.inverseTransform(scaled), Self.table))

        var symmetric = MinMaxScaler(range: -1...1)
        let wide = try symmetric.fitTransform(Self.table, featureCount: 3)
        #expect(Array(wide[0..<3]) == [-1, Float(-1 + 2 * 4.0 / 7), -1])
        #expect(Self.close(symmetric.inverseTransform(wide), Self.table))
    }

    @Test func minMaxScalerUsesTrainingExtremesOnTest() throws {
        var scaler = MinMaxScaler()
        try scaler.fit([0, 10, 4, 20], featureCount: 2)
        // Beyond the training range is not clipped; the constant-free columns scale by 1/4 and 1/10.
        #expect(try scaler.transform([2, 15, 8, 0]) == [0.5, 0.5, 2, -1])
        #expect(try scaler.transform([]) == [])
    }
}
