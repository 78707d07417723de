extension Backend {
    /// `fill` from `write`: the pattern repeated on the host and written in one transfer.
    public func composedFill(_ buffer: any DeviceBuffer, offset: Int, count: Int, bits: UInt32) {
        let words = [UInt32](repeating: bits, count: count)
        words.withUnsafeBytes { write($0, to: buffer, byteOffset: offset * 4) }
    }

    /// `binary(_:_:_:shape:then:out:)` from primitives: `binary`, then `unary` in place. The
    /// default, and what a backend falls back on for combinations it does not fuse.
    public func composedBinary(_ op: BinaryOp, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], then activation: UnaryOp,
                               out: any DeviceBuffer) {
        binary(op, a, b, shape: shape, out: out)
        unary(activation, StridedOperand(out, 0, rowMajorStrides(shape)), shape: shape, out: out)
    }

    /// `dropout` from `random` (the draws made whole), `fill` and two `binary` ops: the mask
    /// `(u ≥ rate) · 1 / (1 − rate)`, then `x` times it. The default, and the reference for fused
    /// versions.
    public func composedDropout(_ x: any DeviceBuffer, offset: Int, count: Int, rate: Float, seed: UInt64,
                                counterOffset: UInt64, out: any DeviceBuffer) {
        guard count > 0 else { return }
        let draws = scratch(count), threshold = scratch(1), mask = scratch(count)
        random(draws, count: count, distribution: .uniform(low: 0, high: 1), seed: seed, counterOffset: counterOffset)
        fill(threshold, offset: 0, count: 1, bits: rate.bitPattern)
        binary(.greaterEqual, StridedOperand(buffer: draws, offset: 0, strides: [1]),
               StridedOperand(buffer: threshold, offset: 0, strides: [0]), shape: [count],
               then: .affine(scale: 1 / (1 - rate), shift: 0), out: mask)
        binary(.mul, StridedOperand(buffer: x, offset: offset, strides: [1]), StridedOperand(buffer: mask, offset: 0, strides: [1]),
               shape: [count], out: out)
    }

    /// `random` from `write`: `Philox`'s definition evaluated on the host, so the numbers are
    /// those of every other backend by construction.
    public func composedRandom(_ out: any DeviceBuffer, count: Int, distribution: RandomDistribution, seed: UInt64,
                               counterOffset: UInt64) {
        let values = (0..<count).map { Philox.value(at: $0, distribution: distribution, seed: seed, counterOffset: counterOffset) }
        values.withUnsafeBytes { write($0, to: out, byteOffset: 0) }
    }

    /// `adamStep` from element-wise primitives: the default for backends without a fused kernel,
    /// and the reference the fused ones are tested against.
    public func composedAdamStep(_ step: AdamStep, count: Int, parameter: any DeviceBuffer, gradient: any DeviceBuffer,
                                 m: any DeviceBuffer, v: any DeviceBuffer,
                                 outParameter: any DeviceBuffer, outM: any DeviceBuffer, outV: any DeviceBuffer) {
        func flat(_ buffer: any DeviceBuffer) -> StridedOperand { StridedOperand(buffer, 0, [1]) }
        let shape = [count]
        let temporary = scratch(count), update = scratch(count)
        // g' = g + l2·w  (in `update`)
        unary(.affine(scale: step.l2, shift: 0), flat(parameter), shape: shape, out: update)
        binary(.add, flat(gradient), flat(update), shape: shape, out: update)
        // m' = β₁m + (1-β₁)g'
        unary(.affine(scale: step.beta1, shift: 0), flat(m), shape: shape, out: outM)
        unary(.affine(scale: 1 - step.beta1, shift: 0), flat(update), shape: shape, out: temporary)
        binary(.add, flat(outM), flat(temporary), shape: shape, out: outM)
        // v' = β₂v + (1-β₂)g'²
        unary(.square, flat(update), shape: shape, out: temporary)
        unary(.affine(scale: 1 - step.beta2, shift: 0), flat(temporary), shape: shape, out: temporary)
        unary(.affine(scale: step.beta2, shift: 0), flat(v), shape: shape, out: outV)
        binary(.add, flat(outV), flat(temporary), shape: shape, out: outV)
        // step = (lr/c₁)·m' / (√v' / √c₂ + ε)
        unary(.sqrt, flat(outV), shape: shape, out: temporary)
        unary(.affine(scale: 1 / step.correction2.squareRoot(), shift: step.epsilon), flat(temporary), shape: shape, out: temporary)
        unary(.affine(scale: step.learningRate / step.correction1, shift: 0), flat(outM), shape: shape, out: update)
        binary(.div, flat(update), flat(temporary), shape: shape, out: update)
        // w' = w·(1 - lr·decay) - step
        unary(.affine(scale: 1 - step.learningRate * step.decoupledDecay, shift: 0), flat(parameter), shape: shape, out: outParameter)
        binary(.sub, flat(outParameter), flat(update), shape: shape, out: outParameter)
    }
}

extension Backend {
    /// `gemm(…, epilogue:)` from primitives: the product, then the bias and activation in one
    /// element-wise pass over C. The default, and the reference fused versions are tested against.
    public func composedGemm(m: Int, n: Int, k: Int, batch: Int, _ a: MatrixOperand, _ b: MatrixOperand, _ c: MatrixOperand,
                             epilogue: GemmEpilogue) {
        gemm(m: m, n: n, k: k, batch: batch, alpha: 1, a, b, beta: 0, c)
        applyEpilogue(m: m, n: n, batch: batch, c, bias: epilogue.bias, activation: epilogue.activation)
    }

    /// `C[b] = activation(C[b] + bias)` in place over a batch of row-major `m × n` matrices (C's
    /// `colStride` is 1). A backend that fuses part of an epilogue calls this for the rest.
    public func applyEpilogue(m: Int, n: Int, batch: Int, _ c: MatrixOperand,
                              bias: (buffer: any DeviceBuffer, offset: Int)?, activation: UnaryOp?) {
        guard bias != nil || activation != nil, m > 0, n > 0, batch > 0 else { return }
        let rowStride = m == 1 ? n : c.rowStride
        // Element-wise primitives write contiguous outputs from element 0: one pass over all of C
        // when it is laid out so, else each member through a scratch buffer and a copy.
        let whole = c.offset == 0 && rowStride == n && (batch == 1 || c.batchStride == m * n)
        let rows = whole ? batch * m : m
        let scratch = whole ? nil : allocate(byteCount: m * n * 4)
        for member in 0..<(whole ? 1 : batch) {
            let source = StridedOperand(buffer: c.buffer, offset: c.offset + member * c.batchStride, strides: [rowStride, 1])
            let out = scratch ?? c.buffer
            if let bias {
                let row = StridedOperand(buffer: bias.buffer, offset: bias.offset, strides: [0, 1])
                if let activation {
                    binary(.add, source, row, shape: [rows, n], then: activation, out: out)
                } else {
                    binary(.add, source, row, shape: [rows, n], out: out)
                }
            } else if let activation {
                unary(activation, source, shape: [rows, n], out: out)
            }
            if let scratch {
                copy(StridedOperand(buffer: scratch, offset: 0, strides: [n, 1]), to: source, shape: [m, n])
            }
        }
    }
}
