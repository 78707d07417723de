import Foundation

/// Crash-safe file replacement. The bytes go to a hidden temporary file in the target's
/// folder, which is flushed to disk (`fsync`), renamed over the target and the folder flushed
/// too, so after a crash or kill at any moment the target holds either the old contents or the
/// new ones, never a mixture, and the rename itself survives a power cut.
///
/// Temporary files are named `.<name>.<pid>.<random>.flint-tmp`; no reader looks for that
/// suffix, and a later write to the same target removes those left by processes that died.
public enum AtomicFile {
    /// A pause (µs) in the middle of every write, for the crash-safety test only
    /// (`FLINT_TEST_WRITE_PAUSE_US`): it makes a kill at a random moment likely to land mid-write.
    static let testPause: UInt32? = ProcessInfo.processInfo.environment["FLINT_TEST_WRITE_PAUSE_US"].flatMap { UInt32($0) }

    /// The suffix of temporary files, which loaders must ignore.
    public static let temporarySuffix = ".flint-tmp"

    /// Replaces the file at `url` with `data`, creating missing folders.
    public static func write(_ data: Data, to url: URL) throws {
        let folder = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw FileWriteError(path: url.path, reason: "cannot create folder \(folder.path) (\(posixReason(of: error)))")
        }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
            throw FileWriteError(path: url.path, reason: "it is a folder")
        }
        removeStaleTemporaries(for: url)
        let temporary = folder.appendingPathComponent(
            ".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: .min ... .max))\(temporarySuffix)")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileWriteError(path: url.path, errno: errno) }
        var failure: FileWriteError?
        data.withUnsafeBytes { bytes in
            var offset = 0
            var paused = false
            while offset < bytes.count {
                // The crash-safety test widens the window in which a kill lands mid-write.
                if let pause = testPause, !paused, offset > 0 {
                    paused = true
                    usleep(pause)
                }
                let chunk = testPause == nil || paused ? bytes.count - offset : Swift.max(1, bytes.count / 2)
                let written = Foundation.write(descriptor, bytes.baseAddress! + offset, chunk)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = FileWriteError(path: url.path, errno: errno)
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = FileWriteError(path: url.path, errno: errno) }
        if close(descriptor) != 0, failure == nil { failure = FileWriteError(path: url.path, errno: errno) }
        if failure == nil, rename(temporary.path, url.path) != 0 { failure = FileWriteError(path: url.path, errno: errno) }
        if let failure {
            unlink(temporary.path)
            throw failure
        }
        syncFolder(folder)
    }

    /// Replaces the file at `url` with `text` in UTF-8.
    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }

    /// Checks, before any work is done, that files can be written into `folder`: it must be a
    /// folder (or not exist yet, with its nearest existing ancestor a writable folder), and a
    /// small temporary file must write, flush and vanish there. Creates nothing that stays.
    /// Throws `FileWriteError` with the reason ("Permission denied", "Read-only file system",
    /// "No space left on device", "it is a file, not a folder").
    public static func checkWritableFolder(_ folder: URL) throws {
        var probeFolder = folder.standardizedFileURL
        var isFolder: ObjCBool = false
        while !FileManager.default.fileExists(atPath: probeFolder.path, isDirectory: &isFolder) {
            let parent = probeFolder.deletingLastPathComponent()
            if parent.path == probeFolder.path { break }
            probeFolder = parent
        }
        guard isFolder.boolValue else {
            let what = probeFolder.path == folder.standardizedFileURL.path ? "it is a file, not a folder" : "\(probeFolder.path) is a file, not a folder"
            throw FileWriteError(path: folder.path, reason: what)
        }
        let probe = probeFolder.appendingPathComponent(".flint-probe.\(getpid()).\(UInt32.random(in: .min ... .max))\(temporarySuffix)")
        let descriptor = open(probe.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileWriteError(path: folder.path, errno: errno) }
        defer { unlink(probe.path) }
        var byte: UInt8 = 0
        let written = Foundation.write(descriptor, &byte, 1)
        let failure = written == 1 && fsync(descriptor) == 0 ? nil : errno
        close(descriptor)
        if let failure { throw FileWriteError(path: folder.path, errno: failure) }
    }

    /// Flushes a folder's entries (a rename or an unlink in it) to disk; best effort, since some
    /// file systems refuse `fsync` on folders.
    public static func syncFolder(_ folder: URL) {
        let descriptor = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    /// Removes temporaries for `url` whose writer process no longer exists.
    static func removeStaleTemporaries(for url: URL) {
        let folder = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent)."
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(temporarySuffix) {
            let middle = name.dropFirst(prefix.count).dropLast(temporarySuffix.count)
            guard let pid = middle.split(separator: ".").first.flatMap({ pid_t($0) }) else { continue }
            // kill(pid, 0) fails with ESRCH only when no such process exists.
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(folder.appendingPathComponent(name).path) }
        }
    }

    private static func posixReason(of error: Error) -> String {
        if let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError,
           underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return (error as NSError).localizedFailureReason ?? "\(error.localizedDescription)"
    }
}

/// A file Flint could not save; the previous contents of the target, if any, are untouched.
public struct FileWriteError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// The file that could not be written.
    public let path: String
    /// Why, as the system says it.
    public let reason: String

    /// An error for `path`.
    ///
    /// - Parameters:
    ///   - path: The file.
    ///   - reason: Why it could not be written.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    init(path: String, errno code: Int32) {
        self.init(path: path, reason: String(cString: strerror(code)))
    }

    /// The path and the reason, in one line.
    public var description: String { "cannot write \(path): \(reason)" }
    /// The same as `description`.
    public var errorDescription: String? { description }
}
