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
    /// `min(max(x, low), high)`, NaN staying NaN (as `relu`, `maximum` and `minimum` keep it)
    case clamp(low: Float, high: Float)
    /// The error function.
    case erf
    /// `log(1 + eˣ)`, computed as `max(x, 0) + log(1 + e^-|x|)` so it neither overflows nor
    /// loses small values.
    case softplus
    /// `x · Φ(x) = x/2 · (1 + erf(x/√2))`, the exact GELU (PyTorch's default, Keras' `approximate=False`).
    case gelu
    /// `x · sigmoid(x)` (SiLU, also called swish).
    case silu
}

/// Element-wise functions of two float32 inputs. Comparisons give masks: 1 where true, 0 where false.
public enum BinaryOp: String, Sendable, Hashable, CaseIterable {
    case add, sub, mul, div, pow, maximum, minimum
    case equal, notEqual, less, lessEqual, greater, greaterEqual
    /// `a · (b > 0 ? 1 : 0)`: ReLU's adjoint (a gradient, masked by the ReLU's input or output)
    /// in one pass instead of a comparison and a product; the same bits as those two.
    case reluGradient
}

public enum ReduceOp: String, Sendable, Hashable, CaseIterable {
    case sum, max, min
}

public enum RandomDistribution: Sendable, Hashable {
    case uniform(low: Float, high: Float)
    case normal(mean: Float, standardDeviation: Float)
}

/// One Adam update (PyTorch's rule) for `Backend.adamStep`:
/// `g' = g + l2·w`, `m' = β₁m + (1-β₁)g'`, `v' = β₂v + (1-β₂)g'²`,
/// `w' = w·(1 - lr·decoupledDecay) - lr·(m'/c₁) / (√(v'/c₂) + ε)` with `cᵢ = 1 - βᵢᵗ`.
public struct AdamStep: Sendable, Hashable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    /// `1 - β₁ᵗ`
    public var correction1: Float
    /// `1 - β₂ᵗ`
    public var correction2: Float
    /// L2 penalty added to the gradient (Adam's `weight_decay`).
    public var l2: Float
    /// Decoupled weight decay (AdamW's `weight_decay`).
    public var decoupledDecay: Float

    public init(learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, correction1: Float, correction2: Float,
                l2: Float = 0, decoupledDecay: Float = 0) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.correction1 = correction1
        self.correction2 = correction2
        self.l2 = l2
        self.decoupledDecay = decoupledDecay
    }
}

/// What a layer's matrix product does to each sum before storing it (see
/// `Backend.gemm(m:n:k:batch:_:_:_:epilogue:)`): `activation(sum + bias[column])`.
public struct GemmEpilogue: Sendable {
    /// `n` contiguous floats, one per column of C, from element `offset` of `buffer`; nil for none.
    public var bias: (buffer: any DeviceBuffer, offset: Int)?
    /// Applied after the bias; nil for none.
    public var activation: UnaryOp?

    public init(bias: (buffer: any DeviceBuffer, offset: Int)?, activation: UnaryOp?) {
        self.bias = bias
        self.activation = activation
    }
}
