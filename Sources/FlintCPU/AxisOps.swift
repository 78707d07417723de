#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CVectorMath
import FlintBackend
import Foundation

// Primitives along the middle axis of an `AxisLayout` `[outer, length, inner]`.
// With `inner == 1` the axis is a contiguous row (vectorised row kernels, long rows split
// into segments across cores); with `inner > 1` it is a column walk, vectorised across a
// tile of neighbouring columns, with tasks over (outer, column tile).

extension CPUBackend {
    // MARK: reduce

    public func reduce(_ op: ReduceOp, _ x: any DeviceBuffer, offset: Int, layout: AxisLayout, out: any DeviceBuffer) {
        let input = cpuBuffer(x, "reduce")
        let output = cpuBuffer(out, "reduce")
        checkLayout(layout, "reduce")
        ensure(layout.length >= 1, "CPUBackend.reduce: empty reduction axis in \(layout)")
        checkRange(input, offset: offset, count: layout.count, "reduce", "input")
        checkRange(output, offset: 0, count: layout.outer * layout.inner, "reduce", "output")
        guard layout.count > 0 else { return }
        let src = UnsafePointer(input.floats + offset), dst = output.floats
        if layout.inner == 1 {
            switch op {
            case .sum:
                Self.reduceRows(src, rows: layout.outer, length: layout.length, dst, combine: { $0 + $1 }) { p, n in
                    Self.sumRow(p, n)
                } finish: { Float($0) }
            case .max:
                Self.reduceRows(src, rows: layout.outer, length: layout.length, dst, combine: Self.maxPropagatingNaN) {
                    p, n in Self.extremeRow(p, n, greater: true)
                } finish: { $0 }
            case .min:
                Self.reduceRows(src, rows: layout.outer, length: layout.length, dst, combine: Self.minPropagatingNaN) {
                    p, n in Self.extremeRow(p, n, greater: false)
                } finish: { $0 }
            }
            return
        }
        if op == .sum, let segments = Self.columnSumSegments(layout) {
            Self.sumColumns(src, layout: layout, segments: segments, dst)
            return
        }
        let tiles = ColumnTiles(layout: layout, maximumWidth: 512)
        let (length, inner) = (layout.length, layout.inner)
        Parallel.forEachTask(tiles.count, work: layout.count) { task in
            let (o, columns) = tiles[task]
            let w = columns.count
            let base = src + o * length * inner + columns.lowerBound
            let target = dst + o * inner + columns.lowerBound
            switch op {
            case .sum:
                withUnsafeTemporaryAllocation(of: Double.self, capacity: w) { buffer in
                    let acc = buffer.baseAddress!
                    acc.initialize(repeating: 0, count: w)
                    flint_add_rows_double(base, length, inner, w, acc)
                    for i in 0..<w { target[i] = Float(acc[i]) }
                }
            case .max:
                target.update(from: base, count: w)
                for r in 1..<length {
                    let row = base + r * inner
                    for i in 0..<w { target[i] = Self.maxPropagatingNaN(target[i], row[i]) }
                }
            case .min:
                target.update(from: base, count: w)
                for r in 1..<length {
                    let row = base + r * inner
                    for i in 0..<w { target[i] = Self.minPropagatingNaN(target[i], row[i]) }
                }
            }
        }
    }

    // MARK: argmax

    public func argmax(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, out: any DeviceBuffer) {
        let input = cpuBuffer(x, "argmax")
        let output = cpuBuffer(out, "argmax")
        checkLayout(layout, "argmax")
        ensure(layout.length >= 1, "CPUBackend.argmax: empty axis in \(layout)")
        checkRange(input, offset: offset, count: layout.count, "argmax", "input")
        checkRange(output, offset: 0, count: layout.outer * layout.inner, "argmax", "output")
        guard layout.count > 0 else { return }
        let src = UnsafePointer(input.floats + offset), dst = output.ints
        let (length, inner) = (layout.length, layout.inner)
        if inner == 1 {
            // (value, index) of each segment; segments are combined in order, so a tie keeps
            // the earlier index.
            Self.reduceRows(
                src, rows: layout.outer, length: length, dst,
                combine: { a, b in Self.isBetter(b.value, than: a.value) ? b : a },
                partial: { p, n in Self.argmaxRow(p, n) },
                finish: { Int32(truncatingIfNeeded: $0.index) },
                segmentStart: { partial, start in (partial.value, partial.index + start) })
            return
        }
        if inner <= 1024 {
            // Narrow rows (max-pool windows: length = taps, inner = channels): many outer rows
            // per task and one scratch row per task, not per outer row.
            Parallel.forEachRange(count: layout.outer, minimumChunk: Swift.max(1, 32_768 / (length * inner))) { rows in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: inner) { buffer in
                    let best = buffer.baseAddress!
                    for o in rows {
                        let base = src + o * length * inner, target = dst + o * inner
                        if inner % 8 == 0 {
                            Self.argmaxColumns8(base, length: length, inner: inner, target)
                            continue
                        }
                        Self.argmaxColumns(base, length: length, rowStride: inner, width: inner, target, scratch: best)
                    }
                }
            }
            return
        }
        let tiles = ColumnTiles(layout: layout, maximumWidth: 512)
        Parallel.forEachTask(tiles.count, work: layout.count) { task in
            let (o, columns) = tiles[task]
            let w = columns.count
            let base = src + o * length * inner + columns.lowerBound
            let target = dst + o * inner + columns.lowerBound
            withUnsafeTemporaryAllocation(of: Float.self, capacity: w) { buffer in
                Self.argmaxColumns(base, length: length, rowStride: inner, width: w, target, scratch: buffer.baseAddress!)
            }
        }
    }

    // MARK: softmax

    public func softmax(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, log: Bool, out: any DeviceBuffer) {
        let input = cpuBuffer(x, "softmax")
        let output = cpuBuffer(out, "softmax")
        checkLayout(layout, "softmax")
        checkRange(input, offset: offset, count: layout.count, "softmax", "input")
        checkRange(output, offset: 0, count: layout.count, "softmax", "output")
        guard layout.count > 0 else { return }
        let src = UnsafePointer(input.floats + offset), dst = output.floats
        let (length, inner) = (layout.length, layout.inner)
        if inner == 1 {
            let rowsPerTask = max(1, Parallel.minimumChunk / length)
            let tasks = (layout.outer + rowsPerTask - 1) / rowsPerTask
            Parallel.forEachTask(tasks, work: layout.count) { task in
                let rows = (task * rowsPerTask)..<min(layout.outer, (task + 1) * rowsPerTask)
                for row in rows {
                    let p = src + row * length, q = dst + row * length
                    let m = Self.extremeRow(p, length, greater: true)
                    var sum: Double = 0
                    if log {
                        for r in 0..<length { sum += Double(FastMath.exp(p[r] - m)) }
                        let logSum = Float(Foundation.log(sum))
                        for r in 0..<length { q[r] = (p[r] - m) - logSum }
                    } else {
                        for r in 0..<length {
                            let e = FastMath.exp(p[r] - m)
                            q[r] = e
                            sum += Double(e)
                        }
                        let scale = Float(1 / sum)
                        for r in 0..<length { q[r] *= scale }
                    }
                }
            }
            return
        }
        let tiles = ColumnTiles(layout: layout, maximumWidth: 256)
        Parallel.forEachTask(tiles.count, work: layout.count) { task in
            let (o, columns) = tiles[task]
            let w = columns.count
            let base = src + o * length * inner + columns.lowerBound
            let target = dst + o * length * inner + columns.lowerBound
            withUnsafeTemporaryAllocation(of: Float.self, capacity: w) { maxBuffer in
                withUnsafeTemporaryAllocation(of: Double.self, capacity: w) { sumBuffer in
                    let m = maxBuffer.baseAddress!, sum = sumBuffer.baseAddress!
                    m.initialize(from: base, count: w)
                    for r in 1..<length {
                        let row = base + r * inner
                        for i in 0..<w { m[i] = Self.maxPropagatingNaN(m[i], row[i]) }
                    }
                    sum.initialize(repeating: 0, count: w)
                    if log {
                        for r in 0..<length {
                            let row = base + r * inner
                            for i in 0..<w { sum[i] += Double(FastMath.exp(row[i] - m[i])) }
                        }
                        // m[i] + log(sum[i]) would round twice; keep them apart as in the row path.
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: w) { logBuffer in
                            let logSum = logBuffer.baseAddress!
                            for i in 0..<w { logSum[i] = Float(Foundation.log(sum[i])) }
                            for r in 0..<length {
                                let row = base + r * inner, q = target + r * inner
                                for i in 0..<w { q[i] = (row[i] - m[i]) - logSum[i] }
                            }
                        }
                    } else {
                        for r in 0..<length {
                            let row = base + r * inner, q = target + r * inner
                            for i in 0..<w {
                                let e = FastMath.exp(row[i] - m[i])
                                q[i] = e
                                sum[i] += Double(e)
                            }
                        }
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: w) { scaleBuffer in
                            let scale = scaleBuffer.baseAddress!
                            for i in 0..<w { scale[i] = Float(1 / sum[i]) }
                            for r in 0..<length {
                                let q = target + r * inner
                                for i in 0..<w { q[i] *= scale[i] }
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: gather / scatterAdd

    public func gather(
        _ x: any DeviceBuffer, offset: Int, layout: AxisLayout,
        indices: any DeviceBuffer, indicesOffset: Int, indexLength: Int, out: any DeviceBuffer
    ) {
        let input = cpuBuffer(x, "gather")
        let indexBuffer = cpuBuffer(indices, "gather")
        let output = cpuBuffer(out, "gather")
        checkLayout(layout, "gather")
        ensure(indexLength >= 0, "CPUBackend.gather: negative indexLength \(indexLength)")
        let count = layout.outer * indexLength * layout.inner
        checkRange(input, offset: offset, count: layout.count, "gather", "input")
        checkRange(indexBuffer, offset: indicesOffset, count: count, "gather", "indices")
        checkRange(output, offset: 0, count: count, "gather", "output")
        guard count > 0 else { return }
        let src = UnsafePointer(input.words + offset)
        let index = UnsafePointer(indexBuffer.ints + indicesOffset)
        let dst = output.words
        let (length, inner) = (layout.length, layout.inner)
        Parallel.forEachRange(count: count) { range in
            // Walk the range row by row; a row is `inner` elements sharing (o, j).
            var position = range.lowerBound
            var row = position / inner
            var column = position % inner
            while position < range.upperBound {
                let n = min(inner - column, range.upperBound - position)
                let o = row / indexLength
                let source = src + o * length * inner
                let k = index + row * inner, q = dst + row * inner
                for c in column..<(column + n) {
                    let r = Int(k[c])
                    q[c] = r >= 0 && r < length ? source[r * inner + c] : 0
                }
                position += n
                row += 1
                column = 0
            }
        }
    }

    public func scatterAdd(
        _ src: any DeviceBuffer, srcOffset: Int,
        indices: any DeviceBuffer, indicesOffset: Int, indexLength: Int,
        layout: AxisLayout, out: any DeviceBuffer
    ) {
        let source = cpuBuffer(src, "scatterAdd")
        let indexBuffer = cpuBuffer(indices, "scatterAdd")
        let output = cpuBuffer(out, "scatterAdd")
        checkLayout(layout, "scatterAdd")
        ensure(indexLength >= 0, "CPUBackend.scatterAdd: negative indexLength \(indexLength)")
        let count = layout.outer * indexLength * layout.inner
        checkRange(source, offset: srcOffset, count: count, "scatterAdd", "src")
        checkRange(indexBuffer, offset: indicesOffset, count: count, "scatterAdd", "indices")
        checkRange(output, offset: 0, count: layout.count, "scatterAdd", "output")
        guard count > 0, layout.length > 0 else { return }
        let values = UnsafePointer(source.floats + srcOffset)
        let index = UnsafePointer(indexBuffer.ints + indicesOffset)
        let dst = output.floats
        let (length, inner) = (layout.length, layout.inner)
        // out[o, k, i] only ever receives src[o, j, i] (same o, same i), so tasks over
        // (o, column tile) never write the same element.
        let tiles = ColumnTiles(
            outer: layout.outer, inner: inner, work: count, maximumWidth: max(inner, 1), minimumWidth: 64)
        Parallel.forEachTask(tiles.count, work: count) { task in
            let (o, columns) = tiles[task]
            let target = dst + o * length * inner
            for j in 0..<indexLength {
                let row = (o * indexLength + j) * inner
                let k = index + row, v = values + row
                for c in columns {
                    let r = Int(k[c])
                    if r >= 0 && r < length { target[r * inner + c] += v[c] }
                }
            }
        }
    }

    // MARK: Helpers

    func checkLayout(_ layout: AxisLayout, _ primitive: StaticString) {
        ensure(
            layout.outer >= 0 && layout.length >= 0 && layout.inner >= 0,
            "CPUBackend.\(primitive): negative extent in \(layout)")
    }

    /// Reduces each of `rows` contiguous rows of `length` elements to one output, splitting
    /// long rows into segments across cores when there are fewer rows than tasks.
    /// `partial` reduces a piece of a row, `segmentStart` adjusts a segment's partial result
    /// for where the segment starts, `combine` merges partial results in row order and
    /// `finish` turns the row's result into the output element.
    @inline(__always)
    static func reduceRows<Partial, Output>(
        _ src: UnsafePointer<Float>, rows: Int, length: Int, _ dst: UnsafeMutablePointer<Output>,
        combine: (Partial, Partial) -> Partial,
        partial: (UnsafePointer<Float>, Int) -> Partial,
        finish: (Partial) -> Output,
        segmentStart: (Partial, Int) -> Partial = { partial, _ in partial }
    ) {
        let total = rows * length
        let tasks = Parallel.taskCount(forElements: total)
        if tasks <= 1 || rows >= tasks {
            Parallel.run(tasks: tasks) { task in
                for row in Parallel.range(task, of: tasks, count: rows) {
                    dst[row] = finish(partial(src + row * length, length))
                }
            }
            return
        }
        let segments = min(length, (tasks + rows - 1) / rows)
        withUnsafeTemporaryAllocation(of: Partial.self, capacity: rows * segments) { buffer in
            let results = buffer.baseAddress!
            Parallel.run(tasks: rows * segments) { task in
                let row = task / segments
                let piece = Parallel.range(task % segments, of: segments, count: length)
                let value = partial(src + row * length + piece.lowerBound, piece.count)
                (results + task).initialize(to: segmentStart(value, piece.lowerBound))
            }
            for row in 0..<rows {
                var value = results[row * segments]
                for s in 1..<segments { value = combine(value, results[row * segments + s]) }
                dst[row] = finish(value)
            }
            (results).deinitialize(count: rows * segments)
        }
    }

    /// Sum of `n >= 1` floats: 32 float lanes per block of 2048, blocks added in Double, so
    /// long rows keep about Float precision relative to the sum of magnitudes.
    @inline(__always)
    static func sumRow(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        typealias Vector = SIMD16<Float>
        let raw = UnsafeRawPointer(p)
        var total: Double = 0
        var i = 0
        while i < n {
            let end = min(n, i + 2048)
            var a = Vector(), b = Vector()
            while i + 32 <= end {
                a += raw.loadUnaligned(fromByteOffset: i * 4, as: Vector.self)
                b += raw.loadUnaligned(fromByteOffset: (i + 16) * 4, as: Vector.self)
                i += 32
            }
            var block = Double((a + b).sum())
            while i < end {
                block += Double(p[i])
                i += 1
            }
            total += block
        }
        return total
    }

    /// Largest (or smallest) of `n >= 1` floats; NaN if any is NaN.
    @inline(__always)
    static func extremeRow(_ p: UnsafePointer<Float>, _ n: Int, greater: Bool) -> Float {
        typealias Vector = SIMD16<Float>
        let raw = UnsafeRawPointer(p)
        var i = 0
        var result = p[0]
        if n >= 32 {
            var a = raw.loadUnaligned(as: Vector.self)
            var b = a
            // The first 16 elements seed `a` and `b`; a NaN among them must count too.
            var nan = a .!= a
            i = 16
            while i + 32 <= n {
                let u = raw.loadUnaligned(fromByteOffset: i * 4, as: Vector.self)
                let v = raw.loadUnaligned(fromByteOffset: (i + 16) * 4, as: Vector.self)
                nan .|= (u .!= u) .| (v .!= v)
                if greater {
                    a.replace(with: u, where: u .> a)
                    b.replace(with: v, where: v .> b)
                } else {
                    a.replace(with: u, where: u .< a)
                    b.replace(with: v, where: v .< b)
                }
                i += 32
            }
            if any(nan) { return .nan }
            a = greater ? pointwiseMax(a, b) : pointwiseMin(a, b)
            result = greater ? a.max() : a.min()
        }
        while i < n {
            result = greater ? maxPropagatingNaN(result, p[i]) : minPropagatingNaN(result, p[i])
            i += 1
        }
        return result
    }

    /// (largest value, first index of it) of `n >= 1` floats; a NaN counts as largest.
    @inline(__always)
    static func argmaxRow(_ p: UnsafePointer<Float>, _ n: Int) -> (value: Float, index: Int) {
        if n < 64 {
            var best = p[0], index = 0
            for r in 1..<n where isBetter(p[r], than: best) {
                best = p[r]
                index = r
            }
            return (best, index)
        }
        // Long rows: a vectorised maximum, then a scan for its first occurrence.
        let m = extremeRow(p, n, greater: true)
        if m.isNaN {
            for r in 0..<n where p[r].isNaN { return (p[r], r) }
        } else {
            for r in 0..<n where p[r] == m { return (m, r) }
        }
        return (p[0], 0)
    }

    /// Whether `candidate` beats the best so far for argmax: larger, or the first NaN.
    @inline(__always)
    /// Column-wise argmax of `width` columns over `length` rows `rowStride` apart, keeping the
    /// running maxima in `scratch` (`width` floats).
    static func argmaxColumns(_ base: UnsafePointer<Float>, length: Int, rowStride: Int, width: Int,
                              _ target: UnsafeMutablePointer<Int32>, scratch best: UnsafeMutablePointer<Float>) {
        best.update(from: base, count: width)
        target.update(repeating: 0, count: width)
        for r in 1..<length {
            let row = base + r * rowStride
            let index = Int32(truncatingIfNeeded: r)
            for i in 0..<width {
                let v = row[i]
                let better = isBetter(v, than: best[i])
                best[i] = better ? v : best[i]
                target[i] = better ? index : target[i]
            }
        }
    }

    /// Column-wise argmax of a `[length, inner]` block with `inner` a multiple of 8, eight
    /// columns at a time in SIMD registers (the scalar loop does not vectorise: Swift cannot
    /// prove the pointers distinct). Same tie and NaN rules as `isBetter`.
    static func argmaxColumns8(_ base: UnsafePointer<Float>, length: Int, inner: Int, _ target: UnsafeMutablePointer<Int32>) {
        let raw = UnsafeRawPointer(base)
        for column in stride(from: 0, to: inner, by: 8) {
            var best = raw.loadUnaligned(fromByteOffset: column * 4, as: SIMD8<Float>.self)
            var index = SIMD8<Int32>(repeating: 0)
            for r in 1..<length {
                let v = raw.loadUnaligned(fromByteOffset: (r * inner + column) * 4, as: SIMD8<Float>.self)
                let better = (v .> best) .| ((v .!= v) .& (best .== best))
                best.replace(with: v, where: better)
                // Float and Int32 lanes share one mask type, so the same mask selects both.
                index.replace(with: SIMD8(repeating: Int32(truncatingIfNeeded: r)), where: better)
            }
            UnsafeMutableRawPointer(target + column).storeBytes(of: index, as: SIMD8<Int32>.self)
        }
    }

    static func isBetter(_ candidate: Float, than best: Float) -> Bool {
        candidate > best || (candidate != candidate && best == best)
    }

    @inline(__always)
    static func maxPropagatingNaN(_ a: Float, _ b: Float) -> Float {
        b > a || b != b ? b : a
    }

    @inline(__always)
    static func minPropagatingNaN(_ a: Float, _ b: Float) -> Float {
        b < a || b != b ? b : a
    }
}

/// Tasks over (outer index, tile of neighbouring columns) for column-wise axis primitives.
struct ColumnTiles {
    let tilesPerRow: Int
    let width: Int
    let inner: Int
    let count: Int

    /// Tiles of at most `maximumWidth` columns, split further (down to `minimumWidth`
    /// columns) when there are too few tasks to keep the cores busy.
    init(outer: Int, inner: Int, work: Int, maximumWidth: Int, minimumWidth: Int = 16) {
        let wanted = Parallel.taskCount(forElements: work)
        var perRow = (inner + maximumWidth - 1) / maximumWidth
        if outer * perRow < wanted {
            let narrowest = (inner + minimumWidth - 1) / minimumWidth
            perRow = max(perRow, min(narrowest, (wanted + outer - 1) / outer))
        }
        perRow = max(perRow, 1)
        width = max(1, (inner + perRow - 1) / perRow)
        tilesPerRow = (inner + width - 1) / width
        self.inner = inner
        count = outer * tilesPerRow
    }

    init(layout: AxisLayout, maximumWidth: Int) {
        self.init(outer: layout.outer, inner: layout.inner, work: layout.count, maximumWidth: maximumWidth)
    }

    subscript(task: Int) -> (outer: Int, columns: Range<Int>) {
        let o = task / tilesPerRow
        let start = (task % tilesPerRow) * width
        return (o, start..<min(inner, start + width))
    }
}
