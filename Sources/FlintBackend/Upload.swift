/// The element types host data may be stored in when a backend converts it to float32 on upload.
/// FlintData's `HostArray` keeps its elements in these types too (as `ElementType`).
public enum HostScalar: String, Sendable, Hashable, CaseIterable {
    case uint8
    case int8
    case int32
    case float32

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .uint8, .int8: 1
        case .int32, .float32: 4
        }
    }

    /// True for the integer types, which can become int32 class indices.
    public var isInteger: Bool { self != .float32 }

    /// Element `index` of `bytes` as a Float, exactly (every value of these types but int32
    /// beyond 2²⁴ is a Float).
    @inline(__always)
    public func load(_ bytes: UnsafeRawBufferPointer, _ index: Int) -> Float {
        switch self {
        case .uint8: Float(bytes.load(fromByteOffset: index, as: UInt8.self))
        case .int8: Float(bytes.load(fromByteOffset: index, as: Int8.self))
        case .int32: Float(bytes.loadUnaligned(fromByteOffset: index * 4, as: Int32.self))
        case .float32: bytes.loadUnaligned(fromByteOffset: index * 4, as: Float.self)
        }
    }
}

extension Backend {
    public func upload(converting bytes: UnsafeRawBufferPointer, as type: HostScalar, scale: Float, shift: Float,
                       to out: any DeviceBuffer) {
        composedUpload(converting: bytes, as: type, scale: scale, shift: shift, to: out)
    }

    /// `upload(converting:…)` as a host loop and a `write` of the float32 results: the default,
    /// and what the fused implementations are tested against.
    public func composedUpload(converting bytes: UnsafeRawBufferPointer, as type: HostScalar, scale: Float, shift: Float,
                               to out: any DeviceBuffer) {
        let count = bytes.count / type.byteCount
        guard count > 0 else { return }
        let floats = [Float](unsafeUninitializedCapacity: count) { values, initialized in
            for i in 0..<count {
                // Two roundings, never a fused multiply-add: every backend computes the same.
                let product = type.load(bytes, i) * scale
                values[i] = product + shift
            }
            initialized = count
        }
        floats.withUnsafeBytes { write($0, to: out, byteOffset: 0) }
    }
}
