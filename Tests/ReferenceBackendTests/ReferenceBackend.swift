import FlintBackend
import Foundation

extension DeviceInfo.Kind {
    /// The plain-Swift reference backend of these tests.
    static let reference: Self = "reference"
}

/// A deliberately simple third backend: host arrays and plain Swift loops, one thread, no
/// pool, Float64 where it makes results exact. It implements only the primitives `Backend`
/// requires; argmax, softmax, fill, random, im2col, col2im, max pooling and the Adam step come
/// from `BackendDefaults`. It lives in this test target and FlintCore does not know it.
final class ReferenceBackend: Backend, @unchecked Sendable {
    /// Host memory as 32-bit words.
    final class Buffer: DeviceBuffer, @unchecked Sendable {
        let byteCount: Int
        let words: UnsafeMutablePointer<UInt32>

        init(byteCount: Int) {
            self.byteCount = byteCount
            words = .allocate(capacity: Swift.max(1, (byteCount + 3) / 4))
            words.initialize(repeating: 0, count: Swift.max(1, (byteCount + 3) / 4))
        }

        deinit { words.deallocate() }

        subscript(_ element: Int) -> Float {
            get { Float(bitPattern: words[element]) }
            set { words[element] = newValue.bitPattern }
        }
    }

    let info = DeviceInfo(kind: .reference, index: 0, identifier: "reference", name: "plain Swift reference", platform: "Swift",
                          deviceType: "CPU", computeUnits: 1, memoryBytes: ProcessInfo.processInfo.physicalMemory, driverVersion: "1")
    private let counters = NSLock()
    private var allocations = 0, bytes = 0

    var memoryStatistics: MemoryStatistics {
        counters.withLock { MemoryStatistics(allocations: allocations, reuses: 0, bytesReserved: bytes) }
    }

    func synchronize() {}

    // MARK: Memory

    func allocate(byteCount: Int) -> any DeviceBuffer {
        counters.withLock {
            allocations += 1
            bytes += byteCount
        }
        return Buffer(byteCount: byteCount)
    }

    func write(_ bytes: UnsafeRawBufferPointer, to buffer: any DeviceBuffer, byteOffset: Int) {
        let target = words(buffer)
        precondition(byteOffset >= 0 && byteOffset + bytes.count <= target.byteCount, "ReferenceBackend.write: out of range")
        UnsafeMutableRawPointer(target.words + byteOffset / 4).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }

    func read(_ buffer: any DeviceBuffer, byteOffset: Int, into bytes: UnsafeMutableRawBufferPointer) {
        let source = words(buffer)
        precondition(byteOffset >= 0 && byteOffset + bytes.count <= source.byteCount, "ReferenceBackend.read: out of range")
        bytes.baseAddress!.copyMemory(from: source.words + byteOffset / 4, byteCount: bytes.count)
    }

    func copy(_ src: StridedOperand, to dst: StridedOperand, shape: [Int]) {
        let (from, to) = (words(src.buffer).words, words(dst.buffer).words)
        Self.walk(shape, src, dst) { _, a, b, _ in to[b] = from[a] }
    }

    func cast(_ src: any DeviceBuffer, offset: Int, count: Int, from: DType, to: DType, out: any DeviceBuffer) {
        let (input, output) = (words(src).words + offset, words(out).words)
        for i in 0..<count {
            switch (from, to) {
            case (.float32, .int32):
                let x = Float(bitPattern: input[i])
                let value: Int32 = x.isNaN ? 0 : x >= 2_147_483_648 ? .max : x <= -2_147_483_648 ? .min : Int32(x)
                output[i] = UInt32(bitPattern: value)
            case (.int32, .float32):
                output[i] = Float(Int32(bitPattern: input[i])).bitPattern
            default:
                output[i] = input[i]
            }
        }
    }

    // MARK: Element-wise

    func unary(_ op: UnaryOp, _ x: StridedOperand, shape: [Int], out: any DeviceBuffer) {
        let (input, output) = (words(x.buffer), words(out))
        Self.walk(shape, x) { i, a, _, _ in output[i] = Self.apply(op, input[a]) }
    }

    func binary(_ op: BinaryOp, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], out: any DeviceBuffer) {
        let (left, right, output) = (words(a.buffer), words(b.buffer), words(out))
        Self.walk(shape, a, b) { i, x, y, _ in output[i] = Self.apply(op, left[x], right[y]) }
    }

    func select(_ condition: StridedOperand, _ a: StridedOperand, _ b: StridedOperand, shape: [Int], out: any DeviceBuffer) {
        let (mask, output) = (words(condition.buffer), words(out).words)
        let (first, second) = (words(a.buffer).words, words(b.buffer).words)
        Self.walk(shape, condition, a, b) { i, c, x, y in output[i] = mask[c] != 0 ? first[x] : second[y] }
    }

    static func apply(_ op: UnaryOp, _ x: Float) -> Float {
        let d = Double(x)
        switch op {
        case .neg: return -x
        case .abs: return x.magnitude
        case .exp: return Float(Foundation.exp(d))
        case .log: return Float(Foundation.log(d))
        case .sqrt: return x.squareRoot()
        case .rsqrt: return Float(1 / d.squareRoot())
        case .square: return x * x
        case .reciprocal: return 1 / x
        case .sign: return x > 0 ? 1 : x < 0 ? -1 : x
        case .relu: return !(x <= 0) ? x : 0
        case .sigmoid: return Float(1 / (1 + Foundation.exp(-d)))
        case .tanh: return Float(Foundation.tanh(d))
        case .leakyRelu(let slope): return x > 0 ? x : slope * x
        case .affine(let scale, let shift): return Float(d * Double(scale) + Double(shift))
        case .pow(let exponent): return Float(Foundation.pow(d, Double(exponent)))
        case .clamp(let low, let high):
            let raised = x < low ? low : x
            return raised > high ? high : raised
        case .erf: return Float(Foundation.erf(d))
        case .softplus: return Float(Swift.max(d, 0) + Foundation.log1p(Foundation.exp(-d.magnitude)))
        case .gelu: return Float(0.5 * d * (1 + Foundation.erf(d / 2.0.squareRoot())))
        case .silu: return Float(d / (1 + Foundation.exp(-d)))
        }
    }

    static func apply(_ op: BinaryOp, _ a: Float, _ b: Float) -> Float {
        switch op {
        case .add: a + b
        case .sub: a - b
        case .mul: a * b
        case .div: a / b
        case .pow: Float(Foundation.pow(Double(a), Double(b)))
        case .maximum: a > b || a.isNaN ? a : b
        case .minimum: a < b || a.isNaN ? a : b
        case .equal: a == b ? 1 : 0
        case .notEqual: a != b ? 1 : 0
        case .less: a < b ? 1 : 0
        case .lessEqual: a <= b ? 1 : 0
        case .greater: a > b ? 1 : 0
        case .greaterEqual: a >= b ? 1 : 0
        case .reluGradient: a * (b > 0 ? 1 : 0)
        }
    }

    // MARK: Along an axis

    func reduce(_ op: ReduceOp, _ x: any DeviceBuffer, offset: Int, layout: AxisLayout, out: any DeviceBuffer) {
        let (source, output) = (words(x), words(out))
        for o in 0..<layout.outer {
            for i in 0..<layout.inner {
                var total = 0.0, extreme = source[offset + o * layout.length * layout.inner + i]
                for r in 0..<layout.length {
                    let v = source[offset + (o * layout.length + r) * layout.inner + i]
                    total += Double(v)
                    if extreme.isNaN { continue }
                    if v.isNaN || (op == .max ? v > extreme : v < extreme) { extreme = v }
                }
                output[o * layout.inner + i] = op == .sum ? Float(total) : extreme
            }
        }
    }

    func gather(_ x: any DeviceBuffer, offset: Int, layout: AxisLayout, indices: any DeviceBuffer, indicesOffset: Int,
                indexLength: Int, out: any DeviceBuffer) {
        let (source, index, target) = (words(x).words, words(indices).words, words(out).words)
        for o in 0..<layout.outer {
            for j in 0..<indexLength {
                for i in 0..<layout.inner {
                    let at = (o * indexLength + j) * layout.inner + i
                    let r = Int(Int32(bitPattern: index[indicesOffset + at]))
                    target[at] = (0..<layout.length).contains(r) ? source[offset + (o * layout.length + r) * layout.inner + i] : 0
                }
            }
        }
    }

    func scatterAdd(_ src: any DeviceBuffer, srcOffset: Int, indices: any DeviceBuffer, indicesOffset: Int, indexLength: Int,
                    layout: AxisLayout, out: any DeviceBuffer) {
        let (source, index, target) = (words(src), words(indices).words, words(out))
        for o in 0..<layout.outer {
            for j in 0..<indexLength {
                for i in 0..<layout.inner {
                    let at = (o * indexLength + j) * layout.inner + i
                    let r = Int(Int32(bitPattern: index[indicesOffset + at]))
                    guard (0..<layout.length).contains(r) else { continue }
                    let position = (o * layout.length + r) * layout.inner + i
                    target[position] += source[srcOffset + at]
                }
            }
        }
    }

    // MARK: Matrix products

    func gemm(m: Int, n: Int, k: Int, batch: Int, alpha: Float, _ a: MatrixOperand, _ b: MatrixOperand, beta: Float,
              _ c: MatrixOperand) {
        let (left, right, target) = (words(a.buffer), words(b.buffer), words(c.buffer))
        for p in 0..<batch {
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0
                    for l in 0..<k {
                        sum += Double(left[a.offset + p * a.batchStride + i * a.rowStride + l * a.colStride])
                            * Double(right[b.offset + p * b.batchStride + l * b.rowStride + j * b.colStride])
                    }
                    let at = c.offset + p * c.batchStride + i * c.rowStride + j * c.colStride
                    let old = beta == 0 ? 0 : Double(beta) * Double(target[at])
                    target[at] = Float(Double(alpha) * sum + old)
                }
            }
        }
    }

    // MARK: Helpers

    private func words(_ buffer: any DeviceBuffer) -> Buffer {
        guard let buffer = buffer as? Buffer else { preconditionFailure("ReferenceBackend: a buffer of another backend") }
        return buffer
    }

    /// Calls `body(i, a, b, c)` for every index of `shape` in row-major order: `i` counts the
    /// elements, `a`, `b` and `c` are the element offsets of up to three operands (0 for a missing one).
    static func walk(_ shape: [Int], _ operands: StridedOperand..., body: (Int, Int, Int, Int) -> Void) {
        let rank = shape.count, count = shape.reduce(1, *)
        guard count > 0 else { return }
        let zero = StridedOperand(buffer: Buffer(byteCount: 0), offset: 0, strides: [Int](repeating: 0, count: rank))
        let (x, y, z) = (operands[0], operands.count > 1 ? operands[1] : zero, operands.count > 2 ? operands[2] : zero)
        var index = [Int](repeating: 0, count: rank)
        var (a, b, c) = (x.offset, y.offset, z.offset)
        for i in 0..<count {
            body(i, a, b, c)
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                (a, b, c) = (a + x.strides[axis], b + y.strides[axis], c + z.strides[axis])
                if index[axis] < shape[axis] { break }
                (a, b, c) = (a - x.strides[axis] * shape[axis], b - y.strides[axis] * shape[axis], c - z.strides[axis] * shape[axis])
                index[axis] = 0
                axis -= 1
            }
        }
    }
}

/// Serves the one reference device.
struct ReferenceBackendProvider: BackendProvider {
    static let shared = ReferenceBackend()

    var kind: DeviceInfo.Kind { .reference }
    func devices() -> [DeviceInfo] { [Self.shared.info] }
    func makeBackend(for device: DeviceInfo) throws -> any Backend { Self.shared }
}
