import Flint
import Foundation
import Testing

/// The composed defaults in `Backend` (what a backend without fused kernels runs) must agree
/// with each backend's fused override, so neither path is left untested.
extension Conformance {
    @Suite struct FusedDefaults {
        static func buffer(_ values: [Float], on backend: any Backend) -> any DeviceBuffer {
            let buffer = backend.allocate(byteCount: Swift.max(values.count, 1) * 4)
            values.withUnsafeBytes { backend.write($0, to: buffer, byteOffset: 0) }
            return buffer
        }

        static func read(_ buffer: any DeviceBuffer, count: Int, on backend: any Backend) -> [Float] {
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { backend.read(buffer, byteOffset: 0, into: $0) }
            return values
        }

        static func expectAgree(_ fused: [Float], _ composed: [Float], _ what: String) {
            let worst = zip(fused, composed).map { Swift.abs($0 - $1) / Swift.max(1, Swift.abs($1)) }.max() ?? 0
            #expect(worst <= 1e-5, "\(what): fused and composed differ by \(worst)")
        }

        @Test(arguments: TestDevices.all)
        func adamStepAgreesWithItsComposedDefault(device: Device) {
            let backend = device.backend
            var rng = TestRNG(seed: 181)
            let count = 1000
            let inputs = [rng.floats(count), rng.floats(count), rng.floats(count), rng.floats(count, 0, 1)].map { Self.buffer($0, on: backend) }
            let step = AdamStep(learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, correction1: 0.271, correction2: 0.003,
                                l2: 0.1, decoupledDecay: 0.05)
            let fused = (0..<3).map { _ in backend.allocate(byteCount: count * 4) }
            let composed = (0..<3).map { _ in backend.allocate(byteCount: count * 4) }
            backend.adamStep(step, count: count, parameter: inputs[0], gradient: inputs[1], m: inputs[2], v: inputs[3],
                             outParameter: fused[0], outM: fused[1], outV: fused[2])
            backend.composedAdamStep(step, count: count, parameter: inputs[0], gradient: inputs[1], m: inputs[2], v: inputs[3],
                                     outParameter: composed[0], outM: composed[1], outV: composed[2])
            for (name, pair) in zip(["parameter", "m", "v"], zip(fused, composed)) {
                Self.expectAgree(Self.read(pair.0, count: count, on: backend), Self.read(pair.1, count: count, on: backend),
                                 "adamStep \(name) on \(device)")
            }
            CaseCounter.add(device)
        }

        @Test(arguments: TestDevices.all)
        func fusedBinaryAgreesWithItsComposedDefault(device: Device) {
            let backend = device.backend
            var rng = TestRNG(seed: 191)
            let shape = [37, 16]
            let a = Self.buffer(rng.floats(37 * 16), on: backend), b = Self.buffer(rng.floats(16), on: backend)
            let left = StridedOperand(buffer: a, offset: 0, strides: [16, 1]), right = StridedOperand(buffer: b, offset: 0, strides: [0, 1])
            for activation in [UnaryOp.relu, .sigmoid, .tanh, .leakyRelu(slope: 0.2)] {
                let fused = backend.allocate(byteCount: 37 * 16 * 4), composed = backend.allocate(byteCount: 37 * 16 * 4)
                backend.binary(.add, left, right, shape: shape, then: activation, out: fused)
                backend.composedBinary(.add, left, right, shape: shape, then: activation, out: composed)
                Self.expectAgree(Self.read(fused, count: 37 * 16, on: backend), Self.read(composed, count: 37 * 16, on: backend),
                                 "add then \(activation) on \(device)")
            }
            CaseCounter.add(device)
        }
    }
}
