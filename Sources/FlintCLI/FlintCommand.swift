import ArgumentParser
import Flint

@main
struct FlintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flint",
        abstract: "Flint: a deep-learning engine with OpenCL and OpenBLAS backends.",
        subcommands: [Train.self, Devices.self, Doctor.self]
    )

    static func main() {
        StandardStreams.flushEveryLine()
        main(nil)
    }
}
