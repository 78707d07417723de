import Flint
import Foundation

enum NNDevices {
    /// The CPU and every OpenCL device that opens.
    static let all: [Device] = Device.available.filter { (try? $0.open()) != nil }
    static let openCLAvailable = all.contains(where: \.isOpenCL)
    /// Set in `make test` and CI: a test that needs OpenCL must fail, not skip, without it.
    static let openCLRequired = ProcessInfo.processInfo.environment["FLINT_REQUIRE_OPENCL"] == "1"
}

/// SplitMix64 for test data that does not depend on the engine.
struct DataRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform(_ low: Float = -1, _ high: Float = 1) -> Float {
        low + (high - low) * Float(next() >> 40) * 0x1p-24
    }
    mutating func normal() -> Float {
        let u1 = Swift.max(uniform(0, 1), 1e-7), u2 = uniform(0, 1)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2)
    }
}
