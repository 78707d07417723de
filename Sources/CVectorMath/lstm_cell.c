#include "flint_vector_math.h"

#include <stdint.h>
#include <string.h>

// The LSTM cell's loops, apart from vector_math.c: here the compiler may fuse a multiply and an
// add into one rounding (its exponentials and polynomials are chains of them), which there would
// break the lanes-equal-scalar rule. 5.3 → 4.0 ns a unit forward, 2.6 → 2.3 back (one core,
// 16 lanes); then with cell_exp and the one-formula tanh below, 4.0 → 2.7 ns forward and
// 1.6 → 1.2 back (a Zen 3 core, 8 lanes). The cells are checked against Float64, not against
// other code's bits: σ is within 2.2 ulp and tanh within 2.5 ulp of it on every 2⁻¹² step of
// [−100, 100] and every 0.1% step of (1e−30, 1), and tanh(−0) is +0.
#pragma clang fp contract(fast)

#include "clones.h"

static inline float bits_to_float(uint32_t bits) { float f; memcpy(&f, &bits, 4); return f; }
static inline uint32_t float_to_bits(float f) { uint32_t bits; memcpy(&bits, &f, 4); return bits; }

// 2ⁿ · e^r with n = round(x / ln 2) and |r| ≤ ln 2 / 2, as FastMath.exp (same polynomial), but
// for the cell's narrower range: x is clamped to [−86, 88], where 2ⁿ is one normal float added
// to the exponent bits, instead of FastMath's two halves multiplied in. A gate saturates long
// before: σ(±86) and tanh are within 1e−37 of their limits. NaN passes the clamps and stays NaN.
// `minus_one` selects e^x − 1, summed as 2ⁿ·(e^r − 1) + (2ⁿ − 1) so that it keeps its relative
// accuracy near 0 (where tanh needs it).
static inline float cell_exp(float value, int minus_one) {
    float x = value > 88.0f ? 88.0f : value;
    x = x < -86.0f ? -86.0f : x;
    float t = x * 1.44269504f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    float p = 0.0013751407386735082f;
    p = p * r + 0.008368915878236294f;
    p = p * r + 0.04166953265666962f;
    p = p * r + 0.166665181517601f;
    p = p * r + 0.49999988079071045f;
    float below_one = r + r * r * p;  // e^r − 1
    uint32_t n_bits = (float_to_bits(t) - 0x4B400000u) << 23;
    if (!minus_one) return bits_to_float(float_to_bits(1.0f + below_one) + n_bits);
    float scale = bits_to_float(n_bits + (127u << 23));
    return scale * below_one + (scale - 1.0f);
}

static inline float fm_sigmoid(float x) { return 1.0f / (1.0f + cell_exp(-x, 0)); }

// tanh(x) = (e^2x − 1) / (e^2x + 1), from e^2x − 1 (accurate near 0, so no second formula for
// small |x|). Past |x| = 10 tanh rounds to ±1 in float; the clamp keeps e^2x finite.
static inline float fm_tanh(float x) {
    float y = x > 10.0f ? 10.0f : x;
    y = y < -10.0f ? -10.0f : y;
    float e = cell_exp(2.0f * y, 1);
    return e / (e + 2.0f);
}

// The forward cell of one row from INPUT(j), the pre-activation of unit j of gate k: x + r (the
// step's input projection and recurrent product) or z alone (both summed by one product). One
// pass, each unit's four gates in registers: gate by gate and then the states, the gates were
// written and read back (LSTM benchmark, paired medians of 8 rounds: training +3%, batch-256
// inference +16%).
#define FLINT_CELL_ROW(INPUT) \
    float *h = out, *new_cell = out + units; \
    for (long j = 0; j < units; j++) { \
        float i = fm_sigmoid(INPUT(j)), f = fm_sigmoid(INPUT(units + j)); \
        float g = fm_tanh(INPUT(2 * units + j)), o = fm_sigmoid(INPUT(3 * units + j)); \
        gates[j] = i; \
        gates[units + j] = f; \
        gates[2 * units + j] = g; \
        gates[3 * units + j] = o; \
        float updated = f * c[j] + i * g; \
        new_cell[j] = updated; \
        h[j] = o * fm_tanh(updated); \
    }

FLINT_CLONES_AVX512
void flint_lstm_cell_row(long units, const float *restrict x, const float *restrict r, const float *restrict c,
                         float *restrict gates, float *restrict out) {
#define FLINT_SUM(e) (x[e] + r[e])
    FLINT_CELL_ROW(FLINT_SUM)
#undef FLINT_SUM
}

FLINT_CLONES_AVX512
void flint_lstm_cell_row_summed(long units, const float *restrict z, const float *restrict c, float *restrict gates,
                                float *restrict out) {
#define FLINT_Z(e) (z[e])
    FLINT_CELL_ROW(FLINT_Z)
#undef FLINT_Z
}
#undef FLINT_CELL_ROW

FLINT_CLONES_AVX512
void flint_lstm_cell_backward_row(long units, const float *restrict gates, const float *restrict c,
                                  const float *restrict new_cell, const float *restrict grad_h,
                                  const float *restrict grad_c, float *restrict dz, float *restrict dc) {
    const float *i = gates, *f = gates + units, *g = gates + 2 * units, *o = gates + 3 * units;
    for (long j = 0; j < units; j++) {
        float squashed = fm_tanh(new_cell[j]);
        float total = grad_c[j] + grad_h[j] * o[j] * (1.0f - squashed * squashed);
        dz[j] = total * g[j] * (i[j] * (1.0f - i[j]));
        dz[units + j] = total * c[j] * (f[j] * (1.0f - f[j]));
        dz[2 * units + j] = total * i[j] * (1.0f - g[j] * g[j]);
        dz[3 * units + j] = grad_h[j] * squashed * (o[j] * (1.0f - o[j]));
        dc[j] = total * f[j];
    }
}
