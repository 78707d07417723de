import FlintBackend
import Foundation
import Testing

// Transfers and references for the checks. Everything here is independent of the backend
// under test: inputs come from a generator written out below, references are Float64 loops.

extension Backend {
    func upload(_ values: [Float]) -> any DeviceBuffer { upload(raw: values) }
    func upload(ints values: [Int32]) -> any DeviceBuffer { upload(raw: values) }
    func upload(bits values: [UInt32]) -> any DeviceBuffer { upload(raw: values) }

    private func upload<T>(raw values: [T]) -> any DeviceBuffer {
        let buffer = allocate(byteCount: Swift.max(values.count, 1) * 4)
        if !values.isEmpty { values.withUnsafeBytes { write($0, to: buffer, byteOffset: 0) } }
        return buffer
    }

    func floats(_ buffer: any DeviceBuffer, count: Int, offset: Int = 0) -> [Float] { download(buffer, count, offset) }
    func ints(_ buffer: any DeviceBuffer, count: Int, offset: Int = 0) -> [Int32] { download(buffer, count, offset) }
    func bits(_ buffer: any DeviceBuffer, count: Int, offset: Int = 0) -> [UInt32] { download(buffer, count, offset) }

    private func download<T>(_ buffer: any DeviceBuffer, _ count: Int, _ offset: Int) -> [T] {
        [T](unsafeUninitializedCapacity: count) { storage, initialized in
            read(buffer, byteOffset: offset * 4, into: UnsafeMutableRawBufferPointer(storage))
            initialized = count
        }
    }
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

/// Element offsets of every index of `shape` (row-major order) through `strides`.
func stridedOffsets(shape: [Int], strides: [Int], offset: Int = 0) -> [Int] {
    let count = shape.reduce(1, *)
    return (0..<count).map { linear in
        var rest = linear, position = offset
        for d in shape.indices.reversed() {
            position += (rest % shape[d]) * strides[d]
            rest /= shape[d]
        }
        return position
    }
}

/// `actual` is within `relative · |expected| + absolute` of `expected`; NaN matches NaN and
/// infinities match exactly.
func isClose(_ actual: Float, _ expected: Double, relative: Double = 1e-5, absolute: Double = 1e-6) -> Bool {
    if expected.isNaN { return actual.isNaN }
    if expected.isInfinite { return Double(actual) == expected }
    return abs(Double(actual) - expected) <= relative * abs(expected) + absolute
}

/// `|actual - expected| <= tolerance · max(1, |expected|)` element by element (NaN matches
/// NaN); reports the count of wrong elements and the first few.
func expectClose(_ actual: [Float], _ expected: [Double], tolerance: Double = 1e-6, _ what: @autoclosure () -> String = "",
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what()): \(actual.count) results for \(expected.count) references",
            sourceLocation: sourceLocation)
    var wrong: [Int] = []
    for i in 0..<min(actual.count, expected.count) {
        let (a, e) = (actual[i], expected[i])
        let ok = e.isNaN ? a.isNaN : e.isInfinite ? Double(a) == e : abs(Double(a) - e) <= tolerance * max(1, abs(e))
        if !ok { wrong.append(i) }
    }
    if !wrong.isEmpty {
        let shown = wrong.prefix(3).map { "[\($0)] \(actual[$0]) vs \(expected[$0])" }.joined(separator: ", ")
        Issue.record("\(what()): \(wrong.count) of \(expected.count) elements differ beyond \(tolerance): \(shown)",
                     sourceLocation: sourceLocation)
    }
}

func expectClose(_ actual: [Float], _ expected: [Float], tolerance: Double = 1e-6, _ what: @autoclosure () -> String = "",
                 sourceLocation: SourceLocation = #_sourceLocation) {
    expectClose(actual, expected.map(Double.init), tolerance: tolerance, what(), sourceLocation: sourceLocation)
}

/// SplitMix64: reproducible test inputs, written out so they do not depend on the engine.
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
        var values: [Float] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(float(low, high)) }
        return values
    }
}
