import FlintBackend

extension CPUBackend {
    /// Converts straight into the buffer in one pass (no float copy on the side), split across
    /// cores for large uploads. Product and sum are rounded separately, as the protocol says.
    public func upload(converting bytes: UnsafeRawBufferPointer, as type: HostScalar, scale: Float, shift: Float,
                       to out: any DeviceBuffer) {
        let count = bytes.count / type.byteCount
        let target = cpuBuffer(out, "upload")
        checkRange(target, offset: 0, count: count, "upload", "output")
        guard count > 0, let source = bytes.baseAddress else { return }
        let output = target.floats
        Parallel.forEachRange(count: count) { range in
            switch type {
            case .uint8: Self.convert(source.assumingMemoryBound(to: UInt8.self), range, scale, shift, output) { Float($0) }
            case .int8: Self.convert(source.assumingMemoryBound(to: Int8.self), range, scale, shift, output) { Float($0) }
            case .int32: Self.convert(source.assumingMemoryBound(to: Int32.self), range, scale, shift, output) { Float($0) }
            case .float32: Self.convert(source.assumingMemoryBound(to: Float.self), range, scale, shift, output) { $0 }
            }
        }
    }

    @inline(__always)
    private static func convert<T>(_ source: UnsafePointer<T>, _ range: Range<Int>, _ scale: Float, _ shift: Float,
                                   _ output: UnsafeMutablePointer<Float>, _ value: (T) -> Float) {
        for i in range {
            let product = value(source[i]) * scale
            output[i] = product + shift
        }
    }
}
