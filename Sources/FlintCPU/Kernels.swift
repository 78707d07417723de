#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A float function of one value. Ops are value types rather than closures so that generic
/// drivers are specialised per op and the function inlines into the innermost loop.
protocol UnaryKernel {
    func callAsFunction(_ x: Float) -> Float
}

/// A float function of two values (see `UnaryKernel`).
protocol BinaryKernel {
    func callAsFunction(_ a: Float, _ b: Float) -> Float
}

/// The element-wise functions, with the semantics of C's float math library (exp, sigmoid and
/// tanh through `FastMath`, within a few ulp of it).
enum Kernels {
    /// `activation(op(a, b))` as one kernel: a fused bias add and activation.
    struct Then<Op: BinaryKernel, Activation: UnaryKernel>: BinaryKernel {
        let op: Op
        let activation: Activation
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { activation(op(a, b)) }
    }
    struct Identity: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { x }
    }
    struct Neg: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { -x }
    }
    struct Abs: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { x.magnitude }
    }
    struct Exp: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { FastMath.exp(x) }
    }
    struct Log: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { logf(x) }
    }
    struct Sqrt: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { x.squareRoot() }
    }
    struct Rsqrt: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { 1 / x.squareRoot() }
    }
    struct Square: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { x * x }
    }
    struct Reciprocal: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { 1 / x }
    }
    /// ±1 by sign; ±0 keep their sign and NaN stays NaN (NumPy's rule, and the OpenCL kernel's).
    struct Sign: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float {
            x > 0 ? 1 : x < 0 ? -1 : x
        }
    }
    /// NaN stays NaN (as in PyTorch and NumPy): `!(x <= 0)` is true for it.
    struct Relu: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { !(x <= 0) ? x : 0 }
    }
    struct Sigmoid: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { FastMath.sigmoid(x) }
    }
    struct Tanh: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { FastMath.tanh(x) }
    }
    struct LeakyRelu: UnaryKernel {
        let slope: Float
        @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? x : slope * x }
    }
    struct Affine: UnaryKernel {
        let scale: Float
        let shift: Float
        @inline(__always) func callAsFunction(_ x: Float) -> Float { x * scale + shift }
    }
    struct Pow: UnaryKernel {
        let exponent: Float
        @inline(__always) func callAsFunction(_ x: Float) -> Float { powf(x, exponent) }
    }
    /// `min(max(x, low), high)`, so `high` wins when `low > high` (PyTorch); NaN stays NaN,
    /// where `fminf`/`fmaxf` would return a bound.
    struct Clamp: UnaryKernel {
        let low: Float
        let high: Float
        @inline(__always) func callAsFunction(_ x: Float) -> Float {
            let raised = x < low ? low : x
            return raised > high ? high : raised
        }
    }

    struct Erf: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { erff(x) }
    }
    struct Softplus: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { fmaxf(x, 0) + log1pf(expf(-x.magnitude)) }
    }
    struct Gelu: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { 0.5 * x * (1 + erff(x * 0.70710678118654752)) }
    }
    struct Silu: UnaryKernel {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { x / (1 + FastMath.exp(-x)) }
    }

    struct Add: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b }
    }
    struct Sub: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b }
    }
    struct Mul: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b }
    }
    struct Div: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b }
    }
    struct PowBinary: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { powf(a, b) }
    }
    /// NaN in either operand gives NaN (PyTorch's `maximum`); `fmaxf` would drop it.
    struct Maximum: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a > b || a.isNaN ? a : b }
    }
    /// NaN in either operand gives NaN (PyTorch's `minimum`); `fminf` would drop it.
    struct Minimum: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a < b || a.isNaN ? a : b }
    }
    struct Equal: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a == b ? 1 : 0 }
    }
    struct NotEqual: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a != b ? 1 : 0 }
    }
    struct Less: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a < b ? 1 : 0 }
    }
    struct LessEqual: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a <= b ? 1 : 0 }
    }
    struct Greater: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a > b ? 1 : 0 }
    }
    struct ReluGradient: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * (b > 0 ? 1 : 0) }
    }
    struct GreaterEqual: BinaryKernel {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a >= b ? 1 : 0 }
    }
}
