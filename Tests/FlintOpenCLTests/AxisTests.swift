import FlintBackend
import FlintOpenCL
import Foundation
import Testing

@Suite("OpenCL reductions, argmax and softmax", .enabled(if: TestDevice.available))
struct AxisTests {
    /// Float64 reference of a reduction of `values` viewed as `layout`.
    static func reference(_ op: ReduceOp, _ values: [Float], offset: Int, _ layout: AxisLayout) -> [Double] {
        var result: [Double] = []
        for o in 0..<layout.outer {
            for i in 0..<layout.inner {
                let run = (0..<layout.length).map { Double(values[offset + (o * layout.length + $0) * layout.inner + i]) }
                switch op {
                case .sum: result.append(run.reduce(0, +))
                case .max: result.append(run.max()!)
                case .min: result.append(run.min()!)
                }
            }
        }
        return result
    }

    @Test("reduce with outer and inner > 1, at an offset", arguments: ReduceOp.allCases)
    func reduceSmall(_ op: ReduceOp) throws {
        let backend = try TestDevice.backend()
        var random = TestRandom(seed: 10)
        let layout = AxisLayout(outer: 3, length: 5, inner: 4)
        let values = random.floats(layout.count + 7)
        let x = backend.upload(values)
        let out = backend.allocate(byteCount: 12 * 4)
        backend.reduce(op, x, offset: 7, layout: layout, out: out)
        let expected = Self.reference(op, values, offset: 7, layout)
        let result = backend.floats(out, count: 12)
        for (actual, wanted) in zip(result, expected) {
            #expect(isClose(actual, wanted), "\(op): \(actual) vs \(wanted)")
        }
    }

    @Test("reduce over lengths 1 and a single column")
    func reduceEdges() throws {
        let backend = try TestDevice.backend()
        let x = backend.upload([1, -2, 3, 4, 5, 6])
        let out = backend.allocate(byteCount: 6 * 4)
        backend.reduce(.sum, x, offset: 0, layout: AxisLayout(outer: 6, length: 1, inner: 1), out: out)
        #expect(backend.floats(out, count: 6) == [1, -2, 3, 4, 5, 6])
        backend.reduce(.max, x, offset: 0, layout: AxisLayout(outer: 1, length: 6, inner: 1), out: out)
        #expect(backend.floats(out, count: 1) == [6])
        backend.reduce(.min, x, offset: 0, layout: AxisLayout(outer: 1, length: 3, inner: 2), out: out)
        #expect(backend.floats(out, count: 2) == [1, -2])
    }

    @Test("two-stage sum over 4M elements is accurate")
    func largeSum() throws {
        let backend = try TestDevice.backend()
        var random = TestRandom(seed: 11)
        let count = (1 << 22) + 7
        let values = random.floats(count, 0, 1)
        let x = backend.upload(values)
        let out = backend.allocate(byteCount: 4)
        backend.reduce(.sum, x, offset: 0, layout: AxisLayout(outer: 1, length: count, inner: 1), out: out)
        let expected = values.reduce(0.0) { $0 + Double($1) }
        let actual = Double(backend.floats(out, count: 1)[0])
        #expect(abs(actual - expected) / expected < 1e-5, "sum \(actual) vs \(expected)")
    }

    @Test("two-stage reductions with inner > 1 and outer > 1", arguments: ReduceOp.allCases)
    func largeSplit(_ op: ReduceOp) throws {
        let backend = try TestDevice.backend()
        var random = TestRandom(seed: 12)
        for layout in [AxisLayout(outer: 1, length: 200_003, inner: 3), AxisLayout(outer: 2, length: 150_001, inner: 1)] {
            let values = random.floats(layout.count + 1)
            let x = backend.upload(values)
            let outputs = layout.outer * layout.inner
            let out = backend.allocate(byteCount: outputs * 4)
            backend.reduce(op, x, offset: 1, layout: layout, out: out)
            let expected = Self.reference(op, values, offset: 1, layout)
            let result = backend.floats(out, count: outputs)
            for (actual, wanted) in zip(result, expected) {
                #expect(isClose(actual, wanted, relative: 1e-5, absolute: 1e-3), "\(op) \(layout): \(actual) vs \(wanted)")
            }
        }
    }

    @Test("reductions over many neighbouring columns (wide inner axis)", arguments: ReduceOp.allCases)
    func wideInner(_ op: ReduceOp) throws {
        let backend = try TestDevice.backend()
        var random = TestRandom(seed: 15)
        for layout in [
            AxisLayout(outer: 1, length: 40_000, inner: 37),  // split into partials, 5 tail columns
            AxisLayout(outer: 3, length: 21, inner: 16),
            AxisLayout(outer: 2, length: 1, inner: 50),
            AxisLayout(outer: 1, length: 5_000, inner: 64),
        ] {
            let values = random.floats(layout.count + 3)
            let x = backend.upload(values)
            let outputs = layout.outer * layout.inner
            let out = backend.allocate(byteCount: outputs * 4)
            backend.reduce(op, x, offset: 3, layout: layout, out: out)
            let expected = Self.reference(op, values, offset: 3, layout)
            let result = backend.floats(out, count: outputs)
            for (index, (actual, wanted)) in zip(result, expected).enumerated() {
                #expect(isClose(actual, wanted, relative: 1e-5, absolute: 1e-4), "\(op) \(layout) [\(index)]: \(actual) vs \(wanted)")
            }
        }
    }

    @Test("argmax picks the first maximum")
    func argmaxSmall() throws {
        let backend = try TestDevice.backend()
        // outer 2, length 4, inner 2.
        let values: [Float] = [
            1, 5, 3, 5, 3, 2, 0, 5,
            -1, -9, -1, -8, -3, -8, -2, -7,
        ]
        let x = backend.upload(values)
        let out = backend.allocate(byteCount: 4 * 4)
        backend.argmax(x, offset: 0, layout: AxisLayout(outer: 2, length: 4, inner: 2), out: out)
        #expect(backend.ints(out, count: 4) == [1, 0, 0, 3])
    }

    @Test("two-stage argmax keeps the first of tied maxima")
    func argmaxLarge() throws {
        let backend = try TestDevice.backend()
        var random = TestRandom(seed: 13)
        let length = 1_000_001
        var values = random.floats(length)
        values[123_457] = 2
        values[900_000] = 2
        values[999_999] = 2
        let x = backend.upload(values)
        let out = backend.allocate(byteCount: 4)
        backend.argmax(x, offset: 0, layout: AxisLayout(outer: 1, length: length, inner: 1), out: out)
        #expect(backend.ints(out, count: 1) == [123_457])
        // Split along inner columns as well.
        var columns = random.floats(2 * 300_000)
        columns[2 * 250_000 + 1] = 3
        columns[2 * 7 + 1] = 3
        columns[2 * 299_999] = 5
        let y = backend.upload(columns)
        let pair = backend.allocate(byteCount: 8)
        backend.argmax(y, offset: 0, layout: AxisLayout(outer: 1, length: 300_000, inner: 2), out: pair)
        #expect(backend.ints(pair, count: 2) == [299_999, 7])
    }

    @Test("softmax and log-softmax along the middle axis", arguments: [false, true])
    func softmax(_ log: Bool) throws {
        let backend = try TestDevice.backend()
        var random = TestRandom(seed: 14)
        let layout = AxisLayout(outer: 2, length: 7, inner: 3)
        var values = random.floats(layout.count, -5, 5)
        values[4] = 80  // large values must not overflow
        let x = backend.upload([0, 0] + values)
        let out = backend.allocate(byteCount: layout.count * 4)
        backend.softmax(x, offset: 2, layout: layout, log: log, out: out)
        let result = backend.floats(out, count: layout.count)
        for o in 0..<layout.outer {
            for i in 0..<layout.inner {
                let index = { (r: Int) in (o * layout.length + r) * layout.inner + i }
                let m = (0..<layout.length).map { Double(values[index($0)]) }.max()!
                let sum = (0..<layout.length).map { Foundation.exp(Double(values[index($0)]) - m) }.reduce(0, +)
                for r in 0..<layout.length {
                    let shifted = Double(values[index(r)]) - m
                    let expected = log ? shifted - Foundation.log(sum) : Foundation.exp(shifted) / sum
                    #expect(isClose(result[index(r)], expected, relative: 1e-5, absolute: 1e-6))
                }
            }
        }
    }
}
