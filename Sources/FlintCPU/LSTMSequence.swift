import CGemm
import CVectorMath
import FlintBackend

// An LSTM layer's time steps on the CPU. Step by step, each step's product is split across cores
// and they meet at a barrier before the cell, and again after it: 28 steps made 170 barriers a
// training step, the recurrent kernel was packed again for every product, and the waits and copies
// around them took a fifth of the LSTM benchmark's time. Here the batch is cut into bands of
// rows, one per core, and each band runs every step on its own (a row's step t needs only the
// same row's step t − 1), against the kernel packed once for the whole sequence. The products
// and cells are FlintCPU's own, so the values are those of the step-by-step path.

extension CPUBackend {
    /// How many bands of rows a sequence of `batch` rows is cut into, or nil where the
    /// step-by-step default serves better: no blocked product on this CPU, or fewer than eight
    /// rows (batch-1 inference, whose matrix–vector products read the kernel directly).
    static func sequenceBands(batch: Int) -> Int? {
        guard BlockedGemm.enabled, batch >= 8 else { return nil }
        return min(Parallel.cores, batch / 8)
    }

    public func lstmSequence(steps: Int, batch: Int, units: Int, projection: any DeviceBuffer, projectionOffset: Int,
                             kernel: any DeviceBuffer, kernelOffset: Int, hidden: StridedOperand, cell: StridedOperand,
                             states: any DeviceBuffer, gates: any DeviceBuffer) {
        guard steps > 0, units > 0, let bands = Self.sequenceBands(batch: batch), hidden.strides.last == 1,
              cell.strides.last == 1 else {
            return composedLSTMSequence(steps: steps, batch: batch, units: units, projection: projection,
                                        projectionOffset: projectionOffset, kernel: kernel, kernelOffset: kernelOffset,
                                        hidden: hidden, cell: cell, states: states, gates: gates)
        }
        let wide = 4 * units
        let inputs = SequenceOperands(self, "lstmSequence", steps: steps, batch: batch, units: units, kernel: kernel,
                                      kernelOffset: kernelOffset, hidden: hidden, cell: cell)
        let source = cpuBuffer(projection, "lstmSequence")
        checkRange(source, offset: projectionOffset, count: steps * batch * wide, "lstmSequence", "projection")
        let (out, activated) = (cpuBuffer(states, "lstmSequence"), cpuBuffer(gates, "lstmSequence"))
        checkOutput(out, count: steps * batch * 2 * units, "lstmSequence")
        checkOutput(activated, count: steps * batch * wide, "lstmSequence")
        let packed = inputs.packedKernel(transposed: false)
        let products = cpuBuffer(allocate(byteCount: batch * wide * 4), "lstmSequence")
        let x = UnsafePointer(source.floats + projectionOffset), s = out.floats, g = activated.floats
        withExtendedLifetime((packed, products)) {
            Parallel.run(tasks: bands) { band in
                let rows = Parallel.range(band, of: bands, count: batch)
                let z = products.floats + rows.lowerBound * wide
                for t in 0..<steps {
                    let previous = inputs.previous(t, states: s)
                    // h_{t−1} · kernel for these rows, then their cells.
                    flint_sgemm_packed(rows.count, wide, units, 1, previous.h + rows.lowerBound * previous.hRow, previous.hRow, 1,
                                       packed.floats, 0, z, wide, nil)
                    for b in rows {
                        let row = t * batch + b
                        flint_lstm_cell_row(units, x + row * wide, z + (b - rows.lowerBound) * wide, previous.c + b * previous.cRow,
                                            g + row * wide, s + row * 2 * units)
                    }
                }
            }
        }
    }

    /// The input projection inside the steps: each band joins its rows of x_t and h_{t−1} side by
    /// side and multiplies them by the input and recurrent kernels stacked (packed once), the bias
    /// added as the product is stored. The projection of the whole sequence (7.3 MB for the LSTM
    /// benchmark's batch) is never written and read back, and its own product (K = features, a
    /// short one) is gone: one band's forward in a C harness of the benchmark's shapes, 2.3–2.8 →
    /// 1.9–2.2 ms.
    public func lstmSequence(steps: Int, batch: Int, units: Int, features: Int, input: any DeviceBuffer, inputOffset: Int,
                             inputKernel: any DeviceBuffer, inputKernelOffset: Int, bias: (buffer: any DeviceBuffer, offset: Int)?,
                             kernel: any DeviceBuffer, kernelOffset: Int, hidden: StridedOperand, cell: StridedOperand,
                             states: any DeviceBuffer, gates: any DeviceBuffer) {
        guard steps > 0, units > 0, features > 0, let bands = Self.sequenceBands(batch: batch), hidden.strides.last == 1,
              cell.strides.last == 1 else {
            return composedLSTMSequence(steps: steps, batch: batch, units: units, features: features, input: input,
                                        inputOffset: inputOffset, inputKernel: inputKernel, inputKernelOffset: inputKernelOffset,
                                        bias: bias, kernel: kernel, kernelOffset: kernelOffset, hidden: hidden, cell: cell,
                                        states: states, gates: gates)
        }
        let primitive: StaticString = "lstmSequence"
        let wide = 4 * units, depth = features + units
        let inputs = SequenceOperands(self, primitive, steps: steps, batch: batch, units: units, kernel: kernel,
                                      kernelOffset: kernelOffset, hidden: hidden, cell: cell)
        let x = cpuBuffer(input, primitive), w = cpuBuffer(inputKernel, primitive)
        checkRange(x, offset: inputOffset, count: steps * batch * features, primitive, "input")
        checkRange(w, offset: inputKernelOffset, count: features * wide, primitive, "inputKernel")
        let shift = bias.map { (cpuBuffer($0.buffer, primitive), $0.offset) }
        if let (buffer, offset) = shift { checkRange(buffer, offset: offset, count: wide, primitive, "bias") }
        let (out, activated) = (cpuBuffer(states, primitive), cpuBuffer(gates, primitive))
        checkOutput(out, count: steps * batch * 2 * units, primitive)
        checkOutput(activated, count: steps * batch * wide, primitive)
        // [inputKernel; kernel]: one product per step gives x_t · inputKernel + h_{t−1} · kernel.
        let stacked = cpuBuffer(allocate(byteCount: depth * wide * 4), primitive)
        stacked.floats.update(from: w.floats + inputKernelOffset, count: features * wide)
        (stacked.floats + features * wide).update(from: inputs.kernel, count: units * wide)
        let packed = cpuBuffer(allocate(byteCount: max(1, flint_sgemm_packed_size(depth, wide)) * 4), primitive)
        flint_sgemm_pack(depth, wide, stacked.floats, wide, 1, packed.floats)
        // Per row: [x_t | h_{t−1}], then the step's pre-activations.
        let joined = cpuBuffer(allocate(byteCount: batch * depth * 4), primitive)
        let products = cpuBuffer(allocate(byteCount: batch * wide * 4), primitive)
        let xs = UnsafePointer(x.floats + inputOffset), s = out.floats, g = activated.floats
        let epilogue = shift.map { flint_epilogue(bias: $0.0.floats + $0.1, activation: Int32(FLINT_ACTIVATION_NONE), slope: 0) }
        withExtendedLifetime((packed, joined, products, shift?.0)) {
            Parallel.run(tasks: bands) { band in
                let rows = Parallel.range(band, of: bands, count: batch)
                let a = joined.floats + rows.lowerBound * depth, z = products.floats + rows.lowerBound * wide
                for t in 0..<steps {
                    let previous = inputs.previous(t, states: s)
                    for (i, b) in rows.enumerated() {
                        (a + i * depth).update(from: xs + (t * batch + b) * features, count: features)
                        (a + i * depth + features).update(from: previous.h + b * previous.hRow, count: units)
                    }
                    let product = { (epilogue: UnsafePointer<flint_epilogue>?) in
                        flint_sgemm_packed(rows.count, wide, depth, 1, a, depth, 1, packed.floats, 0, z, wide, epilogue)
                    }
                    if let epilogue { withUnsafePointer(to: epilogue) { product($0) } } else { product(nil) }
                    for b in rows {
                        let row = t * batch + b
                        flint_lstm_cell_row_summed(units, z + (b - rows.lowerBound) * wide, previous.c + b * previous.cRow,
                                                   g + row * wide, s + row * 2 * units)
                    }
                }
            }
        }
    }
}

/// The kernel and initial states of an LSTM sequence on the CPU, checked.
struct SequenceOperands {
    let backend: CPUBackend
    let batch: Int, units: Int
    let kernel: UnsafePointer<Float>
    let hidden: UnsafePointer<Float>, hiddenRow: Int
    let cell: UnsafePointer<Float>, cellRow: Int

    init(_ backend: CPUBackend, _ primitive: StaticString, steps: Int, batch: Int, units: Int, kernel: any DeviceBuffer,
         kernelOffset: Int, hidden: StridedOperand, cell: StridedOperand) {
        self.backend = backend
        (self.batch, self.units) = (batch, units)
        let weights = backend.cpuBuffer(kernel, primitive)
        backend.checkRange(weights, offset: kernelOffset, count: units * 4 * units, primitive, "kernel")
        let h = backend.cpuBuffer(hidden.buffer, primitive), c = backend.cpuBuffer(cell.buffer, primitive)
        backend.checkStrided(hidden, h, shape: [batch, units], primitive, "hidden")
        backend.checkStrided(cell, c, shape: [batch, units], primitive, "cell")
        self.kernel = UnsafePointer(weights.floats + kernelOffset)
        (self.hidden, hiddenRow) = (UnsafePointer(h.floats + hidden.offset), hidden.strides[0])
        (self.cell, cellRow) = (UnsafePointer(c.floats + cell.offset), cell.strides[0])
    }

    /// h_{t−1} and c_{t−1}, each with its row stride: the initial states, or step t − 1's.
    func previous(_ t: Int, states: UnsafePointer<Float>) -> (h: UnsafePointer<Float>, hRow: Int, c: UnsafePointer<Float>, cRow: Int) {
        guard t > 0 else { return (hidden, hiddenRow, cell, cellRow) }
        let step = states + (t - 1) * batch * 2 * units
        return (step, 2 * units, step + units, 2 * units)
    }

    /// The kernel (`[units, 4·units]`) packed for `flint_sgemm_packed`, or its transpose.
    func packedKernel(transposed: Bool) -> CPUBuffer {
        let wide = 4 * units
        let (k, n) = transposed ? (wide, units) : (units, wide)
        let packed = backend.cpuBuffer(backend.allocate(byteCount: max(1, flint_sgemm_packed_size(k, n)) * 4), "lstmSequence")
        flint_sgemm_pack(k, n, kernel, transposed ? 1 : wide, transposed ? wide : 1, packed.floats)
        return packed
    }
}
