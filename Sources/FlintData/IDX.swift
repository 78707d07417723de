import Foundation

/// The IDX format of the MNIST family: a magic number (two zero bytes, an element type,
/// a dimension count), big-endian 32-bit dimensions, then the elements. Files may be gzipped.
public struct IDXArray: Sendable {
    /// The dimensions from the header.
    public let shape: [Int]
    /// Elements as Float (unsigned bytes keep their 0…255 values).
    public let values: [Float]

    /// Reads an IDX file, gzipped or not. Throws `DataError` for missing, damaged or truncated files.
    public init(contentsOf url: URL) throws {
        let data = try FileContents.readDecompressing(url)
        try self.init(data: data, path: url.path)
    }

    /// Parses IDX bytes (not gzipped); `path` only labels error messages.
    public init(data: Data, path: String = "<memory>") throws {
        let bytes = [UInt8](data)
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0 else {
            throw DataError.corrupt(path: path, reason: "not an IDX file (bad magic number)")
        }
        let type = bytes[2], rank = Int(bytes[3])
        let width: Int
        switch type {
        case 0x08, 0x09: width = 1
        case 0x0B: width = 2
        case 0x0C, 0x0D: width = 4
        case 0x0E: width = 8
        default: throw DataError.corrupt(path: path, reason: "unknown IDX element type 0x\(String(type, radix: 16))")
        }
        let header = 4 + 4 * rank
        guard rank > 0, bytes.count >= header else {
            throw DataError.corrupt(path: path, reason: "header is truncated")
        }
        let shape = (0..<rank).map { axis -> Int in
            let at = 4 + 4 * axis
            return Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        }
        // Dimensions are up to 2³² − 1 each: their product can overflow Int, so it is checked
        // before anything is allocated (the data must be in the file, which bounds the size).
        guard let elements = ElementCount.of(shape, elementBytes: width) else {
            throw DataError.corrupt(path: path, reason: "the header's dimensions \(shape) multiply to more elements than any file can hold")
        }
        guard bytes.count - header >= elements * width else {
            throw DataError.corrupt(path: path, reason: "truncated: \(shape) needs \(elements * width) bytes of data, found \(bytes.count - header)")
        }
        let count = elements
        self.shape = shape
        if type == 0x08 {
            self.values = bytes[header..<(header + count)].map(Float.init)
            return
        }
        self.values = (0..<count).map { i in
            let at = header + i * width
            switch type {
            case 0x08: return Float(bytes[at])
            case 0x09: return Float(Int8(bitPattern: bytes[at]))
            case 0x0B: return Float(Int16(bitPattern: UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])))
            case 0x0C, 0x0D:
                let word = UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
                return type == 0x0C ? Float(Int32(bitPattern: word)) : Float(bitPattern: word)
            default:
                var word: UInt64 = 0
                for k in 0..<8 { word = word << 8 | UInt64(bytes[at + k]) }
                return Float(Double(bitPattern: word))
            }
        }
    }
}
