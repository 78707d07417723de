import FlintCore
import FlintData
import FlintDistributed
import Foundation

/// How `fit` reports progress.
public enum Verbosity: Sendable {
    case silent
    /// A live progress bar per epoch (step count, ETA, running loss and metrics).
    case progressBar
    /// One line per epoch.
    case epochLines
    /// A progress bar on a terminal, one line per epoch otherwise.
    case automatic
}

extension Model {
    /// Trains on `x` (`[samples] + inputShape`) and `y`, Keras style; `y` may be nil for models
    /// whose `trainStep` needs no targets. An unbuilt model is built for `x` on `Device.current`
    /// with `seed`. Data shapes are checked before the first step; a mismatch throws `ModelError`.
    @discardableResult
    public func fit(
        _ x: Tensor, _ y: Tensor? = nil, epochs: Int = 1, batchSize: Int = 32, shuffle: Bool = true,
        validationSplit: Float = 0, validationData: (Tensor, Tensor)? = nil,
        callbacks: [Callback] = [], schedule: LearningRateSchedule = .constant,
        verbosity: Verbosity = .automatic, seed: UInt64 = 0, resumeFrom: URL? = nil
    ) throws -> History {
        try fit([x], y, epochs: epochs, batchSize: batchSize, shuffle: shuffle, validationSplit: validationSplit,
                validationData: validationData.map { ([$0.0], $0.1) }, callbacks: callbacks, schedule: schedule,
                verbosity: verbosity, seed: seed, resumeFrom: resumeFrom)
    }

    /// Trains a model with several inputs: `inputs[i]` is `[samples] + inputShapes[i]`.
    @discardableResult
    public func fit(
        _ inputs: [Tensor], _ y: Tensor? = nil, epochs: Int = 1, batchSize: Int = 32, shuffle: Bool = true,
        validationSplit: Float = 0, validationData: ([Tensor], Tensor)? = nil,
        callbacks: [Callback] = [], schedule: LearningRateSchedule = .constant,
        verbosity: Verbosity = .automatic, seed: UInt64 = 0, resumeFrom: URL? = nil
    ) throws -> History {
        guard validationSplit >= 0 && validationSplit < 1 else {
            throw ModelError.invalidArgument("validationSplit must be in [0, 1), got \(validationSplit)")
        }
        let data = try Dataset(inputs: inputs, targets: y)
        try buildIfNeeded(for: data, seed: seed)
        // Keras takes the validation split from the end, before shuffling.
        let (training, heldOut) = data.split(holdingOut: validationSplit)
        var validation: Dataset? = heldOut.count > 0 ? heldOut : nil
        if let (vx, vy) = validationData { validation = try Dataset(inputs: vx, targets: vy) }
        return try fit(training, epochs: epochs, batchSize: batchSize, shuffle: shuffle, validation: validation,
                       callbacks: callbacks, schedule: schedule, verbosity: verbosity, seed: seed, resumeFrom: resumeFrom)
    }

    /// Trains on samples read by index (an IDX or CSV file, tensors, a dataset of your own):
    /// batches of `batchSize`, reshuffled every epoch from `seed` (the same batches on every
    /// device), assembled and uploaded `prefetch` batches ahead on a background thread.
    @discardableResult
    public func fit(
        _ training: some SampleDataset, epochs: Int = 1, batchSize: Int = 32, shuffle: Bool = true,
        validation: (any SampleDataset)? = nil, callbacks: [Callback] = [], schedule: LearningRateSchedule = .constant,
        verbosity: Verbosity = .automatic, seed: UInt64 = 0, resumeFrom: URL? = nil, prefetch: Int = 2
    ) throws -> History {
        try fit(Dataset(training), epochs: epochs, batchSize: batchSize, shuffle: shuffle,
                validation: try validation.map { try Dataset($0) }, callbacks: callbacks, schedule: schedule,
                verbosity: verbosity, seed: seed, resumeFrom: resumeFrom, prefetch: prefetch)
    }

    /// Trains on a dataset that makes its own batches (a stream, say), as they come.
    @discardableResult
    public func fit(
        _ training: some BatchDataset, epochs: Int = 1, validation: (any BatchDataset)? = nil,
        callbacks: [Callback] = [], schedule: LearningRateSchedule = .constant,
        verbosity: Verbosity = .automatic, seed: UInt64 = 0, resumeFrom: URL? = nil, prefetch: Int = 2
    ) throws -> History {
        try fit(Dataset(batches: training), epochs: epochs, validation: try validation.map { try Dataset(batches: $0) },
                callbacks: callbacks, schedule: schedule, verbosity: verbosity, seed: seed, resumeFrom: resumeFrom, prefetch: prefetch)
    }

    /// Trains on a dataset, validating on `validation` after every epoch. `batchSize` and
    /// `shuffle` apply to sample datasets (epoch `e` is ordered by `Shuffler(seed: seed &+ e)`); a
    /// batch dataset's batches are used as they come. `prefetch` batches are assembled and
    /// uploaded ahead on a background thread (0: each when its step starts, on this thread).
    ///
    /// With `resumeFrom` (a checkpoint file, or a folder whose newest checkpoint is used; a folder
    /// that does not exist yet or holds none starts afresh, so the same call serves the first run) the weights, optimizer state, random generators and history
    /// are restored and training continues after the checkpoint's epoch up to `epochs`, exactly
    /// as the uninterrupted run would have.
    @discardableResult
    public func fit(
        _ training: Dataset, epochs: Int = 1, batchSize: Int = 32, shuffle: Bool = true, validation: Dataset? = nil,
        callbacks: [Callback] = [], schedule: LearningRateSchedule = .constant,
        verbosity: Verbosity = .automatic, seed: UInt64 = 0, resumeFrom: URL? = nil, prefetch: Int = 2
    ) throws -> History {
        guard epochs >= 0, batchSize > 0, prefetch >= 0 else {
            throw ModelError.invalidArgument("epochs and prefetch must be ≥ 0 and batchSize > 0")
        }
        guard training.count > 0 else { throw ModelError.invalidArgument("no training samples (after the validation split)") }
        try buildIfNeeded(for: training, seed: seed)
        try checkData(training)
        if let validation { try checkData(validation) }

        // Under mpirun: every rank takes its share of each global batch (see DataParallel).
        let group = ProcessGroup.world
        let parallel = group.isDistributed ? DataParallel(group: group) : nil
        try parallel?.checkConfiguration(self, samples: training.count, batchSize: batchSize, epochs: epochs, seed: seed)
        fitCache.parameters = trainableParameters
        defer { fitCache.parameters = nil }
        let initialRate = optimizer?.learningRate
        defer { if let initialRate { optimizer?.learningRate = initialRate } }
        var start = 0
        history = History()
        if let resumeFrom {
            var isFolder: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: resumeFrom.path, isDirectory: &isFolder)
            let checkpoint = exists && isFolder.boolValue ? try Checkpoint.latest(in: resumeFrom)
                : exists ? try Checkpoint(contentsOf: resumeFrom) : nil
            if let checkpoint {
                try checkpoint.restore(into: self)
                start = Swift.min(checkpoint.epoch, epochs)
                history = checkpoint.history
            } else if resumeFrom.pathExtension == "safetensors" {
                // A named file that is not there is a mistake; a folder without checkpoints is a first run.
                throw ModelError.invalidArgument("cannot resume: no checkpoint at \(resumeFrom.path)")
            }
        }
        if let parallel {
            // Rank 0's weights, optimizer state, epoch and history, whatever each rank resumed from.
            parallel.broadcastState(of: self)
            var position = [Float(start)]
            group.broadcast(&position)
            start = Int(position[0])
            history = History(encoded: group.broadcast(bytes: history.encoded))
        }
        // Only rank 0 reports and writes files; callbacks that must see every rank say so.
        let callbacks = group.rank == 0 ? callbacks : callbacks.filter(\.runsOnEveryRank)
        // Every rank reads the same global batches (same seed) and uploads only its share.
        let source = training.batchSource(size: batchSize, shuffleSeed: shuffle ? seed : nil)
        let steps = Swift.max(source.batchCount, 1)
        let display = ProgressDisplay(verbosity: group.rank == 0 ? verbosity : .silent, epochs: epochs, steps: steps)
        let batchCallbacks = callbacks.compactMap { $0 as? BatchCallback }
        // Ranks of a data-parallel run decide together, on the reduced values at each epoch's end.
        let watch = DivergenceWatch(policy: onNonFiniteLoss, tracksSteps: parallel == nil)
        for callback in callbacks { try callback.trainingBegan(model: self) }
        training: for epoch in start..<Swift.max(start, epochs) {
            let logs = StepLogs()
            watch.epochBegan(self)
            display.epochBegan(epoch)
            for callback in callbacks { try callback.epochBegan(epoch, model: self) }
            let batches = try Prefetcher(source, epoch: epoch, device: device, depth: prefetch,
                                         shard: parallel.map { .training($0.group) }, check: targetCheck())
            var step = 0
            while let batch = try batches.next() {
                if let optimizer, let initialRate {
                    optimizer.learningRate = schedule.rate(epoch: Double(epoch) + Double(step) / Double(steps), initial: initialRate)
                }
                if let parallel {
                    try GradientReduction.$current.withValue(GradientReduction(group: parallel.group, weight: batch.shareOfGlobalBatch)) {
                        try trainStep(batch, logs: logs)
                    }
                } else {
                    try trainStep(batch, logs: logs)
                }
                step += 1
                // The losses are read only when progress is, or after the watch's window of steps.
                let due = watch.stepEnded(step, logs: logs)
                var diverged: TrainingDiverged?, read = false
                display.stepEnded(step) {
                    let values = logs.values()
                    if parallel == nil { (diverged, read) = (watch.check(values, epoch: epoch, model: self), true) }
                    return values
                }
                if due && !read { diverged = watch.check(logs.values(), epoch: epoch, model: self) }
                if let diverged {
                    batches.finish()
                    if watch.policy == .stop { throw diverged }
                    history.append(logs.values())
                    display.epochEnded(epoch, logs: logs.values())
                    break training
                }
                for callback in batchCallbacks {
                    callback.batchEnded(epoch * steps + step) {
                        var values = logs.values()
                        if let optimizer { values["learning_rate"] = optimizer.learningRate }
                        return values
                    }
                }
            }
            var epochLogs = logs.values(over: group)
            if let diverged = watch.check(epochLogs, epoch: epoch, model: self) {
                if watch.policy == .stop { throw diverged }
                history.append(epochLogs)
                display.epochEnded(epoch, logs: epochLogs)
                break training
            }
            parallel?.averageState(of: self)
            if let optimizer { epochLogs["learning_rate"] = optimizer.learningRate }
            if let validation {
                for (key, value) in try evaluate(validation, batchSize: batchSize, prefetch: prefetch) { epochLogs["val_" + key] = value }
            }
            history.append(epochLogs)
            display.epochEnded(epoch, logs: epochLogs)
            var stop = false
            for callback in callbacks where try callback.epochEnded(epoch, logs: epochLogs, model: self) { stop = true }
            // A stop decided on one rank (rank 0's callbacks) stops them all.
            var flag: [Float] = [stop ? 1 : 0]
            group.allMax(&flag)
            if flag[0] > 0 { break }
        }
        for callback in callbacks { try callback.trainingEnded(model: self) }
        return history
    }

    /// The compiled loss's check of every batch's targets (labels within the classes), run
    /// where batches are assembled: on the host, before upload, with no read of the device.
    func targetCheck() -> (@Sendable (HostBatch) throws -> Void)? {
        guard let loss, let outputShape = try? builtOutputShape() else { return nil }
        return { batch in
            if let target = batch.target { try loss.checkTargets(target, outputShape: outputShape) }
        }
    }

    /// Loss and metrics over `x`, `y` in evaluation mode.
    public func evaluate(_ x: Tensor, _ y: Tensor? = nil, batchSize: Int = 128) throws -> [String: Float] {
        try evaluate([x], y, batchSize: batchSize)
    }

    /// Loss and metrics over a model's several inputs and `y`, in evaluation mode.
    public func evaluate(_ inputs: [Tensor], _ y: Tensor? = nil, batchSize: Int = 128) throws -> [String: Float] {
        try evaluate(try Dataset(inputs: inputs, targets: y), batchSize: batchSize)
    }

    /// Loss and metrics over samples read by index, in batches of `batchSize`, in evaluation mode.
    public func evaluate(_ data: some SampleDataset, batchSize: Int = 128, prefetch: Int = 2) throws -> [String: Float] {
        try evaluate(Dataset(data), batchSize: batchSize, prefetch: prefetch)
    }

    /// Loss and metrics over a dataset's own batches, in evaluation mode.
    public func evaluate(_ data: some BatchDataset, prefetch: Int = 2) throws -> [String: Float] {
        try evaluate(Dataset(batches: data), prefetch: prefetch)
    }

    /// Loss and metrics over a dataset, in evaluation mode (`batchSize` applies to sample datasets).
    public func evaluate(_ data: Dataset, batchSize: Int = 128, prefetch: Int = 2) throws -> [String: Float] {
        guard batchSize > 0, prefetch >= 0 else { throw ModelError.invalidArgument("batchSize must be positive and prefetch ≥ 0") }
        _ = try builtOutputShape()
        try checkData(data)
        // Under mpirun each rank evaluates its share and the totals are added up.
        let group = ProcessGroup.world
        let logs = StepLogs()
        let batches = try Prefetcher(data.batchSource(size: batchSize), epoch: 0, device: device, depth: prefetch,
                                     shard: group.isDistributed ? .evaluation(group) : nil, check: targetCheck())
        try Tensor.withoutGrad {
            while let batch = try batches.next() { try testStep(batch, logs: logs) }
        }
        return logs.values(over: group)
    }

    /// The model's outputs for `x`, batch by batch, in evaluation mode and without recording gradients.
    public func predict(_ x: Tensor, batchSize: Int = 128) throws -> Tensor {
        try predict([x], batchSize: batchSize)
    }

    /// The model's outputs for several inputs, batch by batch, in evaluation mode.
    public func predict(_ inputs: [Tensor], batchSize: Int = 128) throws -> Tensor {
        try predict(try Dataset(inputs: inputs), batchSize: batchSize)
    }

    /// The model's outputs for samples read by index (targets, if any, are ignored), in order.
    public func predict(_ data: some SampleDataset, batchSize: Int = 128, prefetch: Int = 2) throws -> Tensor {
        try predict(Dataset(data), batchSize: batchSize, prefetch: prefetch)
    }

    /// The model's outputs for every sample of a dataset, in order, in evaluation mode.
    public func predict(_ data: Dataset, batchSize: Int = 128, prefetch: Int = 2) throws -> Tensor {
        guard batchSize > 0, prefetch >= 0 else { throw ModelError.invalidArgument("batchSize must be positive and prefetch ≥ 0") }
        let outputShape = try builtOutputShape()
        try checkInputs(data)
        let batches = try Prefetcher(data.batchSource(size: batchSize), epoch: 0, device: device, depth: prefetch)
        var outputs: [Tensor] = []
        try Tensor.withoutGrad {
            while let batch = try batches.next() { outputs.append(self(batch.inputs)) }
        }
        return outputs.isEmpty ? .zeros([0] + outputShape, on: device) : Tensor.concatenate(outputs, axis: 0)
    }

    // MARK: Checks

    private func buildIfNeeded(for data: Dataset, seed: UInt64) throws {
        if !isBuilt { try build(inputShapes: data.inputShapes, device: .current, seed: seed) }
    }

    func checkInputs(_ data: Dataset) throws {
        guard data.inputShapes.count == inputShapes.count else {
            throw ModelError.invalidArgument("\(typeName) takes \(inputShapes.count) input(s), got \(data.inputShapes.count)")
        }
        for (expected, got) in zip(inputShapes, data.inputShapes) where expected != got {
            throw ModelError.inputShapeMismatch(expected: expected, got: got)
        }
    }
}

/// Hooks into `fit`. Return `true` from `epochEnded` to stop training.
/// Each may throw, which stops `fit` with that error. `model.history` holds the epochs so far.
/// In a data-parallel run only rank 0 calls them, unless `runsOnEveryRank` is true (EarlyStopping
/// must restore weights everywhere); a stop requested on rank 0 stops every rank.
public protocol Callback: AnyObject {
    var runsOnEveryRank: Bool { get }
    func trainingBegan(model: Model) throws
    func epochBegan(_ epoch: Int, model: Model) throws
    /// `logs` holds the epoch's loss, metrics, `learning_rate` and `val_` values.
    func epochEnded(_ epoch: Int, logs: [String: Float], model: Model) throws -> Bool
    func trainingEnded(model: Model) throws
}

extension Callback {
    /// False: by default a callback runs on rank 0 alone.
    public var runsOnEveryRank: Bool { false }
    /// Does nothing.
    public func trainingBegan(model: Model) {}
    /// Does nothing.
    public func epochBegan(_ epoch: Int, model: Model) {}
    /// Does nothing.
    public func trainingEnded(model: Model) {}
}
