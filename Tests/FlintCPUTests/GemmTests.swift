import FlintBackend
import FlintCPU
import Testing

/// Beyond the `Backend` contract (which asks callers for a unit stride on one axis), the CPU
/// backend takes any stride on an axis of size 1, as BLAS itself ignores it.
@Suite struct GemmTests {
    @Test func anyStrideOnAnAxisOfSizeOne() {
        let x = makeBuffer([1, 0, 2, 0, 3])  // a 1×3 vector read with colStride 2, rowStride 0
        let w = makeBuffer([1, 2, 3, 4, 5, 6, 7, 8, 9])  // 3×3 row-major
        let out = makeBuffer([0, 0, 0])
        backend.gemm(
            m: 1, n: 3, k: 3, batch: 1, alpha: 1,
            MatrixOperand(buffer: x, offset: 0, rowStride: 0, colStride: 2, batchStride: 0),
            MatrixOperand(buffer: w, offset: 0, rowStride: 3, colStride: 1, batchStride: 0),
            beta: 0, MatrixOperand(buffer: out, offset: 0, rowStride: 0, colStride: 1, batchStride: 0))
        #expect(readFloats(out, count: 3) == [30, 36, 42])
        // W · column 1 of W (stride 3, n == 1, colStride irrelevant), into C with colStride 5.
        backend.gemm(
            m: 3, n: 1, k: 3, batch: 1, alpha: 1,
            MatrixOperand(buffer: w, offset: 0, rowStride: 3, colStride: 1, batchStride: 0),
            MatrixOperand(buffer: w, offset: 1, rowStride: 3, colStride: 7, batchStride: 0),
            beta: 0, MatrixOperand(buffer: out, offset: 0, rowStride: 1, colStride: 5, batchStride: 0))
        #expect(readFloats(out, count: 3) == [36, 81, 126])
        // k == 0 with rowStride 0: C = beta * C.
        backend.gemm(
            m: 1, n: 3, k: 0, batch: 1, alpha: 1,
            MatrixOperand(buffer: x, offset: 0, rowStride: 0, colStride: 1, batchStride: 0),
            MatrixOperand(buffer: w, offset: 0, rowStride: 3, colStride: 1, batchStride: 0),
            beta: 0.5, MatrixOperand(buffer: out, offset: 0, rowStride: 3, colStride: 1, batchStride: 0))
        #expect(readFloats(out, count: 3) == [18, 40.5, 63])
    }
}
