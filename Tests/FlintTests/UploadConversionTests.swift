import Flint
import Foundation
import Testing

extension Conformance {
    /// `Backend.upload(converting:as:scale:shift:to:)`: host elements of each stored type become
    /// float32 `x · scale + shift` on every device, within two float32 roundings of a Float64
    /// reference and bit for bit the same on every device (a fused multiply-add would differ).
    @Suite struct UploadConversion {
        static let counts = [0, 1, 7, 1000, 70_001]  // empty, odd tails, and the CPU's multi-threaded split
        static let settings: [(scale: Float, shift: Float)] = [(1, 0), (1 / 255, 0), (1 / (255 * 0.3081), -0.1307 / 0.3081), (-3.5, 1e3)]

        /// `count` random elements of `type` as raw bytes, every byte value among them.
        static func elements(_ type: HostScalar, _ count: Int, rng: inout TestRNG) -> [UInt8] {
            switch type {
            case .uint8, .int8: return (0..<count).map { UInt8(truncatingIfNeeded: $0 < 256 ? $0 : Int(rng.next() & 0xFF)) }
            case .int32: return (0..<count).flatMap { _ in withUnsafeBytes(of: Int32(rng.int(-1 << 24 ..< 1 << 24))) { Array($0) } }
            case .float32: return (0..<count).flatMap { _ in withUnsafeBytes(of: Float(rng.uniform(-300, 300))) { Array($0) } }
            }
        }

        static func reference(_ bytes: [UInt8], _ type: HostScalar) -> [Double] {
            bytes.withUnsafeBytes { raw in (0..<(raw.count / type.byteCount)).map { Double(type.load(raw, $0)) } }
        }

        @Test(arguments: TestDevices.all, HostScalar.allCases)
        func convertedUploadMatchesFloat64(device: Device, type: HostScalar) {
            var rng = TestRNG(seed: 21)
            for count in Self.counts {
                let bytes = Self.elements(type, count, rng: &rng)
                let values = Self.reference(bytes, type)
                for (scale, shift) in Self.settings {
                    let tensor = bytes.withUnsafeBytes { Tensor(converting: $0, as: type, shape: [count], scale: scale, shift: shift, on: device) }
                    let got = tensor.toArray()
                    // |fl(fl(x·s) + c) − (x·s + c)| ≤ 2⁻²⁴ (2|x·s| + |c|) to first order.
                    let worst = zip(got, values).enumerated().first { _, pair in
                        let exact = pair.1 * Double(scale) + Double(shift)
                        let bound = 0x1p-24 * (2 * Swift.abs(pair.1 * Double(scale)) + Swift.abs(Double(shift))) * 1.001
                        return Swift.abs(Double(pair.0) - exact) > bound
                    }
                    #expect(worst == nil, "\(type) × \(scale) + \(shift) on \(device), \(count) elements: element \(worst?.offset ?? 0)")
                    // The host default makes the same two roundings: every device agrees bit for bit.
                    let host = Device.cpu.backend
                    let buffer = host.allocate(byteCount: count * 4)
                    var composed = [Float](repeating: .nan, count: count)
                    bytes.withUnsafeBytes { host.composedUpload(converting: $0, as: type, scale: scale, shift: shift, to: buffer) }
                    composed.withUnsafeMutableBytes { host.read(buffer, byteOffset: 0, into: $0) }
                    #expect(got.map(\.bitPattern) == composed.map(\.bitPattern), "\(type) on \(device) differs from the host conversion")
                    CaseCounter.add(device)
                }
            }
        }
    }
}
