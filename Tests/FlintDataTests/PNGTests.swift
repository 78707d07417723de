import CZlib
import Foundation
import Testing
@testable import FlintData

/// A PNG reader written for the tests from the specification, sharing no code with the encoder
/// (its CRC is computed bit by bit; zlib only inflates).
enum PNGReader {
    struct Decoded: Equatable {
        var width = 0, height = 0, colorType = -1
        var pixels: [UInt8] = []
        var filters: Set<UInt8> = []
        var chunkTypes: [String] = []
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    /// The specification's Paeth predictor: whichever of left, above, above-left is nearest
    /// to left + above - above-left, ties going in that order.
    static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let (pa, pb, pc) = (abs(p - a), abs(p - b), abs(p - c))
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
    }

    static func bigEndian(_ bytes: ArraySlice<UInt8>) -> Int {
        bytes.reduce(0) { $0 << 8 | Int($1) }
    }

    static func decode(_ data: Data) throws -> Decoded {
        let bytes = [UInt8](data)
        guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { throw Failure(description: "signature") }
        var result = Decoded(), position = 8, compressed: [UInt8] = []
        while position < bytes.count {
            guard position + 12 <= bytes.count else { throw Failure(description: "truncated chunk") }
            let length = bigEndian(bytes[position..<(position + 4)])
            let typeAndBody = Array(bytes[(position + 4)..<(position + 8 + length)])
            let stored = UInt32(bigEndian(bytes[(position + 8 + length)..<(position + 12 + length)]))
            guard crc32(typeAndBody) == stored else { throw Failure(description: "CRC mismatch") }
            let type = String(decoding: typeAndBody[0..<4], as: UTF8.self)
            let body = Array(typeAndBody[4...])
            result.chunkTypes.append(type)
            if type == "IHDR" {
                result.width = bigEndian(body[0..<4])
                result.height = bigEndian(body[4..<8])
                guard body[8] == 8, body[10] == 0, body[11] == 0, body[12] == 0 else { throw Failure(description: "IHDR \(body)") }
                result.colorType = Int(body[9])
            } else if type == "IDAT" {
                compressed += body
            }
            position += 12 + length
        }
        let channels = result.colorType == 2 ? 3 : 1
        let stride = result.width * channels
        var raw = [UInt8](repeating: 0, count: result.height * (stride + 1))
        var size = uLongf(raw.count)
        guard uncompress(&raw, &size, compressed, uLong(compressed.count)) == Z_OK, Int(size) == raw.count else {
            throw Failure(description: "inflate")
        }
        var previous = [UInt8](repeating: 0, count: stride)
        for y in 0..<result.height {
            let filter = raw[y * (stride + 1)]
            result.filters.insert(filter)
            var row = Array(raw[(y * (stride + 1) + 1)..<((y + 1) * (stride + 1))])
            for i in 0..<stride {
                let a = i >= channels ? Int(row[i - channels]) : 0, b = Int(previous[i])
                let c = i >= channels ? Int(previous[i - channels]) : 0
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = b
                case 3: predicted = (a + b) / 2
                case 4: predicted = paeth(a, b, c)
                default: throw Failure(description: "filter \(filter)")
                }
                row[i] = UInt8((Int(row[i]) + predicted) & 0xFF)
            }
            result.pixels += row
            previous = row
        }
        return result
    }
}

/// Python 3 on the PATH, for decoding with a second, unrelated implementation.
enum Python {
    static let available: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import zlib"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// Runs a script from Tools/ and returns its standard output and exit status.
    static func run(_ script: String, _ arguments: [String]) throws -> (output: String, status: Int32) {
        let tools = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Tools").standardized
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", tools.appendingPathComponent(script).path] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = output.fileHandleForReading.readDataToEndOfFile()
        let problems = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (String(decoding: text + problems, as: UTF8.self), process.terminationStatus)
    }
}

@Suite struct PNGEncoding {
    /// Images that make every filter worth choosing somewhere: flat, gradients, noise.
    static func samples() -> [PixelImage] {
        var state: UInt32 = 12345
        func noise() -> UInt8 { state = state &* 1_664_525 &+ 1_013_904_223; return UInt8(state >> 24) }
        let gradient: [UInt8] = (0..<(37 * 23)).map { (i: Int) -> UInt8 in
            let value: Int = (i % 37) * 7 + (i / 37) * 3
            return UInt8(value & 0xFF)
        }
        let rgb = (0..<(19 * 11)).flatMap { i -> [UInt8] in
            let (x, y) = (i % 19, i / 19)
            return [UInt8(x * 13), UInt8(y * 20), x < 9 ? noise() : UInt8(x * y)]
        }
        return [
            PixelImage(width: 1, height: 1, format: .grey, pixels: [200]),
            PixelImage(width: 1, height: 1, format: .rgb, pixels: [1, 2, 3]),
            PixelImage(width: 37, height: 23, format: .grey, pixels: gradient),
            PixelImage(width: 19, height: 11, format: .rgb, pixels: rgb),
            PixelImage(width: 64, height: 3, format: .grey, pixels: (0..<192).map { _ in noise() }),
            PixelImage(width: 300, height: 200, format: .grey, level: 255),
        ]
    }

    @Test func knownBytesOfAOnePixelImage() {
        let file = [UInt8](PNG.encode(PixelImage(width: 1, height: 1, format: .grey, pixels: [0])))
        #expect(Array(file[0..<8]) == PNG.signature)
        // IHDR: length 13, "IHDR", width 1, height 1, depth 8, grey, deflate, filter 0, no interlace.
        #expect(Array(file[8..<33]) == [0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0,
                                        0x3A, 0x7E, 0x9B, 0x55])
        // IEND and its well-known CRC close the file.
        #expect(Array(file.suffix(12)) == [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
    }

    @Test(arguments: samples())
    func independentReaderRecoversThePixels(_ image: PixelImage) throws {
        let decoded = try PNGReader.decode(PNG.encode(image))
        #expect(decoded.width == image.width && decoded.height == image.height)
        #expect(decoded.colorType == (image.format == .grey ? 0 : 2))
        #expect(decoded.chunkTypes == ["IHDR", "IDAT", "IEND"])
        #expect(decoded.pixels == image.pixels)
    }

    @Test func filtersAreChosenPerRowAndShrinkSmoothPictures() throws {
        let samples = Self.samples()
        let used = try samples.reduce(into: Set<UInt8>()) { $0.formUnion(try PNGReader.decode(PNG.encode($1)).filters) }
        #expect(used.count >= 3, "filters used: \(used.sorted())")
        // A horizontal gradient: Sub turns every row into constants, which deflate to almost nothing.
        let ramp = PixelImage(width: 256, height: 64, format: .grey, pixels: (0..<(256 * 64)).map { UInt8($0 % 256) })
        #expect(PNG.encode(ramp).count < 400)
    }

    @Test func everyFilterInvertsThroughTheReader() throws {
        // Filtering is checked against the reader's unfiltering for each filter type alone.
        let image = Self.samples()[3]
        let stride = image.width * 3
        for type in UInt8(0)...4 {
            var rows = [UInt8]()
            for y in 0..<image.height {
                rows.append(type)
                for i in 0..<stride {
                    let x = image.pixels[y * stride + i]
                    let a = i >= 3 ? image.pixels[y * stride + i - 3] : 0
                    let b = y > 0 ? image.pixels[(y - 1) * stride + i] : 0
                    let c = i >= 3 && y > 0 ? image.pixels[(y - 1) * stride + i - 3] : 0
                    rows.append(x &- PNG.predictor(type, a, b, c))
                }
            }
            var file = Data(PNG.signature)
            var header = Data()
            header.appendBigEndian(UInt32(image.width))
            header.appendBigEndian(UInt32(image.height))
            header.append(contentsOf: [8, 2, 0, 0, 0])
            PNG.appendChunk("IHDR", header, to: &file)
            PNG.appendChunk("IDAT", PNG.deflate(rows), to: &file)
            PNG.appendChunk("IEND", Data(), to: &file)
            let decoded = try PNGReader.decode(file)
            #expect(decoded.filters == [type])
            #expect(decoded.pixels == image.pixels, "filter \(type)")
        }
    }

    @Test func predictorsMatchTheSpecificationEverywhere() {
        // Every (a, b, c) on a grid fine enough to meet each tie of the Paeth predictor.
        var mismatches: [[Int]] = []
        for a in stride(from: 0, through: 255, by: 3) {
            for b in stride(from: 0, through: 255, by: 3) {
                for c in stride(from: 0, through: 255, by: 3) {
                    let (ua, ub, uc) = (UInt8(a), UInt8(b), UInt8(c))
                    let expected = [0, a, b, (a + b) / 2, PNGReader.paeth(a, b, c)]
                    for type in 0...4 where Int(PNG.predictor(UInt8(type), ua, ub, uc)) != expected[type] {
                        mismatches.append([type, a, b, c])
                    }
                }
            }
        }
        #expect(mismatches.isEmpty, "first mismatches (filter, a, b, c): \(mismatches.prefix(5))")
    }

    @Test func damageIsCaughtByTheCRC() throws {
        var file = [UInt8](PNG.encode(Self.samples()[2]))
        file[40] ^= 0x10
        #expect(throws: PNGReader.Failure.self) { try PNGReader.decode(Data(file)) }
    }

    @Test func writeReplacesTheFileAtomically() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-png-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("a.png")
        try PNG.write(Self.samples()[0], to: url)
        try PNG.write(Self.samples()[3], to: url)
        #expect(try PNGReader.decode(Data(contentsOf: url)).pixels == Self.samples()[3].pixels)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["a.png"])
    }

    @Test(.enabled(if: Python.available, "needs python3 on the PATH to decode with Python's zlib (and Pillow where installed)"))
    func pythonDecodesTheSamePixels() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-png-py-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let samples = Self.samples()
        let paths = try samples.enumerated().map { index, image in
            let url = folder.appendingPathComponent("\(index).png")
            try PNG.write(image, to: url)
            return url.path
        }
        let (output, status) = try Python.run("check_png.py", paths)
        try #require(status == 0, "check_png.py failed: \(output)")
        let lines = output.split(separator: "\n")
        try #require(lines.count == samples.count, "\(output)")
        for (line, image) in zip(lines, samples) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["width"] as? Int == image.width && object["height"] as? Int == image.height)
            #expect(object["channels"] as? Int == image.format.channels)
            #expect((object["pixels"] as? [Int])?.map(UInt8.init) == image.pixels)
        }
    }
}
