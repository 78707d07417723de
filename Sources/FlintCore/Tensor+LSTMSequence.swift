import FlintBackend

extension Tensor {
    /// An LSTM's recurrence over a whole sequence as one op (one node forward, one backward):
    /// for each step t, `lstmCell(input: projection[t], recurrent: h_{t−1} · recurrentKernel,
    /// cell: c_{t−1})`, from `hidden` and `cell` (`[batch, units]`). `projection` is the input
    /// projection with its bias, time-major (`[steps, batch, 4·units]`, gates i, f, g, o), and
    /// `recurrentKernel` is `[units, 4·units]`. Returns every step's `[h_t | c_t]`
    /// (`[steps, batch, 2·units]`); slice it for the outputs and the final states.
    /// Differentiable in all four inputs. The backend runs the steps (`Backend.lstmSequence`), on
    /// the CPU without a barrier between them.
    public static func lstmSequence(projection: Tensor, recurrentKernel: Tensor, hidden: Tensor, cell: Tensor) -> Tensor {
        let batch = hidden.shape.first ?? 0, units = hidden.shape.last ?? 0
        let steps = projection.shape.first ?? 0
        for t in [recurrentKernel, hidden, cell] { projection.requireSameDevice(t, "lstmSequence") }
        for t in [projection, recurrentKernel, hidden, cell] { t.requireFloat("lstmSequence") }
        guard checkArgument(hidden.rank == 2 && cell.shape == hidden.shape && projection.shape == [steps, batch, 4 * units]
                                && recurrentKernel.shape == [units, 4 * units],
                            "lstmSequence: projection \(projection.shape) must be [steps, batch, 4·units] and recurrentKernel "
                                + "\(recurrentKernel.shape) [units, 4·units] for states \(hidden.shape) and \(cell.shape)")
        else { return .placeholder([steps, batch, 2 * units], on: projection.device) }
        let backend = projection.backend
        let x = projection.contiguous(), u = recurrentKernel.contiguous()
        let h0 = hidden.contiguous().detached(), c0 = cell.contiguous().detached()
        let states = Tensor(uninitializedShape: [steps, batch, 2 * units], backend: backend)
        let gates = Tensor(uninitializedShape: [steps, batch, 4 * units], backend: backend)
        backend.lstmSequence(steps: steps, batch: batch, units: units, projection: x.buffer, projectionOffset: x.offset,
                             kernel: u.buffer, kernelOffset: u.offset, hidden: h0.operand(broadcastTo: h0.shape),
                             cell: c0.operand(broadcastTo: c0.shape), states: states.buffer, gates: gates.buffer)
        let values = states.detached()
        // From the gradient of steps start..<steps of the states (earlier ones zero) to those of the inputs.
        func adjoint(_ gradient: Tensor, start: Int) -> [Tensor?] {
            let dy = gradient.contiguous()
            let dProjection = Tensor(uninitializedShape: [steps, batch, 4 * units], backend: backend)
            let dKernel = Tensor(uninitializedShape: [units, 4 * units], backend: backend)
            let dHidden = Tensor(uninitializedShape: [batch, units], backend: backend)
            let dCell = Tensor(uninitializedShape: [batch, units], backend: backend)
            backend.lstmSequenceBackward(steps: steps, batch: batch, units: units, kernel: u.buffer, kernelOffset: u.offset,
                                         hidden: h0.operand(broadcastTo: h0.shape), cell: c0.operand(broadcastTo: c0.shape),
                                         states: values.buffer, gates: gates.buffer, gradient: dy.buffer, gradientOffset: dy.offset,
                                         gradientStart: start, outProjection: dProjection.buffer, outKernel: dKernel.buffer,
                                         outHidden: dHidden.buffer, outCell: dCell.buffer)
            return [dProjection, dKernel, dHidden, dCell]
        }
        // An LSTM whose last state alone is used (selected, then sliced) passes back the gradient
        // of its last step only: the earlier steps' zeros are neither written nor read (3.5 MB
        // each way per training step of the LSTM benchmark).
        func trailingSteps(_ parts: [(region: GradRegion, gradient: Tensor)]) -> [Tensor?]? {
            let sorted = parts.sorted { $0.region.start < $1.region.start }
            var next = sorted.first?.region.start ?? steps
            for (region, gradient) in sorted {
                guard region.axis == 0, region.start == next, gradient.shape.dropFirst() == [batch, 2 * units] else { return nil }
                next += gradient.shape[0]
            }
            guard next == steps, let first = sorted.first else { return nil }
            let gradient = sorted.count == 1 ? first.gradient : Tensor.concatenate(sorted.map(\.gradient), axis: 0)
            return adjoint(gradient, start: first.region.start)
        }
        return states.recorded("lstmSequence", [projection, recurrentKernel, hidden, cell], regionBackward: trailingSteps) { gradient in
            adjoint(gradient, start: 0)
        }
    }
}
