import FlintCore

/// Inputs and targets kept on the host and served as device batches, with seeded shuffling.
/// `fit`, `evaluate` and `predict` use it; it works just as well in a hand-written loop:
///
///     for (x, y) in dataset.batches(size: 64, shuffleSeed: UInt64(epoch), on: device) { … }
public struct Dataset {
    let inputs: HostSamples
    let targets: HostSamples
    /// The sample indices this dataset covers (a split is a range of another's samples).
    let rows: [Int]

    public init(_ x: Tensor, _ y: Tensor) throws {
        guard x.rank >= 1, y.rank >= 1, x.shape[0] == y.shape[0] else {
            throw ModelError.targetMismatch(reason: "\(x.shape.first ?? 0) samples but \(y.shape.first ?? 0) targets")
        }
        self.init(inputs: HostSamples(x), targets: HostSamples(y), rows: Array(0..<x.shape[0]))
    }

    init(inputs: HostSamples, targets: HostSamples, rows: [Int]) {
        self.inputs = inputs
        self.targets = targets
        self.rows = rows
    }

    public var count: Int { rows.count }
    public var inputShape: [Int] { inputs.sampleShape }
    public var targetShape: [Int] { targets.sampleShape }

    /// The first `count - n` samples and the last `n`, where `n = ⌊count · fraction⌋` (Keras'
    /// `validation_split` takes the end, unshuffled).
    public func split(holdingOut fraction: Float) -> (Dataset, Dataset) {
        let held = Int(Float(count) * fraction)
        return (Dataset(inputs: inputs, targets: targets, rows: Array(rows[..<(count - held)])),
                Dataset(inputs: inputs, targets: targets, rows: Array(rows[(count - held)...])))
    }

    /// Batches of `size` (the last may be smaller) in order, or shuffled reproducibly by `shuffleSeed`.
    public func batches(size: Int, shuffleSeed: UInt64? = nil, on device: Device) -> [Batch] {
        precondition(size > 0, "batches: size must be positive, got \(size)")
        var order = rows
        if let shuffleSeed {
            var shuffler = Shuffler(seed: shuffleSeed)
            order = shuffler.permutation(rows.count).map { rows[$0] }
        }
        return stride(from: 0, to: order.count, by: size).map {
            Batch(dataset: self, rows: order[$0..<Swift.min($0 + size, order.count)], device: device)
        }
    }

    /// A batch's rows, uploaded to the device only when asked for.
    public struct Batch {
        let dataset: Dataset
        let rows: ArraySlice<Int>
        let device: Device

        public var count: Int { rows.count }
        public var inputs: Tensor { dataset.inputs.batch(rows, on: device) }
        public var targets: Tensor { dataset.targets.batch(rows, on: device) }
    }
}
