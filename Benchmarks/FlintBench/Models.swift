import ArgumentParser
import Flint
import Foundation

/// Whole-model throughput on each device, after warm-up: training steps (the MLP and the seed CNN
/// also without batch prefetching) and inference latency (batch 1) and throughput (batch 256) of
/// every model in `ModelKind`. Each row carries the model's useful FLOPs per sample and, with the
/// CPU's fp32 peak measured first in the same run (`PeakFlops`), the share of that peak.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmark model training and inference on each device.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Comma-separated models: mlp, cnn, convnet (Keras' MNIST convnet), wide (784→1024→1024→10), lstm.")
    var models = ModelKind.allCases.map(\.rawValue).joined(separator: ",")

    @Flag(help: "Skip the fp32 peak measurement (no share-of-peak figures).")
    var noPeak = false

    @Flag(help: "Also print each device's figures as a ratio to the CPU backend.")
    var compare = false

    func run() throws {
        var rows: [ModelMeasurement] = []
        let names = models.split(separator: ",").map(String.init)
        let kinds = try names.map { name in
            guard let kind = ModelKind(rawValue: name) else {
                throw ValidationError("unknown model \(name); choose from \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return kind
        }
        let devices = try options.selectedDevices()
        // The CPU's fp32 peak, measured in this run (the machine's load now is the load the models see).
        let peak = noPeak || !devices.contains(where: { $0.identifier == "cpu" }) ? nil : PeakFlops.measure(seconds: min(options.seconds, 1))
        if let peak { rows += peak.rows }
        for device in devices {
            for kind in kinds {
                rows += try training(kind, on: device)
                rows += try inference(kind, on: device)
            }
            if !options.json { FileHandle.standardError.write(Data("measured \(device)\n".utf8)) }
        }
        if let peak {
            rows = rows.map { row in
                var row = row
                if row.device == "cpu", row.model != "peak", let flops = row.flopsPerSample { row.peakShare = row.samplesPerSecond * flops / peak.flopsPerSecond }
                return row
            }
        }
        if options.json {
            rows.forEach { print($0.jsonLine) }
        } else {
            print(TextTable(header: ModelMeasurement.header, rows: rows.map(\.tableRow)).rendered)
            printPrefetchOverlap(rows)
        }
        if compare { printComparison(rows) }
    }

    /// Samples per second of `fit` over synthetic MNIST-shaped byte images, standardised per
    /// batch on the device as `flint train` does, with batches prefetched on a background thread
    /// (the default) and made on the training thread (`prefetch: 0`). The two are timed
    /// alternately, so load from other processes touches both alike; each row also gives the
    /// median time per step.
    private func training(_ kind: ModelKind, on device: Device) throws -> [ModelMeasurement] {
        let model = try kind.makeModel(on: device)
        let (batch, steps) = (kind.batch, kind.stepsPerEpoch)
        let count = batch * steps
        var state: UInt64 = 3
        let pixels = (0..<(count * 784)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let labels = (0..<count).map { Int32($0 % 10) }
        let shape = [count] + kind.sampleShape
        let data = try ArrayDataset(HostArray(uint8: pixels, shape: shape), target: HostArray(int32: labels, shape: [count]))
            .normalized(scale: 1 / (255 * 0.3081), shift: -0.1307 / 0.3081)
        let warmStart = DispatchTime.now().uptimeNanoseconds
        try model.fit(data.take(batch), epochs: 1, batchSize: batch, verbosity: .silent)
        device.backend.synchronize()
        let firstStep = Double(DispatchTime.now().uptimeNanoseconds - warmStart) / 1e6
        try model.fit(data, epochs: 1, batchSize: batch, verbosity: .silent)  // warm-up: pools and caches fill
        // The larger models are timed with prefetching only (the comparison is the small models' concern).
        let depths = kind == .mlp || kind == .cnn ? [2, 0] : [2]
        var seconds: [Int: [Double]] = [2: [], 0: []]
        var allocations = 0
        var reads = 0
        var spent = 0.0
        while seconds[depths.last!]!.count < 3 || (spent < options.seconds && seconds[depths.last!]!.count < 20) {
            for depth in depths {
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
        return depths.map { depth in
            let median = seconds[depth]!.sorted()[seconds[depth]!.count / 2]
            return ModelMeasurement(device: device.identifier, model: kind.rawValue, workload: depth == 2 ? "train" : "train_no_prefetch",
                                    samplesPerSecond: Double(count) / median, firstMilliseconds: firstStep,
                                    allocationsPerStep: depth == 2 ? Double(allocations) / Double(steps) : nil,
                                    readsPerStep: depth == 2 && device.isOpenCL ? Double(reads) / Double(steps) : nil,
                                    stepMilliseconds: median / Double(steps) * 1000, flopsPerSample: kind.flops.training)
        }
    }

    private func inference(_ kind: ModelKind, on device: Device) throws -> [ModelMeasurement] {
        let model = try kind.makeModel(on: device)
        return [1, 256].map { batch in
            let x = Tensor.uniform([batch] + kind.sampleShape, seed: 4, on: device)
            let timing = Tensor.withoutGrad { measure(on: device, seconds: options.seconds) { _ = model(x) } }
            let perSecond = Double(batch) / (timing.median / 1000)
            return ModelMeasurement(device: device.identifier, model: kind.rawValue, workload: batch == 1 ? "infer_b1" : "infer_b256",
                                    samplesPerSecond: perSecond, firstMilliseconds: timing.first,
                                    latencyMicroseconds: batch == 1 ? timing.median * 1000 : nil, flopsPerSample: kind.flops.forward)
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
    /// Useful FLOPs per sample of this workload (see `ModelKind.flops`).
    var flopsPerSample: Double? = nil
    /// samples/s × FLOPs per sample ÷ the CPU's measured fp32 peak (CPU rows only).
    var peakShare: Double? = nil
    /// The peak row's own rate.
    var peakFlopsPerSecond: Double? = nil

    static let header = ["device", "model", "workload", "samples/s", "ms/step", "latency µs", "first ms", "allocs/step", "reads/step",
                         "GFLOP/s", "of peak"]

    var tableRow: [String] {
        let gflops = peakFlopsPerSecond.map { $0 / 1e9 } ?? flopsPerSample.map { $0 * samplesPerSecond / 1e9 }
        return [device, model, workload, peakFlopsPerSecond == nil ? String(format: "%.0f", samplesPerSecond) : "",
                stepMilliseconds.map { String(format: "%.2f", $0) } ?? "",
                latencyMicroseconds.map { String(format: "%.1f", $0) } ?? "", String(format: "%.1f", firstMilliseconds),
                allocationsPerStep.map { String(format: "%.2f", $0) } ?? "", readsPerStep.map { String(format: "%.2f", $0) } ?? "",
                gflops.map { String(format: "%.1f", $0) } ?? "", peakShare.map { String(format: "%.0f%%", $0 * 100) } ?? ""]
    }

    var jsonLine: String {
        var object: [String: Any] = ["device": device, "model": model, "workload": workload,
                                     "samples_per_second": (samplesPerSecond * 10).rounded() / 10,
                                     "first_ms": (firstMilliseconds * 1000).rounded() / 1000]
        if let latencyMicroseconds { object["latency_us"] = (latencyMicroseconds * 10).rounded() / 10 }
        if let allocationsPerStep { object["allocations_per_step"] = allocationsPerStep }
        if let readsPerStep { object["reads_per_step"] = readsPerStep }
        if let stepMilliseconds { object["step_ms"] = (stepMilliseconds * 1000).rounded() / 1000 }
        if let flopsPerSample { object["flops_per_sample"] = flopsPerSample }
        if let peakShare { object["peak_share"] = (peakShare * 10000).rounded() / 10000 }
        if let peakFlopsPerSecond { object["peak_gflops"] = (peakFlopsPerSecond / 1e8).rounded() / 10 }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
