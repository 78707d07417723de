/// Element-wise functions of one float32 input. Scalars travel with the op so that
/// `x * 0.5 + 1` needs no scalar tensor on the device.
public enum UnaryOp: Sendable, Hashable {
    case neg, abs, exp, log, sqrt, rsqrt, square, reciprocal, sign
    case relu, sigmoid, tanh
    /// `x > 0 ? x : slope * x`
    case leakyRelu(slope: Float)
    /// `x * scale + shift`
    case affine(scale: Float, shift: Float)
    /// `pow(x, exponent)` with C99 semantics (negative base and non-integer exponent give NaN).
    case pow(Float)
    /// `min(max(x, low), high)`
    case clamp(low: Float, high: Float)
}

/// Element-wise functions of two float32 inputs. Comparisons give masks: 1 where true, 0 where false.
public enum BinaryOp: String, Sendable, Hashable, CaseIterable {
    case add, sub, mul, div, pow, maximum, minimum
    case equal, notEqual, less, lessEqual, greater, greaterEqual
}

public enum ReduceOp: String, Sendable, Hashable, CaseIterable {
    case sum, max, min
}

public enum RandomDistribution: Sendable, Hashable {
    case uniform(low: Float, high: Float)
    case normal(mean: Float, standardDeviation: Float)
}
