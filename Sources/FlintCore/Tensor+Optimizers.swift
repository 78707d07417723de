import FlintBackend

extension Tensor {
    /// One fused Adam update of `parameter` (see `AdamStep`): returns the new parameter and
    /// moment tensors. Missing moments (the first step) start at zero. Records no graph.
    public static func adamStep(_ step: AdamStep, parameter: Tensor, gradient: Tensor, m: Tensor?, v: Tensor?)
        -> (parameter: Tensor, m: Tensor, v: Tensor) {
        for t in [gradient] + [m, v].compactMap({ $0 }) {
            ensure(t.shape == parameter.shape, "adamStep: shape \(t.shape) differs from the parameter's \(parameter.shape)")
            parameter.requireSameDevice(t, "adamStep")
        }
        parameter.requireFloat("adamStep")
        let device = parameter.device
        let inputs = [parameter, gradient, m ?? .zeros(parameter.shape, on: device), v ?? .zeros(parameter.shape, on: device)]
            .map { $0.atOrigin() }
        let outputs = (0..<3).map { _ in Tensor(uninitializedShape: parameter.shape, backend: parameter.backend) }
        if parameter.count > 0 {
            parameter.backend.adamStep(step, count: parameter.count, parameter: inputs[0].buffer, gradient: inputs[1].buffer,
                                       m: inputs[2].buffer, v: inputs[3].buffer, outParameter: outputs[0].buffer,
                                       outM: outputs[1].buffer, outV: outputs[2].buffer)
        }
        return (outputs[0], outputs[1], outputs[2])
    }

    /// This tensor's elements contiguous from element 0 of a buffer (a copy unless already so).
    func atOrigin() -> Tensor {
        if isContiguous && offset == 0 { return detached() }
        let result = Tensor(uninitializedShape: shape, dtype: dtype, backend: backend)
        guard count > 0 else { return result }
        let (dims, operands) = Shape.coalesce(shape: shape, strides: [strides, result.strides])
        backend.copy(StridedOperand(buffer: buffer, offset: offset, strides: operands[0]),
                     to: StridedOperand(buffer: result.buffer, offset: 0, strides: operands[1]), shape: dims)
        return result
    }
}
