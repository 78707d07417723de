import ArgumentParser
import Flint
import Foundation

/// `flint train` options that make a run visible: curves, logs, TensorBoard, confusion matrix.
struct WatchOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Draw loss, metrics and learning rate per epoch to this .svg or .png file, redrawn after every epoch. "
                               + "While --plot, --log or --tensorboard watch a run, the test set is evaluated after every epoch too.",
                               valueName: "file"))
    var plot: String?

    @Option(help: ArgumentHelp("Log one row per epoch to this .csv or .jsonl file.", valueName: "file"))
    var log: String?

    @Option(help: ArgumentHelp("Write TensorBoard event files under this folder (then: tensorboard --logdir <folder>).",
                               valueName: "folder"))
    var tensorboard: String?

    @Option(help: ArgumentHelp("With --tensorboard, also log the running loss and metrics every N training steps.", valueName: "N"))
    var tensorboardEvery: Int?

    @Option(help: ArgumentHelp("Save the test set's confusion matrix as a picture (.svg or .png); classifiers print it anyway.",
                               valueName: "file"))
    var confusion: String?

    /// Checks what can be checked before any data is loaded.
    func validate(model: ModelEntry) throws {
        let asked = [("--plot", plot), ("--log", log), ("--tensorboard", tensorboard)].filter { $0.1 != nil }.map(\.0)
        if !model.acceptsCallbacks, let option = asked.first {
            let names = trainableModels.filter(\.acceptsCallbacks).map(\.name).joined(separator: ", ")
            throw ValidationError("\(option) needs a model trained with fit (\(names)); '\(model.name)' has its own loop")
        }
        if confusion != nil, !model.acceptsCallbacks {
            throw ValidationError("--confusion applies to the image classifiers, not '\(model.name)'")
        }
        if let plot, !["svg", "png"].contains(Self.extension(plot)) { throw ValidationError("--plot writes .svg or .png files, not \(plot)") }
        if let confusion, !["svg", "png"].contains(Self.extension(confusion)) {
            throw ValidationError("--confusion writes .svg or .png files, not \(confusion)")
        }
        if let log, !["csv", "jsonl"].contains(Self.extension(log)) { throw ValidationError("--log writes .csv or .jsonl files, not \(log)") }
        if let tensorboardEvery {
            guard tensorboard != nil else { throw ValidationError("--tensorboard-every needs --tensorboard") }
            guard tensorboardEvery > 0 else { throw ValidationError("--tensorboard-every must be positive") }
        }
    }

    private static func `extension`(_ path: String) -> String { URL(fileURLWithPath: path).pathExtension.lowercased() }

    /// The callbacks asked for, opened now so a bad path fails before training.
    func watchers(title: String) throws -> Watchers {
        var watchers = Watchers()
        if let plot { watchers.curves = try TrainingCurves(url: URL(fileURLWithPath: plot), title: title) }
        if let log {
            let url = URL(fileURLWithPath: log)
            watchers.csv = Self.extension(log) == "csv" ? try CSVLogger(url: url) : nil
            watchers.jsonLines = Self.extension(log) == "jsonl" ? try JSONLinesLogger(url: url) : nil
        }
        if let tensorboard {
            watchers.tensorBoard = try TensorBoard(logDirectory: URL(fileURLWithPath: tensorboard), updateEvery: tensorboardEvery)
        }
        watchers.confusionFile = confusion.map { URL(fileURLWithPath: $0) }
        return watchers
    }
}

/// The open callbacks of one `flint train` run.
struct Watchers {
    var curves: TrainingCurves?
    var csv: CSVLogger?
    var jsonLines: JSONLinesLogger?
    var tensorBoard: TensorBoard?
    var confusionFile: URL?

    var callbacks: [Callback] { [curves as Callback?, csv, jsonLines, tensorBoard].compactMap { $0 } }

    /// Fails the command if a file could not be written during training (training itself went on).
    func finish() throws {
        let errors: [(any Error)?] = [curves?.writeError, csv?.writeError, jsonLines?.writeError, tensorBoard?.writeError]
        if let error = errors.compactMap({ $0 }).first { throw error }
        var written = [curves?.url.path, csv?.url.path, jsonLines?.url.path].compactMap { $0 }
        written += tensorBoard?.files.map(\.path) ?? []
        if !written.isEmpty { print("Wrote " + written.joined(separator: ", ")) }
    }
}
