import Foundation
import Testing
@testable import FlintData

/// Plausible bad input: each case is a `DataError` with a one-line reason, never a trap.
@Suite struct BadInput {
    /// An IDX header (magic, type, rank, big-endian dimensions) followed by `payload`.
    static func idx(type: UInt8 = 0x08, shape: [UInt32], payload: [UInt8]) -> Data {
        var bytes: [UInt8] = [0, 0, type, UInt8(shape.count)]
        for d in shape { bytes += [UInt8(d >> 24), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        return Data(bytes + payload)
    }

    /// Big-endian float32 payload (IDX type 0x0D).
    static func floats(_ values: [Float]) -> [UInt8] {
        values.flatMap { value -> [UInt8] in
            let bits = value.bitPattern
            return [UInt8(bits >> 24), UInt8(bits >> 16 & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits & 0xFF)]
        }
    }

    /// A fresh root holding `mnist/` with the given files (name → contents); removed by the caller.
    static func mnistRoot(_ files: [String: Data], under subfolder: String = "") throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flint-bad-\(UUID().uuidString)")
        let folder = root.appendingPathComponent(subfolder).appendingPathComponent("mnist")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, data) in files { try data.write(to: folder.appendingPathComponent(name)) }
        return root
    }

    /// The four MNIST files with `count` images of `side × side` pixels each (labels all 1),
    /// with any of them replaced.
    static func mnistFiles(count: Int = 2, side: UInt32 = 28, replacing replacements: [String: Data] = [:]) -> [String: Data] {
        let pixels = [UInt8](repeating: 7, count: count * Int(side * side))
        let images = idx(shape: [UInt32(count), side, side], payload: pixels)
        let labels = idx(shape: [UInt32(count)], payload: [UInt8](repeating: 1, count: count))
        var files = ["train-images-idx3-ubyte": images, "train-labels-idx1-ubyte": labels,
                     "t10k-images-idx3-ubyte": images, "t10k-labels-idx1-ubyte": labels]
        files.merge(replacements) { $1 }
        return files
    }

    static func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    // MARK: IDX

    @Test func idxDimensionsThatOverflowAreAnError() {
        for shape: [UInt32] in [[0xFFFF_FFFF, 0xFFFF_FFFF, 3], [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], [0x8000_0000, 0x8000_0000, 2]] {
            let error = Self.message { _ = try IDXArray(data: Self.idx(shape: shape, payload: [1, 2, 3])) }
            #expect(error.contains("multiply to more elements"), "\(shape): \(error)")
        }
        // Element width counts too: 2⁶¹ float64s are 2⁶⁴ bytes.
        let wide = Self.message { _ = try IDXArray(data: Self.idx(type: 0x0E, shape: [0x2000_0000, 0x1_0000 - 1, 0x1_0000], payload: [])) }
        #expect(wide.contains("multiply to more elements") || wide.contains("truncated"), "\(wide)")
    }

    @Test func mnistLabelsMustBeWholeClasses() throws {
        for (name, labels) in [("NaN", [Float.nan, 1]), ("2.5", [2.5, 1]), ("10", [10, 1]), ("-1", [-1, 1]), ("inf", [.infinity, 1])] {
            let root = try Self.mnistRoot(Self.mnistFiles(replacing: [
                "train-labels-idx1-ubyte": Self.idx(type: 0x0D, shape: [2], payload: Self.floats(labels))]))
            defer { try? FileManager.default.removeItem(at: root) }
            let error = Self.message { _ = try ImageDataset.mnist.load(.train, from: DataDirectory(explicit: root.path, environment: [:])) }
            #expect(error.contains("train-labels-idx1-ubyte") && error.contains("label 0") && error.contains("not a class 0…9"),
                    "label \(name): \(error)")
        }
    }

    @Test func mnistImagesMustBe28By28() throws {
        for (what, shape) in [("an empty dimension", [UInt32(2), 0, 28]), ("another size", [2, 14, 14]), ("rank 2", [2, 784])] {
            let images = Self.idx(shape: shape, payload: [UInt8](repeating: 0, count: shape.reduce(1) { $0 * Int($1) }))
            // The test split differs from the training split: loading it must say so, not crash later.
            let root = try Self.mnistRoot(Self.mnistFiles(replacing: ["t10k-images-idx3-ubyte": images]))
            defer { try? FileManager.default.removeItem(at: root) }
            let directory = DataDirectory(explicit: root.path, environment: [:])
            #expect(try ImageDataset.mnist.load(.train, from: directory).count == 2)
            let error = Self.message { _ = try ImageDataset.mnist.load(.test, from: directory) }
            #expect(error.contains("t10k-images-idx3-ubyte") && error.contains("expected 28×28 images"), "\(what): \(error)")
        }
        let root = try Self.mnistRoot(Self.mnistFiles(count: 0))
        defer { try? FileManager.default.removeItem(at: root) }
        let error = Self.message { _ = try ImageDataset.mnist.load(.train, from: DataDirectory(explicit: root.path, environment: [:])) }
        #expect(error.contains("holds no images"), "\(error)")
    }

    @Test func nonFinitePixelsAreReportedWhenLoaded() throws {
        var pixels = [Float](repeating: 0.5, count: 2 * 784)
        pixels[784 + 28 * 3 + 4] = .nan
        let root = try Self.mnistRoot(Self.mnistFiles(replacing: [
            "train-images-idx3-ubyte": Self.idx(type: 0x0D, shape: [2, 28, 28], payload: Self.floats(pixels))]))
        defer { try? FileManager.default.removeItem(at: root) }
        let error = Self.message { _ = try ImageDataset.mnist.load(.train, from: DataDirectory(explicit: root.path, environment: [:])) }
        #expect(error.contains("image 1, pixel (3, 4) is nan"), "\(error)")
    }

    // MARK: Folders

    @Test func explicitFolderIsTheOnlyPlaceSearched() throws {
        let complete = try Self.mnistRoot(Self.mnistFiles())
        defer { try? FileManager.default.removeItem(at: complete) }
        let environment = ["FLINT_DATA_DIR": complete.path, "XDG_CACHE_HOME": complete.path]
        // Without --data-dir, FLINT_DATA_DIR is used.
        #expect(try ImageDataset.mnist.load(.train, from: DataDirectory(environment: environment)).count == 2)
        // With one, nothing else is: a missing folder is an error even though FLINT_DATA_DIR has the data.
        let explicit = DataDirectory(explicit: "/nonexistent/flint", environment: environment)
        #expect(explicit.roots.map(\.path) == ["/nonexistent/flint"] && explicit.isExplicit)
        let error = Self.message { _ = try ImageDataset.mnist.load(.train, from: explicit) }
        #expect(error.contains("/nonexistent/flint/mnist") && !error.contains(complete.path), "\(error)")
    }

    @Test func everySplitComesFromOneFolderAndMissingFilesAreListed() throws {
        var trainOnly = Self.mnistFiles()
        trainOnly["t10k-images-idx3-ubyte"] = nil
        trainOnly["t10k-labels-idx1-ubyte"] = nil
        let partial = try Self.mnistRoot(trainOnly)
        // Where XDG_CACHE_HOME=complete puts the user cache root.
        let complete = try Self.mnistRoot(Self.mnistFiles(), under: "flint/datasets")
        defer {
            try? FileManager.default.removeItem(at: partial)
            try? FileManager.default.removeItem(at: complete)
        }
        // --data-dir with only the training files: an error naming the missing test files,
        // not a test split read from FLINT_DATA_DIR.
        let explicit = DataDirectory(explicit: partial.path, environment: ["FLINT_DATA_DIR": complete.path + "/flint/datasets"])
        for split in [ImageDataset.Split.train, .test] {
            let error = Self.message { _ = try ImageDataset.mnist.load(split, from: explicit) }
            #expect(error.contains("\(partial.path)/mnist is incomplete") && error.contains("t10k-images-idx3-ubyte")
                    && error.contains("t10k-labels-idx1-ubyte") && !error.contains("train-images-idx3-ubyte (or"), "\(error)")
        }
        // Searching, a complete folder later in the order wins over an incomplete earlier one.
        let searched = DataDirectory(environment: ["FLINT_DATA_DIR": partial.path, "XDG_CACHE_HOME": complete.path])
        let found = try searched.locate("mnist", files: ["t10k-images-idx3-ubyte"], hint: "")
        #expect(found.first?.path.hasPrefix(complete.path) == true || FileManager.default.fileExists(atPath: "/usr/share/datasets/mnist"))
    }

    @Test func aFolderWhereAFileShouldBeIsASentence() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flint-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("iris/iris.csv"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let error = Self.message { _ = try TabularDataset.iris(from: DataDirectory(explicit: root.path, environment: [:])) }
        #expect(error == "cannot read \(root.path)/iris/iris.csv: it is a folder, not a file", "\(error)")
        let unreadable = Self.message { _ = try IDXArray(contentsOf: URL(fileURLWithPath: "/nonexistent/flint.idx")) }
        #expect(unreadable == "cannot read /nonexistent/flint.idx: No such file or directory", "\(unreadable)")
    }

    // MARK: CSV and tables

    @Test func hugeClassIndicesAreAnErrorNotATrap() throws {
        for label in ["2147483647", "2147483648", "99999999999", "65536"] {
            let table = try CSVTable(text: "a,label\n1,0\n2,\(label)\n", path: "t.csv")
            let error = Self.message { _ = try TabularDataset(table, labelColumn: 1, labels: .indices) }
            #expect(error.hasPrefix("t.csv, line 3:"), "label \(label): \(error)")
            let bounded = Self.message { _ = try table.classIndices(column: 1, classCount: 10) }
            #expect(bounded.hasPrefix("t.csv, line 3:"), "label \(label): \(bounded)")
        }
        let fine = try TabularDataset(try CSVTable(text: "a,label\n1,0\n2,65535\n"), labelColumn: 1, labels: .indices)
        #expect(fine.classNames.count == 65_536)
    }

    /// Found reviewing the fuzz targets: a header promising Int.max features overflowed `+ 1`.
    @Test func scikitLearnHeaderWithHugeCountsIsAnError() {
        for header in ["1,9223372036854775807,a", "9223372036854775807,1,a", "1,1,a\n1,2,3,4"] {
            #expect(throws: DataError.self, "\(header)") { try TabularDataset(scikitLearnCSV: header + "\n1,0\n", path: "s.csv") }
        }
    }

    @Test func longFieldsAreTruncatedInMessages() throws {
        let huge = String(repeating: "x", count: 2_000_000)
        let error = Self.message { _ = try CSVTable(text: "a,b\n1,\(huge)\n").features(columns: [1]) }
        #expect(error.count < 200 && error.contains("(2000000 characters)"), "\(error.prefix(300))")
        let header = Self.message { _ = try CSVTable(text: "\(huge),b\n1,2\n").columnIndex(named: huge) }
        #expect(header.count < 400, "\(header.prefix(300))")
    }

    // MARK: Splits and scalers

    @Test func tooFewRowsForASplitAreAnError() {
        for count in [0, 1] {
            #expect(throws: DataError.self) { try trainTestSplit(count: count, testFraction: 0.2, seed: 0) }
        }
        #expect(throws: DataError.self) { try trainTestSplit(count: 10, testFraction: 1, seed: 0) }
        #expect(throws: DataError.self) { try trainTestSplit(count: 10, testFraction: 0.5, seed: 0, stratifyBy: [0, 1]) }
        #expect(throws: DataError.cannotSplit(reason: "5-fold cross-validation needs at least 5 rows, found 2")) {
            try KFold(k: 5).folds(count: 2)
        }
        #expect(throws: DataError.self) { try KFold(k: 2).folds(count: 3, stratifyBy: [0]) }
    }

    @Test func nonFiniteFeaturesAreReportedWhenScaled() throws {
        var standard = StandardScaler()
        #expect(throws: DataError.nonFinite(source: "StandardScaler.fit", row: 1, column: 0, value: "nan")) {
            try standard.fit([1, 2, .nan, 4], featureCount: 2)
        }
        #expect(!standard.isFitted)
        try standard.fit([1, 2, 3, 4], featureCount: 2)
        #expect(throws: DataError.nonFinite(source: "StandardScaler.transform", row: 0, column: 1, value: "inf")) {
            try standard.transform([1, .infinity])
        }
        var minMax = MinMaxScaler()
        #expect(throws: DataError.self) { try minMax.fit([-.infinity, 2], featureCount: 2) }
    }
}
