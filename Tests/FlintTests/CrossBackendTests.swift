import Flint
import Foundation
import Testing

/// CPU and OpenCL results compared with each other on the same inputs (same seeds, so the
/// random inputs themselves are identical on both).
extension Conformance {
    @Suite struct CrossBackend {
        static let pipelines: [(String, Double, @Sendable (Tensor, Tensor) -> Tensor)] = [
            ("dense layer", 1e-5, { x, w in (x.matmul(w) + w.sum(axis: 0)).relu() }),
            ("softmax of product", 1e-5, { x, w in x.matmul(w).softmax(axis: 1) }),
            ("log-sum-exp", 1e-5, { x, w in x.matmul(w).logSoftmax(axis: -1).mean(axis: 0) }),
            ("broadcast chain", 1e-5, { x, _ in (x.sigmoid() * x.tanh() - x.mean(axis: 1, keepDims: true)).abs().sqrt() }),
            ("max-min", 1e-6, { x, w in x.max(axis: 1) - w.min(axis: 0).slice(axis: 0, 0..<1) }),
        ]

        @Test(.enabled(if: !TestDevices.openCL.isEmpty || TestDevices.openCLRequired,
                       "no OpenCL device (FLINT_REQUIRE_OPENCL=1 runs this and fails)"),
              arguments: 0..<5)
        func openCLAgreesWithCPU(pipeline index: Int) throws {
            let (name, tolerance, body) = Self.pipelines[index]
            try #require(!TestDevices.openCL.isEmpty, "FLINT_REQUIRE_OPENCL=1 but no OpenCL device opens")
            for device in TestDevices.openCL {
                let x = Tensor.normal([33, 47], seed: 1, on: .cpu), w = Tensor.uniform([47, 29], low: -1, high: 1, seed: 2, on: .cpu)
                let cpu = body(x, w)
                let other = body(x.to(device), w.to(device))
                expectClose(other, Ref(cpu.toArray(), shape: cpu.shape), rtol: tolerance, atol: tolerance,
                            "\(name): \(device) vs cpu")
            }
        }
    }
}
