import FlintCore
import FlintData

/// The data `fit`, `evaluate` and `predict` run on: any `SampleDataset` (read by index,
/// batched and shuffled by `fit`) or `BatchDataset` (batches made by the dataset itself), with
/// the layout of its samples checked once. Data stays on the host in its stored type; each batch
/// is uploaded, converted on the device, while the previous step computes.
///
///     let data = try Dataset(x, y)                                 // tensors
///     let images = try Dataset(ImageDataset.mnist.samples(.train)) // an IDX file, bytes
///     try data.batches(size: 64, shuffleSeed: 1, on: device).forEach { batch in … }
public struct Dataset: Sendable {
    enum Source: Sendable {
        case samples(any SampleDataset)
        case batches(any BatchDataset)
    }

    let source: Source
    /// What every sample looks like: element types, shapes and conversions.
    public let layout: SampleLayout

    /// One input tensor and its targets (nil for models that need none), sample-major.
    public init(_ x: Tensor, _ y: Tensor? = nil) throws {
        try self.init(inputs: [x], targets: y)
    }

    /// Several inputs of the same number of samples, and their targets.
    public init(inputs: [Tensor], targets: Tensor? = nil) throws {
        try self.init(TensorDataset(inputs: inputs, targets: targets))
    }

    /// Samples read by index: `fit` batches and shuffles them.
    public init(_ samples: some SampleDataset) throws {
        try self.init(source: .samples(samples), layout: samples.layout())
    }

    /// Batches made by the dataset: used as they come (`fit`'s batch size and shuffling do not apply).
    public init(batches: some BatchDataset) throws {
        try self.init(source: .batches(batches), layout: batches.layout())
    }

    init(source: Source, layout: SampleLayout) throws {
        for (i, array) in layout.inputs.enumerated() where array.isInt32 && !array.type.isInteger {
            throw DatasetError.invalidConversion("input \(i) holds \(array.type) values, which cannot become int32")
        }
        if let target = layout.target, target.isInt32 && !target.type.isInteger {
            throw DatasetError.invalidConversion("the targets hold \(target.type) values, which cannot become int32 class indices")
        }
        self.init(checked: source, layout: layout)
    }

    private init(checked source: Source, layout: SampleLayout) {
        self.source = source
        self.layout = layout
    }

    /// The number of samples (in one epoch, for a batch dataset).
    public var count: Int {
        switch source {
        case .samples(let samples): samples.count
        case .batches(let batches): batches.count
        }
    }

    /// The per-sample shape of each input.
    public var inputShapes: [[Int]] { layout.inputs.map(\.shape) }
    /// The per-sample shape of the first input.
    public var inputShape: [Int] { inputShapes[0] }
    /// The per-sample shape of the targets, nil without targets.
    public var targetShape: [Int]? { layout.target?.shape }
    /// The type of the target tensors, nil without targets.
    public var targetType: DType? { layout.target.map { $0.isInt32 ? .int32 : .float32 } }

    /// The first `count - n` samples and the last `n`, where `n = ⌊count · fraction⌋` (Keras'
    /// `validation_split` takes the end, unshuffled). Sample datasets only: split a stream
    /// before batching it.
    public func split(holdingOut fraction: Float) -> (Dataset, Dataset) {
        guard case .samples(let samples) = source else {
            fatalError("Dataset.split: a batch dataset cannot be split by samples; split the data before batching it")
        }
        let kept = count - Int(Float(count) * fraction)
        func parts<D: SampleDataset>(_ data: D) -> (Dataset, Dataset) {
            (Dataset(checked: .samples(data.take(kept)), layout: layout), Dataset(checked: .samples(data.skip(kept)), layout: layout))
        }
        return parts(samples)
    }

    /// The batches of one epoch: for a sample dataset, batches of `size` (the last may be smaller)
    /// in order or in the order `Shuffler(seed: shuffleSeed &+ epoch)` gives, as `fit` makes
    /// them; a batch dataset's own batches otherwise.
    public func batchSource(size: Int, shuffleSeed: UInt64? = nil) -> any BatchDataset {
        ensure(size > 0, "batches: size must be positive, got \(size)")
        switch source {
        case .samples(let samples):
            func batched<D: SampleDataset>(_ data: D) -> any BatchDataset { data.batched(size, shuffleSeed: shuffleSeed) }
            return batched(samples)
        case .batches(let batches):
            return batches
        }
    }

    /// The batches of `epoch` on `device`, each uploaded when the iteration reaches it.
    /// A dataset that fails to read stops the program with its error there; use the iterator's
    /// `nextBatch()` to handle such errors instead.
    public func batches(size: Int, shuffleSeed: UInt64? = nil, epoch: Int = 0, on device: Device) -> Batches {
        Batches(source: batchSource(size: size, shuffleSeed: shuffleSeed), epoch: epoch, device: device)
    }

    /// One epoch of batches, uploaded one at a time; see `Dataset.batches(size:shuffleSeed:epoch:on:)`.
    public struct Batches: Sequence {
        let source: any BatchDataset
        let epoch: Int
        let device: Device

        /// A pass over the batches.
        public func makeIterator() -> Iterator { Iterator(batches: self) }

        /// Reads, converts and uploads one batch at a time.
        public struct Iterator: IteratorProtocol {
            let batches: Batches
            var host: (any BatchIterator)?

            init(batches: Batches) { self.batches = batches }

            /// The next batch, or nil at the end; throws what the dataset throws.
            public mutating func nextBatch() throws -> Batch? {
                if host == nil { host = try batches.source.makeBatchIterator(epoch: batches.epoch) }
                return try host!.next().map { try Batch($0, on: batches.device) }
            }

            /// The next batch, or nil at the end; a dataset error stops the program (use `nextBatch()` to catch it).
            public mutating func next() -> Batch? {
                do {
                    return try nextBatch()
                } catch {
                    fatalError("Dataset.batches: \(error)")
                }
            }
        }
    }

    /// One batch on a device: every input (`[count] + inputShapes[i]`) and the targets.
    public struct Batch: Sendable {
        /// Every input of the batch.
        public let inputs: [Tensor]
        /// The batch's targets, nil for a dataset without targets.
        public let targets: Tensor?
        /// This process's rows as a fraction of the global batch, under data-parallel training.
        var shareOfGlobalBatch: Float = 1

        /// A batch of `inputs` and `targets`.
        ///
        /// - Parameters:
        ///   - inputs: One tensor per model input, the samples along the first axis.
        ///   - targets: The targets, or nil.
        public init(inputs: [Tensor], targets: Tensor? = nil) {
            ensure(!inputs.isEmpty, "Dataset.Batch: a batch needs at least one input")
            self.inputs = inputs
            self.targets = targets
        }

        /// Uploads a host batch: each array converted as its layout says (byte images cast,
        /// scaled and shifted on the device in one pass).
        public init(_ host: HostBatch, on device: Device) throws {
            self.init(inputs: try host.inputs.map { try Self.tensor($0, on: device) }, targets: try host.target.map { try Self.tensor($0, on: device) })
        }

        /// The number of samples.
        public var count: Int { inputs[0].shape[0] }
        /// The first input of the batch.
        public var input: Tensor { inputs[0] }

        static func tensor(_ array: HostArray, on device: Device) throws -> Tensor {
            switch array.conversion {
            case .float(let scale, let shift):
                return array.withUnsafeBytes { Tensor(converting: $0, as: array.type, shape: array.shape, scale: scale, shift: shift, on: device) }
            case .int32:
                switch array.type {
                case .int32: return array.withUnsafeBytes { Tensor(int32Bytes: $0, shape: array.shape, on: device) }
                case .uint8, .int8: return Tensor(int32: array.int32s, shape: array.shape, on: device)
                case .float32: throw DatasetError.invalidConversion("float32 values cannot become an int32 tensor")
                }
            }
        }
    }
}
