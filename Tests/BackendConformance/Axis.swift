import FlintBackend
import Foundation
import Testing

extension BackendConformance {
    /// Float64 reduction of `values` from `offset`, viewed as `layout`. Max and min propagate NaN.
    static func reference(_ op: ReduceOp, _ values: [Float], offset: Int = 0, _ layout: AxisLayout) -> [Double] {
        var result = [Double](repeating: 0, count: layout.outer * layout.inner)
        values.withUnsafeBufferPointer { x in
            for o in 0..<layout.outer {
                for i in 0..<layout.inner {
                    var total = 0.0, extreme = Double(x[offset + o * layout.length * layout.inner + i])
                    var at = offset + o * layout.length * layout.inner + i
                    for _ in 0..<layout.length {
                        let v = Double(x[at])
                        at += layout.inner
                        total += v
                        if extreme.isNaN { continue }
                        if v.isNaN || (op == .max ? v > extreme : v < extreme) { extreme = v }
                    }
                    result[o * layout.inner + i] = op == .sum ? total : extreme
                }
            }
        }
        return result
    }

    /// The first index of the largest value of each line, NaN counting as largest.
    static func referenceArgmax(_ values: [Float], offset: Int = 0, _ layout: AxisLayout) -> [Int32] {
        var result: [Int32] = []
        for o in 0..<layout.outer {
            for i in 0..<layout.inner {
                let run = (0..<layout.length).map { values[offset + (o * layout.length + $0) * layout.inner + i] }
                if let nan = run.firstIndex(where: \.isNaN) {
                    result.append(Int32(nan))
                } else {
                    result.append(Int32(run.firstIndex(of: run.max()!)!))
                }
            }
        }
        return result
    }

    static func checkSoftmax(_ backend: any Backend) {
        for (layout, scale, offset) in [(AxisLayout(outer: 3, length: 5, inner: 1), Float(20), 0),
                                        (AxisLayout(outer: 2, length: 4, inner: 3), 20, 0),
                                        (AxisLayout(outer: 2, length: 7, inner: 3), 5, 2)] {
            var random = TestRandom(seed: 7)
            var drawn = random.floats(layout.count).map { $0 * scale }
            if offset > 0 { drawn[4] = 80 }  // large values must not overflow
            let values = drawn
            let x = backend.upload([Float](repeating: 0, count: offset) + values)
            let probabilities = backend.allocate(byteCount: layout.count * 4), logs = backend.allocate(byteCount: layout.count * 4)
            backend.softmax(x, offset: offset, layout: layout, log: false, out: probabilities)
            backend.softmax(x, offset: offset, layout: layout, log: true, out: logs)
            let p = backend.floats(probabilities, count: layout.count), l = backend.floats(logs, count: layout.count)
            for o in 0..<layout.outer {
                for i in 0..<layout.inner {
                    let indices = (0..<layout.length).map { (o * layout.length + $0) * layout.inner + i }
                    let column = indices.map { Double(values[$0]) }
                    let m = column.max()!
                    let logSum = Foundation.log(column.map { Foundation.exp($0 - m) }.reduce(0, +))
                    #expect(abs(indices.map { Double(p[$0]) }.reduce(0, +) - 1) < 1e-6)
                    for (index, v) in zip(indices, column) {
                        let expectedLog = v - m - logSum
                        #expect(isClose(l[index], expectedLog, relative: 1e-5, absolute: 1e-5), "\(layout) log")
                        #expect(isClose(p[index], Foundation.exp(expectedLog), relative: 1e-5, absolute: 1e-6), "\(layout)")
                    }
                }
            }
        }
    }

    static let reductions: [ConformanceCheck] = [
        ConformanceCheck("reduce: every op along the middle axis of five layouts, at an offset") { backend in
            let layouts = [
                AxisLayout(outer: 2, length: 3, inner: 4), AxisLayout(outer: 3, length: 37, inner: 1),
                AxisLayout(outer: 1, length: 1, inner: 5), AxisLayout(outer: 2, length: 70, inner: 3),
                AxisLayout(outer: 1, length: 100, inner: 1), AxisLayout(outer: 3, length: 5, inner: 4),
                // Long columns, large enough for the CPU to split their rows across tasks.
                AxisLayout(outer: 1, length: 3001, inner: 40), AxisLayout(outer: 2, length: 1500, inner: 33),
            ]
            for op in ReduceOp.allCases {
                for layout in layouts {
                    // Thousands of terms in [-1, 1] cancel to sums near 1: a Float partial sum
                    // of magnitude 10 rounds by about 1e-6, so those sums get 1e-5 (absolute).
                    let tolerance = op == .sum && layout.length > 1000 ? 1e-5 : 1e-6
                    var random = TestRandom(seed: UInt64(layout.count))
                    let values = random.floats(layout.count + 7)
                    let out = backend.allocate(byteCount: layout.outer * layout.inner * 4)
                    backend.reduce(op, backend.upload(values), offset: 7, layout: layout, out: out)
                    expectClose(backend.floats(out, count: layout.outer * layout.inner), reference(op, values, offset: 7, layout),
                                tolerance: tolerance, "\(op) over \(layout)")
                }
            }
        },
        ConformanceCheck("reduce: handwritten lines, lengths of 1 and single columns") { backend in
            // [2, 3, 2]: reduce the middle axis.
            let x = backend.upload([1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6])
            let out = backend.allocate(byteCount: 24)
            let layout = AxisLayout(outer: 2, length: 3, inner: 2)
            backend.reduce(.sum, x, offset: 0, layout: layout, out: out)
            #expect(backend.floats(out, count: 4) == [9, 12, -9, -12])
            backend.reduce(.max, x, offset: 0, layout: layout, out: out)
            #expect(backend.floats(out, count: 4) == [5, 6, -1, -2])
            backend.reduce(.min, x, offset: 0, layout: layout, out: out)
            #expect(backend.floats(out, count: 4) == [1, 2, -5, -6])
            let y = backend.upload([1, -2, 3, 4, 5, 6])
            backend.reduce(.sum, y, offset: 0, layout: AxisLayout(outer: 6, length: 1, inner: 1), out: out)
            #expect(backend.floats(out, count: 6) == [1, -2, 3, 4, 5, 6])
            backend.reduce(.max, y, offset: 0, layout: AxisLayout(outer: 1, length: 6, inner: 1), out: out)
            #expect(backend.floats(out, count: 1) == [6])
            backend.reduce(.min, y, offset: 0, layout: AxisLayout(outer: 1, length: 3, inner: 2), out: out)
            #expect(backend.floats(out, count: 2) == [1, -2])
        },
        ConformanceCheck("reduce: a NaN anywhere gives NaN for max, min and sum, on rows, columns and long lines") { backend in
            // Rows (inner 1) and columns (inner > 1), short and long (vector blocks, tails and
            // parallel segments), the NaN first, in the middle and last.
            for layout in [AxisLayout(outer: 3, length: 100, inner: 1), AxisLayout(outer: 2, length: 9, inner: 5),
                           AxisLayout(outer: 3, length: 5_000, inner: 1), AxisLayout(outer: 1, length: 300_001, inner: 1),
                           AxisLayout(outer: 1, length: 40_000, inner: 37)] {
                // Line ℓ gets a NaN in the middle, first or last (every fourth line none). One line
                // with a NaN also holds +∞ and another -∞, never both (∞ - ∞ would make the NaN
                // itself): a max, min or sum that drops the NaN then gives ±∞ and fails.
                var values = [Float](repeating: 1, count: layout.count)
                func at(_ line: Int, _ r: Int) -> Int { ((line / layout.inner) * layout.length + r) * layout.inner + line % layout.inner }
                for line in 0..<(layout.outer * layout.inner) where line % 4 != 3 {
                    values[at(line, [layout.length / 2, 0, layout.length - 1][line % 3])] = .nan
                }
                if layout.length > 4 {
                    let lines = layout.outer * layout.inner
                    values[at(lines - 1, 1)] = .infinity
                    if lines > 1 { values[at(0, layout.length - 2)] = -.infinity }
                }
                let x = backend.upload(values)
                let out = backend.allocate(byteCount: layout.outer * layout.inner * 4)
                for op in ReduceOp.allCases {
                    backend.reduce(op, x, offset: 0, layout: layout, out: out)
                    expectClose(backend.floats(out, count: layout.outer * layout.inner), reference(op, values, layout),
                                tolerance: 1e-5, "\(op) with NaN over \(layout)")
                }
            }
            var values = [Float](repeating: 1, count: 100)
            values[70] = .nan
            let out = backend.allocate(byteCount: 4)
            backend.reduce(.max, backend.upload(values), offset: 0, layout: AxisLayout(outer: 1, length: 100, inner: 1), out: out)
            #expect(backend.floats(out, count: 1)[0].isNaN)
        },
        ConformanceCheck("reluGradientWithSums: binary(.reluGradient)'s bits and Float64 column sums, special values included") { backend in
            // Shapes from one element to long columns the CPU splits across tasks, widths below,
            // at and past its four-lane blocks; both operands at offsets.
            for (rows, columns) in [(1, 1), (3, 5), (7, 4), (2, 9), (1_000, 64), (3_001, 33), (257, 1_030)] {
                let count = rows * columns
                var random = TestRandom(seed: UInt64(count))
                var gradient = random.floats(count + 3), output = random.floats(count + 5)
                // Zeros of both signs in the output (ReLU passes neither), a negative zero, ±∞ and
                // NaN in the gradient where the output is and is not positive: NaN · 0 and ∞ · 0
                // are NaN, −g · 0 is −0, which a masking shortcut would turn into 0.
                let specials: [(g: Float, y: Float)] = [(0.5, 0), (0.5, -0.0), (-0.0, 1), (-0.5, -1), (.nan, -1), (.nan, 1),
                                                        (.infinity, -0.5), (-.infinity, 2), (1, .nan), (2, .infinity)]
                if count >= 40 {
                    for (i, special) in specials.enumerated() {
                        gradient[3 + i * 3] = special.g
                        output[5 + i * 3] = special.y
                    }
                }
                let g = backend.upload(gradient), y = backend.upload(output)
                let out = backend.allocate(byteCount: count * 4), sums = backend.allocate(byteCount: columns * 4)
                let unfused = backend.allocate(byteCount: count * 4)
                backend.reluGradientWithSums(g, gradientOffset: 3, output: y, outputOffset: 5, rows: rows, columns: columns,
                                             out: out, sums: sums)
                backend.binary(.reluGradient, strided(g, offset: 3, [1]), strided(y, offset: 5, [1]), shape: [count], out: unfused)
                let fused = backend.floats(out, count: count), separate = backend.floats(unfused, count: count)
                #expect(fused.map(\.bitPattern) == separate.map(\.bitPattern), "\(rows)×\(columns): out differs from binary(.reluGradient)")
                expectClose(fused, (0..<count).map { reference(.reluGradient, Double(gradient[3 + $0]), Double(output[5 + $0])) },
                            tolerance: 0, "\(rows)×\(columns): out")
                var expected = [Double](repeating: 0, count: columns)
                for r in 0..<rows {
                    for c in 0..<columns { expected[c] += reference(.reluGradient, Double(gradient[3 + r * columns + c]), Double(output[5 + r * columns + c])) }
                }
                // As for reduce: long columns summed in Float partials get 1e-5.
                expectClose(backend.floats(sums, count: columns), expected, tolerance: rows > 200 ? 1e-5 : 1e-6,
                            "\(rows)×\(columns): sums")
            }
        },
        ConformanceCheck("reduce: 16M elements summed as one row, four rows and four columns, within 1e-5") { backend in
            let count = 1 << 24
            var exact: Double = 0
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBufferPointer { x in
                for i in 0..<count {
                    x[i] = Float(i % 1013) * 0.001 + 0.1
                    exact += Double(x[i])
                }
            }
            let buffer = backend.upload(values)
            let out = backend.allocate(byteCount: 16)
            backend.reduce(.sum, buffer, offset: 0, layout: AxisLayout(outer: 1, length: count, inner: 1), out: out)
            #expect(abs(Double(backend.floats(out, count: 1)[0]) - exact) / exact < 1e-5)
            backend.reduce(.sum, buffer, offset: 0, layout: AxisLayout(outer: 4, length: count / 4, inner: 1), out: out)
            #expect(abs(backend.floats(out, count: 4).map(Double.init).reduce(0, +) - exact) / exact < 1e-5)
            backend.reduce(.sum, buffer, offset: 0, layout: AxisLayout(outer: 1, length: count / 4, inner: 4), out: out)
            #expect(abs(backend.floats(out, count: 4).map(Double.init).reduce(0, +) - exact) / exact < 1e-5)
            backend.reduce(.max, buffer, offset: 0, layout: AxisLayout(outer: 1, length: count, inner: 1), out: out)
            #expect(backend.floats(out, count: 1)[0] == Float(1012) * 0.001 + 0.1)
            let index = backend.allocate(byteCount: 4)
            backend.argmax(buffer, offset: 0, layout: AxisLayout(outer: 1, length: count, inner: 1), out: index)
            #expect(backend.ints(index, count: 1) == [1012])
        },
        ConformanceCheck("reduce: 4M + 7 random elements summed in one line, within 1e-5") { backend in
            var random = TestRandom(seed: 11)
            let count = (1 << 22) + 7
            let values = random.floats(count, 0, 1)
            let out = backend.allocate(byteCount: 4)
            backend.reduce(.sum, backend.upload(values), offset: 0, layout: AxisLayout(outer: 1, length: count, inner: 1), out: out)
            let expected = reference(.sum, values, AxisLayout(outer: 1, length: count, inner: 1))[0]
            let actual = Double(backend.floats(out, count: 1)[0])
            #expect(abs(actual - expected) / expected < 1e-5, "sum \(actual) vs \(expected)")
        },
        ConformanceCheck("reduce: long lines with several outer rows and inner columns, and wide inner axes") { backend in
            var random = TestRandom(seed: 12)
            let layouts = [
                AxisLayout(outer: 1, length: 200_003, inner: 3), AxisLayout(outer: 2, length: 150_001, inner: 1),
                AxisLayout(outer: 1, length: 40_000, inner: 37), AxisLayout(outer: 3, length: 21, inner: 16),
                AxisLayout(outer: 2, length: 1, inner: 50), AxisLayout(outer: 1, length: 5_000, inner: 64),
            ]
            for op in ReduceOp.allCases {
                for layout in layouts {
                    let values = random.floats(layout.count + 3)
                    let outputs = layout.outer * layout.inner
                    let out = backend.allocate(byteCount: outputs * 4)
                    backend.reduce(op, backend.upload(values), offset: 3, layout: layout, out: out)
                    let expected = reference(op, values, offset: 3, layout)
                    let result = backend.floats(out, count: outputs)
                    var wrong: [Int] = []
                    for index in 0..<outputs where !isClose(result[index], expected[index], relative: 1e-5, absolute: 1e-3) { wrong.append(index) }
                    #expect(wrong.isEmpty, "\(op) \(layout): \(wrong.count) wrong, first \(wrong.first.map { "\(result[$0]) vs \(expected[$0])" } ?? "")")
                }
            }
        },
    ]

    static let axisOps: [ConformanceCheck] = [
        ConformanceCheck("argmax: the first of equal maxima, on rows, columns and long lines") { backend in
            // Rows: [3, 1, 3, 2] → 0; [0, 5, 5, 5] → 1.
            let x = backend.upload([3, 1, 3, 2, 0, 5, 5, 5])
            let out = backend.allocate(byteCount: 16)
            backend.argmax(x, offset: 0, layout: AxisLayout(outer: 2, length: 4, inner: 1), out: out)
            #expect(backend.ints(out, count: 2) == [0, 1])
            // Columns of a [4, 2] matrix: column 0 = [3, 3, 0, 5] → 3, column 1 = [1, 2, 5, 5] → 2.
            backend.argmax(x, offset: 0, layout: AxisLayout(outer: 1, length: 4, inner: 2), out: out)
            #expect(backend.ints(out, count: 2) == [3, 2])
            // outer 2, length 4, inner 2.
            let y = backend.upload([1, 5, 3, 5, 3, 2, 0, 5, -1, -9, -1, -8, -3, -8, -2, -7])
            backend.argmax(y, offset: 0, layout: AxisLayout(outer: 2, length: 4, inner: 2), out: out)
            #expect(backend.ints(out, count: 4) == [1, 0, 0, 3])
            // A long row with ties spread across parallel segments.
            var values = [Float](repeating: 0, count: 300_000)
            values[123_457] = 9
            values[250_000] = 9
            backend.argmax(backend.upload(values), offset: 0, layout: AxisLayout(outer: 1, length: 300_000, inner: 1), out: out)
            #expect(backend.ints(out, count: 1) == [123_457])
        },
        ConformanceCheck("argmax: the first of tied maxima in lines of 1M and of 300k columns") { backend in
            var random = TestRandom(seed: 13)
            var values = random.floats(1_000_001)
            values[123_457] = 2
            values[900_000] = 2
            values[999_999] = 2
            let out = backend.allocate(byteCount: 8)
            backend.argmax(backend.upload(values), offset: 0, layout: AxisLayout(outer: 1, length: 1_000_001, inner: 1), out: out)
            #expect(backend.ints(out, count: 1) == [123_457])
            var columns = random.floats(2 * 300_000)
            columns[2 * 250_000 + 1] = 3
            columns[2 * 7 + 1] = 3
            columns[2 * 299_999] = 5
            backend.argmax(backend.upload(columns), offset: 0, layout: AxisLayout(outer: 1, length: 300_000, inner: 2), out: out)
            #expect(backend.ints(out, count: 2) == [299_999, 7])
        },
        ConformanceCheck("argmax: the first NaN wins, ±∞ rank as numbers, at an offset") { backend in
            let lines: [[Float]] = [
                [1, .nan, 3, .nan], [.infinity, .nan, 2, 2], [-.infinity, -.infinity, -.infinity, -.infinity],
                [2, .infinity, .infinity, 1], [-0.0, 0, -1, -2], [.nan, .nan, .nan, .nan],
            ]
            let values: [Float] = [7, 7] + lines.flatMap { $0 }
            let x = backend.upload(values)
            let out = backend.allocate(byteCount: 8 * 4)
            let rows = AxisLayout(outer: 6, length: 4, inner: 1)
            backend.argmax(x, offset: 2, layout: rows, out: out)
            #expect(backend.ints(out, count: 6) == [1, 1, 0, 1, 0, 0])
            // The same lines as columns: [4, 6].
            let transposed = (0..<4).flatMap { r in lines.map { $0[r] } }
            let columns = AxisLayout(outer: 1, length: 4, inner: 6)
            backend.argmax(backend.upload(transposed), offset: 0, layout: columns, out: out)
            #expect(backend.ints(out, count: 6) == [1, 1, 0, 1, 0, 0])
            // Random lines with NaN sprinkled in, against the reference.
            var random = TestRandom(seed: 17)
            for layout in [AxisLayout(outer: 5, length: 33, inner: 1), AxisLayout(outer: 3, length: 17, inner: 8),
                           AxisLayout(outer: 2, length: 9, inner: 3), AxisLayout(outer: 1, length: 70_001, inner: 1)] {
                var data = random.floats(layout.count)
                for k in stride(from: 5, to: data.count, by: 23) where random.next() % 3 == 0 { data[k] = .nan }
                let result = backend.allocate(byteCount: layout.outer * layout.inner * 4)
                backend.argmax(backend.upload(data), offset: 0, layout: layout, out: result)
                #expect(backend.ints(result, count: layout.outer * layout.inner) == referenceArgmax(data, layout), "\(layout)")
            }
        },
        ConformanceCheck("softmax: sums to one, the log form matches, rows and columns, at an offset", checkSoftmax),
        ConformanceCheck("softmax: stable for ±1000") { backend in
            let x = backend.upload([1000, 1000, -1000])
            let out = backend.allocate(byteCount: 12)
            backend.softmax(x, offset: 0, layout: AxisLayout(outer: 1, length: 3, inner: 1), log: false, out: out)
            #expect(backend.floats(out, count: 3) == [0.5, 0.5, 0])
            backend.softmax(x, offset: 0, layout: AxisLayout(outer: 1, length: 3, inner: 1), log: true, out: out)
            let logs = backend.floats(out, count: 3)
            #expect(abs(logs[0] - -Float(M_LN2)) < 1e-6 && logs[2] == -2000 - Float(M_LN2))
        },
    ]
}
