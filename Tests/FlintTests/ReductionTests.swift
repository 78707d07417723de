import Flint
import Foundation
import Testing

extension Conformance {
    @Suite struct Reductions {
        static let cases: [([Int], [Int]?)] = [
            ([7], nil), ([1], [0]), ([5, 3], [0]), ([5, 3], [1]), ([5, 3], [-1]), ([4, 6, 5], [0, 2]),
            ([4, 6, 5], [1, 2]), ([2, 3, 4, 5], [0, 1, 3]), ([3, 1, 4], [1]), ([3, 4], []), ([2, 0, 3], [0]),
            ([300, 7], [0]), ([3, 2000], [1]),
        ]

        @Test(arguments: TestDevices.all, [false, true])
        func sumMeanMaxMinMatchReference(device: Device, keepDims: Bool) {
            var rng = TestRNG(seed: 51)
            for (shape, axes) in Self.cases {
                for layout in Layout.allCases {
                    let (x, ref) = makeInput(shape, layout: layout, rng: &rng, on: device)
                    let axisSet = Set((axes ?? Array(shape.indices)).map { $0 < 0 ? $0 + shape.count : $0 })
                    let what = "on \(device), shape \(shape) \(layout), axes \(axes.map { "\($0)" } ?? "all"), keepDims \(keepDims)"
                    // Sums are compared relative to the sum of magnitudes: cancellation is the reference's job.
                    let magnitude = ref.map(Swift.abs).reduced(axes: axisSet, keepDims: keepDims) { $0.reduce(0, +) }
                    let tolerance = 1e-6 + 2e-6 * (magnitude.data.max() ?? 0)
                    expectClose(x.sum(axes: axes, keepDims: keepDims),
                                ref.reduced(axes: axisSet, keepDims: keepDims) { $0.reduce(0, +) }, rtol: 0, atol: tolerance, "sum \(what)")
                    let nonEmpty = !axisSet.contains { shape[$0] == 0 }
                    guard nonEmpty else { continue }
                    expectClose(x.mean(axes: axes, keepDims: keepDims),
                                ref.reduced(axes: axisSet, keepDims: keepDims) { $0.reduce(0, +) / Double(Swift.max($0.count, 1)) },
                                rtol: 1e-5, atol: 1e-6, "mean \(what)")
                    expectClose(x.max(axes: axes, keepDims: keepDims),
                                ref.reduced(axes: axisSet, keepDims: keepDims) { $0.max()! }, "max \(what)")
                    expectClose(x.min(axes: axes, keepDims: keepDims),
                                ref.reduced(axes: axisSet, keepDims: keepDims) { $0.min()! }, "min \(what)")
                }
            }
        }

        @Test(arguments: TestDevices.all)
        func sumOfSixteenMillionIsAccurate(device: Device) {
            let x = Tensor.uniform([1 << 24], low: 0, high: 1, seed: 3, on: device)
            let total = Double(x.sum().item())
            let exact = x.toArray().reduce(0.0) { $0 + Double($1) }
            CaseCounter.add(device)
            #expect(Swift.abs(total - exact) <= 1e-5 * exact, "sum over 16M on \(device): \(total) vs \(exact)")
        }

        /// Backends agree on NaN: max and min propagate it (as PyTorch does) and argmax takes the
        /// first NaN as the largest, along rows, columns and in the two-stage long-row path.
        @Test(arguments: TestDevices.all)
        func reductionsPropagateNaN(device: Device) {
            var values = (0..<24).map { Float($0 % 7) - 3 }
            values[9] = .nan     // row 1 of [3, 8], column 1
            values[13] = .nan    // row 1, column 5
            let x = Tensor(values, shape: [3, 8], on: device)
            let rowMax = x.max(axis: 1).toArray(), rowMin = x.min(axis: 1).toArray()
            #expect(!rowMax[0].isNaN && rowMax[1].isNaN && !rowMax[2].isNaN, "row max on \(device): \(rowMax)")
            #expect(!rowMin[0].isNaN && rowMin[1].isNaN && !rowMin[2].isNaN, "row min on \(device): \(rowMin)")
            let columnMax = x.max(axis: 0).toArray()
            #expect(columnMax[1].isNaN && columnMax[5].isNaN && columnMax.enumerated().allSatisfy { [1, 5].contains($0.offset) || !$0.element.isNaN },
                    "column max on \(device): \(columnMax)")
            #expect(x.argmax(axis: 1).toInt32Array()[1] == 1, "argmax of a row with NaN on \(device)")
            var long = [Float](repeating: 1, count: 300_000)
            long[200_000] = .nan
            long[250_000] = .nan
            let longTensor = Tensor(long, shape: [300_000], on: device)
            #expect(longTensor.max().item().isNaN && longTensor.min().item().isNaN, "long-row max/min on \(device)")
            #expect(longTensor.argmax().toInt32Array() == [200_000], "long-row argmax on \(device)")
            CaseCounter.add(device)
        }

        @Test(arguments: TestDevices.all)
        func argmaxFindsFirstLargest(device: Device) {
            var rng = TestRNG(seed: 61)
            for (shape, axis) in [([7], 0), ([5, 3], 0), ([5, 3], 1), ([4, 6, 5], 1), ([2, 3, 40], -1), ([1, 1], 0), ([3, 5, 16], 1), ([2, 4, 24], 0)] {
                for layout in Layout.allCases {
                    let (x, ref) = makeInput(shape, layout: layout, rng: &rng, on: device)
                    let a = axis < 0 ? axis + shape.count : axis
                    let expected = ref.reduced(axes: [a], keepDims: false) { values in
                        Double(values.firstIndex(of: values.max()!)!)
                    }
                    let result = x.argmax(axis: axis)
                    #expect(result.dtype == .int32)
                    expectClose(result, expected, "argmax on \(device), shape \(shape) \(layout), axis \(axis)")
                }
            }
            let ties = Tensor([1, 5, 5, 2, 0, 0, 0, 0], shape: [2, 4], on: device)
            expectClose(ties.argmax(axis: 1), Ref(shape: [2], data: [1, 0]), "argmax ties on \(device)")
            expectClose(ties.argmax(), Ref(shape: [], data: [1]), "flat argmax on \(device)")
            // Columns eight wide (the vectorised path on the CPU): ties keep the first row.
            let columns = Tensor((0..<24).map { Float($0 % 8 == 3 ? 9 : ($0 / 8 == 1 ? 1 : 0)) }, shape: [3, 8], on: device)
            expectClose(columns.argmax(axis: 0), Ref(shape: [8], data: [1, 1, 1, 0, 1, 1, 1, 1]), "argmax ties in 8-wide columns on \(device)")
        }
    }
}
