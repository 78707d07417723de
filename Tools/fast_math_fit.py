#!/usr/bin/env python3
"""Fits the polynomials of Sources/FlintCPU/FastMath.swift and measures the resulting float32
functions against Float64 (NumPy, float32 arithmetic step by step as the Swift code does it).

    python3 Tools/fast_math_fit.py

Prints the coefficients (to paste into FastMath.swift when the ranges change) and the largest
error in ulp of exp, tanh and sigmoid over their whole range.
"""
import numpy as np

f32 = np.float32


def chebyshev_nodes(half_width, count=4000):
    return np.cos(np.pi * (np.arange(count) + 0.5) / count) * half_width


def fit(xs, target, powers, weight):
    basis = np.stack([xs ** k for k in powers], 1)
    coefficients, *_ = np.linalg.lstsq(basis * weight[:, None], target * weight, rcond=None)
    return [f32(c) for c in coefficients]


# e^r on |r| <= ln 2 / 2 as 1 + r + r^2 (c0 + c1 r + ... + c4 r^4), relative error.
r = chebyshev_nodes(np.log(2) / 2)
EXP = fit(r, (np.exp(r) - 1 - r) / r ** 2, range(5), r ** 2 / np.exp(r))
# tanh(x) on |x| < 0.625 as x + x^3 (q0 + q1 x^2 + ... + q4 x^8), relative error.
x = np.abs(chebyshev_nodes(0.625)) + 1e-6
TANH = fit(x * x, (np.tanh(x) - x) / x ** 3, range(5), x ** 3 / np.tanh(x))


def horner(coefficients, v):
    p = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        p = p * v + c
    return p


def fast_exp(v):
    v = np.minimum(np.maximum(v.astype(f32), f32(-104)), f32(89))
    t = v * f32(1.44269504) + f32(12582912)
    n = t - f32(12582912)
    r = (v - n * f32(0.693145751953125)) - n * f32(1.428606765330187e-06)
    p = f32(1) + r + r * r * horner(EXP, r)
    k = t.view(np.int32).astype(np.int64) - 0x4B400000
    half = k >> 1
    low = ((half + 127).astype(np.uint32) << 23).view(f32)
    high = ((k - half + 127).astype(np.uint32) << 23).view(f32)
    return p * low * high


def fast_tanh(v):
    v = v.astype(f32)
    small = v * (f32(1) + (v * v) * horner(TANH, v * v))
    large = f32(1) - f32(2) / (fast_exp(f32(2) * np.abs(v)) + f32(1))
    return np.where(np.abs(v) < f32(0.625), small, np.where(v < 0, -large, large))


def fast_sigmoid(v):
    return f32(1) / (f32(1) + fast_exp(-v.astype(f32)))


def worst_ulp(function, reference, xs, floor=1.2e-38):
    with np.errstate(all="ignore"):
        expected = reference(xs.astype(np.float64))
        got = function(xs).astype(np.float64)
        normal = (np.abs(expected) >= floor) & (np.abs(expected) < 3.4e38)
        ulp = np.spacing(np.abs(expected[normal]).astype(f32)).astype(np.float64)
        return np.max(np.abs(got[normal] - expected[normal]) / ulp)


def main():
    print("exp  coefficients:", [repr(float(c)) for c in EXP])
    print("tanh coefficients:", [repr(float(c)) for c in TANH])
    step = 2.0 ** -10
    wide = np.arange(-110, 95, step).astype(f32)
    tiny = np.concatenate([np.logspace(-30, 0, 100000), -np.logspace(-30, 0, 1000)]).astype(f32)
    print("exp     max error %.2f ulp" % worst_ulp(fast_exp, np.exp, wide))
    print("tanh    max error %.2f ulp" % worst_ulp(fast_tanh, np.tanh, np.concatenate([wide, tiny])))
    print("sigmoid max error %.2f ulp" % worst_ulp(fast_sigmoid, lambda v: 1 / (1 + np.exp(-v)), wide))
    with np.errstate(all="ignore"):
        specials = np.array([np.inf, -np.inf, np.nan, 89, -104, -0.0], dtype=f32)
        print("exp  of inf, -inf, nan, 89, -104, -0:", fast_exp(specials))
        print("tanh of inf, -inf, nan, 89, -104, -0:", fast_tanh(specials))


if __name__ == "__main__":
    main()
