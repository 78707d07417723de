import FlintCore

/// A quantity reported during training besides the loss, computed from additive statistics:
/// each batch gives a small vector of sums, kept and added up on the device, and the metric is
/// a function of the totals (read back only when reported). That covers means over samples
/// (accuracy, mean absolute error) and ratios of counts (precision, recall), and lets several
/// processes add their totals before the division.
///
/// Built-ins have short spellings (`metrics: [.accuracy]`); define your own the same way:
///
///     extension Metric {
///         /// Share of predictions within 0.1 of the target.
///         static let withinTenth = Metric(name: "within_0.1") { p, y in ((p - y).abs() .< 0.1).sum() }
///     }
public struct Metric: Sendable, CustomStringConvertible {
    /// The key in logs and history (`val_` is prefixed for validation data).
    public let name: String
    let statistics: @Sendable (Tensor, Tensor) -> Tensor
    let result: @Sendable ([Float], Int) -> Float

    /// A metric from additive statistics: `statistics` maps a batch's predictions and targets to
    /// a rank-0 or rank-1 tensor of sums; `result` maps the totals over all batches and the
    /// number of samples to the metric's value.
    public init(name: String, statistics: @escaping @Sendable (_ predictions: Tensor, _ targets: Tensor) -> Tensor,
                result: @escaping @Sendable (_ totals: [Float], _ samples: Int) -> Float) {
        self.name = name
        self.statistics = statistics
        self.result = result
    }

    /// A mean over samples: `batchSum` gives the sum of the per-sample values of a batch (rank 0).
    public init(name: String, batchSum: @escaping @Sendable (_ predictions: Tensor, _ targets: Tensor) -> Tensor) {
        self.init(name: name, statistics: batchSum) { totals, samples in samples > 0 ? totals[0] / Float(samples) : .nan }
    }

    /// The name.
    public var description: String { name }

    /// Fraction of correct predictions: argmax for several outputs (targets as labels or
    /// one-hot), a 0.5 threshold for a single sigmoid output.
    public static let accuracy = Metric(name: "accuracy") { predictions, targets in
        let classes = predictions.shape.last ?? 1
        if classes == 1 {
            return ((predictions .> 0.5) .== (targets.dtype == .int32 ? targets.cast(to: .float32) : targets)).sum()
        }
        let predicted = predictions.argmax(axis: -1).cast(to: .float32)
        let truth = targets.dtype == .int32 ? targets.reshaped(to: predicted.shape).cast(to: .float32)
                                            : targets.argmax(axis: -1).cast(to: .float32)
        return (predicted .== truth).sum()
    }

    /// Mean absolute error (averaged over each sample's values, then over samples).
    public static let meanAbsoluteError = Metric(name: "mae") { predictions, targets in
        let perSample = predictions.count / Swift.max(predictions.shape.first ?? 1, 1)
        return (predictions - targets).abs().sum() / Float(Swift.max(perSample, 1))
    }
}

/// Running totals of what training or evaluation steps report over an epoch, kept on the
/// device and read back (in one transfer) only when shown. A custom `trainStep` records its own
/// quantities here:
///
///     logs.record("d_loss", mean: discriminatorLoss, count: batch.count)
public final class StepLogs {
    private var order: [String] = []
    private var sums: [String: Tensor] = [:]
    private var samples: [String: Int] = [:]
    private var results: [String: @Sendable ([Float], Int) -> Float] = [:]

    /// Empty logs.
    public init() {}

    /// Adds a batch mean (a rank-0 tensor) weighted by the batch's `count` samples; the epoch's
    /// value is the weighted mean.
    public func record(_ name: String, mean: Tensor, count: Int) {
        add(name, Tensor.withoutGrad { mean.detached() * Float(count) }, count: count) { totals, n in
            n > 0 ? totals[0] / Float(n) : .nan
        }
    }

    /// Adds `metric`'s statistics for a batch of predictions and targets.
    public func record(_ metric: Metric, predictions: Tensor, targets: Tensor) {
        let statistics = Tensor.withoutGrad { metric.statistics(predictions.detached(), targets.detached()) }
        add(metric.name, statistics, count: predictions.shape.first ?? 1, result: metric.result)
    }

    private func add(_ name: String, _ value: Tensor, count: Int, result: @escaping @Sendable ([Float], Int) -> Float) {
        let flat = value.reshaped(to: [value.count])
        if let sum = sums[name] {
            ensure(sum.shape == flat.shape, "StepLogs: '\(name)' was recorded with \(sum.count) statistics, now \(flat.count)")
            sums[name] = Tensor.withoutGrad { sum + flat }
        } else {
            order.append(name)
            sums[name] = flat
            results[name] = result
        }
        samples[name, default: 0] += count
    }

    /// Whether anything has been recorded.
    public var isEmpty: Bool { order.isEmpty }

    /// The device total of `name` so far (a new tensor after every record).
    func runningTotal(_ name: String) -> Tensor? { sums[name] }

    /// The names recorded so far, in first-recorded order.
    public var names: [String] { order }

    /// The raw totals and sample counts, in `names` order (for adding up across processes).
    public var totals: (sums: [Tensor], samples: [Int]) { (order.map { sums[$0]! }, order.map { samples[$0]! }) }

    /// Each quantity's value over everything recorded, from one read of the device.
    public func values() -> [String: Float] { reducedValues { _ in } }

    /// The values after `reduce` has combined the raw totals (sums, then sample counts) with
    /// other processes'.
    func reducedValues(_ reduce: (inout [Float]) -> Void) -> [String: Float] {
        guard !order.isEmpty else { return [:] }
        let parts = order.map { sums[$0]! }
        var host = Tensor.withoutGrad { Tensor.concatenate(parts.map { $0.to(parts[0].device) }, axis: 0) }.toArray()
        let sumCount = host.count
        host += order.map { Float(samples[$0]!) }
        reduce(&host)
        var logs: [String: Float] = [:]
        var start = 0
        for (index, (name, part)) in zip(order, parts).enumerated() {
            logs[name] = results[name]!(Array(host[start..<(start + part.count)]), Int(host[sumCount + index]))
            start += part.count
        }
        return logs
    }
}
