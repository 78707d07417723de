import FlintBackend

/// An n-dimensional array on a device. Storage is an opaque backend buffer; shape, strides
/// and offset live here, so views (reshape, transpose, slice, broadcast) never copy.
///
/// Tensors are values: ops return new tensors and never modify their inputs.
public struct Tensor: @unchecked Sendable {
    /// The size of each axis, outermost first; `[]` for a scalar.
    public let shape: [Int]
    /// Element strides per axis; 0 marks a broadcast axis.
    public let strides: [Int]
    /// Element offset of the first element within `buffer`.
    public let offset: Int
    /// The element type: `float32`, or `int32` for class indices.
    public let dtype: DType
    let buffer: any DeviceBuffer
    let backend: any Backend
    /// Where this tensor sits in the autograd graph; nil when no gradient flows to it.
    let node: GradNode?

    init(buffer: any DeviceBuffer, backend: any Backend, shape: [Int], strides: [Int]? = nil, offset: Int = 0,
         dtype: DType, node: GradNode? = nil) {
        ensure(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        self.buffer = buffer
        self.backend = backend
        self.shape = shape
        self.strides = strides ?? Shape.contiguousStrides(shape)
        self.offset = offset
        self.dtype = dtype
        self.node = node
    }

    /// A new tensor with uninitialised contents.
    init(uninitializedShape shape: [Int], dtype: DType = .float32, backend: any Backend) {
        let count = Shape.checkedCount(shape)
        ensure(count.map { $0 < Int(Int32.max) } ?? false, "Tensor: shape \(shape) exceeds the 2^31 elements of one tensor")
        let bytes = Swift.max(count!, 1) * dtype.byteCount
        ensure(bytes <= backend.maxAllocationBytes,
               "Tensor: shape \(shape) needs \(bytes) bytes in one buffer, but \(backend.info.identifier) (\(backend.info.name)) "
                   + "allows at most \(backend.maxAllocationBytes); use a smaller batch or model "
                   + "(Device.checkAllocation(shape:) reports this as an error)")
        self.init(buffer: backend.allocate(byteCount: bytes),
                  backend: backend, shape: shape, dtype: dtype)
    }

    /// The device the elements live on, where every op on this tensor runs.
    public var device: Device { Device(info: backend.info) }
    /// The number of axes.
    public var rank: Int { shape.count }
    /// The number of elements.
    public var count: Int { Shape.count(shape) }
    /// Whether some axis has size 0.
    public var isEmpty: Bool { count == 0 }

    /// True when elements are laid out row-major without gaps (size-1 axes ignored).
    public var isContiguous: Bool {
        let expected = Shape.contiguousStrides(shape)
        return shape.indices.allSatisfy { shape[$0] == 1 || strides[$0] == expected[$0] }
    }

    /// This tensor as a strided operand aligned to `target` (broadcasting as needed).
    func operand(broadcastTo target: [Int]) -> StridedOperand {
        StridedOperand(buffer: buffer, offset: offset,
                       strides: Shape.broadcastStrides(shape: shape, strides: strides, to: target))
    }

    func requireFloat(_ op: String) {
        ensure(dtype == .float32, "\(op): expects a float32 tensor, got \(dtype); convert with .cast(to: .float32)")
    }

    func requireSameDevice(_ other: Tensor, _ op: String) {
        ensure(backend === other.backend,
                     "\(op): tensors are on \(device) and \(other.device); move one with .to(_:)")
    }
}

extension Tensor: CustomStringConvertible {
    /// The shape, dtype, device and up to 64 elements (read back from the device).
    public var description: String {
        let values: [String]
        switch dtype {
        case .float32: values = toArray().prefix(64).map { "\($0)" }
        case .int32: values = toInt32Array().prefix(64).map { "\($0)" }
        }
        let more = count > 64 ? ", …" : ""
        return "Tensor(shape: \(shape), dtype: \(dtype), device: \(device), [\(values.joined(separator: ", "))\(more)])"
    }
}
