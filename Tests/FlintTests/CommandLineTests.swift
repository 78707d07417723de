import Foundation
import Testing

/// The `flint` binary built beside the tests, run as a user would: bad input ends in a one-line
/// error and exit status 1 (never a signal), before any training when it can.
@Suite struct FlintCommandLine {
    /// `flint` in the folder of the test bundle (`swift build --build-tests` builds both).
    static let binary: URL? = {
        let folder = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
        let flint = folder.appendingPathComponent("flint")
        return FileManager.default.isExecutableFile(atPath: flint.path) ? flint : nil
    }()

    /// The real datasets (`$FLINT_TEST_DATA`, else `shared/data` beside the repository), when present.
    static let sharedData: URL? = {
        let environment = ProcessInfo.processInfo.environment["FLINT_TEST_DATA"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
        let folder = environment ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/data").standardized
        return FileManager.default.fileExists(atPath: folder.appendingPathComponent("iris").path) ? folder : nil
    }()

    static var runnable: Bool { binary != nil }
    static var runnableWithData: Bool { binary != nil && sharedData != nil }

    struct Outcome {
        var status: Int32
        var exitedNormally: Bool
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        let process = Process()
        process.executableURL = binary!
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, exitedNormally: process.terminationReason == .exit,
                       stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flint-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test(.enabled(if: runnable, "needs the flint binary beside the tests"))
    func explicitDataDirIsTheOnlyPlaceSearched() throws {
        let outcome = try Self.run(["train", "--data-dir", "/nonexistent/flint", "--device", "cpu"],
                                   environment: ["FLINT_DATA_DIR": Self.sharedData?.path ?? "/tmp"])
        #expect(outcome.exitedNormally && outcome.status == 1, "\(outcome)")
        #expect(outcome.stderr.contains("Looked in:\n  /nonexistent/flint/mnist\n") && !outcome.stderr.contains("shared/data"), "\(outcome.stderr)")
        #expect(!outcome.stdout.contains("Training"))
    }

    @Test(.enabled(if: runnable, "needs the flint binary beside the tests"))
    func unusableOutputFailsBeforeTraining() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("taken")
        try Data([1]).write(to: file)
        let outcome = try Self.run(["train", "--model", "logistic-regression", "--output", file.path, "--device", "cpu"])
        #expect(outcome.exitedNormally && outcome.status == 1, "\(outcome)")
        #expect(outcome.stderr.contains("cannot write \(file.path): it is a file, not a folder"), "\(outcome.stderr)")
        #expect(!outcome.stdout.contains("Training") && !outcome.stderr.contains("NSCocoaErrorDomain"))
    }

    @Test(.enabled(if: runnable, "needs the flint binary beside the tests"))
    func tinyTableIsAnErrorNotACrash() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("iris"), withIntermediateDirectories: true)
        try Data("3,2,a,b,c\n1,2,0\n3,4,1\n5,6,2\n".utf8).write(to: folder.appendingPathComponent("iris/iris.csv"))
        let outcome = try Self.run(["train", "--model", "logistic-regression", "--data-dir", folder.path, "--device", "cpu", "--epochs", "1"])
        #expect(outcome.exitedNormally && outcome.status == 1, "\(outcome)")
        #expect(outcome.stderr.contains("cannot split the data"), "\(outcome.stderr)")
    }

    @Test(.enabled(if: runnableWithData, "needs the flint binary and the test datasets (FLINT_TEST_DATA, else ../shared/data)"))
    func libraryThatIsNotOpenCLLeavesTheCPUTraining() throws {
        let outcome = try Self.run(["train", "--model", "logistic-regression", "--data-dir", Self.sharedData!.path,
                                    "--device", "cpu", "--epochs", "1"], environment: ["FLINT_OPENCL_LIBRARY": "libz.so.1"])
        #expect(outcome.exitedNormally && outcome.status == 0, "\(outcome)")
        #expect(outcome.stderr.components(separatedBy: "is not an OpenCL loader").count == 2, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("Train accuracy"))
    }

    /// With stdout a pipe, each line must arrive as it is printed, not when the process ends
    /// (C buffers pipes in blocks, so a crash used to leave an empty log).
    @Test(.enabled(if: runnableWithData, "needs the flint binary and the test datasets (FLINT_TEST_DATA, else ../shared/data)"))
    func stdoutArrivesLineByLine() throws {
        let process = Process()
        process.executableURL = Self.binary!
        process.arguments = ["train", "--model", "logistic-regression", "--data-dir", Self.sharedData!.path,
                             "--device", "cpu", "--epochs", "100000000"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait up to two minutes for the first bytes (loading and a debug build are slow).
        var poller = pollfd(fd: out.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
        let arrived = poll(&poller, 1, 120_000) == 1
        let received = arrived ? out.fileHandleForReading.availableData : Data()
        let stillRunning = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(arrived && stillRunning, "no output while the process ran")
        #expect(String(decoding: received, as: UTF8.self).hasPrefix("Training multinomial logistic regression"))
    }
}
