extension Backend {
    /// `lstmSequence` from `gemm`, `lstmCell` and `copy`, one step at a time: the default for
    /// backends without a fused version, and the reference the fused ones are tested against.
    public func composedLSTMSequence(steps: Int, batch: Int, units: Int, projection: any DeviceBuffer, projectionOffset: Int,
                                     kernel: any DeviceBuffer, kernelOffset: Int, hidden: StridedOperand, cell: StridedOperand,
                                     states: any DeviceBuffer, gates: any DeviceBuffer) {
        guard steps > 0, batch > 0, units > 0 else { return }
        let layout = LSTMSequenceLayout(batch: batch, units: units)
        let hidden = layout.readable(hidden, on: self)
        let z = scratch(layout.wideCount), stepStates = scratch(layout.stateCount), stepGates = scratch(layout.wideCount)
        for t in 0..<steps {
            let (h, c) = t == 0 ? (hidden, cell) : layout.state(states, t - 1)
            gemm(m: batch, n: layout.wide, k: units, batch: 1, alpha: 1, layout.matrix(h),
                 MatrixOperand(buffer: kernel, offset: kernelOffset, rowStride: layout.wide, colStride: 1, batchStride: 0),
                 beta: 0, layout.rows(z, 0, layout.wide))
            lstmCell(batch: batch, units: units,
                     input: StridedOperand(buffer: projection, offset: projectionOffset + t * layout.wideCount, strides: [layout.wide, 1]),
                     recurrent: StridedOperand(buffer: z, offset: 0, strides: [layout.wide, 1]), cell: c,
                     out: stepStates, gates: stepGates)
            layout.append(stepStates, to: states, at: t * layout.stateCount, count: layout.stateCount, on: self)
            layout.append(stepGates, to: gates, at: t * layout.wideCount, count: layout.wideCount, on: self)
        }
    }

    /// `lstmSequence` with its input projection inside, from `gemm` (the projection with its
    /// bias, made whole) and `lstmSequence`: the default, and the reference for fused versions.
    public func composedLSTMSequence(steps: Int, batch: Int, units: Int, features: Int, input: any DeviceBuffer,
                                     inputOffset: Int, inputKernel: any DeviceBuffer, inputKernelOffset: Int,
                                     bias: (buffer: any DeviceBuffer, offset: Int)?, kernel: any DeviceBuffer, kernelOffset: Int,
                                     hidden: StridedOperand, cell: StridedOperand, states: any DeviceBuffer, gates: any DeviceBuffer) {
        guard steps > 0, batch > 0, units > 0 else { return }
        let layout = LSTMSequenceLayout(batch: batch, units: units)
        let projection = scratch(steps * layout.wideCount)
        gemm(m: steps * batch, n: layout.wide, k: features, batch: 1, layout.rows(input, inputOffset, features),
             layout.rows(inputKernel, inputKernelOffset, layout.wide), layout.rows(projection, 0, layout.wide),
             epilogue: GemmEpilogue(bias: bias, activation: nil))
        lstmSequence(steps: steps, batch: batch, units: units, projection: projection, projectionOffset: 0, kernel: kernel,
                     kernelOffset: kernelOffset, hidden: hidden, cell: cell, states: states, gates: gates)
    }

    /// `lstmSequenceBackward` from `lstmCellBackward`, `gemm`, `binary` and `copy`, one step at
    /// a time back through time (see `composedLSTMSequence`).
    public func composedLSTMSequenceBackward(steps: Int, batch: Int, units: Int, kernel: any DeviceBuffer, kernelOffset: Int,
                                             hidden: StridedOperand, cell: StridedOperand, states: any DeviceBuffer,
                                             gates: any DeviceBuffer, gradient: any DeviceBuffer, gradientOffset: Int,
                                             gradientStart: Int = 0, outProjection: any DeviceBuffer, outKernel: any DeviceBuffer,
                                             outHidden: any DeviceBuffer, outCell: any DeviceBuffer) {
        guard units > 0 else { return }
        let layout = LSTMSequenceLayout(batch: batch, units: units)
        // No rows or no steps: nothing flows back, but the kernel's gradient is still a sum (of nothing).
        guard batch > 0, steps > 0 else {
            fill(outKernel, offset: 0, count: units * layout.wide, bits: 0)
            if batch > 0 {
                fill(outHidden, offset: 0, count: batch * units, bits: 0)
                fill(outCell, offset: 0, count: batch * units, bits: 0)
            }
            return
        }
        let hidden = layout.readable(hidden, on: self)
        let narrow = [batch, units]
        // The kernel read transposed: h's gradient is dz · kernelᵀ.
        let kernelTransposed = MatrixOperand(buffer: kernel, offset: kernelOffset, rowStride: 1, colStride: layout.wide, batchStride: 0)
        let hGradient = scratch(batch * units), cGradient = scratch(batch * units), carried = scratch(batch * units)
        let stepStates = scratch(layout.stateCount), stepGates = scratch(layout.wideCount), dz = scratch(layout.wideCount)
        // Step t's own gradient of h_t (half 0) or c_t (half 1); nil before `gradientStart` (zero).
        let upstream = { (t: Int, half: Int) -> StridedOperand? in
            guard t >= gradientStart else { return nil }
            return StridedOperand(buffer: gradient, offset: gradientOffset + (t - gradientStart) * layout.stateCount + half * units,
                                  strides: [2 * units, 1])
        }
        let contiguous = { (buffer: any DeviceBuffer) in StridedOperand(buffer: buffer, offset: 0, strides: [units, 1]) }
        for t in (0..<steps).reversed() {
            // h_t's gradient: its own, plus what reaches it through step t + 1's product.
            if let own = upstream(t, 0) {
                copy(own, to: contiguous(hGradient), shape: narrow)
            } else if t + 1 == steps {
                fill(hGradient, offset: 0, count: batch * units, bits: 0)
            }
            if t + 1 < steps {
                gemm(m: batch, n: units, k: layout.wide, batch: 1, alpha: 1,
                     layout.rows(outProjection, (t + 1) * layout.wideCount, layout.wide), kernelTransposed,
                     beta: upstream(t, 0) == nil ? 0 : 1, layout.rows(hGradient, 0, units))
                // c_t's gradient: its own, plus what step t + 1's cell passed back.
                if let own = upstream(t, 1) {
                    binary(.add, own, contiguous(carried), shape: narrow, out: cGradient)
                } else {
                    copy(contiguous(carried), to: contiguous(cGradient), shape: narrow)
                }
            } else if let own = upstream(t, 1) {
                copy(own, to: contiguous(cGradient), shape: narrow)
            } else {
                fill(cGradient, offset: 0, count: batch * units, bits: 0)
            }
            layout.append(states, at: t * layout.stateCount, to: stepStates, count: layout.stateCount, on: self)
            layout.append(gates, at: t * layout.wideCount, to: stepGates, count: layout.wideCount, on: self)
            lstmCellBackward(batch: batch, units: units, gates: stepGates, cell: t == 0 ? cell : layout.state(states, t - 1).c,
                             out: stepStates, hGradient: StridedOperand(buffer: hGradient, offset: 0, strides: [units, 1]),
                             cGradient: StridedOperand(buffer: cGradient, offset: 0, strides: [units, 1]),
                             outGates: dz, outCell: carried)
            layout.append(dz, to: outProjection, at: t * layout.wideCount, count: layout.wideCount, on: self)
        }
        // The initial states' gradients: through step 0's product, and what its cell passed back.
        gemm(m: batch, n: units, k: layout.wide, batch: 1, alpha: 1, layout.rows(outProjection, 0, layout.wide),
             kernelTransposed, beta: 0, layout.rows(outHidden, 0, units))
        copy(StridedOperand(buffer: carried, offset: 0, strides: [1]), to: StridedOperand(buffer: outCell, offset: 0, strides: [1]),
             shape: [batch * units])
        layout.kernelGradient(steps: steps, hidden: hidden, states: states, projectionGradient: outProjection, out: outKernel, on: self)
    }
}

extension Backend {
    /// `lstmSequenceBackward` with the input projection's weights, from `lstmSequenceBackward`
    /// (the projection's gradient made whole, in a scratch buffer where `outProjection` is nil),
    /// one product (`inputᵀ · dz` over every step at once) and `reduce` (the bias): the default,
    /// and the reference for fused versions.
    public func composedLSTMSequenceBackward(steps: Int, batch: Int, units: Int, features: Int, input: any DeviceBuffer,
                                             inputOffset: Int, kernel: any DeviceBuffer, kernelOffset: Int,
                                             hidden: StridedOperand, cell: StridedOperand, states: any DeviceBuffer,
                                             gates: any DeviceBuffer, gradient: any DeviceBuffer, gradientOffset: Int,
                                             gradientStart: Int = 0, outProjection: (any DeviceBuffer)?,
                                             outInputKernel: any DeviceBuffer, outBias: (any DeviceBuffer)?,
                                             outKernel: any DeviceBuffer, outHidden: any DeviceBuffer, outCell: any DeviceBuffer) {
        guard units > 0 else { return }
        let layout = LSTMSequenceLayout(batch: batch, units: units)
        let rows = steps * batch
        let dz = outProjection ?? scratch(rows * layout.wide)
        lstmSequenceBackward(steps: steps, batch: batch, units: units, kernel: kernel, kernelOffset: kernelOffset, hidden: hidden,
                             cell: cell, states: states, gates: gates, gradient: gradient, gradientOffset: gradientOffset,
                             gradientStart: gradientStart, outProjection: dz, outKernel: outKernel, outHidden: outHidden,
                             outCell: outCell)
        // No rows: both are sums of nothing (lstmSequenceBackward wrote no dz to read).
        guard rows > 0 else {
            fill(outInputKernel, offset: 0, count: features * layout.wide, bits: 0)
            if let outBias { fill(outBias, offset: 0, count: layout.wide, bits: 0) }
            return
        }
        gemm(m: features, n: layout.wide, k: rows, batch: 1, alpha: 1,
             MatrixOperand(buffer: input, offset: inputOffset, rowStride: 1, colStride: features, batchStride: 0),
             layout.rows(dz, 0, layout.wide), beta: 0, layout.rows(outInputKernel, 0, layout.wide))
        if let outBias { reduce(.sum, dz, offset: 0, layout: AxisLayout(outer: 1, length: rows, inner: layout.wide), out: outBias) }
    }
}

/// Where an LSTM sequence's rows live: `[steps, batch, 2·units]` states and `[steps, batch, 4·units]`
/// gates and projections, each step's block contiguous.
public struct LSTMSequenceLayout: Sendable {
    public let batch: Int, units: Int

    public init(batch: Int, units: Int) {
        (self.batch, self.units) = (batch, units)
    }

    public var wide: Int { 4 * units }
    /// Elements of one step's gates (or projection).
    public var wideCount: Int { batch * wide }
    /// Elements of one step's states.
    public var stateCount: Int { batch * 2 * units }

    /// Step t's h_t and c_t in `states`.
    public func state(_ states: any DeviceBuffer, _ t: Int) -> (h: StridedOperand, c: StridedOperand) {
        (StridedOperand(buffer: states, offset: t * stateCount, strides: [2 * units, 1]),
         StridedOperand(buffer: states, offset: t * stateCount + units, strides: [2 * units, 1]))
    }

    /// `[batch, units]` `state` as products can read it: itself when one of its strides is 1, else
    /// (a broadcast zero, say) a contiguous copy.
    public func readable<B: Backend>(_ state: StridedOperand, on backend: B) -> StridedOperand {
        guard state.strides[0] != 1 && state.strides[1] != 1 else { return state }
        let copy = backend.scratch(batch * units)
        backend.copy(state, to: StridedOperand(buffer: copy, offset: 0, strides: [units, 1]), shape: [batch, units])
        return StridedOperand(buffer: copy, offset: 0, strides: [units, 1])
    }

    /// A two-dimensional operand as a matrix.
    func matrix(_ operand: StridedOperand) -> MatrixOperand {
        MatrixOperand(buffer: operand.buffer, offset: operand.offset, rowStride: operand.strides[0],
                      colStride: operand.strides[1], batchStride: 0)
    }

    /// Row-major rows of `columns` from `offset`.
    func rows(_ buffer: any DeviceBuffer, _ offset: Int, _ columns: Int) -> MatrixOperand {
        MatrixOperand(buffer: buffer, offset: offset, rowStride: columns, colStride: 1, batchStride: 0)
    }

    /// Copies `count` elements of `source` (from 0) to `target` at `offset`.
    func append<B: Backend>(_ source: any DeviceBuffer, to target: any DeviceBuffer, at offset: Int, count: Int, on backend: B) {
        backend.copy(StridedOperand(buffer: source, offset: 0, strides: [1]),
                     to: StridedOperand(buffer: target, offset: offset, strides: [1]), shape: [count])
    }

    /// Copies `count` elements of `source` at `offset` to `target` (from 0).
    func append<B: Backend>(_ source: any DeviceBuffer, at offset: Int, to target: any DeviceBuffer, count: Int, on backend: B) {
        backend.copy(StridedOperand(buffer: source, offset: offset, strides: [1]),
                     to: StridedOperand(buffer: target, offset: 0, strides: [1]), shape: [count])
    }

    /// The kernel's gradient `Σ_t h_{t−1}ᵀ · dz_t` as two products on `backend`: h_{−1} = `hidden`
    /// with step 0's dz, then every later step at once (their h_{t−1} are the states' rows before).
    public func kernelGradient<B: Backend>(steps: Int, hidden: StridedOperand, states: any DeviceBuffer,
                                           projectionGradient: any DeviceBuffer, out: any DeviceBuffer, on backend: B) {
        let hidden = readable(hidden, on: backend)
        let first = MatrixOperand(buffer: hidden.buffer, offset: hidden.offset, rowStride: hidden.strides[1],
                                  colStride: hidden.strides[0], batchStride: 0)
        backend.gemm(m: units, n: wide, k: batch, batch: 1, alpha: 1, first, rows(projectionGradient, 0, wide),
                     beta: 0, rows(out, 0, wide))
        guard steps > 1 else { return }
        let later = MatrixOperand(buffer: states, offset: 0, rowStride: 1, colStride: 2 * units, batchStride: 0)
        backend.gemm(m: units, n: wide, k: (steps - 1) * batch, batch: 1, alpha: 1, later,
                     rows(projectionGradient, wideCount, wide), beta: 1, rows(out, 0, wide))
    }
}
