import Foundation

/// Reads whole files with POSIX calls, so failures become one-line reasons ("Permission
/// denied", "it is a folder, not a file") instead of Foundation's "NSCocoaErrorDomain error 256".
enum FileContents {
    static func read(_ url: URL) throws -> Data {
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw DataError.unreadable(path: url.path, reason: reason(errno)) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw DataError.unreadable(path: url.path, reason: reason(errno)) }
        if status.st_mode & S_IFMT == S_IFDIR {
            throw DataError.unreadable(path: url.path, reason: "it is a folder, not a file")
        }
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw DataError.unreadable(path: url.path, reason: reason(errno))
            }
            if count == 0 { return data }
            data.append(contentsOf: chunk[..<count])
        }
    }

    /// The bytes of `url`, gunzipped when they start with gzip's magic bytes: how the readers
    /// of whole files (CSV, IDX arrays) take compressed files transparently.
    static func readDecompressing(_ url: URL) throws -> Data {
        let raw = try read(url)
        return Gzip.isCompressed(raw) ? try Gzip.decompress(raw, path: url.path) : raw
    }

    private static func reason(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
