import Foundation
@testable import FlintData

/// The real datasets in ../shared/data (present in this workspace and in CI), or nil when that
/// folder or the named dataset is absent, so tests skip rather than fail elsewhere.
func sharedData(_ dataset: String) -> DataDirectory? {
    let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/data").standardized
    guard FileManager.default.fileExists(atPath: shared.appendingPathComponent(dataset).path) else { return nil }
    return DataDirectory(explicit: shared.path, environment: [:])
}

/// Writes `data` to a fresh temporary file and returns its URL (the caller removes it).
func temporaryFile(_ data: Data, suffix: String = ".csv") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("flint-\(UUID().uuidString)\(suffix)")
    try data.write(to: url)
    return url
}
