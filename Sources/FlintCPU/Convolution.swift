import CVectorMath
import FlintBackend

// im2col / col2im over NHWC images. For a fixed output position and tap the `channels` values
// are contiguous in both the image and the column row, and with width dilation 1 so are the
// taps of one kernel row that fall inside the image: those are copied (or added) as one run.

extension CPUBackend {
    public func im2col(
        _ input: any DeviceBuffer, offset: Int, geometry g: ConvGeometry, padValue: Float, out: any DeviceBuffer
    ) {
        let source = cpuBuffer(input, "im2col")
        let target = cpuBuffer(out, "im2col")
        checkGeometry(g, "im2col")
        checkRange(source, offset: offset, count: g.batch * g.height * g.width * g.channels, "im2col", "input")
        checkRange(target, offset: 0, count: g.patchCount * g.patchSize, "im2col", "output")
        let src = UnsafePointer(source.floats + offset), dst = target.floats
        let (rowLength, patchSize) = (g.kernelWidth * g.channels, g.patchSize)
        let tasks = min(g.patchCount, Parallel.taskCount(forElements: g.patchCount * patchSize))
        Parallel.run(tasks: tasks) { task in
            for row in Parallel.range(task, of: tasks, count: g.patchCount) {
                let ow = row % g.outWidth, t = row / g.outWidth
                let oh = t % g.outHeight, n = t / g.outHeight
                let columns = Self.validTaps(ow, g.strideWidth, g.padLeft, g.dilationWidth, g.kernelWidth, g.width)
                let x0 = ow * g.strideWidth - g.padLeft
                for kh in 0..<g.kernelHeight {
                    let q = dst + row * patchSize + kh * rowLength
                    let ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight
                    guard ih >= 0 && ih < g.height, !columns.isEmpty else {
                        q.update(repeating: padValue, count: rowLength)
                        continue
                    }
                    let p = src + ((n * g.height + ih) * g.width + x0) * g.channels
                    q.update(repeating: padValue, count: columns.lowerBound * g.channels)
                    if g.dilationWidth == 1 {
                        (q + columns.lowerBound * g.channels).update(
                            from: p + columns.lowerBound * g.channels, count: columns.count * g.channels)
                    } else {
                        for kw in columns {
                            (q + kw * g.channels).update(from: p + kw * g.dilationWidth * g.channels, count: g.channels)
                        }
                    }
                    let end = columns.upperBound * g.channels
                    (q + end).update(repeating: padValue, count: rowLength - end)
                }
            }
        }
    }

    public func col2im(_ columns: any DeviceBuffer, offset: Int, geometry g: ConvGeometry, out: any DeviceBuffer) {
        let source = cpuBuffer(columns, "col2im")
        let target = cpuBuffer(out, "col2im")
        checkGeometry(g, "col2im")
        checkRange(source, offset: offset, count: g.patchCount * g.patchSize, "col2im", "columns")
        checkRange(target, offset: 0, count: g.batch * g.height * g.width * g.channels, "col2im", "output")
        let src = UnsafePointer(source.floats + offset), dst = target.floats
        let (imageRow, patchSize, c) = (g.width * g.channels, g.patchSize, g.channels)
        let rows = g.batch * g.height
        // Tasks own whole image rows (n, ih) and add into them only, so they never share an
        // element. Walking ow downwards sums each element's entries by ascending (kh, kw), the
        // order the OpenCL kernel uses, so both backends give the same bits.
        let tasks = min(rows, Parallel.taskCount(forElements: g.patchCount * patchSize + rows * imageRow))
        Parallel.run(tasks: tasks) { task in
            for imageRowIndex in Parallel.range(task, of: tasks, count: rows) {
                let ih = imageRowIndex % g.height, n = imageRowIndex / g.height
                let q = dst + imageRowIndex * imageRow
                q.update(repeating: 0, count: imageRow)
                for kh in 0..<g.kernelHeight {
                    let y = ih + g.padTop - kh * g.dilationHeight
                    if y < 0 { break }
                    guard y % g.strideHeight == 0 else { continue }
                    let oh = y / g.strideHeight
                    guard oh < g.outHeight else { continue }
                    for ow in stride(from: g.outWidth - 1, through: 0, by: -1) {
                        let taps = Self.validTaps(ow, g.strideWidth, g.padLeft, g.dilationWidth, g.kernelWidth, g.width)
                        guard !taps.isEmpty else { continue }
                        let p = src + ((n * g.outHeight + oh) * g.outWidth + ow) * patchSize + kh * g.kernelWidth * c
                        let x0 = ow * g.strideWidth - g.padLeft
                        if g.dilationWidth == 1 {
                            let start = taps.lowerBound * c
                            Self.accumulate(q + (x0 * c + start), p + start, count: taps.count * c)
                        } else {
                            for kw in taps {
                                Self.accumulate(q + (x0 + kw * g.dilationWidth) * c, p + kw * c, count: c)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The taps `kw` of output column `ow` whose input column `ow·stride − pad + kw·dilation`
    /// lies in `0..<width` (a contiguous range, possibly empty).
    @inline(__always)
    static func validTaps(_ ow: Int, _ stride: Int, _ pad: Int, _ dilation: Int, _ kernel: Int, _ width: Int) -> Range<Int> {
        let x0 = ow * stride - pad
        // First kw with x0 + kw·dilation >= 0, and one past the last with it < width.
        let low = x0 >= 0 ? 0 : (-x0 + dilation - 1) / dilation
        let high = x0 >= width ? 0 : (width - 1 - x0) / dilation + 1
        let upper = min(kernel, high)
        return low < upper ? low..<upper : 0..<0
    }

    @inline(__always)
    static func accumulate(_ q: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, count: Int) {
        // In C, eight lanes on AVX2 (col2im was 4% of the convnet's training in this loop).
        flint_accumulate(q, p, count)
    }

    func checkGeometry(_ g: ConvGeometry, _ primitive: StaticString) {
        ensure(
            min(g.batch, g.height, g.width, g.channels, g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth,
                g.dilationHeight, g.dilationWidth, g.outHeight, g.outWidth) >= 1 && min(g.padTop, g.padLeft) >= 0,
            "CPUBackend.\(primitive): invalid geometry \(g)")
    }
}
