/// Element types a tensor can hold. Both are four bytes wide, so memory primitives
/// (copy, fill, gather) move elements without caring which one they are.
public enum DType: String, Sendable, Hashable, CustomStringConvertible {
    case float32
    case int32

    public var byteCount: Int { 4 }
    public var description: String { rawValue }
}
