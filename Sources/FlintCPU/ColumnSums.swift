import CVectorMath
import FlintBackend

// Sums down long columns (`outer` small, `length` large, `inner > 1`): a bias gradient is the
// sum over every batch position of `[positions, channels]`. Splitting such a layout by column
// tiles left each task reading all of every cache line for 16 of its 64 channels (4x the
// traffic); here tasks own runs of whole rows instead, add them in Double (as before) and combine
// their partials in a fixed order, so results do not depend on scheduling.

extension CPUBackend {
    /// Row segments per outer index for a column sum, or nil where column tiles already give
    /// every core work (or the work is too small to split).
    static func columnSumSegments(_ layout: AxisLayout) -> Int? {
        let wanted = Parallel.taskCount(forElements: layout.count)
        let tiles = layout.outer * ((layout.inner + 511) / 512)
        guard layout.inner > 1, tiles < wanted else { return nil }
        let segments = min((wanted + layout.outer - 1) / layout.outer, layout.length / 64)
        return segments > 1 ? segments : nil
    }

    /// `dst[o, i] = Σ_r src[o, r, i]` with each outer index's rows split into `segments` tasks.
    static func sumColumns(_ src: UnsafePointer<Float>, layout: AxisLayout, segments: Int, _ dst: UnsafeMutablePointer<Float>) {
        let (length, inner) = (layout.length, layout.inner)
        sumRowSegments(outer: layout.outer, rows: length, segments: segments, width: inner, into: dst) { o, rows, total in
            flint_add_rows_double(src + (o * length + rows.lowerBound) * inner, rows.count, inner, inner, total)
        }
    }

    /// Column sums `dst[o, i]` of `outer` blocks of `rows` rows of `width`, each block's rows cut
    /// into `segments` tasks (all `outer · segments` run at once): `add(o, rows, total)` adds
    /// those rows of block o into its zeroed Double partial, and each block's partials are then
    /// combined in segment order, so the result does not depend on scheduling.
    static func sumRowSegments(outer: Int = 1, rows: Int, segments: Int, width: Int, into dst: UnsafeMutablePointer<Float>,
                               _ add: (Int, Range<Int>, UnsafeMutablePointer<Double>) -> Void) {
        let tasks = outer * segments
        withUnsafeTemporaryAllocation(of: Double.self, capacity: tasks * width) { partials in
            let sums = partials.baseAddress!
            Parallel.run(tasks: tasks) { task in
                let total = sums + task * width
                total.initialize(repeating: 0, count: width)
                add(task / segments, Parallel.range(task % segments, of: segments, count: rows), total)
            }
            for o in 0..<outer {
                for i in 0..<width {
                    var value: Double = 0
                    for s in 0..<segments { value += sums[(o * segments + s) * width + i] }
                    dst[o * width + i] = Float(value)
                }
            }
        }
    }
}

extension CPUBackend {
    /// ReLU's adjoint with its column sums in the same pass (`flint_relu_gradient_rows`): the
    /// bias gradient no longer reads the whole gradient back (a convolution layer's: 19 MB a
    /// step in the Keras convnet). Tasks own runs of rows and combine their Double partials in a
    /// fixed order (`sumRowSegments`, as for `sumColumns`).
    public func reluGradientWithSums(_ gradient: any DeviceBuffer, gradientOffset: Int, output: any DeviceBuffer,
                                     outputOffset: Int, rows: Int, columns: Int, out: any DeviceBuffer, sums: any DeviceBuffer) {
        let primitive: StaticString = "reluGradientWithSums"
        let (g, y) = (cpuBuffer(gradient, primitive), cpuBuffer(output, primitive))
        let (result, totals) = (cpuBuffer(out, primitive), cpuBuffer(sums, primitive))
        let count = rows * columns
        checkRange(g, offset: gradientOffset, count: count, primitive, "gradient")
        checkRange(y, offset: outputOffset, count: count, primitive, "output")
        checkOutput(result, count: count, primitive)
        checkRange(totals, offset: 0, count: columns, primitive, "sums")
        guard columns > 0 else { return }
        let source = UnsafePointer(g.floats + gradientOffset), values = UnsafePointer(y.floats + outputOffset)
        let target = result.floats
        let tasks = max(1, min(rows, Parallel.taskCount(forElements: count)))
        Self.sumRowSegments(rows: rows, segments: tasks, width: columns, into: totals.floats) { _, span, total in
            let start = span.lowerBound * columns
            flint_relu_gradient_rows(source + start, values + start, span.count, columns, target + start, total)
        }
    }
}
