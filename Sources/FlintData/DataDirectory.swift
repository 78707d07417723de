import Foundation

/// Where datasets are looked for. An explicit folder (`--data-dir`) is the only place searched
/// when given; otherwise, in order: `FLINT_DATA_DIR`, `/usr/share/datasets` (Debian's
/// `dataset-*` packages install there), then the user cache (`$XDG_CACHE_HOME/flint/datasets`,
/// else `~/.cache/flint/datasets`). A dataset `NAME` is the folder `ROOT/NAME`, and every file
/// of a dataset (all its splits) comes from that one folder.
public struct DataDirectory: Sendable {
    /// The folders searched, in order.
    public let roots: [URL]
    /// True when the roots are one folder the user named, which must then hold the dataset.
    public let isExplicit: Bool

    /// The search path for an explicit folder, else from the environment.
    ///
    /// - Parameters:
    ///   - explicit: A folder the user named (`--data-dir`), then the only place searched.
    ///   - environment: Where `FLINT_DATA_DIR` and `XDG_CACHE_HOME` are read; the process's by default.
    public init(explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let explicit, !explicit.isEmpty {
            roots = [URL(fileURLWithPath: explicit)]
            isExplicit = true
            return
        }
        var roots: [URL] = []
        if let fromEnvironment = environment["FLINT_DATA_DIR"], !fromEnvironment.isEmpty {
            roots.append(URL(fileURLWithPath: fromEnvironment))
        }
        roots.append(URL(fileURLWithPath: "/usr/share/datasets"))
        let cache = environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        roots.append(cache.appendingPathComponent("flint/datasets"))
        self.roots = roots
        isExplicit = false
    }

    /// The first `ROOT/name` folder that holds every one of `files` (each either as named or
    /// with `.gz` added), with the resolved file URLs in the order of `files`.
    ///
    /// - Throws: `DataError.missingFiles` naming the absent files when the explicit folder, or
    ///   the first dataset folder found in the search, lacks some; `DataError.notFound` when no
    ///   root has the dataset's folder at all.
    public func locate(_ name: String, files: [String], hint: String) throws -> [URL] {
        var firstIncomplete: (folder: URL, missing: [String])?
        for root in roots {
            let folder = root.appendingPathComponent(name)
            guard Self.isFolder(folder) else { continue }
            var found: [URL] = [], missing: [String] = []
            for file in files {
                if let url = [file + ".gz", file].lazy.map({ folder.appendingPathComponent($0) }).first(where: Self.exists) {
                    found.append(url)
                } else {
                    missing.append(file)
                }
            }
            if missing.isEmpty { return found }
            if firstIncomplete == nil { firstIncomplete = (folder, missing) }
        }
        if let (folder, missing) = firstIncomplete {
            throw DataError.missingFiles(dataset: name, folder: folder.path, missing: missing, hint: hint)
        }
        throw DataError.notFound(dataset: name, searched: roots.map { $0.appendingPathComponent(name).path }, hint: hint)
    }

    private static func isFolder(_ url: URL) -> Bool {
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) && isFolder.boolValue
    }

    /// Present, whatever it is: a folder or an unreadable file is then reported by the reader
    /// with its reason, rather than skipped in favour of another folder.
    private static func exists(_ url: URL) -> Bool {
        FileManager.default.fileExists(atPath: url.path)
    }
}
