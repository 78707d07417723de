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
        let adjoint = LSTMSequenceAdjoint(steps: steps, batch: batch, units: units, kernel: u.detached(), hidden: h0, cell: c0,
                                          states: states.detached(), gates: gates)
        func trailing(_ parts: [(region: GradRegion, gradient: Tensor)]) -> [Tensor?]? {
            adjoint.trailingSteps(parts).map { adjoint.gradients($0.gradient, start: $0.start) }
        }
        return states.recorded("lstmSequence", [projection, recurrentKernel, hidden, cell], regionBackward: trailing) {
            adjoint.gradients($0, start: 0)
        }
    }

    /// An LSTM's recurrence over a whole sequence with its input projection, as one op: the
    /// result of `lstmSequence(projection:…)` for the projection `input · inputKernel + bias`,
    /// which is never made (on the CPU each step's one product takes x_t and h_{t−1} together).
    /// `input` is time-major (`[steps, batch, features]`), `inputKernel` `[features, 4·units]`,
    /// `bias` `[4·units]` or nil. Differentiable in every input.
    public static func lstmSequence(input: Tensor, inputKernel: Tensor, bias: Tensor?, recurrentKernel: Tensor, hidden: Tensor,
                                    cell: Tensor) -> Tensor {
        let batch = hidden.shape.first ?? 0, units = hidden.shape.last ?? 0
        let steps = input.shape.first ?? 0, features = input.shape.last ?? 0
        let operands = [input, inputKernel, recurrentKernel, hidden, cell] + (bias.map { [$0] } ?? [])
        for t in operands.dropFirst() { input.requireSameDevice(t, "lstmSequence") }
        for t in operands { t.requireFloat("lstmSequence") }
        guard checkArgument(hidden.rank == 2 && cell.shape == hidden.shape && input.shape == [steps, batch, features]
                                && inputKernel.shape == [features, 4 * units] && recurrentKernel.shape == [units, 4 * units]
                                && (bias.map { $0.shape == [4 * units] } ?? true),
                            "lstmSequence: input \(input.shape) must be [steps, batch, features], inputKernel \(inputKernel.shape) "
                                + "[features, 4·units], recurrentKernel \(recurrentKernel.shape) [units, 4·units] and bias "
                                + "\(bias?.shape ?? []) [4·units] for states \(hidden.shape) and \(cell.shape)")
        else { return .placeholder([steps, batch, 2 * units], on: input.device) }
        let backend = input.backend
        let x = input.contiguous(), w = inputKernel.contiguous(), b = bias?.contiguous(), u = recurrentKernel.contiguous()
        let h0 = hidden.contiguous().detached(), c0 = cell.contiguous().detached()
        let states = Tensor(uninitializedShape: [steps, batch, 2 * units], backend: backend)
        let gates = Tensor(uninitializedShape: [steps, batch, 4 * units], backend: backend)
        backend.lstmSequence(steps: steps, batch: batch, units: units, features: features, input: x.buffer, inputOffset: x.offset,
                             inputKernel: w.buffer, inputKernelOffset: w.offset, bias: b.map { ($0.buffer, $0.offset) },
                             kernel: u.buffer, kernelOffset: u.offset, hidden: h0.operand(broadcastTo: h0.shape),
                             cell: c0.operand(broadcastTo: c0.shape), states: states.buffer, gates: gates.buffer)
        let adjoint = LSTMSequenceAdjoint(steps: steps, batch: batch, units: units, kernel: u.detached(), hidden: h0, cell: c0,
                                          states: states.detached(), gates: gates)
        // The projection's three gradients only where they are needed (not a model's first layer's
        // input, nor frozen weights).
        let (inputNeeds, kernelNeeds, biasNeeds) = (input.requiresGrad, inputKernel.requiresGrad, bias?.requiresGrad == true)
        let (xValue, wValue) = (x.detached(), w.detached())
        func gradients(_ gradient: Tensor, start: Int) -> [Tensor?] {
            let through = adjoint.gradients(gradient, start: start, input: xValue, projection: inputNeeds, bias: bias != nil)
            let dInput = through.projection.map {
                $0.reshaped(to: [steps * batch, 4 * units]).matmul(wValue, transposeOther: true).reshaped(to: [steps, batch, features])
            }
            let dBias: [Tensor?] = bias == nil ? [] : [biasNeeds ? through.bias : nil]
            return [dInput, kernelNeeds ? through.inputKernel : nil, through.kernel, through.hidden, through.cell] + dBias
        }
        func trailing(_ parts: [(region: GradRegion, gradient: Tensor)]) -> [Tensor?]? {
            adjoint.trailingSteps(parts).map { gradients($0.gradient, start: $0.start) }
        }
        return states.recorded("lstmSequence", operands, regionBackward: trailing) { gradients($0, start: 0) }
    }
}

/// What an LSTM sequence's backward needs, saved by its forward: the adjoint of
/// `Backend.lstmSequence` as gradients of the projection, the recurrent kernel and the states.
private struct LSTMSequenceAdjoint {
    let steps: Int, batch: Int, units: Int
    let kernel: Tensor, hidden: Tensor, cell: Tensor, states: Tensor, gates: Tensor

    /// The gradients of the projection, the kernel, and the initial hidden and cell states, from
    /// the gradient of steps start..<steps of the states (the earlier ones zero).
    func gradients(_ gradient: Tensor, start: Int) -> [Tensor?] {
        let backend = states.backend
        let dy = gradient.contiguous()
        let dProjection = Tensor(uninitializedShape: [steps, batch, 4 * units], backend: backend)
        let dKernel = Tensor(uninitializedShape: [units, 4 * units], backend: backend)
        let dHidden = Tensor(uninitializedShape: [batch, units], backend: backend)
        let dCell = Tensor(uninitializedShape: [batch, units], backend: backend)
        backend.lstmSequenceBackward(steps: steps, batch: batch, units: units, kernel: kernel.buffer, kernelOffset: kernel.offset,
                                     hidden: hidden.operand(broadcastTo: hidden.shape), cell: cell.operand(broadcastTo: cell.shape),
                                     states: states.buffer, gates: gates.buffer, gradient: dy.buffer, gradientOffset: dy.offset,
                                     gradientStart: start, outProjection: dProjection.buffer, outKernel: dKernel.buffer,
                                     outHidden: dHidden.buffer, outCell: dCell.buffer)
        return [dProjection, dKernel, dHidden, dCell]
    }

    /// The gradients of the input kernel, the bias (nil unless `bias`), the kernel and the
    /// initial states of `lstmSequence(input:…)` (whose input was `input`), and the projection's
    /// only where `projection` asks for it (for the input's gradient), from the gradient of steps
    /// start..<steps of the states (the earlier ones zero).
    func gradients(_ gradient: Tensor, start: Int, input: Tensor, projection: Bool, bias: Bool)
        -> (projection: Tensor?, inputKernel: Tensor, bias: Tensor?, kernel: Tensor, hidden: Tensor, cell: Tensor) {
        let backend = states.backend
        let dy = gradient.contiguous()
        let features = input.shape.last ?? 0
        let dProjection = projection ? Tensor(uninitializedShape: [steps, batch, 4 * units], backend: backend) : nil
        let dInputKernel = Tensor(uninitializedShape: [features, 4 * units], backend: backend)
        let dBias = bias ? Tensor(uninitializedShape: [4 * units], backend: backend) : nil
        let dKernel = Tensor(uninitializedShape: [units, 4 * units], backend: backend)
        let dHidden = Tensor(uninitializedShape: [batch, units], backend: backend)
        let dCell = Tensor(uninitializedShape: [batch, units], backend: backend)
        backend.lstmSequenceBackward(steps: steps, batch: batch, units: units, features: features, input: input.buffer,
                                     inputOffset: input.offset, kernel: kernel.buffer, kernelOffset: kernel.offset,
                                     hidden: hidden.operand(broadcastTo: hidden.shape), cell: cell.operand(broadcastTo: cell.shape),
                                     states: states.buffer, gates: gates.buffer, gradient: dy.buffer, gradientOffset: dy.offset,
                                     gradientStart: start, outProjection: dProjection?.buffer, outInputKernel: dInputKernel.buffer,
                                     outBias: dBias?.buffer, outKernel: dKernel.buffer, outHidden: dHidden.buffer, outCell: dCell.buffer)
        return (dProjection, dInputKernel, dBias, dKernel, dHidden, dCell)
    }

    /// An LSTM whose last state alone is used (selected, then sliced) passes back the gradient of
    /// its last step only: the earlier steps' zeros are neither written nor read (3.5 MB each way
    /// per training step of the LSTM benchmark). The gradient of trailing steps from the regions
    /// that arrived, with its first step, when they cover the last steps without a gap; else nil.
    func trailingSteps(_ parts: [(region: GradRegion, gradient: Tensor)]) -> (gradient: Tensor, start: Int)? {
        let sorted = parts.sorted { $0.region.start < $1.region.start }
        var next = sorted.first?.region.start ?? steps
        for (region, gradient) in sorted {
            guard region.axis == 0, region.start == next, gradient.shape.dropFirst() == [batch, 2 * units] else { return nil }
            next += gradient.shape[0]
        }
        guard next == steps, let first = sorted.first else { return nil }
        return (sorted.count == 1 ? first.gradient : Tensor.concatenate(sorted.map(\.gradient), axis: 0), first.region.start)
    }
}
