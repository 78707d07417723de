import FlintBackend

extension Tensor {
    /// A float32 tensor of `shape` from host elements stored as `type` (`bytes` holds exactly
    /// `shape`'s count of them), each becoming `x · scale + shift`. Byte images travel to the
    /// device as bytes and are cast, scaled and shifted there in one pass.
    public init(converting bytes: UnsafeRawBufferPointer, as type: HostScalar, shape: [Int], scale: Float = 1, shift: Float = 0,
                on device: Device = .current) {
        ensure(bytes.count == Shape.count(shape) * type.byteCount,
               "Tensor(converting:): \(bytes.count) bytes are not \(Shape.count(shape)) elements of \(type) for shape \(shape)")
        self.init(uninitializedShape: shape, dtype: .float32, backend: device.backend)
        if count > 0 { backend.upload(converting: bytes, as: type, scale: scale, shift: shift, to: buffer) }
    }

    /// An int32 tensor of `shape` from the bytes of host int32 values.
    public init(int32Bytes bytes: UnsafeRawBufferPointer, shape: [Int], on device: Device = .current) {
        ensure(bytes.count == Shape.count(shape) * 4, "Tensor(int32Bytes:): \(bytes.count) bytes do not hold shape \(shape)'s int32 values")
        self.init(uninitializedShape: shape, dtype: .int32, backend: device.backend)
        if count > 0 { backend.write(bytes, to: buffer, byteOffset: 0) }
    }

    /// The elements' bytes in host memory, with the object that keeps them alive, when the tensor
    /// is contiguous in host memory (on the CPU device): a dataset can read them where they are,
    /// without a copy. Nil on other devices. The bytes change if the storage is updated in place (as optimizer
    /// steps update parameters), which data tensors never are.
    public var hostBytes: (bytes: UnsafeRawBufferPointer, owner: AnyObject)? {
        guard isContiguous, let host = buffer as? any HostMemoryBuffer else { return nil }
        return (UnsafeRawBufferPointer(start: host.hostAddress + offset * dtype.byteCount, count: count * dtype.byteCount), host)
    }
}
