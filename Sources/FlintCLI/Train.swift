import ArgumentParser
import Flint
import Foundation

/// Every model `flint train` can run. Add a new one by writing a type that conforms to
/// `TrainableModel` in `Models/` and listing its `entry` here.
let trainableModels: [ModelEntry] = [MLPModel.entry, CNNModel.entry, AutoencoderModel.entry, GANModel.entry,
                                        LinearRegressionModel.entry, LogisticRegressionModel.entry, MLPClassifierModel.entry,
                                        RegularizationModel.entry, GRUModel.entry]

/// A registered model, as the command line sees it.
struct ModelEntry: Sendable {
    let name: String
    let summary: String
    let defaultDataset: String
    let defaultEpochs: Int
    let defaultBatchSize: Int
    let run: @Sendable (TrainContext) throws -> [String: Any]
}

/// A model `flint train --model NAME` runs end to end: load data, train, report.
protocol TrainableModel: SendableMetatype {
    static var name: String { get }
    /// One line for `flint train --help`.
    static var summary: String { get }
    /// The dataset used when `--dataset` is not given.
    static var defaultDataset: String { get }
    /// Epochs used when `--epochs` is not given (5 unless the model says otherwise).
    static var defaultEpochs: Int { get }
    /// Samples per step when `--batch-size` is not given (128 unless the model says otherwise).
    static var defaultBatchSize: Int { get }
    /// Trains and returns the results for the report (at least the metric reached).
    static func run(_ context: TrainContext) throws -> [String: Any]
}

extension TrainableModel {
    static var defaultEpochs: Int { 5 }
    static var defaultBatchSize: Int { 128 }

    static var entry: ModelEntry {
        ModelEntry(name: name, summary: summary, defaultDataset: defaultDataset, defaultEpochs: defaultEpochs,
                   defaultBatchSize: defaultBatchSize, run: { try run($0) })
    }
}

/// What a model gets from the command line.
struct TrainContext: Sendable {
    let device: Device
    let dataset: String
    let epochs: Int
    let batchSize: Int
    let seed: UInt64
    let data: DataDirectory
    /// Folder for pictures a model writes (reconstructions, generated samples).
    let outputDirectory: URL
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model on the default device, then report how well it does.",
        discussion: "Models:\n" + trainableModels.map {
            "  \($0.name.padding(toLength: (trainableModels.map(\.name.count).max() ?? 0) + 2, withPad: " ", startingAt: 0))\($0.summary)"
        }.joined(separator: "\n")
    )

    @Option(help: "Model to train (listed below).")
    var model = "mlp"

    @Option(help: "Dataset: mnist, fashion-mnist, iris or digits, as the model allows (default: the model's own).")
    var dataset: String?

    @Option(help: "Passes over the training set (default: the model's own).")
    var epochs: Int?

    @Option(help: "Samples per training step (default: the model's own).")
    var batchSize: Int?

    @Option(help: "cpu, opencl or opencl:N (default: FLINT_DEVICE, else an OpenCL GPU, else cpu).")
    var device: String?

    @Option(help: "Seed for weights and shuffling.")
    var seed: UInt64 = 0

    @Option(help: "Folder holding <dataset>/ with the data files; the only place searched when given (otherwise FLINT_DATA_DIR, /usr/share/datasets, ~/.cache/flint/datasets).")
    var dataDir: String?

    @Option(help: "Folder for pictures some models write (checked to be writable before training).")
    var output = "flint-output"

    @Flag(help: "End with one JSON line of results.")
    var json = false

    func validate() throws {
        guard trainableModels.contains(where: { $0.name == model }) else {
            throw ValidationError("unknown model '\(model)'; choose one of: \(trainableModels.map(\.name).joined(separator: ", "))")
        }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        let kind = trainableModels.first { $0.name == model }!
        // An unusable --output must fail now, not after hours of training.
        try AtomicFile.checkWritableFolder(URL(fileURLWithPath: output))
        let target = try device.map(Device.named) ?? Device.default
        let context = TrainContext(device: target, dataset: dataset ?? kind.defaultDataset, epochs: epochs ?? kind.defaultEpochs,
                                   batchSize: batchSize ?? kind.defaultBatchSize, seed: seed, data: DataDirectory(explicit: dataDir),
                                   outputDirectory: URL(fileURLWithPath: output))
        let start = Date()
        var results = try kind.run(context)
        results["model"] = kind.name
        results["dataset"] = context.dataset
        results["device"] = target.identifier
        results["epochs"] = context.epochs
        results["seed"] = seed
        results["total_seconds"] = Date().timeIntervalSince(start)
        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
