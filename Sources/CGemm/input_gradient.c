#include "flint_gemm.h"

#include <stdlib.h>
#include <string.h>

// A convolution's input gradient with col2im folded into the product's stores. The plain way
// writes the column gradient dY · Wᵀ (nine times the image for a 3×3 kernel) and col2im reads
// it back to add each entry where im2col took it from. Here a 12×32 tile of that product (12
// output positions, 32 adjacent taps) is added straight into the image's gradient while it is
// in registers: the taps of a tile are adjacent floats of the image, so each position's row of
// the tile is one piece of the image gradient, loaded, added to and stored back.

#if defined(__x86_64__)
#include <immintrin.h>

#define FLINT_AVX512 __attribute__((target("avx512f,avx2,fma")))

enum { TILE_ROWS = 12, TILE_COLUMNS = 32, TILES_PER_BLOCK = 8 };

// The column groups: runs of adjacent taps cut into pieces of at most 32; group i starts at
// tap first[i] and is width[i] wide. Returns their number (at most tap_count).
static long column_groups(long tap_count, const long *taps, long *first, long *width) {
    long count = 0;
    for (long t = 0; t < tap_count;) {
        long end = t + 1;
        while (end < tap_count && end - t < TILE_COLUMNS && taps[end] == taps[end - 1] + 1) end++;
        if (first) first[count] = t, width[count] = end - t;
        count++;
        t = end;
    }
    return count;
}

long flint_input_gradient_packed_size(long tap_count, long filters, const long *taps) {
    return column_groups(tap_count, taps, NULL, NULL) * filters * TILE_COLUMNS;
}

void flint_input_gradient_pack(long tap_count, long filters, const long *taps, const float *filter, float *out) {
    long count = column_groups(tap_count, taps, NULL, NULL);
    long *first = malloc((size_t)(2 * count + 1) * sizeof(long));
    if (!first) abort();
    long *width = first + count;
    column_groups(tap_count, taps, first, width);
    // Group i: for each filter f, the group's taps' weights side by side, zeros past its width.
    for (long i = 0; i < count; i++, out += filters * TILE_COLUMNS)
        for (long f = 0; f < filters; f++)
            for (long j = 0; j < TILE_COLUMNS; j++)
                out[f * TILE_COLUMNS + j] = j < width[i] ? filter[(first[i] + j) * filters + f] : 0;
    free(first);
}

// One tile: the gradient's rows a, a + lda, …, a + 11·lda (12 positions; those past `rows`
// repeat a row and are not stored) times the packed group `b` over `depth` filters, added into
// target[at[r] + j], j < columns. The rows are read in place, four from each of three pointers
// at 0, 1, 2 and 3 strides (one addressing mode each): packing them, a transposition element
// by element, took 4–5% of the Keras convnet's training.
FLINT_AVX512 static void tile_12x32(long depth, const float *a, long lda, const float *b, float *target, const long *at,
                                    long rows, long columns) {
    __m512 s00 = _mm512_setzero_ps(), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00, s31 = s00,
           s40 = s00, s41 = s00, s50 = s00, s51 = s00, s60 = s00, s61 = s00, s70 = s00, s71 = s00, s80 = s00, s81 = s00,
           s90 = s00, s91 = s00, sa0 = s00, sa1 = s00, sb0 = s00, sb1 = s00;
    const float *x0 = a, *x4 = a + 4 * lda, *x8 = a + 8 * lda;
    const long l3 = 3 * lda;
    // Not unrolled: unrolled, clang hoisted both depths' broadcasts and spilled the sums.
#pragma clang loop unroll(disable)
    for (long f = 0; f < depth; f++) {
        __m512 b0 = _mm512_loadu_ps(b + f * TILE_COLUMNS), b1 = _mm512_loadu_ps(b + f * TILE_COLUMNS + 16), v;
#define FLINT_ROW(x, offset, EVEN, ODD) \
        v = _mm512_set1_ps(x[offset]); EVEN = _mm512_fmadd_ps(v, b0, EVEN); ODD = _mm512_fmadd_ps(v, b1, ODD);
        FLINT_ROW(x0, 0, s00, s01) FLINT_ROW(x0, lda, s10, s11) FLINT_ROW(x0, 2 * lda, s20, s21) FLINT_ROW(x0, l3, s30, s31)
        FLINT_ROW(x4, 0, s40, s41) FLINT_ROW(x4, lda, s50, s51) FLINT_ROW(x4, 2 * lda, s60, s61) FLINT_ROW(x4, l3, s70, s71)
        FLINT_ROW(x8, 0, s80, s81) FLINT_ROW(x8, lda, s90, s91) FLINT_ROW(x8, 2 * lda, sa0, sa1) FLINT_ROW(x8, l3, sb0, sb1)
#undef FLINT_ROW
        x0++, x4++, x8++;
    }
    __m512 sums[TILE_ROWS][2] = {{s00, s01}, {s10, s11}, {s20, s21}, {s30, s31}, {s40, s41}, {s50, s51},
                                 {s60, s61}, {s70, s71}, {s80, s81}, {s90, s91}, {sa0, sa1}, {sb0, sb1}};
    // In row order: two rows of one tile may reach the same element (overlapping windows).
    // Plain loads and stores for a group's full width (masked ones cost Zen 5 more).
    if (columns == TILE_COLUMNS) {
        for (long r = 0; r < rows; r++) {
            float *piece = target + at[r];
            _mm512_storeu_ps(piece, _mm512_add_ps(_mm512_loadu_ps(piece), sums[r][0]));
            _mm512_storeu_ps(piece + 16, _mm512_add_ps(_mm512_loadu_ps(piece + 16), sums[r][1]));
        }
        return;
    }
    __mmask16 low = columns >= 16 ? 0xFFFF : (__mmask16)((1u << columns) - 1);
    __mmask16 high = columns >= 32 ? 0xFFFF : columns <= 16 ? 0 : (__mmask16)((1u << (columns - 16)) - 1);
    for (long r = 0; r < rows; r++) {
        float *piece = target + at[r];
        _mm512_mask_storeu_ps(piece, low, _mm512_add_ps(_mm512_maskz_loadu_ps(low, piece), sums[r][0]));
        _mm512_mask_storeu_ps(piece + 16, high, _mm512_add_ps(_mm512_maskz_loadu_ps(high, piece + 16), sums[r][1]));
    }
}

void flint_input_gradient(long images, long count, long filters, long tap_count, const float *gradient,
                          const long *positions, const long *taps, const float *packed, float *image, long image_stride) {
    if (images <= 0 || count <= 0 || filters <= 0) return;
    long groups = column_groups(tap_count, taps, NULL, NULL);
    long *first = malloc((size_t)(2 * groups + 1) * sizeof(long));
    // The last tile's rows when fewer than 12 are left, the last one repeated.
    float *last = malloc((size_t)TILE_ROWS * filters * sizeof(float));
    if (!first || !last) abort();
    long *width = first + groups;
    column_groups(tap_count, taps, first, width);
    long whole = count / TILE_ROWS * TILE_ROWS;
    for (long n = 0; n < images; n++, gradient += count * filters, image += image_stride) {
        for (long r = 0; r < TILE_ROWS && whole < count; r++)
            memcpy(last + r * filters, gradient + (whole + r < count ? whole + r : count - 1) * filters,
                   (size_t)filters * sizeof(float));
        // Blocks of 96 positions: each group's packed weights (filters × 32) stay in L1 while the
        // block's tiles run against them, and the block's gradient rows while the groups go by.
        for (long p = 0; p < count; p += TILES_PER_BLOCK * TILE_ROWS) {
            long block = count - p < TILES_PER_BLOCK * TILE_ROWS ? count - p : TILES_PER_BLOCK * TILE_ROWS;
            for (long g = 0; g < groups; g++)
                for (long i = p; i < p + block; i += TILE_ROWS)
                    tile_12x32(filters, i < whole ? gradient + i * filters : last, filters, packed + g * filters * TILE_COLUMNS,
                               image + taps[first[g]], positions + i, count - i < TILE_ROWS ? count - i : TILE_ROWS, width[g]);
        }
    }
    free(last);
    free(first);
}

#else

long flint_input_gradient_packed_size(long tap_count, long filters, const long *taps) {
    (void)tap_count, (void)filters, (void)taps;
    return 0;
}

void flint_input_gradient_pack(long tap_count, long filters, const long *taps, const float *filter, float *out) {
    (void)tap_count, (void)filters, (void)taps, (void)filter, (void)out;
}

void flint_input_gradient(long images, long count, long filters, long tap_count, const float *gradient,
                          const long *positions, const long *taps, const float *packed, float *image, long image_stride) {
    (void)images, (void)count, (void)filters, (void)tap_count, (void)gradient, (void)positions, (void)taps, (void)packed,
        (void)image, (void)image_stride;
}

#endif
