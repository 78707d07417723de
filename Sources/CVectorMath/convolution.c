#include "flint_vector_math.h"

#include <string.h>

// Compiled for AVX2 (eight-lane vectors, fused multiply-adds) and the baseline, picked at load
// time (clones.h); the Swift loop this replaces runs on the baseline's four lanes.
#include "clones.h"

typedef float eight __attribute__((vector_size(32)));

// Macros, not functions: an eight-float vector crossing a baseline (non-AVX) call changes the ABI.
#define LOAD8(target, p) memcpy(&(target), (p), sizeof(eight))
#define STORE8(p, v) memcpy((p), &(v), sizeof(eight))

static inline __attribute__((always_inline))
void eight_filters(long kernel_rows, long kernel_columns, long channels,
                   const float *pixels, long pixel_row_step, long pixel_column_step, long position_step,
                   const float *weights, long weight_row_step, long filters, long positions, float *out) {
    eight s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (long kh = 0; kh < kernel_rows; kh++) {
        const float *pixel_row = pixels + kh * pixel_row_step, *weight_row = weights + kh * weight_row_step;
        for (long kw = 0; kw < kernel_columns; kw++) {
            const float *p = pixel_row + kw * pixel_column_step, *w = weight_row + kw * channels * filters;
            if (positions == 4) {
                for (long c = 0; c < channels; c++) {
                    eight weight;
                    LOAD8(weight, w + c * filters);
                    s0 += p[c] * weight;
                    s1 += p[c + position_step] * weight;
                    s2 += p[c + 2 * position_step] * weight;
                    s3 += p[c + 3 * position_step] * weight;
                }
            } else {
                for (long c = 0; c < channels; c++) {
                    eight weight;
                    LOAD8(weight, w + c * filters);
                    s0 += p[c] * weight;
                }
            }
        }
    }
    STORE8(out, s0);
    if (positions == 4) {
        STORE8(out + filters, s1);
        STORE8(out + 2 * filters, s2);
        STORE8(out + 3 * filters, s3);
    }
}

// The kernel columns kw whose input column ow·stride − pad + kw·dilation lies in 0..<width, as
// [*low, *high) (see CPUBackend.validTaps).
static inline void valid_taps(long ow, long stride, long pad, long dilation, long kernel, long width, long *low, long *high) {
    long x0 = ow * stride - pad;
    long first = x0 >= 0 ? 0 : (-x0 + dilation - 1) / dilation;
    long end = x0 >= width ? 0 : (width - 1 - x0) / dilation + 1;
    if (end > kernel) end = kernel;
    *low = first;
    *high = first < end ? end : first;
}

#if defined(__x86_64__)
#include <immintrin.h>

// One channel and a whole 3×3 window, eight positions (the first `count` stored; the others
// repeat the last) by 16·vectors filters in sixteen-lane registers: per tap, `vectors` weight
// loads and eight broadcasts feed 8·vectors multiply-adds, where eight_filters does one load
// and four broadcasts for four. The same sums in the same order (taps row by row, each a fused
// multiply-add) as eight_filters' AVX2 clone.
__attribute__((target("avx512f,avx2,fma"))) static inline __attribute__((always_inline))
void eight_positions_3x3(const float *pixels, long row_step, long column_step, long position_step, const float *weights,
                         long weight_row_step, long filters, int vectors, long count, const float *bias, int activation,
                         float slope, float *out) {
    __m512 sums[8][2];
    for (int j = 0; j < 8; j++) sums[j][0] = sums[j][1] = _mm512_setzero_ps();
    for (long kh = 0; kh < 3; kh++)
        for (long kw = 0; kw < 3; kw++) {
            const float *p = pixels + kh * row_step + kw * column_step, *w = weights + kh * weight_row_step + kw * filters;
            __m512 w0 = _mm512_loadu_ps(w), w1 = vectors == 2 ? _mm512_loadu_ps(w + 16) : w0;
            for (int j = 0; j < 8; j++) {
                __m512 x = _mm512_set1_ps(p[(j < count ? j : count - 1) * position_step]);
                sums[j][0] = _mm512_fmadd_ps(x, w0, sums[j][0]);
                if (vectors == 2) sums[j][1] = _mm512_fmadd_ps(x, w1, sums[j][1]);
            }
        }
    const __m512 zero = _mm512_setzero_ps(), factor = _mm512_set1_ps(slope);
    for (int j = 0; j < 8 && j < count; j++)
        for (int q = 0; q < vectors; q++) {
            __m512 value = sums[j][q];
            if (bias) value = _mm512_add_ps(value, _mm512_loadu_ps(bias + 16 * q));
            if (activation == 1) value = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(value, zero, _CMP_NLE_UQ), value);
            else if (activation == 2)
                value = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(value, zero, _CMP_GT_OQ), _mm512_mul_ps(value, factor), value);
            _mm512_storeu_ps(out + j * filters + 16 * q, value);
        }
}

// flint_conv_row's positions ow..<end (each window whole, one channel, 3×3), eight at a time.
__attribute__((target("avx512f,avx2,fma")))
static void one_channel_3x3_avx512(const float *pixels, long row_step, long column_step, long position_step,
                                   const float *weights, long weight_row_step, long filters, long ow, long end,
                                   const float *bias, int activation, float slope, float *out) {
    for (; ow < end; ow += 8, pixels += 8 * position_step) {
        long count = end - ow < 8 ? end - ow : 8, f = 0;
        for (; f + 32 <= filters; f += 32)
            eight_positions_3x3(pixels, row_step, column_step, position_step, weights + f, weight_row_step, filters, 2, count,
                                bias ? bias + f : NULL, activation, slope, out + ow * filters + f);
        for (; f < filters; f += 16)
            eight_positions_3x3(pixels, row_step, column_step, position_step, weights + f, weight_row_step, filters, 1, count,
                                bias ? bias + f : NULL, activation, slope, out + ow * filters + f);
    }
}
#endif

// flint_conv_row's positions ow..<end: four at a time where their windows are whole, else one.
static inline __attribute__((always_inline))
void conv_positions(const float *image, long width, long channels, long kernel_width, long stride_w, long pad_left,
                    long dilation_h, long dilation_w, long kh_begin, long kh_end, long ih_begin, long ow, long end,
                    const float *weights, long filters, float *out) {
    long row_step = dilation_h * width * channels, position_step = stride_w * channels;
    long weight_row_step = kernel_width * channels * filters;
    while (ow < end) {
        long low, high, low3, high3;
        valid_taps(ow, stride_w, pad_left, dilation_w, kernel_width, width, &low, &high);
        long positions = 1;
        if (ow + 4 <= end && low == 0 && high == kernel_width) {
            valid_taps(ow + 3, stride_w, pad_left, dilation_w, kernel_width, width, &low3, &high3);
            if (low3 == 0 && high3 == kernel_width) positions = 4;
        }
        long iw = ow * stride_w - pad_left + low * dilation_w;
        const float *pixels = image + (ih_begin * width + iw) * channels;
        const float *tap = weights + (kh_begin * kernel_width + low) * channels * filters;
        long rows = kh_end - kh_begin, columns = high - low;
        // Constant loop counts for the commonest case (one channel, all of a 3×3 kernel), so
        // the compiler unrolls the taps: a loop of one channel per tap cost more than its work.
        if (channels == 1 && rows == 3 && columns == 3 && positions == 4) {
            for (long f = 0; f < filters; f += 8)
                eight_filters(3, 3, 1, pixels, row_step, dilation_w, position_step, tap + f, weight_row_step, filters, 4,
                              out + ow * filters + f);
        } else {
            for (long f = 0; f < filters; f += 8)
                eight_filters(rows, columns, channels, pixels, row_step, dilation_w * channels, position_step,
                              tap + f, weight_row_step, filters, positions, out + ow * filters + f);
        }
        ow += positions;
    }
}

FLINT_CLONES
void flint_conv_row(const float *image, long width, long channels, long kernel_width,
                    long stride_w, long pad_left, long dilation_h, long dilation_w,
                    long kh_begin, long kh_end, long ih_begin, long out_width,
                    const float *weights, long filters, const float *bias, int activation, float slope, float *out,
                    long *finished_begin, long *finished_end) {
    *finished_begin = *finished_end = 0;
#if defined(__x86_64__)
    // One channel and whole 3×3 windows (all rows here, and the columns of [first, end)): those
    // positions eight at a time in AVX-512, the epilogue applied in the registers; the others
    // (in padding) as below.
    if (channels == 1 && kernel_width == 3 && kh_end - kh_begin == 3 && filters % 16 == 0 && __builtin_cpu_supports("avx512f")) {
        long first = 0, end = out_width, low, high;
        for (; first < out_width; first++) {
            valid_taps(first, stride_w, pad_left, dilation_w, 3, width, &low, &high);
            if (low == 0 && high == 3) break;
        }
        for (; end > first; end--) {
            valid_taps(end - 1, stride_w, pad_left, dilation_w, 3, width, &low, &high);
            if (low == 0 && high == 3) break;
        }
        conv_positions(image, width, channels, kernel_width, stride_w, pad_left, dilation_h, dilation_w, kh_begin, kh_end,
                       ih_begin, 0, first, weights, filters, out);
        const float *pixels = image + (ih_begin * width + first * stride_w - pad_left);
        const float *tap = weights + kh_begin * 3 * filters;
        one_channel_3x3_avx512(pixels, dilation_h * width, dilation_w, stride_w, tap, 3 * filters, filters, first, end,
                               bias, activation, slope, out);
        conv_positions(image, width, channels, kernel_width, stride_w, pad_left, dilation_h, dilation_w, kh_begin, kh_end,
                       ih_begin, end, out_width, weights, filters, out);
        *finished_begin = first;
        *finished_end = end;
        return;
    }
#endif
    (void)bias, (void)activation, (void)slope;
    conv_positions(image, width, channels, kernel_width, stride_w, pad_left, dilation_h, dilation_w, kh_begin, kh_end,
                   ih_begin, 0, out_width, weights, filters, out);
}

// The outputs o < outputs whose input o·stride − pad + tap·dilation lies in 0..<size, as
// [*first, *end) (see CPUBackend.outputsInside).
static inline void outputs_inside(long tap, long outputs, long stride, long pad, long dilation, long size,
                                  long *first, long *end) {
    long base = tap * dilation - pad;
    *first = base >= 0 ? 0 : (-base + stride - 1) / stride;
    *end = size - 1 - base < 0 ? 0 : (size - 1 - base) / stride + 1;
    if (*end > outputs) *end = outputs;
    if (*end < *first) *end = *first;
}

FLINT_CLONES
void flint_conv_filter_gradient_row(const float *image, long width, long channels, long kernel_width,
                                    long stride_w, long pad_left, long dilation_h, long dilation_w,
                                    long kh_begin, long kh_end, long ih_begin, long out_width,
                                    const float *gradient, long filters, float *sums) {
    long step = stride_w * channels;
    for (long kh = kh_begin; kh < kh_end; kh++) {
        const float *image_row = image + (ih_begin + (kh - kh_begin) * dilation_h) * width * channels;
        for (long kw = 0; kw < kernel_width; kw++) {
            long first, end;
            outputs_inside(kw, out_width, stride_w, pad_left, dilation_w, width, &first, &end);
            if (first == end) continue;
            for (long c = 0; c < channels; c++) {
                const float *pixels = image_row + (kw * dilation_w - pad_left) * channels + c;
                float *target = sums + ((kh * kernel_width + kw) * channels + c) * filters;
                for (long f = 0; f < filters; f += 8) {
                    // Two sums, so that consecutive positions do not wait on each other's add.
                    eight even = {0}, odd = {0}, g;
                    long ow = first;
                    for (; ow + 2 <= end; ow += 2) {
                        LOAD8(g, gradient + ow * filters + f);
                        even += pixels[ow * step] * g;
                        LOAD8(g, gradient + (ow + 1) * filters + f);
                        odd += pixels[(ow + 1) * step] * g;
                    }
                    if (ow < end) {
                        LOAD8(g, gradient + ow * filters + f);
                        even += pixels[ow * step] * g;
                    }
                    even += odd;
                    STORE8(target + f, even);
                }
            }
        }
    }
}
