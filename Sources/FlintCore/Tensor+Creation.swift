import FlintBackend

extension Tensor {
    /// A float32 tensor holding `values` in row-major order.
    public init(_ values: [Float], shape: [Int], on device: Device = .current) {
        self.init(bits: values, shape: shape, dtype: .float32, device: device, op: "Tensor(_:shape:)")
    }

    /// An int32 tensor (labels, indices) holding `values` in row-major order.
    public init(int32 values: [Int32], shape: [Int], on device: Device = .current) {
        self.init(bits: values, shape: shape, dtype: .int32, device: device, op: "Tensor(int32:shape:)")
    }

    /// A 1-D float32 tensor.
    public init(_ values: [Float], on device: Device = .current) {
        self.init(values, shape: [values.count], on: device)
    }

    /// A rank-0 float32 tensor.
    public init(scalar value: Float, on device: Device = .current) {
        self = Tensor.filled([], bits: value.bitPattern, dtype: .float32, device: device)
    }

    private init<T>(bits values: [T], shape: [Int], dtype: DType, device: Device, op: String) {
        ensure(Shape.count(shape) == values.count,
                     "\(op): \(values.count) values do not fill shape \(shape) (\(Shape.count(shape)) elements)")
        self.init(uninitializedShape: shape, dtype: dtype, backend: device.backend)
        if !values.isEmpty {
            values.withUnsafeBytes { backend.write($0, to: buffer, byteOffset: 0) }
        }
    }

    /// A tensor of zeros, filled on the device.
    ///
    /// - Parameters:
    ///   - shape: The dimensions.
    ///   - dtype: `float32` (the default) or `int32`.
    ///   - device: Where the tensor lives; the current device by default.
    public static func zeros(_ shape: [Int], dtype: DType = .float32, on device: Device = .current) -> Tensor {
        filled(shape, bits: 0, dtype: dtype, device: device)
    }

    /// A float32 tensor of ones, filled on the device.
    ///
    /// - Parameters:
    ///   - shape: The dimensions.
    ///   - device: Where the tensor lives; the current device by default.
    public static func ones(_ shape: [Int], on device: Device = .current) -> Tensor {
        full(shape, value: Float(1), on: device)
    }

    /// A float32 tensor with every element `value`, filled on the device.
    ///
    /// - Parameters:
    ///   - shape: The dimensions.
    ///   - value: The element value.
    ///   - device: Where the tensor lives; the current device by default.
    public static func full(_ shape: [Int], value: Float, on device: Device = .current) -> Tensor {
        filled(shape, bits: value.bitPattern, dtype: .float32, device: device)
    }

    /// An int32 tensor with every element `value`, filled on the device.
    ///
    /// - Parameters:
    ///   - shape: The dimensions.
    ///   - value: The element value.
    ///   - device: Where the tensor lives; the current device by default.
    public static func full(_ shape: [Int], value: Int32, on device: Device = .current) -> Tensor {
        filled(shape, bits: UInt32(bitPattern: value), dtype: .int32, device: device)
    }

    static func filled(_ shape: [Int], bits: UInt32, dtype: DType, device: Device) -> Tensor {
        let result = Tensor(uninitializedShape: shape, dtype: dtype, backend: device.backend)
        if result.count > 0 {
            result.backend.fill(result.buffer, offset: 0, count: result.count, bits: bits)
        }
        return result
    }

    /// `start, start + step, …` up to but excluding `end` (float32, 1-D).
    public static func arange(_ start: Float = 0, _ end: Float, step: Float = 1, on device: Device = .current) -> Tensor {
        ensure(step != 0, "arange: step must not be zero")
        let count = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor((0..<count).map { start + Float($0) * step }, shape: [count], on: device)
    }

    /// Uniform values in `[low, high)` from the Philox stream of `seed`: the same numbers on every device.
    public static func uniform(
        _ shape: [Int], low: Float = 0, high: Float = 1, seed: UInt64, on device: Device = .current
    ) -> Tensor {
        random(shape, .uniform(low: low, high: high), generator: RandomGenerator(seed: seed), device: device)
    }

    /// Normally distributed values from the Philox stream of `seed`: the same numbers on every device.
    public static func normal(
        _ shape: [Int], mean: Float = 0, standardDeviation: Float = 1, seed: UInt64, on device: Device = .current
    ) -> Tensor {
        random(shape, .normal(mean: mean, standardDeviation: standardDeviation),
               generator: RandomGenerator(seed: seed), device: device)
    }

    /// Uniform values drawn from `generator`, which advances so the next draw differs.
    public static func uniform(
        _ shape: [Int], low: Float = 0, high: Float = 1, generator: RandomGenerator, on device: Device = .current
    ) -> Tensor {
        random(shape, .uniform(low: low, high: high), generator: generator, device: device)
    }

    /// Normal values drawn from `generator`, which advances so the next draw differs.
    public static func normal(
        _ shape: [Int], mean: Float = 0, standardDeviation: Float = 1, generator: RandomGenerator,
        on device: Device = .current
    ) -> Tensor {
        random(shape, .normal(mean: mean, standardDeviation: standardDeviation), generator: generator, device: device)
    }

    static func random(_ shape: [Int], _ distribution: RandomDistribution, generator: RandomGenerator, device: Device) -> Tensor {
        let result = Tensor(uninitializedShape: shape, backend: device.backend)
        guard result.count > 0 else { return result }
        let counter = generator.reserve(blocks: (result.count + 3) / 4)
        result.backend.random(result.buffer, count: result.count, distribution: distribution,
                              seed: generator.seed, counterOffset: counter)
        return result
    }
}

extension Tensor {
    /// The elements in row-major order (float32 tensors). Waits for pending work.
    public func toArray() -> [Float] {
        ensure(dtype == .float32, "toArray: tensor is \(dtype); use toInt32Array()")
        return readElements(as: Float.self)
    }

    /// The elements in row-major order (int32 tensors). Waits for pending work.
    public func toInt32Array() -> [Int32] {
        ensure(dtype == .int32, "toInt32Array: tensor is \(dtype); use toArray()")
        return readElements(as: Int32.self)
    }

    /// The single value of a one-element float32 tensor.
    public func item() -> Float {
        ensure(count == 1, "item: tensor of shape \(shape) has \(count) elements, not 1")
        return toArray()[0]
    }

    private func readElements<T>(as: T.Type) -> [T] {
        guard count > 0 else { return [] }
        let source = contiguous()
        return [T](unsafeUninitializedCapacity: count) { storage, initialized in
            source.backend.read(source.buffer, byteOffset: source.offset * 4,
                                into: UnsafeMutableRawBufferPointer(storage))
            initialized = count
        }
    }

    /// This tensor on `device` (itself when already there).
    public func to(_ device: Device) -> Tensor {
        let target = device.backend
        if target === backend { return self }
        let source = contiguous()
        let result = Tensor(uninitializedShape: shape, dtype: dtype, backend: target)
        guard count > 0 else { return result }
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: count * 4, alignment: 64)
        defer { bytes.deallocate() }
        source.backend.read(source.buffer, byteOffset: source.offset * 4, into: bytes)
        target.write(UnsafeRawBufferPointer(bytes), to: result.buffer, byteOffset: 0)
        let origin = self.device
        return result.recorded("to", [self]) { g in [g.to(origin)] }
    }

    /// Converts between float32 and int32 (float to int truncates toward zero).
    public func cast(to type: DType) -> Tensor {
        if type == dtype { return self }
        let source = contiguous()
        let result = Tensor(uninitializedShape: shape, dtype: type, backend: backend)
        if count > 0 {
            backend.cast(source.buffer, offset: source.offset, count: count, from: dtype, to: type, out: result.buffer)
        }
        return result
    }
}
