import FlintBackend
import FlintOpenCL
import Testing

/// A batch of matrices stored with padding (leading dimension larger than needed), at an
/// offset, row- or column-major, with its own Float64 view for the reference.
struct TestMatrix {
    var storage: [Float]
    var operand: MatrixOperand
    var rows: Int
    var columns: Int

    init(
        _ backend: OpenCLBackend, batch: Int, rows: Int, columns: Int, columnMajor: Bool,
        shared: Bool = false, pad: Int = 3, offset: Int = 5, random: inout TestRandom, fill: Float? = nil
    ) {
        let leading = (columnMajor ? rows : columns) + pad
        let size = (columnMajor ? columns : rows) * leading
        let batchStride = shared ? 0 : size + 2
        let count = offset + (shared ? 1 : batch) * (size + 2)
        storage = fill.map { [Float](repeating: $0, count: count) } ?? random.floats(count)
        let buffer = backend.upload(storage)
        operand = MatrixOperand(
            buffer: buffer, offset: offset,
            rowStride: columnMajor ? 1 : leading, colStride: columnMajor ? leading : 1, batchStride: batchStride)
        self.rows = rows
        self.columns = columns
    }

    func index(_ b: Int, _ r: Int, _ c: Int) -> Int {
        operand.offset + b * operand.batchStride + r * operand.rowStride + c * operand.colStride
    }

    subscript(b: Int, r: Int, c: Int) -> Float { storage[index(b, r, c)] }
}

@Suite("OpenCL gemm", .enabled(if: TestDevice.available))
struct GemmTests {
    /// Runs gemm and checks every element of C (and that C's padding is untouched).
    func check(
        m: Int, n: Int, k: Int, batch: Int, alpha: Float, beta: Float,
        aColumnMajor: Bool, bColumnMajor: Bool, aShared: Bool = false, bShared: Bool = false,
        cFill: Float? = nil, seed: UInt64
    ) throws {
        let backend = try TestDevice.backend()
        var random = TestRandom(seed: seed)
        let a = TestMatrix(backend, batch: batch, rows: m, columns: k, columnMajor: aColumnMajor, shared: aShared, random: &random)
        let b = TestMatrix(backend, batch: batch, rows: k, columns: n, columnMajor: bColumnMajor, shared: bShared, random: &random)
        let c = TestMatrix(backend, batch: batch, rows: m, columns: n, columnMajor: false, random: &random, fill: cFill)
        backend.gemm(m: m, n: n, k: k, batch: batch, alpha: alpha, a.operand, b.operand, beta: beta, c.operand)
        let result = backend.floats(c.operand.buffer, count: c.storage.count)
        var expected = c.storage
        var bound = [Double](repeating: 0, count: c.storage.count)
        for p in 0..<batch {
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0
                    var magnitude = 0.0
                    for l in 0..<k {
                        let product = Double(a[p, i, l]) * Double(b[p, l, j])
                        sum += product
                        magnitude += abs(product)
                    }
                    let at = c.index(p, i, j)
                    let old = beta == 0 ? 0 : Double(beta) * Double(c.storage[at])
                    expected[at] = Float(Double(alpha) * sum + old)
                    bound[at] = 1e-5 * (abs(Double(alpha)) * magnitude + abs(old)) + 1e-6
                }
            }
        }
        var failures = 0
        for index in result.indices where failures < 5 {
            let ok = bound[index] == 0
                ? result[index].bitPattern == expected[index].bitPattern
                : abs(Double(result[index]) - Double(expected[index])) <= bound[index]
            if !ok {
                failures += 1
                let layout = "A \(aColumnMajor ? "column" : "row")-major, B \(bColumnMajor ? "column" : "row")-major"
                Issue.record(
                    Comment(rawValue: "gemm \(m)×\(n)×\(k) batch \(batch), \(layout): element \(index) is \(result[index]), expected \(expected[index])"))
            }
        }
    }

    @Test("all four layout combinations at odd sizes, batched, with alpha and beta",
        arguments: [(false, false), (false, true), (true, false), (true, true)])
    func layouts(_ layout: (Bool, Bool)) throws {
        try check(m: 37, n: 19, k: 53, batch: 2, alpha: 1.5, beta: 0.5, aColumnMajor: layout.0, bColumnMajor: layout.1, seed: 20)
        try check(m: 70, n: 45, k: 9, batch: 1, alpha: -1, beta: 1, aColumnMajor: layout.0, bColumnMajor: layout.1, seed: 21)
    }

    @Test("beta 0 ignores C's old contents, even NaN")
    func betaZeroIgnoresNaN() throws {
        for bColumnMajor in [false, true] {
            try check(m: 33, n: 40, k: 17, batch: 2, alpha: 1, beta: 0, aColumnMajor: false,
                bColumnMajor: bColumnMajor, cFill: .nan, seed: 22)
        }
    }

    @Test("batched with a shared (batchStride 0) operand")
    func sharedOperands() throws {
        try check(m: 12, n: 20, k: 30, batch: 3, alpha: 1, beta: 0, aColumnMajor: false, bColumnMajor: false, aShared: true, seed: 23)
        try check(m: 12, n: 20, k: 30, batch: 3, alpha: 1, beta: 0, aColumnMajor: true, bColumnMajor: true, bShared: true, seed: 24)
        try check(m: 9, n: 17, k: 5, batch: 4, alpha: 2, beta: 0.25, aColumnMajor: false, bColumnMajor: true, aShared: true, seed: 25)
    }

    @Test("sizes around the tile edges",
        arguments: [
            (1, 1, 1), (16, 16, 16), (8, 16, 4), (64, 48, 33), (5, 100, 7), (130, 70, 260), (1, 300, 2), (300, 1, 3),
            (15, 19, 53), (3, 33, 16), (1, 40, 100),
        ])
    func sizes(_ size: (Int, Int, Int)) throws {
        for (aColumnMajor, bColumnMajor) in [(false, false), (true, false), (false, true), (true, true)] {
            try check(m: size.0, n: size.1, k: size.2, batch: 1, alpha: 1, beta: 0,
                aColumnMajor: aColumnMajor, bColumnMajor: bColumnMajor, seed: 26)
        }
    }

    @Test("few rows of C with a column-major B (dot-product kernel), alpha, beta and batches")
    func fewRowsColumnMajorB() throws {
        try check(m: 3, n: 45, k: 70, batch: 3, alpha: 0.5, beta: 2, aColumnMajor: false, bColumnMajor: true, seed: 27)
        try check(m: 7, n: 5, k: 33, batch: 2, alpha: 1, beta: 0, aColumnMajor: true, bColumnMajor: true,
            bShared: true, cFill: .nan, seed: 28)
    }
}
