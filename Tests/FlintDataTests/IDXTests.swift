import Foundation
import Testing
@testable import FlintData

@Suite struct IDXReading {
    /// An IDX file of unsigned bytes with the given shape.
    static func idx(shape: [Int], values: [UInt8], rankByte: UInt8? = nil) -> Data {
        var bytes: [UInt8] = [0, 0, 0x08, rankByte ?? UInt8(shape.count)]
        for d in shape { bytes += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        return Data(bytes + values)
    }

    static func gzip(_ data: Data) throws -> Data {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flint-gz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("x")
        try data.write(to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-k", file.path]
        try process.run()
        process.waitUntilExit()
        return try Data(contentsOf: dir.appendingPathComponent("x.gz"))
    }

    @Test func readsShapeAndValues() throws {
        let array = try IDXArray(data: Self.idx(shape: [2, 3], values: [0, 1, 2, 253, 254, 255]))
        #expect(array.shape == [2, 3])
        #expect(array.values == [0, 1, 2, 253, 254, 255])
    }

    @Test func readsGzippedFilesIgnoringHeaderNameAndTime() throws {
        let raw = Self.idx(shape: [4], values: [9, 8, 7, 6])
        let compressed = try Self.gzip(raw)
        #expect(Gzip.isCompressed(compressed))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("flint-\(UUID().uuidString).gz")
        try compressed.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try IDXArray(contentsOf: url).values == [9, 8, 7, 6])
    }

    @Test func truncatedDataIsAnError() {
        #expect(throws: DataError.self) { try IDXArray(data: Self.idx(shape: [2, 3], values: [1, 2, 3])) }
        #expect(throws: DataError.self) { try IDXArray(data: Data([0, 0, 8, 2, 0, 0])) }
        #expect(throws: DataError.self) { try IDXArray(data: Data([1, 2, 3, 4, 5])) }
    }

    @Test func truncatedGzipIsAnError() throws {
        let compressed = try Self.gzip(Self.idx(shape: [1000], values: (0..<1000).map { UInt8($0 % 251) }))
        let cut = compressed.prefix(compressed.count / 2)
        #expect(throws: DataError.self) { try Gzip.decompress(Data(cut), path: "cut.gz") }
        var damaged = compressed
        damaged[12] ^= 0xFF
        damaged[13] ^= 0xFF
        #expect(throws: DataError.self) { try Gzip.decompress(damaged, path: "damaged.gz") }
    }

    @Test func missingDatasetSaysWhereItLooked() throws {
        // Debian's dataset-fashion-mnist may be installed system-wide; MNIST has no such package.
        try #require(!FileManager.default.fileExists(atPath: "/usr/share/datasets/mnist"))
        let directory = DataDirectory(environment: ["FLINT_DATA_DIR": "/also/missing", "XDG_CACHE_HOME": "/nonexistent/cache"])
        do {
            _ = try ImageDataset.mnist.load(.test, from: directory)
            Issue.record("loading from folders that do not exist must fail")
        } catch {
            let message = "\(error)"
            #expect(message.contains("/also/missing/mnist") && message.contains("/usr/share/datasets/mnist")
                    && message.contains("/nonexistent/cache/flint/datasets/mnist") && message.contains("--data-dir"), "got: \(message)")
        }
        let fashion = DataError.notFound(dataset: "fashion-mnist", searched: [], hint: ImageDataset.fashionMNIST.hint)
        #expect("\(fashion)".contains("apt-get install dataset-fashion-mnist"))
    }

    /// The real files of the shared data folder.
    @Test(.enabled(if: sharedData("mnist") != nil, noSharedData("mnist")))
    func loadsRealMNISTTestSplit() throws {
        let test = try ImageDataset.mnist.load(.test, from: try #require(sharedData("mnist")))
        #expect(test.count == 10_000 && test.height == 28 && test.width == 28)
        var counts = [Int](repeating: 0, count: 10)
        for label in test.labels { counts[Int(label)] += 1 }
        #expect(counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        #expect(test.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
    }
}
