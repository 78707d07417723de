import FlintBackend

/// A device backend that came up in part (an OpenCL program failed to build on an odd driver),
/// with the primitives it cannot run done by a host backend instead: every buffer the
/// primitive touches is read back, the host computes, and the buffers it writes are written
/// to the device again. Slow, but the device keeps working and gives the host's results.
/// Everything else goes straight to the device backend.
final class HostFallbackBackend: Backend, @unchecked Sendable {
    let device: any Backend
    let host: any Backend
    let unavailable: Set<Primitive>

    init(device: any Backend, host: any Backend, unavailable: Set<Primitive>) {
        self.device = device
        self.host = host
        self.unavailable = unavailable
    }

    var info: DeviceInfo { device.info }
    var memoryStatistics: MemoryStatistics { device.memoryStatistics }
    var maxAllocationBytes: Int { device.maxAllocationBytes }
    var diagnostics: BackendDiagnostics { device.diagnostics }

    func allocate(byteCount: Int) -> any DeviceBuffer { device.allocate(byteCount: byteCount) }
    func write(_ bytes: UnsafeRawBufferPointer, to buffer: any DeviceBuffer, byteOffset: Int) {
        device.write(bytes, to: buffer, byteOffset: byteOffset)
    }
    func read(_ buffer: any DeviceBuffer, byteOffset: Int, into bytes: UnsafeMutableRawBufferPointer) {
        device.read(buffer, byteOffset: byteOffset, into: bytes)
    }
    func synchronize() { device.synchronize() }

    // MARK: Host round trips

    /// Host copies of device buffers, found by identity (an output may alias an input).
    struct HostCopies {
        var buffers: [ObjectIdentifier: (device: any DeviceBuffer, host: any DeviceBuffer)] = [:]

        subscript(_ buffer: any DeviceBuffer) -> any DeviceBuffer { buffers[ObjectIdentifier(buffer)]!.host }
        func callAsFunction(_ operand: StridedOperand) -> StridedOperand {
            StridedOperand(buffer: self[operand.buffer], offset: operand.offset, strides: operand.strides)
        }
        func callAsFunction(_ operand: MatrixOperand) -> MatrixOperand {
            MatrixOperand(buffer: self[operand.buffer], offset: operand.offset, rowStride: operand.rowStride,
                          colStride: operand.colStride, batchStride: operand.batchStride)
        }
    }

    /// Runs `body` on host copies of `buffers`, then writes `outputs` back to the device. Every
    /// buffer is read first, outputs included: some primitives keep or accumulate into them.
    private func onHost(_ buffers: [any DeviceBuffer], writing outputs: [any DeviceBuffer], _ body: (HostCopies) -> Void) {
        var copies = HostCopies()
        for buffer in buffers + outputs where copies.buffers[ObjectIdentifier(buffer)] == nil {
            let mirror = host.allocate(byteCount: buffer.byteCount)
            var bytes = [UInt8](repeating: 0, count: buffer.byteCount)
            bytes.withUnsafeMutableBytes { device.read(buffer, byteOffset: 0, into: $0) }
            bytes.withUnsafeBytes { host.write($0, to: mirror, byteOffset: 0) }
            copies.buffers[ObjectIdentifier(buffer)] = (buffer, mirror)
        }
        body(copies)
        for output in outputs {
            var bytes = [UInt8](repeating: 0, count: output.byteCount)
            bytes.withUnsafeMutableBytes { host.read(copies[output], byteOffset: 0, into: $0) }
            bytes.withUnsafeBytes { device.write($0, to: output, byteOffset: 0) }
        }
    }

    // MARK: Primitives: the device's own, or the host's

    func copy(_ src: StridedOperand, to dst: StridedOperand, shape: [Int]) {
        guard unavailable.contains(.copy) else { return device.copy(src, to: dst, shape: shape) }
        onHost([src.buffer], writing: [dst.buffer]) { h in host.copy(h(src), to: h(dst), shape: shape) }
    }

    func fill(_ buffer: any DeviceBuffer, offset: Int, count: Int, bits: UInt32) {
        guard unavailable.contains(.fill) else { return device.fill(buffer, offset: offset, count: count, bits: bits) }
        onHost([], writing: [buffer]) { h in host.fill(h[buffer], offset: offset, count: count, bits: bits) }
    }

    func cast(_ src: any DeviceBuffer, offset: Int, count: Int, from: DType, to: DType, out: any DeviceBuffer) {
        guard unavailable.contains(.cast) else { return device.cast(src, offset: offset, count: count, from: from, to: to, out: out) }
        onHost([src], writing: [out]) { h in host.cast(h[src], offset: offset, count: count, from: from, to: to, out: h[out]) }
    }

    func unary(_ op: UnaryOp, _ x: StridedOperand, shape: [Int], out: any DeviceBuffer) {
        guard unavailable.contains(.unary) else { return device.unary(op, x, shape: shape, out: out) }
        onHost([x.buffer], writing: [out]) { h in host.unary(op, h(x), shape: shape, out: h[out]) }
    }

    func binary(_ op: BinaryOp, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], out: any DeviceBuffer) {
        guard unavailable.contains(.binary) else { return device.binary(op, a, b, shape: shape, out: out) }
        onHost([a.buffer, b.buffer], writing: [out]) { h in host.binary(op, h(a), h(b), shape: shape, out: h[out]) }
    }

    func binary(_ op: BinaryOp, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], then activation: UnaryOp,
                out: any DeviceBuffer) {
        guard unavailable.contains(.binary) || unavailable.contains(.unary) else {
            return device.binary(op, a, b, shape: shape, then: activation, out: out)
        }
        onHost([a.buffer, b.buffer], writing: [out]) { h in host.binary(op, h(a), h(b), shape: shape, then: activation, out: h[out]) }
    }

    func select(_ condition: StridedOperand, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], out: any DeviceBuffer) {
        guard unavailable.contains(.select) else { return device.select(condition, a, b, shape: shape, out: out) }
        onHost([condition.buffer, a.buffer, b.buffer], writing: [out]) { h in
            host.select(h(condition), h(a), h(b), shape: shape, out: h[out])
        }
    }

    func reduce(_ op: ReduceOp, _ x: any DeviceBuffer, offset: Int, layout: AxisLayout, out: any DeviceBuffer) {
        guard unavailable.contains(.reduce) else { return device.reduce(op, x, offset: offset, layout: layout, out: out) }
        onHost([x], writing: [out]) { h in host.reduce(op, h[x], offset: offset, layout: layout, out: h[out]) }
    }

    func argmax(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, out: any DeviceBuffer) {
        guard unavailable.contains(.argmax) else { return device.argmax(x, offset: offset, layout: layout, out: out) }
        onHost([x], writing: [out]) { h in host.argmax(h[x], offset: offset, layout: layout, out: h[out]) }
    }

    func softmax(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, log: Bool, out: any DeviceBuffer) {
        guard unavailable.contains(.softmax) else { return device.softmax(x, offset: offset, layout: layout, log: log, out: out) }
        onHost([x], writing: [out]) { h in host.softmax(h[x], offset: offset, layout: layout, log: log, out: h[out]) }
    }

    func gather(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, indices: any DeviceBuffer, indicesOffset: Int,
                indexLength: Int, out: any DeviceBuffer) {
        guard unavailable.contains(.gather) else {
            return device.gather(x, offset: offset, layout: layout, indices: indices, indicesOffset: indicesOffset,
                                 indexLength: indexLength, out: out)
        }
        onHost([x, indices], writing: [out]) { h in
            host.gather(h[x], offset: offset, layout: layout, indices: h[indices], indicesOffset: indicesOffset,
                        indexLength: indexLength, out: h[out])
        }
    }

    func scatterAdd(_ src: any DeviceBuffer, srcOffset: Int, indices: any DeviceBuffer, indicesOffset: Int, indexLength: Int,
                    layout: AxisLayout, out: any DeviceBuffer) {
        guard unavailable.contains(.scatterAdd) else {
            return device.scatterAdd(src, srcOffset: srcOffset, indices: indices, indicesOffset: indicesOffset,
                                     indexLength: indexLength, layout: layout, out: out)
        }
        onHost([src, indices], writing: [out]) { h in
            host.scatterAdd(h[src], srcOffset: srcOffset, indices: h[indices], indicesOffset: indicesOffset,
                            indexLength: indexLength, layout: layout, out: h[out])
        }
    }

    func gemm(m: Int, n: Int, k: Int, batch: Int, alpha: Float, _ a: MatrixOperand, _ b: MatrixOperand, beta: Float,
              _ c: MatrixOperand) {
        guard unavailable.contains(.gemm) else {
            return device.gemm(m: m, n: n, k: k, batch: batch, alpha: alpha, a, b, beta: beta, c)
        }
        onHost([a.buffer, b.buffer], writing: [c.buffer]) { h in
            host.gemm(m: m, n: n, k: k, batch: batch, alpha: alpha, h(a), h(b), beta: beta, h(c))
        }
    }

    func gemm(m: Int, n: Int, k: Int, batch: Int, _ a: MatrixOperand, _ b: MatrixOperand, _ c: MatrixOperand,
              epilogue: GemmEpilogue) {
        // The device's own fused form where it has every primitive the composition would use.
        guard unavailable.isDisjoint(with: [.gemm, .binary, .unary, .copy]) else {
            return composedGemm(m: m, n: n, k: k, batch: batch, a, b, c, epilogue: epilogue)
        }
        device.gemm(m: m, n: n, k: k, batch: batch, a, b, c, epilogue: epilogue)
    }

    func im2col(_ input: any DeviceBuffer, offset: Int, geometry: ConvGeometry, padValue: Float, out: any DeviceBuffer) {
        guard unavailable.contains(.im2col) else {
            return device.im2col(input, offset: offset, geometry: geometry, padValue: padValue, out: out)
        }
        onHost([input], writing: [out]) { h in host.im2col(h[input], offset: offset, geometry: geometry, padValue: padValue, out: h[out]) }
    }

    func col2im(_ columns: any DeviceBuffer, offset: Int, geometry: ConvGeometry, out: any DeviceBuffer) {
        guard unavailable.contains(.col2im) else { return device.col2im(columns, offset: offset, geometry: geometry, out: out) }
        onHost([columns], writing: [out]) { h in host.col2im(h[columns], offset: offset, geometry: geometry, out: h[out]) }
    }

    func maxPool2d(_ input: any DeviceBuffer, offset: Int, geometry: ConvGeometry, out: any DeviceBuffer, taps: any DeviceBuffer) {
        guard unavailable.contains(.maxPool2d) else {
            return device.maxPool2d(input, offset: offset, geometry: geometry, out: out, taps: taps)
        }
        onHost([input], writing: [out, taps]) { h in host.maxPool2d(h[input], offset: offset, geometry: geometry, out: h[out], taps: h[taps]) }
    }

    func maxPool2dBackward(_ gradient: any DeviceBuffer, offset: Int, taps: any DeviceBuffer, geometry: ConvGeometry,
                           out: any DeviceBuffer) {
        guard unavailable.contains(.maxPool2dBackward) else {
            return device.maxPool2dBackward(gradient, offset: offset, taps: taps, geometry: geometry, out: out)
        }
        onHost([gradient, taps], writing: [out]) { h in
            host.maxPool2dBackward(h[gradient], offset: offset, taps: h[taps], geometry: geometry, out: h[out])
        }
    }

    func adamStep(_ step: AdamStep, count: Int, parameter: any DeviceBuffer, gradient: any DeviceBuffer, m: any DeviceBuffer,
                  v: any DeviceBuffer, outParameter: any DeviceBuffer, outM: any DeviceBuffer, outV: any DeviceBuffer) {
        guard unavailable.contains(.adamStep) else {
            return device.adamStep(step, count: count, parameter: parameter, gradient: gradient, m: m, v: v,
                                   outParameter: outParameter, outM: outM, outV: outV)
        }
        // The composed step runs on whatever element-wise primitives remain (the device's, or the host's).
        composedAdamStep(step, count: count, parameter: parameter, gradient: gradient, m: m, v: v,
                         outParameter: outParameter, outM: outM, outV: outV)
    }

    func lstmCell(batch: Int, units: Int, input: StridedOperand, recurrent: StridedOperand, cell: StridedOperand,
                  out: any DeviceBuffer, gates: any DeviceBuffer) {
        guard unavailable.contains(.lstmCell) else {
            return device.lstmCell(batch: batch, units: units, input: input, recurrent: recurrent, cell: cell, out: out, gates: gates)
        }
        onHost([input.buffer, recurrent.buffer, cell.buffer], writing: [out, gates]) { h in
            host.lstmCell(batch: batch, units: units, input: h(input), recurrent: h(recurrent), cell: h(cell),
                          out: h[out], gates: h[gates])
        }
    }

    func lstmCellBackward(batch: Int, units: Int, gates: any DeviceBuffer, cell: StridedOperand, out: any DeviceBuffer,
                          hGradient: StridedOperand, cGradient: StridedOperand,
                          outGates: any DeviceBuffer, outCell: any DeviceBuffer) {
        guard unavailable.contains(.lstmCellBackward) else {
            return device.lstmCellBackward(batch: batch, units: units, gates: gates, cell: cell, out: out, hGradient: hGradient,
                                           cGradient: cGradient, outGates: outGates, outCell: outCell)
        }
        onHost([gates, cell.buffer, out, hGradient.buffer, cGradient.buffer], writing: [outGates, outCell]) { h in
            host.lstmCellBackward(batch: batch, units: units, gates: h[gates], cell: h(cell), out: h[out], hGradient: h(hGradient),
                                  cGradient: h(cGradient), outGates: h[outGates], outCell: h[outCell])
        }
    }

    func random(_ out: any DeviceBuffer, count: Int, distribution: RandomDistribution, seed: UInt64, counterOffset: UInt64) {
        guard unavailable.contains(.random) else {
            return device.random(out, count: count, distribution: distribution, seed: seed, counterOffset: counterOffset)
        }
        onHost([], writing: [out]) { h in
            host.random(h[out], count: count, distribution: distribution, seed: seed, counterOffset: counterOffset)
        }
    }
}
