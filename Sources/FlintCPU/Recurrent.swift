import CVectorMath
import FlintBackend

extension CPUBackend {
    /// The LSTM step in one pass over each row: eight element-wise launches and their
    /// intermediates in forward, about twenty in backward, were most of a recurrent layer's time
    /// beside its products. Rows with unit column strides (what recurrent layers pass) go to
    /// the C loops of CVectorMath, which use AVX2 where the CPU has it.
    public func lstmCell(batch: Int, units: Int, input: StridedOperand, recurrent: StridedOperand, cell: StridedOperand,
                         out: any DeviceBuffer, gates: any DeviceBuffer) {
        guard batch > 0, units > 0 else { return }
        let wide = [batch, 4 * units], narrow = [batch, units]
        let x = cpuBuffer(input.buffer, "lstmCell"), r = cpuBuffer(recurrent.buffer, "lstmCell")
        let c = cpuBuffer(cell.buffer, "lstmCell")
        let output = cpuBuffer(out, "lstmCell"), activated = cpuBuffer(gates, "lstmCell")
        checkStrided(input, x, shape: wide, "lstmCell", "input")
        checkStrided(recurrent, r, shape: wide, "lstmCell", "recurrent")
        checkStrided(cell, c, shape: narrow, "lstmCell", "cell")
        checkOutput(output, count: 2 * batch * units, "lstmCell")
        checkOutput(activated, count: 4 * batch * units, "lstmCell")
        let (xs, rs, cs) = (UnsafePointer(x.floats), UnsafePointer(r.floats), UnsafePointer(c.floats))
        let (hc, act) = (output.floats, activated.floats)
        let unitStride = input.strides[1] == 1 && recurrent.strides[1] == 1 && cell.strides[1] == 1
        Self.forEachRow(batch: batch, units: units) { b in
            let xRow = xs + input.offset + b * input.strides[0], rRow = rs + recurrent.offset + b * recurrent.strides[0]
            let cRow = cs + cell.offset + b * cell.strides[0]
            let gateRow = act + b * 4 * units, hRow = hc + b * 2 * units
            if unitStride {
                flint_lstm_cell_row(units, xRow, rRow, cRow, gateRow, hRow)
                return
            }
            // Strided operands (a transposed view): the same operations in Swift.
            let (sx, sr, sc) = (input.strides[1], recurrent.strides[1], cell.strides[1])
            for k in 0..<(4 * units) {
                let z = xRow[k * sx] + rRow[k * sr]
                gateRow[k] = k / units == 2 ? FastMath.tanh(z) : FastMath.sigmoid(z)
            }
            for j in 0..<units {
                let newCell = gateRow[units + j] * cRow[j * sc] + gateRow[j] * gateRow[2 * units + j]
                hRow[units + j] = newCell
                hRow[j] = gateRow[3 * units + j] * FastMath.tanh(newCell)
            }
        }
    }

    public func lstmCellBackward(batch: Int, units: Int, gates: any DeviceBuffer, cell: StridedOperand, out: any DeviceBuffer,
                                 hGradient: StridedOperand, cGradient: StridedOperand,
                                 outGates: any DeviceBuffer, outCell: any DeviceBuffer) {
        guard batch > 0, units > 0 else { return }
        let activated = cpuBuffer(gates, "lstmCellBackward"), c = cpuBuffer(cell.buffer, "lstmCellBackward")
        let output = cpuBuffer(out, "lstmCellBackward")
        let upstreamH = cpuBuffer(hGradient.buffer, "lstmCellBackward"), upstreamC = cpuBuffer(cGradient.buffer, "lstmCellBackward")
        let gateGradient = cpuBuffer(outGates, "lstmCellBackward"), cellGradient = cpuBuffer(outCell, "lstmCellBackward")
        checkRange(activated, offset: 0, count: 4 * batch * units, "lstmCellBackward", "gates")
        checkRange(output, offset: 0, count: 2 * batch * units, "lstmCellBackward", "out")
        checkStrided(cell, c, shape: [batch, units], "lstmCellBackward", "cell")
        checkStrided(hGradient, upstreamH, shape: [batch, units], "lstmCellBackward", "hGradient")
        checkStrided(cGradient, upstreamC, shape: [batch, units], "lstmCellBackward", "cGradient")
        checkOutput(gateGradient, count: 4 * batch * units, "lstmCellBackward")
        checkOutput(cellGradient, count: batch * units, "lstmCellBackward")
        let (act, cs, hc) = (UnsafePointer(activated.floats), UnsafePointer(c.floats), UnsafePointer(output.floats))
        let (upH, upC) = (UnsafePointer(upstreamH.floats), UnsafePointer(upstreamC.floats))
        let (dz, dc) = (gateGradient.floats, cellGradient.floats)
        let unitStride = cell.strides[1] == 1 && hGradient.strides[1] == 1 && cGradient.strides[1] == 1
        Self.forEachRow(batch: batch, units: units) { b in
            let gateRow = act + b * 4 * units, newCellRow = hc + b * 2 * units + units
            let cRow = cs + cell.offset + b * cell.strides[0]
            let hgRow = upH + hGradient.offset + b * hGradient.strides[0], cgRow = upC + cGradient.offset + b * cGradient.strides[0]
            let dzRow = dz + b * 4 * units, dcRow = dc + b * units
            @inline(__always) func step(_ j: Int, _ sc: Int, _ sh: Int, _ sg: Int) {
                let i = gateRow[j], f = gateRow[units + j], g = gateRow[2 * units + j], o = gateRow[3 * units + j]
                let dh = hgRow[j * sh], dNewCell = cgRow[j * sg]
                let squashed = FastMath.tanh(newCellRow[j])
                let total = dNewCell + dh * o * (1 - squashed * squashed)
                dzRow[j] = total * g * (i * (1 - i))
                dzRow[units + j] = total * cRow[j * sc] * (f * (1 - f))
                dzRow[2 * units + j] = total * i * (1 - g * g)
                dzRow[3 * units + j] = dh * squashed * (o * (1 - o))
                dcRow[j] = total * f
            }
            if unitStride {
                flint_lstm_cell_backward_row(units, gateRow, cRow, newCellRow, hgRow, cgRow, dzRow, dcRow)
            } else {
                for j in 0..<units { step(j, cell.strides[1], hGradient.strides[1], cGradient.strides[1]) }
            }
        }
    }

    /// Runs `body(row)` for every row, rows split across cores when there are enough elements.
    private static func forEachRow(batch: Int, units: Int, _ body: (Int) -> Void) {
        // A unit costs five exponentials and a dozen more operations: weighed as 8 plain
        // elements, so a step at batch 128 × 128 units is split across cores.
        let work = batch * units * 8
        let tasks = Parallel.taskCount(forElements: work)
        Parallel.forEachTask(min(tasks, batch), work: work) { task in
            for b in Parallel.range(task, of: min(tasks, batch), count: batch) { body(b) }
        }
    }
}
