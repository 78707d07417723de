import CZlib
import Foundation

/// Whole-file gzip decoding into one allocation of the final size, read from the stream's
/// trailer. libdeflate (Debian's `libdeflate0`), opened at run time, decodes MNIST's training
/// images about 2.5× faster than zlib; without it, or for streams it cannot take (several gzip
/// members, 4 GiB or more), zlib does the work. `FLINT_NO_LIBDEFLATE=1` forces zlib.
enum Gunzip {
    /// The decoded bytes of the gzip stream `compressed`.
    static func decode(_ compressed: UnsafeRawBufferPointer, path: String, allowLibDeflate: Bool = true) throws -> HostStorage {
        let size = expectedSize(compressed)
        if let size, allowLibDeflate, let libdeflate = LibDeflate.shared,
           let decoded = libdeflate.decode(compressed, size: size) {
            return decoded
        }
        if let size, let decoded = try zlibDecode(compressed, size: size, path: path) { return decoded }
        // The trailer did not give the size: the streaming decoder grows its output as it goes.
        let data = try Gzip.decompress(Data(compressed), path: path)
        return data.withUnsafeBytes { HostStorage(copying: $0) }
    }

    /// Whether libdeflate was found.
    static var hasLibDeflate: Bool { LibDeflate.shared != nil }

    /// The uncompressed size the last gzip member's trailer states (modulo 2³²); nil when that
    /// is more than deflate can produce from this many bytes (at most 1032 to 1), since the
    /// trailer is unchecked input: a 32-byte file claiming 4 GiB must not be allocated for.
    static func expectedSize(_ compressed: UnsafeRawBufferPointer) -> Int? {
        guard compressed.count >= 18 else { return nil }
        let tail = compressed.count - 4
        let size = (0..<4).reduce(0) { $0 | Int(compressed[tail + $1]) << (8 * $1) }
        return size <= compressed.count * 1032 ? size : nil
    }

    /// zlib into an allocation of `size` bytes; nil when the stream holds more or less than that.
    private static func zlibDecode(_ compressed: UnsafeRawBufferPointer, size: Int, path: String) throws -> HostStorage? {
        var stream = z_stream()
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError.corrupt(path: path, reason: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var status: Int32 = Z_OK
        var complete = false
        let storage = try HostStorage(byteCount: size) { output in
            stream.next_in = UnsafeMutablePointer(mutating: compressed.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(compressed.count)
            stream.next_out = output.bindMemory(to: Bytef.self).baseAddress
            stream.avail_out = uInt(output.count)
            repeat {
                status = inflate(&stream, Z_NO_FLUSH)
            } while status == Z_OK && stream.avail_in > 0
            switch status {
            // Exactly `size` bytes and nothing after: anything else goes to the streaming decoder.
            case Z_STREAM_END: complete = stream.avail_in == 0 && Int(stream.total_out) == size
            case Z_OK, Z_BUF_ERROR: complete = false
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw DataError.corrupt(path: path, reason: "gzip stream: \(reason)")
            }
        }
        return complete ? storage : nil
    }
}

/// `libdeflate_gzip_decompress`, found at run time.
private final class LibDeflate: @unchecked Sendable {
    typealias Alloc = @convention(c) () -> OpaquePointer?
    typealias Free = @convention(c) (OpaquePointer?) -> Void
    typealias Decompress = @convention(c) (OpaquePointer?, UnsafeRawPointer?, Int, UnsafeMutableRawPointer?, Int,
                                           UnsafeMutablePointer<Int>?) -> Int32
    let alloc: Alloc
    let free: Free
    let decompress: Decompress

    static let shared: LibDeflate? = {
        let names: [String] = ["libdeflate.so.0", "libdeflate.so"]
        guard ProcessInfo.processInfo.environment["FLINT_NO_LIBDEFLATE"] != "1",
              let library = names.lazy.compactMap({ dlopen($0, RTLD_NOW | RTLD_LOCAL) }).first,
              let alloc = dlsym(library, "libdeflate_alloc_decompressor"),
              let free = dlsym(library, "libdeflate_free_decompressor"),
              let decompress = dlsym(library, "libdeflate_gzip_decompress") else { return nil }
        return LibDeflate(alloc: unsafeBitCast(alloc, to: Alloc.self), free: unsafeBitCast(free, to: Free.self),
                          decompress: unsafeBitCast(decompress, to: Decompress.self))
    }()

    private init(alloc: Alloc, free: Free, decompress: Decompress) {
        self.alloc = alloc
        self.free = free
        self.decompress = decompress
    }

    /// The decoded stream if it is one gzip member of exactly `size` bytes, else nil (zlib then
    /// decodes it, and names what is wrong with a damaged one).
    func decode(_ compressed: UnsafeRawBufferPointer, size: Int) -> HostStorage? {
        guard let decompressor = alloc() else { return nil }
        defer { free(decompressor) }
        var produced = 0
        var ok = false
        let storage = HostStorage(byteCount: size) { output in
            ok = decompress(decompressor, compressed.baseAddress, compressed.count, output.baseAddress, size, &produced) == 0
        }
        return ok && produced == size ? storage : nil
    }
}
