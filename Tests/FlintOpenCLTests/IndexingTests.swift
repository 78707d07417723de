import FlintBackend
import FlintOpenCL
import Testing

@Suite("OpenCL gather and scatter-add", .enabled(if: TestDevice.available))
struct IndexingTests {
    @Test("gather with repeated and out-of-range indices")
    func gather() throws {
        let backend = try TestDevice.backend()
        // x: outer 2, length 4, inner 3, at offset 1.
        let layout = AxisLayout(outer: 2, length: 4, inner: 3)
        let values = (0..<(layout.count + 1)).map { Float($0) }
        let x = backend.upload(values)
        // indices: [2, 3, 3] (outer, indexLength, inner).
        let indices: [Int32] = [
            3, 0, 1, 3, 3, 3, -1, 4, 2,
            0, 0, 0, 2, 1, 2, 9, 3, -5,
        ]
        let indexBuffer = backend.upload(ints: [7] + indices)
        let out = backend.allocate(byteCount: indices.count * 4)
        backend.gather(x, offset: 1, layout: layout, indices: indexBuffer, indicesOffset: 1, indexLength: 3, out: out)
        var expected: [Float] = []
        for o in 0..<2 {
            for j in 0..<3 {
                for i in 0..<3 {
                    let index = Int(indices[(o * 3 + j) * 3 + i])
                    expected.append((0..<4).contains(index) ? values[1 + (o * 4 + index) * 3 + i] : 0)
                }
            }
        }
        #expect(backend.floats(out, count: indices.count) == expected)
    }

    @Test("gather moves int32 elements unchanged (embedding rows)")
    func gatherInts() throws {
        let backend = try TestDevice.backend()
        let table: [Int32] = [10, 11, -12, .max, .min, 15]  // 3 rows of 2
        let x = backend.upload(ints: table)
        // Rows 2, 0, 2, 1; the index is repeated across the inner axis of width 2.
        let indices = backend.upload(ints: [2, 2, 0, 0, 2, 2, 1, 1])
        let out = backend.allocate(byteCount: 8 * 4)
        backend.gather(
            x, offset: 0, layout: AxisLayout(outer: 1, length: 3, inner: 2),
            indices: indices, indicesOffset: 0, indexLength: 4, out: out)
        #expect(backend.ints(out, count: 8) == [.min, 15, 10, 11, .min, 15, -12, .max])
    }

    @Test("scatter-add accumulates repeated indices and skips out-of-range ones")
    func scatterAdd() throws {
        let backend = try TestDevice.backend()
        let layout = AxisLayout(outer: 2, length: 3, inner: 2)
        let out = backend.upload([Float](repeating: 0.5, count: layout.count))
        // src / indices: [outer 2, indexLength 4, inner 2].
        let indices: [Int32] = [
            0, 1, 0, 1, 2, -1, 3, 0,
            1, 1, 1, 1, 2, 2, 0, 7,
        ]
        let src = (0..<16).map { Float($0 + 1) }
        backend.scatterAdd(
            backend.upload([0, 0, 0] + src), srcOffset: 3, indices: backend.upload(ints: indices), indicesOffset: 0,
            indexLength: 4, layout: layout, out: out)
        var expected = [Float](repeating: 0.5, count: layout.count)
        for o in 0..<2 {
            for j in 0..<4 {
                for i in 0..<2 {
                    let g = (o * 4 + j) * 2 + i
                    let index = Int(indices[g])
                    if (0..<3).contains(index) { expected[(o * 3 + index) * 2 + i] += src[g] }
                }
            }
        }
        #expect(backend.floats(out, count: layout.count) == expected)
    }

    @Test("scatter-add under heavy contention is exact for integers")
    func scatterAddContention() throws {
        let backend = try TestDevice.backend()
        let count = 50_000
        let out = backend.upload([0, 0, 0, 0])
        let indices = backend.upload(ints: (0..<count).map { Int32($0 % 3) })
        backend.scatterAdd(
            backend.upload([Float](repeating: 1, count: count)), srcOffset: 0, indices: indices, indicesOffset: 0,
            indexLength: count, layout: AxisLayout(outer: 1, length: 4, inner: 1), out: out)
        #expect(backend.floats(out, count: 4) == [16_667, 16_667, 16_666, 0])
    }
}
