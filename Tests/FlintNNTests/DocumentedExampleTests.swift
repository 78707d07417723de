import Flint
import Foundation
import Testing

/// The tabular example in docs/models.md, run as written (with the data folder made explicit).
@Suite struct DocumentedExamples {
    /// `$FLINT_TEST_DATA`, else `shared/data` beside the repository (this workspace's layout).
    static let shared: URL = {
        if let folder = ProcessInfo.processInfo.environment["FLINT_TEST_DATA"], !folder.isEmpty { return URL(fileURLWithPath: folder) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/data").standardized
    }()
    static let hasIris = FileManager.default.fileExists(atPath: shared.appendingPathComponent("iris").path)

    @Test(.enabled(if: hasIris, "iris is not in \(shared.path) (set FLINT_TEST_DATA to the folder of test datasets)"))
    func irisLogisticRegressionFromTheDocs() throws {
        let folder = Self.shared.path
        // Tabular data, scikit-learn style, from a folder holding iris/iris.csv.
        let iris = try TabularDataset.iris(from: DataDirectory(explicit: folder))
        let (train, test) = try trainTestSplit(count: iris.count, testFraction: 0.2, seed: 0, stratifyBy: iris.labels)
        var scaler = StandardScaler()
        let xTrain = try scaler.fitTransform(iris.subset(train).features, featureCount: 4)
        let xTest = try scaler.transform(iris.subset(test).features)
        let model = LogisticRegression(device: .cpu)
        try model.fit(xTrain, featureCount: 4, targets: iris.subset(train).labels)
        print(try model.score(xTest, targets: iris.subset(test).labels))
        let accuracy = try model.score(xTest, targets: iris.subset(test).labels)
        #expect(accuracy >= 0.9, "iris accuracy \(accuracy)")
    }
}
