import ArgumentParser
import Flint
import Foundation

/// `flint doctor`: the report a user attaches to a bug. Every primitive runs on each device
/// and is compared with the CPU backend; with it come kernel build times, failed programs
/// and the OpenCL driver's details. Exits 1 when a device computes something wrong.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every primitive op on each device against the CPU backend, and show driver details.",
        discussion: "Each check runs the same inputs (with NaN, ±inf and ±0 among them) on a device and on the CPU "
            + "backend and prints the worst error, |device − cpu| / max(1, |cpu|), against the check's tolerance. "
            + "Exits with status 1 when any check fails on any device."
    )

    @Option(help: "Only these devices, comma-separated (cpu, opencl:N); default: every device.")
    var devices: String?

    func run() throws {
        let loader = Device.openCLLoader
        print("Flint doctor: every primitive on each device against the CPU backend")
        print("OpenCL loader: \(loader.library)" + (loader.problem.map { " — \($0)" } ?? ""))
        let cpu = Device.cpu
        print("cpu: \(cpu.info.name), \(cpu.info.platform), \(cpu.info.computeUnits) cores — the reference")

        var failures: [String] = []
        for device in try selectedDevices() where device.isOpenCL {
            print("")
            let info = device.info
            print("\(device): \(info.name) (\(info.deviceType), \(info.computeUnits) units, \(TextTable.bytes(info.memoryBytes))), "
                  + "\(info.platform)")
            let opening = Date()
            do {
                try device.open()
            } catch {
                print("  cannot open: \(error)")
                failures.append("\(device) does not open")
                continue
            }
            report(device.diagnostics, openSeconds: Date().timeIntervalSince(opening))
            let failed = check(device)
            failures += failed.map { "\(device): \($0)" }
        }
        if !Device.available.contains(where: \.isOpenCL) {
            print("\nNo OpenCL device found: only the CPU backend is available (install an OpenCL driver such as pocl-opencl-icd).")
        }
        print("")
        if failures.isEmpty {
            print("All checks within tolerance.")
        } else {
            print("FAILED: " + failures.joined(separator: "; "))
            throw ExitCode(1)
        }
    }

    private func selectedDevices() throws -> [Device] {
        guard let devices else { return Device.available }
        return try devices.split(separator: ",").map { try Device.named(String($0)) }
    }

    private func report(_ diagnostics: BackendDiagnostics, openSeconds: Double) {
        for detail in diagnostics.details { print("  \(detail.name): \(detail.value)") }
        let builds = diagnostics.programBuilds.map { "\($0.program) \(String(format: "%.2f", $0.seconds)) s" }
        print("  kernel builds (opened in \(String(format: "%.2f", openSeconds)) s): " + builds.joined(separator: ", "))
        for failure in diagnostics.failedPrograms { print("  FAILED to build: \(failure.reason)") }
        if !diagnostics.unavailablePrimitives.isEmpty {
            let names = diagnostics.unavailablePrimitives.sorted().map(\.rawValue).joined(separator: ", ")
            print("  running on the CPU backend instead: \(names)")
        }
    }

    /// Runs every check on `device`, prints one row each, and returns the names of those that failed.
    private func check(_ device: Device) -> [String] {
        let start = Date()
        var rows: [[String]] = [], failed: [String] = []
        for check in DoctorCheck.all {
            let reference = check.run(.cpu).map(Self.values)
            let results = check.run(device).map(Self.values)
            let error = zip(results, reference).map(Self.worstError).max() ?? 0
            let ok = error <= check.tolerance
            if !ok { failed.append(check.name) }
            rows.append([check.name, check.primitive.rawValue, Self.format(error), Self.format(check.tolerance), ok ? "ok" : "FAIL"])
        }
        let table = TextTable(header: ["check", "primitive", "worst error", "tolerance", "result"], rows: rows).rendered
        print(table.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
        print("  \(device): \(rows.count) checks, " + (failed.isEmpty ? "all within tolerance" : "\(failed.count) FAILED") + " (\(seconds) s)")
        return failed
    }

    private static func values(_ tensor: Tensor) -> [Double] {
        tensor.dtype == .int32 ? tensor.toInt32Array().map(Double.init) : tensor.toArray().map(Double.init)
    }

    /// The largest `|a − b| / max(1, |b|)`; infinite where NaN or an infinity does not match.
    static func worstError(_ actual: [Double], _ expected: [Double]) -> Double {
        guard actual.count == expected.count else { return .infinity }
        return zip(actual, expected).reduce(0) { worst, pair in
            let (a, e) = pair
            if e.isNaN || a.isNaN || e.isInfinite || a.isInfinite {
                return (a.isNaN && e.isNaN) || a == e ? worst : .infinity
            }
            return Swift.max(worst, Swift.abs(a - e) / Swift.max(1, Swift.abs(e)))
        }
    }

    private static func format(_ value: Double) -> String {
        value == 0 ? "0" : value.isInfinite ? "mismatch" : String(format: "%.1e", value)
    }
}
