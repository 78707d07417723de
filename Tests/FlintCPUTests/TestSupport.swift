import FlintBackend
import FlintCPU
import Foundation
import Testing

/// One backend for tests that do not look at pool counters.
let backend = CPUBackend()

func makeBuffer(_ values: [Float], on device: CPUBackend = backend) -> any DeviceBuffer {
    let buffer = device.allocate(byteCount: values.count * 4)
    values.withUnsafeBytes { device.write($0, to: buffer, byteOffset: 0) }
    return buffer
}

func makeIntBuffer(_ values: [Int32], on device: CPUBackend = backend) -> any DeviceBuffer {
    let buffer = device.allocate(byteCount: values.count * 4)
    values.withUnsafeBytes { device.write($0, to: buffer, byteOffset: 0) }
    return buffer
}

func readFloats(_ buffer: any DeviceBuffer, count: Int, offset: Int = 0) -> [Float] {
    var values = [Float](repeating: .nan, count: count)
    values.withUnsafeMutableBytes { backend.read(buffer, byteOffset: offset * 4, into: $0) }
    return values
}

func readInts(_ buffer: any DeviceBuffer, count: Int) -> [Int32] {
    var values = [Int32](repeating: -7, count: count)
    values.withUnsafeMutableBytes { backend.read(buffer, byteOffset: 0, into: $0) }
    return values
}

func strided(_ buffer: any DeviceBuffer, offset: Int = 0, _ strides: [Int]) -> StridedOperand {
    StridedOperand(buffer: buffer, offset: offset, strides: strides)
}

/// Row-major strides of `shape`.
func contiguous(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for d in shape.indices.reversed() {
        strides[d] = running
        running *= shape[d]
    }
    return strides
}

/// `|actual - expected| <= tolerance * max(1, |expected|)` element by element (NaN matches NaN).
func expectClose(
    _ actual: [Float], _ expected: [Double], tolerance: Double = 1e-6,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        if e.isNaN {
            #expect(a.isNaN, "element \(i): \(a) vs NaN", sourceLocation: sourceLocation)
        } else if e.isInfinite {
            #expect(Double(a) == e, "element \(i): \(a) vs \(e)", sourceLocation: sourceLocation)
        } else {
            #expect(
                abs(Double(a) - e) <= tolerance * max(1, abs(e)), "element \(i): \(a) vs \(e)",
                sourceLocation: sourceLocation)
        }
    }
}

func expectClose(
    _ actual: [Float], _ expected: [Float], tolerance: Double = 1e-6,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectClose(actual, expected.map(Double.init), tolerance: tolerance, sourceLocation: sourceLocation)
}

/// A reproducible pseudo-random sequence for test inputs.
struct TestRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    /// Uniform in [-1, 1).
    mutating func float() -> Float {
        Float(next() >> 40) * 0x1p-23 - 1
    }

    mutating func floats(_ count: Int) -> [Float] {
        (0..<count).map { _ in float() }
    }
}
