import CZlib
import Foundation

/// gzip (RFC 1952) through zlib: the readers accept compressed files transparently.
public enum Gzip {
    /// True when `data` starts with the gzip magic bytes.
    public static func isCompressed(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B
    }

    /// Inflates a gzip stream (header fields such as the stored name and time are ignored).
    /// Throws `DataError.corrupt` for a damaged or truncated stream; `path` only labels messages.
    public static func decompress(_ data: Data, path: String) throws -> Data {
        var stream = z_stream()
        // 16 + MAX_WBITS: expect and skip a gzip header.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError.corrupt(path: path, reason: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        // Output arrives in chunks of up to 1 MiB; small files need no megabyte of scratch.
        let chunk = min(1 << 20, max(4096, data.count * 4))
        var buffer = [UInt8](repeating: 0, count: chunk)
        var status: Int32 = Z_OK
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(input.count)
            repeat {
                status = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                guard status == Z_OK || status == Z_STREAM_END else {
                    let reason = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                    throw DataError.corrupt(path: path, reason: "gzip stream: \(reason)")
                }
                output.append(buffer, count: chunk - Int(stream.avail_out))
                if status == Z_OK && stream.avail_in == 0 && stream.avail_out != 0 {
                    throw DataError.corrupt(path: path, reason: "gzip stream is truncated")
                }
            } while status != Z_STREAM_END
        }
        return output
    }
}
