import Foundation
import Testing
@testable import FlintData

/// `IDXFile` and `IDXDataset`: the same rows whether the file is mapped, decoded into memory or
/// read from disk batch by batch, gzipped or not, and multi-byte elements decoded from big-endian.
@Suite struct IDXFileReading {
    static func temporary(_ data: Data, name: String = "x") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("flint-idx-\(UUID().uuidString)-\(name)")
        try data.write(to: url)
        return url
    }

    static func pixels(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 / 7) } }

    @Test func everyAccessGivesTheSameRows() throws {
        let values = Self.pixels(9 * 4 * 3)
        let plain = try Self.temporary(IDXReading.idx(shape: [9, 4, 3], values: values))
        let zipped = try Self.temporary(IDXReading.gzip(IDXReading.idx(shape: [9, 4, 3], values: values)), name: "x.gz")
        defer { for url in [plain, zipped] { try? FileManager.default.removeItem(at: url) } }
        let files = [try IDXFile(contentsOf: plain), try IDXFile(contentsOf: plain, access: .memory),
                     try IDXFile(contentsOf: plain, access: .disk), try IDXFile(contentsOf: zipped)]
        #expect(files[0].isMapped && !files[1].isMapped && files[2].readsFromDisk && !files[3].isMapped)
        #expect(files[2].array == nil)
        let order = [8, 0, 3, 3, 5]
        let expected = order.flatMap { Array(values[($0 * 12)..<(($0 + 1) * 12)]) }
        for file in files {
            #expect(file.shape == [9, 4, 3] && file.type == .uint8 && file.sampleShape == [4, 3])
            let rows = try file.rows(at: order)
            #expect(rows.shape == [5, 4, 3])
            #expect(rows.withUnsafeBytes { Array($0) } == expected)
        }
        #expect(throws: DatasetError.indexOutOfRange(index: 9, count: 9)) { try files[2].rows(at: [9]) }
        #expect(throws: DataError.self) { try IDXFile(contentsOf: zipped, access: .disk) }
    }

    @Test func zlibAndLibDeflateDecodeTheSame() throws {
        let raw = IDXReading.idx(shape: [300, 28, 28], values: Self.pixels(300 * 784))
        let compressed = try IDXReading.gzip(raw)
        let zlib = try compressed.withUnsafeBytes { try Gunzip.decode($0, path: "x", allowLibDeflate: false) }
        let fast = try compressed.withUnsafeBytes { try Gunzip.decode($0, path: "x") }
        #expect(Array(zlib.bytes) == Array(raw) && Array(fast.bytes) == Array(raw))
        // A damaged stream is a one-line error from zlib, whichever decoder tried first.
        var damaged = compressed
        damaged[compressed.count / 2] ^= 0xFF
        #expect(throws: DataError.self) { try damaged.withUnsafeBytes { try Gunzip.decode($0, path: "x") } }
        let truncated = compressed.prefix(compressed.count - 100)
        #expect(throws: DataError.self) { try truncated.withUnsafeBytes { try Gunzip.decode($0, path: "x", allowLibDeflate: false) } }
    }

    /// Found by fuzzing: a 32-byte gzip file whose trailer claimed 2.8 GB had that much allocated
    /// before a byte was decoded. The trailer is now believed only up to deflate's 1032:1 ratio.
    @Test func anImplausibleGzipTrailerIsNotAllocatedFor() throws {
        var bomb = try IDXReading.gzip(IDXReading.idx(shape: [2, 2], values: [1, 2, 3, 4]))
        let honest = bomb.withUnsafeBytes(Gunzip.expectedSize)
        #expect(honest == 4 + 4 * 2 + 4)
        bomb.replaceSubrange((bomb.count - 4)..<bomb.count, with: [0x08, 0x00, 0x00, 0xA9])   // 2.83e9 bytes
        #expect(bomb.withUnsafeBytes(Gunzip.expectedSize) == nil)
        let url = try Self.temporary(bomb, name: "bomb.gz")
        defer { try? FileManager.default.removeItem(at: url) }
        // The streaming decoder finds the real size disagreeing with the trailer: an error, not 2.8 GB.
        #expect(throws: DataError.self) { try IDXFile(contentsOf: url) }
    }

    /// Found by fuzzing: a dimension of 0 hid the overflow of the others' product, which then
    /// trapped where sizes were multiplied in another order (a row's size, a host array's bytes).
    @Test(arguments: [[0, 0x4646_4646, 0x4646_4646, 0x4646_4646], [0x7E46_4646, 0x461F_0000, 0x1F00, 0, 0x7F80_0000]])
    func aZeroDimensionDoesNotHideAnOverflow(dimensions: [UInt32]) throws {
        var header: [UInt8] = [0, 0, 0x09, UInt8(dimensions.count)]
        for dimension in dimensions { header += withUnsafeBytes(of: dimension.bigEndian, Array.init) }
        let url = try Self.temporary(Data(header), name: "huge-rows.idx")
        defer { try? FileManager.default.removeItem(at: url) }
        for access in [IDXFile.Access.automatic, .memory, .disk] {
            #expect(throws: DataError.self) { try IDXFile(contentsOf: url, access: access) }
        }
        #expect(throws: DataError.self) { try IDXArray(data: Data(header)) }
    }

    @Test func multiByteElementsAreDecodedFromBigEndian() throws {
        func file(_ code: UInt8, _ elements: [[UInt8]]) -> Data {
            Data([0, 0, code, 1, 0, 0, 0, UInt8(elements.count)] + elements.flatMap { $0 })
        }
        let cases: [(UInt8, [[UInt8]], [Float])] = [
            (0x09, [[0xFF], [0x7F]], [-1, 127]),
            (0x0B, [[0xFF, 0xFE], [0x01, 0x00]], [-2, 256]),
            (0x0C, [[0xFF, 0xFF, 0xFF, 0xFD], [0, 1, 0, 0]], [-3, 65536]),
            (0x0D, [Array(withUnsafeBytes(of: Float(1.5).bitPattern.bigEndian) { $0 }), Array(withUnsafeBytes(of: Float(-2).bitPattern.bigEndian) { $0 })], [1.5, -2]),
            (0x0E, [Array(withUnsafeBytes(of: Double(0.25).bitPattern.bigEndian) { $0 }), Array(withUnsafeBytes(of: Double(-8).bitPattern.bigEndian) { $0 })], [0.25, -8]),
        ]
        for (code, elements, expected) in cases {
            let url = try Self.temporary(file(code, elements))
            defer { try? FileManager.default.removeItem(at: url) }
            let idx = try IDXFile(contentsOf: url)
            #expect(try idx.rows(at: [0, 1]).floats == expected, "IDX type 0x\(String(code, radix: 16))")
            #expect(idx.type == (code == 0x09 ? .int8 : code <= 0x0C ? .int32 : .float32))
        }
    }

    @Test func damagedFilesAreOneLineErrors() throws {
        let cases: [Data] = [Data(), Data([1, 2, 3, 4, 5]), Data([0, 0, 8, 2, 0, 0]), IDXReading.idx(shape: [2, 3], values: [1, 2, 3]),
                             Data([0, 0, 0x42, 1, 0, 0, 0, 1, 0]), IDXReading.idx(shape: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], values: [])]
        for data in cases {
            let url = try Self.temporary(data)
            defer { try? FileManager.default.removeItem(at: url) }
            #expect(throws: DataError.self, "\(Array(data.prefix(12)))") { try IDXFile(contentsOf: url) }
        }
        #expect(throws: DataError.self) { try IDXFile(contentsOf: FileManager.default.temporaryDirectory) }
    }

    @Test func datasetPairsInputsWithLabels() throws {
        let images = try Self.temporary(IDXReading.idx(shape: [5, 2, 2], values: Self.pixels(20)))
        let labels = try Self.temporary(IDXReading.idx(shape: [5], values: [3, 1, 4, 1, 5]))
        let short = try Self.temporary(IDXReading.idx(shape: [4], values: [3, 1, 4, 1]))
        defer { for url in [images, labels, short] { try? FileManager.default.removeItem(at: url) } }
        let data = try IDXDataset(inputs: images, targets: labels)
        #expect(data.count == 5)
        let layout = try data.layout()
        #expect(layout.inputs == [ArrayLayout(type: .uint8, shape: [2, 2], conversion: .float)])
        #expect(layout.target == ArrayLayout(type: .uint8, shape: [], conversion: .int32))
        let batch = try data.batch(at: [4, 2])
        #expect(batch.inputs[0].floats == (Self.pixels(20)[16..<20] + Self.pixels(20)[8..<12]).map(Float.init))
        #expect(batch.target?.int32s == [5, 4] && batch.target?.conversion == .int32)
        let sample = try data.sample(at: 2)
        #expect(sample.inputs[0].shape == [2, 2] && sample.target?.shape == [] && sample.target?.int32s == [4])
        #expect(try data.labels() == [3, 1, 4, 1, 5])
        #expect(throws: DataError.self) { try IDXDataset(inputs: images, targets: short) }
    }

    @Test(.enabled(if: sharedData("mnist") != nil, noSharedData("mnist")))
    func mnistBytesAreTheFloatLoadersPixels() throws {
        let directory = try #require(sharedData("mnist"))
        let bytes = try ImageDataset.mnist.samples(.test, from: directory)
        let floats = try ImageDataset.mnist.load(.test, from: directory)
        #expect(bytes.count == 10_000 && bytes.inputs.shape == [10_000, 28, 28] && bytes.inputs.type == .uint8)
        #expect(try bytes.labels() == floats.labels)
        let array = try #require(bytes.inputs.array)
        #expect(array.floats.map { $0 / 255 } == floats.pixels)
        let (mean, deviation) = try bytes.inputStatistics(scale: 1.0 / 255)
        let referenceMean = floats.pixels.reduce(0.0) { $0 + Double($1) } / Double(floats.pixels.count)
        let referenceVariance = floats.pixels.reduce(0.0) { $0 + (Double($1) - referenceMean) * (Double($1) - referenceMean) } / Double(floats.pixels.count)
        #expect(Swift.abs(Double(mean) - referenceMean) < 1e-6 && Swift.abs(Double(deviation) - referenceVariance.squareRoot()) < 1e-6)
    }
}
