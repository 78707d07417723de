import Foundation
import Testing
@testable import FlintData

@Suite struct AtomicFileWrites {
    func freshFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func replacesContentsAndLeavesNoTemporaries() throws {
        let folder = try freshFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let target = folder.appendingPathComponent("nested/weights.bin")
        try AtomicFile.write(Data([1, 2, 3]), to: target)
        try AtomicFile.write(Data([4, 5]), to: target)
        #expect(try Data(contentsOf: target) == Data([4, 5]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.deletingLastPathComponent().path) == ["weights.bin"])
    }

    @Test func removesTemporariesOfDeadWritersOnly() throws {
        let folder = try freshFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let target = folder.appendingPathComponent("model.safetensors")
        // pid_t max on Linux is below 2^22, so 4194999 names a process that cannot exist.
        let dead = ".model.safetensors.4194999.17\(AtomicFile.temporarySuffix)"
        let alive = ".model.safetensors.\(getpid()).18\(AtomicFile.temporarySuffix)"
        for name in [dead, alive] { try Data([0]).write(to: folder.appendingPathComponent(name)) }
        try AtomicFile.write(Data([9]), to: target)
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
        #expect(names == ["model.safetensors", alive])
    }

    @Test func failuresNameThePathAndKeepTheOldFile() throws {
        let folder = try freshFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: FileWriteError.self) { try AtomicFile.write(Data([1]), to: folder) }
        let target = folder.appendingPathComponent("keep.txt")
        try AtomicFile.write("old", to: target)
        // A folder where the file's folder should be: the write fails and names the target.
        let blocked = target.appendingPathComponent("inner.txt")
        let error = #expect(throws: FileWriteError.self) { try AtomicFile.write("new", to: blocked) }
        #expect(error?.description.contains(blocked.path) == true)
        #expect(try String(contentsOf: target, encoding: .utf8) == "old")
    }

    /// `flint train --output` is checked before training: a folder that cannot take files is
    /// an error with the reason, and the check leaves nothing behind.
    @Test func writableFolderCheck() throws {
        let folder = try freshFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try AtomicFile.checkWritableFolder(folder)
        try AtomicFile.checkWritableFolder(folder.appendingPathComponent("not/yet/made"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)

        let file = folder.appendingPathComponent("a-file")
        try Data([1]).write(to: file)
        #expect(throws: FileWriteError(path: file.path, reason: "it is a file, not a folder")) {
            try AtomicFile.checkWritableFolder(file)
        }
        #expect(throws: FileWriteError(path: file.path + "/inside", reason: "\(file.path) is a file, not a folder")) {
            try AtomicFile.checkWritableFolder(file.appendingPathComponent("inside"))
        }
        // /sys refuses new files even to root.
        #expect(throws: FileWriteError(path: "/sys/flint-output", reason: "Permission denied")) {
            try AtomicFile.checkWritableFolder(URL(fileURLWithPath: "/sys/flint-output"))
        }
    }
}
