import ArgumentParser
import Flint
import Foundation

/// Whole-model throughput: training steps of the MLP and the seed CNN (with and without batch
/// prefetching), and MLP inference latency (batch 1) and throughput (batch 256), on each device,
/// after warm-up.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmark model training and inference on each device.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Comma-separated models: mlp, cnn.")
    var models = "mlp,cnn"

    @Flag(help: "Also print each device's figures as a ratio to the CPU backend.")
    var compare = false

    func run() throws {
        var rows: [ModelMeasurement] = []
        let wanted = Set(models.split(separator: ",").map(String.init))
        for device in try options.selectedDevices() {
            if wanted.contains("mlp") {
                rows += try training(.mlp, on: device)
                rows += try inference(on: device)
            }
            if wanted.contains("cnn") { rows += try training(.cnn, on: device) }
            if !options.json { FileHandle.standardError.write(Data("measured \(device)\n".utf8)) }
        }
        if options.json {
            rows.forEach { print($0.jsonLine) }
        } else {
            print(TextTable(header: ModelMeasurement.header, rows: rows.map(\.tableRow)).rendered)
            printPrefetchOverlap(rows)
        }
        if compare { printComparison(rows) }
    }

    enum Kind: String { case mlp, cnn }

    private func makeModel(_ kind: Kind, on device: Device) throws -> Sequential {
        let model: Sequential
        switch kind {
        case .mlp:
            model = try Sequential([Flatten(), Dense(128, activation: .relu), Dense(10)], inputShape: [28, 28], device: device, seed: 1)
        case .cnn:
            model = try Sequential([Conv2D(32, kernelSize: 3, activation: .relu), MaxPool2D(), Flatten(),
                                    Dense(128, activation: .relu), Dense(10)], inputShape: [28, 28, 1], device: device, seed: 1)
        }
        try model.compile(optimizer: Adam(learningRate: 1e-3), loss: SparseCategoricalCrossEntropy(fromLogits: true))
        return model
    }

    /// Samples per second of `fit` over synthetic MNIST-shaped byte images, standardised per
    /// batch on the device as `flint train` does, with batches prefetched on a background thread
    /// (the default) and made on the training thread (`prefetch: 0`). The two are timed
    /// alternately, so load from other processes touches both alike; each row also gives the
    /// median time per step.
    private func training(_ kind: Kind, on device: Device) throws -> [ModelMeasurement] {
        let model = try makeModel(kind, on: device)
        let batch = 128
        let steps = kind == .mlp ? 64 : 8
        let count = batch * steps
        var state: UInt64 = 3
        let pixels = (0..<(count * 784)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let labels = (0..<count).map { Int32($0 % 10) }
        let shape = kind == .mlp ? [count, 28, 28] : [count, 28, 28, 1]
        let data = try ArrayDataset(HostArray(uint8: pixels, shape: shape), target: HostArray(int32: labels, shape: [count]))
            .normalized(scale: 1 / (255 * 0.3081), shift: -0.1307 / 0.3081)
        let warmStart = DispatchTime.now().uptimeNanoseconds
        try model.fit(data.take(batch), epochs: 1, batchSize: batch, verbosity: .silent)
        device.backend.synchronize()
        let firstStep = Double(DispatchTime.now().uptimeNanoseconds - warmStart) / 1e6
        try model.fit(data, epochs: 1, batchSize: batch, verbosity: .silent)  // warm-up: pools and caches fill
        var seconds: [Int: [Double]] = [2: [], 0: []]
        var allocations = 0
        var reads = 0
        var spent = 0.0
        while seconds[0]!.count < 3 || (spent < options.seconds && seconds[0]!.count < 20) {
            for depth in [2, 0] {
                let before = device.backend.memoryStatistics
                let start = DispatchTime.now().uptimeNanoseconds
                try model.fit(data, epochs: 1, batchSize: batch, verbosity: .silent, prefetch: depth)
                device.backend.synchronize()
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if depth == 2 {
                    let after = device.backend.memoryStatistics
                    allocations = after.allocations - before.allocations
                    // `fit` reads its logs once, at the end of the epoch (the only progress update
                    // of a silent run): every other read would be a stall inside a step.
                    reads = after.reads - before.reads - 1
                }
                seconds[depth]!.append(elapsed)
                spent += elapsed
            }
        }
        return [2, 0].map { depth in
            let median = seconds[depth]!.sorted()[seconds[depth]!.count / 2]
            return ModelMeasurement(device: device.identifier, model: kind.rawValue, workload: depth == 2 ? "train" : "train_no_prefetch",
                                    samplesPerSecond: Double(count) / median, firstMilliseconds: firstStep,
                                    allocationsPerStep: depth == 2 ? Double(allocations) / Double(steps) : nil,
                                    readsPerStep: depth == 2 && device.isOpenCL ? Double(reads) / Double(steps) : nil,
                                    stepMilliseconds: median / Double(steps) * 1000)
        }
    }

    private func inference(on device: Device) throws -> [ModelMeasurement] {
        let model = try makeModel(.mlp, on: device)
        return [1, 256].map { batch in
            let x = Tensor.uniform([batch, 28, 28], seed: 4, on: device)
            let timing = Tensor.withoutGrad { measure(on: device, seconds: options.seconds) { _ = model(x) } }
            let perSecond = Double(batch) / (timing.median / 1000)
            return ModelMeasurement(device: device.identifier, model: "mlp", workload: batch == 1 ? "infer_b1" : "infer_b256",
                                    samplesPerSecond: perSecond, firstMilliseconds: timing.first,
                                    latencyMicroseconds: batch == 1 ? timing.median * 1000 : nil)
        }
    }

    /// Per device and model: the time per step with batches made on the training thread, with
    /// them prefetched, and the share of the step the background thread took off it.
    private func printPrefetchOverlap(_ rows: [ModelMeasurement]) {
        let table = rows.filter { $0.workload == "train" }.compactMap { row -> [String]? in
            guard let with = row.stepMilliseconds,
                  let without = rows.first(where: { $0.device == row.device && $0.model == row.model && $0.workload == "train_no_prefetch" })?
                      .stepMilliseconds else { return nil }
            return [row.device, row.model, String(format: "%.2f", without), String(format: "%.2f", with),
                    String(format: "%+.1f%%", (without - with) / without * 100)]
        }
        guard !table.isEmpty else { return }
        print("\nPrefetching (batches assembled and uploaded on a background thread while the step computes):")
        print(TextTable(header: ["device", "model", "ms/step without", "ms/step with", "saved"], rows: table).rendered)
    }

    private func printComparison(_ rows: [ModelMeasurement]) {
        let cpu = Dictionary(rows.filter { $0.device == "cpu" }.map { ("\($0.model)/\($0.workload)", $0.samplesPerSecond) },
                             uniquingKeysWith: { a, _ in a })
        let table = rows.filter { $0.device != "cpu" }.map { row -> [String] in
            let base = cpu["\(row.model)/\(row.workload)"]
            return [row.device, row.model, row.workload, base.map { String(format: "%.2f×", row.samplesPerSecond / $0) } ?? "-"]
        }
        print("\nThroughput relative to the CPU backend (higher is faster):")
        print(TextTable(header: ["device", "model", "workload", "vs cpu"], rows: table).rendered)
    }
}

struct ModelMeasurement {
    var device: String
    var model: String
    var workload: String
    var samplesPerSecond: Double
    /// The first call: on OpenCL it includes the driver's per-kernel compile.
    var firstMilliseconds: Double
    var latencyMicroseconds: Double? = nil
    /// New device allocations per training step in steady state (0 when the pool serves everything).
    var allocationsPerStep: Double? = nil
    /// Device-to-host reads per training step, not counting the one at the end of the epoch
    /// (OpenCL; on the CPU backend memory is the host's).
    var readsPerStep: Double? = nil
    /// Median time per training step.
    var stepMilliseconds: Double? = nil

    static let header = ["device", "model", "workload", "samples/s", "ms/step", "latency µs", "first ms", "allocs/step", "reads/step"]

    var tableRow: [String] {
        [device, model, workload, String(format: "%.0f", samplesPerSecond), stepMilliseconds.map { String(format: "%.2f", $0) } ?? "",
         latencyMicroseconds.map { String(format: "%.1f", $0) } ?? "", String(format: "%.1f", firstMilliseconds),
         allocationsPerStep.map { String(format: "%.2f", $0) } ?? "", readsPerStep.map { String(format: "%.2f", $0) } ?? ""]
    }

    var jsonLine: String {
        var object: [String: Any] = ["device": device, "model": model, "workload": workload,
                                     "samples_per_second": (samplesPerSecond * 10).rounded() / 10,
                                     "first_ms": (firstMilliseconds * 1000).rounded() / 1000]
        if let latencyMicroseconds { object["latency_us"] = (latencyMicroseconds * 10).rounded() / 10 }
        if let allocationsPerStep { object["allocations_per_step"] = allocationsPerStep }
        if let readsPerStep { object["reads_per_step"] = readsPerStep }
        if let stepMilliseconds { object["step_ms"] = (stepMilliseconds * 1000).rounded() / 1000 }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
