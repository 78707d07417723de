import FlintBackend
import FlintOpenCL
import Foundation
import Testing

@Suite("OpenCL element-wise primitives", .enabled(if: TestDevice.available))
struct ElementwiseTests {
    static let unaryCases: [(UnaryOp, @Sendable (Double) -> Double)] = [
        (.neg, { -$0 }),
        (.abs, { Swift.abs($0) }),
        (.exp, { Foundation.exp($0) }),
        (.log, { Foundation.log($0) }),
        (.sqrt, { Foundation.sqrt($0) }),
        (.rsqrt, { 1 / Foundation.sqrt($0) }),
        (.square, { $0 * $0 }),
        (.reciprocal, { 1 / $0 }),
        (.sign, { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }),
        (.relu, { Swift.max($0, 0) }),
        (.sigmoid, { 1 / (1 + Foundation.exp(-$0)) }),
        (.tanh, { Foundation.tanh($0) }),
        (.leakyRelu(slope: 0.1), { $0 > 0 ? $0 : 0.1 * $0 }),
        (.affine(scale: 0.5, shift: 1), { $0 * 0.5 + 1 }),
        (.pow(2.5), { Foundation.pow($0, 2.5) }),
        (.pow(3), { Foundation.pow($0, 3) }),
        (.clamp(low: -0.75, high: 1.25), { Swift.min(Swift.max($0, -0.75), 1.25) }),
        (.erf, { Foundation.erf($0) }),
        (.softplus, { Foundation.log1p(Foundation.exp($0)) }),
        (.gelu, { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }),
        (.silu, { $0 / (1 + Foundation.exp(-$0)) }),
    ]

    static let inputs: [Float] = [-3, -1.5, -0.25, 0, 0.25, 0.5, 1, 2, 4.75]

    @Test("every unary op matches a Float64 reference", arguments: 0..<unaryCases.count)
    func unaryOps(_ index: Int) throws {
        let backend = try TestDevice.backend()
        let (op, reference) = Self.unaryCases[index]
        let x = backend.upload(Self.inputs)
        let out = backend.allocate(byteCount: Self.inputs.count * 4)
        backend.unary(op, StridedOperand(buffer: x, offset: 0, strides: [1]), shape: [Self.inputs.count], out: out)
        let result = backend.floats(out, count: Self.inputs.count)
        for (input, actual) in zip(Self.inputs, result) {
            let expected = reference(Double(input))
            #expect(
                isClose(actual, expected, relative: 2e-6, absolute: 1e-7),
                "\(op)(\(input)) = \(actual), expected \(expected)")
        }
    }

    @Test("sign(0) is 0 and comparisons give exact masks")
    func exactValues() throws {
        let backend = try TestDevice.backend()
        let x = backend.upload([0, -0.0, 3, -2])
        let out = backend.allocate(byteCount: 16)
        backend.unary(.sign, StridedOperand(buffer: x, offset: 0, strides: [1]), shape: [4], out: out)
        #expect(backend.floats(out, count: 4) == [0, 0, 1, -1])
    }

    @Test("unary over a transposed view, with an offset")
    func unaryStrided() throws {
        let backend = try TestDevice.backend()
        // A 2×3 matrix at element offset 1; its transpose is 3×2 with strides [1, 3].
        let values: [Float] = [99, 1, 2, 3, 4, 5, 6]
        let x = backend.upload(values)
        let out = backend.allocate(byteCount: 6 * 4)
        backend.unary(.square, StridedOperand(buffer: x, offset: 1, strides: [1, 3]), shape: [3, 2], out: out)
        #expect(backend.floats(out, count: 6) == [1, 16, 4, 25, 9, 36])
    }

    static func binaryReference(_ op: BinaryOp, _ a: Float, _ b: Float) -> Double {
        let x = Double(a), y = Double(b)
        switch op {
        case .add: return x + y
        case .sub: return x - y
        case .mul: return x * y
        case .div: return x / y
        case .pow: return Foundation.pow(x, y)
        case .maximum: return Swift.max(x, y)
        case .minimum: return Swift.min(x, y)
        case .equal: return a == b ? 1 : 0
        case .notEqual: return a != b ? 1 : 0
        case .less: return a < b ? 1 : 0
        case .lessEqual: return a <= b ? 1 : 0
        case .greater: return a > b ? 1 : 0
        case .greaterEqual: return a >= b ? 1 : 0
        }
    }

    @Test("every binary op, with a broadcast row and a transposed operand", arguments: BinaryOp.allCases)
    func binaryOps(_ op: BinaryOp) throws {
        let backend = try TestDevice.backend()
        // a: 4×3 stored transposed (3×4 row-major, strides [1, 4]); b: a row of 3 broadcast down.
        let aStorage: [Float] = [0.5, 1, 2, 3, 1.5, 2, 0.25, 4, 2, 2, 3, 0.75]
        let bRow: [Float] = [2, 1.5, 0.5]
        let a = backend.upload(aStorage)
        let b = backend.upload(bRow)
        let out = backend.allocate(byteCount: 12 * 4)
        backend.binary(
            op, StridedOperand(buffer: a, offset: 0, strides: [1, 4]), StridedOperand(buffer: b, offset: 0, strides: [0, 1]),
            shape: [4, 3], out: out)
        let result = backend.floats(out, count: 12)
        for r in 0..<4 {
            for c in 0..<3 {
                let x = aStorage[c * 4 + r], y = bRow[c]
                let expected = Self.binaryReference(op, x, y)
                #expect(
                    isClose(result[r * 3 + c], expected, relative: 2e-6),
                    "\(op)(\(x), \(y)) = \(result[r * 3 + c]), expected \(expected)")
            }
        }
    }

    @Test("binary with a scalar broadcast and in place into the first operand")
    func binaryScalarInPlace() throws {
        let backend = try TestDevice.backend()
        var random = TestRandom(seed: 1)
        let values = random.floats(1000)
        let a = backend.upload(values)
        let scalar = backend.upload([0, 2.5])
        backend.binary(
            .mul, StridedOperand(buffer: a, offset: 0, strides: [10, 1]),
            StridedOperand(buffer: scalar, offset: 1, strides: [0, 0]), shape: [100, 10], out: a)
        #expect(backend.floats(a, count: 1000) == values.map { $0 * 2.5 })
    }

    @Test("rank-8 broadcasting with odd sizes")
    func highRank() throws {
        let backend = try TestDevice.backend()
        let shape = [2, 3, 1, 2, 3, 2, 5, 3]
        let count = shape.reduce(1, *)
        var random = TestRandom(seed: 2)
        let aValues = random.floats(count)
        // b broadcasts over dimensions 1 and 6 and is stored in reversed dimension order.
        let bShape = [2, 1, 1, 2, 3, 2, 1, 3]
        let bCount = bShape.reduce(1, *)
        let bValues = random.floats(bCount)
        var bStrides = [Int](repeating: 0, count: 8)
        var running = 1
        for d in 0..<8 where bShape[d] > 1 {
            bStrides[d] = running
            running *= bShape[d]
        }
        let a = backend.upload(aValues)
        let b = backend.upload(bValues)
        let out = backend.allocate(byteCount: count * 4)
        backend.binary(
            .sub, StridedOperand(buffer: a, offset: 0, strides: contiguousStrides(shape)),
            StridedOperand(buffer: b, offset: 0, strides: bStrides), shape: shape, out: out)
        let bOffsets = stridedOffsets(shape: shape, strides: bStrides)
        let expected = (0..<count).map { aValues[$0] - bValues[bOffsets[$0]] }
        #expect(backend.floats(out, count: count) == expected)
    }

    @Test("select with a broadcast condition")
    func select() throws {
        let backend = try TestDevice.backend()
        let condition = backend.upload([1, 0, -2])
        let a = backend.upload([1, 2, 3, 4, 5, 6])
        let b = backend.upload([-1, -2, -3, -4, -5, -6])
        let out = backend.allocate(byteCount: 6 * 4)
        backend.select(
            StridedOperand(buffer: condition, offset: 0, strides: [0, 1]),
            StridedOperand(buffer: a, offset: 0, strides: [3, 1]),
            StridedOperand(buffer: b, offset: 0, strides: [1, 2]),  // b transposed
            shape: [2, 3], out: out)
        #expect(backend.floats(out, count: 6) == [1, -3, 3, 4, -4, 6])
        // Contiguous operands take the linear path.
        backend.select(
            StridedOperand(buffer: a, offset: 0, strides: [1]),
            StridedOperand(buffer: a, offset: 0, strides: [1]),
            StridedOperand(buffer: b, offset: 0, strides: [1]), shape: [6], out: out)
        #expect(backend.floats(out, count: 6) == [1, 2, 3, 4, 5, 6])
    }

    @Test("copy keeps bit patterns and writes into a strided destination")
    func copyStrided() throws {
        let backend = try TestDevice.backend()
        let patterns: [UInt32] = [0x7FC0_0001, 0x8000_0000, 0xFFFF_FFFF, 1, 2, 3]
        let src = backend.upload(bits: patterns)
        // Write the 2×3 source, transposed, into columns 3...4 of a 3×4 block of the destination.
        let dst = backend.upload(bits: [UInt32](repeating: 0xDEAD_BEEF, count: 14))
        backend.copy(
            StridedOperand(buffer: src, offset: 0, strides: [1, 3]),
            to: StridedOperand(buffer: dst, offset: 3, strides: [4, 1]), shape: [3, 2])
        let result = backend.bits(dst, count: 14)
        let d: UInt32 = 0xDEAD_BEEF
        #expect(result == [d, d, d, patterns[0], patterns[3], d, d, patterns[1], patterns[4], d, d, patterns[2], patterns[5], d])
        // A contiguous copy with an offset takes the linear path.
        let out = backend.allocate(byteCount: 4 * 4)
        backend.copy(
            StridedOperand(buffer: src, offset: 2, strides: [1]),
            to: StridedOperand(buffer: out, offset: 0, strides: [1]), shape: [4])
        #expect(backend.bits(out, count: 4) == Array(patterns[2...]))
        // Broadcasting a scalar into a larger block.
        let big = backend.allocate(byteCount: 1000 * 4)
        backend.copy(
            StridedOperand(buffer: src, offset: 3, strides: [0, 0]),
            to: StridedOperand(buffer: big, offset: 0, strides: [100, 1]), shape: [10, 100])
        #expect(backend.bits(big, count: 1000) == [UInt32](repeating: 1, count: 1000))
    }

    @Test("transposing copies of odd sizes with outer dimensions")
    func transposingCopy() throws {
        let backend = try TestDevice.backend()
        // src: [3, 37, 19] row-major; copy its [3, 19, 37] transpose into a destination whose
        // rows are padded to 40 and whose batches are 800 apart, at offset 7.
        let shape = [3, 19, 37]
        let values = (0..<(3 * 37 * 19)).map { UInt32($0) }
        let src = backend.upload(bits: values)
        let dstCount = 7 + 3 * 800
        let dst = backend.upload(bits: [UInt32](repeating: .max, count: dstCount))
        let srcStrides = [37 * 19, 1, 19]
        let dstStrides = [800, 40, 1]
        backend.copy(
            StridedOperand(buffer: src, offset: 0, strides: srcStrides),
            to: StridedOperand(buffer: dst, offset: 7, strides: dstStrides), shape: shape)
        var expected = [UInt32](repeating: .max, count: dstCount)
        for (from, to) in zip(stridedOffsets(shape: shape, strides: srcStrides), stridedOffsets(shape: shape, strides: dstStrides, offset: 7)) {
            expected[to] = values[from]
        }
        #expect(backend.bits(dst, count: dstCount) == expected)
    }

    @Test("fill with a bit pattern at an offset")
    func fill() throws {
        let backend = try TestDevice.backend()
        let buffer = backend.upload([Float](repeating: 7, count: 300))
        backend.fill(buffer, offset: 5, count: 290, bits: Float(-1.5).bitPattern)
        let result = backend.floats(buffer, count: 300)
        #expect(result[..<5].allSatisfy { $0 == 7 })
        #expect(result[5..<295].allSatisfy { $0 == -1.5 })
        #expect(result[295...].allSatisfy { $0 == 7 })
    }

    @Test("cast between float32 and int32")
    func cast() throws {
        let backend = try TestDevice.backend()
        let values: [Float] = [1.9, -1.9, .nan, 3e9, -3e9, 0.5, -0.0, 16_777_216, -7]
        let src = backend.upload([0] + values)
        let out = backend.allocate(byteCount: values.count * 4)
        backend.cast(src, offset: 1, count: values.count, from: .float32, to: .int32, out: out)
        #expect(backend.ints(out, count: values.count) == [1, -1, 0, .max, .min, 0, 0, 16_777_216, -7])
        let ints: [Int32] = [0, 1, -1, .max, .min, 16_777_217]
        let intBuffer = backend.upload(ints: ints)
        let floats = backend.allocate(byteCount: ints.count * 4)
        backend.cast(intBuffer, offset: 0, count: ints.count, from: .int32, to: .float32, out: floats)
        #expect(backend.floats(floats, count: ints.count) == ints.map { Float($0) })
    }

    @Test("a large contiguous op and concurrent callers")
    func concurrentCallers() async throws {
        let backend = try TestDevice.backend()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<6 {
                group.addTask {
                    var random = TestRandom(seed: UInt64(100 + task))
                    let count = 10_000 + task * 777
                    let aValues = random.floats(count)
                    let bValues = random.floats(count)
                    let a = backend.upload(aValues)
                    let b = backend.upload(bValues)
                    let out = backend.allocate(byteCount: count * 4)
                    for _ in 0..<20 {
                        backend.binary(
                            .add, StridedOperand(buffer: a, offset: 0, strides: [1]),
                            StridedOperand(buffer: b, offset: 0, strides: [1]), shape: [count], out: out)
                        backend.binary(
                            .mul, StridedOperand(buffer: out, offset: 0, strides: [1]),
                            StridedOperand(buffer: b, offset: 0, strides: [1]), shape: [count], out: out)
                    }
                    let result = backend.floats(out, count: count)
                    #expect(result == zip(aValues, bValues).map { ($0 + $1) * $1 })
                }
            }
            try await group.waitForAll()
        }
    }
}
