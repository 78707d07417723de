extension Backend {
    /// `lstmCell` from element-wise primitives: the default for backends without a fused kernel,
    /// and the reference the fused ones are tested against.
    public func composedLSTMCell(batch: Int, units: Int, input: StridedOperand, recurrent: StridedOperand,
                                 cell: StridedOperand, out: any DeviceBuffer, gates: any DeviceBuffer) {
        guard batch > 0, units > 0 else { return }
        let cells = LSTMCellScratch(backend: self, batch: batch, units: units)
        let z = scratch(batch * 4 * units), squashed = scratch(batch * 4 * units), candidates = scratch(batch * 4 * units)
        binary(.add, input, recurrent, shape: cells.wide, out: z)
        unary(.sigmoid, cells.all(z), shape: cells.wide, out: squashed)
        unary(.tanh, cells.all(z), shape: cells.wide, out: candidates)
        for (k, source) in [squashed, squashed, candidates, squashed].enumerated() {
            copy(cells.gate(source, k), to: cells.gate(gates, k), shape: cells.narrow)
        }
        let (i, f, g, o) = (cells.gate(gates, 0), cells.gate(gates, 1), cells.gate(gates, 2), cells.gate(gates, 3))
        let newCell = cells.add(cells.mul(f, cell), cells.mul(i, g))
        let newHidden = cells.mul(o, cells.apply(.tanh, newCell))
        copy(newHidden, to: cells.half(out, 0), shape: cells.narrow)
        copy(newCell, to: cells.half(out, 1), shape: cells.narrow)
    }

    /// `lstmCellBackward` from element-wise primitives (see `composedLSTMCell`).
    public func composedLSTMCellBackward(batch: Int, units: Int, gates: any DeviceBuffer, cell: StridedOperand,
                                         out: any DeviceBuffer, hGradient: StridedOperand, cGradient: StridedOperand,
                                         outGates: any DeviceBuffer, outCell: any DeviceBuffer) {
        guard batch > 0, units > 0 else { return }
        let cells = LSTMCellScratch(backend: self, batch: batch, units: units)
        let (i, f, g, o) = (cells.gate(gates, 0), cells.gate(gates, 1), cells.gate(gates, 2), cells.gate(gates, 3))
        let squashedCell = cells.apply(.tanh, cells.half(out, 1))
        // The cell's total gradient: its own plus what reaches it through h' = o·tanh(c').
        let throughHidden = cells.mul(cells.mul(hGradient, o), cells.apply(.affine(scale: -1, shift: 1), cells.apply(.square, squashedCell)))
        let total = cells.add(cGradient, throughHidden)
        // σ' = σ(1 − σ), tanh' = 1 − tanh².
        func sigmoidSlope(_ s: StridedOperand) -> StridedOperand { cells.mul(s, cells.apply(.affine(scale: -1, shift: 1), s)) }
        let gradients = [
            cells.mul(cells.mul(total, g), sigmoidSlope(i)),
            cells.mul(cells.mul(total, cell), sigmoidSlope(f)),
            cells.mul(cells.mul(total, i), cells.apply(.affine(scale: -1, shift: 1), cells.apply(.square, g))),
            cells.mul(cells.mul(hGradient, squashedCell), sigmoidSlope(o)),
        ]
        for (k, gate) in gradients.enumerated() { copy(gate, to: cells.gate(outGates, k), shape: cells.narrow) }
        binary(.mul, total, f, shape: cells.narrow, out: outCell)
    }
}

/// Views and `[batch, units]` scratch results for the composed LSTM cell.
private struct LSTMCellScratch<B: Backend> {
    let backend: B
    let batch: Int
    let units: Int

    var wide: [Int] { [batch, 4 * units] }
    var narrow: [Int] { [batch, units] }

    /// All of a contiguous `[batch, 4·units]` buffer.
    func all(_ buffer: any DeviceBuffer) -> StridedOperand { StridedOperand(buffer, 0, [4 * units, 1]) }
    /// Gate `k`'s columns of a contiguous `[batch, 4·units]` buffer.
    func gate(_ buffer: any DeviceBuffer, _ k: Int) -> StridedOperand { StridedOperand(buffer, k * units, [4 * units, 1]) }
    /// Half `k` (0: h, 1: c) of a contiguous `[batch, 2·units]` buffer.
    func half(_ buffer: any DeviceBuffer, _ k: Int) -> StridedOperand { StridedOperand(buffer, k * units, [2 * units, 1]) }

    func apply(_ op: UnaryOp, _ x: StridedOperand) -> StridedOperand {
        let result = backend.scratch(batch * units)
        backend.unary(op, x, shape: narrow, out: result)
        return StridedOperand(result, 0, [units, 1])
    }

    func combine(_ op: BinaryOp, _ a: StridedOperand, _ b: StridedOperand) -> StridedOperand {
        let result = backend.scratch(batch * units)
        backend.binary(op, a, b, shape: narrow, out: result)
        return StridedOperand(result, 0, [units, 1])
    }

    func mul(_ a: StridedOperand, _ b: StridedOperand) -> StridedOperand { combine(.mul, a, b) }
    func add(_ a: StridedOperand, _ b: StridedOperand) -> StridedOperand { combine(.add, a, b) }
}
