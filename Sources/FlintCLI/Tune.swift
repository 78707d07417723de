import ArgumentParser
import Flint
import Foundation

/// `flint tune`: searches the OpenCL GEMM configurations per shape class and stores the winners in
/// the tuning cache; `--show` lists what each class uses without searching, `--clear` forgets.
struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tune the OpenCL kernels for each device and cache the results (shown, re-run or cleared).",
        discussion: """
            A device's GEMM is tuned per shape class the first time a product of that class runs, and the \
            result is cached on disk keyed by device, driver and kernel source, so later processes skip the \
            search. This command runs the search now (again, replacing cached results). FLINT_TUNE=0 turns \
            tuning off (built-in configurations); FLINT_TUNE_SECONDS bounds one search (20); \
            FLINT_TUNING_DIR moves the cache (default ~/.cache/flint/tuning).
            """
    )

    @Flag(help: "Show the configuration each shape class uses now (cached or built-in) and the cache files; no search.")
    var show = false

    @Flag(help: "Delete every cached tuning result.")
    var clear = false

    @Option(help: "Only these devices, comma-separated (opencl:N); default: every OpenCL device.")
    var devices: String?

    @Option(help: "Only these shape classes, comma-separated (medium, large, huge); default: all.")
    var classes: String?

    @Option(help: "Time at most this many candidates per class, the built-in one first.")
    var candidates: Int?

    @Flag(help: "Print every candidate's rate.")
    var verbose = false

    func run() throws {
        if clear {
            let removed = try Device.clearTuningCache()
            print("Removed \(removed) tuning cache file\(removed == 1 ? "" : "s") from \(Device.tuningCacheFolder?.path ?? "(no cache folder)").")
            return
        }
        let chosen = try chooseDevices()
        if show {
            for device in chosen { try showRecords(device) }
            showFiles()
            return
        }
        if ["0", "off", "false", "no"].contains((ProcessInfo.processInfo.environment["FLINT_TUNE"] ?? "").lowercased()) {
            print("Note: FLINT_TUNE=0 is set: results are stored, but processes with it set use the built-in configurations.")
        }
        let classList = classes.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        let printLine: @Sendable (String) -> Void = { print($0) }
        let request = TuningRequest(classes: classList, reuseCache: false, maximumCandidates: candidates,
                                    report: verbose ? printLine : nil)
        for device in chosen {
            guard let tunable = device.tunableBackend else { continue }
            print("\(device.identifier) (\(device.info.name)): tuning")
            let records = try tunable.tune(request)
            print(Self.table(records))
            if let file = tunable.tuningCacheFile { print("stored in \(file)") }
        }
    }

    private func chooseDevices() throws -> [Device] {
        let all = Device.available.filter(\.isOpenCL)
        guard let devices else {
            if all.isEmpty { throw ValidationError("No OpenCL device found: there is nothing to tune (the CPU backend uses OpenBLAS).") }
            return all
        }
        return try devices.split(separator: ",").map { name in
            let device = try Device.named(name.trimmingCharacters(in: .whitespaces))
            guard device.isOpenCL else { throw ValidationError("\(device) has no tunable kernels (OpenBLAS tunes itself); name an OpenCL device.") }
            return device
        }
    }

    private func showRecords(_ device: Device) throws {
        guard let tunable = device.tunableBackend else { return }
        print("\(device.identifier) (\(device.info.name), driver \(device.info.driverVersion))")
        print(Self.table(tunable.tuningRecords))
        print("cache file: \(tunable.tuningCacheFile ?? "none (FLINT_TUNE=0 or no cache folder)")\n")
    }

    private func showFiles() {
        let files = Device.tuningCacheFiles
        print("Tuning cache \(Device.tuningCacheFolder?.path ?? "(no folder)"): \(files.count) file\(files.count == 1 ? "" : "s")")
        for file in files {
            let classes = file.records.map { "\($0.key) \($0.configuration)" }.joined(separator: "; ")
            print("  \(URL(fileURLWithPath: file.path).lastPathComponent): \(file.device), driver \(file.driver), profile \(file.profile): \(classes)")
        }
    }

    static func table(_ records: [TuningRecord]) -> String {
        let rows = records.map { record -> [String] in
            let rate = record.gflops > 0 ? String(format: "%.1f", record.gflops) : "-"
            let standard = record.standardGflops.map { String(format: "%.1f", $0) } ?? "-"
            let seconds = record.source == .standard ? "-" : String(format: "%.1f s", record.seconds)
            return [record.key, record.shape, record.source.rawValue, record.configuration, rate, standard,
                    record.candidates > 0 ? "\(record.candidates)" : "-", seconds]
        }
        return TextTable(header: ["class", "timed on", "source", "configuration", "GFLOP/s", "built-in GFLOP/s", "candidates", "search"],
                         rows: rows).rendered
    }
}
