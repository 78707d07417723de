import FlintBackend

extension OpenCLBackend {
    /// Adam in one kernel per parameter instead of a dozen element-wise launches.
    public func adamStep(_ step: AdamStep, count: Int, parameter: any DeviceBuffer, gradient: any DeviceBuffer,
                         m: any DeviceBuffer, v: any DeviceBuffer,
                         outParameter: any DeviceBuffer, outM: any DeviceBuffer, outV: any DeviceBuffer) {
        guard count > 0 else { return }
        let buffers = [parameter, gradient, m, v, outParameter, outM, outV].map { clBuffer($0, "adamStep") }
        for buffer in buffers { checkRange(buffer, offset: 0, count: count, "adamStep") }
        launchLinear(kernels.adamStep, count: count, [.int(count)] + buffers.map { .buffer($0) } + [
            .float(step.beta1), .float(step.beta2), .float(step.epsilon), .float(step.l2),
            .float(step.learningRate / step.correction1), .float(1 / step.correction2.squareRoot()),
            .float(1 - step.learningRate * step.decoupledDecay),
        ])
    }
}
