/// How the elements of a `HostArray` are stored. Data stays in its stored type on the host
/// (MNIST's pixels as bytes) and becomes float32 or int32 only when a batch is made.
public enum ElementType: String, Sendable, Hashable, CaseIterable {
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
}

/// How a host array becomes a tensor when its batch is made.
public enum TensorConversion: Sendable, Hashable {
    /// float32 values `x · scale + shift` (the product and the sum each rounded to float32), on
    /// the device in one pass where the backend fuses it.
    case float(scale: Float, shift: Float)
    /// int32 values, unchanged (class indices); integer element types only.
    case int32

    /// float32 values as stored.
    public static let float = TensorConversion.float(scale: 1, shift: 0)

    /// What an array of `type` becomes unless told otherwise: int32 stays int32, the rest float32.
    public static func natural(for type: ElementType) -> TensorConversion {
        type == .int32 ? .int32 : .float
    }
}
