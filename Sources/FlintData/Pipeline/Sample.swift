import FlintBackend
/// One sample: its inputs (one per model input) and its target (nil for models that need none),
/// each a `HostArray` of the sample's own shape, without a batch axis.
public struct Sample: Sendable {
    /// One array per model input, of the sample's own shape.
    public var inputs: [HostArray]
    /// What the model should output; nil for models that need none.
    public var target: HostArray?

    /// A sample of several inputs.
    ///
    /// - Parameters:
    ///   - inputs: One array per model input; at least one.
    ///   - target: The target, or nil.
    public init(inputs: [HostArray], target: HostArray? = nil) {
        ensure(!inputs.isEmpty, "Sample: a sample needs at least one input")
        self.inputs = inputs
        self.target = target
    }

    /// A sample of one input.
    ///
    /// - Parameters:
    ///   - input: The input array.
    ///   - target: The target, or nil.
    public init(_ input: HostArray, target: HostArray? = nil) {
        self.init(inputs: [input], target: target)
    }

    /// float32 features (of `shape`, else a vector) and a class index.
    public init(_ features: [Float], shape: [Int]? = nil, label: Int32) {
        self.init(HostArray(features, shape: shape), target: HostArray(label: label))
    }

    /// float32 features and float32 targets (regression), or none.
    public init(_ features: [Float], shape: [Int]? = nil, target: [Float]?) {
        self.init(HostArray(features, shape: shape), target: target.map { HostArray($0) })
    }

    /// The shapes, types and conversions of the sample's arrays.
    public var layout: SampleLayout {
        SampleLayout(inputs: inputs.map(ArrayLayout.init(sample:)), target: target.map(ArrayLayout.init(sample:)))
    }
}

/// Several samples: each array has the batch size in front of the sample's shape.
public struct HostBatch: Sendable {
    /// One array per model input, the samples along the first axis.
    public var inputs: [HostArray]
    /// The targets, the samples along the first axis; nil for models that need none.
    public var target: HostArray?

    /// Arrays that all hold the same number of rows, the samples.
    public init(inputs: [HostArray], target: HostArray? = nil) {
        ensure(!inputs.isEmpty, "HostBatch: a batch needs at least one input")
        let rows = inputs[0].shape.first ?? 0
        ensure((inputs + (target.map { [$0] } ?? [])).allSatisfy { !$0.shape.isEmpty && $0.shape[0] == rows },
                     "HostBatch: arrays of shapes \(inputs.map(\.shape)) and \(target?.shape ?? []) do not all hold \(rows) rows")
        self.inputs = inputs
        self.target = target
    }

    /// Samples of one layout stacked; a sample that differs from the first is an error naming it.
    public init(stacking samples: [Sample]) throws {
        guard let first = samples.first else { throw DatasetError.empty("cannot make a batch of no samples") }
        let layout = first.layout
        for (k, sample) in samples.enumerated() where !sample.layout.holdsSameArrays(as: layout) {
            throw DatasetError.inconsistentSample(position: k, expected: layout, found: sample.layout)
        }
        self.init(inputs: layout.inputs.indices.map { i in HostArray.stacking(samples.map { $0.inputs[i] }) },
                  target: first.target == nil ? nil : HostArray.stacking(samples.map { $0.target! }))
    }

    /// The number of samples.
    public var count: Int { inputs[0].shape[0] }

    /// The layout of one sample of the batch.
    public var layout: SampleLayout {
        SampleLayout(inputs: inputs.map(ArrayLayout.init(batch:)), target: target.map(ArrayLayout.init(batch:)))
    }

    /// Samples `range` of the batch, sharing its storage (a shard of a global batch, say).
    public func rows(_ range: Range<Int>) -> HostBatch {
        HostBatch(inputs: inputs.map { $0.rows(range) }, target: target?.rows(range))
    }
}

/// The element type, per-sample shape and tensor conversion of one array.
public struct ArrayLayout: Sendable, Hashable, CustomStringConvertible {
    /// How the elements are stored.
    public var type: ElementType
    /// The shape of one sample's array.
    public var shape: [Int]
    /// How the array becomes a tensor.
    public var conversion: TensorConversion

    /// A layout of the given type and shape.
    ///
    /// - Parameters:
    ///   - type: How the elements are stored.
    ///   - shape: One sample's shape.
    ///   - conversion: How the array becomes a tensor; the type's natural one when nil.
    public init(type: ElementType, shape: [Int], conversion: TensorConversion? = nil) {
        self.type = type
        self.shape = shape
        self.conversion = conversion ?? .natural(for: type)
    }

    init(sample array: HostArray) { self.init(type: array.type, shape: array.shape, conversion: array.conversion) }
    init(batch array: HostArray) { self.init(type: array.type, shape: Array(array.shape.dropFirst()), conversion: array.conversion) }

    /// Whether the array becomes an int32 tensor.
    public var isInt32: Bool { conversion == .int32 }

    /// The type and shape.
    public var description: String { "\(type) \(shape)" }
}

/// What every sample of a dataset looks like.
public struct SampleLayout: Sendable, Hashable, CustomStringConvertible {
    /// One layout per input.
    public var inputs: [ArrayLayout]
    /// The target's layout; nil for no target.
    public var target: ArrayLayout?

    /// A layout of the given arrays.
    ///
    /// - Parameters:
    ///   - inputs: One layout per input.
    ///   - target: The target's layout, or nil.
    public init(inputs: [ArrayLayout], target: ArrayLayout? = nil) {
        self.inputs = inputs
        self.target = target
    }

    /// Same number of inputs, same target presence, and every array of the same type and shape.
    func holdsSameArrays(as other: SampleLayout) -> Bool {
        func same(_ a: ArrayLayout, _ b: ArrayLayout) -> Bool { a.type == b.type && a.shape == b.shape }
        guard inputs.count == other.inputs.count, zip(inputs, other.inputs).allSatisfy(same) else { return false }
        switch (target, other.target) {
        case (nil, nil): return true
        case let (a?, b?): return same(a, b)
        default: return false
        }
    }

    /// The inputs and target, in one line.
    public var description: String {
        "inputs \(inputs.map(\.description).joined(separator: ", "))" + (target.map { ", target \($0)" } ?? ", no target")
    }
}
