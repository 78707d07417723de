import FlintBackend
import FlintCore
import FlintOpenCL
import Foundation

extension Device {
    /// The backend's kernel tuning (`flint tune`), nil for a device without tunable kernels (the
    /// CPU backend, whose GEMM is OpenBLAS's).
    public var tunableBackend: (any TunableBackend)? {
        deviceBackend as? any TunableBackend
    }

    /// The folder of the tuning cache (`FLINT_TUNING_DIR`, else `$XDG_CACHE_HOME/flint/tuning`,
    /// else `~/.cache/flint/tuning`); nil when no home folder is known.
    public static var tuningCacheFolder: URL? { TuningCache.defaultFolder() }

    /// Every tuning cache file in `tuningCacheFolder`: its path, the device, driver and kernel
    /// profile it was measured on, and its records by shape class.
    public static var tuningCacheFiles: [(path: String, device: String, driver: String, profile: String, records: [TuningRecord])] {
        guard let folder = tuningCacheFolder else { return [] }
        return TuningCache.files(in: folder).map {
            ($0.path, $0.contents.key.device, $0.contents.key.driver, $0.contents.key.profile,
             $0.contents.records.values.sorted { $0.key < $1.key })
        }
    }

    /// Deletes every tuning cache file; returns how many there were.
    @discardableResult
    public static func clearTuningCache() throws -> Int {
        guard let folder = tuningCacheFolder else { return 0 }
        return try TuningCache.clear(folder)
    }
}
