import Foundation
import Testing
@testable import FlintData

/// The folder of real datasets the tests read: `$FLINT_TEST_DATA` when set (CI points it at its
/// copy), else `shared/data` beside the repository, as in this workspace.
let sharedDataFolder: URL = {
    if let folder = ProcessInfo.processInfo.environment["FLINT_TEST_DATA"], !folder.isEmpty { return URL(fileURLWithPath: folder) }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/data").standardized
}()

/// The shared data folder when it holds `dataset`, else nil.
func sharedData(_ dataset: String) -> DataDirectory? {
    guard FileManager.default.fileExists(atPath: sharedDataFolder.appendingPathComponent(dataset).path) else { return nil }
    return DataDirectory(explicit: sharedDataFolder.path, environment: [:])
}

/// Why a test of the real `dataset` is skipped.
func noSharedData(_ dataset: String) -> Comment {
    "\(dataset) is not in \(sharedDataFolder.path) (set FLINT_TEST_DATA to the folder of test datasets)"
}

/// Writes `data` to a fresh temporary file and returns its URL (the caller removes it).
func temporaryFile(_ data: Data, suffix: String = ".csv") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("flint-\(UUID().uuidString)\(suffix)")
    try data.write(to: url)
    return url
}
