import Flint
import Foundation
import Testing

extension Conformance {
    struct BinaryCase: Sendable, CustomStringConvertible {
        let name: String
        let apply: @Sendable (Tensor, Tensor) -> Tensor
        let reference: @Sendable (Double, Double) -> Double
        var lhsDomain: (Double, Double) = (-3, 3)
        var rhsDomain: (Double, Double) = (-3, 3)
        var rtol: Double = 1e-6
        var description: String { name }
    }

    static let binaryCases: [BinaryCase] = [
        BinaryCase(name: "add", apply: { $0 + $1 }, reference: { $0 + $1 }),
        BinaryCase(name: "sub", apply: { $0 - $1 }, reference: { $0 - $1 }),
        BinaryCase(name: "mul", apply: { $0 * $1 }, reference: { $0 * $1 }),
        BinaryCase(name: "div", apply: { $0 / $1 }, reference: { $0 / $1 }, rhsDomain: (0.25, 3), rtol: 1e-6),
        BinaryCase(name: "pow", apply: { $0.pow($1) }, reference: { Foundation.pow($0, $1) },
                   lhsDomain: (0.1, 3), rhsDomain: (-2, 2), rtol: 2e-5),
        BinaryCase(name: "maximum", apply: { $0.maximum($1) }, reference: { Swift.max($0, $1) }),
        BinaryCase(name: "minimum", apply: { $0.minimum($1) }, reference: { Swift.min($0, $1) }),
        BinaryCase(name: "equal", apply: { $0 .== $1 }, reference: { $0 == $1 ? 1 : 0 }),
        BinaryCase(name: "notEqual", apply: { $0 .!= $1 }, reference: { $0 != $1 ? 1 : 0 }),
        BinaryCase(name: "less", apply: { $0 .< $1 }, reference: { $0 < $1 ? 1 : 0 }),
        BinaryCase(name: "lessEqual", apply: { $0 .<= $1 }, reference: { $0 <= $1 ? 1 : 0 }),
        BinaryCase(name: "greater", apply: { $0 .> $1 }, reference: { $0 > $1 ? 1 : 0 }),
        BinaryCase(name: "greaterEqual", apply: { $0 .>= $1 }, reference: { $0 >= $1 ? 1 : 0 }),
    ]

    /// Operand shape pairs: equal, scalar, trailing and leading broadcasts, both sides broadcasting, empty.
    static let broadcastPairs: [([Int], [Int])] = [
        ([7], [7]), ([5, 3], []), ([], [4, 2]), ([6, 5], [5]), ([6, 5], [6, 1]), ([4, 1, 3], [1, 5, 3]),
        ([2, 3, 4, 5], [3, 1, 5]), ([1], [9, 1]), ([0, 3], [3]), ([33, 17], [33, 17]),
    ]

    @Suite struct Binary {
        @Test(arguments: TestDevices.all, Conformance.binaryCases)
        func binaryMatchesReference(device: Device, op: BinaryCase) {
            var rng = TestRNG(seed: 21)
            for (lhsShape, rhsShape) in Conformance.broadcastPairs {
                for layout in Layout.allCases {
                    let (a, refA) = makeInput(lhsShape, layout: layout, range: op.lhsDomain, rng: &rng, on: device)
                    let (b, refB) = makeInput(rhsShape, layout: .contiguous, range: op.rhsDomain, rng: &rng, on: device)
                    expectClose(op.apply(a, b), Ref.zip(refA, refB, op.reference), rtol: op.rtol,
                                "\(op.name) on \(device), \(lhsShape) \(layout) with \(rhsShape)")
                }
            }
        }

        @Test(arguments: TestDevices.all)
        func comparisonsSeeEqualValues(device: Device) {
            let a = Tensor([1, 2, 3, 4], shape: [4], on: device)
            let b = Tensor([1, 0, 3, 5], shape: [4], on: device)
            expectClose(a .== b, Ref(shape: [4], data: [1, 0, 1, 0]), "equal on \(device)")
            expectClose(a .>= b, Ref(shape: [4], data: [1, 1, 1, 0]), "greaterEqual on \(device)")
            expectClose(a .< 3, Ref(shape: [4], data: [1, 1, 0, 0]), "less than scalar on \(device)")
        }

        @Test(arguments: TestDevices.all)
        func whereSelectsWithBroadcasting(device: Device) {
            var rng = TestRNG(seed: 31)
            for (condShape, aShape, bShape) in [([5, 4], [5, 4], [5, 4]), ([4], [3, 4], []), ([3, 1], [1, 6], [3, 6]), ([0], [0], [])] {
                let (c, refC) = makeInput(condShape, rng: &rng, on: device)
                let mask = c .> 0
                let refMask = refC.map { $0 > 0 ? 1 : 0 }
                let (a, refA) = makeInput(aShape, layout: .transposed, rng: &rng, on: device)
                let (b, refB) = makeInput(bShape, rng: &rng, on: device)
                let expected = Ref.zip3(refMask, refA, refB) { m, x, y in m != 0 ? x : y }
                expectClose(Tensor.where(mask, a, b), expected, "where on \(device), \(condShape) \(aShape) \(bShape)")
            }
        }

        @Test(arguments: TestDevices.all)
        func fusedBiasActivationMatchesReference(device: Device) {
            var rng = TestRNG(seed: 45)
            let activations: [(FusedActivation, (Double) -> Double)] = [
                (.relu, { Swift.max($0, 0) }), (.sigmoid, { 1 / (1 + Foundation.exp(-$0)) }),
                (.tanh, { Foundation.tanh($0) }), (.leakyRelu(slope: 0.2), { $0 > 0 ? $0 : 0.2 * $0 }),
            ]
            for (activation, reference) in activations {
                for (shape, biasShape) in [([6, 5], [5]), ([2, 3, 4, 8], [8]), ([33, 17], [33, 17]), ([0, 4], [4])] {
                    for layout in Layout.allCases {
                        let (x, refX) = makeInput(shape, layout: layout, rng: &rng, on: device)
                        let (b, refB) = makeInput(biasShape, rng: &rng, on: device)
                        expectClose(x.adding(b, then: activation), Ref.zip(refX, refB) { reference($0 + $1) }, rtol: 1e-5, atol: 1e-6,
                                    "adding(then: \(activation)) on \(device), \(shape) \(layout)")
                    }
                }
            }
        }

        @Test(arguments: TestDevices.all)
        func scalarOperandsBroadcast(device: Device) {
            var rng = TestRNG(seed: 41)
            let (x, ref) = makeInput([3, 5], layout: .sliced, range: (0.5, 2), rng: &rng, on: device)
            expectClose(2 / x, ref.map { 2 / $0 }, rtol: 1e-6, "2 / x on \(device)")
            expectClose(x / 2, ref.map { $0 / 2 }, "x / 2 on \(device)")
            expectClose(x - 1, ref.map { $0 - 1 }, "x - 1 on \(device)")
        }
    }
}
