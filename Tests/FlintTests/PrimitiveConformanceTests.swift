import BackendConformance
import Flint
import Testing

extension Conformance {
    /// The primitive-level suite on every registered device: the CPU, each OpenCL device, and any
    /// backend added to the provider list later. The reference backend runs the same checks
    /// from its own test target.
    @Suite struct Primitives {
        @Test(arguments: BackendConformance.checks, TestDevices.all)
        func primitive(_ check: ConformanceCheck, device: Device) throws {
            try check.run(device.backend)
            CaseCounter.add(device)
        }
    }
}
