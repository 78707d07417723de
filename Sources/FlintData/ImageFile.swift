import CZlib
import Foundation

/// A grey-level picture with values in [0, 1], row-major.
public struct GreyImage: Sendable, Equatable {
    /// Pixels across.
    public let width: Int
    /// Pixels down.
    public let height: Int
    /// `height × width` values in [0, 1], row-major from the top.
    public let pixels: [Float]
}

/// Reads single pictures for prediction: binary and plain PGM (P5, P2) and PNG (8- or 16-bit
/// grey, grey + alpha, RGB, RGBA or palette, not interlaced). Colour becomes grey by luminance
/// (ITU-R BT.601 weights); alpha is ignored. Damaged files are `DataError`s naming the file.
public enum ImageFile {
    /// The largest picture accepted, in pixels (the size is checked before anything is allocated).
    public static let maximumPixels = 1 << 26

    /// Reads a PGM or PNG file as grey levels.
    ///
    /// - Parameter url: The file.
    /// - Returns: The picture.
    /// - Throws: `DataError` for a missing, unsupported or damaged file.
    public static func read(contentsOf url: URL) throws -> GreyImage {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DataError.unreadable(path: url.path, reason: FileManager.default.fileExists(atPath: url.path) ? "permission denied or a folder" : "no such file")
        }
        return try decode(data, path: url.path)
    }

    /// Decodes PGM or PNG bytes as grey levels.
    ///
    /// - Parameters:
    ///   - data: The file's bytes.
    ///   - path: Labels error messages.
    /// - Returns: The picture.
    /// - Throws: `DataError` for unsupported or damaged data.
    public static func decode(_ data: Data, path: String = "<memory>") throws -> GreyImage {
        let bytes = [UInt8](data)
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return try png(bytes, path: path) }
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "2") {
            return try pgm(bytes, path: path)
        }
        throw DataError.corrupt(path: path, reason: "not a PNG or PGM picture")
    }

    static func checkedSize(_ width: Int, _ height: Int, path: String) throws -> Int {
        let (count, overflow) = width.multipliedReportingOverflow(by: height)
        guard width > 0, height > 0, !overflow, count <= maximumPixels else {
            throw DataError.corrupt(path: path, reason: "picture size \(width)×\(height) is empty or too large")
        }
        return count
    }

    // MARK: PGM

    private static func pgm(_ bytes: [UInt8], path: String) throws -> GreyImage {
        let binary = bytes[1] == UInt8(ascii: "5")
        var position = 2
        func token() throws -> Int {
            while position < bytes.count {
                if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count, bytes[position] != 0x0A { position += 1 }
                } else if [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) {
                    position += 1
                } else {
                    break
                }
            }
            let start = position
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]), position - start < 10 {
                position += 1
            }
            guard position > start, let value = Int(String(decoding: bytes[start..<position], as: UTF8.self)) else {
                throw DataError.corrupt(path: path, reason: "PGM header or values are malformed")
            }
            return value
        }
        let width = try token(), height = try token(), maximum = try token()
        let count = try checkedSize(width, height, path: path)
        guard (1...65535).contains(maximum) else { throw DataError.corrupt(path: path, reason: "PGM maximum value \(maximum) is out of range") }
        var pixels = [Float](repeating: 0, count: count)
        if binary {
            position += 1  // the single whitespace byte after the header
            let width8 = maximum < 256 ? 1 : 2
            guard bytes.count - position >= count * width8 else { throw DataError.corrupt(path: path, reason: "PGM data is truncated") }
            for i in 0..<count {
                let value = width8 == 1 ? Int(bytes[position + i]) : Int(bytes[position + 2 * i]) << 8 | Int(bytes[position + 2 * i + 1])
                pixels[i] = Float(Swift.min(value, maximum)) / Float(maximum)
            }
        } else {
            for i in 0..<count { pixels[i] = Float(Swift.min(try token(), maximum)) / Float(maximum) }
        }
        return GreyImage(width: width, height: height, pixels: pixels)
    }

    // MARK: PNG

    private static func png(_ bytes: [UInt8], path: String) throws -> GreyImage {
        func corrupt(_ reason: String) -> DataError { DataError.corrupt(path: path, reason: "PNG: " + reason) }
        func be32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        var position = 8
        var header: (width: Int, height: Int, depth: Int, colour: Int)?
        var palette: [UInt8] = []
        var compressed: [UInt8] = []
        var ended = false
        while !ended {
            guard position + 8 <= bytes.count else { throw corrupt("truncated before IEND") }
            let length = be32(position)
            let type = String(decoding: bytes[(position + 4)..<(position + 8)], as: UTF8.self)
            guard length >= 0, length <= bytes.count - position - 12 else { throw corrupt("chunk \(type) runs past the end of the file") }
            let body = Array(bytes[(position + 8)..<(position + 8 + length)])
            let stored = UInt32(be32(position + 8 + length))
            let computed = bytes[(position + 4)..<(position + 8 + length)].withContiguousStorageIfAvailable {
                UInt32(crc32(0, $0.baseAddress, uInt($0.count)))
            } ?? 0
            guard stored == computed else { throw corrupt("chunk \(type) fails its CRC check") }
            position += 12 + length
            switch type {
            case "IHDR":
                guard length == 13 else { throw corrupt("IHDR has length \(length)") }
                let width = Int(body[0]) << 24 | Int(body[1]) << 16 | Int(body[2]) << 8 | Int(body[3])
                let height = Int(body[4]) << 24 | Int(body[5]) << 16 | Int(body[6]) << 8 | Int(body[7])
                _ = try checkedSize(width, height, path: path)
                guard body[12] == 0 else { throw corrupt("interlaced pictures are not supported") }
                let depth = Int(body[8]), colour = Int(body[9])
                let allowed: [Int: Set<Int>] = [0: [8, 16], 2: [8, 16], 3: [8], 4: [8, 16], 6: [8, 16]]
                guard allowed[colour]?.contains(depth) == true else { throw corrupt("colour type \(colour) at \(depth) bits is not supported") }
                header = (width, height, depth, colour)
            case "PLTE": palette = body
            case "IDAT": compressed += body
            case "IEND": ended = true
            default: break
            }
        }
        guard let header else { throw corrupt("no IHDR chunk") }
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][header.colour]!
        let bytesPerPixel = channels * header.depth / 8
        let stride = header.width * bytesPerPixel
        let raw = try inflate(compressed, expected: header.height * (stride + 1), path: path)
        // Undo the per-row filters (PNG specification, section 9).
        var previous = [UInt8](repeating: 0, count: stride)
        var rows: [UInt8] = []
        rows.reserveCapacity(header.height * stride)
        for y in 0..<header.height {
            let start = y * (stride + 1)
            let filter = raw[start]
            var row = Array(raw[(start + 1)..<(start + 1 + stride)])
            for x in 0..<stride {
                let left = x >= bytesPerPixel ? Int(row[x - bytesPerPixel]) : 0
                let up = Int(previous[x])
                let upLeft = x >= bytesPerPixel ? Int(previous[x - bytesPerPixel]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = left
                case 2: predictor = up
                case 3: predictor = (left + up) / 2
                case 4:
                    let p = left + up - upLeft
                    let (pa, pb, pc) = (abs(p - left), abs(p - up), abs(p - upLeft))
                    predictor = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft
                default: throw corrupt("row \(y) has unknown filter \(filter)")
                }
                row[x] = UInt8(truncatingIfNeeded: Int(row[x]) + predictor)
            }
            rows += row
            previous = row
        }
        var pixels = [Float](repeating: 0, count: header.width * header.height)
        let scale: Float = header.depth == 16 ? 65535 : 255
        func sample(_ pixel: Int, _ channel: Int) -> Float {
            let offset = pixel * bytesPerPixel + channel * header.depth / 8
            return header.depth == 16 ? Float(Int(rows[offset]) << 8 | Int(rows[offset + 1])) : Float(rows[offset])
        }
        for i in pixels.indices {
            switch header.colour {
            case 0, 4: pixels[i] = sample(i, 0) / scale
            case 2, 6: pixels[i] = (0.299 * sample(i, 0) + 0.587 * sample(i, 1) + 0.114 * sample(i, 2)) / scale
            default:
                let index = Int(rows[i])
                guard index * 3 + 2 < palette.count else { throw corrupt("palette index \(index) is out of range") }
                pixels[i] = (0.299 * Float(palette[index * 3]) + 0.587 * Float(palette[index * 3 + 1]) + 0.114 * Float(palette[index * 3 + 2])) / 255
            }
        }
        return GreyImage(width: header.width, height: header.height, pixels: pixels)
    }

    /// Inflates a zlib stream that must hold exactly `expected` bytes.
    private static func inflate(_ input: [UInt8], expected: Int, path: String) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError.corrupt(path: path, reason: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: expected + 1)
        var input = input
        let status = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                return CZlib.inflate(&stream, Z_FINISH)
            }
        }
        let produced = expected + 1 - Int(stream.avail_out)
        guard status == Z_STREAM_END, produced == expected else {
            throw DataError.corrupt(path: path, reason: "PNG: image data is damaged or of the wrong size (\(produced) bytes, expected \(expected))")
        }
        return Array(output[0..<expected])
    }
}
