import Flint
import Foundation
import Testing

extension Conformance {
    @Suite struct Tensors {
        @Test(arguments: TestDevices.all)
        func creationFillsValues(device: Device) {
            expectClose(Tensor.zeros([2, 3], on: device), Ref(shape: [2, 3], data: Array(repeating: 0, count: 6)), "zeros on \(device)")
            expectClose(Tensor.ones([4], on: device), Ref(shape: [4], data: [1, 1, 1, 1]), "ones on \(device)")
            expectClose(Tensor.full([1, 2], value: Float(-2.5), on: device), Ref(shape: [1, 2], data: [-2.5, -2.5]), "full on \(device)")
            expectClose(Tensor.arange(1, 3, step: 0.5, on: device), Ref(shape: [4], data: [1, 1.5, 2, 2.5]), "arange on \(device)")
            expectClose(Tensor(scalar: 7, on: device), Ref(shape: [], data: [7]), "scalar on \(device)")
            let labels = Tensor(int32: [3, -1, 7], shape: [3], on: device)
            #expect(labels.dtype == .int32 && labels.toInt32Array() == [3, -1, 7])
            #expect(Tensor.full([2], value: Int32(9), on: device).toInt32Array() == [9, 9])
            #expect(Tensor.zeros([0, 5], on: device).toArray().isEmpty)
        }

        @Test(arguments: TestDevices.all)
        func randomStreamsMatchPhiloxOnEveryDevice(device: Device) {
            let count = 1001
            let uniform = Tensor.uniform([count], low: -1, high: 3, seed: 42, on: device).toArray()
            let expected = (0..<count).map { Philox.value(at: $0, distribution: .uniform(low: -1, high: 3), seed: 42, counterOffset: 0) }
            CaseCounter.add(device)
            #expect(uniform == expected, "uniform stream on \(device) differs from Philox")
            let normal = Tensor.normal([count], mean: 1, standardDeviation: 2, seed: 7, on: device)
            let normalRef = (0..<count).map {
                Double(Philox.value(at: $0, distribution: .normal(mean: 1, standardDeviation: 2), seed: 7, counterOffset: 0))
            }
            expectClose(normal, Ref(shape: [count], data: normalRef), rtol: 1e-5, atol: 1e-5, "normal stream on \(device)")
            let big = Tensor.normal([200_000], seed: 9, on: device)
            let mean = Double(big.mean().item()), std = Double((big - big.mean()).square().mean().item()).squareRoot()
            #expect(Swift.abs(mean) < 0.01 && Swift.abs(std - 1) < 0.01, "normal moments on \(device): mean \(mean), std \(std)")
            let generator = RandomGenerator(seed: 5)
            let first = Tensor.uniform([10], generator: generator, on: device).toArray()
            let second = Tensor.uniform([10], generator: generator, on: device).toArray()
            #expect(first != second, "a generator must advance between draws")
        }

        @Test(arguments: TestDevices.all)
        func viewsShareStorageAndReadCorrectly(device: Device) {
            var rng = TestRNG(seed: 121)
            let (x, ref) = makeInput([2, 3, 4], rng: &rng, on: device)
            expectClose(x.permuted([2, 0, 1]), ref.permuted([2, 0, 1]), "permute on \(device)")
            expectClose(x.transposed(0, 2).contiguous(), ref.permuted([2, 1, 0]), "transpose on \(device)")
            expectClose(x.slice(axis: 1, 1..<3), ref.sliced(axis: 1, 1..<3), "slice on \(device)")
            expectClose(x.reshaped(to: [4, -1]), Ref(shape: [4, 6], data: ref.data), "reshape on \(device)")
            expectClose(x.transposed(0, 1).reshaped(to: [12, 2]), Ref(shape: [12, 2], data: ref.permuted([1, 0, 2]).data),
                        "reshape of a non-contiguous view on \(device)")
            expectClose(x.select(index: 1, axis: 2), Ref(shape: [2, 3], data: stride(from: 1, to: 24, by: 4).map { ref.data[$0] }),
                        "select on \(device)")
            expectClose(x.slice(axis: 0, 0..<1).squeezed().unsqueezed(axis: -1), Ref(shape: [3, 4, 1], data: Array(ref.data[0..<12])),
                        "squeeze/unsqueeze on \(device)")
            let row = Tensor([1, 2, 3], shape: [3], on: device)
            expectClose(row.expanded(to: [2, 3]).contiguous(), Ref(shape: [2, 3], data: [1, 2, 3, 1, 2, 3]), "expand on \(device)")
            #expect(!x.transposed(0, 1).isContiguous && x.isContiguous)
        }

        @Test(arguments: TestDevices.all)
        func concatenateJoinsAlongAnyAxis(device: Device) {
            var rng = TestRNG(seed: 131)
            let (a, refA) = makeInput([2, 3, 2], rng: &rng, on: device)
            let (b, refB) = makeInput([2, 1, 2], layout: .transposed, rng: &rng, on: device)
            let (c, refC) = makeInput([2, 0, 2], rng: &rng, on: device)
            var joined: [Double] = []
            for i in 0..<2 {
                let fromA: ArraySlice<Double> = refA.data[(i * 6)..<(i * 6 + 6)]
                let fromB: ArraySlice<Double> = refB.data[(i * 2)..<(i * 2 + 2)]
                joined.append(contentsOf: fromA)
                joined.append(contentsOf: fromB)
            }
            #expect(refC.count == 0)
            let expected = Ref(shape: [2, 4, 2], data: joined)
            expectClose(Tensor.concatenate([a, b, c], axis: 1), expected, "concatenate axis 1 on \(device)")
            expectClose(Tensor.concatenate([a, a], axis: 0), Ref(shape: [4, 3, 2], data: refA.data + refA.data), "concatenate axis 0 on \(device)")
        }

        @Test(arguments: TestDevices.all)
        func castAndTransfersRoundTrip(device: Device) {
            let x = Tensor([1.9, -1.9, 0, 1e10], shape: [4], on: device)
            #expect(x.cast(to: .int32).toInt32Array() == [1, -1, 0, Int32.max])
            let labels = Tensor(int32: [4, -2], shape: [2], on: device)
            expectClose(labels.cast(to: .float32), Ref(shape: [2], data: [4, -2]), "cast int32 → float32 on \(device)")
            for other in TestDevices.all {
                let moved = x.transposed(0, 0).to(other)
                #expect(moved.device == other && moved.toArray() == x.toArray(), "\(device) → \(other)")
                #expect(labels.to(other).toInt32Array() == [4, -2])
            }
        }
    }
}
