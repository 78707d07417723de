import Flint
import Foundation

/// One row of a benchmark report.
struct Measurement {
    var device: String
    var op: String
    var shape: String
    /// The first call: on OpenCL it includes the driver's per-kernel compile.
    var firstMilliseconds: Double
    var medianMilliseconds: Double
    var runs: Int
    var flops: Double? = nil
    var bytes: Double? = nil

    var gflops: Double? { flops.map { $0 / medianMilliseconds / 1e6 } }
    var gbps: Double? { bytes.map { $0 / medianMilliseconds / 1e6 } }

    var jsonLine: String {
        var object: [String: Any] = [
            "device": device, "op": op, "shape": shape, "first_ms": round3(firstMilliseconds),
            "median_ms": round3(medianMilliseconds), "runs": runs,
        ]
        if let gflops { object["gflops"] = round3(gflops) }
        if let gbps { object["gbps"] = round3(gbps) }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    var tableRow: [String] {
        let rate = gflops.map { String(format: "%.1f GFLOP/s", $0) } ?? gbps.map { String(format: "%.1f GB/s", $0) } ?? ""
        return [device, op, shape, String(format: "%.2f", firstMilliseconds), String(format: "%.3f", medianMilliseconds),
                "\(runs)", rate]
    }

    static let tableHeader = ["device", "op", "shape", "first ms", "median ms", "runs", "rate"]
}

private func round3(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

/// Times `body` (which must leave its work enqueued on `device`), waiting for the device
/// after every call so each sample is one complete execution.
func measure(on device: Device, seconds: Double, _ body: () -> Void) -> (first: Double, median: Double, runs: Int) {
    let backend = device.backend
    func timed() -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        backend.synchronize()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }
    let first = timed()
    var samples: [Double] = []
    let budget = seconds * 1000
    var spent = 0.0
    while samples.count < 3 || (spent < budget && samples.count < 1000) {
        let sample = timed()
        samples.append(sample)
        spent += sample
    }
    samples.sort()
    return (first, samples[samples.count / 2], samples.count)
}

func report(_ measurements: [Measurement], json: Bool) {
    if json {
        measurements.forEach { print($0.jsonLine) }
    } else {
        print(TextTable(header: Measurement.tableHeader, rows: measurements.map(\.tableRow)).rendered)
    }
}
