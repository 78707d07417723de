import FlintBackend
/// An n-dimensional array on the host, kept in its stored type (bytes stay bytes), with the
/// conversion that turns it into a tensor when its batch is made. A sample's array has the
/// sample's shape; a batch's has the batch size in front. Slicing rows shares the storage.
public struct HostArray: Sendable {
    /// How the elements are stored.
    public let type: ElementType
    /// The dimensions.
    public let shape: [Int]
    /// How the array becomes a tensor (float32 scaled and shifted, or int32).
    public var conversion: TensorConversion
    let storage: HostStorage
    let byteOffset: Int

    /// The elements of `shape` stored as `type` in `storage`, from `byteOffset`.
    public init(storage: HostStorage, type: ElementType, shape: [Int], byteOffset: Int = 0, conversion: TensorConversion? = nil) {
        ensure(shape.allSatisfy { $0 >= 0 }, "HostArray: negative dimension in \(shape)")
        let bytes = shape.reduce(1, *) * type.byteCount
        ensure(byteOffset >= 0 && byteOffset + bytes <= storage.count,
                     "HostArray: \(shape) of \(type) from byte \(byteOffset) does not fit in \(storage.count) bytes")
        self.storage = storage
        self.type = type
        self.shape = shape
        self.byteOffset = byteOffset
        self.conversion = conversion ?? .natural(for: type)
    }

    /// float32 values in row-major order.
    public init(_ values: [Float], shape: [Int]? = nil) {
        self.init(values, type: .float32, shape: shape)
    }

    /// Bytes (pixels, say) in row-major order; they become float32 values unless converted otherwise.
    public init(uint8 values: [UInt8], shape: [Int]? = nil) {
        self.init(values, type: .uint8, shape: shape)
    }

    /// Signed bytes in row-major order.
    public init(int8 values: [Int8], shape: [Int]? = nil) {
        self.init(values, type: .int8, shape: shape)
    }

    /// int32 values (class indices) in row-major order; they become an int32 tensor.
    public init(int32 values: [Int32], shape: [Int]? = nil) {
        self.init(values, type: .int32, shape: shape)
    }

    /// One class index, of shape `[]`.
    public init(label: Int32) {
        self.init(int32: [label], shape: [])
    }

    private init<Element>(_ values: [Element], type: ElementType, shape: [Int]?) {
        let shape = shape ?? [values.count]
        ensure(shape.reduce(1, *) == values.count, "HostArray: \(values.count) values do not fill shape \(shape)")
        self.init(storage: HostStorage(copying: values), type: type, shape: shape)
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// The bytes the elements take.
    public var byteCount: Int { count * type.byteCount }

    /// The array's bytes, valid inside `body`.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(rebasing: storage.bytes[byteOffset..<(byteOffset + byteCount)]))
    }

    /// The same elements under another shape of the same element count (no copy).
    public func reshaped(_ newShape: [Int]) -> HostArray {
        ensure(newShape.reduce(1, *) == count, "HostArray.reshaped: \(shape) has \(count) elements, \(newShape) needs \(newShape.reduce(1, *))")
        return HostArray(storage: storage, type: type, shape: newShape, byteOffset: byteOffset, conversion: conversion)
    }

    /// The same array converted differently.
    public func converted(_ conversion: TensorConversion) -> HostArray {
        var copy = self
        copy.conversion = conversion
        return copy
    }

    // MARK: Rows (the first axis)

    /// Bytes of one row (one sample of a batch-major array).
    var rowBytes: Int { shape.dropFirst().reduce(1, *) * type.byteCount }

    /// Rows `range` as a view sharing the storage.
    public func rows(_ range: Range<Int>) -> HostArray {
        ensure(!shape.isEmpty && range.lowerBound >= 0 && range.upperBound <= shape[0],
                     "HostArray.rows: \(range) outside the \(shape.first ?? 0) rows of \(shape)")
        return HostArray(storage: storage, type: type, shape: [range.count] + shape.dropFirst(),
                         byteOffset: byteOffset + range.lowerBound * rowBytes, conversion: conversion)
    }

    /// Row `index` without the first axis (a sample of a batch-major array), sharing the storage.
    public func row(_ index: Int) -> HostArray {
        rows(index..<(index + 1)).reshaped(Array(shape.dropFirst()))
    }

    /// The rows at `indices`, in that order, copied into a new contiguous array.
    public func gathering(rows indices: [Int]) -> HostArray {
        let width = rowBytes
        let storage = HostStorage(byteCount: indices.count * width) { target in
            withUnsafeBytes { source in
                guard width > 0, let from = source.baseAddress, let to = target.baseAddress else { return }
                for (k, i) in indices.enumerated() {
                    ensure(i >= 0 && i < shape[0], "HostArray.gathering: row \(i) outside 0..<\(shape[0])")
                    (to + k * width).copyMemory(from: from + i * width, byteCount: width)
                }
            }
        }
        return HostArray(storage: storage, type: type, shape: [indices.count] + shape.dropFirst(), conversion: conversion)
    }

    /// Arrays of one shape and type stacked along a new first axis.
    public static func stacking(_ arrays: [HostArray]) -> HostArray {
        ensure(!arrays.isEmpty, "HostArray.stacking: nothing to stack")
        let first = arrays[0], width = first.byteCount
        let storage = HostStorage(byteCount: arrays.count * width) { target in
            for (k, array) in arrays.enumerated() {
                ensure(array.shape == first.shape && array.type == first.type,
                             "HostArray.stacking: \(array.type) \(array.shape) among \(first.type) \(first.shape)")
                array.withUnsafeBytes { if width > 0 { (target.baseAddress! + k * width).copyMemory(from: $0.baseAddress!, byteCount: width) } }
            }
        }
        return HostArray(storage: storage, type: first.type, shape: [arrays.count] + first.shape, conversion: first.conversion)
    }

    // MARK: Reading values

    /// The elements as Float, as stored (the conversion is not applied).
    public var floats: [Float] {
        withUnsafeBytes { bytes in
            switch type {
            case .uint8: bytes.map(Float.init)
            case .int8: bytes.map { Float(Int8(bitPattern: $0)) }
            case .int32: (0..<count).map { Float(bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
            case .float32: (0..<count).map { bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
            }
        }
    }

    /// The elements as Int32 (integer types only).
    public var int32s: [Int32] {
        ensure(type.isInteger, "HostArray.int32s: the array holds \(type)")
        return withUnsafeBytes { bytes in
            switch type {
            case .uint8: bytes.map(Int32.init)
            case .int8: bytes.map { Int32(Int8(bitPattern: $0)) }
            default: (0..<count).map { bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self) }
            }
        }
    }
}
