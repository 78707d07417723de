import FlintBackend
import FlintCPU
import Foundation
import Testing

/// exp, sigmoid and tanh (inline polynomials, see FastMath.swift) against Float64 over their
/// whole range, through the backend's vectorised loops: plain and fused with a bias add.
@Suite struct FastMathTests {
    /// Every 2⁻⁸ from −110 to 95, then tiny magnitudes of both signs (where tanh ≈ x).
    static let inputs: [Float] = stride(from: -110.0, to: 95.0, by: 1.0 / 256).map { Float($0) }
        + (0..<2000).flatMap { i -> [Float] in
            let v = Float(pow(10, -30 + Double(i) * 0.015))
            return [v, -v]
        }

    static func reference(_ op: UnaryOp, _ x: Double) -> Double {
        switch op {
        case .exp: Foundation.exp(x)
        case .sigmoid: 1 / (1 + Foundation.exp(-x))
        default: Foundation.tanh(x)
        }
    }

    /// The largest error in ulp of the float result, over results in the normal range.
    static func worstULP(_ op: UnaryOp, _ results: [Float]) -> (ulp: Double, at: Float) {
        var worst: (ulp: Double, at: Float) = (0, 0)
        for (x, y) in zip(inputs, results) {
            let expected = reference(op, Double(x))
            guard expected.magnitude >= Double(Float.leastNormalMagnitude), expected.magnitude <= Double(Float.greatestFiniteMagnitude)
            else { continue }
            let ulp = Double(Float(expected).magnitude.ulp)
            let error = (Double(y) - expected).magnitude / ulp
            if !(error <= worst.ulp) { worst = (error, x) }
        }
        return worst
    }

    @Test(arguments: [(UnaryOp.exp, 1.5), (.tanh, 1.5), (.sigmoid, 3.0)])
    func accurateOverTheWholeRange(op: UnaryOp, bound: Double) {
        let count = Self.inputs.count
        let x = makeBuffer(Self.inputs)
        let out = backend.allocate(byteCount: count * 4)
        backend.unary(op, strided(x, [1]), shape: [count], out: out)
        let plain = Self.worstULP(op, readFloats(out, count: count))
        #expect(plain.ulp <= bound, "\(op): \(plain.ulp) ulp at \(plain.at)")
        guard op != .exp else { return }
        // Fused with an add of zeros, as Dense and the recurrent gates call it.
        let zeros = makeBuffer([Float](repeating: 0, count: count))
        backend.binary(.add, strided(x, [1]), strided(zeros, [1]), shape: [count], then: op, out: out)
        let fused = Self.worstULP(op, readFloats(out, count: count))
        #expect(fused.ulp <= bound, "add then \(op): \(fused.ulp) ulp at \(fused.at)")
    }

    @Test func specialValues() {
        let x = makeBuffer([.infinity, -.infinity, .nan, -0.0, 0, 89, -104, 88.7, -87])
        let out = backend.allocate(byteCount: 9 * 4)
        func run(_ op: UnaryOp) -> [Float] {
            backend.unary(op, strided(x, [1]), shape: [9], out: out)
            return readFloats(out, count: 9)
        }
        let exp = run(.exp), tanh = run(.tanh), sigmoid = run(.sigmoid)
        #expect(exp[0] == .infinity && exp[1] == 0 && exp[2].isNaN && exp[3] == 1 && exp[4] == 1)
        #expect(exp[5] == .infinity && exp[6] == 0 && exp[7].isFinite && exp[7] > 3e38 && exp[8] > 1.6e-38)
        #expect(tanh[0] == 1 && tanh[1] == -1 && tanh[2].isNaN)
        #expect(tanh[3] == 0 && tanh[3].sign == .minus && tanh[4] == 0 && tanh[4].sign == .plus)
        #expect(sigmoid[0] == 1 && sigmoid[1] == 0 && sigmoid[2].isNaN && sigmoid[3] == 0.5)
    }
}
