import FlintBackend

extension Tensor {
    /// What an op returns when its argument check failed inside `withError`: NaN (zero for
    /// int32) of the shape the op would have had, outside the graph, so the work after it runs
    /// on values nobody will read and the scope can throw when it ends.
    static func placeholder(_ shape: [Int], dtype: DType = .float32, on device: Device) -> Tensor {
        let shape = shape.map { Swift.max($0, 0) }
        return dtype == .float32 ? .full(shape, value: Float.nan, on: device) : .zeros(shape, dtype: dtype, on: device)
    }
}
