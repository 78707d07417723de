import Foundation

/// A file that grows by whole writes, for logs read while they are written (CSV and JSON-lines
/// training logs, TensorBoard event files). Every `append` goes straight to the operating
/// system (no buffering in the process), so a reader, or the file after the process is killed,
/// has every complete row written so far. Whole-file replacements use `AtomicFile` instead.
public final class AppendingFile {
    /// The file appended to.
    public let url: URL
    private var descriptor: Int32

    /// Opens `url` for appending, creating it and missing folders; `truncate` empties an
    /// existing file first.
    public init(url: URL, truncate: Bool) throws {
        self.url = url
        let folder = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw FileWriteError(path: url.path, reason: "cannot create folder \(folder.path)")
        }
        descriptor = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o644)
        guard descriptor >= 0 else { throw FileWriteError(path: url.path, errno: errno) }
    }

    deinit { close(descriptor) }

    /// The file's size in bytes now.
    public var size: Int {
        var status = stat()
        return fstat(descriptor, &status) == 0 ? Int(status.st_size) : 0
    }

    /// Appends `data` with as few `write` calls as the system allows.
    public func append(_ data: Data) throws {
        try data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw FileWriteError(path: url.path, errno: errno)
                }
                offset += written
            }
        }
    }

    /// Appends `text` in UTF-8.
    public func append(_ text: String) throws { try append(Data(text.utf8)) }

    /// Flushes the file's contents to the disk (`fsync`), for a record that must survive a
    /// power cut, not only a crash of this process.
    public func synchronize() throws {
        guard fsync(descriptor) == 0 else { throw FileWriteError(path: url.path, errno: errno) }
    }
}
