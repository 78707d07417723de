import FlintCore
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

extension Sequential {
    /// Trains on `x` (`[samples] + inputShape`) and `y`, Keras style. Data shapes are checked
    /// before the first step; a mismatch throws `ModelError`.
    @discardableResult
    public func fit(
        _ x: Tensor, _ y: Tensor, epochs: Int = 1, batchSize: Int = 32, shuffle: Bool = true,
        validationSplit: Float = 0, validationData: (Tensor, Tensor)? = nil,
        callbacks: [Callback] = [], schedule: LearningRateSchedule = .constant,
        verbosity: Verbosity = .automatic, seed: UInt64 = 0
    ) throws -> History {
        guard let optimizer else { throw ModelError.notCompiled }
        guard epochs >= 0, batchSize > 0 else { throw ModelError.invalidArgument("epochs must be ≥ 0 and batchSize > 0") }
        guard validationSplit >= 0 && validationSplit < 1 else {
            throw ModelError.invalidArgument("validationSplit must be in [0, 1), got \(validationSplit)")
        }
        try checkData(x, y)
        // Keras takes the validation split from the end, before shuffling.
        let (training, heldOut) = try Dataset(x, y).split(holdingOut: validationSplit)
        guard training.count > 0 else { throw ModelError.invalidArgument("no training samples left after the validation split") }
        var validation: Dataset? = heldOut.count > 0 ? heldOut : nil
        if let (vx, vy) = validationData {
            try checkData(vx, vy)
            validation = try Dataset(vx, vy)
        }

        let initialRate = optimizer.learningRate
        let steps = (training.count + batchSize - 1) / batchSize
        let display = ProgressDisplay(verbosity: verbosity, epochs: epochs, steps: steps)
        var history = History()
        let batchCallbacks = callbacks.compactMap { $0 as? BatchCallback }
        callbacks.forEach { $0.trainingBegan(model: self) }
        for epoch in 0..<epochs {
            let totals = Totals(metrics: metrics, device: device)
            display.epochBegan(epoch)
            let batches = training.batches(size: batchSize, shuffleSeed: shuffle ? seed &+ UInt64(epoch) : nil, on: device)
            for (step, batch) in batches.enumerated() {
                optimizer.learningRate = schedule.rate(epoch: Double(epoch) + Double(step) / Double(steps), initial: initialRate)
                trainStep(batch.inputs, batch.targets, into: totals)
                display.stepEnded(step + 1) { totals.means() }
                for callback in batchCallbacks {
                    callback.batchEnded(epoch * steps + step + 1) { totals.means().merging(["learning_rate": optimizer.learningRate]) { $1 } }
                }
            }
            var logs = totals.means()
            logs["learning_rate"] = optimizer.learningRate
            if let validation {
                for (key, value) in evaluate(validation, batchSize: batchSize) { logs["val_" + key] = value }
            }
            history.append(logs)
            display.epochEnded(epoch, logs: logs)
            let stop = callbacks.reduce(false) { $1.epochEnded(epoch, logs: logs, model: self) || $0 }
            if stop { break }
        }
        callbacks.forEach { $0.trainingEnded(model: self) }
        optimizer.learningRate = initialRate
        return history
    }

    /// Loss and metrics over `x`, `y` in evaluation mode.
    public func evaluate(_ x: Tensor, _ y: Tensor, batchSize: Int = 128) throws -> [String: Float] {
        guard loss != nil else { throw ModelError.notCompiled }
        try checkData(x, y)
        return evaluate(try Dataset(x, y), batchSize: batchSize)
    }

    /// The model's outputs for `x`, batch by batch, in evaluation mode and without recording gradients.
    public func predict(_ x: Tensor, batchSize: Int = 128) throws -> Tensor {
        guard Array(x.shape.dropFirst()) == inputShape else {
            throw ModelError.inputShapeMismatch(expected: inputShape, got: Array(x.shape.dropFirst()))
        }
        let samples = HostSamples(x)
        let rows = Array(0..<samples.count)
        let outputs = Tensor.withoutGrad {
            stride(from: 0, to: rows.count, by: batchSize).map { start in
                self(samples.batch(rows[start..<Swift.min(start + batchSize, rows.count)], on: device))
            }
        }
        return outputs.isEmpty ? .zeros([0] + outputShape, on: device) : Tensor.concatenate(outputs, axis: 0)
    }

    private func trainStep(_ x: Tensor, _ y: Tensor, into totals: Totals) {
        guard let loss, let optimizer else { return }
        let output = self(x, training: true)
        let dataLoss = loss(output, y)
        let objective = regularizationLoss().map { dataLoss + $0 } ?? dataLoss
        objective.backward()
        optimizer.step(parameters)
        // The reported loss is the data term already computed for backward, not a second forward pass.
        Tensor.withoutGrad { totals.add(loss: dataLoss.detached(), output: output.detached(), targets: y) }
    }

    private func evaluate(_ data: Dataset, batchSize: Int) -> [String: Float] {
        guard let loss else { return [:] }
        let totals = Totals(metrics: metrics, device: device)
        Tensor.withoutGrad {
            for batch in data.batches(size: batchSize, on: device) {
                let (x, y) = (batch.inputs, batch.targets)
                let output = self(x)
                totals.add(loss: loss(output, y), output: output, targets: y)
            }
        }
        return totals.means()
    }

    private func checkData(_ x: Tensor, _ y: Tensor) throws {
        guard x.rank >= 1, Array(x.shape.dropFirst()) == inputShape else {
            throw ModelError.inputShapeMismatch(expected: inputShape, got: Array(x.shape.dropFirst()))
        }
        guard y.rank >= 1, y.shape[0] == x.shape[0] else {
            throw ModelError.targetMismatch(reason: "\(x.shape.first ?? 0) samples but \(y.shape.first ?? 0) targets")
        }
        if let loss { try loss.validate(outputShape: outputShape, targetShape: Array(y.shape.dropFirst()), targetType: y.dtype) }
    }
}

/// Sums of loss and metrics over an epoch, kept on the device and read back only when reported.
final class Totals {
    private let metrics: [Metric]
    private var lossSum: Tensor
    private var metricSums: [Tensor]
    private var samples = 0

    init(metrics: [Metric], device: Device) {
        self.metrics = metrics
        lossSum = .zeros([], on: device)
        metricSums = metrics.map { _ in .zeros([], on: device) }
    }

    func add(loss: Tensor, output: Tensor, targets: Tensor) {
        let n = output.shape.first ?? 1
        samples += n
        lossSum = lossSum + loss * Float(n)
        for (i, metric) in metrics.enumerated() { metricSums[i] = metricSums[i] + metric.batchSum(output, targets) }
    }

    func means() -> [String: Float] {
        guard samples > 0 else { return [:] }
        var logs = ["loss": lossSum.item() / Float(samples)]
        for (metric, sum) in zip(metrics, metricSums) { logs[metric.name] = sum.item() / Float(samples) }
        return logs
    }
}
