import Flint
import Foundation
import Testing

/// Kills a process that writes checkpoints in a loop (Tests/CheckpointStress) at random moments
/// and checks, every time, that the newest complete checkpoint loads whole and that no file a
/// loader would pick up is damaged. `FLINT_KILL_TRIALS` sets the number of kills (default 12).
@Suite struct CrashSafety {
    static let writer: URL? = {
        // The test bundle and the package's executables share the build folder.
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [folder, folder.deletingLastPathComponent()].map { $0.appendingPathComponent("flint-checkpoint-stress") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()
    static let trials = Int(ProcessInfo.processInfo.environment["FLINT_KILL_TRIALS"] ?? "") ?? 12

    @Test(.enabled(if: writer != nil, "flint-checkpoint-stress is not built next to the tests"))
    func killedWritersNeverLeaveADamagedCheckpoint() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-kill-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var rng = DataRNG(seed: UInt64(Date().timeIntervalSince1970))
        var lastEpoch = 0
        var killedMidWrite = 0
        for trial in 0..<Self.trials {
            let process = Process()
            process.executableURL = Self.writer!
            process.arguments = [folder.path]
            process.standardError = FileHandle.nullDevice
            // Half of every write, then 40 ms, then the rest: most kills land inside a write.
            process.environment = ProcessInfo.processInfo.environment.merging(["FLINT_TEST_WRITE_PAUSE_US": "40000"]) { $1 }
            try process.run()
            usleep(UInt32(100_000 + rng.next() % 500_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "trial \(trial): the writer stopped by itself (\(process.terminationStatus))")

            // Killed before it even made the folder (a slow start on a busy machine): nothing to check.
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            if names.contains(where: { $0.hasSuffix(AtomicFile.temporarySuffix) }) { killedMidWrite += 1 }
            // Every file a loader would take is whole and consistent.
            for name in names where !name.hasPrefix(".") {
                let checkpoint = try Checkpoint(contentsOf: folder.appendingPathComponent(name))
                let file = try SafeTensorsFile(contentsOf: checkpoint.url)
                let value = Float(checkpoint.epoch)
                for entry in file.entries where !entry.name.hasPrefix("@") {
                    #expect(try file.floats(entry).allSatisfy { $0 == value }, "trial \(trial): \(name) \(entry.name) is torn")
                }
                #expect(checkpoint.history["loss"] == (1...checkpoint.epoch).map(Float.init), "trial \(trial): \(name) history")
            }
            // Killed before its first write completed: nothing to load yet, and nothing torn.
            guard let latest = try Checkpoint.latest(in: folder) else {
                #expect(lastEpoch == 0, "trial \(trial): no checkpoint after \(names)")
                continue
            }
            #expect(latest.epoch >= lastEpoch, "trial \(trial): went back from \(lastEpoch) to \(latest.epoch)")
            lastEpoch = latest.epoch
            // It restores into a model of the same shape.
            let model = try Sequential([Dense(256, activation: .relu), Dense(256, activation: .relu), Dense(256)],
                                       inputShape: [256], device: .cpu, seed: 9)
            try model.compile(optimizer: Adam())
            try latest.restore(into: model)
            #expect(model.parameters.allSatisfy { $0.value.toArray().allSatisfy { $0 == Float(latest.epoch) } })
        }
        #expect(lastEpoch > 0, "no checkpoint was ever completed")
        print("CrashSafety: \(Self.trials) kills, \(killedMidWrite) left a temporary file behind, last checkpoint epoch \(lastEpoch)")
    }
}
