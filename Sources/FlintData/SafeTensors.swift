import Foundation

/// The element types of the safetensors format.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .f64, .i64, .u64: 8
        }
    }
}

/// A safetensors file, as its specification defines it: an 8-byte little-endian header length,
/// a JSON header mapping each tensor name to `dtype`, `shape` and `data_offsets` (plus an
/// optional `__metadata__` of strings), then the packed little-endian data.
///
/// Reading checks everything before trusting it: the header length against the file, the JSON
/// (strictly: no duplicate names), every dtype, shapes whose element count overflows or
/// disagrees with the byte range, and offsets that overlap, leave holes or run past the end.
/// Nothing is allocated from an unchecked size; the file itself is memory-mapped.
public struct SafeTensorsFile: Sendable {
    /// One tensor's entry in the header.
    public struct Entry: Sendable, Equatable {
        /// The tensor's name in the file.
        public let name: String
        /// The element type.
        public let dtype: SafeTensorsDType
        /// The dimensions.
        public let shape: [Int]
        /// Byte range within the data section.
        public let range: Range<Int>

        /// The number of elements.
        public var count: Int { shape.reduce(1, *) }
    }

    /// Tensors in the order of their data.
    public let entries: [Entry]
    /// The header's `__metadata__` strings.
    public let metadata: [String: String]
    /// The file's path, for messages.
    public let path: String
    private let storage: Data
    private let dataStart: Int

    /// The largest header accepted (the reference implementation's limit).
    public static let maximumHeaderLength = 100 << 20

    /// Reads (memory-maps) the file at `url`.
    public init(contentsOf url: URL) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw DataError.unreadable(path: url.path, reason: "no such file")
        }
        guard !isFolder.boolValue else { throw DataError.unreadable(path: url.path, reason: "it is a folder, not a safetensors file") }
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw DataError.unreadable(path: url.path, reason: (error as NSError).localizedFailureReason ?? "permission denied or I/O error")
        }
        try self.init(data: data, path: url.path)
    }

    /// Parses a whole safetensors file held in memory.
    ///
    /// - Parameters:
    ///   - data: The file's bytes.
    ///   - path: Labels error messages.
    /// - Throws: `DataError.corrupt` for anything the specification forbids.
    public init(data: Data, path: String = "<memory>") throws {
        func corrupt(_ reason: String) -> DataError { DataError.corrupt(path: path, reason: reason) }
        guard data.count >= 8 else { throw corrupt("\(data.count) bytes is too short for a safetensors file (no 8-byte header length)") }
        let base = data.startIndex
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(data[base + i]) << (8 * UInt64(i)) }
        guard length <= UInt64(data.count - 8) else {
            throw corrupt("the header length \(length) runs past the end of the file (\(data.count) bytes)")
        }
        guard length <= UInt64(Self.maximumHeaderLength) else { throw corrupt("the header length \(length) exceeds the 100 MiB limit") }
        let headerEnd = 8 + Int(length)
        let headerBytes = data[(base + 8)..<(base + headerEnd)]
        guard headerBytes.first == UInt8(ascii: "{") else { throw corrupt("the header is not a JSON object") }
        let header: JSONValue
        do {
            header = try JSONValue.parse(headerBytes)
        } catch {
            throw corrupt("the header is not valid JSON: \(error)")
        }
        guard case .object(let members) = header else { throw corrupt("the header is not a JSON object") }

        let dataLength = data.count - headerEnd
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        for (name, value) in members {
            let shown = name.count > 80 ? String(name.prefix(80)) + "…" : name
            if name == "__metadata__" {
                guard case .object(let pairs) = value else { throw corrupt("__metadata__ is not an object of strings") }
                for (key, item) in pairs {
                    guard case .string(let text) = item else { throw corrupt("__metadata__ value '\(key.prefix(80))' is not a string") }
                    metadata[key] = text
                }
                continue
            }
            guard case .object(let fields) = value else { throw corrupt("tensor '\(shown)' is not described by an object") }
            func field(_ key: String) -> JSONValue? { fields.first { $0.key == key }?.value }
            guard case .string(let typeName)? = field("dtype") else { throw corrupt("tensor '\(shown)' has no dtype") }
            guard let dtype = SafeTensorsDType(rawValue: typeName) else {
                throw corrupt("tensor '\(shown)' has unknown dtype '\(typeName.prefix(20))'")
            }
            guard case .array(let dims)? = field("shape") else { throw corrupt("tensor '\(shown)' has no shape") }
            var shape: [Int] = []
            for dim in dims {
                guard case .integer(let size) = dim, size >= 0 else { throw corrupt("tensor '\(shown)' has an invalid shape") }
                shape.append(size)
            }
            guard let elements = ElementCount.of(shape, elementBytes: dtype.byteCount) else {
                throw corrupt("tensor '\(shown)' has a shape whose element count overflows")
            }
            guard case .array(let offsets)? = field("data_offsets"), offsets.count == 2,
                  case .integer(let begin) = offsets[0], case .integer(let end) = offsets[1], begin >= 0, begin <= end else {
                throw corrupt("tensor '\(shown)' has invalid data_offsets")
            }
            guard end <= dataLength else {
                throw corrupt("tensor '\(shown)' data_offsets [\(begin), \(end)] run past the end of the data (\(dataLength) bytes)")
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteCount)
            guard !overflow, bytes == end - begin else {
                throw corrupt("tensor '\(shown)' of shape \(shape) and dtype \(typeName) needs \(overflow ? "too many" : String(bytes)) bytes, but its data_offsets span \(end - begin)")
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, range: begin..<end))
        }
        // The data must be covered exactly: no overlaps, no holes (which would let a file be two formats at once).
        entries.sort { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }
        var next = 0
        for entry in entries {
            guard entry.range.lowerBound == next else {
                throw corrupt(entry.range.lowerBound < next ? "tensor '\(entry.name.prefix(80))' overlaps the one before it"
                                                           : "there is a hole in the data before tensor '\(entry.name.prefix(80))'")
            }
            next = entry.range.upperBound
        }
        guard next == dataLength else { throw corrupt("\(dataLength - next) bytes at the end of the data belong to no tensor") }

        self.entries = entries
        self.metadata = metadata
        self.path = path
        self.storage = data
        self.dataStart = headerEnd
    }

    /// The entry named `name`, if any.
    public subscript(name: String) -> Entry? { entries.first { $0.name == name } }

    /// The raw little-endian bytes of `entry`.
    public func bytes(_ entry: Entry) -> Data {
        let base = storage.startIndex + dataStart
        return storage[(base + entry.range.lowerBound)..<(base + entry.range.upperBound)]
    }

    /// The elements of `entry` as Float; floating-point and integer dtypes convert (F64 and wide
    /// integers round to the nearest Float), the 8-bit float formats do not.
    public func floats(_ entry: Entry) throws -> [Float] {
        let raw = bytes(entry)
        return try raw.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) throws -> [Float] in
            func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
                T(littleEndian: buffer.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
            }
            let n = entry.count
            switch entry.dtype {
            case .f32:
                #if _endian(little)
                return [Float](unsafeUninitializedCapacity: n) { out, done in
                    if n > 0 { UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[0..<(n * 4)])) }
                    done = n
                }
                #else
                return (0..<n).map { Float(bitPattern: load(UInt32.self, $0)) }
                #endif
            case .f64: return (0..<n).map { Float(Double(bitPattern: load(UInt64.self, $0))) }
            case .f16: return (0..<n).map { Float(halfBits: load(UInt16.self, $0)) }
            case .bf16: return (0..<n).map { Float(bitPattern: UInt32(load(UInt16.self, $0)) << 16) }
            case .bool, .u8: return (0..<n).map { Float(buffer[$0]) }
            case .i8: return (0..<n).map { Float(Int8(bitPattern: buffer[$0])) }
            case .i16: return (0..<n).map { Float(load(Int16.self, $0)) }
            case .u16: return (0..<n).map { Float(load(UInt16.self, $0)) }
            case .i32: return (0..<n).map { Float(load(Int32.self, $0)) }
            case .u32: return (0..<n).map { Float(load(UInt32.self, $0)) }
            case .i64: return (0..<n).map { Float(load(Int64.self, $0)) }
            case .u64: return (0..<n).map { Float(load(UInt64.self, $0)) }
            case .f8e5m2, .f8e4m3:
                throw DataError.corrupt(path: path, reason: "tensor '\(entry.name.prefix(80))' is \(entry.dtype.rawValue), which Flint does not convert")
            }
        }
    }

    /// One tensor to write: its name, dtype, shape and packed little-endian bytes.
    public struct Tensor: Sendable {
        /// The tensor's name.
        public let name: String
        /// The element type.
        public let dtype: SafeTensorsDType
        /// The dimensions.
        public let shape: [Int]
        /// The packed little-endian elements.
        public let bytes: Data

        /// A tensor to write.
        ///
        /// - Parameters:
        ///   - name: Its name in the file.
        ///   - dtype: The element type.
        ///   - shape: The dimensions.
        ///   - bytes: The packed little-endian elements, as many as the shape needs.
        public init(name: String, dtype: SafeTensorsDType, shape: [Int], bytes: Data) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        /// A float32 tensor from host values.
        public init(name: String, shape: [Int], floats: [Float]) {
            #if _endian(little)
            let bytes = floats.withUnsafeBytes { Data($0) }
            #else
            var bytes = Data(capacity: floats.count * 4)
            for value in floats { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            #endif
            self.init(name: name, dtype: .f32, shape: shape, bytes: bytes)
        }

        /// An int64 tensor from host values (PyTorch's `num_batches_tracked`).
        public init(name: String, shape: [Int], int64s: [Int64]) {
            var bytes = Data(capacity: int64s.count * 8)
            for value in int64s { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
            self.init(name: name, dtype: .i64, shape: shape, bytes: bytes)
        }
    }

    /// The bytes of a safetensors file holding `tensors` (data in the given order) and
    /// `metadata`. Throws for duplicate names or bytes that do not match a shape.
    public static func encode(_ tensors: [Tensor], metadata: [String: String] = [:]) throws -> Data {
        var members: [(key: String, value: JSONValue)] = []
        if !metadata.isEmpty {
            members.append(("__metadata__", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        var names: Set<String> = ["__metadata__"]
        var offset = 0
        for tensor in tensors {
            guard names.insert(tensor.name).inserted else {
                throw DataError.corrupt(path: "<safetensors>", reason: "tensor name '\(tensor.name)' is used twice or reserved")
            }
            guard tensor.shape.allSatisfy({ $0 >= 0 }), tensor.shape.reduce(1, *) * tensor.dtype.byteCount == tensor.bytes.count else {
                throw DataError.corrupt(path: "<safetensors>", reason: "tensor '\(tensor.name)' has \(tensor.bytes.count) bytes for shape \(tensor.shape)")
            }
            members.append((tensor.name, .object([("dtype", .string(tensor.dtype.rawValue)),
                                                  ("shape", .array(tensor.shape.map { .integer($0) })),
                                                  ("data_offsets", .array([.integer(offset), .integer(offset + tensor.bytes.count)]))])))
            offset += tensor.bytes.count
        }
        var header = Array(JSONValue.object(members).text.utf8)
        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        var file = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(contentsOf: header)
        for tensor in tensors { file.append(tensor.bytes) }
        return file
    }
}

extension Float {
    /// An IEEE half-precision value, widened.
    init(halfBits bits: UInt16) {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int(bits >> 10) & 0x1F
        let fraction = UInt32(bits & 0x03FF)
        switch exponent {
        case 0:
            // Zero or subnormal: fraction · 2^-24.
            let magnitude = Float(fraction) * 0x1p-24
            self = sign != 0 ? -magnitude : magnitude
        case 0x1F:
            self = Float(bitPattern: sign | 0x7F80_0000 | (fraction << 13))
        default:
            self = Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (fraction << 13))
        }
    }
}
