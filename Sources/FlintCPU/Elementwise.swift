import FlintBackend

// Element-wise primitives. Each op is switched on once, outside the loops, and handed to a
// generic driver as a `Kernels` value type, so every op gets its own specialised loops over
// raw pointers, which the optimiser vectorises where the op allows.

extension CPUBackend {
    public func unary(_ op: UnaryOp, _ x: StridedOperand, shape: [Int], out: any DeviceBuffer) {
        let input = cpuBuffer(x.buffer, "unary")
        let output = cpuBuffer(out, "unary")
        let loop = StridedLoop(
            shape: shape,
            operands: [(0, Self.contiguousStrides(shape)), (x.offset, x.strides)])
        guard loop.count > 0 else { return }
        checkStrided(x, input, shape: shape, "unary", "x")
        checkOutput(output, count: loop.count, "unary")
        let src = UnsafePointer(input.floats), dst = output.floats
        switch op {
        case .neg: Self.mapLoop(loop, src, dst, Kernels.Neg())
        case .abs: Self.mapLoop(loop, src, dst, Kernels.Abs())
        case .exp: Self.mapLoop(loop, src, dst, Kernels.Exp())
        case .log: Self.mapLoop(loop, src, dst, Kernels.Log())
        case .sqrt: Self.mapLoop(loop, src, dst, Kernels.Sqrt())
        case .rsqrt: Self.mapLoop(loop, src, dst, Kernels.Rsqrt())
        case .square: Self.mapLoop(loop, src, dst, Kernels.Square())
        case .reciprocal: Self.mapLoop(loop, src, dst, Kernels.Reciprocal())
        case .sign: Self.mapLoop(loop, src, dst, Kernels.Sign())
        case .relu: Self.mapLoop(loop, src, dst, Kernels.Relu())
        case .sigmoid: Self.mapLoop(loop, src, dst, Kernels.Sigmoid())
        case .tanh: Self.mapLoop(loop, src, dst, Kernels.Tanh())
        case .leakyRelu(let slope): Self.mapLoop(loop, src, dst, Kernels.LeakyRelu(slope: slope))
        case .affine(let scale, let shift): Self.mapLoop(loop, src, dst, Kernels.Affine(scale: scale, shift: shift))
        case .pow(let exponent):
            switch exponent {
            case 1: Self.mapLoop(loop, src, dst, Kernels.Identity())
            case 2: Self.mapLoop(loop, src, dst, Kernels.Square())
            default: Self.mapLoop(loop, src, dst, Kernels.Pow(exponent: exponent))
            }
        case .clamp(let low, let high): Self.mapLoop(loop, src, dst, Kernels.Clamp(low: low, high: high))
        case .erf: Self.mapLoop(loop, src, dst, Kernels.Erf())
        case .softplus: Self.mapLoop(loop, src, dst, Kernels.Softplus())
        case .gelu: Self.mapLoop(loop, src, dst, Kernels.Gelu())
        case .silu: Self.mapLoop(loop, src, dst, Kernels.Silu())
        }
    }

    public func binary(
        _ op: BinaryOp, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], out: any DeviceBuffer
    ) {
        guard let (loop, x, y, dst) = binaryOperands(a, b, shape: shape, out: out) else { return }
        switch op {
        case .add: Self.zipLoop(loop, x, y, dst, Kernels.Add())
        case .sub: Self.zipLoop(loop, x, y, dst, Kernels.Sub())
        case .mul: Self.zipLoop(loop, x, y, dst, Kernels.Mul())
        case .div: Self.zipLoop(loop, x, y, dst, Kernels.Div())
        case .pow: Self.zipLoop(loop, x, y, dst, Kernels.PowBinary())
        case .maximum: Self.zipLoop(loop, x, y, dst, Kernels.Maximum())
        case .minimum: Self.zipLoop(loop, x, y, dst, Kernels.Minimum())
        case .equal: Self.zipLoop(loop, x, y, dst, Kernels.Equal())
        case .notEqual: Self.zipLoop(loop, x, y, dst, Kernels.NotEqual())
        case .less: Self.zipLoop(loop, x, y, dst, Kernels.Less())
        case .lessEqual: Self.zipLoop(loop, x, y, dst, Kernels.LessEqual())
        case .greater: Self.zipLoop(loop, x, y, dst, Kernels.Greater())
        case .greaterEqual: Self.zipLoop(loop, x, y, dst, Kernels.GreaterEqual())
        case .reluGradient: Self.zipLoop(loop, x, y, dst, Kernels.ReluGradient())
        }
    }

    public func binary(
        _ op: BinaryOp, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], then activation: UnaryOp, out: any DeviceBuffer
    ) {
        // A scaled comparison (a dropout mask: 1 / (1 - rate) where a draw is at least rate) in one pass.
        if op == .greaterEqual, case .affine(let scale, let shift) = activation {
            guard let (loop, x, y, dst) = binaryOperands(a, b, shape: shape, out: out) else { return }
            return Self.zipLoop(loop, x, y, dst, Kernels.Then(op: Kernels.GreaterEqual(), activation: Kernels.Affine(scale: scale, shift: shift)))
        }
        guard op == .add else { return composedBinary(op, a, b, shape: shape, then: activation, out: out) }
        guard let (loop, x, y, dst) = binaryOperands(a, b, shape: shape, out: out) else { return }
        switch activation {
        case .relu: Self.zipLoop(loop, x, y, dst, Kernels.Then(op: Kernels.Add(), activation: Kernels.Relu()))
        case .sigmoid: Self.zipLoop(loop, x, y, dst, Kernels.Then(op: Kernels.Add(), activation: Kernels.Sigmoid()))
        case .tanh: Self.zipLoop(loop, x, y, dst, Kernels.Then(op: Kernels.Add(), activation: Kernels.Tanh()))
        case .leakyRelu(let slope):
            Self.zipLoop(loop, x, y, dst, Kernels.Then(op: Kernels.Add(), activation: Kernels.LeakyRelu(slope: slope)))
        default:
            composedBinary(op, a, b, shape: shape, then: activation, out: out)
        }
    }

    /// The checked loop and pointers of a binary primitive, or nil when there is nothing to do.
    private func binaryOperands(
        _ a: StridedOperand, _ b: StridedOperand, shape: [Int], out: any DeviceBuffer
    ) -> (StridedLoop, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>)? {
        let left = cpuBuffer(a.buffer, "binary")
        let right = cpuBuffer(b.buffer, "binary")
        let output = cpuBuffer(out, "binary")
        let loop = StridedLoop(
            shape: shape,
            operands: [(0, Self.contiguousStrides(shape)), (a.offset, a.strides), (b.offset, b.strides)])
        guard loop.count > 0 else { return nil }
        checkStrided(a, left, shape: shape, "binary", "a")
        checkStrided(b, right, shape: shape, "binary", "b")
        checkOutput(output, count: loop.count, "binary")
        return (loop, UnsafePointer(left.floats), UnsafePointer(right.floats), output.floats)
    }

    public func select(
        _ condition: StridedOperand, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], out: any DeviceBuffer
    ) {
        let mask = cpuBuffer(condition.buffer, "select")
        let left = cpuBuffer(a.buffer, "select")
        let right = cpuBuffer(b.buffer, "select")
        let output = cpuBuffer(out, "select")
        let loop = StridedLoop(
            shape: shape,
            operands: [
                (0, Self.contiguousStrides(shape)), (condition.offset, condition.strides),
                (a.offset, a.strides), (b.offset, b.strides),
            ])
        guard loop.count > 0 else { return }
        checkStrided(condition, mask, shape: shape, "select", "condition")
        checkStrided(a, left, shape: shape, "select", "a")
        checkStrided(b, right, shape: shape, "select", "b")
        checkOutput(output, count: loop.count, "select")
        let c = UnsafePointer(mask.floats), x = UnsafePointer(left.floats), y = UnsafePointer(right.floats)
        let dst = output.floats
        let sc = loop.innerStride(1), sx = loop.innerStride(2), sy = loop.innerStride(3)
        Parallel.forEachRange(count: loop.count) { range in
            loop.forEachRow(in: range) { o, oc, ox, oy, n in
                let d = dst + o, cc = c + oc, xx = x + ox, yy = y + oy
                // Both sides are loaded unconditionally so the loops vectorise as blends.
                if sc == 1 && sx == 1 && sy == 1 {
                    for i in 0..<n {
                        let (u, v) = (xx[i], yy[i])
                        d[i] = cc[i] != 0 ? u : v
                    }
                } else if sc == 1 && sx == 1 && sy == 0 {
                    let v = yy[0]
                    for i in 0..<n {
                        let u = xx[i]
                        d[i] = cc[i] != 0 ? u : v
                    }
                } else if sc == 1 && sx == 0 && sy == 1 {
                    let u = xx[0]
                    for i in 0..<n {
                        let v = yy[i]
                        d[i] = cc[i] != 0 ? u : v
                    }
                } else {
                    for i in 0..<n {
                        let (u, v) = (xx[i &* sx], yy[i &* sy])
                        d[i] = cc[i &* sc] != 0 ? u : v
                    }
                }
            }
        }
    }

    public func copy(_ src: StridedOperand, to dst: StridedOperand, shape: [Int]) {
        let source = cpuBuffer(src.buffer, "copy")
        let target = cpuBuffer(dst.buffer, "copy")
        let loop = StridedLoop(shape: shape, operands: [(dst.offset, dst.strides), (src.offset, src.strides)])
        guard loop.count > 0 else { return }
        checkStrided(src, source, shape: shape, "copy", "src")
        checkStrided(dst, target, shape: shape, "copy", "dst")
        let from = UnsafePointer(source.words), to = target.words
        let st = loop.innerStride(0), ss = loop.innerStride(1)
        let rank = loop.rank
        if rank >= 2 && st == 1 && ss != 1 && loop.strides[(rank - 2) * 4 + 1] == 1
            && loop.shape[rank - 1] >= 8 && loop.shape[rank - 2] >= 8
        {
            Self.copyTransposed(loop, from, to)
            return
        }
        Parallel.forEachRange(count: loop.count) { range in
            loop.forEachRow(in: range) { ot, os, _, _, n in
                let d = to + ot, s = from + os
                if st == 1 && ss == 1 {
                    d.update(from: s, count: n)
                } else if st == 1 && ss == 0 {
                    d.update(repeating: s[0], count: n)
                } else if st == 1 {
                    for i in 0..<n { d[i] = s[i &* ss] }
                } else if ss == 1 {
                    for i in 0..<n { d[i &* st] = s[i] }
                } else {
                    for i in 0..<n { d[i &* st] = s[i &* ss] }
                }
            }
        }
    }

    /// `copy` where the last two axes are transposed between source and destination
    /// (destination rows contiguous, source columns contiguous): walks 32×32 tiles so both
    /// sides stay in cache, with tasks over (outer index, band of 32 rows).
    static func copyTransposed(_ loop: StridedLoop, _ from: UnsafePointer<UInt32>, _ to: UnsafeMutablePointer<UInt32>) {
        let rank = loop.rank
        let rows = loop.shape[rank - 2], columns = loop.shape[rank - 1]
        let dstRowStride = loop.strides[(rank - 2) * 4]
        let srcColumnStride = loop.strides[(rank - 1) * 4 + 1]
        let tile = 32
        let bands = (rows + tile - 1) / tile
        let matrices = loop.count / (rows * columns)
        Parallel.forEachTask(matrices * bands, work: loop.count) { task in
            var dstBase = loop.offsets.0, srcBase = loop.offsets.1
            var remainder = task / bands
            for d in (0..<(rank - 2)).reversed() {
                let i = remainder % loop.shape[d]
                remainder /= loop.shape[d]
                dstBase += i * loop.strides[d * 4]
                srcBase += i * loop.strides[d * 4 + 1]
            }
            let firstRow = (task % bands) * tile
            let lastRow = min(rows, firstRow + tile)
            for firstColumn in stride(from: 0, to: columns, by: tile) {
                let lastColumn = min(columns, firstColumn + tile)
                for r in firstRow..<lastRow {
                    let d = to + dstBase + r * dstRowStride
                    let s = from + srcBase + r
                    for c in firstColumn..<lastColumn { d[c] = s[c &* srcColumnStride] }
                }
            }
        }
    }

    // MARK: Drivers

    /// `dst[i] = f(x[i])` over `loop` (operand 0 contiguous output, operand 1 `x`).
    @inline(__always)
    static func mapLoop<F: UnaryKernel>(
        _ loop: StridedLoop, _ x: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ f: F
    ) {
        let sx = loop.innerStride(1)
        Parallel.forEachRange(count: loop.count) { range in
            loop.forEachRow(in: range) { o, ox, _, _, n in
                let d = dst + o, s = x + ox
                if sx == 1 {
                    if UnsafePointer(d) == s {
                        // In place: one pointer, so the loop vectorises without alias checks.
                        for i in 0..<n { d[i] = f(d[i]) }
                    } else {
                        for i in 0..<n { d[i] = f(s[i]) }
                    }
                } else if sx == 0 {
                    d.update(repeating: f(s[0]), count: n)
                } else {
                    for i in 0..<n { d[i] = f(s[i &* sx]) }
                }
            }
        }
    }

    /// `dst[i] = f(x[i], y[i])` over `loop` (operand 0 contiguous output, operands 1 and 2 the inputs).
    @inline(__always)
    static func zipLoop<F: BinaryKernel>(
        _ loop: StridedLoop, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
        _ dst: UnsafeMutablePointer<Float>, _ f: F
    ) {
        let sx = loop.innerStride(1), sy = loop.innerStride(2)
        Parallel.forEachRange(count: loop.count) { range in
            loop.forEachRow(in: range) { o, ox, oy, _, n in
                let d = dst + o, a = x + ox, b = y + oy
                if sx == 1 && sy == 1 {
                    if UnsafePointer(d) == a {
                        for i in 0..<n { d[i] = f(d[i], b[i]) }
                    } else if UnsafePointer(d) == b {
                        for i in 0..<n { d[i] = f(a[i], d[i]) }
                    } else {
                        for i in 0..<n { d[i] = f(a[i], b[i]) }
                    }
                } else if sx == 1 && sy == 0 {
                    let v = b[0]
                    if UnsafePointer(d) == a {
                        for i in 0..<n { d[i] = f(d[i], v) }
                    } else {
                        for i in 0..<n { d[i] = f(a[i], v) }
                    }
                } else if sx == 0 && sy == 1 {
                    let v = a[0]
                    if UnsafePointer(d) == b {
                        for i in 0..<n { d[i] = f(v, d[i]) }
                    } else {
                        for i in 0..<n { d[i] = f(v, b[i]) }
                    }
                } else if sx == 0 && sy == 0 {
                    d.update(repeating: f(a[0], b[0]), count: n)
                } else {
                    for i in 0..<n { d[i] = f(a[i &* sx], b[i &* sy]) }
                }
            }
        }
    }
}
