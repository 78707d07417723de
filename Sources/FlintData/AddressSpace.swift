import Foundation

/// The process's address-space limit (`ulimit -v`, `prlimit --as`), which counts memory-mapped
/// files and the buffers libraries reserve lazily (OpenBLAS takes 128 MiB at its first matrix
/// product) alike.
enum AddressSpace {
    /// Bytes the limit still allows, or nil when there is no limit.
    static func headroom() -> Int? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return nil }
        return Swift.max(Int(clamping: limit.rlim_cur) - inUse(), 0)
    }

    /// True when `byteCount` more bytes of address space leave room for everything else: under a
    /// limit, at most a quarter of what it still allows.
    static func canTake(_ byteCount: Int) -> Bool {
        guard let headroom = headroom() else { return true }
        return byteCount <= headroom / 4
    }

    /// The process's current virtual size, from /proc/self/statm (0 where that is unavailable).
    private static func inUse() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = text.split(separator: " ").first.flatMap({ Int($0) }) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
