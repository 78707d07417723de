import FlintCore

/// Inputs (one or several) and optional targets kept on the host and served as device batches,
/// with seeded shuffling. `fit`, `evaluate` and `predict` use it; it works just as well in a
/// hand-written loop:
///
///     for batch in dataset.batches(size: 64, shuffleSeed: UInt64(epoch), on: device) { … }
public struct Dataset {
    let inputs: [HostSamples]
    let targets: HostSamples?
    /// The sample indices this dataset covers (a split is a range of another's samples).
    let rows: [Int]

    /// One input tensor and its targets (nil for models that need none), sample-major.
    public init(_ x: Tensor, _ y: Tensor? = nil) throws {
        try self.init(inputs: [x], targets: y)
    }

    /// Several inputs of the same number of samples, and their targets.
    public init(inputs: [Tensor], targets: Tensor? = nil) throws {
        guard let first = inputs.first else { throw ModelError.invalidArgument("a dataset needs at least one input") }
        guard inputs.allSatisfy({ $0.rank >= 1 }) else {
            throw ModelError.invalidArgument("inputs must have a sample axis, got shapes \(inputs.map(\.shape))")
        }
        let count = first.shape[0]
        guard inputs.allSatisfy({ $0.shape[0] == count }) else {
            throw ModelError.invalidArgument("inputs hold different numbers of samples: \(inputs.map { $0.shape[0] })")
        }
        if let targets {
            guard targets.rank >= 1, targets.shape[0] == count else {
                throw ModelError.targetMismatch(reason: "\(count) samples but \(targets.shape.first ?? 0) targets")
            }
        }
        self.init(inputs: inputs.map(HostSamples.init), targets: targets.map(HostSamples.init), rows: Array(0..<count))
    }

    init(inputs: [HostSamples], targets: HostSamples?, rows: [Int]) {
        self.inputs = inputs
        self.targets = targets
        self.rows = rows
    }

    public var count: Int { rows.count }
    /// The per-sample shape of each input.
    public var inputShapes: [[Int]] { inputs.map(\.sampleShape) }
    /// The per-sample shape of the first input.
    public var inputShape: [Int] { inputs[0].sampleShape }
    /// The per-sample shape of the targets, nil without targets.
    public var targetShape: [Int]? { targets?.sampleShape }
    public var targetType: DType? { targets?.dtype }

    /// The first `count - n` samples and the last `n`, where `n = ⌊count · fraction⌋` (Keras'
    /// `validation_split` takes the end, unshuffled).
    public func split(holdingOut fraction: Float) -> (Dataset, Dataset) {
        let held = Int(Float(count) * fraction)
        return (Dataset(inputs: inputs, targets: targets, rows: Array(rows[..<(count - held)])),
                Dataset(inputs: inputs, targets: targets, rows: Array(rows[(count - held)...])))
    }

    /// Batches of `size` (the last may be smaller) in order, or shuffled reproducibly by `shuffleSeed`.
    public func batches(size: Int, shuffleSeed: UInt64? = nil, on device: Device) -> [Batch] {
        ensure(size > 0, "batches: size must be positive, got \(size)")
        var order = rows
        if let shuffleSeed {
            var shuffler = Shuffler(seed: shuffleSeed)
            order = shuffler.permutation(rows.count).map { rows[$0] }
        }
        return stride(from: 0, to: order.count, by: size).map {
            Batch(dataset: self, rows: order[$0..<Swift.min($0 + size, order.count)], device: device)
        }
    }

    /// A batch's rows, uploaded to the device when asked for (each access uploads again).
    public struct Batch {
        let dataset: Dataset
        let rows: ArraySlice<Int>
        let device: Device

        public var count: Int { rows.count }
        /// Every input of the batch, `[count] + inputShapes[i]` each.
        public var inputs: [Tensor] { dataset.inputs.map { $0.batch(rows, on: device) } }
        /// The first input of the batch.
        public var input: Tensor { dataset.inputs[0].batch(rows, on: device) }
        /// The batch's targets, nil for a dataset without targets.
        public var targets: Tensor? { dataset.targets?.batch(rows, on: device) }
    }
}
