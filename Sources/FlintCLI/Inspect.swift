import ArgumentParser
import Flint
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the tensors and metadata of a safetensors file (weights, checkpoints, PyTorch exports)."
    )

    @Argument(help: "A .safetensors file.")
    var file: String

    @Flag(help: "One JSON object instead of a table.")
    var json = false

    func run() throws {
        let url = URL(fileURLWithPath: file)
        let contents = try SafeTensorsFile(contentsOf: url)
        let weights = contents.entries.filter { !$0.name.hasPrefix("@") }
        let total = weights.reduce(0) { $0 + $1.count }
        let checkpoint = try? Checkpoint(contentsOf: url)
        if json {
            var object: [String: Any] = [
                "file": file, "parameters": total, "metadata": contents.metadata,
                "tensors": contents.entries.map { ["name": $0.name, "dtype": $0.dtype.rawValue, "shape": $0.shape] },
            ]
            if let checkpoint { object["checkpoint_epoch"] = checkpoint.epoch }
            try printJSONLine(object)
            return
        }
        print("\(file): \(weights.count) tensors, \(total) values" + (checkpoint.map { "; a checkpoint after epoch \($0.epoch)" } ?? ""))
        let rows = contents.entries.map { [$0.name, $0.dtype.rawValue, "\($0.shape)", String($0.count)] }
        print(TextTable(header: ["tensor", "dtype", "shape", "values"], rows: rows).rendered)
        for (key, value) in contents.metadata.sorted(by: { $0.key < $1.key }) where key != "checkpoint" {
            print("\(key): \(value.count > 300 ? String(value.prefix(300)) + "…" : value)")
        }
        if let checkpoint {
            let last = checkpoint.history.epochs.last.map { ProgressSummary.format($0) } ?? ""
            print("checkpoint: epoch \(checkpoint.epoch), history of \(checkpoint.history.epochs.count) epochs\(last)")
        }
    }
}

enum ProgressSummary {
    /// `- loss: 0.1234 - accuracy: 0.9876` for the last epoch's logs.
    static func format(_ logs: [String: Float]) -> String {
        logs.sorted { $0.key < $1.key }.map { " - \($0.key): \(String(format: "%.4f", $0.value))" }.joined()
    }
}
