import Flint
import Foundation
import Testing

extension Conformance {
    @Suite struct AxisOps {
        static func softmaxReference(_ ref: Ref, axis: Int, log: Bool) -> Ref {
            var out = ref
            let groups = ref.reduced(axes: [axis], keepDims: true) { $0.max()! }
            let sums = Ref.zip(ref, groups) { Foundation.exp($0 - $1) }.reduced(axes: [axis], keepDims: true) { $0.reduce(0, +) }
            for i in 0..<ref.count {
                let m = ref.multiIndex(i)
                let mx = groups.broadcastValue(at: m), s = sums.broadcastValue(at: m)
                out.data[i] = log ? ref.data[i] - mx - Foundation.log(s) : Foundation.exp(ref.data[i] - mx) / s
            }
            return out
        }

        @Test(arguments: TestDevices.all, [false, true])
        func softmaxMatchesReference(device: Device, log: Bool) {
            var rng = TestRNG(seed: 91)
            for (shape, axis) in [([7], 0), ([1], 0), ([5, 10], 1), ([5, 10], 0), ([3, 4, 5], 1), ([2, 3, 257], -1), ([0, 4], 1)] {
                for layout in Layout.allCases {
                    let (x, ref) = makeInput(shape, layout: layout, range: (-20, 20), rng: &rng, on: device)
                    let a = axis < 0 ? axis + shape.count : axis
                    let result = log ? x.logSoftmax(axis: axis) : x.softmax(axis: axis)
                    expectClose(result, Self.softmaxReference(ref, axis: a, log: log), rtol: 1e-5, atol: 1e-6,
                                "\(log ? "logSoftmax" : "softmax") on \(device), \(shape) \(layout), axis \(axis)")
                }
            }
            // Large logits must not overflow.
            let big = Tensor([1000, 1001, 999], shape: [1, 3], on: device)
            expectClose(big.softmax(axis: 1), Self.softmaxReference(Ref([1000, 1001, 999], shape: [1, 3]), axis: 1, log: false),
                        rtol: 1e-5, "softmax of large logits on \(device)")
        }

        static func randomIndices(_ shape: [Int], bound: Int, rng: inout TestRNG) -> [Int32] {
            (0..<shape.reduce(1, *)).map { _ in Int32(rng.int(0..<bound)) }
        }

        @Test(arguments: TestDevices.all)
        func gatherMatchesReference(device: Device) {
            var rng = TestRNG(seed: 101)
            for (shape, axis, indexLength) in [([5, 4], 1, 1), ([5, 4], 0, 7), ([3, 6, 2], 1, 4), ([9], 0, 20), ([2, 3], 1, 0)] {
                let (x, ref) = makeInput(shape, layout: .transposed, rng: &rng, on: device)
                var indexShape = shape
                indexShape[axis] = indexLength
                let idx = Self.randomIndices(indexShape, bound: shape[axis], rng: &rng)
                let indices = Tensor(int32: idx, shape: indexShape, on: device)
                let idxRef = Ref(shape: indexShape, data: idx.map(Double.init))
                var expected = Ref(shape: indexShape, data: [Double](repeating: 0, count: idx.count))
                for i in 0..<idx.count {
                    var m = idxRef.multiIndex(i)
                    m[axis] = Int(idx[i])
                    expected.data[i] = ref.data[ref.index(m)]
                }
                expectClose(x.gather(axis: axis, indices: indices), expected, "gather on \(device), \(shape) axis \(axis)")
            }
            let x = Tensor([1, 2, 3], shape: [3], on: device)
            expectClose(x.gather(axis: 0, indices: Tensor(int32: [2, -1, 3, 0], shape: [4], on: device)),
                        Ref(shape: [4], data: [3, 0, 0, 1]), "gather out of range reads 0 on \(device)")
        }

        @Test(arguments: TestDevices.all)
        func scatterAddAccumulatesRepeatedIndices(device: Device) {
            var rng = TestRNG(seed: 111)
            for (shape, axis, indexLength) in [([5, 4], 1, 9), ([6, 3], 0, 30), ([3, 6, 2], 1, 4), ([4], 0, 1000)] {
                let (base, baseRef) = makeInput(shape, rng: &rng, on: device)
                var indexShape = shape
                indexShape[axis] = indexLength
                let idx = Self.randomIndices(indexShape, bound: shape[axis], rng: &rng)
                let (src, srcRef) = makeInput(indexShape, rng: &rng, on: device)
                var expected = baseRef
                let idxRef = Ref(shape: indexShape, data: idx.map(Double.init))
                for i in 0..<idx.count {
                    var m = idxRef.multiIndex(i)
                    m[axis] = Int(idx[i])
                    expected.data[expected.index(m)] += srcRef.data[i]
                }
                let result = base.scatterAdd(axis: axis, indices: Tensor(int32: idx, shape: indexShape, on: device), source: src)
                expectClose(result, expected, rtol: 1e-5, atol: 1e-5, "scatterAdd on \(device), \(shape) axis \(axis)")
            }
            let skipped = Tensor.zeros([3], on: device).scatterAdd(
                axis: 0, indices: Tensor(int32: [0, 5, -2, 0], shape: [4], on: device), source: Tensor([1, 2, 3, 4], shape: [4], on: device))
            expectClose(skipped, Ref(shape: [3], data: [5, 0, 0]), "scatterAdd skips out-of-range on \(device)")
        }

        @Test(arguments: TestDevices.all)
        func indexSelectPicksRows(device: Device) {
            let table = Tensor((0..<12).map(Float.init), shape: [4, 3], on: device)
            let rows = table.indexSelect(axis: 0, indices: Tensor(int32: [3, 0, 3], shape: [3], on: device))
            expectClose(rows, Ref(shape: [3, 3], data: [9, 10, 11, 0, 1, 2, 9, 10, 11]), "indexSelect rows on \(device)")
            let cols = table.indexSelect(axis: 1, indices: Tensor(int32: [2], shape: [1], on: device))
            expectClose(cols, Ref(shape: [4, 1], data: [2, 5, 8, 11]), "indexSelect columns on \(device)")
        }
    }
}
