import FlintBackend
import Foundation
import Testing

extension BackendConformance {
    static func reference(_ op: UnaryOp, _ x: Double) -> Double {
        switch op {
        case .neg: -x
        case .abs: abs(x)
        case .exp: Foundation.exp(x)
        case .log: Foundation.log(x)
        case .sqrt: x.squareRoot()
        case .rsqrt: 1 / x.squareRoot()
        case .square: x * x
        case .reciprocal: 1 / x
        case .sign: x > 0 ? 1 : x < 0 ? -1 : x
        case .relu: x.isNaN ? x : max(x, 0)
        case .sigmoid: 1 / (1 + Foundation.exp(-x))
        case .tanh: Foundation.tanh(x)
        case .leakyRelu(let slope): x > 0 ? x : Double(slope) * x
        case .affine(let scale, let shift): x * Double(scale) + Double(shift)
        case .pow(let exponent): Foundation.pow(x, Double(exponent))
        case .clamp(let low, let high): x.isNaN ? x : min(max(x, Double(low)), Double(high))
        case .erf: Foundation.erf(x)
        case .softplus: Foundation.log1p(Foundation.exp(x))
        case .gelu: 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot()))
        case .silu: x / (1 + Foundation.exp(-x))
        }
    }

    static func reference(_ op: BinaryOp, _ a: Double, _ b: Double) -> Double {
        switch op {
        case .add: a + b
        case .sub: a - b
        case .mul: a * b
        case .div: a / b
        case .pow: Foundation.pow(a, b)
        case .maximum: a.isNaN || b.isNaN ? .nan : max(a, b)
        case .minimum: a.isNaN || b.isNaN ? .nan : min(a, b)
        case .equal: a == b ? 1 : 0
        case .notEqual: a != b ? 1 : 0
        case .less: a < b ? 1 : 0
        case .lessEqual: a <= b ? 1 : 0
        case .greater: a > b ? 1 : 0
        case .greaterEqual: a >= b ? 1 : 0
        case .reluGradient: a * (b > 0 ? 1 : 0)
        }
    }

    static let unaryOps: [UnaryOp] = [
        .neg, .abs, .exp, .log, .sqrt, .rsqrt, .square, .reciprocal, .sign, .relu, .sigmoid, .tanh,
        .leakyRelu(slope: 0.1), .affine(scale: 2, shift: -1), .affine(scale: 0.5, shift: 1), .pow(2), .pow(3), .pow(0.5),
        .pow(-1), .pow(2.5), .clamp(low: -1, high: 0.5), .clamp(low: -0.75, high: 1.25), .erf, .softplus, .gelu, .silu,
    ]

    static let elementwise: [ConformanceCheck] = [
        ConformanceCheck("unary: every op matches Float64 within 2e-7 (2e-6 for transcendental ones)") { backend in
            for inputs: [Float] in [[-2, -0.5, 0, 0.25, 1, 3], [-3, -1.5, -0.25, 0, 0.25, 0.5, 1, 2, 4.75]] {
                let x = backend.upload(inputs)
                let out = backend.allocate(byteCount: inputs.count * 4)
                for op in unaryOps {
                    backend.unary(op, strided(x, [1]), shape: [inputs.count], out: out)
                    let exact: Bool
                    switch op {
                    case .neg, .abs, .sqrt, .square, .reciprocal, .sign, .relu, .leakyRelu, .affine, .clamp: exact = true
                    default: exact = false
                    }
                    expectClose(backend.floats(out, count: inputs.count), inputs.map { reference(op, Double($0)) },
                                tolerance: exact ? 2e-7 : 2e-6, "\(op) of \(inputs)")
                }
            }
        },
        ConformanceCheck("unary: spot values (signed zeros, infinities, NaN from log)") { backend in
            let x = backend.upload([-2, -0.0, 0, 0.5, 4])
            let out = backend.allocate(byteCount: 20)
            func run(_ op: UnaryOp) -> [Float] {
                backend.unary(op, strided(x, [1]), shape: [5], out: out)
                return backend.floats(out, count: 5)
            }
            #expect(run(.relu) == [0, 0, 0, 0.5, 4])
            #expect(run(.sign) == [-1, 0, 0, 1, 1])
            #expect(run(.leakyRelu(slope: 0.5)) == [-1, 0, 0, 0.5, 4])
            #expect(run(.sqrt).suffix(2) == [0.70710677, 2])
            #expect(run(.rsqrt).last == 0.5)
            #expect(run(.reciprocal) == [-0.5, -.infinity, .infinity, 2, 0.25])
            #expect(run(.clamp(low: -1, high: 1)) == [-1, 0, 0, 0.5, 1])
            #expect(run(.pow(2)) == [4, 0, 0, 0.25, 16])
            #expect(run(.affine(scale: 3, shift: 1)) == [-5, 1, 1, 2.5, 13])
            #expect(run(.sigmoid)[2] == 0.5)
            #expect(run(.log)[0].isNaN)
            // sign(0) is 0 whichever zero it is.
            let zeros = backend.upload([0, -0.0, 3, -2])
            backend.unary(.sign, strided(zeros, [1]), shape: [4], out: out)
            #expect(backend.floats(out, count: 4) == [0, 0, 1, -1])
        },
        ConformanceCheck("unary: NaN stays NaN through relu, clamp, sign and the rest") { backend in
            let x = backend.upload([.nan])
            let out = backend.allocate(byteCount: 4)
            for op in unaryOps {
                backend.unary(op, strided(x, [1]), shape: [1], out: out)
                #expect(backend.floats(out, count: 1)[0].isNaN, "\(op)(NaN) is \(backend.floats(out, count: 1)[0])")
            }
        },
        ConformanceCheck("unary: strided, transposed (at an offset) and broadcast inputs") { backend in
            // x: 3×2 row-major, read transposed as [2, 3].
            let x = backend.upload([1, 2, 3, 4, 5, 6])
            let out = backend.allocate(byteCount: 24)
            backend.unary(.neg, strided(x, [1, 2]), shape: [2, 3], out: out)
            #expect(backend.floats(out, count: 6) == [-1, -3, -5, -2, -4, -6])
            // A scalar at offset 4 broadcast to [2, 3].
            backend.unary(.square, strided(x, offset: 4, [0, 0]), shape: [2, 3], out: out)
            #expect(backend.floats(out, count: 6) == [25, 25, 25, 25, 25, 25])
            // Every other element: stride 2 along the last axis.
            backend.unary(.affine(scale: 1, shift: 10), strided(x, offset: 1, [2]), shape: [3], out: out)
            #expect(backend.floats(out, count: 3) == [12, 14, 16])
            // A 2×3 matrix at element offset 1; its transpose is 3×2 with strides [1, 3].
            let y = backend.upload([99, 1, 2, 3, 4, 5, 6])
            backend.unary(.square, strided(y, offset: 1, [1, 3]), shape: [3, 2], out: out)
            #expect(backend.floats(out, count: 6) == [1, 16, 4, 25, 9, 36])
        },
        ConformanceCheck("unary: in place") { backend in
            let x = backend.upload([-1, 2, -3, 4])
            backend.unary(.relu, strided(x, [1]), shape: [4], out: x)
            #expect(backend.floats(x, count: 4) == [0, 2, 0, 4])
        },
        ConformanceCheck("binary: every op with a broadcast row, and with a transposed operand") { backend in
            for op in BinaryOp.allCases {
                // a: [2, 3]; b: [1, 3] broadcast along the first axis with stride 0.
                let aValues: [Float] = [1, 2, 3, 0.5, 2, 4], bValues: [Float] = [2, 2, 0.5]
                let out = backend.allocate(byteCount: 12 * 4)
                backend.binary(op, strided(backend.upload(aValues), [3, 1]), strided(backend.upload(bValues), [0, 1]),
                               shape: [2, 3], out: out)
                expectClose(backend.floats(out, count: 6),
                            (0..<6).map { reference(op, Double(aValues[$0]), Double(bValues[$0 % 3])) }, tolerance: 2e-7, "\(op) row")
                // a: 4×3 stored transposed (3×4 row-major, strides [1, 4]); b: a row of 3 broadcast down.
                let aStorage: [Float] = [0.5, 1, 2, 3, 1.5, 2, 0.25, 4, 2, 2, 3, 0.75], bRow: [Float] = [2, 1.5, 0.5]
                backend.binary(op, strided(backend.upload(aStorage), [1, 4]), strided(backend.upload(bRow), [0, 1]),
                               shape: [4, 3], out: out)
                var expected: [Double] = []
                for r in 0..<4 { for c in 0..<3 { expected.append(reference(op, Double(aStorage[c * 4 + r]), Double(bRow[c]))) } }
                expectClose(backend.floats(out, count: 12), expected, tolerance: 2e-6, "\(op) transposed")
            }
        },
        ConformanceCheck("binary: every op with a transposed right operand and a broadcast scalar left") { backend in
            for op in BinaryOp.allCases {
                // a contiguous [3, 2]; b is a 2×3 buffer read transposed; also a scalar on the left.
                let aValues: [Float] = [1, 2, 3, 4, 5, 6], bValues: [Float] = [2, 4, 3, 1, 5, 6]
                let a = backend.upload(aValues), b = backend.upload(bValues)
                let out = backend.allocate(byteCount: 24)
                backend.binary(op, strided(a, [2, 1]), strided(b, [1, 3]), shape: [3, 2], out: out)
                var expected: [Double] = []
                for i in 0..<3 { for j in 0..<2 { expected.append(reference(op, Double(aValues[i * 2 + j]), Double(bValues[j * 3 + i]))) } }
                expectClose(backend.floats(out, count: 6), expected, tolerance: 2e-7, "\(op)")
                backend.binary(op, strided(a, offset: 2, [0, 0]), strided(b, [1, 3]), shape: [3, 2], out: out)
                expected = []
                for i in 0..<3 { for j in 0..<2 { expected.append(reference(op, 3, Double(bValues[j * 3 + i]))) } }
                expectClose(backend.floats(out, count: 6), expected, tolerance: 2e-7, "\(op) scalar left")
            }
        },
        ConformanceCheck("binary: NaN and infinities follow IEEE (maximum and minimum propagate NaN)") { backend in
            let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 1]
            var aValues: [Float] = [], bValues: [Float] = []
            for a in specials { for b in specials { aValues.append(a); bValues.append(b) } }
            let a = backend.upload(aValues), b = backend.upload(bValues)
            let out = backend.allocate(byteCount: aValues.count * 4)
            for op in BinaryOp.allCases where op != .pow {
                backend.binary(op, strided(a, [1]), strided(b, [1]), shape: [aValues.count], out: out)
                expectClose(backend.floats(out, count: aValues.count),
                            zip(aValues, bValues).map { reference(op, Double($0), Double($1)) }, tolerance: 0, "\(op)")
            }
        },
        ConformanceCheck("binary: in place into either operand, column and scalar broadcasts") { backend in
            let a = backend.upload([1, 2, 3, 4, 5, 6])
            let column = backend.upload([10, 20])
            // a[i, j] += column[i]  (column broadcast along the last axis), written over a.
            backend.binary(.add, strided(a, [3, 1]), strided(column, [1, 0]), shape: [2, 3], out: a)
            #expect(backend.floats(a, count: 6) == [11, 12, 13, 24, 25, 26])
            // Output aliasing the right operand.
            let b = backend.upload([1, 2, 4])
            backend.binary(.div, strided(column, offset: 0, [0]), strided(b, [1]), shape: [3], out: b)
            #expect(backend.floats(b, count: 3) == [10, 5, 2.5])
            // A scalar at offset 1 broadcast over [100, 10], in place into the first operand.
            var random = TestRandom(seed: 1)
            let values = random.floats(1000)
            let big = backend.upload(values)
            backend.binary(.mul, strided(big, [10, 1]), strided(backend.upload([0, 2.5]), offset: 1, [0, 0]), shape: [100, 10], out: big)
            #expect(backend.floats(big, count: 1000) == values.map { $0 * 2.5 })
        },
        ConformanceCheck("binary: rank 4 with mixed broadcasts and rank 8 with odd sizes") { backend in
            var random = TestRandom(seed: 1)
            let aValues = random.floats(2 * 4 * 5)  // [2, 1, 4, 5]
            let bValues = random.floats(3 * 5)  // [1, 3, 1, 5] stored as [5, 3] transposed
            let out = backend.allocate(byteCount: 120 * 4)
            backend.binary(.mul, strided(backend.upload(aValues), [20, 0, 5, 1]), strided(backend.upload(bValues), [0, 1, 0, 3]),
                           shape: [2, 3, 4, 5], out: out)
            var expected: [Double] = []
            for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { for l in 0..<5 {
                expected.append(Double(aValues[i * 20 + k * 5 + l]) * Double(bValues[j + l * 3]))
            } } } }
            expectClose(backend.floats(out, count: 120), expected, tolerance: 1e-7, "rank 4")

            let shape = [2, 3, 1, 2, 3, 2, 5, 3]
            let count = shape.reduce(1, *)
            let xValues = random.floats(count)
            // y broadcasts over dimensions 1 and 6 and is stored in reversed dimension order.
            let yShape = [2, 1, 1, 2, 3, 2, 1, 3]
            let yValues = random.floats(yShape.reduce(1, *))
            var yStrides = [Int](repeating: 0, count: 8), running = 1
            for d in 0..<8 where yShape[d] > 1 {
                yStrides[d] = running
                running *= yShape[d]
            }
            let result = backend.allocate(byteCount: count * 4)
            backend.binary(.sub, strided(backend.upload(xValues), contiguous(shape)), strided(backend.upload(yValues), yStrides),
                           shape: shape, out: result)
            let yOffsets = stridedOffsets(shape: shape, strides: yStrides)
            #expect(backend.floats(result, count: count) == (0..<count).map { xValues[$0] - yValues[yOffsets[$0]] })
        },
        ConformanceCheck("binary then activation: the fused form equals binary followed by unary") { backend in
            var random = TestRandom(seed: 4)
            let x = backend.upload(random.floats(6 * 7, -3, 3)), bias = backend.upload(random.floats(7, -3, 3))
            let fused = backend.allocate(byteCount: 42 * 4), separate = backend.allocate(byteCount: 42 * 4)
            for activation: UnaryOp in [.relu, .sigmoid, .tanh, .leakyRelu(slope: 0.2)] {
                backend.binary(.add, strided(x, [7, 1]), strided(bias, [0, 1]), shape: [6, 7], then: activation, out: fused)
                backend.binary(.add, strided(x, [7, 1]), strided(bias, [0, 1]), shape: [6, 7], out: separate)
                backend.unary(activation, strided(separate, [7, 1]), shape: [6, 7], out: separate)
                expectClose(backend.floats(fused, count: 42), backend.floats(separate, count: 42), tolerance: 1e-6, "add then \(activation)")
            }
            // A scaled comparison (a dropout mask), NaN and ties included: exactly 0 or the scale.
            let draws = backend.upload(random.floats(41) + [.nan, 0.25, 0.25])
            let rate = backend.upload([0.25]), mask = backend.allocate(byteCount: 44 * 4)
            backend.binary(.greaterEqual, strided(draws, [1]), strided(rate, [0]), shape: [44], then: .affine(scale: 4 / 3, shift: 0),
                           out: mask)
            let expected = backend.floats(draws, count: 44).map { $0 >= 0.25 ? Float(4) / 3 : 0 }
            #expect(backend.floats(mask, count: 44) == expected, "greaterEqual then affine")
        },
        ConformanceCheck("select: by a condition that is broadcast, NaN, -0 or a transposed operand") { backend in
            let condition = backend.upload([1, 0, -0.0, 2, 0, .nan])
            let a = backend.upload([1, 2, 3, 4, 5, 6])
            let scalar = backend.upload([-1])
            let out = backend.allocate(byteCount: 24)
            backend.select(strided(condition, [1]), strided(a, [1]), strided(scalar, [0]), shape: [6], out: out)
            #expect(backend.floats(out, count: 6) == [1, -1, -1, 4, -1, 6])
            // Condition broadcast per row of [2, 3], a transposed.
            let rows = backend.upload([0, 1])
            backend.select(strided(rows, [1, 0]), strided(a, [1, 2]), strided(scalar, [0, 0]), shape: [2, 3], out: out)
            #expect(backend.floats(out, count: 6) == [-1, -1, -1, 2, 4, 6])
            // Condition broadcast per column, b transposed.
            let columns = backend.upload([1, 0, -2])
            let b = backend.upload([-1, -2, -3, -4, -5, -6])
            backend.select(strided(columns, [0, 1]), strided(a, [3, 1]), strided(b, [1, 2]), shape: [2, 3], out: out)
            #expect(backend.floats(out, count: 6) == [1, -3, 3, 4, -4, 6])
            // Contiguous operands.
            backend.select(strided(a, [1]), strided(a, [1]), strided(b, [1]), shape: [6], out: out)
            #expect(backend.floats(out, count: 6) == [1, 2, 3, 4, 5, 6])
        },
        ConformanceCheck("element-wise: 2M elements, contiguous, broadcast and transposed, use every element") { backend in
            let count = 1 << 21 + 3
            var values = [Float](repeating: 0, count: count)
            for i in 0..<count { values[i] = Float(i % 1000) - 500 }
            let x = backend.upload(values)
            let out = backend.allocate(byteCount: count * 4)
            backend.unary(.relu, strided(x, [1]), shape: [count], out: out)
            var result = backend.floats(out, count: count)
            var mismatches = 0
            for i in 0..<count where result[i] != max(values[i], 0) { mismatches += 1 }
            #expect(mismatches == 0, "relu")
            // Strided and broadcast: [rows, 1027] + a row vector.
            let rows = count / 1027
            let row = backend.upload((0..<1027).map(Float.init))
            backend.binary(.add, strided(x, [1027, 1]), strided(row, [0, 1]), shape: [rows, 1027], out: out)
            result = backend.floats(out, count: rows * 1027)
            mismatches = 0
            for i in 0..<(rows * 1027) where result[i] != values[i] + Float(i % 1027) { mismatches += 1 }
            #expect(mismatches == 0, "broadcast add")
            // Transposed read of a large matrix: [1027, rows] from [rows, 1027].
            backend.unary(.neg, strided(x, [1, 1027]), shape: [1027, rows], out: out)
            result = backend.floats(out, count: rows * 1027)
            mismatches = 0
            for j in 0..<1027 { for i in 0..<rows where result[j * rows + i] != -values[i * 1027 + j] { mismatches += 1 } }
            #expect(mismatches == 0, "transposed")
        },
        ConformanceCheck("element-wise: concurrent callers on one backend") { backend in
            let failures = Failures()
            DispatchQueue.concurrentPerform(iterations: 6) { task in
                var random = TestRandom(seed: UInt64(100 + task))
                let count = 10_000 + task * 777
                let aValues = random.floats(count), bValues = random.floats(count)
                let a = backend.upload(aValues), b = backend.upload(bValues)
                let out = backend.allocate(byteCount: count * 4)
                for _ in 0..<20 {
                    backend.binary(.add, strided(a, [1]), strided(b, [1]), shape: [count], out: out)
                    backend.binary(.mul, strided(out, [1]), strided(b, [1]), shape: [count], out: out)
                }
                if backend.floats(out, count: count) != zip(aValues, bValues).map({ ($0 + $1) * $1 }) { failures.add(task) }
            }
            #expect(failures.all.isEmpty, "tasks with wrong results: \(failures.all)")
        },
    ]
}

/// Task numbers collected from concurrent work.
final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var tasks: [Int] = []
    func add(_ task: Int) { lock.withLock { tasks.append(task) } }
    var all: [Int] { lock.withLock { tasks.sorted() } }
}
