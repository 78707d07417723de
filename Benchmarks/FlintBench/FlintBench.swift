import ArgumentParser
import Flint

@main
struct FlintBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flint-bench",
        abstract: "Measure Flint's backends side by side (build with -c release).",
        subcommands: [Ops.self, Models.self, DataLoading.self, Distributed.self, Concurrency.self]
    )
}

/// Options every benchmark shares.
struct BenchOptions: ParsableArguments {
    @Option(help: "Comma-separated devices (cpu, opencl:0, …); default: every available device.")
    var devices: String?

    @Flag(help: "One JSON object per measurement instead of a table.")
    var json = false

    @Option(help: "Seconds to spend on each steady-state measurement (at least 3 runs).")
    var seconds: Double = 1.0

    func selectedDevices() throws -> [Device] {
        guard let devices else { return Device.available }
        return try devices.split(separator: ",").map { try Device.named(String($0)) }
    }
}
