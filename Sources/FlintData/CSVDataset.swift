import Foundation

/// The rows of a CSV file as samples: the feature columns make one float32 input per row, and
/// a target column (if any) int32 class indices or float32 values. CSV is text, so there is no
/// stored binary type to keep: the numbers are parsed once into one float32 array.
public struct CSVDataset: SampleDataset {
    /// How the target column is read.
    public enum Target: Sendable {
        /// Whole numbers ≥ 0: class indices for a classifier.
        case classIndex
        /// Any finite number: a regression target.
        case value
    }

    /// The feature columns' names, in input order.
    public let featureNames: [String]
    let rows: ArrayDataset

    /// Reads `url` (gzipped or not); every column but `targetColumn` is a feature.
    public init(contentsOf url: URL, hasHeader: Bool = true, delimiter: Character = ",",
                targetColumn: String? = nil, target: Target = .classIndex) throws {
        let table = try CSVTable(contentsOf: url, hasHeader: hasHeader, delimiter: delimiter)
        try self.init(table, targetColumn: try targetColumn.map(table.columnIndex(named:)), target: target)
    }

    /// Every column of `table` but `targetColumn` as features.
    public init(_ table: CSVTable, targetColumn: Int?, target: Target = .classIndex) throws {
        let featureColumns = (0..<table.columnCount).filter { $0 != targetColumn }
        guard !featureColumns.isEmpty else {
            throw DataError.corrupt(path: table.path, reason: "the table has no feature columns")
        }
        let features = HostArray(try table.features(columns: featureColumns), shape: [table.rowCount, featureColumns.count])
        let targets = try targetColumn.map { column -> HostArray in
            switch target {
            case .classIndex: HostArray(int32: try table.classIndices(column: column), shape: [table.rowCount])
            case .value: HostArray(try table.values(column: column), shape: [table.rowCount])
            }
        }
        featureNames = featureColumns.map { table.columnNames[$0] }
        rows = try ArrayDataset(features, target: targets)
    }

    /// The number of samples.
    public var count: Int { rows.count }
    /// Sample `index`, for `index` in `0..<count`.
    public func sample(at index: Int) throws -> Sample { try rows.sample(at: index) }
    /// The samples at `indices` stacked into one batch, in that order.
    public func batch(at indices: [Int]) throws -> HostBatch { try rows.batch(at: indices) }
    /// What every sample looks like.
    public func layout() throws -> SampleLayout { try rows.layout() }
}

extension TabularDataset: SampleDataset {
    /// Row `index`: its features (float32) and its class index.
    public func sample(at index: Int) throws -> Sample {
        try checkIndex(index)
        return Sample(Array(features[(index * featureCount)..<((index + 1) * featureCount)]), label: labels[index])
    }

    /// The samples at `indices` stacked into one batch, in that order.
    public func batch(at indices: [Int]) throws -> HostBatch {
        try indices.forEach(checkIndex)
        var picked: [Float] = []
        picked.reserveCapacity(indices.count * featureCount)
        for index in indices { picked += features[(index * featureCount)..<((index + 1) * featureCount)] }
        return HostBatch(inputs: [HostArray(picked, shape: [indices.count, featureCount])],
                         target: HostArray(int32: indices.map { labels[$0] }, shape: [indices.count]))
    }

    /// What every sample looks like.
    public func layout() throws -> SampleLayout {
        SampleLayout(inputs: [ArrayLayout(type: .float32, shape: [featureCount])], target: ArrayLayout(type: .int32, shape: []))
    }
}
