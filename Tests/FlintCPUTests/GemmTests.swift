import FlintBackend
import FlintCPU
import Testing

@Suite struct GemmTests {
    /// A batch of matrices stored in a buffer, described as a `MatrixOperand`.
    struct Stored {
        var values: [Float]
        var offset: Int
        var rowStride: Int
        var colStride: Int
        var batchStride: Int

        func element(_ b: Int, _ r: Int, _ c: Int) -> Double {
            Double(values[offset + b * batchStride + r * rowStride + c * colStride])
        }

        func operand(_ buffer: any DeviceBuffer) -> MatrixOperand {
            MatrixOperand(buffer: buffer, offset: offset, rowStride: rowStride, colStride: colStride, batchStride: batchStride)
        }
    }

    /// `rows × columns` matrices, row-major or transposed (column-major) storage, with padding.
    static func store(
        rows: Int, columns: Int, batch: Int, transposed: Bool, broadcast: Bool = false,
        random: inout TestRandom
    ) -> Stored {
        let offset = 3
        let (rowStride, colStride) = transposed ? (1, rows + 2) : (columns + 1, 1)
        let matrixSize = transposed ? (rows + 2) * columns : rows * (columns + 1)
        let batchStride = broadcast ? 0 : matrixSize + 5
        let total = offset + (broadcast ? 1 : batch) * (matrixSize + 5)
        return Stored(
            values: random.floats(total), offset: offset, rowStride: rowStride, colStride: colStride,
            batchStride: batchStride)
    }

    static let cases: [(Bool, Bool)] = [(false, false), (true, false), (false, true), (true, true)]

    @Test(arguments: cases)
    func gemmMatchesNaiveLoop(_ transposes: (Bool, Bool)) {
        let (transA, transB) = transposes
        let (m, n, k, batch) = (5, 7, 4, 3)
        var random = TestRandom(seed: 11)
        let a = Self.store(rows: m, columns: k, batch: batch, transposed: transA, random: &random)
        // B is shared by every batch element (batchStride 0).
        let b = Self.store(rows: k, columns: n, batch: batch, transposed: transB, broadcast: true, random: &random)
        let ldc = n + 2
        let cStride = m * ldc + 1
        let cValues = random.floats(batch * cStride)
        let (alpha, beta): (Float, Float) = (1.5, -0.5)

        let aBuffer = makeBuffer(a.values), bBuffer = makeBuffer(b.values), cBuffer = makeBuffer(cValues)
        backend.gemm(
            m: m, n: n, k: k, batch: batch, alpha: alpha, a.operand(aBuffer), b.operand(bBuffer), beta: beta,
            MatrixOperand(buffer: cBuffer, offset: 0, rowStride: ldc, colStride: 1, batchStride: cStride))
        var expected = cValues.map(Double.init)
        for bi in 0..<batch {
            for r in 0..<m {
                for c in 0..<n {
                    var dot: Double = 0
                    for p in 0..<k { dot += a.element(bi, r, p) * b.element(0, p, c) }
                    let index = bi * cStride + r * ldc + c
                    expected[index] = Double(alpha) * dot + Double(beta) * Double(cValues[index])
                }
            }
        }
        expectClose(readFloats(cBuffer, count: cValues.count), expected, tolerance: 1e-5)
    }

    @Test func gemmHandwritten() {
        // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]; C starts as NaN and beta == 0 ignores it.
        let a = makeBuffer([1, 2, 3, 4])
        let b = makeBuffer([5, 6, 7, 8])
        let c = makeBuffer([Float](repeating: .nan, count: 4))
        func matrix(_ buffer: any DeviceBuffer, transposed: Bool = false) -> MatrixOperand {
            MatrixOperand(buffer: buffer, offset: 0, rowStride: transposed ? 1 : 2, colStride: transposed ? 2 : 1, batchStride: 4)
        }
        backend.gemm(m: 2, n: 2, k: 2, batch: 1, alpha: 1, matrix(a), matrix(b), beta: 0, matrix(c))
        #expect(readFloats(c, count: 4) == [19, 22, 43, 50])
        // Aᵀ · B = [1 3; 2 4] · [5 6; 7 8] = [26 30; 38 44], accumulated onto C with beta 1, alpha 2.
        backend.gemm(m: 2, n: 2, k: 2, batch: 1, alpha: 2, matrix(a, transposed: true), matrix(b), beta: 1, matrix(c))
        let expected: [Float] = [19 + 52, 22 + 60, 43 + 76, 50 + 88]
        #expect(readFloats(c, count: 4) == expected)
    }

    @Test func gemmDegenerateShapes() {
        // Row vector times matrix (m == 1) with an arbitrary row stride, and a column of a
        // row-major matrix as B (n == 1, colStride irrelevant).
        let x = makeBuffer([1, 0, 2, 0, 3])  // a 1×3 vector read with colStride 2
        let w = makeBuffer([1, 2, 3, 4, 5, 6, 7, 8, 9])  // 3×3 row-major
        let out = makeBuffer([0, 0, 0])
        backend.gemm(
            m: 1, n: 3, k: 3, batch: 1, alpha: 1,
            MatrixOperand(buffer: x, offset: 0, rowStride: 0, colStride: 2, batchStride: 0),
            MatrixOperand(buffer: w, offset: 0, rowStride: 3, colStride: 1, batchStride: 0),
            beta: 0, MatrixOperand(buffer: out, offset: 0, rowStride: 0, colStride: 1, batchStride: 0))
        #expect(readFloats(out, count: 3) == [30, 36, 42])
        // W · column 1 of W (stride 3, n == 1): [1 2 3; 4 5 6; 7 8 9] · [2, 5, 8].
        backend.gemm(
            m: 3, n: 1, k: 3, batch: 1, alpha: 1,
            MatrixOperand(buffer: w, offset: 0, rowStride: 3, colStride: 1, batchStride: 0),
            MatrixOperand(buffer: w, offset: 1, rowStride: 3, colStride: 7, batchStride: 0),
            beta: 0, MatrixOperand(buffer: out, offset: 0, rowStride: 1, colStride: 5, batchStride: 0))
        #expect(readFloats(out, count: 3) == [36, 81, 126])
        // k == 0: C = beta * C.
        backend.gemm(
            m: 1, n: 3, k: 0, batch: 1, alpha: 1,
            MatrixOperand(buffer: x, offset: 0, rowStride: 0, colStride: 1, batchStride: 0),
            MatrixOperand(buffer: w, offset: 0, rowStride: 3, colStride: 1, batchStride: 0),
            beta: 0.5, MatrixOperand(buffer: out, offset: 0, rowStride: 3, colStride: 1, batchStride: 0))
        #expect(readFloats(out, count: 3) == [18, 40.5, 63])
    }

    @Test func largeBatchOfSmallProductsRunsInParallel() {
        let (m, n, k, batch) = (16, 12, 8, 400)
        var random = TestRandom(seed: 5)
        let aValues = random.floats(batch * m * k)
        let bValues = random.floats(batch * k * n)
        let a = makeBuffer(aValues), b = makeBuffer(bValues)
        let c = backend.allocate(byteCount: batch * m * n * 4)
        backend.gemm(
            m: m, n: n, k: k, batch: batch, alpha: 1,
            MatrixOperand(buffer: a, offset: 0, rowStride: k, colStride: 1, batchStride: m * k),
            // B stored transposed (n × k row-major).
            MatrixOperand(buffer: b, offset: 0, rowStride: 1, colStride: k, batchStride: k * n),
            beta: 0, MatrixOperand(buffer: c, offset: 0, rowStride: n, colStride: 1, batchStride: m * n))
        var expected: [Double] = []
        for bi in 0..<batch { for r in 0..<m { for col in 0..<n {
            var dot: Double = 0
            for p in 0..<k { dot += Double(aValues[bi * m * k + r * k + p]) * Double(bValues[bi * k * n + col * k + p]) }
            expected.append(dot)
        } } }
        expectClose(readFloats(c, count: batch * m * n), expected, tolerance: 1e-5)
    }
}
