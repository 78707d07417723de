import ArgumentParser
import Flint

@main
struct FlintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flint",
        abstract: "Flint: a deep-learning engine with OpenCL and OpenBLAS backends.",
        subcommands: [Train.self, Evaluate.self, Predict.self, Inspect.self, Convert.self, Devices.self]
    )
}
