import ArgumentParser
import Flint
import Foundation

@main
struct FlintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flint",
        abstract: "Flint: a deep-learning engine with OpenCL and OpenBLAS backends.",
        subcommands: [Train.self, Evaluate.self, Predict.self, Inspect.self, Convert.self, Devices.self, Doctor.self, Tune.self]
    )

    static func main() {
        StandardStreams.flushEveryLine()
        prepareDistributedRun()
        main(nil as [String]?)
    }

    /// Under `mpirun`: ranks on one machine share its cores (unless FLINT_THREADS says otherwise),
    /// and only rank 0 prints results; the others keep their error messages.
    static func prepareDistributedRun() {
        let world = ProcessGroup.world
        guard world.isDistributed else { return }
        if ProcessInfo.processInfo.environment["FLINT_THREADS"] == nil {
            let threads = max(1, ProcessInfo.processInfo.activeProcessorCount / max(world.localSize, 1))
            setenv("FLINT_THREADS", String(threads), 1)
        }
        if world.rank != 0 {
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, STDOUT_FILENO) }
        }
    }
}

/// The device a command asked for; under `mpirun`, `opencl` (or no choice, on a machine with
/// OpenCL GPUs) means one device per rank on a machine with several, `opencl:<local rank>`.
func chooseDevice(_ specifier: String?) throws -> Device {
    let world = ProcessGroup.world
    let openCL = Device.available.filter(\.isOpenCL)
    let requested = specifier ?? ProcessInfo.processInfo.environment["FLINT_DEVICE"].flatMap { $0.isEmpty ? nil : $0 }
    let chosen = try requested.map(Device.named) ?? Device.default
    let generic = requested == nil || requested?.lowercased() == "opencl" || requested?.lowercased() == "gpu"
    guard world.isDistributed, openCL.count > 1, chosen.isOpenCL, generic else { return chosen }
    return try Device.named("opencl:\(openCL[world.localRank % openCL.count].info.index)")
}
