import FlintBackend
import FlintOpenCL
import Foundation
import Testing

// What only the OpenCL backend promises (discovery, kernel builds and their failures, its pool).
// Everything every backend promises is in the conformance suite (Tests/BackendConformance).

/// The OpenCL device the tests run on: the first one listed, created once (kernel builds are slow)
/// and shared by every suite. The backend is thread-safe, so suites may run in parallel.
enum TestDevice {
    static let devices = OpenCLBackend.devices()
    static var available: Bool { !devices.isEmpty }
    static var required: Bool { ProcessInfo.processInfo.environment["FLINT_REQUIRE_OPENCL"] == "1" }

    private static let shared = Result { try OpenCLBackend(deviceIndex: 0) }

    static func backend() throws -> OpenCLBackend { try shared.get() }

    /// The repository's `Kernels` folder.
    static var kernelsFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Kernels")
    }
}

@Test("An OpenCL device is present when FLINT_REQUIRE_OPENCL=1",
      .enabled(if: TestDevice.required, "FLINT_REQUIRE_OPENCL is not set: a machine without OpenCL may skip the OpenCL tests"))
func openCLPresentWhenRequired() {
    #expect(TestDevice.available, "FLINT_REQUIRE_OPENCL=1 but OpenCLBackend.devices() is empty")
}

/// The OpenCL suites run where a device exists, and must run (and fail) without one under
/// FLINT_REQUIRE_OPENCL=1.
let openCLSkipReason: Comment = "no OpenCL device (FLINT_REQUIRE_OPENCL=1 runs these and fails)"

extension OpenCLBackend {
    func upload(_ values: [Float]) -> any DeviceBuffer {
        let buffer = allocate(byteCount: values.count * 4)
        values.withUnsafeBytes { write($0, to: buffer, byteOffset: 0) }
        return buffer
    }

    func floats(_ buffer: any DeviceBuffer, count: Int, offset: Int = 0) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { read(buffer, byteOffset: offset * 4, into: $0) }
        return values
    }
}

/// Deterministic pseudo-random test data (SplitMix64), so failures reproduce.
struct TestRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [low, high).
    mutating func float(_ low: Float = -1, _ high: Float = 1) -> Float {
        low + (high - low) * Float(next() >> 40) * 0x1p-24
    }

    mutating func floats(_ count: Int, _ low: Float = -1, _ high: Float = 1) -> [Float] {
        (0..<count).map { _ in float(low, high) }
    }
}
