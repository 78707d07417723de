import CVectorMath
import FlintBackend
import Foundation

extension CPUBackend {
    /// Adam in one pass over the parameter instead of a dozen element-wise launches.
    public func adamStep(_ step: AdamStep, count: Int, parameter: any DeviceBuffer, gradient: any DeviceBuffer,
                         m: any DeviceBuffer, v: any DeviceBuffer,
                         outParameter: any DeviceBuffer, outM: any DeviceBuffer, outV: any DeviceBuffer) {
        let buffers = [parameter, gradient, m, v, outParameter, outM, outV].map { cpuBuffer($0, "adamStep") }
        for buffer in buffers { checkOutput(buffer, count: count, "adamStep") }
        let (w, g, m0, v0) = (UnsafePointer(buffers[0].floats), UnsafePointer(buffers[1].floats),
                              UnsafePointer(buffers[2].floats), UnsafePointer(buffers[3].floats))
        let (w1, m1, v1) = (buffers[4].floats, buffers[5].floats, buffers[6].floats)
        let (b1, b2, eps, l2) = (step.beta1, step.beta2, step.epsilon, step.l2)
        let stepSize = step.learningRate / step.correction1
        let inverseRoot = 1 / step.correction2.squareRoot()
        let keep = 1 - step.learningRate * step.decoupledDecay
        // In C, eight lanes wide on AVX2 (SIMD8 here ran as two SSE halves): the square root and
        // division per element made Adam about a fifth of the MLP's training step.
        Parallel.forEachRange(count: count) { range in
            let i = range.lowerBound
            flint_adam(range.count, w + i, g + i, m0 + i, v0 + i, w1 + i, m1 + i, v1 + i,
                       b1, b2, eps, l2, stepSize, inverseRoot, keep)
        }
    }
}
