import FlintBackend
import Testing

/// A batch of matrices stored with padding (leading dimension larger than needed), at an
/// offset, row- or column-major, and its host copy for the reference.
struct TestMatrix {
    var storage: [Float]
    var operand: MatrixOperand

    init(_ backend: any Backend, batch: Int, rows: Int, columns: Int, columnMajor: Bool, shared: Bool = false,
         pad: Int = 3, offset: Int = 5, random: inout TestRandom, fill: Float? = nil) {
        let leading = (columnMajor ? rows : columns) + pad
        let size = (columnMajor ? columns : rows) * leading
        let batchStride = shared ? 0 : size + 2
        let count = offset + (shared ? 1 : batch) * (size + 2)
        storage = fill.map { [Float](repeating: $0, count: count) } ?? random.floats(count)
        operand = MatrixOperand(buffer: backend.upload(storage), offset: offset, rowStride: columnMajor ? 1 : leading,
                                colStride: columnMajor ? leading : 1, batchStride: batchStride)
    }

    func index(_ b: Int, _ r: Int, _ c: Int) -> Int {
        operand.offset + b * operand.batchStride + r * operand.rowStride + c * operand.colStride
    }

    subscript(b: Int, r: Int, c: Int) -> Float { storage[index(b, r, c)] }
}

extension BackendConformance {
    /// Runs gemm and checks every element of C, its padding included (which must keep its bits).
    static func checkGemm(_ backend: any Backend, m: Int, n: Int, k: Int, batch: Int, alpha: Float, beta: Float,
                          aColumnMajor: Bool, bColumnMajor: Bool, aShared: Bool = false, bShared: Bool = false,
                          cFill: Float? = nil, seed: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
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
                    var sum = 0.0, magnitude = 0.0
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
        let layout = "A \(aColumnMajor ? "column" : "row")-major, B \(bColumnMajor ? "column" : "row")-major"
        let wrong = result.indices.filter { index in
            bound[index] == 0 ? result[index].bitPattern != expected[index].bitPattern
                : !(abs(Double(result[index]) - Double(expected[index])) <= bound[index])
        }
        if let first = wrong.first {
            Issue.record("gemm \(m)×\(n)×\(k) batch \(batch), \(layout): \(wrong.count) wrong, element \(first) is \(result[first]), expected \(expected[first])",
                         sourceLocation: sourceLocation)
        }
    }

    static let layouts = [(false, false), (true, false), (false, true), (true, true)]

    /// `gemm(…, epilogue:)` against the same backend's product followed by the element-wise
    /// primitives, bit for bit: C at an offset with padded rows (batch > 1) or contiguous from 0
    /// (batch 1), A with a NaN row and a zero row (relu keeps NaN, and gives +0 where the sum is 0).
    static func checkGemmEpilogue(_ backend: any Backend, m: Int, n: Int, k: Int, batch: Int, activation: UnaryOp?,
                                  withBias: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        var random = TestRandom(seed: UInt64(m * 1000 + n + k))
        var aValues = random.floats(batch * m * k)
        for p in 0..<k { aValues[p] = p == 1 ? .nan : aValues[p]; if m > 1 { aValues[k + p] = 0 } }
        let a = MatrixOperand(buffer: backend.upload(aValues.isEmpty ? [0] : aValues), offset: 0, rowStride: k, colStride: 1, batchStride: m * k)
        let b = MatrixOperand(buffer: backend.upload(random.floats(Swift.max(1, batch * k * n))), offset: 0, rowStride: 1, colStride: k, batchStride: k * n)
        var biasValues = random.floats(n + 2)
        if n > 1 { biasValues[3] = 0 }
        let bias = withBias ? (buffer: backend.upload(biasValues), offset: 2) : nil
        let (offset, rowStride) = batch == 1 ? (0, n) : (4, n + 3)
        let size = offset + batch * m * rowStride
        let fill = [Float](repeating: -7, count: size)
        func c(_ buffer: any DeviceBuffer) -> MatrixOperand {
            MatrixOperand(buffer: buffer, offset: offset, rowStride: rowStride, colStride: 1, batchStride: m * rowStride)
        }
        let fused = backend.upload(fill), separate = backend.upload(fill)
        backend.gemm(m: m, n: n, k: k, batch: batch, a, b, c(fused), epilogue: GemmEpilogue(bias: bias, activation: activation))
        backend.gemm(m: m, n: n, k: k, batch: batch, alpha: 1, a, b, beta: 0, c(separate))
        for member in 0..<batch {
            let region = StridedOperand(buffer: separate, offset: offset + member * m * rowStride, strides: [rowStride, 1])
            let scratch = backend.allocate(byteCount: m * n * 4)
            if let bias {
                let row = StridedOperand(buffer: bias.buffer, offset: bias.offset, strides: [0, 1])
                if let activation {
                    backend.binary(.add, region, row, shape: [m, n], then: activation, out: scratch)
                } else {
                    backend.binary(.add, region, row, shape: [m, n], out: scratch)
                }
            } else if let activation {
                backend.unary(activation, region, shape: [m, n], out: scratch)
            } else {
                continue
            }
            backend.copy(StridedOperand(buffer: scratch, offset: 0, strides: [n, 1]), to: region, shape: [m, n])
        }
        let got = backend.floats(fused, count: size), want = backend.floats(separate, count: size)
        let wrong = got.indices.filter { got[$0].bitPattern != want[$0].bitPattern }
        if let first = wrong.first {
            Issue.record("gemm epilogue \(m)×\(n)×\(k) batch \(batch), bias \(withBias), \(String(describing: activation)): \(wrong.count) differ, element \(first) is \(got[first]), separately \(want[first])",
                         sourceLocation: sourceLocation)
        }
        if k > 1 && (activation == nil || activation == .relu) {
            #expect(got[offset].isNaN, "gemm epilogue: the NaN row stays NaN", sourceLocation: sourceLocation)
        }
    }

    static let gemm: [ConformanceCheck] = [
        ConformanceCheck("gemm: four layouts at odd sizes, batched, alpha and beta, a shared B") { backend in
            for (aColumnMajor, bColumnMajor) in layouts {
                checkGemm(backend, m: 5, n: 7, k: 4, batch: 3, alpha: 1.5, beta: -0.5, aColumnMajor: aColumnMajor,
                          bColumnMajor: bColumnMajor, bShared: true, seed: 11)
                checkGemm(backend, m: 37, n: 19, k: 53, batch: 2, alpha: 1.5, beta: 0.5, aColumnMajor: aColumnMajor,
                          bColumnMajor: bColumnMajor, seed: 20)
                checkGemm(backend, m: 70, n: 45, k: 9, batch: 1, alpha: -1, beta: 1, aColumnMajor: aColumnMajor,
                          bColumnMajor: bColumnMajor, seed: 21)
            }
        },
        ConformanceCheck("gemm: handwritten products, Aᵀ·B accumulated with alpha 2 and beta 1") { backend in
            // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]; C starts as NaN and beta == 0 ignores it.
            let a = backend.upload([1, 2, 3, 4]), b = backend.upload([5, 6, 7, 8]), c = backend.upload([Float](repeating: .nan, count: 4))
            func matrix(_ buffer: any DeviceBuffer, transposed: Bool = false) -> MatrixOperand {
                MatrixOperand(buffer: buffer, offset: 0, rowStride: transposed ? 1 : 2, colStride: transposed ? 2 : 1, batchStride: 4)
            }
            backend.gemm(m: 2, n: 2, k: 2, batch: 1, alpha: 1, matrix(a), matrix(b), beta: 0, matrix(c))
            #expect(backend.floats(c, count: 4) == [19, 22, 43, 50])
            // Aᵀ · B = [26 30; 38 44], times 2, onto C with beta 1.
            backend.gemm(m: 2, n: 2, k: 2, batch: 1, alpha: 2, matrix(a, transposed: true), matrix(b), beta: 1, matrix(c))
            let expected: [Float] = [19 + 52, 22 + 60, 43 + 76, 50 + 88]
            #expect(backend.floats(c, count: 4) == expected)
        },
        ConformanceCheck("gemm: degenerate shapes (m = 1, n = 1, k = 0) with strided vectors") { backend in
            let x = backend.upload([1, 0, 2, 0, 3])  // a 1×3 vector read with stride 2 (column-major, ld 2)
            let w = backend.upload([1, 2, 3, 4, 5, 6, 7, 8, 9])  // 3×3 row-major
            let out = backend.upload([0, 0, 0])
            backend.gemm(m: 1, n: 3, k: 3, batch: 1, alpha: 1,
                         MatrixOperand(buffer: x, offset: 0, rowStride: 1, colStride: 2, batchStride: 0),
                         MatrixOperand(buffer: w, offset: 0, rowStride: 3, colStride: 1, batchStride: 0),
                         beta: 0, MatrixOperand(buffer: out, offset: 0, rowStride: 3, colStride: 1, batchStride: 0))
            #expect(backend.floats(out, count: 3) == [30, 36, 42])
            // W · column 1 of W (a 3×1 B with row stride 3).
            backend.gemm(m: 3, n: 1, k: 3, batch: 1, alpha: 1,
                         MatrixOperand(buffer: w, offset: 0, rowStride: 3, colStride: 1, batchStride: 0),
                         MatrixOperand(buffer: w, offset: 1, rowStride: 3, colStride: 1, batchStride: 0),
                         beta: 0, MatrixOperand(buffer: out, offset: 0, rowStride: 1, colStride: 1, batchStride: 0))
            #expect(backend.floats(out, count: 3) == [36, 81, 126])
            // k == 0: C = beta · C.
            backend.gemm(m: 1, n: 3, k: 0, batch: 1, alpha: 1,
                         MatrixOperand(buffer: x, offset: 0, rowStride: 1, colStride: 1, batchStride: 0),
                         MatrixOperand(buffer: w, offset: 0, rowStride: 3, colStride: 1, batchStride: 0),
                         beta: 0.5, MatrixOperand(buffer: out, offset: 0, rowStride: 3, colStride: 1, batchStride: 0))
            #expect(backend.floats(out, count: 3) == [18, 40.5, 63])
        },
        ConformanceCheck("gemm: beta 0 ignores C's old contents, even NaN") { backend in
            for bColumnMajor in [false, true] {
                checkGemm(backend, m: 33, n: 40, k: 17, batch: 2, alpha: 1, beta: 0, aColumnMajor: false,
                          bColumnMajor: bColumnMajor, cFill: .nan, seed: 22)
            }
        },
        ConformanceCheck("gemm: batched with a shared (batch stride 0) A or B") { backend in
            checkGemm(backend, m: 12, n: 20, k: 30, batch: 3, alpha: 1, beta: 0, aColumnMajor: false, bColumnMajor: false, aShared: true, seed: 23)
            checkGemm(backend, m: 12, n: 20, k: 30, batch: 3, alpha: 1, beta: 0, aColumnMajor: true, bColumnMajor: true, bShared: true, seed: 24)
            checkGemm(backend, m: 9, n: 17, k: 5, batch: 4, alpha: 2, beta: 0.25, aColumnMajor: false, bColumnMajor: true, aShared: true, seed: 25)
        },
        ConformanceCheck("gemm: sizes around tile edges, in four layouts") { backend in
            let sizes = [(1, 1, 1), (16, 16, 16), (8, 16, 4), (64, 48, 33), (5, 100, 7), (130, 70, 260), (1, 300, 2), (300, 1, 3),
                         (15, 19, 53), (3, 33, 16), (1, 40, 100)]
            for (m, n, k) in sizes {
                for (aColumnMajor, bColumnMajor) in layouts {
                    checkGemm(backend, m: m, n: n, k: k, batch: 1, alpha: 1, beta: 0, aColumnMajor: aColumnMajor,
                              bColumnMajor: bColumnMajor, seed: 26)
                }
            }
        },
        ConformanceCheck("gemm: long k with a small C (split along k on GPUs), in four layouts") { backend in
            // A convolution's weight gradient is colsᵀ·dY: column-major A, k the pixel count.
            for (aColumnMajor, bColumnMajor) in layouts {
                checkGemm(backend, m: 9, n: 32, k: 2903, batch: 1, alpha: 0.5, beta: 1, aColumnMajor: aColumnMajor,
                          bColumnMajor: bColumnMajor, seed: 29)
            }
        },
        ConformanceCheck("gemm: few rows with a column-major B (dot-product shapes), alpha, beta, batches") { backend in
            checkGemm(backend, m: 3, n: 45, k: 70, batch: 3, alpha: 0.5, beta: 2, aColumnMajor: false, bColumnMajor: true, seed: 27)
            checkGemm(backend, m: 7, n: 5, k: 33, batch: 2, alpha: 1, beta: 0, aColumnMajor: true, bColumnMajor: true,
                      bShared: true, cFill: .nan, seed: 28)
        },
        ConformanceCheck("gemm with an epilogue: the bits of gemm then binary(.add, …, then:), for every activation") { backend in
            // Partial tiles, two k blocks, a batch with padded rows, one row, one column, k = 0.
            for (m, n, k, batch) in [(13, 37, 29, 1), (40, 48, 800, 1), (7, 20, 5, 3), (1, 300, 70, 2), (70, 1, 300, 1), (5, 9, 0, 1)] {
                for activation: UnaryOp? in [nil, .relu, .leakyRelu(slope: 0.2), .sigmoid, .tanh] {
                    for withBias in [true, false] {
                        checkGemmEpilogue(backend, m: m, n: n, k: k, batch: batch, activation: activation, withBias: withBias)
                    }
                }
            }
        },
        ConformanceCheck("gemm: a batch of 400 small products with a transposed B") { backend in
            let (m, n, k, batch) = (16, 12, 8, 400)
            var random = TestRandom(seed: 5)
            let aValues = random.floats(batch * m * k), bValues = random.floats(batch * k * n)
            let c = backend.allocate(byteCount: batch * m * n * 4)
            backend.gemm(m: m, n: n, k: k, batch: batch, alpha: 1,
                         MatrixOperand(buffer: backend.upload(aValues), offset: 0, rowStride: k, colStride: 1, batchStride: m * k),
                         // B stored transposed (n × k row-major).
                         MatrixOperand(buffer: backend.upload(bValues), offset: 0, rowStride: 1, colStride: k, batchStride: k * n),
                         beta: 0, MatrixOperand(buffer: c, offset: 0, rowStride: n, colStride: 1, batchStride: m * n))
            var expected: [Double] = []
            for bi in 0..<batch { for r in 0..<m { for col in 0..<n {
                var dot: Double = 0
                for p in 0..<k { dot += Double(aValues[bi * m * k + r * k + p]) * Double(bValues[bi * k * n + col * k + p]) }
                expected.append(dot)
            } } }
            expectClose(backend.floats(c, count: batch * m * n), expected, tolerance: 1e-5, "batched gemm")
        },
    ]
}
