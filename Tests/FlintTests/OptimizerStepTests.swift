import Flint
import Foundation
import Testing

extension Conformance {
    @Suite struct OptimizerSteps {
        @Test(arguments: TestDevices.all, [(Float(0), Float(0)), (0.1, 0), (0, 0.05)])
        func adamStepMatchesReference(device: Device, decay: (l2: Float, decoupled: Float)) {
            var rng = TestRNG(seed: 171)
            let shape = [37, 5]
            let (w, refW) = makeInput(shape, rng: &rng, on: device)
            let (g, refG) = makeInput(shape, layout: .transposed, rng: &rng, on: device)
            let (m, refM) = makeInput(shape, rng: &rng, on: device)
            let (v, refV) = makeInput(shape, range: (0, 1), rng: &rng, on: device)
            let step = AdamStep(learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, correction1: 1 - pow(0.9, 3),
                                correction2: 1 - pow(0.999, 3), l2: decay.l2, decoupledDecay: decay.decoupled)
            let result = Tensor.adamStep(step, parameter: w, gradient: g, m: m, v: v)
            var (expectedW, expectedM, expectedV) = (refW, refM, refV)
            for i in 0..<refW.count {
                let grad = refG.data[i] + Double(decay.l2) * refW.data[i]
                let mi = 0.9 * refM.data[i] + 0.1 * grad, vi = 0.999 * refV.data[i] + 0.001 * grad * grad
                let c1 = 1 - pow(0.9, 3.0), c2 = 1 - pow(0.999, 3.0)
                expectedM.data[i] = mi
                expectedV.data[i] = vi
                expectedW.data[i] = refW.data[i] * (1 - 0.01 * Double(decay.decoupled)) - 0.01 * (mi / c1) / ((vi / c2).squareRoot() + 1e-8)
            }
            expectClose(result.m, expectedM, rtol: 1e-5, atol: 1e-6, "adam m on \(device)")
            expectClose(result.v, expectedV, rtol: 1e-5, atol: 1e-6, "adam v on \(device)")
            expectClose(result.parameter, expectedW, rtol: 1e-5, atol: 1e-5, "adam parameter on \(device), decay \(decay)")
            // The first step starts from zero moments.
            let first = Tensor.adamStep(step, parameter: w, gradient: g, m: nil, v: nil)
            expectClose(first.m, Ref.zip(refG, refW) { 0.1 * ($0 + Double(decay.l2) * $1) }, rtol: 1e-5, atol: 1e-6,
                        "first-step m on \(device)")
        }
    }
}
