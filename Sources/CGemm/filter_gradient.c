#include "flint_gemm.h"

// A convolution's filter gradient Σ_p image[positions[p] + taps[t]] · gradient[p, f] with both
// operands read where they lie. As a product over the column matrix (flint_sgemm_gathered) its
// A is the matrix transposed, taps × positions, which the blocked product packs: nine times the
// image copied, and the gradient packed again by every band. Here a 12×32 tile of the result
// (12 taps, 32 filters) runs down the positions: at each, the 12 taps are 12 adjacent floats of
// the image (a filter position's channels, kept together by the caller's runs) broadcast one by
// one, and the 32 filters a piece of the gradient's row loaded in place. One Zen 5 core, the
// Keras convnet's second filter gradient (288 taps × 64 filters over 73,728 positions, half of
// it): 150–165 → 200–211 GFLOP/s; both cores, each over half the positions: 307–318 → 358–370.

#if defined(__x86_64__)
#include <immintrin.h>

#define FLINT_AVX512 __attribute__((target("avx512f,avx2,fma")))

// Positions per block: each tile's sums are added to the result once per block (the same
// blocks, and so the same sums in the same order, as flint_sgemm's k blocks of at most 384).
enum { TILE_ROWS = 12, TILE_COLUMNS = 32, BLOCK = 384 };

// Whether the taps t..<t + 12 lie side by side in the image.
static int adjacent(const long *taps, long t) {
    for (long r = 1; r < TILE_ROWS; r++)
        if (taps[t + r] != taps[t] + r) return 0;
    return 1;
}

// The first tap of each tile: every 12th, and the last tile moved back to end at the last tap
// (overlapping its neighbour, whose rows it leaves alone) when 12 does not divide the taps.
static long tile_start(long tile, long count) {
    long start = tile * TILE_ROWS;
    return start + TILE_ROWS > count ? count - TILE_ROWS : start;
}

int flint_filter_gradient_in_place(long tap_count, const long *taps) {
    if (tap_count < TILE_ROWS || !flint_sgemm_avx512_in_use()) return 0;
    for (long tile = 0; tile * TILE_ROWS < tap_count; tile++)
        if (!adjacent(taps, tile_start(tile, tap_count))) return 0;
    return 1;
}

// Rows first..<12 of the tile at c (ldc apart) over `depth` positions: image[at[p] + r] times
// gradient[p · ldg + j] for the `columns` (≤ 32) filters from gradient's start; stored, or added
// to what c holds (`accumulate`).
FLINT_AVX512 static void tile_12x32(long depth, const float *image, const long *at, const float *gradient, long ldg,
                                    float *c, long ldc, long first, long columns, int accumulate) {
    __mmask16 low = columns >= 16 ? 0xFFFF : (__mmask16)((1u << columns) - 1);
    __mmask16 high = columns >= 32 ? 0xFFFF : columns <= 16 ? 0 : (__mmask16)((1u << (columns - 16)) - 1);
    __m512 s00 = _mm512_setzero_ps(), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00, s31 = s00,
           s40 = s00, s41 = s00, s50 = s00, s51 = s00, s60 = s00, s61 = s00, s70 = s00, s71 = s00, s80 = s00, s81 = s00,
           s90 = s00, s91 = s00, sa0 = s00, sa1 = s00, sb0 = s00, sb1 = s00;
    // Unrolled twice: the loop's own instructions cost ~5% beside its 24 multiply-adds per position.
#pragma clang loop unroll_count(2)
    for (long p = 0; p < depth; p++) {
        const float *x = image + at[p], *g = gradient + p * ldg;
        // Masked loads read nothing past the filters, so the gradient's last row ends where it ends.
        __m512 g0 = _mm512_maskz_loadu_ps(low, g), g1 = _mm512_maskz_loadu_ps(high, g + 16), a;
#define FLINT_TAP(r, EVEN, ODD) \
        a = _mm512_set1_ps(x[r]); EVEN = _mm512_fmadd_ps(a, g0, EVEN); ODD = _mm512_fmadd_ps(a, g1, ODD);
        FLINT_TAP(0, s00, s01) FLINT_TAP(1, s10, s11) FLINT_TAP(2, s20, s21) FLINT_TAP(3, s30, s31)
        FLINT_TAP(4, s40, s41) FLINT_TAP(5, s50, s51) FLINT_TAP(6, s60, s61) FLINT_TAP(7, s70, s71)
        FLINT_TAP(8, s80, s81) FLINT_TAP(9, s90, s91) FLINT_TAP(10, sa0, sa1) FLINT_TAP(11, sb0, sb1)
#undef FLINT_TAP
    }
    __m512 sums[TILE_ROWS][2] = {{s00, s01}, {s10, s11}, {s20, s21}, {s30, s31}, {s40, s41}, {s50, s51},
                                 {s60, s61}, {s70, s71}, {s80, s81}, {s90, s91}, {sa0, sa1}, {sb0, sb1}};
    for (long r = first; r < TILE_ROWS; r++) {
        float *row = c + r * ldc;
        __m512 even = sums[r][0], odd = sums[r][1];
        if (accumulate) {
            even = _mm512_add_ps(even, _mm512_maskz_loadu_ps(low, row));
            odd = _mm512_add_ps(odd, _mm512_maskz_loadu_ps(high, row + 16));
        }
        _mm512_mask_storeu_ps(row, low, even);
        _mm512_mask_storeu_ps(row + 16, high, odd);
    }
}

void flint_filter_gradient(long tap_count, long filters, long count, const float *image, const long *positions,
                           const long *taps, const float *gradient, float *out) {
    long tiles = (tap_count + TILE_ROWS - 1) / TILE_ROWS;
    if (count <= 0) {
        for (long i = 0; i < tap_count * filters; i++) out[i] = 0;
        return;
    }
    long blocks = (count + BLOCK - 1) / BLOCK, step = (count + blocks - 1) / blocks;
    for (long p = 0; p < count; p += step) {
        long depth = count - p < step ? count - p : step;
        // Down each 32 filters' column of tiles: that piece of the block's gradient rows stays in
        // L1 while the tiles' taps, neighbours in the image, follow one another.
        for (long j = 0; j < filters; j += TILE_COLUMNS) {
            long columns = filters - j < TILE_COLUMNS ? filters - j : TILE_COLUMNS;
            for (long tile = 0; tile < tiles; tile++) {
                long t = tile_start(tile, tap_count), first = tile * TILE_ROWS - t;
                tile_12x32(depth, image + taps[t], positions + p, gradient + p * filters + j, filters,
                           out + t * filters + j, filters, first, columns, p > 0);
            }
        }
    }
}

#else

int flint_filter_gradient_in_place(long tap_count, const long *taps) {
    (void)tap_count;
    (void)taps;
    return 0;
}

void flint_filter_gradient(long tap_count, long filters, long count, const float *image, const long *positions,
                           const long *taps, const float *gradient, float *out) {
    (void)tap_count, (void)filters, (void)count, (void)image, (void)positions, (void)taps, (void)gradient, (void)out;
}

#endif
