import ArgumentParser
import Flint
import Foundation

/// All-reduce latency and bandwidth over Open MPI, and data-parallel training throughput: one
/// process using every core against `ranks` processes sharing them (FLINT_THREADS = cores /
/// ranks each), as ratios. Run it plainly: it starts the `mpirun` half itself.
struct Distributed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure all-reduce over MPI and data-parallel training throughput (starts mpirun itself)."
    )

    @Option(help: "Processes for the parallel half.")
    var ranks = 2

    @Option(help: "Seconds per measurement.")
    var seconds: Double = 2

    @Option(help: "Comma-separated models: mlp, cnn.")
    var models = "mlp,cnn"

    @Flag(help: "Run as one rank of the parallel half (set by the command itself).")
    var worker = false

    func run() throws {
        if worker { return try runWorker() }
        guard let mpirun = findMPIRun() else { throw ValidationError("mpirun is not installed (apt-get install openmpi-bin)") }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print("One process with \(cores) threads, then \(ranks) ranks × \(max(1, cores / ranks)) thread(s) under \(mpirun.path)")
        var single: [String: Double] = [:]
        for model in models.split(separator: ",").map(String.init) {
            single[model] = try throughput(model, group: .single)
        }
        let output = try runParallel(mpirun)
        let lines = output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let reduces = lines.filter { $0["kind"] as? String == "allreduce" }
        print(TextTable(header: ["all-reduce", "median µs", "bus GB/s"], rows: reduces.map {
            [Self.size($0["bytes"] as? Int ?? 0), String(format: "%.1f", ($0["seconds"] as? Double ?? 0) * 1e6),
             String(format: "%.2f", $0["bus_gbps"] as? Double ?? 0)]
        }).rendered)
        print("")
        var rows: [[String]] = []
        for line in lines where line["kind"] as? String == "train" {
            let model = line["model"] as? String ?? "?"
            let parallel = line["samples_per_second"] as? Double ?? 0
            let one = single[model] ?? .nan
            rows.append([model, String(format: "%.0f", one), String(format: "%.0f", parallel), String(format: "%.2f×", parallel / one)])
        }
        print(TextTable(header: ["train", "1 process samples/s", "\(ranks) ranks samples/s", "ratio"], rows: rows).rendered)
    }

    static func size(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes >> 10) KiB"
    }

    private func findMPIRun() -> URL? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent("mpirun") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    private func runParallel(_ mpirun: URL) throws -> String {
        let process = Process()
        process.executableURL = mpirun
        process.arguments = ["--oversubscribe", "-np", String(ranks), CommandLine.arguments[0], "distributed", "--worker",
                             "--seconds", String(seconds), "--models", models]
        let threads = max(1, ProcessInfo.processInfo.activeProcessorCount / ranks)
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "FLINT_THREADS": String(threads)]) { old, _ in old }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("the mpirun half failed (status \(process.terminationStatus))") }
        return output
    }

    private func runWorker() throws {
        let group = ProcessGroup.world
        func emit(_ object: [String: Any]) {
            guard group.rank == 0, let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
            print(String(decoding: data, as: UTF8.self))
        }
        // Ring all-reduce moves 2(n-1)/n of the data per rank: the usual "bus bandwidth".
        for exponent in stride(from: 12, through: 26, by: 2) {
            let bytes = 1 << exponent
            var values = [Float](repeating: 1, count: bytes / 4)
            var samples: [Double] = []
            var spent = 0.0
            group.barrier()
            while samples.count < 5 || (spent < seconds / 4 && samples.count < 2000) {
                let start = DispatchTime.now().uptimeNanoseconds
                group.allSum(&values)
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                samples.append(elapsed)
                spent += elapsed
            }
            // Every rank takes the slowest rank's median, so they agree on when to stop.
            var median = [Float(samples.sorted()[samples.count / 2])]
            group.allMax(&median)
            let time = Double(median[0])
            emit(["kind": "allreduce", "bytes": bytes, "seconds": time,
                  "bus_gbps": Double(bytes) * 2 * Double(group.size - 1) / Double(group.size) / time / 1e9])
        }
        for model in models.split(separator: ",").map(String.init) {
            emit(["kind": "train", "model": model, "samples_per_second": try throughput(model, group: group)])
        }
    }

    /// Training samples/s of `model` at global batch 128 on the CPU (the same workloads as `models`).
    private func throughput(_ model: String, group: ProcessGroup) throws -> Double {
        let network: Sequential
        let shape: [Int]
        switch model {
        case "mlp":
            shape = [28, 28]
            network = try Sequential([Flatten(), Dense(128, activation: .relu), Dense(10)], inputShape: shape, device: .cpu, seed: 1)
        case "cnn":
            shape = [28, 28, 1]
            network = try Sequential([Conv2D(32, kernelSize: 3, activation: .relu), MaxPool2D(), Flatten(),
                                      Dense(128, activation: .relu), Dense(10)], inputShape: shape, device: .cpu, seed: 1)
        default:
            throw ValidationError("unknown model \(model)")
        }
        try network.compile(optimizer: Adam(), loss: SparseCategoricalCrossEntropy(fromLogits: true))
        let batch = 128, steps = model == "mlp" ? 64 : 8
        let x = Tensor.uniform([batch * steps] + shape, seed: 3, on: .cpu)
        let y = Tensor(int32: (0..<(batch * steps)).map { Int32($0 % 10) }, shape: [batch * steps], on: .cpu)
        try network.fit(x, y, epochs: 1, batchSize: batch, verbosity: .silent)  // warm-up
        var rates: [Double] = []
        var spent = 0.0
        while rates.count < 3 || spent < seconds {
            let start = DispatchTime.now().uptimeNanoseconds
            try network.fit(x, y, epochs: 1, batchSize: batch, verbosity: .silent)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            rates.append(Double(batch * steps) / elapsed)
            spent += elapsed
            // The ranks must agree on how many runs to make.
            var done = [Float(rates.count >= 3 && spent >= seconds ? 1 : 0)]
            group.allMax(&done)
            if done[0] > 0 { break }
        }
        return rates.sorted()[rates.count / 2]
    }
}
