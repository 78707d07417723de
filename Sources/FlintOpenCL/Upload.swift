import FlintBackend

extension OpenCLBackend {
    /// Writes the elements as stored (a quarter of the bytes for byte images) to a staging
    /// buffer and converts them on the device in one kernel. Safe from any thread: the write and
    /// the launch go to the one in-order queue, and the staging buffer returns to the pool only
    /// after the kernel that reads it is enqueued, so whatever reuses it is queued behind.
    public func upload(converting bytes: UnsafeRawBufferPointer, as type: HostScalar, scale: Float, shift: Float,
                       to out: any DeviceBuffer) {
        let count = bytes.count / type.byteCount
        guard count > 0 else { return }
        let output = clBuffer(out, "upload")
        checkRange(output, offset: 0, count: count, "upload")
        if type == .float32 && scale == 1 && shift == 0 {
            write(bytes, to: output, byteOffset: 0)
            return
        }
        let staging = pool.acquire(byteCount: count * type.byteCount)
        write(UnsafeRawBufferPointer(rebasing: bytes[0..<(count * type.byteCount)]), to: staging, byteOffset: 0)
        launchLinear(kernels.upload[type]!, count: count, [.buffer(staging), .int(count), .float(scale), .float(shift), .buffer(output)])
    }
}
