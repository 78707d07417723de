import FlintBackend
import FlintCPU
import Foundation
import Testing

@Suite struct AxisTests {
    /// Reference reduction of `x` laid out as `layout`.
    static func reference(_ op: ReduceOp, _ x: [Float], _ layout: AxisLayout) -> [Double] {
        var out: [Double] = []
        for o in 0..<layout.outer {
            for i in 0..<layout.inner {
                let column = (0..<layout.length).map { Double(x[(o * layout.length + $0) * layout.inner + i]) }
                switch op {
                case .sum: out.append(column.reduce(0, +))
                case .max: out.append(column.max()!)
                case .min: out.append(column.min()!)
                }
            }
        }
        return out
    }

    static let layouts = [
        AxisLayout(outer: 2, length: 3, inner: 4),
        AxisLayout(outer: 3, length: 37, inner: 1),
        AxisLayout(outer: 1, length: 1, inner: 5),
        AxisLayout(outer: 2, length: 70, inner: 3),
        AxisLayout(outer: 1, length: 100, inner: 1),
    ]

    @Test(arguments: ReduceOp.allCases, layouts)
    func reduceAlongTheMiddleAxis(_ op: ReduceOp, _ layout: AxisLayout) {
        var random = TestRandom(seed: UInt64(layout.count))
        let values = random.floats(layout.count + 2)
        let x = makeBuffer(values)
        let out = backend.allocate(byteCount: layout.outer * layout.inner * 4)
        // Offset 2 into the buffer.
        backend.reduce(op, x, offset: 2, layout: layout, out: out)
        let expected = Self.reference(op, Array(values[2...]), layout)
        expectClose(readFloats(out, count: expected.count), expected, tolerance: 1e-6)
    }

    @Test func reduceHandwritten() {
        // [2, 3, 2]: reduce the middle axis.
        let x = makeBuffer([1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6])
        let out = backend.allocate(byteCount: 16)
        let layout = AxisLayout(outer: 2, length: 3, inner: 2)
        backend.reduce(.sum, x, offset: 0, layout: layout, out: out)
        #expect(readFloats(out, count: 4) == [9, 12, -9, -12])
        backend.reduce(.max, x, offset: 0, layout: layout, out: out)
        #expect(readFloats(out, count: 4) == [5, 6, -1, -2])
        backend.reduce(.min, x, offset: 0, layout: layout, out: out)
        #expect(readFloats(out, count: 4) == [1, 2, -5, -6])
    }

    @Test func maxPropagatesNaN() {
        var values = [Float](repeating: 1, count: 100)
        values[70] = .nan
        let x = makeBuffer(values)
        let out = backend.allocate(byteCount: 4)
        backend.reduce(.max, x, offset: 0, layout: AxisLayout(outer: 1, length: 100, inner: 1), out: out)
        #expect(readFloats(out, count: 1)[0].isNaN)
    }

    @Test func largeSumIsAccurate() {
        // 16M elements, summed as one row and as 4 columns.
        let count = 1 << 24
        let buffer = backend.allocate(byteCount: count * 4)
        let pointer = (buffer as! CPUBuffer).pointer.assumingMemoryBound(to: Float.self)
        var exact: Double = 0
        for i in 0..<count {
            let v = Float(i % 1013) * 0.001 + 0.1
            pointer[i] = v
            exact += Double(v)
        }
        let out = backend.allocate(byteCount: 16)
        backend.reduce(.sum, buffer, offset: 0, layout: AxisLayout(outer: 1, length: count, inner: 1), out: out)
        let total = Double(readFloats(out, count: 1)[0])
        #expect(abs(total - exact) / exact < 1e-5)

        backend.reduce(.sum, buffer, offset: 0, layout: AxisLayout(outer: 4, length: count / 4, inner: 1), out: out)
        let quarters = readFloats(out, count: 4).map(Double.init)
        #expect(abs(quarters.reduce(0, +) - exact) / exact < 1e-5)

        backend.reduce(.sum, buffer, offset: 0, layout: AxisLayout(outer: 1, length: count / 4, inner: 4), out: out)
        let columns = readFloats(out, count: 4).map(Double.init)
        #expect(abs(columns.reduce(0, +) - exact) / exact < 1e-5)

        backend.reduce(.max, buffer, offset: 0, layout: AxisLayout(outer: 1, length: count, inner: 1), out: out)
        #expect(readFloats(out, count: 1)[0] == Float(1012) * 0.001 + 0.1)

        let index = backend.allocate(byteCount: 4)
        backend.argmax(buffer, offset: 0, layout: AxisLayout(outer: 1, length: count, inner: 1), out: index)
        #expect(readInts(index, count: 1) == [1012])
    }

    @Test func argmaxTakesTheFirstMaximum() {
        // Rows: [3, 1, 3, 2] → 0; [0, 5, 5, 5] → 1.
        let x = makeBuffer([3, 1, 3, 2, 0, 5, 5, 5])
        let out = backend.allocate(byteCount: 8)
        backend.argmax(x, offset: 0, layout: AxisLayout(outer: 2, length: 4, inner: 1), out: out)
        #expect(readInts(out, count: 2) == [0, 1])
        // Columns of a [4, 2] matrix (inner 2): column 0 = [3, 3, 0, 5] → 3, column 1 = [1, 2, 5, 5] → 2.
        backend.argmax(x, offset: 0, layout: AxisLayout(outer: 1, length: 4, inner: 2), out: out)
        #expect(readInts(out, count: 2) == [3, 2])
        // Long row with ties spread across parallel segments.
        let count = 300_000
        var values = [Float](repeating: 0, count: count)
        values[123_457] = 9
        values[250_000] = 9
        let long = makeBuffer(values)
        backend.argmax(long, offset: 0, layout: AxisLayout(outer: 1, length: count, inner: 1), out: out)
        #expect(readInts(out, count: 1) == [123_457])
    }

    @Test(arguments: [AxisLayout(outer: 3, length: 5, inner: 1), AxisLayout(outer: 2, length: 4, inner: 3)])
    func softmaxSumsToOneAndLogMatches(_ layout: AxisLayout) {
        var random = TestRandom(seed: 7)
        let values = random.floats(layout.count).map { $0 * 20 }
        let x = makeBuffer(values)
        let probabilities = backend.allocate(byteCount: layout.count * 4)
        let logs = backend.allocate(byteCount: layout.count * 4)
        backend.softmax(x, offset: 0, layout: layout, log: false, out: probabilities)
        backend.softmax(x, offset: 0, layout: layout, log: true, out: logs)
        let p = readFloats(probabilities, count: layout.count)
        let l = readFloats(logs, count: layout.count)
        for o in 0..<layout.outer {
            for i in 0..<layout.inner {
                let indices = (0..<layout.length).map { (o * layout.length + $0) * layout.inner + i }
                let column = indices.map { Double(values[$0]) }
                let m = column.max()!
                let logSum = Foundation.log(column.map { Foundation.exp($0 - m) }.reduce(0, +))
                let total = indices.map { Double(p[$0]) }.reduce(0, +)
                #expect(abs(total - 1) < 1e-6)
                for (index, v) in zip(indices, column) {
                    let expectedLog = v - m - logSum
                    #expect(abs(Double(l[index]) - expectedLog) < 1e-5)
                    #expect(abs(Double(p[index]) - Foundation.exp(expectedLog)) < 1e-6)
                }
            }
        }
    }

    @Test func softmaxIsStableForLargeInputs() {
        let x = makeBuffer([1000, 1000, -1000])
        let out = backend.allocate(byteCount: 12)
        backend.softmax(x, offset: 0, layout: AxisLayout(outer: 1, length: 3, inner: 1), log: false, out: out)
        #expect(readFloats(out, count: 3) == [0.5, 0.5, 0])
        backend.softmax(x, offset: 0, layout: AxisLayout(outer: 1, length: 3, inner: 1), log: true, out: out)
        let logs = readFloats(out, count: 3)
        #expect(abs(logs[0] - -Float(M_LN2)) < 1e-6 && logs[2] == -2000 - Float(M_LN2))
    }

    @Test func gatherAlongTheMiddleAxis() {
        // x: [outer 2, length 3, inner 2]
        let x = makeBuffer([0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121])
        // indices: [2, 2, 2]; repeated, out-of-range (3, -1) read 0.
        let indices = makeIntBuffer([Int32(2), 0, 2, 3, 1, -1, 0, 0])
        let out = backend.allocate(byteCount: 32)
        backend.gather(
            x, offset: 0, layout: AxisLayout(outer: 2, length: 3, inner: 2),
            indices: indices, indicesOffset: 0, indexLength: 2, out: out)
        #expect(readFloats(out, count: 8) == [20, 1, 20, 0, 110, 0, 100, 101])
        // Rows of an embedding table: inner 1 per index, with an index offset.
        let table = makeBuffer([5, 6, 7, 8])
        let rows = makeIntBuffer([Int32(9), 3, 3, 0, 4])
        backend.gather(
            table, offset: 0, layout: AxisLayout(outer: 1, length: 4, inner: 1),
            indices: rows, indicesOffset: 1, indexLength: 4, out: out)
        #expect(readFloats(out, count: 4) == [8, 8, 5, 0])
    }

    @Test func scatterAddAccumulatesRepeatedIndices() {
        let out = makeBuffer([Float](repeating: 1, count: 12))  // [2, 3, 2]
        let src = makeBuffer([1, 2, 3, 4, 5, 6, 7, 8])  // [2, 2, 2]
        let indices = makeIntBuffer([Int32(2), 0, 2, 3, 1, -1, 1, 1])
        backend.scatterAdd(
            src, srcOffset: 0, indices: indices, indicesOffset: 0, indexLength: 2,
            layout: AxisLayout(outer: 2, length: 3, inner: 2), out: out)
        // o=0: (j0,i0)→r2 +1, (j0,i1)→r0 +2, (j1,i0)→r2 +3, (j1,i1)→r3 skipped.
        // o=1: (j0,i0)→r1 +5, (j0,i1)→-1 skipped, (j1,i0)→r1 +7, (j1,i1)→r1 +8.
        #expect(readFloats(out, count: 12) == [1, 3, 1, 1, 5, 1, 1, 1, 13, 9, 1, 1])
    }

    @Test func largeScatterAddAndGatherAgree() {
        // Embedding-style: out [1, 1000, 64], 50_000 rows of indices.
        let (length, inner, count) = (1000, 64, 5000)
        var random = TestRandom(seed: 3)
        let index = (0..<count * inner).map { _ in Int32(truncatingIfNeeded: Int(random.next() % 1100)) }
        let values = random.floats(count * inner)
        let out = makeBuffer([Float](repeating: 0, count: length * inner))
        let src = makeBuffer(values)
        let indices = makeIntBuffer(index)
        let layout = AxisLayout(outer: 1, length: length, inner: inner)
        backend.scatterAdd(src, srcOffset: 0, indices: indices, indicesOffset: 0, indexLength: count, layout: layout, out: out)
        var expected = [Double](repeating: 0, count: length * inner)
        for j in 0..<count {
            for i in 0..<inner {
                let r = Int(index[j * inner + i])
                if r < length { expected[r * inner + i] += Double(values[j * inner + i]) }
            }
        }
        expectClose(readFloats(out, count: length * inner), expected, tolerance: 1e-5)

        let gathered = backend.allocate(byteCount: count * inner * 4)
        backend.gather(out, offset: 0, layout: layout, indices: indices, indicesOffset: 0, indexLength: count, out: gathered)
        let table = readFloats(out, count: length * inner)
        let result = readFloats(gathered, count: count * inner)
        var mismatches = 0
        for e in 0..<(count * inner) {
            let r = Int(index[e])
            let want: Float = r < length ? table[r * inner + e % inner] : 0
            if result[e] != want { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }
}
