import Flint
import Foundation
import Testing

/// Data-parallel training under a real `mpirun` (Open MPI): two ranks end with the same weights
/// as one process given the same global batch, report identical numbers, and a rank that dies,
/// stalls or disagrees stops the job with an error instead of a hang. Without Open MPI the tests
/// are skipped with a reason, except under `FLINT_REQUIRE_MPI=1` (set by `make test`).
@Suite(.serialized) struct Distributed {
    static let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    static let check: URL? = [folder, folder.deletingLastPathComponent()].map { $0.appendingPathComponent("flint-distributed-check") }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    static let mpirun: URL? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        .map { URL(fileURLWithPath: String($0)).appendingPathComponent("mpirun") }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    static let required = ProcessInfo.processInfo.environment["FLINT_REQUIRE_MPI"] == "1"
    static let runnable = (check != nil && mpirun != nil) || required

    struct Run {
        let status: Int32
        let seconds: Double
        let error: String
    }

    /// Runs the check program, under `mpirun -np ranks` when `ranks` is set, killing it after `limit` seconds.
    static func run(_ arguments: [String], ranks: Int?, environment: [String: String] = [:], limit: Double = 120) throws -> Run {
        let process = Process()
        if let ranks {
            process.executableURL = try #require(mpirun, "mpirun is not installed")
            process.arguments = ["--oversubscribe", "-np", String(ranks), try #require(check).path] + arguments
        } else {
            process.executableURL = try #require(check)
            process.arguments = arguments
        }
        var inherited = ProcessInfo.processInfo.environment
        // Under `make sanitize` the ranks are sanitized too, but Open MPI frees neither what its
        // op selection allocates nor the memory of the components it dlopens and unloads at
        // MPI_Finalize (stacks ending in an unloaded module, which no suppression can name);
        // Flint's own code is leak-checked by the in-process tests.
        if let asan = inherited["ASAN_OPTIONS"] { inherited["ASAN_OPTIONS"] = asan + ":detect_leaks=0" }
        process.environment = inherited
            .merging(["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]) { $1 }.merging(environment) { $1 }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        let deadline = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + limit, execute: deadline)
        let error = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        deadline.cancel()
        return Run(status: process.terminationStatus, seconds: Date().timeIntervalSince(start), error: error)
    }

    static func report(_ folder: URL, rank: Int) throws -> (weights: [Double], history: [[String: Double]]) {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("rank-\(rank).json"))) as? [String: Any]
        return (object?["weights"] as? [Double] ?? [], object?["history"] as? [[String: Double]] ?? [])
    }

    static func temporary() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("flint-mpi-\(UUID().uuidString)") }

    /// The CPU, and OpenCL where present (or required).
    static let devices = ["cpu"] + (NNDevices.openCLAvailable || NNDevices.openCLRequired ? ["opencl"] : [])

    @Test(.enabled(if: runnable, "Open MPI's mpirun is not installed (make test installs it)"), arguments: devices)
    func twoRanksMatchOneProcess(device: String) throws {
        let (parallel, single) = (Self.temporary(), Self.temporary())
        defer { for url in [parallel, single] { try? FileManager.default.removeItem(at: url) } }
        let two = try Self.run(["train", parallel.path, device], ranks: 2)
        #expect(two.status == 0, "\(two.error)")
        let one = try Self.run(["train", single.path, device], ranks: nil)
        #expect(one.status == 0, "\(one.error)")
        let (rank0, rank1, reference) = (try Self.report(parallel, rank: 0), try Self.report(parallel, rank: 1), try Self.report(single, rank: 0))
        #expect(rank0.weights == rank1.weights, "the ranks ended with different weights")
        #expect(rank0.history == rank1.history, "the ranks reported different numbers")
        // 20 steps (2 epochs of 10, global batch 32, with a validation set and a schedule).
        let scale = reference.weights.map(Swift.abs).max() ?? 1
        let worst = zip(rank0.weights, reference.weights).map { Swift.abs($0 - $1) }.max() ?? .infinity
        #expect(!reference.weights.isEmpty && rank0.weights.count == reference.weights.count && worst / scale <= 1e-5,
                "2 ranks vs 1 process on \(device): worst difference \(worst / scale) of the largest weight")
        for (a, b) in zip(rank0.history, reference.history) {
            for key in b.keys { #expect(Swift.abs((a[key] ?? .nan) - b[key]!) <= 1e-5 * Swift.max(1, Swift.abs(b[key]!)), "\(key): \(a) vs \(b)") }
        }
    }

    @Test(.enabled(if: runnable, "Open MPI's mpirun is not installed (make test installs it)"))
    func aDeadRankEndsTheJob() throws {
        let run = try Self.run(["die", Self.temporary().path, "cpu"], ranks: 2, limit: 90)
        #expect(run.status != 0 && run.seconds < 60, "status \(run.status) after \(run.seconds) s")
    }

    @Test(.enabled(if: runnable, "Open MPI's mpirun is not installed (make test installs it)"))
    func aStalledRankEndsTheJobAtTheTimeout() throws {
        let run = try Self.run(["stall", Self.temporary().path, "cpu"], ranks: 2, environment: ["FLINT_DISTRIBUTED_TIMEOUT": "5"], limit: 90)
        #expect(run.status != 0 && run.seconds < 60, "status \(run.status) after \(run.seconds) s: \(run.error)")
        #expect(run.error.contains("did not complete within 5 s"), "\(run.error)")
    }

    @Test(.enabled(if: runnable, "Open MPI's mpirun is not installed (make test installs it)"))
    func ranksThatDisagreeStopTogether() throws {
        let run = try Self.run(["mismatch", Self.temporary().path, "cpu"], ranks: 2)
        #expect(run.status != 0 && run.error.contains("disagree about the run (batch size)"), "\(run.error)")
    }

    /// No Open MPI needed: a process that looks started by mpirun but cannot load the library
    /// runs as a world of one and says why.
    @Test(.enabled(if: Self.check != nil, "flint-distributed-check is not built next to the tests"))
    func aMissingLibraryMeansAWorldOfOne() throws {
        let process = Process()
        process.executableURL = Self.check!
        process.arguments = ["world"]
        process.environment = ["OMPI_COMM_WORLD_SIZE": "2", "FLINT_MPI_LIBRARY": "/nonexistent/libmpi.so.40", "PATH": "/usr/bin:/bin"]
        let (out, err) = (Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let error = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0 && output.hasPrefix("size 1 rank 0 library none"), "\(output)")
        #expect(error.contains("running as a single process") && error.contains("/nonexistent/libmpi.so.40"), "\(error)")
    }
}
