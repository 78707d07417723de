import FlintBackend

extension Tensor {
    /// One LSTM step with the standard activations, fused: gates in Keras' and PyTorch's order
    /// i, f, g, o along the columns of `input + recurrent` (each `[batch, 4·units]`: the step's
    /// input projection with bias, and `h·U`), `cell` the previous cell state `[batch, units]`.
    /// Returns `[h' | c']` (`[batch, 2·units]`), where `c' = σ(z_f)·c + σ(z_i)·tanh(z_g)` and
    /// `h' = σ(z_o)·tanh(c')`; slice it for the two states. Differentiable in all three inputs.
    public static func lstmCell(input: Tensor, recurrent: Tensor, cell: Tensor) -> Tensor {
        let batch = cell.shape.first ?? 0, units = cell.shape.last ?? 0
        for t in [recurrent, cell] { input.requireSameDevice(t, "lstmCell") }
        for t in [input, recurrent, cell] { t.requireFloat("lstmCell") }
        guard checkArgument(cell.rank == 2 && input.shape == [batch, 4 * units] && recurrent.shape == input.shape,
                            "lstmCell: input \(input.shape) and recurrent \(recurrent.shape) must be [batch, 4·units] for cell \(cell.shape)")
        else { return .placeholder([batch, 2 * units], on: input.device) }
        let backend = input.backend
        let out = Tensor(uninitializedShape: [batch, 2 * units], backend: backend)
        let gates = Tensor(uninitializedShape: [batch, 4 * units], backend: backend)
        if out.count > 0 {
            backend.lstmCell(batch: batch, units: units, input: input.operand(broadcastTo: input.shape),
                             recurrent: recurrent.operand(broadcastTo: recurrent.shape), cell: cell.operand(broadcastTo: cell.shape),
                             out: out.buffer, gates: gates.buffer)
        }
        let cellValue = cell.detached()
        // From the gradients of h' and c' (each [batch, units]) to those of the three inputs.
        func adjoint(_ hGradient: Tensor, _ cGradient: Tensor) -> [Tensor?] {
            let gateGradient = Tensor(uninitializedShape: [batch, 4 * units], backend: backend)
            let cellGradient = Tensor(uninitializedShape: [batch, units], backend: backend)
            if gateGradient.count > 0 {
                backend.lstmCellBackward(batch: batch, units: units, gates: gates.buffer,
                                         cell: cellValue.operand(broadcastTo: cellValue.shape), out: out.buffer,
                                         hGradient: hGradient.operand(broadcastTo: [batch, units]),
                                         cGradient: cGradient.operand(broadcastTo: [batch, units]),
                                         outGates: gateGradient.buffer, outCell: cellGradient.buffer)
            }
            return [gateGradient, gateGradient, cellGradient]
        }
        // An LSTM slices the result into its two states: their gradients go to the kernel as they
        // are (a missing one as a broadcast zero), not concatenated first.
        let device = input.device  // not `input` itself: the closure must not keep its storage alive
        func halves(_ parts: [(region: GradRegion, gradient: Tensor)]) -> [Tensor?]? {
            var h: Tensor?, c: Tensor?
            for (region, gradient) in parts {
                guard region.axis == 1, region.keepsAxis, gradient.shape == [batch, units] else { return nil }
                switch region.start {
                case 0 where h == nil: h = gradient
                case units where c == nil: c = gradient
                default: return nil
                }
            }
            let zero = Tensor.zeros([1, 1], on: device)
            return adjoint(h ?? zero, c ?? zero)
        }
        return out.recorded("lstmCell", [input, recurrent, cell], regionBackward: halves) { gradient in
            adjoint(gradient.slice(axis: 1, 0..<units), gradient.slice(axis: 1, units..<(2 * units)))
        }
    }
}
