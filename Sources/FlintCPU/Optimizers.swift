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
        Parallel.forEachRange(count: count) { range in
            // Eight lanes at a time. The scalar loop alone does not vectorise (the update is in
            // place, so the compiler cannot rule out overlap), and its square root and division
            // per element made Adam about a fifth of the MLP's training step. Same operations in
            // the same order as the scalar tail, so the lanes give the scalar loop's bits.
            var start = range.lowerBound
            while start + 8 <= range.upperBound {
                let wi = Self.load8(w + start), gi = Self.load8(g + start)
                let grad = gi + l2 * wi
                let mi = b1 * Self.load8(m0 + start) + (1 - b1) * grad
                let vi = b2 * Self.load8(v0 + start) + (1 - b2) * grad * grad
                Self.store8(mi, m1 + start)
                Self.store8(vi, v1 + start)
                Self.store8(wi * keep - stepSize * mi / (vi.squareRoot() * inverseRoot + eps), w1 + start)
                start += 8
            }
            for i in start..<range.upperBound {
                let grad = g[i] + l2 * w[i]
                let mi = b1 * m0[i] + (1 - b1) * grad
                let vi = b2 * v0[i] + (1 - b2) * grad * grad
                m1[i] = mi
                v1[i] = vi
                w1[i] = w[i] * keep - stepSize * mi / (vi.squareRoot() * inverseRoot + eps)
            }
        }
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store8(_ value: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: value, as: SIMD8<Float>.self)
    }
}
