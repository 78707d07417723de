#include "flint_vector_math.h"

#include <stdint.h>
#include <string.h>

// The LSTM cell's loops, apart from vector_math.c: here the compiler may fuse a multiply and an
// add into one rounding (its exponentials and polynomials are chains of them), which there would
// break the lanes-equal-scalar rule. 5.3 → 4.0 ns a unit forward, 2.6 → 2.3 back (one core,
// 16 lanes). The cells are checked against Float64, not against other code's bits.
#pragma clang fp contract(fast)

#include "clones.h"

static inline float bits_to_float(uint32_t bits) { float f; memcpy(&f, &bits, 4); return f; }
static inline uint32_t float_to_bits(float f) { uint32_t bits; memcpy(&bits, &f, 4); return bits; }

// FastMath.exp's method (see FastMath.swift for it and its accuracy), here with fused multiply-adds.
static inline float fm_exp(float value) {
    float x = value > 89.0f ? 89.0f : value;
    x = x < -104.0f ? -104.0f : x;
    float t = x * 1.44269504f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    float p = 0.0013751407386735082f;
    p = p * r + 0.008368915878236294f;
    p = p * r + 0.04166953265666962f;
    p = p * r + 0.166665181517601f;
    p = p * r + 0.49999988079071045f;
    p = 1.0f + r + r * r * p;
    int32_t k = (int32_t)(float_to_bits(t) - 0x4B400000u);
    int32_t half = k >> 1;
    float low = bits_to_float((uint32_t)(half + 127) << 23);
    float high = bits_to_float((uint32_t)(k - half + 127) << 23);
    return p * low * high;
}

static inline float fm_sigmoid(float x) { return 1.0f / (1.0f + fm_exp(-x)); }

static inline float fm_tanh(float x) {
    float s = x * x;
    float p = -0.005691978149116039f;
    p = p * s + 0.020626286044716835f;
    p = p * s - 0.053735315799713135f;
    p = p * s + 0.13331381976604462f;
    p = p * s - 0.3333328068256378f;
    float small = x * (1.0f + s * p);
    float magnitude = x < 0 ? -x : x;
    float large = 1.0f - 2.0f / (fm_exp(2.0f * magnitude) + 1.0f);
    return magnitude < 0.625f ? small : (x < 0 ? -large : large);
}

FLINT_CLONES_AVX512
void flint_lstm_cell_row(long units, const float *restrict x, const float *restrict r, const float *restrict c,
                         float *restrict gates, float *restrict out) {
    for (long k = 0; k < 4; k++) {
        const float *xk = x + k * units, *rk = r + k * units;
        float *gk = gates + k * units;
        if (k == 2) {
            for (long j = 0; j < units; j++) gk[j] = fm_tanh(xk[j] + rk[j]);
        } else {
            for (long j = 0; j < units; j++) gk[j] = fm_sigmoid(xk[j] + rk[j]);
        }
    }
    const float *i = gates, *f = gates + units, *g = gates + 2 * units, *o = gates + 3 * units;
    float *h = out, *new_cell = out + units;
    for (long j = 0; j < units; j++) new_cell[j] = f[j] * c[j] + i[j] * g[j];
    for (long j = 0; j < units; j++) h[j] = o[j] * fm_tanh(new_cell[j]);
}

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
