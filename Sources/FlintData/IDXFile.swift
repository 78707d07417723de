import Foundation

/// An IDX file (the MNIST family's format) opened for training: the header is checked and the
/// elements stay in their stored type. Uncompressed byte files are memory-mapped, so they cost
/// no memory of their own; gzipped ones are decoded once into memory; and a file that should not
/// be mapped (too large for the address space a memory limit leaves) is read from disk batch by
/// batch.
/// Multi-byte elements (big-endian in the file) are read into memory as int32 or float32.
///
/// `IDXArray` reads a whole file as Float; this type is what datasets are built on.
public struct IDXFile: Sendable {
    /// Where the elements are kept.
    public enum Access: Sendable, Hashable {
        /// Mapped when the file is uncompressed bytes, else read into memory; read from disk per
        /// batch when it would take more than a quarter of what an address-space limit leaves,
        /// or the system refuses to map it.
        case automatic
        /// Decoded into memory.
        case memory
        /// Never held: each batch's rows are read from the file (uncompressed byte files only).
        case disk
    }

    /// The file.
    public let url: URL
    /// The dimensions from the header; the first counts the samples.
    public let shape: [Int]
    /// How the elements are stored (bytes for MNIST's images and labels).
    public let type: ElementType
    let rows: Rows

    enum Rows: Sendable {
        case memory(HostArray, mapped: Bool)
        case disk(DiskRows)
    }

    /// Opens an IDX file, gzipped or not, and checks its header.
    ///
    /// - Parameters:
    ///   - url: The file.
    ///   - access: Where the elements are kept; `.automatic` maps, decodes or reads per batch as fits.
    /// - Throws: `DataError` for a missing, unreadable, damaged or truncated file, or one too large
    ///   for the memory limit.
    public init(contentsOf url: URL, access: Access = .automatic) throws {
        self.url = url
        let file = try OpenFile(url)
        let head = try file.read(count: Swift.min(file.size, 2), at: 0)
        if head == [0x1F, 0x8B] {
            guard access != .disk else {
                throw DataError.unreadable(path: url.path, reason: "a gzipped file cannot be read from disk batch by batch; decompress it (gunzip) first")
            }
            let compressed = try file.readAll()
            if let size = compressed.withUnsafeBytes(Gunzip.expectedSize), !AddressSpace.canTake(size) {
                throw DataError.unreadable(path: url.path, reason: "decoding it needs \(size >> 20) MiB, more than the process's memory limit leaves; decompress it (gunzip) so that it can be read from disk")
            }
            let decoded = try compressed.withUnsafeBytes { try Gunzip.decode($0, path: url.path) }
            let header = try IDXHeader(decoded.bytes, available: decoded.count, path: url.path)
            (shape, type) = (header.shape, header.type)
            rows = .memory(try header.array(in: decoded, path: url.path), mapped: false)
            return
        }
        let prefix = try file.read(count: Swift.min(file.size, 4 + 4 * 255), at: 0)
        let header = try prefix.withUnsafeBytes { try IDXHeader($0, available: file.size, path: url.path) }
        (shape, type) = (header.shape, header.type)
        let byteSized = header.width == 1
        switch access {
        case .disk:
            guard byteSized else {
                throw DataError.unreadable(path: url.path, reason: "only byte-sized IDX elements are read from disk batch by batch; this file holds \(header.width)-byte ones")
            }
            rows = .disk(DiskRows(file: file, offset: header.byteCount, rowBytes: header.rowElements, path: url.path))
        case .automatic where byteSized:
            // Under an address-space limit a large mapping would starve what the process
            // reserves later; such a file is read from disk instead.
            if AddressSpace.canTake(header.dataBytes),
               let mapped = HostStorage.mapping(descriptor: file.descriptor, offset: header.byteCount, byteCount: header.dataBytes) {
                rows = .memory(HostArray(storage: mapped, type: header.type, shape: header.shape), mapped: true)
            } else {
                rows = .disk(DiskRows(file: file, offset: header.byteCount, rowBytes: header.rowElements, path: url.path))
            }
        case .automatic, .memory:
            let storage = try HostStorage(byteCount: header.dataBytes) { try file.read(into: $0, at: header.byteCount) }
            rows = .memory(try header.array(in: storage, dataOffset: 0, path: url.path), mapped: false)
        }
    }

    /// The number of rows, the first dimension.
    public var count: Int { shape[0] }
    /// The shape of one sample.
    public var sampleShape: [Int] { Array(shape.dropFirst()) }

    /// Every element, when the file is held in memory (mapped or decoded); nil when it is read from disk.
    public var array: HostArray? {
        if case .memory(let array, _) = rows { return array }
        return nil
    }

    /// True when the elements are memory-mapped from the file rather than copied.
    public var isMapped: Bool {
        if case .memory(_, let mapped) = rows { return mapped }
        return false
    }

    /// True when each batch's rows are read from disk.
    public var readsFromDisk: Bool {
        if case .disk = rows { return true }
        return false
    }

    /// The samples at `indices`, in that order, as one new array of shape `[indices.count] + sampleShape`.
    public func rows(at indices: [Int]) throws -> HostArray {
        for index in indices where index < 0 || index >= count {
            throw DatasetError.indexOutOfRange(index: index, count: count)
        }
        switch rows {
        case .memory(let array, _): return array.gathering(rows: indices)
        case .disk(let disk): return HostArray(storage: try disk.read(indices), type: type, shape: [indices.count] + sampleShape)
        }
    }
}

/// An IDX header: element type and dimensions, checked against the bytes available.
struct IDXHeader {
    let shape: [Int]
    let type: ElementType
    /// Bytes per element in the file.
    let width: Int
    let code: UInt8
    /// Header bytes.
    let byteCount: Int
    /// Elements per sample (every dimension but the first).
    let rowElements: Int
    var dataBytes: Int { shape[0] * rowElements * width }

    init(_ bytes: UnsafeRawBufferPointer, available: Int, path: String) throws {
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0 else {
            throw DataError.corrupt(path: path, reason: "not an IDX file (bad magic number)")
        }
        code = bytes[2]
        switch code {
        case 0x08: (type, width) = (.uint8, 1)
        case 0x09: (type, width) = (.int8, 1)
        case 0x0B: (type, width) = (.int32, 2)
        case 0x0C: (type, width) = (.int32, 4)
        case 0x0D: (type, width) = (.float32, 4)
        case 0x0E: (type, width) = (.float32, 8)
        default: throw DataError.corrupt(path: path, reason: "unknown IDX element type 0x\(String(code, radix: 16))")
        }
        let rank = Int(bytes[3])
        byteCount = 4 + 4 * rank
        guard rank > 0, bytes.count >= byteCount else { throw DataError.corrupt(path: path, reason: "header is truncated") }
        shape = (0..<rank).map { axis in (0..<4).reduce(0) { $0 << 8 | Int(bytes[4 + 4 * axis + $1]) } }
        // Each dimension may be up to 2³² − 1: the size is checked before it is trusted.
        guard let elements = ElementCount.of(shape, elementBytes: width) else {
            throw DataError.corrupt(path: path, reason: "the header's dimensions \(shape) multiply to more elements than any file can hold")
        }
        let total = elements * width
        guard available - byteCount >= total else {
            throw DataError.corrupt(path: path, reason: "truncated: \(shape) needs \(total) bytes of data, found \(Swift.max(available - byteCount, 0))")
        }
        rowElements = shape.dropFirst().reduce(1, *)
    }

    /// The elements in `storage` (header first unless `dataOffset` says otherwise), multi-byte
    /// ones converted from big-endian into a new host-order array.
    func array(in storage: HostStorage, dataOffset: Int? = nil, path: String) throws -> HostArray {
        let start = dataOffset ?? byteCount
        if width == 1 { return HostArray(storage: storage, type: type, shape: shape, byteOffset: start) }
        let count = shape.reduce(1, *)
        let converted = HostStorage(byteCount: count * 4) { output in
            let input = UnsafeRawBufferPointer(rebasing: storage.bytes[start...])
            func word(_ i: Int) -> UInt32 { (0..<4).reduce(0) { $0 << 8 | UInt32(input[i * 4 + $1]) } }
            switch code {
            case 0x0B:
                let out = output.bindMemory(to: Int32.self)
                for i in 0..<count { out[i] = Int32(Int16(bitPattern: UInt16(input[2 * i]) << 8 | UInt16(input[2 * i + 1]))) }
            case 0x0C:
                let out = output.bindMemory(to: Int32.self)
                for i in 0..<count { out[i] = Int32(bitPattern: word(i)) }
            case 0x0D:
                let out = output.bindMemory(to: Float.self)
                for i in 0..<count { out[i] = Float(bitPattern: word(i)) }
            default:
                let out = output.bindMemory(to: Float.self)
                for i in 0..<count {
                    let bits = (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(input[i * 8 + $1]) }
                    out[i] = Float(Double(bitPattern: bits))
                }
            }
        }
        return HostArray(storage: converted, type: type, shape: shape)
    }
}

/// An open file, closed when the last reference goes; reads are positioned, so any thread may read.
final class OpenFile: @unchecked Sendable {
    let descriptor: Int32
    let size: Int
    let path: String

    init(_ url: URL) throws {
        path = url.path
        descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw DataError.unreadable(path: url.path, reason: String(cString: strerror(errno))) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw DataError.unreadable(path: url.path, reason: reason)
        }
        guard status.st_mode & S_IFMT != S_IFDIR else {
            close(descriptor)
            throw DataError.unreadable(path: url.path, reason: "it is a folder, not a file")
        }
        size = Int(status.st_size)
    }

    deinit { close(descriptor) }

    /// `count` bytes at `offset`, all of them or an error.
    func read(count: Int, at offset: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            try read(into: UnsafeMutableRawBufferPointer(buffer), at: offset)
            initialized = count
        }
    }

    func readAll() throws -> [UInt8] { try read(count: size, at: 0) }

    /// Fills `buffer` from `offset`.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw DataError.unreadable(path: path, reason: n < 0 ? String(cString: strerror(errno)) : "the file ended early (was it truncated while in use?)")
            }
            done += n
        }
    }
}

/// Rows of a file read on demand, one positioned read per row.
final class DiskRows: Sendable {
    let file: OpenFile
    let offset: Int
    let rowBytes: Int
    let path: String

    init(file: OpenFile, offset: Int, rowBytes: Int, path: String) {
        self.file = file
        self.offset = offset
        self.rowBytes = rowBytes
        self.path = path
    }

    func read(_ indices: [Int]) throws -> HostStorage {
        try HostStorage(byteCount: indices.count * rowBytes) { buffer in
            for (k, index) in indices.enumerated() where rowBytes > 0 {
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[(k * rowBytes)..<((k + 1) * rowBytes)]),
                              at: offset + index * rowBytes)
            }
        }
    }
}
