import Foundation

/// Where datasets are looked for, in order: an explicit folder (`--data-dir`), `FLINT_DATA_DIR`,
/// `/usr/share/datasets` (Debian's `dataset-*` packages install there), then the user cache
/// (`$XDG_CACHE_HOME/flint/datasets`, else `~/.cache/flint/datasets`). A dataset `NAME` is the
/// folder `ROOT/NAME`.
public struct DataDirectory: Sendable {
    public let roots: [URL]

    public init(explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        var roots: [URL] = []
        if let explicit, !explicit.isEmpty { roots.append(URL(fileURLWithPath: explicit)) }
        if let fromEnvironment = environment["FLINT_DATA_DIR"], !fromEnvironment.isEmpty {
            roots.append(URL(fileURLWithPath: fromEnvironment))
        }
        roots.append(URL(fileURLWithPath: "/usr/share/datasets"))
        let cache = environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        roots.append(cache.appendingPathComponent("flint/datasets"))
        self.roots = roots
    }

    /// The first `ROOT/name` folder that holds every one of `files` (each either as named
    /// or with `.gz` added), with the resolved file URLs.
    public func locate(_ name: String, files: [String], hint: String) throws -> [URL] {
        for root in roots {
            let folder = root.appendingPathComponent(name)
            let found = files.compactMap { file -> URL? in
                [file + ".gz", file].lazy.map { folder.appendingPathComponent($0) }
                    .first { FileManager.default.isReadableFile(atPath: $0.path) }
            }
            if found.count == files.count { return found }
        }
        throw DataError.notFound(dataset: name, searched: roots.map { $0.appendingPathComponent(name).path }, hint: hint)
    }
}
