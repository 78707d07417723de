import FlintBackend

extension OpenCLBackend {
    /// The LSTM step as one kernel (see `Kernels/recurrent.cl`).
    public func lstmCell(batch: Int, units: Int, input: StridedOperand, recurrent: StridedOperand, cell: StridedOperand,
                         out: any DeviceBuffer, gates: any DeviceBuffer) {
        guard batch > 0, units > 0 else { return }
        let operands = [(input, 4 * units), (recurrent, 4 * units), (cell, units)].map { operand, columns in
            matrixArguments(operand, rows: batch, columns: columns, "lstmCell")
        }
        let output = clBuffer(out, "lstmCell"), activated = clBuffer(gates, "lstmCell")
        checkRange(output, offset: 0, count: 2 * batch * units, "lstmCell")
        checkRange(activated, offset: 0, count: 4 * batch * units, "lstmCell")
        launch1D(kernels.lstmCell, items: batch * units,
                 [.int(batch), .int(units)] + operands.flatMap { $0 } + [.buffer(output), .buffer(activated)])
    }

    public func lstmCellBackward(batch: Int, units: Int, gates: any DeviceBuffer, cell: StridedOperand, out: any DeviceBuffer,
                                 hGradient: StridedOperand, cGradient: StridedOperand,
                                 outGates: any DeviceBuffer, outCell: any DeviceBuffer) {
        guard batch > 0, units > 0 else { return }
        let activated = clBuffer(gates, "lstmCellBackward"), output = clBuffer(out, "lstmCellBackward")
        let gateGradient = clBuffer(outGates, "lstmCellBackward"), cellGradient = clBuffer(outCell, "lstmCellBackward")
        checkRange(activated, offset: 0, count: 4 * batch * units, "lstmCellBackward")
        checkRange(output, offset: 0, count: 2 * batch * units, "lstmCellBackward")
        checkRange(gateGradient, offset: 0, count: 4 * batch * units, "lstmCellBackward")
        checkRange(cellGradient, offset: 0, count: batch * units, "lstmCellBackward")
        let cellArguments = matrixArguments(cell, rows: batch, columns: units, "lstmCellBackward")
        let gradientArguments = matrixArguments(hGradient, rows: batch, columns: units, "lstmCellBackward")
            + matrixArguments(cGradient, rows: batch, columns: units, "lstmCellBackward")
        launch1D(kernels.lstmCellBackward, items: batch * units,
                 [.int(batch), .int(units), .buffer(activated)] + cellArguments + [.buffer(output)] + gradientArguments
                     + [.buffer(gateGradient), .buffer(cellGradient)])
    }

    /// A two-dimensional operand as the kernels take it (buffer, offset, row stride, column
    /// stride), checked to lie inside its buffer.
    private func matrixArguments(_ operand: StridedOperand, rows: Int, columns: Int, _ op: StaticString) -> [KernelArg] {
        ensure(operand.strides.count == 2, "OpenCLBackend.\(op): operands are two-dimensional, got strides \(operand.strides)")
        let buffer = clBuffer(operand.buffer, op)
        checkOperand(buffer, offset: operand.offset, layout: MergedLayout(shape: [rows, columns], strides: [operand.strides]),
                     operand: 0, op)
        return [.buffer(buffer), .int(operand.offset), .int(operand.strides[0]), .int(operand.strides[1])]
    }
}
