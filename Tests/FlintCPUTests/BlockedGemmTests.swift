import FlintBackend
import Foundation
@testable import FlintCPU
import Testing

/// FlintCPU's own matrix products (CGemm, on AVX2 CPUs) at the edges of their blocking: partial
/// 6×16 tiles, k cut into several blocks, more rows than one packed block of A, more columns
/// than one packed block of B, A read in place and packed, a single row or column, every operand
/// layout, alpha and beta, each against a Float64 reference; and bitwise the same however a
/// product is split.
@Suite struct BlockedGemmTests {
    struct Shape: CustomTestStringConvertible, Sendable {
        let m, n, k: Int
        /// Every layout × (alpha, beta) pair, or only the plain one for the large threaded shapes.
        let allScalings: Bool
        var testDescription: String { "\(m)×\(n)×\(k)" }
    }

    static let shapes = [
        Shape(m: 7, n: 17, k: 3, allScalings: true),       // one full and one partial tile each way
        Shape(m: 13, n: 33, k: 385, allScalings: true),    // k in two blocks
        Shape(m: 1, n: 5, k: 800, allScalings: true),      // a row, k in three blocks
        Shape(m: 150, n: 20, k: 40, allScalings: true),    // two blocks of rows, A in place but the last panel
        Shape(m: 6, n: 520, k: 9, allScalings: true),      // too wide to read A in place
        Shape(m: 2, n: 4100, k: 2, allScalings: true),     // two blocks of columns
        Shape(m: 300, n: 40, k: 30, allScalings: true),
        Shape(m: 200, n: 64, k: 300, allScalings: false),  // threaded: split into bands of rows
        Shape(m: 64, n: 600, k: 40, allScalings: false),   // threaded: bands of columns
        Shape(m: 130, n: 300, k: 1100, allScalings: false), // bands of columns sharing one packed A (k in three blocks)
        // Matrix–vector products (flint_sgemv): B's columns or A's rows as the dot-product form,
        // the other layout as the column form, with a partial 64-row block.
        Shape(m: 1, n: 150, k: 70, allScalings: true),
        Shape(m: 130, n: 1, k: 37, allScalings: true),
        Shape(m: 1, n: 700, k: 500, allScalings: false),   // threaded: bands of outputs
        Shape(m: 900, n: 1, k: 300, allScalings: false),
    ]

    /// Where a logical `rows × columns` matrix lives in its buffer.
    enum Layout: CaseIterable {
        case rowMajor, columnMajor, spread  // spread: neither axis contiguous (no BLAS could read it)

        func strides(rows: Int, columns: Int) -> (row: Int, column: Int) {
            switch self {
            case .rowMajor: (columns + 3, 1)
            case .columnMajor: (1, rows + 2)
            case .spread: (2 * columns + 1, 2)
            }
        }

        /// The buffer holding `values` (row-major logical order) in this layout, 5 elements in.
        func store(_ values: [Float], rows: Int, columns: Int) -> (buffer: [Float], operand: (Int, Int)) {
            let (rs, cs) = strides(rows: rows, columns: columns)
            var buffer = [Float](repeating: .nan, count: 5 + (rows - 1) * rs + (columns - 1) * cs + 1)
            for r in 0..<rows { for c in 0..<columns { buffer[5 + r * rs + c * cs] = values[r * columns + c] } }
            return (buffer, (rs, cs))
        }
    }

    static func values(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { Float(($0 * 7919 + seed * 104_729) % 2001 - 1000) / 1000 }
    }

    @Test(arguments: shapes)
    func matchesTheFloat64Reference(shape: Shape) throws {
        try #require(BlockedGemm.enabled, "this CPU has no AVX2/FMA: products go to OpenBLAS, covered by the conformance suite")
        let (m, n, k) = (shape.m, shape.n, shape.k)
        let a = Self.values(m * k, seed: 1), b = Self.values(k * n, seed: 2), c0 = Self.values(m * n, seed: 3)
        // Σ a·b in Float64, and Σ |a·b| for the error bound.
        var exact = [Double](repeating: 0, count: m * n), magnitude = exact
        for i in 0..<m {
            for p in 0..<k {
                let x = Double(a[i * k + p])
                for j in 0..<n {
                    let term = x * Double(b[p * n + j])
                    exact[i * n + j] += term
                    magnitude[i * n + j] += abs(term)
                }
            }
        }
        let scalings: [(alpha: Float, beta: Float)] = shape.allScalings ? [(1, 0), (0.5, 1), (-2, -0.5)] : [(1, 0)]
        for layoutA in Layout.allCases {
            for layoutB in Layout.allCases {
                for (alpha, beta) in scalings {
                    let (aStore, aStrides) = layoutA.store(a, rows: m, columns: k)
                    let (bStore, bStrides) = layoutB.store(b, rows: k, columns: n)
                    // C with a padded row (ldc = n + 2); beta 0 must ignore the NaNs it starts with.
                    let ldc = n + 2
                    var cStore = [Float](repeating: .nan, count: 3 + m * ldc)
                    if beta != 0 { for i in 0..<m { for j in 0..<n { cStore[3 + i * ldc + j] = c0[i * n + j] } } }
                    let (aBuffer, bBuffer, cBuffer) = (makeBuffer(aStore), makeBuffer(bStore), makeBuffer(cStore))
                    backend.gemm(
                        m: m, n: n, k: k, batch: 1, alpha: alpha,
                        MatrixOperand(buffer: aBuffer, offset: 5, rowStride: aStrides.0, colStride: aStrides.1, batchStride: 0),
                        MatrixOperand(buffer: bBuffer, offset: 5, rowStride: bStrides.0, colStride: bStrides.1, batchStride: 0),
                        beta: beta, MatrixOperand(buffer: cBuffer, offset: 3, rowStride: ldc, colStride: 1, batchStride: 0))
                    let result = readFloats(cBuffer, count: cStore.count)
                    var worst: (index: Int, error: Double) = (-1, 0)
                    for i in 0..<m {
                        for j in 0..<n {
                            let index = i * n + j
                            let expected = Double(alpha) * exact[index] + (beta == 0 ? 0 : Double(beta) * Double(c0[index]))
                            let bound = 2e-5 * (abs(Double(alpha)) * magnitude[index] + abs(Double(beta * c0[index]))) + 1e-30
                            let error = abs(Double(result[3 + i * ldc + j]) - expected) / bound
                            if !(error <= worst.error) { worst = (index, error.isNaN ? .infinity : error) }
                        }
                    }
                    #expect(worst.error <= 1, "A \(layoutA), B \(layoutB), alpha \(alpha), beta \(beta): element \(worst.index) off by \(worst.error)× the bound")
                    // Nothing outside C's m × n elements was written.
                    let untouched = (0..<cStore.count).filter { i in
                        let inside = i >= 3 && (i - 3) % ldc < n && (i - 3) / ldc < m
                        return !inside
                    }
                    #expect(untouched.allSatisfy { result[$0].isNaN }, "A \(layoutA), B \(layoutB): wrote outside C")
                }
            }
        }
    }

    /// A batch of two runs whole products on separate threads; one product alone is split into
    /// bands of rows (or columns) across threads. Every element must come out the same.
    @Test(arguments: [(m: 300, n: 48, k: 200), (m: 40, n: 700, k: 90), (m: 130, n: 300, k: 1100)])
    func resultsDoNotDependOnTheSplit(m: Int, n: Int, k: Int) throws {
        try #require(BlockedGemm.enabled, "this CPU has no AVX2/FMA: products go to OpenBLAS")
        try #require(Parallel.cores > 1, "one core: nothing is split")
        let a = makeBuffer(Self.values(2 * m * k, seed: 4)), b = makeBuffer(Self.values(k * n, seed: 5))
        let batched = backend.allocate(byteCount: 2 * m * n * 4), single = backend.allocate(byteCount: m * n * 4)
        backend.gemm(m: m, n: n, k: k, batch: 2, alpha: 1,
                     MatrixOperand(buffer: a, offset: 0, rowStride: k, colStride: 1, batchStride: m * k),
                     MatrixOperand(buffer: b, offset: 0, rowStride: n, colStride: 1, batchStride: 0),
                     beta: 0, MatrixOperand(buffer: batched, offset: 0, rowStride: n, colStride: 1, batchStride: m * n))
        backend.gemm(m: m, n: n, k: k, batch: 1, alpha: 1,
                     MatrixOperand(buffer: a, offset: m * k, rowStride: k, colStride: 1, batchStride: 0),
                     MatrixOperand(buffer: b, offset: 0, rowStride: n, colStride: 1, batchStride: 0),
                     beta: 0, MatrixOperand(buffer: single, offset: 0, rowStride: n, colStride: 1, batchStride: 0))
        let whole = readFloats(batched, count: m * n, offset: m * n), split = readFloats(single, count: m * n)
        #expect(whole.map(\.bitPattern) == split.map(\.bitPattern))
    }
}

extension BlockedGemmTests {
    /// The kernel's epilogue (bias, then ReLU or leaky ReLU, on the last k block) on a product
    /// whole (batch of two: one thread each) and split into bands of rows or columns, against the
    /// product followed by the element-wise ops: the bits must agree, however the work is cut.
    @Test(arguments: [(m: 300, n: 48, k: 500), (m: 40, n: 700, k: 90), (m: 130, n: 300, k: 1100)],
          [UnaryOp.relu, .leakyRelu(slope: 0.3)])
    func epilogueMatchesTheSeparateOpsWholeAndSplit(shape: (m: Int, n: Int, k: Int), activation: UnaryOp) throws {
        try #require(BlockedGemm.enabled, "this CPU has no AVX2/FMA: products go to OpenBLAS, the epilogue to one pass after")
        let (m, n, k) = shape
        let a = makeBuffer(Self.values(2 * m * k, seed: 6)), b = makeBuffer(Self.values(k * n, seed: 7))
        let bias = makeBuffer(Self.values(n + 1, seed: 8))
        let epilogue = GemmEpilogue(bias: (bias, 1), activation: activation)
        let batched = backend.allocate(byteCount: 2 * m * n * 4), single = backend.allocate(byteCount: m * n * 4)
        let separate = backend.allocate(byteCount: m * n * 4)
        backend.gemm(m: m, n: n, k: k, batch: 2,
                     MatrixOperand(buffer: a, offset: 0, rowStride: k, colStride: 1, batchStride: m * k),
                     MatrixOperand(buffer: b, offset: 0, rowStride: n, colStride: 1, batchStride: 0),
                     MatrixOperand(buffer: batched, offset: 0, rowStride: n, colStride: 1, batchStride: m * n), epilogue: epilogue)
        let second = MatrixOperand(buffer: a, offset: m * k, rowStride: k, colStride: 1, batchStride: 0)
        backend.gemm(m: m, n: n, k: k, batch: 1, second, MatrixOperand(buffer: b, offset: 0, rowStride: n, colStride: 1, batchStride: 0),
                     MatrixOperand(buffer: single, offset: 0, rowStride: n, colStride: 1, batchStride: 0), epilogue: epilogue)
        backend.gemm(m: m, n: n, k: k, batch: 1, alpha: 1, second,
                     MatrixOperand(buffer: b, offset: 0, rowStride: n, colStride: 1, batchStride: 0), beta: 0,
                     MatrixOperand(buffer: separate, offset: 0, rowStride: n, colStride: 1, batchStride: 0))
        backend.binary(.add, StridedOperand(buffer: separate, offset: 0, strides: [n, 1]), StridedOperand(buffer: bias, offset: 1, strides: [0, 1]),
                       shape: [m, n], then: activation, out: separate)
        let whole = readFloats(batched, count: m * n, offset: m * n), split = readFloats(single, count: m * n)
        let reference = readFloats(separate, count: m * n)
        #expect(whole.map(\.bitPattern) == reference.map(\.bitPattern), "whole product with its epilogue")
        #expect(split.map(\.bitPattern) == reference.map(\.bitPattern), "product split into bands with its epilogue")
        let negatives = reference.contains(where: { $0 < 0 }), zeros = reference.contains(where: { $0 == 0 })
        #expect(activation == .relu ? zeros && !negatives : negatives, "the activation ran (ReLU zeroes, leaky ReLU keeps negatives)")
    }

    /// An unknown `FLINT_GEMM` is named on stderr, and products still run. In a child process,
    /// which sets the variable before its first product reads it (set here, it would reach the
    /// command-line tools other tests start meanwhile).
    @Test func anUnknownChoiceIsReportedNotFatal() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            setenv("FLINT_GEMM", "blas", 1)
            let a = makeBuffer([1, 2, 3, 4]), out = backend.allocate(byteCount: 16)
            let square = MatrixOperand(buffer: a, offset: 0, rowStride: 2, colStride: 1, batchStride: 0)
            backend.gemm(m: 2, n: 2, k: 2, batch: 1, alpha: 1, square, square, beta: 0,
                         MatrixOperand(buffer: out, offset: 0, rowStride: 2, colStride: 1, batchStride: 0))
            precondition(readFloats(out, count: 4) == [7, 10, 15, 22])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("FLINT_GEMM=\"blas\" is neither"), "\(message)")
    }
}

/// The worker threads behind `Parallel`: every task runs exactly once, also when jobs follow
/// each other closely, when a task starts a job of its own, and when two threads start jobs at once.
@Suite struct WorkerTests {
    static func runCounting(tasks: Int, nested: Bool = false) -> [Int] {
        // One slot per task, written without a lock: a task run twice shows as a count of 2 (and
        // to ThreadSanitizer as a race); the job's end publishes the slots to this thread.
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: tasks)
        counts.initialize(repeating: 0)
        defer { counts.deallocate() }
        Parallel.concurrentPerform(tasks) { task in
            if nested {
                // Runs on this thread, in order (the workers are busy with the outer job).
                var inner = 0
                Parallel.concurrentPerform(5) { _ in inner += 1 }
                guard inner == 5 else { return }
            }
            counts[task] += 1
        }
        return Array(counts)
    }

    @Test func everyTaskRunsOnce() {
        for tasks in [1, 2, 3, 8, 100] {
            for _ in 0..<200 {
                let counts = Self.runCounting(tasks: tasks)
                guard counts == Array(repeating: 1, count: tasks) else {
                    Issue.record("\(tasks) tasks ran \(counts) times")
                    return
                }
            }
        }
    }

    @Test func aTaskMayStartAJob() {
        #expect(Self.runCounting(tasks: 6, nested: true) == Array(repeating: 1, count: 6))
    }

    @Test func twoThreadsMayStartJobsAtOnce() async {
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    (0..<300).allSatisfy { _ in Self.runCounting(tasks: 7) == Array(repeating: 1, count: 7) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results == [true, true])
    }
}
