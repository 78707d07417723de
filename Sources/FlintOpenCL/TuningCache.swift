import FlintBackend
import Foundation

/// Tuning results on disk: one JSON file per device, driver, kernel source and build options, so
/// a later process on the same device skips the search and a driver update or a kernel edit
/// starts afresh. Files are replaced crash-safely (temporary file, `fsync`, rename: FlintData's
/// `AtomicFile` does the same, but the backend does not depend on the data layer); a file that
/// does not parse is treated as empty and rewritten.
///
/// The folder is `FLINT_TUNING_DIR`, else `$XDG_CACHE_HOME/flint/tuning`, else
/// `~/.cache/flint/tuning`.
public struct TuningCache: Sendable {
    /// Everything the results depend on: a change in any of these gives another file.
    public struct Key: Codable, Sendable, Hashable {
        public var device: String
        public var platform: String
        public var driver: String
        /// FNV-1a hash of the kernel sources the results were measured with.
        public var sources: String
        /// Build options shared by every candidate (the candidates' own `-D` values are in the records).
        public var options: String
        /// Kernel family settings (`cpu` or `gpu`), as `FLINT_OPENCL_PROFILE` or the device type chose.
        public var profile: String
    }

    /// One cache file's contents.
    public struct File: Codable, Sendable {
        public var version: Int
        public var key: Key
        public var records: [String: TuningRecord]
    }

    public let folder: URL
    public let key: Key

    /// `folder/<device>-<hash of key>.json`.
    public var file: URL {
        let name = key.device.map { $0.isLetter || $0.isNumber ? $0 : "-" }.prefix(40)
        let hash = Self.hash([key.device, key.platform, key.driver, key.sources, key.options, key.profile].joined(separator: "\n"))
        return folder.appendingPathComponent("\(String(name))-\(hash).json")
    }

    static let version = 1

    /// The records stored for this key (empty when there is no file, or it is damaged or another key's).
    func load() -> [String: TuningRecord] {
        guard let file = Self.read(file), file.key == key else { return [:] }
        return file.records
    }

    /// Adds `record` (replacing the same class's), re-reading the file first so results other
    /// processes stored meanwhile are kept.
    func store(_ record: TuningRecord) throws {
        var records = load()
        var stored = record
        stored.source = .search
        records[record.key] = stored
        let contents = File(version: Self.version, key: key, records: records)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try Self.replace(file, with: try encoder.encode(contents))
    }

    /// The cache folder the environment names (nil when neither it nor a home folder is known).
    public static func defaultFolder(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let path = environment["FLINT_TUNING_DIR"], !path.isEmpty { return URL(fileURLWithPath: path, isDirectory: true) }
        if let cache = environment["XDG_CACHE_HOME"], !cache.isEmpty {
            return URL(fileURLWithPath: cache, isDirectory: true).appendingPathComponent("flint/tuning", isDirectory: true)
        }
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        return URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent(".cache/flint/tuning", isDirectory: true)
    }

    /// Every cache file in `folder` that parses, with its path.
    public static func files(in folder: URL) -> [(path: String, contents: File)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            let url = folder.appendingPathComponent(name)
            return read(url).map { (url.path, $0) }
        }
    }

    /// Deletes the cache files in `folder` (and temporaries a killed writer left); returns how many.
    public static func clear(_ folder: URL) throws -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var removed = 0
        for name in names where name.hasSuffix(".json") || name.hasSuffix(temporarySuffix) {
            try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
            if name.hasSuffix(".json") { removed += 1 }
        }
        return removed
    }

    /// Suffix of the temporary files `replace` writes (what `AtomicFile` uses too).
    static let temporarySuffix = ".flint-tmp"

    /// Writes `data` to a temporary file beside `url`, flushes it, renames it over `url` and
    /// flushes the folder: a reader sees the old file or the new one, never a part.
    static func replace(_ url: URL, with data: Data) throws {
        let folder = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(
            ".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: .min ... .max))\(temporarySuffix)")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary.path]) }
        let written = data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let count = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 { if errno == EINTR { continue }; return false }
                offset += count
            }
            return true
        }
        let flushed = written && fsync(descriptor) == 0
        close(descriptor)
        guard flushed, rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path, NSLocalizedDescriptionKey: reason])
        }
        let folderDescriptor = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            _ = fsync(folderDescriptor)
            close(folderDescriptor)
        }
    }

    private static func read(_ url: URL) -> File? {
        guard let data = FileManager.default.contents(atPath: url.path),
              let file = try? JSONDecoder().decode(File.self, from: data), file.version == version
        else { return nil }
        return file
    }

    /// FNV-1a, 64 bits, in hex: stable across processes and Swift versions (unlike `Hasher`).
    static func hash(_ text: String) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01b3
        }
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
