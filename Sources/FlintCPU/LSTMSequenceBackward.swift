import CGemm
import CVectorMath
import FlintBackend

// An LSTM layer's way back through time on the CPU, in the forward's bands of rows (see
// LSTMSequence.swift): each band runs every step on its own, against the kernel packed once.
// With the input projection's weights inside, each band also adds its rows' share of the weight
// gradients as it goes — [x_t | h_{t−1}]ᵀ · dz_t (both kernels in one product) while dz_t is in
// cache, and dz_t's column sums for the bias. The alternative, two products over the whole
// sequence after the steps and a pass for the bias, read the 7.3 MB projection gradient (the LSTM
// benchmark's) back from memory three times, the input kernel's product only 28 rows deep: about
// a third of the benchmark's training step. This way (and the forward cell in one pass) it trains
// 1.12× as fast (paired median of 10 rounds, the binaries' order alternated).

extension CPUBackend {
    /// Rows a band needs for its step-by-step weight gradients: below, each step's product is
    /// too shallow (16 rows deep: 250 against 400 GFLOP/s at 64 in a C harness on two Zen 5 cores),
    /// and the products over the whole sequence after the steps serve better.
    static let weightGradientBandRows = 16

    public func lstmSequenceBackward(steps: Int, batch: Int, units: Int, kernel: any DeviceBuffer, kernelOffset: Int,
                                     hidden: StridedOperand, cell: StridedOperand, states: any DeviceBuffer,
                                     gates: any DeviceBuffer, gradient: any DeviceBuffer, gradientOffset: Int, gradientStart: Int,
                                     outProjection: any DeviceBuffer, outKernel: any DeviceBuffer,
                                     outHidden: any DeviceBuffer, outCell: any DeviceBuffer) {
        guard steps > 0, units > 0, let bands = Self.sequenceBands(batch: batch), hidden.strides.last == 1,
              cell.strides.last == 1 else {
            return composedLSTMSequenceBackward(steps: steps, batch: batch, units: units, kernel: kernel, kernelOffset: kernelOffset,
                                                hidden: hidden, cell: cell, states: states, gates: gates, gradient: gradient,
                                                gradientOffset: gradientOffset, gradientStart: gradientStart, outProjection: outProjection,
                                                outKernel: outKernel, outHidden: outHidden, outCell: outCell)
        }
        let primitive: StaticString = "lstmSequenceBackward"
        let pass = SequenceBackward(self, primitive, steps: steps, batch: batch, units: units, kernel: kernel,
                                    kernelOffset: kernelOffset, hidden: hidden, cell: cell, states: states, gates: gates,
                                    gradient: gradient, gradientOffset: gradientOffset, gradientStart: gradientStart,
                                    outHidden: outHidden, outCell: outCell)
        let dz = cpuBuffer(outProjection, primitive)
        checkOutput(dz, count: steps * batch * 4 * units, primitive)
        checkOutput(cpuBuffer(outKernel, primitive), count: units * 4 * units, primitive)
        pass.run(bands: bands, projection: .whole(dz.floats), weights: nil)
        LSTMSequenceLayout(batch: batch, units: units)
            .kernelGradient(steps: steps, hidden: hidden, states: states, projectionGradient: outProjection, out: outKernel, on: self)
    }

    public func lstmSequenceBackward(steps: Int, batch: Int, units: Int, features: Int, input: any DeviceBuffer, inputOffset: Int,
                                     kernel: any DeviceBuffer, kernelOffset: Int, hidden: StridedOperand, cell: StridedOperand,
                                     states: any DeviceBuffer, gates: any DeviceBuffer, gradient: any DeviceBuffer,
                                     gradientOffset: Int, gradientStart: Int, outProjection: (any DeviceBuffer)?,
                                     outInputKernel: any DeviceBuffer, outBias: (any DeviceBuffer)?, outKernel: any DeviceBuffer,
                                     outHidden: any DeviceBuffer, outCell: any DeviceBuffer) {
        guard steps > 0, units > 0, features > 0, let bands = Self.sequenceBands(batch: batch),
              batch / bands >= Self.weightGradientBandRows, hidden.strides.last == 1, cell.strides.last == 1 else {
            return composedLSTMSequenceBackward(steps: steps, batch: batch, units: units, features: features, input: input,
                                                inputOffset: inputOffset, kernel: kernel, kernelOffset: kernelOffset, hidden: hidden,
                                                cell: cell, states: states, gates: gates, gradient: gradient,
                                                gradientOffset: gradientOffset, gradientStart: gradientStart,
                                                outProjection: outProjection, outInputKernel: outInputKernel, outBias: outBias,
                                                outKernel: outKernel, outHidden: outHidden, outCell: outCell)
        }
        let primitive: StaticString = "lstmSequenceBackward"
        let wide = 4 * units, depth = features + units
        let pass = SequenceBackward(self, primitive, steps: steps, batch: batch, units: units, kernel: kernel,
                                    kernelOffset: kernelOffset, hidden: hidden, cell: cell, states: states, gates: gates,
                                    gradient: gradient, gradientOffset: gradientOffset, gradientStart: gradientStart,
                                    outHidden: outHidden, outCell: outCell)
        let x = cpuBuffer(input, primitive)
        checkRange(x, offset: inputOffset, count: steps * batch * features, primitive, "input")
        let (dw, du) = (cpuBuffer(outInputKernel, primitive), cpuBuffer(outKernel, primitive))
        checkOutput(dw, count: features * wide, primitive)
        checkOutput(du, count: units * wide, primitive)
        let db = outBias.map { cpuBuffer($0, primitive) }
        if let db { checkOutput(db, count: wide, primitive) }
        // Per band: its rows [x_t | h_{t−1}] (two steps' where they pair up), its sums of both
        // kernels' gradients ([depth, wide], the input kernel's rows first) and of the bias's (in Double).
        let rowsPerBand = (batch + bands - 1) / bands
        let joined = cpuBuffer(allocate(byteCount: bands * 2 * rowsPerBand * depth * 4), primitive)
        let sums = cpuBuffer(allocate(byteCount: bands * depth * wide * 4), primitive)
        // The projection's gradient where it is wanted; else a ring of two steps per band.
        let dz = outProjection.map { cpuBuffer($0, primitive) }
        if let dz { checkOutput(dz, count: steps * batch * wide, primitive) }
        let ring = dz == nil ? cpuBuffer(allocate(byteCount: bands * 2 * rowsPerBand * wide * 4), primitive) : nil
        var biasSums = [Double](repeating: 0, count: db == nil ? 0 : bands * wide)
        withExtendedLifetime((ring, joined, sums)) {
            biasSums.withUnsafeMutableBufferPointer { biasSums in
                let weights = SequenceBackward.Weights(features: features, input: UnsafePointer(x.floats + inputOffset),
                                                       joined: joined.floats, rowsPerBand: rowsPerBand, sums: sums.floats,
                                                       biasSums: db == nil ? nil : biasSums.baseAddress)
                pass.run(bands: bands, projection: dz.map { .whole($0.floats) } ?? .ring(ring!.floats, rowsPerBand: rowsPerBand),
                         weights: weights)
            }
        }
        // The bands' sums, in band order.
        let (inputPart, kernelPart) = (features * wide, units * wide)
        dw.floats.update(from: sums.floats, count: inputPart)
        du.floats.update(from: sums.floats + inputPart, count: kernelPart)
        for band in 1..<bands {
            flint_accumulate(dw.floats, sums.floats + band * depth * wide, inputPart)
            flint_accumulate(du.floats, sums.floats + band * depth * wide + inputPart, kernelPart)
        }
        if let db {
            for j in 0..<wide { db.floats[j] = Float((0..<bands).reduce(0.0) { $0 + biasSums[$1 * wide + j] }) }
        }
    }
}

/// One way back through an LSTM sequence on the CPU: its operands checked, run in bands of rows.
private struct SequenceBackward {
    /// Where the projection's gradient goes: the whole sequence's (`[steps, batch, 4·units]`), or
    /// two steps' per band, `rowsPerBand` rows a step (step t in slot t mod 2: step t reads step
    /// t + 1's, and nothing reads it after), a band's two slots adjacent.
    enum Projection {
        case whole(UnsafeMutablePointer<Float>)
        case ring(UnsafeMutablePointer<Float>, rowsPerBand: Int)
    }

    /// The input projection's weight gradients, summed band by band as the steps go.
    struct Weights {
        let features: Int
        /// The sequence's input, `[steps, batch, features]`.
        let input: UnsafePointer<Float>
        /// Per band, two slots of `rowsPerBand` rows of `[x_t | h_{t−1}]`, as the projection's ring.
        let joined: UnsafeMutablePointer<Float>, rowsPerBand: Int
        /// Per band, `[features + units, 4·units]`: the input kernel's gradient, then the kernel's.
        let sums: UnsafeMutablePointer<Float>
        /// Per band, `4·units` column sums of dz (nil: no bias).
        let biasSums: UnsafeMutablePointer<Double>?
    }

    let inputs: SequenceOperands
    let steps: Int, batch: Int, units: Int
    let states: UnsafePointer<Float>, gates: UnsafePointer<Float>
    let gradient: UnsafePointer<Float>, gradientStart: Int
    let outHidden: UnsafeMutablePointer<Float>, outCell: UnsafeMutablePointer<Float>
    let backend: CPUBackend

    init(_ backend: CPUBackend, _ primitive: StaticString, steps: Int, batch: Int, units: Int, kernel: any DeviceBuffer,
         kernelOffset: Int, hidden: StridedOperand, cell: StridedOperand, states: any DeviceBuffer, gates: any DeviceBuffer,
         gradient: any DeviceBuffer, gradientOffset: Int, gradientStart: Int, outHidden: any DeviceBuffer,
         outCell: any DeviceBuffer) {
        let wide = 4 * units
        inputs = SequenceOperands(backend, primitive, steps: steps, batch: batch, units: units, kernel: kernel,
                                  kernelOffset: kernelOffset, hidden: hidden, cell: cell)
        let (saved, activated) = (backend.cpuBuffer(states, primitive), backend.cpuBuffer(gates, primitive))
        backend.checkRange(saved, offset: 0, count: steps * batch * 2 * units, primitive, "states")
        backend.checkRange(activated, offset: 0, count: steps * batch * wide, primitive, "gates")
        let upstream = backend.cpuBuffer(gradient, primitive)
        ensure(gradientStart >= 0 && gradientStart <= steps,
               "CPUBackend.lstmSequenceBackward: gradientStart \(gradientStart) is outside 0...\(steps)")
        backend.checkRange(upstream, offset: gradientOffset, count: (steps - gradientStart) * batch * 2 * units, primitive,
                           "gradient")
        let dh0 = backend.cpuBuffer(outHidden, primitive), dc0 = backend.cpuBuffer(outCell, primitive)
        backend.checkOutput(dh0, count: batch * units, primitive)
        backend.checkOutput(dc0, count: batch * units, primitive)
        (self.backend, self.steps, self.batch, self.units) = (backend, steps, batch, units)
        (self.states, self.gates) = (UnsafePointer(saved.floats), UnsafePointer(activated.floats))
        (self.gradient, self.gradientStart) = (UnsafePointer(upstream.floats + gradientOffset), gradientStart)
        (self.outHidden, self.outCell) = (dh0.floats, dc0.floats)
    }

    /// Back through every step, each band of rows on its own; then the initial states' gradients.
    func run(bands: Int, projection: Projection, weights: Weights?) {
        let (steps, batch, units, wide) = (steps, batch, units, 4 * units)
        let (s, g, dy, gradientStart) = (states, gates, gradient, gradientStart)
        // h's gradient is dz · kernelᵀ: the kernel packed transposed.
        let packed = inputs.packedKernel(transposed: true)
        // Per row: the gradients of h_t and c_t, and the c gradient its cell passes back.
        let running = backend.cpuBuffer(backend.allocate(byteCount: 3 * batch * units * 4), "lstmSequenceBackward")
        // Step t's own gradients, [h_t | c_t] per row; nil before gradientStart (zero).
        func own(_ t: Int, _ b: Int) -> UnsafePointer<Float>? {
            t >= gradientStart ? dy + ((t - gradientStart) * batch + b) * 2 * units : nil
        }
        // The projection gradient of a band's rows at step t.
        func dz(_ t: Int, _ band: Int, _ rows: Range<Int>) -> UnsafeMutablePointer<Float> {
            switch projection {
            case .whole(let d): d + (t * batch + rows.lowerBound) * wide
            case .ring(let d, let rowsPerBand): d + (2 * band * rowsPerBand + (t & 1) * rows.count) * wide
            }
        }
        let paired = if case .ring = projection { true } else { false }
        withExtendedLifetime((packed, running)) {
            Parallel.run(tasks: bands) { band in
                let rows = Parallel.range(band, of: bands, count: batch)
                let dh = running.floats, dc = dh + batch * units, carried = dc + batch * units
                let bandRows = dh + rows.lowerBound * units, bandCount = rows.count * units
                for t in (0..<steps).reversed() {
                    let stepHasGradient = t >= gradientStart
                    if stepHasGradient {
                        for b in rows { (dh + b * units).update(from: own(t, b)!, count: units) }
                    }
                    if t + 1 < steps {
                        // What reaches h_t through step t + 1's product (all of it before gradientStart).
                        flint_sgemm_packed(rows.count, units, wide, 1, dz(t + 1, band, rows), wide, 1,
                                           packed.floats, stepHasGradient ? 1 : 0, bandRows, units, nil)
                    } else if !stepHasGradient {
                        bandRows.update(repeating: 0, count: bandCount)
                    }
                    let previous = inputs.previous(t, states: s)
                    let d = dz(t, band, rows)
                    for b in rows {
                        let row = t * batch + b, cRow = dc + b * units, carriedRow = carried + b * units
                        // c_t's gradient: its own, plus what step t + 1's cell passed back.
                        switch (own(t, b).map { $0 + units }, t + 1 < steps) {
                        case let (own?, true): for j in 0..<units { cRow[j] = own[j] + carriedRow[j] }
                        case let (own?, false): cRow.update(from: own, count: units)
                        case (nil, true): cRow.update(from: carriedRow, count: units)
                        case (nil, false): cRow.update(repeating: 0, count: units)
                        }
                        flint_lstm_cell_backward_row(units, g + row * wide, previous.c + b * previous.cRow,
                                                     s + row * 2 * units + units, dh + b * units, cRow, d + (b - rows.lowerBound) * wide,
                                                     carriedRow)
                    }
                    weights?.add(band: band, rows: rows, step: t, previous: previous, dz: d, paired: paired, pass: self)
                }
                // The initial states' gradients: through step 0's product, and what its cell passed back.
                flint_sgemm_packed(rows.count, units, wide, 1, dz(0, band, rows), wide, 1, packed.floats, 0,
                                   outHidden + rows.lowerBound * units, units, nil)
                (outCell + rows.lowerBound * units).update(from: carried + rows.lowerBound * units, count: rows.count * units)
            }
        }
    }
}

extension SequenceBackward.Weights {
    /// Adds step t's share of the band's rows (`dz`, its projection gradient): dz_t's column sums
    /// to the bias's, and `[x_t | h_{t−1}]ᵀ · dz_t` to the kernels' sums (overwriting them the
    /// first time). `paired` (the projection in a ring): steps go in pairs, each pair's rows
    /// adjacent in both operands, so one product runs twice as deep and reads and writes the sums
    /// half as often.
    fileprivate func add(band: Int, rows: Range<Int>, step t: Int,
                         previous: (h: UnsafePointer<Float>, hRow: Int, c: UnsafePointer<Float>, cRow: Int),
                         dz: UnsafeMutablePointer<Float>, paired: Bool, pass: SequenceBackward) {
        let (batch, units, wide, steps) = (pass.batch, pass.units, 4 * pass.units, pass.steps)
        let depth = features + units
        let slot = paired ? t & 1 : 0
        let first = joined + 2 * band * rowsPerBand * depth, a = first + slot * rows.count * depth
        for (i, b) in rows.enumerated() {
            (a + i * depth).update(from: input + (t * batch + b) * features, count: features)
            (a + i * depth + features).update(from: previous.h + b * previous.hRow, count: units)
        }
        if let biasSums { flint_add_rows_double(dz, rows.count, wide, wide, biasSums + band * wide) }
        // Steps back so far (this one included); a pair is complete at every second, or at step 0.
        let done = steps - t
        guard !paired || done % 2 == 0 || t == 0 else { return }
        let count = paired && done % 2 == 0 ? 2 : 1
        // Slot 0 first: a pair's two slots, or step 0's alone (in slot 0).
        let (aStart, bStart) = paired ? (first, UnsafePointer(dz - slot * rows.count * wide)) : (a, UnsafePointer(dz))
        flint_sgemm(depth, wide, count * rows.count, 1, aStart, 1, depth, bStart, wide, 1, done <= count ? 0 : 1,
                    sums + band * depth * wide, wide, nil)
    }
}
