import FlintBackend

/// How the elements of a `HostArray` are stored. Data stays in its stored type on the host
/// (MNIST's pixels as bytes) and becomes float32 or int32 only when a batch is made; the
/// backends' upload conversion takes the same types, so no translation sits between them.
public typealias ElementType = HostScalar

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
