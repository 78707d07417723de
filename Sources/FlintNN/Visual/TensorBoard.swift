import FlintData
import Foundation

/// Writes what `fit` reports as TensorBoard event files, laid out as Keras' `TensorBoard`
/// callback lays them out, so `tensorboard --logdir DIR` overlays training and validation:
///
/// - `DIR/train`: `epoch_loss`, `epoch_<metric>` and `epoch_learning_rate` at step = epoch
///   (counted from 1), and with `updateEvery: N` also `batch_loss`, `batch_<metric>` (the
///   epoch's running means) every N training steps, at step = steps so far;
/// - `DIR/validation`: the `val_` values under the same `epoch_` tags.
///
/// `addImage` adds pictures (sample grids, filters, a confusion matrix) to the train run.
/// A failed write does not stop training: it is kept in `writeError` and reported once on
/// standard error.
public final class TensorBoard: BatchCallback {
    /// The folder holding the `train` and `validation` runs.
    public let logDirectory: URL
    /// Steps between batch-level values; nil for epoch values only.
    public let updateEvery: Int?
    private let train: EventFileWriter
    private var validation: EventFileWriter?
    /// The first failed write.
    public private(set) var writeError: (any Error)?

    /// Creates the training run's event file now, so a bad folder fails before training; the
    /// validation run's file is created when the first `val_` value arrives.
    public init(logDirectory: URL, updateEvery: Int? = nil) throws {
        if let updateEvery, updateEvery < 1 {
            throw FileWriteError(path: logDirectory.path, reason: "TensorBoard: updateEvery must be at least 1, got \(updateEvery)")
        }
        self.logDirectory = logDirectory
        self.updateEvery = updateEvery
        train = try EventFileWriter(directory: logDirectory.appendingPathComponent("train"))
    }

    /// The event files written so far.
    public var files: [URL] { [train.url] + (validation.map { [$0.url] } ?? []) }

    /// Writes the epoch's values; never asks to stop.
    public func epochEnded(_ epoch: Int, logs: [String: Float], model: Model) -> Bool {
        let trainValues = logs.filter { !$0.key.hasPrefix("val_") }.sorted { $0.key < $1.key }
            .map { (tag: "epoch_" + $0.key, value: $0.value) }
        let validationValues = logs.filter { $0.key.hasPrefix("val_") }.sorted { $0.key < $1.key }
            .map { (tag: "epoch_" + $0.key.dropFirst(4), value: $0.value) }
        attempt { try train.addScalars(trainValues, step: epoch + 1) }
        if !validationValues.isEmpty {
            attempt {
                if validation == nil { validation = try EventFileWriter(directory: logDirectory.appendingPathComponent("validation")) }
                try validation?.addScalars(validationValues, step: epoch + 1)
            }
        }
        return false
    }

    /// Writes batch-level values every `updateEvery` steps.
    public func batchEnded(_ step: Int, logs: () -> [String: Float]) {
        guard let updateEvery, step % updateEvery == 0 else { return }
        let values = logs().sorted { $0.key < $1.key }.map { (tag: "batch_" + $0.key, value: $0.value) }
        attempt { try train.addScalars(values, step: step) }
    }

    /// Adds `image` to the training run under `tag` at `step`.
    public func addImage(_ image: PixelImage, tag: String, step: Int) throws {
        try train.addImage(image, tag: tag, step: step)
    }

    private func attempt(_ body: () throws -> Void) {
        do { try body() } catch {
            if writeError == nil { FileHandle.standardError.write(Data("warning: \(error)\n".utf8)) }
            writeError = error
        }
    }
}
