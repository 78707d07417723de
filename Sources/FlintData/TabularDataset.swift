import FlintBackend
import Foundation

/// Rows of features with integer class labels, on the host: the shape of scikit-learn's small
/// classification datasets.
public struct TabularDataset: Sendable {
    /// `count × featureCount` values, row-major.
    public var features: [Float]
    /// Values per row.
    public var featureCount: Int
    /// Class indices into `classNames`.
    public var labels: [Int32]
    /// The name of each class, in label order.
    public var classNames: [String]

    /// The number of rows.
    public var count: Int { labels.count }

    /// How a label column is written.
    public enum LabelEncoding: Sendable {
        /// Class indices `0, 1, 2, …`; the class names become `"0"`, `"1"`, ….
        case indices
        /// Class names such as `Iris-setosa`, numbered in sorted order.
        case names
    }

    /// The shapes must agree and every label must index `classNames`; a mismatch is a programming
    /// error (the loaders validate file contents and throw instead).
    public init(features: [Float], featureCount: Int, labels: [Int32], classNames: [String]) {
        ensure(featureCount > 0, "TabularDataset: featureCount must be positive, got \(featureCount)")
        ensure(
            features.count == labels.count * featureCount,
            "TabularDataset: \(features.count) feature values are not \(labels.count) rows of \(featureCount)")
        ensure(
            labels.allSatisfy { $0 >= 0 && Int($0) < classNames.count },
            "TabularDataset: a label is outside 0..<\(classNames.count) (the number of class names)")
        self.features = features
        self.featureCount = featureCount
        self.labels = labels
        self.classNames = classNames
    }

    /// The most classes a label column of class indices may describe: `.indices` makes one class
    /// per index up to the largest, so a stray huge index would otherwise ask for billions.
    public static let maximumClassCount = 65_536

    /// Every column of `table` but `labelColumn` as features, that column as labels.
    public init(_ table: CSVTable, labelColumn: Int, labels encoding: LabelEncoding) throws {
        let featureColumns = (0..<table.columnCount).filter { $0 != labelColumn }
        guard !featureColumns.isEmpty else {
            throw DataError.corrupt(path: table.path, reason: "the table has no columns besides the label column")
        }
        let labels: [Int32], classNames: [String]
        switch encoding {
        case .indices:
            labels = try table.classIndices(column: labelColumn, classCount: Self.maximumClassCount)
            classNames = (0...Int(labels.max() ?? 0)).map(String.init)
        case .names:
            (labels, classNames) = try table.encodedClasses(column: labelColumn)
        }
        self.init(
            features: try table.features(columns: featureColumns), featureCount: featureColumns.count,
            labels: labels, classNames: classNames)
    }

    /// The rows at `indices`, in that order (repeats allowed, for bootstrapping).
    public func subset(_ indices: [Int]) -> TabularDataset {
        var picked: [Float] = []
        picked.reserveCapacity(indices.count * featureCount)
        for index in indices {
            ensure(labels.indices.contains(index), "TabularDataset.subset: index \(index) is outside 0..<\(count)")
            picked += features[(index * featureCount)..<((index + 1) * featureCount)]
        }
        return TabularDataset(
            features: picked, featureCount: featureCount, labels: indices.map { labels[$0] }, classNames: classNames)
    }
}

// MARK: - Bundled scikit-learn datasets

extension TabularDataset {
    /// Fisher's iris (150 flowers, 4 measurements in cm, 3 species) from scikit-learn's `iris.csv`,
    /// whose first line is `n_samples,n_features,class names…`.
    public static func iris(from directory: DataDirectory = DataDirectory()) throws -> TabularDataset {
        let hint = "Copy iris.csv from scikit-learn (sklearn/datasets/data/iris.csv in any scikit-learn install; "
            + "its first line is 150,4,setosa,versicolor,virginica) into one of these folders, "
            + "or pass --data-dir DIR with the file at DIR/iris/iris.csv."
        let url = try directory.locate("iris", files: ["iris.csv"], hint: hint)[0]
        return try TabularDataset(scikitLearnCSV: CSVTable.text(contentsOf: url), path: url.path)
    }

    /// The 8×8 handwritten digits (UCI optdigits test part, 1797 images) from scikit-learn's
    /// `digits.csv.gz`: 64 pixel counts 0…16, kept unscaled as scikit-learn does, then the label.
    public static func digits(from directory: DataDirectory = DataDirectory()) throws -> TabularDataset {
        let hint = "Copy digits.csv.gz from scikit-learn (sklearn/datasets/data/digits.csv.gz in any scikit-learn "
            + "install) into one of these folders, or pass --data-dir DIR with the file at DIR/digits/digits.csv.gz."
        let url = try directory.locate("digits", files: ["digits.csv"], hint: hint)[0]
        let table = try CSVTable(contentsOf: url, hasHeader: false)
        guard table.columnCount == 65 else {
            throw DataError.corrupt(path: url.path, reason: "expected 65 columns (64 pixels and a label), found \(table.columnCount)")
        }
        return TabularDataset(
            features: try table.features(columns: 0..<64), featureCount: 64,
            labels: try table.classIndices(column: 64, classCount: 10), classNames: (0...9).map(String.init))
    }

    /// A table in scikit-learn's bundled CSV layout (iris.csv, wine_data.csv): a
    /// `n_samples,n_features,class names…` line, then rows of features and a class index.
    /// `path` only labels error messages.
    public init(scikitLearnCSV text: String, path: String = "<memory>") throws {
        var records = try CSVTable.records(in: text, delimiter: ",", path: path)
        guard !records.isEmpty else { throw DataError.corrupt(path: path, reason: "the file is empty") }
        let meta = records.removeFirst().fields.map { $0.trimmingSpaces() }
        guard meta.count >= 3, let rowCount = Int(meta[0]), let featureCount = Int(meta[1]), featureCount > 0,
            meta[2...].allSatisfy({ !$0.isEmpty })
        else {
            throw DataError.badLine(
                path: path, line: 1,
                reason: "expected scikit-learn's first line 'n_samples,n_features,class names…', "
                    + "found '\(DataError.excerpt(meta.joined(separator: ",")))'")
        }
        let classNames = Array(meta[2...])
        let table = try CSVTable(path: path, header: nil, records: records)
        // Compared as columnCount − 1: featureCount + 1 would trap for a first line claiming Int.max features.
        guard table.rowCount == rowCount, table.columnCount - 1 == featureCount else {
            throw DataError.corrupt(
                path: path,
                reason: "the first line promises \(rowCount) rows of \(featureCount) features and a label, "
                    + "found \(table.rowCount) rows of \(table.columnCount) columns")
        }
        self.init(
            features: try table.features(columns: 0..<featureCount), featureCount: featureCount,
            labels: try table.classIndices(column: featureCount, classCount: classNames.count), classNames: classNames)
    }
}
