import FlintCore
import FlintData
import Foundation

/// Everything a training run needs to continue where it stopped: the weights and state, every
/// optimizer's slots and step count, the random generators' positions (dropout, augmentation),
/// the epochs completed and the history so far. One safetensors file: the weights under their
/// paths (so `Module.load` reads a checkpoint too), optimizer slots as
/// `@optimizer/<optimizer>/<parameter>/<slot>`, the rest as JSON metadata.
///
/// A run resumed from the checkpoint of epoch k (`fit(…, resumeFrom:)`) computes exactly what
/// the uninterrupted run computed after epoch k: on the CPU backend the final weights are the
/// same bit for bit.
public struct Checkpoint {
    /// Epochs completed when it was written.
    public let epoch: Int
    /// The history of those epochs.
    public let history: History
    /// Where it was read from.
    public let url: URL
    let file: SafeTensorsFile
    let state: [String: Any]

    /// The file name of the checkpoint written after `epoch` epochs.
    public static func fileName(epoch: Int) -> String { String(format: "checkpoint-epoch-%06d.safetensors", epoch) }

    /// Reads a checkpoint file; a weights-only file or a damaged one is a clear error.
    public init(contentsOf url: URL) throws {
        let file = try SafeTensorsFile(contentsOf: url)
        guard let text = file.metadata["checkpoint"], let data = text.data(using: .utf8),
              let state = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let epoch = state["epoch"] as? Int, epoch >= 0 else {
            throw DataError.corrupt(path: url.path, reason: "not a Flint checkpoint (no training state in its metadata); load it with Module.load(from:)")
        }
        self.url = url
        self.file = file
        self.state = state
        self.epoch = epoch
        self.history = History(epochs: (state["history"] as? [[String: Any]] ?? []).map { row in
            row.mapValues { ($0 as? NSNumber)?.floatValue ?? .nan }
        })
    }

    /// The checkpoint of the most epochs in `folder`, or nil when there is none. Temporary files
    /// of an interrupted write are never considered.
    public static func latest(in folder: URL) throws -> Checkpoint? {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            if !FileManager.default.fileExists(atPath: folder.path) { return nil }
            throw DataError.unreadable(path: folder.path, reason: "cannot list the folder")
        }
        let newest = names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-epoch-"), name.hasSuffix(".safetensors"),
                  let epoch = Int(name.dropFirst("checkpoint-epoch-".count).dropLast(".safetensors".count)) else { return nil }
            return (epoch, name)
        }.max { $0.0 < $1.0 }
        return try newest.map { try Checkpoint(contentsOf: folder.appendingPathComponent($0.1)) }
    }

    /// Writes `model`'s full training state after `epoch` epochs, crash-safely.
    public static func write(_ model: Model, epoch: Int, history: History, to url: URL, metadata: [String: String] = [:]) throws {
        let paths = Dictionary(model.namedParameters.map { (ObjectIdentifier($0.parameter), $0.path) }, uniquingKeysWith: { a, _ in a })
        var extra: [SafeTensorsFile.Tensor] = []
        var optimizers: [String: Any] = [:]
        for (name, optimizer) in model.namedOptimizers {
            optimizers[name] = ["type": String(describing: type(of: optimizer)), "iterations": optimizer.iterations,
                                "learning_rate": optimizer.learningRate]
            for parameter in model.parameters {
                guard let path = paths[ObjectIdentifier(parameter)] else { continue }
                for (slot, value) in optimizer.slots(of: parameter).sorted(by: { $0.key < $1.key }) {
                    extra.append(SafeTensorsFile.Tensor(name: "@optimizer/\(name)/\(path)/\(slot)", shape: value.shape, floats: value.toArray()))
                }
            }
        }
        let state: [String: Any] = [
            "epoch": epoch,
            "optimizers": optimizers,
            // Positions as strings: they are 64-bit and JSON numbers are doubles.
            "generators": Dictionary(model.namedGenerators.map { ($0.path, String($0.generator.position)) }, uniquingKeysWith: { a, _ in a }),
            "history": history.epochs.map { $0.mapValues { $0.isFinite ? $0 as Any : NSNull() } },
        ]
        let json = try JSONSerialization.data(withJSONObject: state, options: [.sortedKeys])
        var info = metadata
        info["checkpoint"] = String(decoding: json, as: UTF8.self)
        try AtomicFile.write(try model.safetensors(metadata: info, extra: extra), to: url)
    }

    /// Puts the weights, optimizer state and generator positions back into `model`, which must
    /// be the same architecture, built, and compiled with the same kind of optimizer.
    public func restore(into model: Model) throws {
        try model.load(file, strict: true)
        let parameters = Dictionary(model.namedParameters.map { ($0.path, $0.parameter) }, uniquingKeysWith: { a, _ in a })
        let saved = state["optimizers"] as? [String: [String: Any]] ?? [:]
        for (name, optimizer) in model.namedOptimizers {
            guard let entry = saved[name] else {
                throw DataError.corrupt(path: url.path, reason: "holds no state for the model's optimizer '\(name)'")
            }
            let kind = String(describing: type(of: optimizer))
            guard entry["type"] as? String == kind else {
                throw DataError.corrupt(path: url.path, reason: "optimizer '\(name)' was \(entry["type"] ?? "?"), the model's is \(kind)")
            }
            optimizer.reset()
            optimizer.iterations = entry["iterations"] as? Int ?? 0
            let prefix = "@optimizer/\(name)/"
            for tensor in file.entries where tensor.name.hasPrefix(prefix) {
                let rest = tensor.name.dropFirst(prefix.count)
                guard let cut = rest.lastIndex(of: "/"), let parameter = parameters[String(rest[..<cut])] else {
                    throw DataError.corrupt(path: url.path, reason: "optimizer state '\(tensor.name)' belongs to no parameter of the model")
                }
                let value = Tensor(try file.floats(tensor), shape: tensor.shape, on: parameter.value.device)
                optimizer.setSlot(String(rest[rest.index(after: cut)...]), of: parameter, to: value)
            }
        }
        let positions = state["generators"] as? [String: String] ?? [:]
        for (path, generator) in model.namedGenerators {
            if let position = positions[path].flatMap(UInt64.init) { generator.position = position }
        }
    }
}

/// Saves checkpoints during `fit`, as Keras' `ModelCheckpoint`: the full training state every
/// `every` epochs as `checkpoint-epoch-NNNNNN.safetensors` (keeping the newest `keepLast`), and,
/// with `monitor`, the weights of the best epoch so far as `best.safetensors`. Writes are
/// crash-safe, and a failed write stops `fit` with the error rather than losing it silently.
public final class ModelCheckpoint: Callback {
    /// Whether `monitor` improves downwards, upwards, or as its name says (`acc` upwards).
    public enum Mode: Sendable { case min, max, auto }

    /// Where checkpoints go.
    public let directory: URL
    /// Epochs between full checkpoints.
    public let every: Int
    /// How many full checkpoints to keep; nil keeps all.
    public let keepLast: Int?
    /// The logged value whose best epoch is saved as `best.safetensors`; nil for none.
    public let monitor: String?
    /// Which way `monitor` improves.
    public let mode: Mode
    /// The best value of `monitor` so far.
    public private(set) var bestValue: Float?

    /// Checkpoints into `directory`.
    ///
    /// - Parameters:
    ///   - directory: Where checkpoints go.
    ///   - every: Epochs between full checkpoints.
    ///   - keepLast: How many to keep; nil keeps all.
    ///   - monitor: A logged value whose best epoch is kept as `best.safetensors`.
    ///   - mode: Which way `monitor` improves.
    public init(directory: URL, every: Int = 1, keepLast: Int? = nil, monitor: String? = nil, mode: Mode = .auto) {
        self.directory = directory
        self.every = Swift.max(every, 1)
        self.keepLast = keepLast.map { Swift.max($0, 1) }
        self.monitor = monitor
        self.mode = mode
    }

    private var maximise: Bool {
        switch mode {
        case .min: false
        case .max: true
        case .auto: monitor.map { $0.contains("acc") || $0.contains("precision") || $0.contains("recall") } ?? false
        }
    }

    /// Creates the folder before the first epoch, so an unwritable one fails at once.
    public func trainingBegan(model: Model) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw FileWriteError(path: directory.path, reason: "cannot create the checkpoint folder")
        }
        guard access(directory.path, W_OK) == 0 else { throw FileWriteError(path: directory.path, reason: "the folder is not writable") }
    }

    /// Writes the checkpoints due after `epoch`; never asks to stop.
    ///
    /// - Throws: The write's error, which stops `fit`.
    public func epochEnded(_ epoch: Int, logs: [String: Float], model: Model) throws -> Bool {
        if (epoch + 1) % every == 0 {
            try Checkpoint.write(model, epoch: epoch + 1, history: model.history,
                                 to: directory.appendingPathComponent(Checkpoint.fileName(epoch: epoch + 1)))
            try prune()
        }
        if let monitor, let value = logs[monitor], value.isFinite, bestValue.map({ maximise ? value > $0 : value < $0 }) ?? true {
            bestValue = value
            try model.save(to: directory.appendingPathComponent("best.safetensors"),
                           metadata: ["epoch": String(epoch + 1), "monitor": monitor, "value": "\(value)"])
        }
        return false
    }

    /// Deletes all but the newest `keepLast` epoch checkpoints.
    private func prune() throws {
        guard let keepLast else { return }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix("checkpoint-epoch-") && $0.hasSuffix(".safetensors") }.sorted()
        for name in names.dropLast(keepLast) { try FileManager.default.removeItem(at: directory.appendingPathComponent(name)) }
        AtomicFile.syncFolder(directory)
    }
}
