extension AxisLayout {
    /// `[outer, length, inner]`: the layout as a shape.
    var shape: [Int] { [outer, length, inner] }
    /// Row-major strides of `shape`.
    var strides: [Int] { [length * inner, inner, 1] }
    /// Strides that read an `[outer, 1, inner]` result broadcast along the middle axis.
    var broadcastStrides: [Int] { [inner, 0, 1] }
}

extension Backend {
    /// `argmax` from `reduce`, `binary`, `select` and `cast`: the maximum of each line (NaN if
    /// it holds one), a mask of the positions equal to it (NaN matching NaN), and the largest
    /// `length - r` over that mask, which is the first such `r`. Exact for lengths up to 2²⁴.
    public func composedArgmax(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, out: any DeviceBuffer) {
        let (shape, lines) = (layout.shape, layout.outer * layout.inner)
        let values = StridedOperand(x, offset, layout.strides)
        let maximum = scratch(lines)
        reduce(.max, x, offset: offset, layout: layout, out: maximum)
        let atMaximum = scratch(layout.count), isNaN = scratch(layout.count), maximumIsNaN = scratch(lines)
        binary(.equal, values, StridedOperand(maximum, 0, layout.broadcastStrides), shape: shape, out: atMaximum)
        binary(.notEqual, values, values, shape: shape, out: isNaN)
        binary(.notEqual, StridedOperand(maximum, 0, [1]), StridedOperand(maximum, 0, [1]), shape: [lines], out: maximumIsNaN)
        let hit = scratch(layout.count)
        select(StridedOperand(maximumIsNaN, 0, layout.broadcastStrides), StridedOperand(isNaN, 0, layout.strides),
               StridedOperand(atMaximum, 0, layout.strides), shape: shape, out: hit)
        // key = hit ? length - r : 0, so the first hit has the largest key.
        let countdown = ramp(layout.length)
        unary(.affine(scale: -1, shift: Float(layout.length)), StridedOperand(countdown, 0, [1]), shape: [layout.length], out: countdown)
        let key = scratch(layout.count)
        select(StridedOperand(hit, 0, layout.strides), StridedOperand(countdown, 0, [0, 1, 0]),
               StridedOperand(constant(0), 0, [0, 0, 0]), shape: shape, out: key)
        let best = scratch(lines)
        reduce(.max, key, offset: 0, layout: layout, out: best)
        unary(.affine(scale: -1, shift: Float(layout.length)), StridedOperand(best, 0, [1]), shape: [lines], out: best)
        cast(best, offset: 0, count: lines, from: .float32, to: .int32, out: out)
    }

    /// `0, 1, …, count - 1` (float32, exact up to 2²⁴) made on the device by doubling: each step
    /// adds the length so far to the prefix and copies the result after it.
    func ramp(_ count: Int) -> any DeviceBuffer {
        let ramp = scratch(count), shifted = scratch(count)
        fill(ramp, offset: 0, count: 1, bits: Float(0).bitPattern)
        var filled = 1
        while filled < count {
            let n = Swift.min(filled, count - filled)
            binary(.add, StridedOperand(ramp, 0, [1]), StridedOperand(constant(Float(filled)), 0, [0]), shape: [n], out: shifted)
            copy(StridedOperand(shifted, 0, [1]), to: StridedOperand(ramp, filled, [1]), shape: [n])
            filled += n
        }
        return ramp
    }

    /// `softmax` from `reduce`, `binary` and `unary`: `x - max` exponentiated and divided by its
    /// sum, or for the log form `x - max - log(sum)`.
    public func composedSoftmax(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, log: Bool, out: any DeviceBuffer) {
        let (shape, lines) = (layout.shape, layout.outer * layout.inner)
        let maximum = scratch(lines), shifted = scratch(layout.count), exponentials = scratch(layout.count), sums = scratch(lines)
        reduce(.max, x, offset: offset, layout: layout, out: maximum)
        binary(.sub, StridedOperand(x, offset, layout.strides), StridedOperand(maximum, 0, layout.broadcastStrides),
               shape: shape, out: shifted)
        unary(.exp, StridedOperand(shifted, 0, layout.strides), shape: shape, out: exponentials)
        reduce(.sum, exponentials, offset: 0, layout: layout, out: sums)
        if log {
            unary(.log, StridedOperand(sums, 0, [1]), shape: [lines], out: sums)
            binary(.sub, StridedOperand(shifted, 0, layout.strides), StridedOperand(sums, 0, layout.broadcastStrides),
                   shape: shape, out: out)
        } else {
            binary(.div, StridedOperand(exponentials, 0, layout.strides), StridedOperand(sums, 0, layout.broadcastStrides),
                   shape: shape, out: out)
        }
    }
}
