import CVectorMath
import FlintBackend

// Max pooling over NHWC images. A window's channels are contiguous in the image, the output and
// the tap map, so every inner loop runs over channels.

extension CPUBackend {
    public func maxPool2d(
        _ input: any DeviceBuffer, offset: Int, geometry g: ConvGeometry, out: any DeviceBuffer, taps: any DeviceBuffer
    ) {
        let source = cpuBuffer(input, "maxPool2d")
        let values = cpuBuffer(out, "maxPool2d")
        let winners = cpuBuffer(taps, "maxPool2d")
        checkGeometry(g, "maxPool2d")
        let outputCount = g.patchCount * g.channels
        checkRange(source, offset: offset, count: g.batch * g.height * g.width * g.channels, "maxPool2d", "input")
        checkRange(values, offset: 0, count: outputCount, "maxPool2d", "output")
        checkRange(winners, offset: 0, count: outputCount, "maxPool2d", "taps")
        let src = UnsafePointer(source.floats + offset), dst = values.floats, tapOut = winners.ints
        let rows = g.batch * g.outHeight, c = g.channels
        let tasks = min(rows, Parallel.taskCount(forElements: outputCount * g.kernelHeight * g.kernelWidth))
        let window = g.kernelHeight * g.kernelWidth
        // Whether every output column's window lies inside the image's columns (no left padding,
        // the last window ending inside).
        let columnsInside = g.padLeft == 0 && (g.outWidth - 1) * g.strideWidth + (g.kernelWidth - 1) * g.dilationWidth < g.width
        Parallel.run(tasks: tasks) { task in
            // Each window's rows inside the image, in tap order, for flint_max_window.
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: window) { rowsInside in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: window) { tapsInside in
                    for row in Parallel.range(task, of: tasks, count: rows) {
                        let oh = row % g.outHeight, n = row / g.outHeight
                        // Every window of the row inside the image: one call for the whole row.
                        if columnsInside && window <= Int(FLINT_MAX_WINDOW_ROW_TAPS)
                            && oh * g.strideHeight - g.padTop >= 0
                            && oh * g.strideHeight - g.padTop + (g.kernelHeight - 1) * g.dilationHeight < g.height {
                            var count = 0
                            for kh in 0..<g.kernelHeight {
                                let ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight
                                for kw in 0..<g.kernelWidth {
                                    rowsInside[count] = src + ((n * g.height + ih) * g.width + kw * g.dilationWidth) * c
                                    tapsInside[count] = Int32(kh * g.kernelWidth + kw)
                                    count += 1
                                }
                            }
                            flint_max_window_row(c, g.outWidth, g.strideWidth * c, rowsInside.baseAddress!, tapsInside.baseAddress!,
                                                 count, dst + row * g.outWidth * c, tapOut + row * g.outWidth * c)
                            continue
                        }
                        for ow in 0..<g.outWidth {
                            let o = dst + (row * g.outWidth + ow) * c, t = tapOut + (row * g.outWidth + ow) * c
                            var count = 0
                            for kh in 0..<g.kernelHeight {
                                let ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight
                                guard ih >= 0 && ih < g.height else { continue }
                                for kw in 0..<g.kernelWidth {
                                    let iw = ow * g.strideWidth - g.padLeft + kw * g.dilationWidth
                                    guard iw >= 0 && iw < g.width else { continue }
                                    rowsInside[count] = src + ((n * g.height + ih) * g.width + iw) * c
                                    tapsInside[count] = Int32(kh * g.kernelWidth + kw)
                                    count += 1
                                }
                            }
                            guard count > 0 else {
                                // A window wholly in padding.
                                o.update(repeating: -.infinity, count: c)
                                t.update(repeating: -1, count: c)
                                continue
                            }
                            flint_max_window(c, rowsInside.baseAddress!, tapsInside.baseAddress!, count, o, t)
                        }
                    }
                }
            }
        }
    }

    public func maxPool2dBackward(
        _ gradient: any DeviceBuffer, offset: Int, taps: any DeviceBuffer, geometry g: ConvGeometry, out: any DeviceBuffer
    ) {
        let source = cpuBuffer(gradient, "maxPool2dBackward")
        let winners = cpuBuffer(taps, "maxPool2dBackward")
        let target = cpuBuffer(out, "maxPool2dBackward")
        checkGeometry(g, "maxPool2dBackward")
        let outputCount = g.patchCount * g.channels
        checkRange(source, offset: offset, count: outputCount, "maxPool2dBackward", "gradient")
        checkRange(winners, offset: 0, count: outputCount, "maxPool2dBackward", "taps")
        checkRange(target, offset: 0, count: g.batch * g.height * g.width * g.channels, "maxPool2dBackward", "output")
        let grad = UnsafePointer(source.floats + offset), tapIn = UnsafePointer(winners.ints), dst = target.floats
        let rows = g.batch * g.height, c = g.channels, imageRow = g.width * c
        // Tasks own whole input rows (n, ih), so no element is shared; each element's terms are
        // added in ascending (kh, kw), the order of the OpenCL kernel, so both give the same bits.
        let tasks = min(rows, Parallel.taskCount(forElements: rows * imageRow))
        Parallel.run(tasks: tasks) { task in
            for inputRow in Parallel.range(task, of: tasks, count: rows) {
                Self.scatterWinners(inputRow: inputRow, gradient: grad, taps: tapIn, geometry: g, into: dst + inputRow * imageRow)
            }
        }
    }

    /// Input row `inputRow` (image and row) of max pooling's adjoint into `row`, overwritten: the
    /// output gradients whose winning tap read each element, added in ascending `(kh, kw)`.
    static func scatterWinners(inputRow: Int, gradient grad: UnsafePointer<Float>, taps tapIn: UnsafePointer<Int32>,
                               geometry g: ConvGeometry, into q: UnsafeMutablePointer<Float>) {
        let ih = inputRow % g.height, n = inputRow / g.height, c = g.channels
        q.update(repeating: 0, count: g.width * c)
        for kh in 0..<g.kernelHeight {
            let y = ih + g.padTop - kh * g.dilationHeight
            if y < 0 { break }
            guard y % g.strideHeight == 0, y / g.strideHeight < g.outHeight else { continue }
            let outputRow = n * g.outHeight + y / g.strideHeight
            for kw in 0..<g.kernelWidth {
                let tap = Int32(kh * g.kernelWidth + kw)
                for ow in 0..<g.outWidth {
                    let iw = ow * g.strideWidth - g.padLeft + kw * g.dilationWidth
                    guard iw >= 0 && iw < g.width else { continue }
                    let at = (outputRow * g.outWidth + ow) * c
                    addWinners(q + iw * c, grad + at, tapIn + at, tap: tap, count: c)
                }
            }
        }
    }

    /// `sums[k] += gradients[k]` where `taps[k] == tap`, branch-free in blocks of 8 channels.
    @inline(__always)
    static func addWinners(_ sums: UnsafeMutablePointer<Float>, _ gradients: UnsafePointer<Float>,
                           _ taps: UnsafePointer<Int32>, tap: Int32, count: Int) {
        var k = 0
        while k + 8 <= count {
            let g = UnsafeRawPointer(gradients + k).loadUnaligned(as: SIMD8<Float>.self)
            let t = UnsafeRawPointer(taps + k).loadUnaligned(as: SIMD8<Int32>.self)
            var s = UnsafeRawPointer(sums + k).loadUnaligned(as: SIMD8<Float>.self)
            s += g.replacing(with: 0, where: t .!= SIMD8(repeating: tap))
            UnsafeMutableRawPointer(sums + k).storeBytes(of: s, as: SIMD8<Float>.self)
            k += 8
        }
        while k < count {
            if taps[k] == tap { sums[k] += gradients[k] }
            k += 1
        }
    }
}
