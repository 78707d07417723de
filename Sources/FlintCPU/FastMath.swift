/// exp, sigmoid and tanh in plain float arithmetic, with no calls into the C math library, so
/// loops over them vectorise (glibc's `expf`/`tanhf` are scalar calls, and dominated the time of
/// recurrent layers). Accuracy over the whole float range, measured against Float64 on every
/// 2⁻¹⁰ step and the special values: exp ≤ 1.3 ulp, tanh ≤ 1.3 ulp, sigmoid ≤ 2.8 ulp;
/// ±inf, ±0 and NaN behave as in C (exp(+inf) = inf, exp(−inf) = 0, tanh(−0) = −0, NaN stays
/// NaN). Results below the normal range are flushed to zero like every denormal on this backend.
///
/// The polynomial coefficients are least-squares fits made for Flint (relative error, Chebyshev
/// nodes); `Tools/fast_math_fit.py` recomputes them and the error figures above.
enum FastMath {
    /// e^x = 2ⁿ · e^r with n = round(x / ln 2) and |r| ≤ ln 2 / 2; e^r by a degree-6 polynomial.
    @inline(__always)
    static func exp(_ value: Float) -> Float {
        // Past 89 every result overflows and below −104 underflows to 0; clamping keeps n in
        // range. Written as comparisons so that NaN passes through.
        var x = value > 89 ? 89 : value
        x = x < -104 ? -104 : x
        // Rounding by the 1.5·2²³ trick leaves n in the low bits of t's pattern (no
        // float-to-int conversion, which would trap on NaN).
        let t = x * 1.44269504 + 12_582_912
        let n = t - 12_582_912
        var r = x - n * 0.693145751953125
        r = r - n * 1.428606765330187e-06
        var p: Float = 0.0013751407386735082
        p = p * r + 0.008368915878236294
        p = p * r + 0.04166953265666962
        p = p * r + 0.166665181517601
        p = p * r + 0.49999988079071045
        p = 1 + r + r * r * p
        // 2ⁿ as two halves, each a normal float even for n = 128 or −150.
        let k = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
        let half = k >> 1
        let low = Float(bitPattern: UInt32(bitPattern: (half &+ 127) &<< 23))
        let high = Float(bitPattern: UInt32(bitPattern: (k &- half &+ 127) &<< 23))
        return p * low * high
    }

    /// 1 / (1 + e^−x).
    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    /// tanh: an odd polynomial below |x| = 0.625 (where 1 − 2/(e^2|x| + 1) would cancel),
    /// that formula with x's sign above.
    @inline(__always)
    static func tanh(_ x: Float) -> Float {
        let s = x * x
        var p: Float = -0.005691978149116039
        p = p * s + 0.020626286044716835
        p = p * s - 0.053735315799713135
        p = p * s + 0.13331381976604462
        p = p * s - 0.3333328068256378
        let small = x * (1 + s * p)  // keeps the sign of −0
        let large = 1 - 2 / (exp(2 * x.magnitude) + 1)
        return x.magnitude < 0.625 ? small : x < 0 ? -large : large
    }
}
