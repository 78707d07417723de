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
        return out.recorded("lstmCell", [input, recurrent, cell]) { [out] gradient in
            let gateGradient = Tensor(uninitializedShape: [batch, 4 * units], backend: backend)
            let cellGradient = Tensor(uninitializedShape: [batch, units], backend: backend)
            if gateGradient.count > 0 {
                backend.lstmCellBackward(batch: batch, units: units, gates: gates.buffer,
                                         cell: cellValue.operand(broadcastTo: cellValue.shape), out: out.buffer,
                                         gradient: gradient.operand(broadcastTo: gradient.shape),
                                         outGates: gateGradient.buffer, outCell: cellGradient.buffer)
            }
            return [gateGradient, gateGradient, cellGradient]
        }
    }
}
