import ArgumentParser
import Flint
import Foundation

/// Every model `flint train` can run. Add a new one by writing a type that conforms to
/// `TrainableModel` in `Models/` and listing its `entry` here.
let trainableModels: [ModelEntry] = [MLPModel.entry, CNNModel.entry, AutoencoderModel.entry, GANModel.entry,
                                        LinearRegressionModel.entry, LogisticRegressionModel.entry, MLPClassifierModel.entry,
                                        RegularizationModel.entry, GRUModel.entry, LSTMModel.entry]

/// A registered model, as the command line sees it.
struct ModelEntry: Sendable {
    let name: String
    let summary: String
    let defaultDataset: String
    let defaultEpochs: Int
    let defaultBatchSize: Int
    /// Whether the model trains with `fit`: then `--save`, `--checkpoint-dir`, `--resume`,
    /// `--plot`, `--log` and `--tensorboard` apply.
    let acceptsCallbacks: Bool
    /// Whether `--save` applies (every model that trains with `fit`, and the table classifiers).
    let savesWeights: Bool
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
    /// True when `run` trains with `fit`, passing `context.callbacks` and `context.resume` (false
    /// unless the model says so).
    static var acceptsCallbacks: Bool { get }
    /// True when the model honours `--save` without training through `fit` (the table classifiers).
    static var savesWeights: Bool { get }
    /// Trains and returns the results for the report (at least the metric reached).
    static func run(_ context: TrainContext) throws -> [String: Any]
}

extension TrainableModel {
    static var defaultEpochs: Int { 5 }
    static var defaultBatchSize: Int { 128 }
    static var acceptsCallbacks: Bool { false }
    static var savesWeights: Bool { acceptsCallbacks }

    static var entry: ModelEntry {
        ModelEntry(name: name, summary: summary, defaultDataset: defaultDataset, defaultEpochs: defaultEpochs,
                   defaultBatchSize: defaultBatchSize, acceptsCallbacks: acceptsCallbacks, savesWeights: savesWeights,
                   run: { try run($0) })
    }
}

/// What a model gets from the command line.
struct TrainContext {
    let device: Device
    let dataset: String
    let epochs: Int
    let batchSize: Int
    let seed: UInt64
    let data: DataDirectory
    /// Folder for pictures a model writes (reconstructions, generated samples).
    let outputDirectory: URL
    /// Curves, logs and TensorBoard asked for with the `WatchOptions`.
    let watchers: Watchers
    /// Where to save the trained weights (`--save`), if anywhere.
    var saveURL: URL? = nil
    /// Where to write a checkpoint after every epoch (`--checkpoint-dir`).
    var checkpointDirectory: URL? = nil
    /// A checkpoint file or folder to resume from (`--resume`).
    var resume: URL? = nil
    /// The optimizer's learning rate (`--learning-rate`), replacing the model's own.
    var learningRate: Float? = nil

    /// The learning rate to train with: `--learning-rate`, else the model's `default`.
    func rate(_ default: Float) -> Float { learningRate ?? `default` }

    /// Says where training resumes from, when it does.
    func announceResume() {
        guard let resume else { return }
        print("Resuming from \(resume.path) (if it holds a checkpoint)")
    }

    /// The callbacks the command line asks for: checkpoints, curves, logs, TensorBoard.
    var callbacks: [Callback] {
        (checkpointDirectory.map { [ModelCheckpoint(directory: $0, keepLast: 3)] } ?? []) + watchers.callbacks
    }

    /// Saves `model` to `--save`, with what `flint evaluate` and `flint predict` need to rebuild it.
    func saveIfAsked(_ model: Model, model name: String, extra: [String: String] = [:]) throws {
        guard let saveURL else { return }
        var metadata = extra
        metadata["model"] = name
        metadata["dataset"] = dataset
        metadata["seed"] = String(seed)
        try model.save(to: saveURL, metadata: metadata)
        print("Saved weights to \(saveURL.path)")
    }
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

    @Option(help: "The optimizer's learning rate (default: the model's own).")
    var learningRate: Float?

    @Flag(help: "End with one JSON line of results.")
    var json = false

    @Option(help: "Save the trained weights to this safetensors file (for flint evaluate, predict, inspect).")
    var save: String?

    @Option(help: "Write a checkpoint (weights, optimizer, random state, history) here after every epoch, keeping the last 3.")
    var checkpointDir: String?

    @Option(help: "Resume from a checkpoint file, or from the newest checkpoint in a folder (none there: start afresh).")
    var resume: String?

    @OptionGroup(title: "Watching the run")
    var watch: WatchOptions

    func validate() throws {
        guard trainableModels.contains(where: { $0.name == model }) else {
            throw ValidationError("unknown model '\(model)'; choose one of: \(trainableModels.map(\.name).joined(separator: ", "))")
        }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be positive") }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
            throw ValidationError("--learning-rate must be a positive number, got \(learningRate)")
        }
        let kind = trainableModels.first { $0.name == model }!
        if !kind.acceptsCallbacks, checkpointDir != nil || resume != nil {
            throw ValidationError("--checkpoint-dir and --resume are not supported for \(model) (it does not train with fit)")
        }
        if !kind.savesWeights, save != nil {
            throw ValidationError("--save is not supported for \(model) (it compares several fits rather than training one model)")
        }
        // Find out now, not after an hour of training, that results cannot be written.
        if let save { try checkWritableFolder(URL(fileURLWithPath: save).deletingLastPathComponent(), option: "--save") }
        if let checkpointDir { try checkWritableFolder(URL(fileURLWithPath: checkpointDir), option: "--checkpoint-dir") }
        try watch.validate(model: kind)
    }

    func run() throws {
        let kind = trainableModels.first { $0.name == model }!
        // An unusable --output must fail now, not after hours of training.
        try AtomicFile.checkWritableFolder(URL(fileURLWithPath: output))
        let target = try chooseDevice(device)
        let watchers = try watch.watchers(title: "\(kind.name) on \(dataset ?? kind.defaultDataset)")
        var context = TrainContext(device: target, dataset: dataset ?? kind.defaultDataset, epochs: epochs ?? kind.defaultEpochs,
                                   batchSize: batchSize ?? kind.defaultBatchSize, seed: seed, data: DataDirectory(explicit: dataDir),
                                   outputDirectory: URL(fileURLWithPath: output), watchers: watchers)
        context.saveURL = save.map { URL(fileURLWithPath: $0) }
        context.checkpointDirectory = checkpointDir.map { URL(fileURLWithPath: $0) }
        context.resume = resume.map { URL(fileURLWithPath: $0) }
        context.learningRate = learningRate
        let start = Date()
        var results: [String: Any]
        var failure: TrainingDiverged?
        do {
            results = try kind.run(context)
            results["status"] = "ok"
        } catch let diverged as TrainingDiverged where json {
            // The JSON line is printed whatever happens, so a script sees what went wrong.
            failure = diverged
            results = ["status": "diverged", "error": diverged.description, "diverged_epoch": diverged.epoch + 1,
                       "diverged_step": diverged.step ?? NSNull(), "test_accuracy": NSNull(), "test_loss": NSNull()]
        }
        if failure == nil { try watchers.finish() } else { try? watchers.finish() }
        results["model"] = kind.name
        results["dataset"] = context.dataset
        results["device"] = target.identifier
        results["epochs"] = context.epochs
        results["seed"] = seed
        results["world_size"] = ProcessGroup.world.size
        results["total_seconds"] = Date().timeIntervalSince(start)
        if json { try printJSONLine(jsonSafe(results)) }
        if let failure { throw failure }
    }
}

/// `results` with every number that is not finite as null, which JSON can hold (NaN cannot).
func jsonSafe(_ results: [String: Any]) -> [String: Any] {
    func safe(_ value: Any) -> Any {
        switch value {
        case let number as Double where !number.isFinite: NSNull()
        case let number as Float where !number.isFinite: NSNull()
        case let nested as [String: Any]: nested.mapValues(safe)
        case let array as [Any]: array.map(safe)
        default: value
        }
    }
    return results.mapValues(safe)
}

/// Creates `folder` if needed and checks that files can be written there.
func checkWritableFolder(_ folder: URL, option: String) throws {
    do {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    } catch {
        throw ValidationError("\(option): cannot create the folder \(folder.path)")
    }
    guard access(folder.path, W_OK) == 0 else { throw ValidationError("\(option): the folder \(folder.path) is not writable") }
}
