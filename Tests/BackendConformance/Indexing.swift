import FlintBackend
import Testing

extension BackendConformance {
    static let indexing: [ConformanceCheck] = [
        ConformanceCheck("gather: along the middle axis, repeated and out-of-range indices (read as 0), offsets") { backend in
            // x: [outer 2, length 3, inner 2]; indices [2, 2, 2]: repeated, out of range (3, -1).
            let x = backend.upload([0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121])
            let out = backend.allocate(byteCount: 32)
            backend.gather(x, offset: 0, layout: AxisLayout(outer: 2, length: 3, inner: 2),
                           indices: backend.upload(ints: [2, 0, 2, 3, 1, -1, 0, 0]), indicesOffset: 0, indexLength: 2, out: out)
            #expect(backend.floats(out, count: 8) == [20, 1, 20, 0, 110, 0, 100, 101])
            // Rows of an embedding table: inner 1, with an index offset.
            backend.gather(backend.upload([5, 6, 7, 8]), offset: 0, layout: AxisLayout(outer: 1, length: 4, inner: 1),
                           indices: backend.upload(ints: [9, 3, 3, 0, 4]), indicesOffset: 1, indexLength: 4, out: out)
            #expect(backend.floats(out, count: 4) == [8, 8, 5, 0])

            // x: outer 2, length 4, inner 3, at offset 1; indices [2, 3, 3] at offset 1.
            let layout = AxisLayout(outer: 2, length: 4, inner: 3)
            let values = (0..<(layout.count + 1)).map { Float($0) }
            let indices: [Int32] = [3, 0, 1, 3, 3, 3, -1, 4, 2, 0, 0, 0, 2, 1, 2, 9, 3, -5]
            let result = backend.allocate(byteCount: indices.count * 4)
            backend.gather(backend.upload(values), offset: 1, layout: layout, indices: backend.upload(ints: [7] + indices),
                           indicesOffset: 1, indexLength: 3, out: result)
            var expected: [Float] = []
            for o in 0..<2 { for j in 0..<3 { for i in 0..<3 {
                let index = Int(indices[(o * 3 + j) * 3 + i])
                expected.append((0..<4).contains(index) ? values[1 + (o * 4 + index) * 3 + i] : 0)
            } } }
            #expect(backend.floats(result, count: indices.count) == expected)
        },
        ConformanceCheck("gather: int32 elements move unchanged (embedding rows)") { backend in
            let table: [Int32] = [10, 11, -12, .max, .min, 15]  // 3 rows of 2
            let out = backend.allocate(byteCount: 8 * 4)
            backend.gather(backend.upload(ints: table), offset: 0, layout: AxisLayout(outer: 1, length: 3, inner: 2),
                           indices: backend.upload(ints: [2, 2, 0, 0, 2, 2, 1, 1]), indicesOffset: 0, indexLength: 4, out: out)
            #expect(backend.ints(out, count: 8) == [.min, 15, 10, 11, .min, 15, -12, .max])
        },
        ConformanceCheck("scatterAdd: accumulates repeated indices onto the old contents, skips out-of-range ones") { backend in
            let out = backend.upload([Float](repeating: 1, count: 12))  // [2, 3, 2]
            backend.scatterAdd(backend.upload([1, 2, 3, 4, 5, 6, 7, 8]), srcOffset: 0, indices: backend.upload(ints: [2, 0, 2, 3, 1, -1, 1, 1]),
                               indicesOffset: 0, indexLength: 2, layout: AxisLayout(outer: 2, length: 3, inner: 2), out: out)
            // o=0: (j0,i0)→r2 +1, (j0,i1)→r0 +2, (j1,i0)→r2 +3, (j1,i1)→r3 skipped.
            // o=1: (j0,i0)→r1 +5, (j0,i1)→-1 skipped, (j1,i0)→r1 +7, (j1,i1)→r1 +8.
            #expect(backend.floats(out, count: 12) == [1, 3, 1, 1, 5, 1, 1, 1, 13, 9, 1, 1])

            let layout = AxisLayout(outer: 2, length: 3, inner: 2)
            let target = backend.upload([Float](repeating: 0.5, count: layout.count))
            let indices: [Int32] = [0, 1, 0, 1, 2, -1, 3, 0, 1, 1, 1, 1, 2, 2, 0, 7]  // [outer 2, indexLength 4, inner 2]
            let src = (0..<16).map { Float($0 + 1) }
            backend.scatterAdd(backend.upload([0, 0, 0] + src), srcOffset: 3, indices: backend.upload(ints: indices), indicesOffset: 0,
                               indexLength: 4, layout: layout, out: target)
            var expected = [Float](repeating: 0.5, count: layout.count)
            for o in 0..<2 { for j in 0..<4 { for i in 0..<2 {
                let g = (o * 4 + j) * 2 + i, index = Int(indices[g])
                if (0..<3).contains(index) { expected[(o * 3 + index) * 2 + i] += src[g] }
            } } }
            #expect(backend.floats(target, count: layout.count) == expected)
        },
        ConformanceCheck("scatterAdd and gather agree at embedding size (5000 × 64 into 1000 rows)") { backend in
            let (length, inner, count) = (1000, 64, 5000)
            var random = TestRandom(seed: 3)
            let index = (0..<count * inner).map { _ in Int32(truncatingIfNeeded: Int(random.next() % 1100)) }
            let values = random.floats(count * inner)
            let out = backend.upload([Float](repeating: 0, count: length * inner))
            let indices = backend.upload(ints: index)
            let layout = AxisLayout(outer: 1, length: length, inner: inner)
            backend.scatterAdd(backend.upload(values), srcOffset: 0, indices: indices, indicesOffset: 0, indexLength: count,
                               layout: layout, out: out)
            var expected = [Double](repeating: 0, count: length * inner)
            for j in 0..<count {
                for i in 0..<inner {
                    let r = Int(index[j * inner + i])
                    if r < length { expected[r * inner + i] += Double(values[j * inner + i]) }
                }
            }
            expectClose(backend.floats(out, count: length * inner), expected, tolerance: 1e-5, "scatterAdd")
            let gathered = backend.allocate(byteCount: count * inner * 4)
            backend.gather(out, offset: 0, layout: layout, indices: indices, indicesOffset: 0, indexLength: count, out: gathered)
            let table = backend.floats(out, count: length * inner), result = backend.floats(gathered, count: count * inner)
            let mismatches = (0..<(count * inner)).filter { e in
                let r = Int(index[e])
                return result[e] != (r < length ? table[r * inner + e % inner] : 0)
            }
            #expect(mismatches.isEmpty)
        },
        ConformanceCheck("scatterAdd: 50k additions onto three places are exact for integers") { backend in
            let count = 50_000
            let out = backend.upload([0, 0, 0, 0])
            backend.scatterAdd(backend.upload([Float](repeating: 1, count: count)), srcOffset: 0,
                               indices: backend.upload(ints: (0..<count).map { Int32($0 % 3) }), indicesOffset: 0,
                               indexLength: count, layout: AxisLayout(outer: 1, length: 4, inner: 1), out: out)
            #expect(backend.floats(out, count: 4) == [16_667, 16_667, 16_666, 0])
        },
    ]
}
