import Foundation
import Testing
@testable import FlintData

@Suite struct TabularDatasets {
    @Test(.enabled(if: sharedData("iris") != nil, noSharedData("iris")))
    func loadsIris() throws {
        let directory = try #require(sharedData("iris"))
        let iris = try TabularDataset.iris(from: directory)
        #expect(iris.count == 150 && iris.featureCount == 4 && iris.features.count == 600)
        #expect(iris.classNames == ["setosa", "versicolor", "virginica"])
        #expect(classCounts(iris.labels, classes: 3) == [50, 50, 50])
        #expect(Array(iris.features[0..<4]) == [5.1, 3.5, 1.4, 0.2])
        #expect(iris.labels.first == 0 && iris.labels.last == 2)
    }

    @Test(.enabled(if: sharedData("digits") != nil, noSharedData("digits")))
    func loadsDigits() throws {
        let directory = try #require(sharedData("digits"))
        let digits = try TabularDataset.digits(from: directory)
        #expect(digits.count == 1797 && digits.featureCount == 64 && digits.features.count == 1797 * 64)
        #expect(digits.classNames == (0...9).map(String.init))
        #expect(Set(digits.labels) == Set(0...9))
        // scikit-learn's load_digits: 178 182 177 183 181 182 181 179 174 180 per class.
        #expect(classCounts(digits.labels, classes: 10) == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
        #expect(digits.features.allSatisfy { $0 >= 0 && $0 <= 16 && $0 == $0.rounded() })
        #expect(Array(digits.features[0..<8]) == [0, 0, 5, 13, 9, 1, 0, 0])
    }

    /// The system folders are always searched; a machine that really has the data there can't run this.
    static let installedInSystemFolders = DataDirectory(explicit: "/nonexistent/flint", environment: ["HOME": "/tmp"]).roots
        .contains { root in ["iris", "digits"].contains { FileManager.default.fileExists(atPath: root.appendingPathComponent($0).path) } }

    @Test(.disabled(if: installedInSystemFolders, "iris or digits is installed in a system folder, so nothing is missing"))
    func missingDatasetsSayWhatToPutWhere() {
        let directory = DataDirectory(explicit: "/nonexistent/flint", environment: ["HOME": "/tmp"])
        #expect {
            try TabularDataset.iris(from: directory)
        } throws: { error in
            let message = "\(error)"
            return message.contains("/nonexistent/flint/iris") && message.contains("sklearn/datasets/data/iris.csv")
        }
        #expect {
            try TabularDataset.digits(from: directory)
        } throws: { error in
            "\(error)".contains("/nonexistent/flint/digits") && "\(error)".contains("digits.csv.gz")
        }
    }

    @Test func scikitLayoutIsChecked() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flint-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("iris"), withIntermediateDirectories: true)
        let file = root.appendingPathComponent("iris/iris.csv")
        let directory = DataDirectory(explicit: root.path, environment: [:])

        try Data("3,2,a,b\n1,2,0\n3,4,1\n5,6,1\n".utf8).write(to: file)
        let small = try TabularDataset.iris(from: directory)
        #expect(small.features == [1, 2, 3, 4, 5, 6] && small.labels == [0, 1, 1] && small.classNames == ["a", "b"])

        try Data("4,2,a,b\n1,2,0\n3,4,1\n5,6,1\n".utf8).write(to: file)
        #expect(throws: DataError.self) { try TabularDataset.iris(from: directory) }
        try Data("3,2,a,b\n1,2,0\n3,4,2\n5,6,1\n".utf8).write(to: file)
        #expect(throws: DataError.badLine(path: file.path, line: 3, reason: "class index 2 in column 2 is outside 0..<2")) {
            try TabularDataset.iris(from: directory)
        }
        try Data("sepal,petal,species\n".utf8).write(to: file)
        #expect(throws: DataError.self) { try TabularDataset.iris(from: directory) }
    }

    @Test func subsetPicksRowsInOrder() {
        let data = TabularDataset(features: [0, 1, 10, 11, 20, 21], featureCount: 2, labels: [0, 1, 0], classNames: ["x", "y"])
        let picked = data.subset([2, 0, 2])
        #expect(picked.features == [20, 21, 0, 1, 20, 21])
        #expect(picked.labels == [0, 0, 0] && picked.count == 3 && picked.classNames == ["x", "y"])
        #expect(data.subset([]).count == 0)
    }
}

func classCounts(_ labels: [Int32], classes: Int) -> [Int] {
    var counts = [Int](repeating: 0, count: classes)
    for label in labels { counts[Int(label)] += 1 }
    return counts
}
