import Flint
import Foundation
import Testing

extension Conformance {
    @Suite struct Matmul {
        /// Reference batched matmul with NumPy broadcasting of leading axes; also returns the
        /// magnitude Σ|a||b| per output, which scales the tolerance.
        static func reference(_ a: Ref, _ b: Ref) -> (Ref, Ref) {
            let (m, k, n) = (a.shape[a.shape.count - 2], a.shape[a.shape.count - 1], b.shape[b.shape.count - 1])
            let batch = Ref.broadcastShape(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
            let outShape = batch + [m, n]
            var out = Ref(shape: outShape, data: [Double](repeating: 0, count: outShape.reduce(1, *)))
            var magnitude = out
            for i in 0..<out.count {
                let idx = out.multiIndex(i)
                let (row, col) = (idx[idx.count - 2], idx[idx.count - 1])
                let lead = Array(idx.dropLast(2))
                var sum = 0.0, mag = 0.0
                for p in 0..<k {
                    let x = a.broadcastValue(at: lead + [row, p]), y = b.broadcastValue(at: lead + [p, col])
                    sum += x * y
                    mag += Swift.abs(x * y)
                }
                out.data[i] = sum
                magnitude.data[i] = mag
            }
            return (out, magnitude)
        }

        static let shapes: [([Int], [Int])] = [
            ([1, 1], [1, 1]), ([3, 5], [5, 2]), ([37, 19], [19, 53]), ([64, 64], [64, 64]), ([1, 70], [70, 1]),
            ([70, 1], [1, 33]), ([2, 5, 7], [2, 7, 3]), ([4, 5, 7], [7, 3]), ([6, 4], [3, 4, 5]),
            ([2, 1, 3, 4], [1, 3, 4, 2]), ([0, 3], [3, 4]), ([3, 0], [0, 4]), ([130, 65], [65, 129]),
            // Row vector × matrix and matrix × column vector, single and batched; from 64³
            // multiply-adds the CPU runs them as sgemv.
            ([1, 37], [37, 19]), ([37, 19], [19, 1]), ([3, 1, 7], [3, 7, 5]), ([3, 6, 7], [3, 7, 1]),
            ([1, 300], [300, 901]), ([901, 300], [300, 1]), ([2, 1, 300], [2, 300, 901]), ([2, 901, 300], [2, 300, 1]),
        ]

        @Test(arguments: TestDevices.all, [Layout.contiguous, .transposed, .sliced])
        func matmulMatchesReference(device: Device, layout: Layout) {
            var rng = TestRNG(seed: 71)
            for (aShape, bShape) in Self.shapes {
                let (a, refA) = makeInput(aShape, layout: layout, rng: &rng, on: device)
                let (b, refB) = makeInput(bShape, layout: layout == .sliced ? .contiguous : layout, rng: &rng, on: device)
                let (expected, magnitude) = Self.reference(refA, refB)
                let result = a.matmul(b)
                expectClose(result, expected, rtol: 0, atol: 1e-6 * (1 + (magnitude.data.max() ?? 0)),
                            "matmul on \(device), \(aShape) x \(bShape), \(layout)")
            }
        }

        @Test(arguments: TestDevices.all)
        func transposeFlagsNeedNoCopies(device: Device) {
            var rng = TestRNG(seed: 81)
            let (a, refA) = makeInput([9, 13], rng: &rng, on: device)
            let (b, refB) = makeInput([11, 9], rng: &rng, on: device)
            let (expected, _) = Self.reference(refA.permuted([1, 0]), refB.permuted([1, 0]))
            expectClose(a.matmul(b, transposeSelf: true, transposeOther: true), expected, atol: 1e-5,
                        "matmul(transposeSelf, transposeOther) on \(device)")
            let (c, refC) = makeInput([3, 9, 13], rng: &rng, on: device)
            let (expectedBatched, _) = Self.reference(refC, refA.permuted([1, 0]))
            expectClose(c.matmul(a, transposeOther: true), expectedBatched, atol: 1e-5, "batched matmul(transposeOther) on \(device)")
        }

        @Test(arguments: TestDevices.all)
        func vectorsArePromotedAndDropped(device: Device) {
            let m = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3], on: device)
            let v = Tensor([1, 0, -1], shape: [3], on: device)
            let w = Tensor([2, 1], shape: [2], on: device)
            expectClose(m.matmul(v), Ref(shape: [2], data: [-2, -2]), "matrix · vector on \(device)")
            expectClose(w.matmul(m), Ref(shape: [3], data: [6, 9, 12]), "vector · matrix on \(device)")
            expectClose(v.matmul(v), Ref(shape: [], data: [2]), "vector · vector on \(device)")
        }
    }
}
