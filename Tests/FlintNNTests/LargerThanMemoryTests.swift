import Flint
import Foundation
import Testing

/// `flint train` on an IDX file larger than the memory the process is given: the file must be
/// streamed from disk batch by batch. The limit is an address-space limit (`prlimit --as`) set to
/// what the same command needs on a tiny file plus half the large file's size, so the file can
/// neither be mapped nor read whole; training must still finish and learn. In `make test` the
/// file is 90 MiB; docs/data.md gives the figures at full scale.
@Suite struct LargerThanMemory {
    static let flint: URL? = {
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return [folder, folder.deletingLastPathComponent()].map { $0.appendingPathComponent("flint") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()
    static let prlimit = ["/usr/bin/prlimit", "/bin/prlimit"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let canMeasure = FileManager.default.fileExists(atPath: "/proc/self/status")

    /// Writes `ROOT/mnist/` with `count` training images (a bright row whose position is the
    /// label, over noise) made of repeats of 1,000, and 500 test images.
    static func writeDataset(at root: URL, count: Int) throws {
        let folder = root.appendingPathComponent("mnist")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var rng = DataRNG(seed: 12)
        var images: [UInt8] = [], labels: [UInt8] = []
        for i in 0..<1_000 {
            let label = i % 10
            for row in 0..<28 {
                for _ in 0..<28 { images.append(row == 2 * label + 4 ? UInt8(200 + rng.next() % 56) : UInt8(rng.next() % 90)) }
            }
            labels.append(UInt8(label))
        }
        func header(_ shape: [Int]) -> Data {
            Data([0, 0, 8, UInt8(shape.count)] + shape.flatMap { d in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: d >> $0) } })
        }
        func write(_ name: String, _ shape: [Int], _ tile: [UInt8], repeats: Int) throws {
            let url = folder.appendingPathComponent(name)
            _ = FileManager.default.createFile(atPath: url.path, contents: header(shape))
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.seekToEnd()
            for _ in 0..<repeats { try handle.write(contentsOf: tile) }
        }
        try write("train-images-idx3-ubyte", [count, 28, 28], images, repeats: count / 1_000)
        try write("train-labels-idx1-ubyte", [count], labels, repeats: count / 1_000)
        try write("t10k-images-idx3-ubyte", [500, 28, 28], Array(images[0..<(500 * 784)]), repeats: 1)
        try write("t10k-labels-idx1-ubyte", [500], Array(labels[0..<500]), repeats: 1)
    }

    /// Runs `command`, returning its exit status, its output and its peak virtual size (VmPeak,
    /// read from /proc while it runs; the last reading before it exits). A run past `seconds` is
    /// killed: starved of memory, OpenBLAS retries its allocation forever instead of failing.
    static func run(_ command: [String], environment: [String: String], seconds: Double = 300) throws -> (status: Int32, output: String, peak: Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("flint-ltm-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        var peak = 0
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() > deadline { kill(process.processIdentifier, SIGKILL) }
            if let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
               let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmPeak:") }),
               let kilobytes = Int(line.split(separator: " ")[1]) {
                peak = Swift.max(peak, kilobytes * 1024)
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, try String(contentsOf: output, encoding: .utf8), peak)
    }

    @Test(.enabled(if: flint != nil, "flint is not built next to the tests"),
          .enabled(if: prlimit != nil && canMeasure, "needs prlimit (util-linux) and /proc"),
          .disabled(if: ProcessInfo.processInfo.environment["ASAN_OPTIONS"] != nil,
                    "AddressSanitizer reserves terabytes of shadow address space, so no address-space limit can apply"))
    func trainsOnAFileLargerThanTheMemoryItIsGiven() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flint-ltm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let (tiny, large) = (root.appendingPathComponent("tiny"), root.appendingPathComponent("large"))
        try Self.writeDataset(at: tiny, count: 1_000)
        try Self.writeDataset(at: large, count: 120_000)
        let fileSize = 120_000 * 784
        // One BLAS thread and two malloc arenas: libraries' lazy reservations are then the same in both runs.
        let environment = ["OPENBLAS_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2", "FLINT_DEVICE": "cpu"]
        func train(_ data: URL) -> [String] {
            [Self.flint!.path, "train", "--model", "mlp", "--epochs", "1", "--batch-size", "512", "--device", "cpu",
             "--data-dir", data.path, "--output", root.appendingPathComponent("pictures").path, "--json"]
        }
        let baseline = try Self.run(train(tiny), environment: environment)
        try #require(baseline.status == 0 && baseline.peak > 0, "the run on the tiny file failed:\n\(baseline.output)")

        let limit = baseline.peak + fileSize / 2
        let streamed = try Self.run([Self.prlimit!, "--as=\(limit)", "--"] + train(large), environment: environment)
        #expect(streamed.status == 0, "training under a limit of \(limit >> 20) MiB failed:\n\(streamed.output)")
        #expect(streamed.output.contains("from disk batch by batch"), "the file was not streamed:\n\(streamed.output)")
        let json = streamed.output.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let accuracy = json?["test_accuracy"] as? Double ?? 0
        #expect(accuracy > 0.9, "the rows are easy to tell apart: accuracy \(accuracy)")
        #expect(streamed.peak <= limit && limit < baseline.peak + fileSize)
    }
}
