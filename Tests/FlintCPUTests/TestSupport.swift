import FlintBackend
import FlintCPU
import Foundation
import Testing

// What only the CPU backend promises (threads, denormals, its pool, bit-exact Philox normals).
// Everything every backend promises is in the conformance suite (Tests/BackendConformance).

/// One backend for tests that do not look at pool counters.
let backend = CPUBackend()

func makeBuffer(_ values: [Float], on device: CPUBackend = backend) -> any DeviceBuffer {
    let buffer = device.allocate(byteCount: values.count * 4)
    values.withUnsafeBytes { device.write($0, to: buffer, byteOffset: 0) }
    return buffer
}

func readFloats(_ buffer: any DeviceBuffer, count: Int, offset: Int = 0) -> [Float] {
    var values = [Float](repeating: .nan, count: count)
    values.withUnsafeMutableBytes { backend.read(buffer, byteOffset: offset * 4, into: $0) }
    return values
}

func strided(_ buffer: any DeviceBuffer, offset: Int = 0, _ strides: [Int]) -> StridedOperand {
    StridedOperand(buffer: buffer, offset: offset, strides: strides)
}
