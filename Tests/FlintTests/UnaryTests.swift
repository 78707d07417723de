import Flint
import Foundation
import Testing

extension Conformance {
    struct UnaryCase: Sendable, CustomStringConvertible {
        let name: String
        let apply: @Sendable (Tensor) -> Tensor
        let reference: @Sendable (Double) -> Double
        var domain: (Double, Double) = (-3, 3)
        var rtol: Double = 1e-6
        var atol: Double = 1e-6
        var description: String { name }
    }

    static let unaryCases: [UnaryCase] = [
        UnaryCase(name: "neg", apply: { -$0 }, reference: { -$0 }),
        UnaryCase(name: "abs", apply: { $0.abs() }, reference: { Swift.abs($0) }),
        UnaryCase(name: "exp", apply: { $0.exp() }, reference: { Foundation.exp($0) }, rtol: 1e-5),
        UnaryCase(name: "log", apply: { $0.log() }, reference: { Foundation.log($0) }, domain: (0.01, 5), rtol: 1e-5),
        UnaryCase(name: "sqrt", apply: { $0.sqrt() }, reference: { $0.squareRoot() }, domain: (0, 5)),
        UnaryCase(name: "rsqrt", apply: { $0.rsqrt() }, reference: { 1 / $0.squareRoot() }, domain: (0.05, 5), rtol: 1e-5),
        UnaryCase(name: "square", apply: { $0.square() }, reference: { $0 * $0 }),
        UnaryCase(name: "reciprocal", apply: { $0.reciprocal() }, reference: { 1 / $0 }, domain: (0.1, 4), rtol: 1e-5),
        UnaryCase(name: "sign", apply: { $0.sign() }, reference: { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }),
        UnaryCase(name: "relu", apply: { $0.relu() }, reference: { Swift.max($0, 0) }),
        UnaryCase(name: "leakyRelu(0.2)", apply: { $0.leakyRelu(slope: 0.2) }, reference: { $0 > 0 ? $0 : 0.2 * $0 }),
        UnaryCase(name: "sigmoid", apply: { $0.sigmoid() }, reference: { 1 / (1 + Foundation.exp(-$0)) }, domain: (-8, 8), rtol: 1e-5),
        UnaryCase(name: "tanh", apply: { $0.tanh() }, reference: { Foundation.tanh($0) }, domain: (-5, 5), rtol: 1e-5, atol: 1e-5),
        UnaryCase(name: "pow(3)", apply: { $0.pow(3) }, reference: { Foundation.pow($0, 3) }, rtol: 1e-5, atol: 1e-5),
        UnaryCase(name: "pow(0.5)", apply: { $0.pow(0.5) }, reference: { Foundation.pow($0, 0.5) }, domain: (0, 4), rtol: 1e-5),
        UnaryCase(name: "clamp", apply: { $0.clamped(min: -0.5, max: 1) }, reference: { Swift.min(Swift.max($0, -0.5), 1) }),
        UnaryCase(name: "erf", apply: { $0.erf() }, reference: { Foundation.erf($0) }, rtol: 1e-5, atol: 1e-6),
        UnaryCase(name: "softplus", apply: { $0.softplus() }, reference: { Swift.max($0, 0) + Foundation.log1p(Foundation.exp(-Swift.abs($0))) },
                  domain: (-20, 20), rtol: 1e-5, atol: 1e-6),
        UnaryCase(name: "gelu", apply: { $0.gelu() }, reference: { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) },
                  domain: (-6, 6), rtol: 1e-5, atol: 1e-6),
        UnaryCase(name: "silu", apply: { $0.silu() }, reference: { $0 / (1 + Foundation.exp(-$0)) }, domain: (-20, 20), rtol: 1e-5, atol: 1e-6),
        UnaryCase(name: "x*1.5+2", apply: { $0 * 1.5 + 2 }, reference: { $0 * 1.5 + 2 }, rtol: 1e-6),
        UnaryCase(name: "3-x", apply: { 3 - $0 }, reference: { 3 - $0 }),
        UnaryCase(name: "x/4", apply: { $0 / 4 }, reference: { $0 / 4 }),
    ]

    /// Shapes with odd sizes, size 1, empty and rank 0, in each memory layout.
    static let elementwiseShapes: [[Int]] = [[], [1], [7], [0], [3, 0], [5, 3], [2, 3, 33], [1, 17, 1], [4, 1, 6, 5]]

    @Suite struct Unary {
        @Test(arguments: TestDevices.all, Conformance.unaryCases)
        func unaryMatchesReference(device: Device, op: UnaryCase) {
            var rng = TestRNG(seed: 11)
            for shape in Conformance.elementwiseShapes {
                for layout in Layout.allCases {
                    let (x, ref) = makeInput(shape, layout: layout, range: op.domain, rng: &rng, on: device)
                    expectClose(op.apply(x), ref.map(op.reference), rtol: op.rtol, atol: op.atol,
                                "\(op.name) on \(device), shape \(shape), \(layout)")
                }
            }
        }

        @Test(arguments: TestDevices.all)
        func largeInputsUseAllThreadsAndStayCorrect(device: Device) {
            var rng = TestRNG(seed: 5)
            let (x, ref) = makeInput([1 << 20], rng: &rng, on: device)
            expectClose(x.relu(), ref.map { Swift.max($0, 0) }, "relu over 1M on \(device)")
            expectClose(x.sigmoid(), ref.map { 1 / (1 + Foundation.exp(-$0)) }, rtol: 1e-5, "sigmoid over 1M on \(device)")
        }

        @Test(arguments: TestDevices.all)
        func specialValuesFollowIEEE(device: Device) {
            let x = Tensor([0, -0.0, .infinity, -.infinity, .nan, 1e-30], shape: [6], on: device)
            expectClose(x.exp(), Ref(shape: [6], data: [1, 1, .infinity, 0, .nan, 1]), "exp of specials on \(device)")
            let finite = x.slice(axis: 0, 0..<4)
            expectClose(finite.relu(), Ref(shape: [4], data: [0, 0, .infinity, 0]), "relu of specials on \(device)")
            expectClose(x.sigmoid(), Ref(shape: [6], data: [0.5, 0.5, 1, 0, .nan, 0.5]), "sigmoid of specials on \(device)")
        }
    }
}
