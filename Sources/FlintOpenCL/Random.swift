import FlintBackend

extension OpenCLBackend {
    public func random(
        _ out: any DeviceBuffer, count: Int, distribution: RandomDistribution, seed: UInt64, counterOffset: UInt64
    ) {
        guard count > 0 else { return }
        let output = clBuffer(out, "random")
        checkRange(output, offset: 0, count: count, "random")
        let kernel: Kernel
        let p0: Float
        let p1: Float
        switch distribution {
        case .uniform(let low, let high): (kernel, p0, p1) = (kernels.randomUniform, low, high)
        case .normal(let mean, let deviation): (kernel, p0, p1) = (kernels.randomNormal, mean, deviation)
        }
        // Each work-item computes `randomBlocks` Philox blocks of four elements.
        let perItem = 4 * tuning.randomBlocks
        launch1D(kernel, items: (count + perItem - 1) / perItem, [
            .buffer(output), .int(count),
            .uint(UInt32(truncatingIfNeeded: seed)), .uint(UInt32(truncatingIfNeeded: seed >> 32)),
            .uint(UInt32(truncatingIfNeeded: counterOffset)), .uint(UInt32(truncatingIfNeeded: counterOffset >> 32)),
            .float(p0), .float(p1),
        ])
    }
}
