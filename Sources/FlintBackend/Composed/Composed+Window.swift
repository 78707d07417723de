extension ConvGeometry {
    /// The output positions along one axis whose input position, `o · stride - pad + k · dilation`
    /// for tap `k`, falls inside `0..<size`.
    static func inside(tap k: Int, outputs: Int, stride: Int, pad: Int, dilation: Int, size: Int) -> Range<Int> {
        let base = k * dilation - pad
        let first = base >= 0 ? 0 : (-base + stride - 1) / stride
        let lastInput = size - 1 - base
        guard lastInput >= 0 else { return 0..<0 }
        let end = Swift.min(lastInput / stride + 1, outputs)
        return first < end ? first..<end : 0..<0
    }

    /// For tap `(kh, kw)`: the `[batch, rows, columns, channels]` block of output positions
    /// that read inside the image, where it starts in the image and in the column matrix, and
    /// the strides that walk it in each. Nil when the tap reads only padding.
    func tapBlock(kh: Int, kw: Int) -> (shape: [Int], image: (offset: Int, strides: [Int]),
                                         columns: (offset: Int, strides: [Int]))? {
        let rows = Self.inside(tap: kh, outputs: outHeight, stride: strideHeight, pad: padTop, dilation: dilationHeight, size: height)
        let cols = Self.inside(tap: kw, outputs: outWidth, stride: strideWidth, pad: padLeft, dilation: dilationWidth, size: width)
        guard !rows.isEmpty, !cols.isEmpty else { return nil }
        let ih = rows.lowerBound * strideHeight - padTop + kh * dilationHeight
        let iw = cols.lowerBound * strideWidth - padLeft + kw * dilationWidth
        let image = ((ih * width + iw) * channels,
                     [height * width * channels, strideHeight * width * channels, strideWidth * channels, 1])
        let columnStart = (rows.lowerBound * outWidth + cols.lowerBound) * patchSize + (kh * kernelWidth + kw) * channels
        let columns = (columnStart, [outHeight * outWidth * patchSize, outWidth * patchSize, patchSize, 1])
        return ([batch, rows.count, cols.count, channels], image, columns)
    }
}

extension Backend {
    /// `im2col` from `fill` and `copy`: the matrix filled with `padValue`, then one strided copy
    /// per kernel tap of the block of the image that tap reads.
    public func composedIm2col(_ input: any DeviceBuffer, offset: Int, geometry g: ConvGeometry, padValue: Float,
                               out: any DeviceBuffer) {
        fill(out, offset: 0, count: g.patchCount * g.patchSize, bits: padValue.bitPattern)
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                guard let block = g.tapBlock(kh: kh, kw: kw) else { continue }
                copy(StridedOperand(input, offset + block.image.offset, block.image.strides),
                     to: StridedOperand(out, block.columns.offset, block.columns.strides), shape: block.shape)
            }
        }
    }

    /// `col2im` from `fill`, `binary` and `copy`: zeros, then per kernel tap, in ascending
    /// `(kh, kw)`, the tap's block of the column matrix added to the image through a scratch
    /// buffer (within one tap no two output positions read the same pixel).
    public func composedCol2im(_ columns: any DeviceBuffer, offset: Int, geometry g: ConvGeometry, out: any DeviceBuffer) {
        fill(out, offset: 0, count: g.imageCount, bits: 0)
        let sums = scratch(g.batch * g.outHeight * g.outWidth * g.channels)
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                guard let block = g.tapBlock(kh: kh, kw: kw) else { continue }
                let image = StridedOperand(out, block.image.offset, block.image.strides)
                binary(.add, image, StridedOperand(columns, offset + block.columns.offset, block.columns.strides),
                       shape: block.shape, out: sums)
                copy(StridedOperand(sums, 0, rowMajorStrides(block.shape)), to: image, shape: block.shape)
            }
        }
    }

    /// `maxPool2d` from `im2col`, `argmax`, `gather`, `reduce`, `select` and `cast`: the windows
    /// unfolded with -∞ padding and the first largest tap taken. Padding and a real -∞ tie, so
    /// where a window's maximum is -∞ the tap is instead the first one inside the image (from
    /// the unfolded image of ones), and -1 when there is none.
    public func composedMaxPool2d(_ input: any DeviceBuffer, offset: Int, geometry g: ConvGeometry, out: any DeviceBuffer,
                                  taps: any DeviceBuffer) {
        let windows = g.kernelHeight * g.kernelWidth, positions = g.outHeight * g.outWidth
        let layout = AxisLayout(outer: g.patchCount, length: windows, inner: g.channels)
        let columns = scratch(layout.count), winners = scratch(g.patchCount * g.channels)
        im2col(input, offset: offset, geometry: g, padValue: -.infinity, out: columns)
        argmax(columns, offset: 0, layout: layout, out: winners)
        gather(columns, offset: 0, layout: layout, indices: winners, indicesOffset: 0, indexLength: 1, out: out)

        // Which taps of each output position read the image: im2col of one channel of ones.
        var single = g
        (single.batch, single.channels) = (1, 1)
        let inside = scratch(positions * windows), ones = scratch(g.height * g.width)
        fill(ones, offset: 0, count: g.height * g.width, bits: Float(1).bitPattern)
        im2col(ones, offset: 0, geometry: single, padValue: 0, out: inside)
        let insideLayout = AxisLayout(outer: positions, length: windows, inner: 1)
        let firstInside = scratch(positions), firstInsideTap = scratch(positions), anyInside = scratch(positions)
        argmax(inside, offset: 0, layout: insideLayout, out: firstInside)
        reduce(.max, inside, offset: 0, layout: insideLayout, out: anyInside)
        cast(firstInside, offset: 0, count: positions, from: .int32, to: .float32, out: firstInsideTap)
        // The tap of a window whose maximum is -∞: the first inside, else -1.
        let fallback = scratch(positions)
        select(StridedOperand(anyInside, 0, [1]), StridedOperand(firstInsideTap, 0, [1]), StridedOperand(constant(-1), 0, [0]),
               shape: [positions], out: fallback)

        let count = g.patchCount * g.channels, shape = [g.batch, positions, g.channels]
        let isNegativeInfinity = scratch(count), winnerTaps = scratch(count), chosen = scratch(count)
        binary(.equal, StridedOperand(out, 0, [1]), StridedOperand(constant(-.infinity), 0, [0]), shape: [count],
               out: isNegativeInfinity)
        cast(winners, offset: 0, count: count, from: .int32, to: .float32, out: winnerTaps)
        select(StridedOperand(isNegativeInfinity, 0, rowMajorStrides(shape)), StridedOperand(fallback, 0, [0, 1, 0]),
               StridedOperand(winnerTaps, 0, rowMajorStrides(shape)), shape: shape, out: chosen)
        cast(chosen, offset: 0, count: count, from: .float32, to: .int32, out: taps)
    }

    /// `maxPool2dBackward` from `fill`, `scatterAdd` and `col2im`: each output gradient placed
    /// at its winning tap of a zero column matrix (tap -1 is out of range, so skipped), then
    /// folded back onto the image.
    public func composedMaxPool2dBackward(_ gradient: any DeviceBuffer, offset: Int, taps: any DeviceBuffer,
                                          geometry g: ConvGeometry, out: any DeviceBuffer) {
        let layout = AxisLayout(outer: g.patchCount, length: g.kernelHeight * g.kernelWidth, inner: g.channels)
        let columns = scratch(layout.count)
        fill(columns, offset: 0, count: layout.count, bits: 0)
        scatterAdd(gradient, srcOffset: offset, indices: taps, indicesOffset: 0, indexLength: 1, layout: layout, out: columns)
        col2im(columns, offset: 0, geometry: g, out: out)
    }
}
