import Flint
import Foundation
import Testing

/// Devices the suite runs on: the CPU backend and every OpenCL device, all opened up front
/// so a kernel build failure shows up as a failing device test rather than a crash.
enum TestDevices {
    static let openCLRequired = ProcessInfo.processInfo.environment["FLINT_REQUIRE_OPENCL"] == "1"

    static let all: [Device] = Device.available.filter { device in
        do {
            try device.open()
            return true
        } catch {
            print("flint tests: cannot open \(device): \(error)")
            return false
        }
    }

    static var openCL: [Device] { all.filter(\.isOpenCL) }
}

/// SplitMix64: deterministic test data without depending on the engine under test.
struct TestRNG {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * Double(next() >> 11) * 0x1p-53
    }

    mutating func floats(_ count: Int, _ low: Double = -2, _ high: Double = 2) -> [Float] {
        (0..<count).map { _ in Float(uniform(low, high)) }
    }

    mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
}

/// A row-major Float64 array: the reference every backend result is checked against.
struct Ref: Equatable {
    var shape: [Int]
    var data: [Double]

    init(shape: [Int], data: [Double]) {
        precondition(shape.reduce(1, *) == data.count)
        self.shape = shape
        self.data = data
    }

    init(_ floats: [Float], shape: [Int]) { self.init(shape: shape, data: floats.map(Double.init)) }

    var count: Int { data.count }
    var strides: [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        for i in shape.indices.dropLast().reversed() { s[i] = s[i + 1] * shape[i + 1] }
        return s
    }

    func index(_ multi: [Int]) -> Int { Swift.zip(multi, strides).reduce(0) { $0 + $1.0 * $1.1 } }
    func multiIndex(_ linear: Int) -> [Int] {
        var rest = linear
        return shape.indices.reversed().map { axis -> Int in
            defer { rest /= Swift.max(shape[axis], 1) }
            return rest % Swift.max(shape[axis], 1)
        }.reversed()
    }

    /// Value at `multi` of an output of rank ≥ ours, with NumPy broadcasting.
    func broadcastValue(at multi: [Int]) -> Double {
        let lead = multi.count - shape.count
        var linear = 0
        for axis in shape.indices where shape[axis] != 1 { linear += multi[axis + lead] * strides[axis] }
        return data[linear]
    }

    func map(_ f: (Double) -> Double) -> Ref { Ref(shape: shape, data: data.map(f)) }

    static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
        let rank = Swift.max(a.count, b.count)
        return (0..<rank).map { i in
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            return da == 1 ? db : da
        }
    }

    static func zip(_ a: Ref, _ b: Ref, _ f: (Double, Double) -> Double) -> Ref {
        let shape = broadcastShape(a.shape, b.shape)
        let out = Ref(shape: shape, data: [Double](repeating: 0, count: shape.reduce(1, *)))
        return Ref(shape: shape, data: (0..<out.count).map { i in
            let m = out.multiIndex(i)
            return f(a.broadcastValue(at: m), b.broadcastValue(at: m))
        })
    }

    static func zip3(_ a: Ref, _ b: Ref, _ c: Ref, _ f: (Double, Double, Double) -> Double) -> Ref {
        let shape = broadcastShape(broadcastShape(a.shape, b.shape), c.shape)
        let out = Ref(shape: shape, data: [Double](repeating: 0, count: shape.reduce(1, *)))
        return Ref(shape: shape, data: (0..<out.count).map { i in
            let m = out.multiIndex(i)
            return f(a.broadcastValue(at: m), b.broadcastValue(at: m), c.broadcastValue(at: m))
        })
    }

    /// Reduces `axes` with `f` over the values of each output position (keepDims shape when asked).
    func reduced(axes: Set<Int>, keepDims: Bool, _ f: ([Double]) -> Double) -> Ref {
        let kept = shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        var groups = [[Double]](repeating: [], count: kept.reduce(1, *))
        let keptRef = Ref(shape: kept, data: [Double](repeating: 0, count: groups.count))
        for i in 0..<count {
            var m = multiIndex(i)
            for a in axes { m[a] = 0 }
            groups[keptRef.index(m)].append(data[i])
        }
        let outShape = keepDims ? kept : shape.indices.filter { !axes.contains($0) }.map { shape[$0] }
        return Ref(shape: outShape, data: groups.map(f))
    }

    func permuted(_ order: [Int]) -> Ref {
        let newShape = order.map { shape[$0] }
        var out = Ref(shape: newShape, data: [Double](repeating: 0, count: count))
        for i in 0..<count {
            let m = out.multiIndex(i)
            var src = [Int](repeating: 0, count: shape.count)
            for (k, axis) in order.enumerated() { src[axis] = m[k] }
            out.data[i] = data[index(src)]
        }
        return out
    }

    func sliced(axis: Int, _ range: Range<Int>) -> Ref {
        var newShape = shape
        newShape[axis] = range.count
        var out = Ref(shape: newShape, data: [Double](repeating: 0, count: newShape.reduce(1, *)))
        for i in 0..<out.count {
            var m = out.multiIndex(i)
            m[axis] += range.lowerBound
            out.data[i] = data[index(m)]
        }
        return out
    }
}

/// How a test input is laid out in memory: the logical values are the same either way.
enum Layout: String, CaseIterable, Sendable {
    case contiguous, transposed, sliced
}

/// A tensor with the given logical shape and layout, and its reference values.
func makeInput(_ shape: [Int], layout: Layout = .contiguous, range: (Double, Double) = (-2, 2),
               rng: inout TestRNG, on device: Device) -> (Tensor, Ref) {
    switch layout {
    case .transposed where shape.count >= 2:
        // Stored with the last two axes swapped, then viewed back: a non-contiguous view.
        var stored = shape
        stored.swapAt(shape.count - 1, shape.count - 2)
        let values = rng.floats(stored.reduce(1, *), range.0, range.1)
        let ref = Ref(values, shape: stored).permuted(swapLastTwo(shape.count))
        return (Tensor(values, shape: stored, on: device).transposed(), ref)
    case .sliced where !shape.isEmpty:
        // A window of a wider tensor along the last axis: gaps between rows.
        var wide = shape
        wide[wide.count - 1] += 3
        let values = rng.floats(wide.reduce(1, *), range.0, range.1)
        let last = shape.count - 1
        return (Tensor(values, shape: wide, on: device).slice(axis: last, 1..<(1 + shape[last])),
                Ref(values, shape: wide).sliced(axis: last, 1..<(1 + shape[last])))
    default:
        let values = rng.floats(shape.reduce(1, *), range.0, range.1)
        return (Tensor(values, shape: shape, on: device), Ref(values, shape: shape))
    }
}

func swapLastTwo(_ rank: Int) -> [Int] {
    var order = Array(0..<rank)
    if rank >= 2 { order.swapAt(rank - 1, rank - 2) }
    return order
}

/// Checks `actual` against `expected` element by element: |a - e| ≤ atol + rtol·|e|.
/// NaN must match NaN and infinities must match exactly.
func expectClose(_ actual: Tensor, _ expected: Ref, rtol: Double = 1e-6, atol: Double = 1e-6,
                 _ what: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == expected.shape, "\(what()): shape \(actual.shape) vs reference \(expected.shape)",
            sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return }
    let values = actual.dtype == .float32 ? actual.toArray().map(Double.init) : actual.toInt32Array().map(Double.init)
    var worst: (index: Int, error: Double)? = nil
    for (i, (a, e)) in zip(values, expected.data).enumerated() {
        let ok: Bool
        if e.isNaN { ok = a.isNaN } else if e.isInfinite { ok = a == e } else { ok = Swift.abs(a - e) <= atol + rtol * Swift.abs(e) }
        if !ok, worst == nil || Swift.abs(a - e) > worst!.error { worst = (i, Swift.abs(a - e)) }
    }
    CaseCounter.add(actual.device)
    if let worst {
        Issue.record("\(what()): element \(worst.index) is \(values[worst.index]), reference \(expected.data[worst.index]) (shape \(expected.shape))",
                     sourceLocation: sourceLocation)
    }
}

/// Counts checked cases per device, so the test log states how much ran where.
enum CaseCounter {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var counts: [String: Int] = [:]

    static func add(_ device: Device, _ cases: Int = 1) {
        lock.lock()
        counts[device.identifier, default: 0] += cases
        lock.unlock()
    }

    static var snapshot: [String: Int] {
        lock.lock()
        defer { lock.unlock() }
        return counts
    }
}

/// Wraps the whole conformance suite and prints, once it has run, how many checks ran on each device.
struct CaseReport: SuiteTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await function()
        let counts = CaseCounter.snapshot.sorted { $0.key < $1.key }
        print("Conformance checks per device: " + counts.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
}

extension Trait where Self == CaseReport {
    static var caseReport: CaseReport { CaseReport() }
}

/// The conformance suite: every primitive on every device against Float64 references.
@Suite(.caseReport)
struct Conformance {}
