import FlintBackend
import FlintCPU
import Foundation
import Testing

@Suite struct ElementwiseTests {
    static let inputs: [Float] = [-2, -0.5, 0, 0.25, 1, 3]

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
        case .sign: x > 0 ? 1 : x < 0 ? -1 : 0
        case .relu: max(x, 0)
        case .sigmoid: 1 / (1 + Foundation.exp(-x))
        case .tanh: Foundation.tanh(x)
        case .leakyRelu(let slope): x > 0 ? x : Double(slope) * x
        case .affine(let scale, let shift): x * Double(scale) + Double(shift)
        case .pow(let exponent): Foundation.pow(x, Double(exponent))
        case .clamp(let low, let high): min(max(x, Double(low)), Double(high))
        case .erf: Foundation.erf(x)
        case .softplus: Foundation.log1p(Foundation.exp(x))
        case .gelu: 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot()))
        case .silu: x / (1 + Foundation.exp(-x))
        }
    }

    static let unaryOps: [UnaryOp] = [
        .neg, .abs, .exp, .log, .sqrt, .rsqrt, .square, .reciprocal, .sign, .relu, .sigmoid, .tanh,
        .leakyRelu(slope: 0.1), .affine(scale: 2, shift: -1), .pow(2), .pow(3), .pow(0.5), .pow(-1),
        .clamp(low: -1, high: 0.5), .erf, .softplus, .gelu, .silu,
    ]

    @Test(arguments: unaryOps)
    func unaryMatchesReference(_ op: UnaryOp) {
        let x = makeBuffer(Self.inputs)
        let out = backend.allocate(byteCount: 24)
        backend.unary(op, strided(x, [1]), shape: [6], out: out)
        expectClose(readFloats(out, count: 6), Self.inputs.map { Self.reference(op, Double($0)) }, tolerance: 2e-7)
    }

    @Test func unarySpotValues() {
        let x = makeBuffer([-2, -0.0, 0, 0.5, 4])
        let out = backend.allocate(byteCount: 20)
        func run(_ op: UnaryOp) -> [Float] {
            backend.unary(op, strided(x, [1]), shape: [5], out: out)
            return readFloats(out, count: 5)
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
    }

    @Test func unaryReadsStridedAndBroadcastInputs() {
        // x: 3×2 row-major, read transposed as [2, 3].
        let x = makeBuffer([1, 2, 3, 4, 5, 6])
        let out = backend.allocate(byteCount: 24)
        backend.unary(.neg, strided(x, [1, 2]), shape: [2, 3], out: out)
        #expect(readFloats(out, count: 6) == [-1, -3, -5, -2, -4, -6])
        // A scalar at offset 4 broadcast to [2, 3].
        backend.unary(.square, strided(x, offset: 4, [0, 0]), shape: [2, 3], out: out)
        #expect(readFloats(out, count: 6) == [25, 25, 25, 25, 25, 25])
        // Every other element: stride 2 along the last axis.
        backend.unary(.affine(scale: 1, shift: 10), strided(x, offset: 1, [2]), shape: [3], out: out)
        #expect(readFloats(out, count: 3) == [12, 14, 16])
    }

    @Test func unaryInPlace() {
        let x = makeBuffer([-1, 2, -3, 4])
        backend.unary(.relu, strided(x, [1]), shape: [4], out: x)
        #expect(readFloats(x, count: 4) == [0, 2, 0, 4])
    }

    static func reference(_ op: BinaryOp, _ a: Double, _ b: Double) -> Double {
        switch op {
        case .add: a + b
        case .sub: a - b
        case .mul: a * b
        case .div: a / b
        case .pow: Foundation.pow(a, b)
        case .maximum: max(a, b)
        case .minimum: min(a, b)
        case .equal: a == b ? 1 : 0
        case .notEqual: a != b ? 1 : 0
        case .less: a < b ? 1 : 0
        case .lessEqual: a <= b ? 1 : 0
        case .greater: a > b ? 1 : 0
        case .greaterEqual: a >= b ? 1 : 0
        }
    }

    @Test(arguments: BinaryOp.allCases)
    func binaryBroadcastsARow(_ op: BinaryOp) {
        // a: [2, 3]; b: [1, 3] broadcast along the first axis with stride 0.
        let aValues: [Float] = [1, 2, 3, 0.5, 2, 4]
        let bValues: [Float] = [2, 2, 0.5]
        let a = makeBuffer(aValues)
        let b = makeBuffer(bValues)
        let out = backend.allocate(byteCount: 24)
        backend.binary(op, strided(a, [3, 1]), strided(b, [0, 1]), shape: [2, 3], out: out)
        let expected = (0..<6).map { Self.reference(op, Double(aValues[$0]), Double(bValues[$0 % 3])) }
        expectClose(readFloats(out, count: 6), expected, tolerance: 2e-7)
    }

    @Test(arguments: BinaryOp.allCases)
    func binaryWithTransposedOperand(_ op: BinaryOp) {
        // a contiguous [3, 2]; b is a 2×3 buffer read transposed; also a scalar on the left.
        let aValues: [Float] = [1, 2, 3, 4, 5, 6]
        let bValues: [Float] = [2, 4, 3, 1, 5, 6]
        let a = makeBuffer(aValues)
        let b = makeBuffer(bValues)
        let out = backend.allocate(byteCount: 24)
        backend.binary(op, strided(a, [2, 1]), strided(b, [1, 3]), shape: [3, 2], out: out)
        var expected: [Double] = []
        for i in 0..<3 { for j in 0..<2 { expected.append(Self.reference(op, Double(aValues[i * 2 + j]), Double(bValues[j * 3 + i]))) } }
        expectClose(readFloats(out, count: 6), expected, tolerance: 2e-7)

        backend.binary(op, strided(a, offset: 2, [0, 0]), strided(b, [1, 3]), shape: [3, 2], out: out)
        expected = []
        for i in 0..<3 { for j in 0..<2 { expected.append(Self.reference(op, 3, Double(bValues[j * 3 + i]))) } }
        expectClose(readFloats(out, count: 6), expected, tolerance: 2e-7)
    }

    @Test func binaryInPlaceAndColumnBroadcast() {
        let a = makeBuffer([1, 2, 3, 4, 5, 6])
        let column = makeBuffer([10, 20])
        // a[i, j] += column[i]  (column broadcast along the last axis), written over a.
        backend.binary(.add, strided(a, [3, 1]), strided(column, [1, 0]), shape: [2, 3], out: a)
        #expect(readFloats(a, count: 6) == [11, 12, 13, 24, 25, 26])
        // Output aliasing the right operand.
        let b = makeBuffer([1, 2, 4])
        backend.binary(.div, strided(column, offset: 0, [0]), strided(b, [1]), shape: [3], out: b)
        #expect(readFloats(b, count: 3) == [10, 5, 2.5])
    }

    @Test func binaryRank4WithMixedBroadcasts() {
        let shape = [2, 3, 4, 5]
        var random = TestRandom(seed: 1)
        let aValues = random.floats(2 * 4 * 5)  // [2, 1, 4, 5]
        let bValues = random.floats(3 * 5)  // [1, 3, 1, 5] stored as [5, 3] transposed
        let a = makeBuffer(aValues)
        let b = makeBuffer(bValues)
        let out = backend.allocate(byteCount: 120 * 4)
        backend.binary(.mul, strided(a, [20, 0, 5, 1]), strided(b, [0, 1, 0, 3]), shape: shape, out: out)
        var expected: [Double] = []
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { for l in 0..<5 {
            expected.append(Double(aValues[i * 20 + k * 5 + l]) * Double(bValues[j + l * 3]))
        } } } }
        expectClose(readFloats(out, count: 120), expected, tolerance: 1e-7)
    }

    @Test func selectPicksByCondition() {
        let condition = makeBuffer([1, 0, -0.0, 2, 0, .nan])
        let a = makeBuffer([1, 2, 3, 4, 5, 6])
        let b = makeBuffer([-1])
        let out = backend.allocate(byteCount: 24)
        backend.select(strided(condition, [1]), strided(a, [1]), strided(b, [0]), shape: [6], out: out)
        #expect(readFloats(out, count: 6) == [1, -1, -1, 4, -1, 6])
        // Condition broadcast per row of [2, 3], a transposed.
        let rows = makeBuffer([0, 1])
        backend.select(strided(rows, [1, 0]), strided(a, [1, 2]), strided(b, [0, 0]), shape: [2, 3], out: out)
        #expect(readFloats(out, count: 6) == [-1, -1, -1, 2, 4, 6])
    }

    @Test func largeElementwiseUsesEveryElement() {
        let count = 1 << 21 + 3
        let values = (0..<count).map { Float($0 % 1000) - 500 }
        let x = makeBuffer(values)
        let out = backend.allocate(byteCount: count * 4)
        backend.unary(.relu, strided(x, [1]), shape: [count], out: out)
        #expect(readFloats(out, count: count) == values.map { max($0, 0) })
        // Strided and broadcast: [rows, 1027] + a row vector.
        let rows = count / 1027
        let row = makeBuffer((0..<1027).map(Float.init))
        backend.binary(.add, strided(x, [1027, 1]), strided(row, [0, 1]), shape: [rows, 1027], out: out)
        let result = readFloats(out, count: rows * 1027)
        var mismatches = 0
        for i in 0..<(rows * 1027) where result[i] != values[i] + Float(i % 1027) { mismatches += 1 }
        #expect(mismatches == 0)
        // Transposed read of a large matrix: [1027, rows] from [rows, 1027].
        backend.unary(.neg, strided(x, [1, 1027]), shape: [1027, rows], out: out)
        let transposed = readFloats(out, count: rows * 1027)
        mismatches = 0
        for j in 0..<1027 { for i in 0..<rows where transposed[j * rows + i] != -values[i * 1027 + j] { mismatches += 1 } }
        #expect(mismatches == 0)
    }
}
