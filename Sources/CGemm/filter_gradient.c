#include "flint_gemm.h"

// A convolution's filter gradient Σ_p image[positions[p] + taps[t]] · gradient[p, f] with both
// operands read where they lie. As a product over the column matrix (flint_sgemm_gathered) its
// A is the matrix transposed, taps × positions, which the blocked product packs: nine times the
// image copied, and the gradient packed again by every band. Here a tile of the result (6 taps
// by 64 filters, or 12 by 32) runs down the positions: at each, the tile's taps are adjacent
// floats of the image (a filter position's channels, kept together by the caller's runs)
// broadcast one by one, and its filters a piece of the gradient's row loaded in place. The Keras
// convnet's second filter gradient (288 taps × 64 filters over 73,728 positions), with 12×32
// tiles: one Zen 5 core, over half the positions, 150–165 → 200–211 GFLOP/s; both cores, each
// over half, 307–318 → 358–370.

#if defined(__x86_64__)
#include <immintrin.h>

#define FLINT_AVX512 __attribute__((target("avx512f,avx2,fma")))

// Positions per block: each tile's sums are added to the result once per block (the same
// blocks, and so the same sums in the same order, as flint_sgemm's k blocks of at most 384).
enum { BLOCK = 384 };

// Whether the taps t..<t + rows lie side by side in the image.
static int adjacent(const long *taps, long t, long rows) {
    for (long r = 1; r < rows; r++)
        if (taps[t + r] != taps[t] + r) return 0;
    return 1;
}

// The first tap of each tile of `rows` taps: every rows-th, and the last tile moved back to end
// at the last tap (overlapping its neighbour, whose rows it leaves alone) when rows does not
// divide the taps.
static long tile_start(long tile, long rows, long count) {
    long start = tile * rows;
    return start + rows > count ? count - rows : start;
}

// Whether every tile of `rows` taps is adjacent in the image (3 at least: a one-channel image's
// 3×3 window).
static int tiles_adjacent(long tap_count, const long *taps, long rows) {
    if (tap_count < rows) return 0;
    for (long tile = 0; tile * rows < tap_count; tile++)
        if (!adjacent(taps, tile_start(tile, rows, tap_count), rows)) return 0;
    return 1;
}

int flint_filter_gradient_in_place(long tap_count, const long *taps) {
    return flint_sgemm_avx512_in_use() && tiles_adjacent(tap_count, taps, 3);
}

// Rows first..<ROWS of the tile at c (ldc apart) over `depth` positions: image[at[p] + r] times
// gradient[p · ldg + j] for the `columns` (≤ 16 · VECTORS) filters from gradient's start;
// stored, or added to what c holds (`accumulate`). Masked loads and stores: nothing is read or
// written past the filters. Two shapes: 6×64 (24 sums; per position 4 loads of the gradient's
// row and 6 broadcasts) and 12×32 (24 sums; 2 loads and 12 broadcasts), the first where 64
// filters are left: one Zen 5, the Keras convnet's second filter gradient on both cores,
// 399–406 → 443–444 GFLOP/s over 12×32 alone. Each shape comes twice: with masked loads of the
// gradient, and (NAME##_full) plain loads for a tile's full width of filters, the common case.
#define FLINT_FILTER_TILE(NAME, ROWS, VECTORS, MASKED)                                                              \
    FLINT_AVX512 static void NAME(long depth, const float *image, const long *at, const float *gradient, long ldg,  \
                                  float *c, long ldc, long first, long columns, int accumulate) {                   \
        __mmask16 masks[VECTORS];                                                                                   \
        for (int q = 0; q < VECTORS; q++) {                                                                         \
            long left = columns - 16 * q;                                                                           \
            masks[q] = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);                         \
        }                                                                                                           \
        __m512 sums[ROWS][VECTORS];                                                                                 \
        for (int r = 0; r < ROWS; r++)                                                                              \
            for (int q = 0; q < VECTORS; q++) sums[r][q] = _mm512_setzero_ps();                                     \
        _Pragma("clang loop unroll(disable)") for (long p = 0; p < depth; p++) {                                    \
            const float *x = image + at[p], *g = gradient + p * ldg;                                                \
            __m512 row[VECTORS];                                                                                    \
            for (int q = 0; q < VECTORS; q++)                                                                       \
                row[q] = MASKED ? _mm512_maskz_loadu_ps(masks[q], g + 16 * q) : _mm512_loadu_ps(g + 16 * q);        \
            _Pragma("clang loop unroll(full)") for (int r = 0; r < ROWS; r++) {                                     \
                __m512 a = _mm512_set1_ps(x[r]);                                                                    \
                for (int q = 0; q < VECTORS; q++) sums[r][q] = _mm512_fmadd_ps(a, row[q], sums[r][q]);              \
            }                                                                                                       \
        }                                                                                                           \
        /* Every row, its index a constant: indexed by `first`, the sums lived in memory all along */               \
        /* (12×32: a load and a store around each multiply-add, 2.5× slower). */                                    \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < ROWS; r++)                                           \
            if (r >= first)                                                                                         \
                for (int q = 0; q < VECTORS; q++) {                                                                 \
                    float *piece = c + r * ldc + 16 * q;                                                            \
                    __m512 value = sums[r][q];                                                                      \
                    if (accumulate) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(masks[q], piece));           \
                    _mm512_mask_storeu_ps(piece, masks[q], value);                                                  \
                }                                                                                                   \
    }
#define FLINT_FILTER_TILES(NAME, ROWS, VECTORS) FLINT_FILTER_TILE(NAME, ROWS, VECTORS, 1) FLINT_FILTER_TILE(NAME##_full, ROWS, VECTORS, 0)
FLINT_FILTER_TILES(tile_6x64, 6, 4)
FLINT_FILTER_TILES(tile_12x32, 12, 2)
FLINT_FILTER_TILES(tile_6x32, 6, 2)
// A few-channel image's taps (one channel, 3×3: runs of 3).
FLINT_FILTER_TILES(tile_3x64, 3, 4)
FLINT_FILTER_TILES(tile_3x32, 3, 2)
#undef FLINT_FILTER_TILES
#undef FLINT_FILTER_TILE

typedef void (*filter_tile)(long, const float *, const long *, const float *, long, float *, long, long, long, int);

// Each shape's two forms: [0] masked, [1] for the full width.
static const filter_tile wide_six[2] = {tile_6x64, tile_6x64_full}, wide_three[2] = {tile_3x64, tile_3x64_full},
                         twelve_taps[2] = {tile_12x32, tile_12x32_full}, six_taps[2] = {tile_6x32, tile_6x32_full},
                         three_taps[2] = {tile_3x32, tile_3x32_full};

void flint_filter_gradient(long tap_count, long filters, long count, const float *image, const long *positions,
                           const long *taps, const float *gradient, float *out) {
    flint_filter_gradient_adding(tap_count, filters, count, image, positions, taps, gradient, 0, out);
}

void flint_filter_gradient_adding(long tap_count, long filters, long count, const float *image, const long *positions,
                                  const long *taps, const float *gradient, int add, float *out) {
    if (count <= 0) {
        if (!add)
            for (long i = 0; i < tap_count * filters; i++) out[i] = 0;
        return;
    }
    int twelve = tiles_adjacent(tap_count, taps, 12), six = tiles_adjacent(tap_count, taps, 6);
    long blocks = (count + BLOCK - 1) / BLOCK, step = (count + blocks - 1) / blocks;
    for (long p = 0; p < count; p += step) {
        long depth = count - p < step ? count - p : step;
        // Down each column of tiles (64 filters, or the last 32 or fewer): that piece of the
        // block's gradient rows stays near while the tiles' taps, neighbours in the image,
        // follow one another.
        for (long j = 0; j < filters;) {
            long left = filters - j;
            long rows = left <= 32 && twelve ? 12 : six ? 6 : 3, columns = left > 32 ? (left < 64 ? left : 64) : left;
            const filter_tile *shape = left > 32 ? (six ? wide_six : wide_three) : rows == 12 ? twelve_taps
                                       : rows == 6 ? six_taps : three_taps;
            filter_tile tile = shape[columns == 64 || columns == 32];
            for (long i = 0; i * rows < tap_count; i++) {
                long t = tile_start(i, rows, tap_count);
                tile(depth, image + taps[t], positions + p, gradient + p * filters + j, filters, out + t * filters + j,
                     filters, i * rows - t, columns, add || p > 0);
            }
            j += columns;
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

void flint_filter_gradient_adding(long tap_count, long filters, long count, const float *image, const long *positions,
                                  const long *taps, const float *gradient, int add, float *out) {
    (void)tap_count, (void)filters, (void)count, (void)image, (void)positions, (void)taps, (void)gradient, (void)add, (void)out;
}

#endif
