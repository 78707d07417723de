#include "flint_vector_math.h"

#include <stdint.h>
#include <string.h>

#pragma clang fp contract(off)

#include "clones.h"

typedef float adam_lanes __attribute__((vector_size(32)));

#define ADAM_LOAD(target, p) memcpy(&(target), (p), sizeof(adam_lanes))
#define ADAM_STORE(p, v) memcpy((p), &(v), sizeof(adam_lanes))
#define ADAM_STREAM(p, v) __builtin_nontemporal_store((v), (adam_lanes *)(p))
// Elements per call from which Adam's stores bypass the caches (1 MiB of parameters).
enum { ADAM_STREAMING_COUNT = 1 << 18 };

// Eight lanes at a time (AVX2 clone; two SSE halves on the baseline): Adam's square root and
// division per element make it compute-bound where the parameters fit in cache. The lanes and
// the scalar tail do the same operations in the same order (no contraction, see the top of
// this file), so every element has the bits of the scalar loop.
FLINT_CLONES
void flint_adam(long count, const float *w, const float *g, const float *m, const float *v,
                float *w1, float *m1, float *v1, float beta1, float beta2, float epsilon, float l2,
                float step_size, float inverse_root, float keep) {
    const float keep1 = 1.0f - beta1, keep2 = 1.0f - beta2;
#define ADAM_ONE(i)                                                                              \
    do {                                                                                         \
        float grad = g[i] + l2 * w[i];                                                           \
        float m_new = beta1 * m[i] + keep1 * grad;                                               \
        float v_new = beta2 * v[i] + keep2 * grad * grad;                                        \
        float w_new = w[i] * keep - step_size * m_new / (__builtin_sqrtf(v_new) * inverse_root + epsilon); \
        m1[i] = m_new;                                                                           \
        v1[i] = v_new;                                                                           \
        w1[i] = w_new;                                                                           \
    } while (0)
#define ADAM_LANES(i, STORE)                                                                     \
    do {                                                                                         \
        adam_lanes wi, gi, mi, vi;                                                               \
        ADAM_LOAD(wi, w + i);                                                                    \
        ADAM_LOAD(gi, g + i);                                                                    \
        ADAM_LOAD(mi, m + i);                                                                    \
        ADAM_LOAD(vi, v + i);                                                                    \
        adam_lanes grad = gi + l2 * wi;                                                          \
        adam_lanes m_new = beta1 * mi + keep1 * grad;                                            \
        adam_lanes v_new = beta2 * vi + keep2 * grad * grad;                                     \
        adam_lanes root = __builtin_elementwise_sqrt(v_new);                                     \
        adam_lanes w_new = wi * keep - step_size * m_new / (root * inverse_root + epsilon);      \
        STORE(m1 + i, m_new);                                                                    \
        STORE(v1 + i, v_new);                                                                    \
        STORE(w1 + i, w_new);                                                                    \
    } while (0)
    long i = 0;
#if defined(__x86_64__)
    // Past the caches Adam is bound by memory traffic, and a plain store first reads the line it
    // writes. Streaming stores skip that read (three of ten passes over memory), and the arrays'
    // next readers (the next forward pass, the next Adam step) would find them evicted anyway.
    // The outputs must share their alignment within 32 bytes: a few scalar steps align them all.
    uintptr_t offset = (uintptr_t)w1 & 31;
    if (count >= ADAM_STREAMING_COUNT && ((uintptr_t)m1 & 31) == offset && ((uintptr_t)v1 & 31) == offset
        && offset % sizeof(float) == 0) {
        for (; ((uintptr_t)(w1 + i) & 31) != 0; i++) ADAM_ONE(i);
        for (; i + 8 <= count; i += 8) ADAM_LANES(i, ADAM_STREAM);
        __builtin_ia32_sfence();
    }
#endif
    for (; i + 8 <= count; i += 8) ADAM_LANES(i, ADAM_STORE);
    for (; i < count; i++) ADAM_ONE(i);
#undef ADAM_ONE
#undef ADAM_LANES
}

typedef double four_doubles __attribute__((vector_size(32)));
typedef float four_floats __attribute__((vector_size(16)));
typedef int four_ints __attribute__((vector_size(16)));

// Row by row (one pass over memory), four columns at a time (AVX2 clone: one conversion and one
// add of four doubles each; the baseline's Swift loop did two). Each column adds its rows in order.
FLINT_CLONES
void flint_add_rows_double(const float *rows, long count, long row_stride, long width, double *acc) {
    for (long r = 0; r < count; r++) {
        const float *row = rows + r * row_stride;
        long i = 0;
        for (; i + 4 <= width; i += 4) {
            four_doubles sum;
            four_floats x;
            memcpy(&sum, acc + i, sizeof sum);
            memcpy(&x, row + i, sizeof x);
            sum += __builtin_convertvector(x, four_doubles);
            memcpy(acc + i, &sum, sizeof sum);
        }
        for (; i < width; i++) acc[i] += (double)row[i];
    }
}

// add_rows_double's loop with ReLU's adjoint computed on the way: the sums come from values
// still in registers instead of a second pass over memory. The product by 1 or 0 (not a mask)
// keeps binary(.reluGradient)'s bits: NaN and infinite gradients, and −0.
FLINT_CLONES
void flint_relu_gradient_rows(const float *gradient, const float *output, long count, long width, float *out,
                              double *acc) {
    for (long r = 0; r < count; r++) {
        const float *g = gradient + r * width, *y = output + r * width;
        float *o = out + r * width;
        long i = 0;
        for (; i + 4 <= width; i += 4) {
            four_doubles sum;
            four_floats gi, yi;
            memcpy(&sum, acc + i, sizeof sum);
            memcpy(&gi, g + i, sizeof gi);
            memcpy(&yi, y + i, sizeof yi);
            const four_floats ones = {1, 1, 1, 1};
            // Lanes where y > 0 keep 1.0's bits, the rest become 0.0: the scalar loop's factor.
            four_floats factor = (four_floats)((yi > 0) & (four_ints)ones);
            four_floats value = gi * factor;
            memcpy(o + i, &value, sizeof value);
            sum += __builtin_convertvector(value, four_doubles);
            memcpy(acc + i, &sum, sizeof sum);
        }
        for (; i < width; i++) {
            float value = g[i] * (y[i] > 0 ? 1.0f : 0.0f);
            o[i] = value;
            acc[i] += (double)value;
        }
    }
}

FLINT_CLONES
void flint_accumulate(float *restrict q, const float *restrict p, long count) {
    for (long i = 0; i < count; i++) q[i] += p[i];
}

// Philox4x32-10 block `index` under the key (key0, key1), its four words as floats in [0, 1):
// u = (word >> 8) · 2⁻²⁴. Integer arithmetic and one exact conversion, so the bits are
// Philox.block's and Philox.unitFloat's.
static inline __attribute__((always_inline)) void philox_units(uint64_t index, uint32_t key0, uint32_t key1, float u[4]) {
    uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = key0, k1 = key1;
    for (int round = 0; round < 10; round++) {
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    }
    u[0] = (float)(c0 >> 8) * 0x1p-24f;
    u[1] = (float)(c1 >> 8) * 0x1p-24f;
    u[2] = (float)(c2 >> 8) * 0x1p-24f;
    u[3] = (float)(c3 >> 8) * 0x1p-24f;
}

// Blocks side by side (the loop over blocks vectorises; 32×32→64-bit products become vpmuludq).
FLINT_CLONES_AVX512
void flint_philox_uniform(float *out, long first, long blocks, unsigned long long seed,
                          unsigned long long counter_offset, float low, float scale) {
    for (long b = 0; b < blocks; b++) {
        float u[4];
        philox_units(counter_offset + (uint64_t)(first + b), (uint32_t)seed, (uint32_t)(seed >> 32), u);
        for (int i = 0; i < 4; i++) out[4 * b + i] = low + scale * u[i];
    }
}

// Inverted dropout from the same blocks: each x times scale where its uniform is at least rate,
// else times 0, the draws never stored.
FLINT_CLONES_AVX512
void flint_philox_dropout(const float *x, float *out, long first, long blocks, unsigned long long seed,
                          unsigned long long counter_offset, float rate, float scale) {
    for (long b = 0; b < blocks; b++) {
        float u[4];
        philox_units(counter_offset + (uint64_t)(first + b), (uint32_t)seed, (uint32_t)(seed >> 32), u);
        for (int i = 0; i < 4; i++) out[4 * b + i] = x[4 * b + i] * (u[i] >= rate ? scale : 0.0f);
    }
}

typedef int32_t eight_ints __attribute__((vector_size(32)));
typedef float eight_floats __attribute__((vector_size(32)));

// Max pooling's window, eight channels per AVX2 lane set and branch-free (real data's winners
// are random: a branchy loop mispredicted them). The running best and its taps stay in registers
// across the window's rows: stepping row by row through memory (after filling the outputs with
// -∞ and -1 and copying the first row) made three passes over them per 2×2 window.
static inline __attribute__((always_inline))
void max_window(long channels, const float *const *candidates, const int32_t *taps, long windows, float *best,
                int32_t *best_taps) {
    long k = 0;
    for (; k + 8 <= channels; k += 8) {
        eight_floats b;
        memcpy(&b, candidates[0] + k, sizeof b);
        eight_ints t = {taps[0], taps[0], taps[0], taps[0], taps[0], taps[0], taps[0], taps[0]}, b_bits;
        memcpy(&b_bits, &b, sizeof b_bits);
        for (long i = 1; i < windows; i++) {
            eight_floats v;
            eight_ints v_bits;
            memcpy(&v, candidates[i] + k, sizeof v);
            memcpy(&b, &b_bits, sizeof b);
            eight_ints take = ~(v <= b) & (b == b);
            memcpy(&v_bits, &v, sizeof v_bits);
            const eight_ints tap = {taps[i], taps[i], taps[i], taps[i], taps[i], taps[i], taps[i], taps[i]};
            b_bits = (take & v_bits) | (~take & b_bits);
            t = (take & tap) | (~take & t);
        }
        memcpy(best + k, &b_bits, sizeof b_bits);
        memcpy(best_taps + k, &t, sizeof t);
    }
    for (; k < channels; k++) {
        float b = candidates[0][k];
        int32_t t = taps[0];
        for (long i = 1; i < windows; i++) {
            float v = candidates[i][k];
            if (!(v <= b) && b == b) {
                b = v;
                t = taps[i];
            }
        }
        best[k] = b;
        best_taps[k] = t;
    }
}

FLINT_CLONES
void flint_max_window(long channels, const float *const *candidates, const int32_t *taps, long windows, float *best,
                      int32_t *best_taps) {
    max_window(channels, candidates, taps, windows, best, best_taps);
}

// A row of `outputs` windows, each `step` floats past the one before (no padding in the way):
// one call per row instead of one per window, whose setup cost more than the window itself
// (max pooling was 12% of the seed CNN's training step).
FLINT_CLONES
void flint_max_window_row(long channels, long outputs, long step, const float *const *candidates, const int32_t *taps,
                          long windows, float *best, int32_t *best_taps) {
    const float *shifted[FLINT_MAX_WINDOW_ROW_TAPS];
    if (windows > FLINT_MAX_WINDOW_ROW_TAPS) return;
    for (long o = 0; o < outputs; o++) {
        for (long i = 0; i < windows; i++) shifted[i] = candidates[i] + o * step;
        max_window(channels, shifted, taps, windows, best + o * channels, best_taps + o * channels);
    }
}

