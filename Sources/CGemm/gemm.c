#include "flint_gemm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The classic blocked layout (Goto's, as in BLIS): a k-slice of B is packed into panels of
// NR columns, a block of A's rows into panels of MR rows, and a register-resident MR×NR tile
// of C accumulates one panel pair. Sizes for AVX2's sixteen 8-float registers: twelve hold the
// 6×16 tile, two a row of the B panel, one a broadcast element of A. KC·NR floats of B (24 KiB)
// stay in L1 while an MC×KC block of A (216 KiB) streams from L2; k is cut into equal blocks
// of at most KC. Measured on a Zen 2 core against OpenBLAS 0.3.21 on the products of the
// benchmark models: KC 192–384 and MC 96–192 were all within 3% of each other.
enum { MR = 6, NR = 16, KC = 384, MC = 144, NC = 4096 };

#if defined(__x86_64__)
#include <immintrin.h>
#define FLINT_AVX2 __attribute__((target("avx2,fma")))

int flint_sgemm_supported(void) {
#if !defined(__OPTIMIZE__)
    // Built without optimisation (SwiftPM's debug default): the intrinsics then run ~50x slower
    // than OpenBLAS. `make test` builds C with -O2 so the tests run this kernel.
    return 0;
#endif
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// The packing buffers of the calling thread, grown as needed and kept for its next call, and
// freed when the thread exits (release_thread_buffers, below with gemv's scratch): a thread that
// ran a product and ended left 6.5 MB behind (LeakSanitizer, a training run on a test's thread).
static _Thread_local float *packed_a, *packed_b;
static _Thread_local int release_registered;
static pthread_key_t release_key;
static pthread_once_t release_once = PTHREAD_ONCE_INIT;
static void release_thread_buffers(void *unused);

static void make_release_key(void) {
    if (pthread_key_create(&release_key, release_thread_buffers) != 0) abort();
}

static float *aligned_floats(long count) {
    if (!release_registered) {
        // Any non-NULL value makes the key's destructor run at the thread's exit.
        pthread_once(&release_once, make_release_key);
        if (pthread_setspecific(release_key, &release_registered) != 0) abort();
        release_registered = 1;
    }
    void *memory = NULL;
    if (posix_memalign(&memory, 64, (size_t)count * sizeof(float)) != 0) abort();
    return memory;
}

// Transposes eight vectors of eight floats in place: afterwards lane r of r[q] is what lane q
// of r[r] was.
FLINT_AVX2 static inline __attribute__((always_inline)) void transpose_registers(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]), t2 = _mm256_unpacklo_ps(r[2], r[3]),
           t3 = _mm256_unpackhi_ps(r[2], r[3]), t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]),
           t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE), u2 = _mm256_shuffle_ps(t1, t3, 0x44),
           u3 = _mm256_shuffle_ps(t1, t3, 0xEE), u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Reads 8 rows of 8 floats (row r at in + r·in_stride) and writes them transposed: element
// (r, q) to out[q·out_stride + r].
FLINT_AVX2 static void transpose_8x8(const float *in, long in_stride, float *out, long out_stride) {
    __m256 r[8];
    for (int q = 0; q < 8; q++) r[q] = _mm256_loadu_ps(in + q * in_stride);
    transpose_registers(r);
    for (int q = 0; q < 8; q++) _mm256_storeu_ps(out + q * out_stride, r[q]);
}

// The same for 6 rows into a packed panel of A: element (r, q) to out[q·6 + r], 48 floats.
// Depth q's lanes 6 and 7 (rows that are not read) are overwritten by the next depth's store;
// the last depth stores six lanes only.
FLINT_AVX2 static void transpose_6x8(const float *in, long in_stride, float *out) {
    __m256 r[8];
    for (int q = 0; q < 6; q++) r[q] = _mm256_loadu_ps(in + q * in_stride);
    r[6] = r[7] = _mm256_setzero_ps();
    transpose_registers(r);
    for (int q = 0; q < 7; q++) _mm256_storeu_ps(out + q * MR, r[q]);
    _mm256_maskstore_ps(out + 7 * MR, _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0), r[7]);
}

// Rows i0..<i0+mc, depths p0..<p0+kc of A into MR-row panels: panel r holds, for each depth,
// its MR rows' elements side by side; rows past mc are zero.
FLINT_AVX2 static void pack_a(long mc, long kc, const float *a, long a_row, long a_col, float *out) {
    for (long i = 0; i < mc; i += MR) {
        long rows = mc - i < MR ? mc - i : MR;
        const float *source = a + i * a_row;
        if (rows == MR && a_row == 1) {
            // A stored transposed: each depth's MR elements are adjacent.
            for (long p = 0; p < kc; p++) memcpy(out + p * MR, source + p * a_col, MR * sizeof(float));
        } else if (rows == MR && a_col == 1) {
            // Rows stored whole (activations): eight depths of the six rows transposed in
            // registers; element by element this took 6% of the wide MLP's training.
            long p = 0;
            for (; p + 8 <= kc; p += 8) transpose_6x8(source + p, a_row, out + p * MR);
            for (; p < kc; p++)
                for (long r = 0; r < MR; r++) out[p * MR + r] = source[r * a_row + p];
        } else {
            for (long p = 0; p < kc; p++) {
                for (long r = 0; r < rows; r++) out[p * MR + r] = source[r * a_row + p * a_col];
                for (long r = rows; r < MR; r++) out[p * MR + r] = 0;
            }
        }
        out += kc * MR;
    }
}

// Depths p0..<p0+kc, columns j0..<j0+nc of B into NR-column panels; columns past nc are zero.
FLINT_AVX2 static void pack_b(long kc, long nc, const float *b, long b_row, long b_col, float *out) {
    long j = 0;
    if (b_col == 1 && nc >= NR) {
        // Rows of B stored contiguously: read each row once from start to end, dealing its 16-float
        // pieces out to the panels (whole cache lines written). Panel by panel, the reads hop one
        // row (often a page) at a time, which the prefetchers follow poorly when B is out of cache.
        long panels = nc / NR;
        for (long p = 0; p < kc; p++) {
            const float *row = b + p * b_row;
            float *target = out + p * NR;
            for (long q = 0; q < panels; q++) {
                _mm256_store_ps(target + q * kc * NR, _mm256_loadu_ps(row + q * NR));
                _mm256_store_ps(target + q * kc * NR + 8, _mm256_loadu_ps(row + q * NR + 8));
            }
        }
        j = panels * NR;
        out += panels * kc * NR;
    }
    for (; j < nc; j += NR) {
        long columns = nc - j < NR ? nc - j : NR;
        const float *source = b + j * b_col;
        if (columns == NR && b_row == 1) {
            // B stored transposed: 8 columns × 8 depths at a time, loaded along the columns and
            // transposed in registers (a scalar copy here cost 6–12% of a 256-row product).
            long p = 0;
            for (; p + 8 <= kc; p += 8)
                for (int half = 0; half < 2; half++) transpose_8x8(source + p + half * 8 * b_col, b_col, out + p * NR + half * 8, NR);
            for (; p < kc; p++)
                for (long q = 0; q < NR; q++) out[p * NR + q] = source[p + q * b_col];
        } else {
            // Column by column, reading along each column.
            for (long q = 0; q < columns; q++)
                for (long p = 0; p < kc; p++) out[p * NR + q] = source[p * b_row + q * b_col];
            for (long q = columns; q < NR; q++)
                for (long p = 0; p < kc; p++) out[p * NR + q] = 0;
        }
        out += kc * NR;
    }
}

// The epilogue of one element (see flint_epilogue), for edge tiles.
static inline float finish(float x, const float *bias, long column, int activation, float slope) {
    if (bias) x += bias[column];
    if (activation == FLINT_ACTIVATION_RELU) return x <= 0 ? 0 : x;
    if (activation == FLINT_ACTIVATION_LEAKY_RELU) return x > 0 ? x : slope * x;
    return x;
}

// The same for eight adjacent elements of a whole tile.
FLINT_AVX2 static inline __m256 finish8(__m256 x, const float *bias, int activation, float slope) {
    if (bias) x = _mm256_add_ps(x, _mm256_loadu_ps(bias));
    if (activation == FLINT_ACTIVATION_RELU) {
        // Zero where x <= 0; NaN compares false and stays, and -0 becomes +0, as in the scalar form.
        return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LE_OQ), x);
    }
    if (activation == FLINT_ACTIVATION_LEAKY_RELU) {
        __m256 positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
        return _mm256_blendv_ps(_mm256_mul_ps(x, _mm256_set1_ps(slope)), x, positive);
    }
    return x;
}

FLINT_AVX2 void flint_apply_epilogue(long rows, long columns, float *c, long ldc, const flint_epilogue *epilogue) {
    const float *bias = epilogue->bias;
    for (long r = 0; r < rows; r++) {
        float *row = c + r * ldc;
        long j = 0;
        for (; j + 8 <= columns; j += 8)
            _mm256_storeu_ps(row + j, finish8(_mm256_loadu_ps(row + j), bias ? bias + j : NULL, epilogue->activation, epilogue->slope));
        for (; j < columns; j++) row[j] = finish(row[j], bias, j, epilogue->activation, epilogue->slope);
    }
}

// Stores an MR×NR tile of sums: C = alpha · tile + beta · C, of which only the top-left
// rows × columns exist (beta == 0 never reads C); `bias` (at the tile's first column, or NULL)
// and `activation` are the epilogue, given only for the last k block.
FLINT_AVX2 static inline __attribute__((always_inline))
void store_tile(__m256 tile[MR][2], float alpha, float beta, float *c, long ldc, long rows, long columns,
                const float *bias, int activation, float slope) {
    const __m256 scale = _mm256_set1_ps(alpha), keep = _mm256_set1_ps(beta);
    if (rows == MR && columns == NR) {
        for (int r = 0; r < MR; r++) {
            float *row = c + r * ldc;
            for (int h = 0; h < 2; h++) {
                __m256 value = _mm256_mul_ps(tile[r][h], scale);
                if (beta != 0) value = _mm256_fmadd_ps(_mm256_loadu_ps(row + 8 * h), keep, value);
                if (bias || activation) value = finish8(value, bias ? bias + 8 * h : NULL, activation, slope);
                _mm256_storeu_ps(row + 8 * h, value);
            }
        }
        return;
    }
    float edge[MR][NR] __attribute__((aligned(32)));
    for (int r = 0; r < MR; r++) {
        _mm256_store_ps(edge[r], _mm256_mul_ps(tile[r][0], scale));
        _mm256_store_ps(edge[r] + 8, _mm256_mul_ps(tile[r][1], scale));
    }
    for (long r = 0; r < rows; r++) {
        float *row = c + r * ldc;
        for (long q = 0; q < columns; q++)
            row[q] = finish(beta != 0 ? edge[r][q] + beta * row[q] : edge[r][q], bias, q, activation, slope);
    }
}

// One depth of the 6×16 tile: row r's element at a_r + s·a_col times B's panel row s.
#define FLINT_STEP(s) do { \
        __m256 b0 = _mm256_load_ps(bp + (s) * NR), b1 = _mm256_load_ps(bp + (s) * NR + 8), a; \
        a = _mm256_broadcast_ss(a0 + (s) * a_col); c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01); \
        a = _mm256_broadcast_ss(a1 + (s) * a_col); c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11); \
        a = _mm256_broadcast_ss(a2 + (s) * a_col); c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21); \
        a = _mm256_broadcast_ss(a3 + (s) * a_col); c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31); \
        a = _mm256_broadcast_ss(a4 + (s) * a_col); c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41); \
        a = _mm256_broadcast_ss(a5 + (s) * a_col); c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51); \
    } while (0)

// `length` depths from a0…a5 (advanced by a_col each) and bp (by NR), four at a time.
#define FLINT_DEPTHS(length) do { \
        long p = 0; \
        for (; p + 4 <= (length); p += 4) { \
            FLINT_STEP(0); FLINT_STEP(1); FLINT_STEP(2); FLINT_STEP(3); \
            a0 += 4 * a_col; a1 += 4 * a_col; a2 += 4 * a_col; a3 += 4 * a_col; a4 += 4 * a_col; a5 += 4 * a_col; \
            bp += 4 * NR; \
        } \
        for (; p < (length); p++) { \
            FLINT_STEP(0); \
            a0 += a_col; a1 += a_col; a2 += a_col; a3 += a_col; a4 += a_col; a5 += a_col; \
            bp += NR; \
        } \
    } while (0)

#define FLINT_ZERO_TILE \
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps(); \
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(); \
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps()

#define FLINT_TILE {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}}

// One MR×NR tile of C from a panel of A read at ap[r·a_row + p·a_col] (packed: a_row 1, a_col
// MR; or in place) and B's packed panel; see store_tile for the rest.
FLINT_AVX2 static inline __attribute__((always_inline))
void kernel_6x16_body(long kc, const float *ap, long a_row, long a_col, const float *bp, float alpha, float beta,
                      float *c, long ldc, long rows, long columns, const float *bias, int activation, float slope) {
    const float *a0 = ap, *a1 = ap + a_row, *a2 = ap + 2 * a_row, *a3 = ap + 3 * a_row, *a4 = ap + 4 * a_row,
                *a5 = ap + 5 * a_row;
    FLINT_ZERO_TILE;
    FLINT_DEPTHS(kc);
    __m256 tile[MR][2] = FLINT_TILE;
    store_tile(tile, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
}

// The two layouts the blocked product uses get their strides as constants: with both at run
// time the compiler walked one pointer through the six rows, six dependent adds per depth
// beside its twelve FMAs. With constants, packed A is read at fixed offsets (a Zen 3 core,
// interleaved one-thread calls: 1–8% faster, e.g. 256×1024×784 72 → 78 GFLOP/s).
FLINT_AVX2 static void kernel_6x16(long kc, const float *ap, long a_row, long a_col, const float *bp, float alpha, float beta,
                                   float *c, long ldc, long rows, long columns,
                                   const float *bias, int activation, float slope) {
    if (a_row == 1 && a_col == MR)
        kernel_6x16_body(kc, ap, 1, MR, bp, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
    else if (a_col == 1)
        kernel_6x16_body(kc, ap, a_row, 1, bp, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
    else
        kernel_6x16_body(kc, ap, a_row, a_col, bp, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
}

// A packed panel's last rows (`computed`: 2 or 4, at least `rows`): kernel_6x16 would compute all
// six, rows that packing zero-filled. The same products in the same order, so the same bits; 4
// rows of 64 (a two-band LSTM step of batch 128) or 2 of 128 (an MLP's batch) are a third or two
// thirds lighter than a full tile. Unrolled into registers at -O2.
FLINT_AVX2 static inline __attribute__((always_inline))
void kernel_short_body(int computed, long kc, const float *ap, const float *bp, float alpha, float beta, float *c,
                       long ldc, long rows, long columns, const float *bias, int activation, float slope) {
    __m256 tile[MR][2];
    for (int r = 0; r < MR; r++) tile[r][0] = tile[r][1] = _mm256_setzero_ps();
    for (long p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(bp + p * NR), b1 = _mm256_load_ps(bp + p * NR + 8);
        for (int r = 0; r < computed; r++) {
            __m256 a = _mm256_broadcast_ss(ap + p * MR + r);
            tile[r][0] = _mm256_fmadd_ps(a, b0, tile[r][0]);
            tile[r][1] = _mm256_fmadd_ps(a, b1, tile[r][1]);
        }
    }
    store_tile(tile, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
}

// kernel_6x16 for a packed panel (a_row 1, a_col MR) of `rows` rows.
FLINT_AVX2 static void kernel_packed_rows(long kc, const float *ap, const float *bp, float alpha, float beta, float *c,
                                          long ldc, long rows, long columns, const float *bias, int activation,
                                          float slope) {
    if (rows <= 2)
        kernel_short_body(2, kc, ap, bp, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
    else if (rows <= 4)
        kernel_short_body(4, kc, ap, bp, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
    else
        kernel_6x16(kc, ap, 1, MR, bp, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
}

// Two row panels against one B panel with AVX-512: a 16-float row of the panel fills one zmm
// register, so twelve accumulators hold rows 0…5 (from a_first) and 6…11 (from a_second, same
// strides) of the tile — the work of two kernel_6x16 calls at half the instructions. Each
// element sums the same products in the same order as kernel_6x16, and each half is stored by
// store_tile, so C gets the same bits. `rows` (1…12) counts the tile's rows that exist.
// B's panels are loaded unaligned: a packed B need only be 32-byte aligned (flint_gemm.h), and
// an unaligned load of aligned data costs nothing.
#define FLINT_AVX512 __attribute__((target("avx512f,avx2,fma")))
FLINT_AVX512 static inline __attribute__((always_inline))
void kernel_12x16_body(long kc, const float *a_first, const float *a_second, long a_row, long a_col, const float *bp,
                       float alpha, float beta, float *c, long ldc, long rows, long columns, const float *bias,
                       int activation, float slope) {
    __m512 acc[2 * MR];
    for (int r = 0; r < 2 * MR; r++) acc[r] = _mm512_setzero_ps();
#pragma clang loop unroll_count(4)
    for (long p = 0; p < kc; p++) {
        __m512 b = _mm512_loadu_ps(bp + p * NR);
        const float *x = a_first + p * a_col, *y = a_second + p * a_col;
        for (int r = 0; r < MR; r++) {
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r * a_row]), b, acc[r]);
            acc[MR + r] = _mm512_fmadd_ps(_mm512_set1_ps(y[r * a_row]), b, acc[MR + r]);
        }
    }
    for (int half = 0; half < 2; half++) {
        long half_rows = rows - half * MR < MR ? rows - half * MR : MR;
        if (half_rows <= 0) break;
        __m256 tile[MR][2];
        for (int r = 0; r < MR; r++) {
            __m512 sums = acc[half * MR + r];
            tile[r][0] = _mm512_castps512_ps256(sums);
            tile[r][1] = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sums), 1));
        }
        store_tile(tile, alpha, beta, c + half * MR * ldc, ldc, half_rows, columns, bias, activation, slope);
    }
}

// A's packed panels (strides known to the compiler: base and offsets address all twelve rows).
FLINT_AVX512 static void kernel_12x16_packed(long kc, const float *a_first, const float *bp, float alpha, float beta,
                                             float *c, long ldc, long rows, long columns, const float *bias,
                                             int activation, float slope) {
    kernel_12x16_body(kc, a_first, a_first + MR * kc, 1, MR, bp, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
}

// Stores a 6×32 tile of zmm sums (acc[r][0] the first NR columns, acc[r][1] the next) through
// store_tile; `rows` 1…6 and `columns` 17…32 of it exist.
FLINT_AVX512 static inline __attribute__((always_inline))
void store_6x32(__m512 acc[MR][2], float alpha, float beta, float *c, long ldc, long rows, long columns,
                const float *bias, int activation, float slope) {
    if (columns == 2 * NR && alpha == 1 && (beta == 0 || beta == 1)) {
        // A whole-width tile stored as it stands or added to C, then the bias and activation: the
        // common case of training's and inference's products (store_tile's halves and scaling
        // cost a quarter of a K = 28 product's time). Same bits: a product by 1 is exact,
        // store_tile's fma(c, 1, sum) rounds c + sum once, and finish8's bias, ReLU (zero where
        // x ≤ 0, NaN kept) and leaky ReLU are the same operations on wider lanes.
        if (!bias && activation == FLINT_ACTIVATION_NONE) {
            // Its own loop: with the epilogue's tests inside, plain stores measured 0.2–1.8%
            // slower (256×512×784, one thread, interleaved calls).
            for (int r = 0; r < rows; r++) {
                float *row = c + r * ldc;
                for (int half = 0; half < 2; half++) {
                    __m512 value = acc[r][half];
                    if (beta != 0) value = _mm512_add_ps(_mm512_loadu_ps(row + NR * half), value);
                    _mm512_storeu_ps(row + NR * half, value);
                }
            }
            return;
        }
        __m512 shift[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        if (bias) shift[0] = _mm512_loadu_ps(bias), shift[1] = _mm512_loadu_ps(bias + NR);
        const __m512 zero = _mm512_setzero_ps(), factor = _mm512_set1_ps(slope);
        for (int r = 0; r < rows; r++) {
            float *row = c + r * ldc;
            for (int half = 0; half < 2; half++) {
                __m512 value = acc[r][half];
                if (beta != 0) value = _mm512_add_ps(_mm512_loadu_ps(row + NR * half), value);
                if (bias) value = _mm512_add_ps(value, shift[half]);
                if (activation == FLINT_ACTIVATION_RELU)
                    value = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(value, zero, _CMP_NLE_UQ), value);
                else if (activation == FLINT_ACTIVATION_LEAKY_RELU)
                    value = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(value, zero, _CMP_GT_OQ), _mm512_mul_ps(value, factor), value);
                _mm512_storeu_ps(row + NR * half, value);
            }
        }
        return;
    }
    for (int half = 0; half < 2; half++) {
        __m256 tile[MR][2];
        for (int r = 0; r < MR; r++) {
            tile[r][0] = _mm512_castps512_ps256(acc[r][half]);
            tile[r][1] = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r][half]), 1));
        }
        store_tile(tile, alpha, beta, c + half * NR, ldc, rows, half ? columns - NR : NR, bias && half ? bias + NR : bias,
                   activation, slope);
    }
}

// One depth of a 6×32 tile: row r's element at a_r + s·a_col times two B panels' rows s (named
// registers: an array of accumulators here was kept in memory by the compiler).
#define FLINT_WIDE_STEP(s) do { \
        __m512 b0 = _mm512_loadu_ps(bp + (s) * NR), b1 = _mm512_loadu_ps(bq + (s) * NR), x; \
        x = _mm512_set1_ps(a0[(s) * a_col]); d00 = _mm512_fmadd_ps(x, b0, d00); d01 = _mm512_fmadd_ps(x, b1, d01); \
        x = _mm512_set1_ps(a1[(s) * a_col]); d10 = _mm512_fmadd_ps(x, b0, d10); d11 = _mm512_fmadd_ps(x, b1, d11); \
        x = _mm512_set1_ps(a2[(s) * a_col]); d20 = _mm512_fmadd_ps(x, b0, d20); d21 = _mm512_fmadd_ps(x, b1, d21); \
        x = _mm512_set1_ps(a3[(s) * a_col]); d30 = _mm512_fmadd_ps(x, b0, d30); d31 = _mm512_fmadd_ps(x, b1, d31); \
        x = _mm512_set1_ps(a4[(s) * a_col]); d40 = _mm512_fmadd_ps(x, b0, d40); d41 = _mm512_fmadd_ps(x, b1, d41); \
        x = _mm512_set1_ps(a5[(s) * a_col]); d50 = _mm512_fmadd_ps(x, b0, d50); d51 = _mm512_fmadd_ps(x, b1, d51); \
    } while (0)

// `length` depths from a0…a5 (advanced by a_col each) and bp, bq (by NR), four at a time.
#define FLINT_WIDE_DEPTHS(length) do { \
        long p = 0; \
        for (; p + 4 <= (length); p += 4) { \
            FLINT_WIDE_STEP(0); FLINT_WIDE_STEP(1); FLINT_WIDE_STEP(2); FLINT_WIDE_STEP(3); \
            a0 += 4 * a_col; a1 += 4 * a_col; a2 += 4 * a_col; a3 += 4 * a_col; a4 += 4 * a_col; a5 += 4 * a_col; \
            bp += 4 * NR; bq += 4 * NR; \
        } \
        for (; p < (length); p++) { \
            FLINT_WIDE_STEP(0); \
            a0 += a_col; a1 += a_col; a2 += a_col; a3 += a_col; a4 += a_col; a5 += a_col; \
            bp += NR; bq += NR; \
        } \
    } while (0)

#define FLINT_WIDE_ZERO_TILE \
    __m512 d00 = _mm512_setzero_ps(), d01 = _mm512_setzero_ps(), d10 = _mm512_setzero_ps(), d11 = _mm512_setzero_ps(); \
    __m512 d20 = _mm512_setzero_ps(), d21 = _mm512_setzero_ps(), d30 = _mm512_setzero_ps(), d31 = _mm512_setzero_ps(); \
    __m512 d40 = _mm512_setzero_ps(), d41 = _mm512_setzero_ps(), d50 = _mm512_setzero_ps(), d51 = _mm512_setzero_ps()

#define FLINT_WIDE_TILE {{d00, d01}, {d10, d11}, {d20, d21}, {d30, d31}, {d40, d41}, {d50, d51}}

// Six rows of A read in place against two B panels (bp, and bq the next): twelve zmm
// accumulators from six row streams, where twelve rows of A (as kernel_12x16 reads packed
// panels) would need more registers for their addresses than there are. Same sums in the same
// order as kernel_6x16.
FLINT_AVX512 static void kernel_6x32(long kc, const float *ap, long a_row, long a_col, const float *bp, const float *bq,
                                     long b_step, float alpha, float beta, float *c, long ldc, long rows, long columns,
                                     const float *bias, int activation, float slope) {
    // Loops over arrays here: the named registers of FLINT_WIDE_STEP compiled to spills when the
    // stride of A is a variable (81 against 152 GFLOP/s on 3456×64×288).
    __m512 acc[MR][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const float *row[MR];
    for (int r = 0; r < MR; r++) row[r] = ap + r * a_row;
    for (long p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(bp + p * b_step), b1 = _mm512_loadu_ps(bq + p * b_step);
        for (int r = 0; r < MR; r++) {
            __m512 x = _mm512_set1_ps(row[r][p * a_col]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    store_6x32(acc, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
}

// A packed panel's last rows against two B panels (`computed`: 2 or 4, at least `rows`), as
// kernel_short_body does for one: kernel_6x32 would compute all six, rows that packing
// zero-filled. The same products in the same order, so the same bits. A two-band LSTM step of
// batch 128 ends each 64-row band with 4 such rows, and its input kernel's gradient has 28 rows.
FLINT_AVX512 static inline __attribute__((always_inline))
void kernel_short_6x32_body(int computed, long kc, const float *ap, const float *bp, const float *bq, long b_step,
                            float alpha, float beta, float *c, long ldc, long rows, long columns, const float *bias,
                            int activation, float slope) {
    __m512 acc[MR][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (long p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(bp + p * b_step), b1 = _mm512_loadu_ps(bq + p * b_step);
        for (int r = 0; r < computed; r++) {
            __m512 x = _mm512_set1_ps(ap[p * MR + r]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    store_6x32(acc, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
}

// kernel_6x32 for a packed panel (a_row 1, a_col MR) of `rows` rows.
FLINT_AVX512 static void kernel_packed_rows_6x32(long kc, const float *ap, const float *bp, const float *bq, long b_step,
                                                 float alpha, float beta, float *c, long ldc, long rows, long columns,
                                                 const float *bias, int activation, float slope) {
    if (rows <= 2)
        kernel_short_6x32_body(2, kc, ap, bp, bq, b_step, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
    else if (rows <= 4)
        kernel_short_6x32_body(4, kc, ap, bp, bq, b_step, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
    else
        kernel_6x32(kc, ap, 1, MR, bp, bq, b_step, alpha, beta, c, ldc, rows, columns, bias, activation, slope);
}

// One depth of the 12×32 tile in kernel_12x32_packed's assembly: B's two panel rows at byte
// BDISP from bp (and bp + bq) into zmm24/25, then row r's element of A (byte ADISP + 4r from x
// for rows 0–5, from y for 6–11) broadcast into two multiply-adds, on zmm 2r and 2r + 1 (x) or
// 12 + 2r and 13 + 2r (y).
// One row of A against the two B panels in zmm24/25: the element of A as a broadcast memory operand
// of each multiply-add (one micro-op on Intel, where compiled code broadcast into a register first,
// 38 against 26 per depth), or broadcast into zmm26 once for both (Zen 5: 250 against 231 GFLOP/s
// in a loop of this kernel's body on one core, data in L1; see register_broadcasts).
#define FLINT_ROW_12X32_MEMORY(BASE, ADISP, OFF, EVEN, ODD) \
    "vfmadd231ps " ADISP "+" OFF "(" BASE ")%{1to16%}, %%zmm24, %%zmm" EVEN "\n\t" \
    "vfmadd231ps " ADISP "+" OFF "(" BASE ")%{1to16%}, %%zmm25, %%zmm" ODD "\n\t"
#define FLINT_ROW_12X32_REGISTER(BASE, ADISP, OFF, EVEN, ODD) \
    "vbroadcastss " ADISP "+" OFF "(" BASE "), %%zmm26\n\t" \
    "vfmadd231ps %%zmm26, %%zmm24, %%zmm" EVEN "\n\t" \
    "vfmadd231ps %%zmm26, %%zmm25, %%zmm" ODD "\n\t"
#define FLINT_DEPTH_12X32(ROW, BDISP, ADISP) \
    "vmovups " BDISP "(%[bp]), %%zmm24\n\t" \
    "vmovups " BDISP "(%[bp],%[bq],1), %%zmm25\n\t" \
    ROW("%[x]", ADISP, "0", "0", "1") ROW("%[x]", ADISP, "4", "2", "3") \
    ROW("%[x]", ADISP, "8", "4", "5") ROW("%[x]", ADISP, "12", "6", "7") \
    ROW("%[x]", ADISP, "16", "8", "9") ROW("%[x]", ADISP, "20", "10", "11") \
    ROW("%[y]", ADISP, "0", "12", "13") ROW("%[y]", ADISP, "4", "14", "15") \
    ROW("%[y]", ADISP, "8", "16", "17") ROW("%[y]", ADISP, "12", "18", "19") \
    ROW("%[y]", ADISP, "16", "20", "21") ROW("%[y]", ADISP, "20", "22", "23")
// One row of a whole tile (sums in zmm EVEN and ODD) to C: optionally added to C's row, then
// optionally the bias (zmm24/25), stored, and the pointer moved to the next row.
#define FLINT_NOTHING(EVEN, ODD)
#define FLINT_ADD_C(EVEN, ODD) \
    "vaddps (%[c]), %%zmm" EVEN ", %%zmm" EVEN "\n\t" "vaddps 64(%[c]), %%zmm" ODD ", %%zmm" ODD "\n\t"
#define FLINT_ADD_BIAS(EVEN, ODD) \
    "vaddps %%zmm24, %%zmm" EVEN ", %%zmm" EVEN "\n\t" "vaddps %%zmm25, %%zmm" ODD ", %%zmm" ODD "\n\t"
#define FLINT_C_ROW_12X32(ADD, BIAS, EVEN, ODD) \
    ADD(EVEN, ODD) BIAS(EVEN, ODD) \
    "vmovups %%zmm" EVEN ", (%[c])\n\t" "vmovups %%zmm" ODD ", 64(%[c])\n\t" "add %[ldc], %[c]\n\t"
#define FLINT_C_ROWS_12X32(ADD, BIAS) \
    FLINT_C_ROW_12X32(ADD, BIAS, "0", "1") FLINT_C_ROW_12X32(ADD, BIAS, "2", "3") \
    FLINT_C_ROW_12X32(ADD, BIAS, "4", "5") FLINT_C_ROW_12X32(ADD, BIAS, "6", "7") \
    FLINT_C_ROW_12X32(ADD, BIAS, "8", "9") FLINT_C_ROW_12X32(ADD, BIAS, "10", "11") \
    FLINT_C_ROW_12X32(ADD, BIAS, "12", "13") FLINT_C_ROW_12X32(ADD, BIAS, "14", "15") \
    FLINT_C_ROW_12X32(ADD, BIAS, "16", "17") FLINT_C_ROW_12X32(ADD, BIAS, "18", "19") \
    FLINT_C_ROW_12X32(ADD, BIAS, "20", "21") FLINT_C_ROW_12X32(ADD, BIAS, "22", "23")
// The whole block: zero the sums, two depths per iteration and an odd last one; then the sums
// stored to `sums` (direct 0), or a whole 12×32 tile straight to C: stored (1), added to C (2),
// plus the bias (3), or added to C plus the bias (4).
#define FLINT_BLOCK_12X32(ROW) \
        "vpxord %%zmm0, %%zmm0, %%zmm0\n\t" \
        "vpxord %%zmm1, %%zmm1, %%zmm1\n\t" \
        "vpxord %%zmm2, %%zmm2, %%zmm2\n\t" \
        "vpxord %%zmm3, %%zmm3, %%zmm3\n\t" \
        "vpxord %%zmm4, %%zmm4, %%zmm4\n\t" \
        "vpxord %%zmm5, %%zmm5, %%zmm5\n\t" \
        "vpxord %%zmm6, %%zmm6, %%zmm6\n\t" \
        "vpxord %%zmm7, %%zmm7, %%zmm7\n\t" \
        "vpxord %%zmm8, %%zmm8, %%zmm8\n\t" \
        "vpxord %%zmm9, %%zmm9, %%zmm9\n\t" \
        "vpxord %%zmm10, %%zmm10, %%zmm10\n\t" \
        "vpxord %%zmm11, %%zmm11, %%zmm11\n\t" \
        "vpxord %%zmm12, %%zmm12, %%zmm12\n\t" \
        "vpxord %%zmm13, %%zmm13, %%zmm13\n\t" \
        "vpxord %%zmm14, %%zmm14, %%zmm14\n\t" \
        "vpxord %%zmm15, %%zmm15, %%zmm15\n\t" \
        "vpxord %%zmm16, %%zmm16, %%zmm16\n\t" \
        "vpxord %%zmm17, %%zmm17, %%zmm17\n\t" \
        "vpxord %%zmm18, %%zmm18, %%zmm18\n\t" \
        "vpxord %%zmm19, %%zmm19, %%zmm19\n\t" \
        "vpxord %%zmm20, %%zmm20, %%zmm20\n\t" \
        "vpxord %%zmm21, %%zmm21, %%zmm21\n\t" \
        "vpxord %%zmm22, %%zmm22, %%zmm22\n\t" \
        "vpxord %%zmm23, %%zmm23, %%zmm23\n\t" \
        "shr $1, %[pairs]\n\t" \
        "jz 2f\n\t" \
        "1:\n\t" \
        FLINT_DEPTH_12X32(ROW, "0", "0") \
        "add %[step], %[bp]\n\t" \
        FLINT_DEPTH_12X32(ROW, "0", "24") \
        "add %[step], %[bp]\n\t" \
        "add $48, %[x]\n\t" \
        "add $48, %[y]\n\t" \
        "dec %[pairs]\n\t" \
        "jnz 1b\n\t" \
        "2:\n\t" \
        "test %[odd], %[odd]\n\t" \
        "jz 3f\n\t" \
        FLINT_DEPTH_12X32(ROW, "0", "0") \
        "3:\n\t" \
        "test %[direct], %[direct]\n\t" \
        "jnz 4f\n\t" \
        "vmovups %%zmm0, 0(%[out])\n\t" \
        "vmovups %%zmm1, 64(%[out])\n\t" \
        "vmovups %%zmm2, 128(%[out])\n\t" \
        "vmovups %%zmm3, 192(%[out])\n\t" \
        "vmovups %%zmm4, 256(%[out])\n\t" \
        "vmovups %%zmm5, 320(%[out])\n\t" \
        "vmovups %%zmm6, 384(%[out])\n\t" \
        "vmovups %%zmm7, 448(%[out])\n\t" \
        "vmovups %%zmm8, 512(%[out])\n\t" \
        "vmovups %%zmm9, 576(%[out])\n\t" \
        "vmovups %%zmm10, 640(%[out])\n\t" \
        "vmovups %%zmm11, 704(%[out])\n\t" \
        "vmovups %%zmm12, 768(%[out])\n\t" \
        "vmovups %%zmm13, 832(%[out])\n\t" \
        "vmovups %%zmm14, 896(%[out])\n\t" \
        "vmovups %%zmm15, 960(%[out])\n\t" \
        "vmovups %%zmm16, 1024(%[out])\n\t" \
        "vmovups %%zmm17, 1088(%[out])\n\t" \
        "vmovups %%zmm18, 1152(%[out])\n\t" \
        "vmovups %%zmm19, 1216(%[out])\n\t" \
        "vmovups %%zmm20, 1280(%[out])\n\t" \
        "vmovups %%zmm21, 1344(%[out])\n\t" \
        "vmovups %%zmm22, 1408(%[out])\n\t" \
        "vmovups %%zmm23, 1472(%[out])\n\t" \
        "jmp 9f\n\t" \
        "4:\n\t" \
        "cmp $3, %[direct]\n\t" \
        "jb 5f\n\t" \
        "vmovups (%[bias]), %%zmm24\n\t" \
        "vmovups 64(%[bias]), %%zmm25\n\t" \
        "cmp $4, %[direct]\n\t" \
        "je 7f\n\t" \
        FLINT_C_ROWS_12X32(FLINT_NOTHING, FLINT_ADD_BIAS) \
        "jmp 9f\n\t" \
        "7:\n\t" \
        FLINT_C_ROWS_12X32(FLINT_ADD_C, FLINT_ADD_BIAS) \
        "jmp 9f\n\t" \
        "5:\n\t" \
        "cmp $1, %[direct]\n\t" \
        "jne 6f\n\t" \
        FLINT_C_ROWS_12X32(FLINT_NOTHING, FLINT_NOTHING) \
        "jmp 9f\n\t" \
        "6:\n\t" \
        FLINT_C_ROWS_12X32(FLINT_ADD_C, FLINT_NOTHING) \
        "9:\n\t"
#define FLINT_OPERANDS_12X32 \
        : [bp] "+r"(bp), [x] "+r"(x), [y] "+r"(y), [pairs] "+r"(pairs), [c] "+r"(row) \
        : [bq] "r"(b_offset), [odd] "r"(odd), [out] "r"(sums), [direct] "r"(direct), [ldc] "r"(ldc_bytes), [bias] "r"(bias), [step] "r"(b_step_bytes) \
        : "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "zmm9", "zmm10", "zmm11", "zmm12", "zmm13", "zmm14", "zmm15", "zmm16", "zmm17", "zmm18", "zmm19", "zmm20", "zmm21", "zmm22", "zmm23", "zmm24", "zmm25", "memory", "cc"

// Whether kernel_12x32_packed broadcasts A into a register (AMD's cores) or takes it as a memory
// operand (Intel's), unless flint_sgemm_use_register_broadcasts chose. Same bits either way.
static int register_broadcast_choice = -1;

static int register_broadcasts(void) {
    int choice = __atomic_load_n(&register_broadcast_choice, __ATOMIC_RELAXED);
    if (choice >= 0) return choice;
    __builtin_cpu_init();
    choice = __builtin_cpu_is("amd") != 0;
    __atomic_store_n(&register_broadcast_choice, choice, __ATOMIC_RELAXED);
    return choice;
}

int flint_sgemm_use_register_broadcasts(int choice) {
    __atomic_store_n(&register_broadcast_choice, choice < 0 ? -1 : choice > 0, __ATOMIC_RELAXED);
    return register_broadcasts();
}

// Two packed row panels against two B panels: 24 accumulators, twice the multiply-adds per byte
// and per instruction of the 12-accumulator tiles (kernel_6x32, kernel_12x16). Those fell to
// three quarters of MKL's speed whenever the host shared the core (78–86 against 99–106 GFLOP/s
// on the wide MLP's 256×512×1024 bands, one thread, interleaved calls); this one runs them at
// 86–97 then and as fast as before otherwise. Same sums in the same order as kernel_6x16; `rows`
// 1…12 and `columns` 17…32 of the tile exist.
FLINT_AVX512 static void kernel_12x32_packed(long kc, const float *a_first, const float *bp, const float *bq, long b_step,
                                             float alpha, float beta, float *c, long ldc, long rows, long columns,
                                             const float *bias, int activation, float slope) {
    // In assembly, so that the sums stay in zmm0–23 for the whole block.
    __m512 sums[2 * MR][2];
    const float *x = a_first, *y = a_first + MR * kc;
    long pairs = kc, odd = kc & 1, b_offset = (long)((const char *)bq - (const char *)bp);
    // A whole tile with nothing to scale or activate goes from the registers to C, as store_6x32
    // would store it (1 · sum is exact, its fma(c, 1, sum) rounds c + sum once, then + bias): at
    // K = 28 the round trip through `sums` cost 12% of the product.
    long direct = rows == 2 * MR && columns == 2 * NR && alpha == 1 && (beta == 0 || beta == 1) &&
                  activation == FLINT_ACTIVATION_NONE ? 1 + (beta == 1) + 2 * (bias != NULL) : 0;
    long ldc_bytes = ldc * (long)sizeof(float), b_step_bytes = b_step * (long)sizeof(float);
    float *row = c;
    if (register_broadcasts())
        asm volatile(FLINT_BLOCK_12X32(FLINT_ROW_12X32_REGISTER) FLINT_OPERANDS_12X32, "zmm26");
    else
        asm volatile(FLINT_BLOCK_12X32(FLINT_ROW_12X32_MEMORY) FLINT_OPERANDS_12X32);
    if (direct) return;
    store_6x32(sums, alpha, beta, c, ldc, rows < MR ? rows : MR, columns, bias, activation, slope);
    if (rows > MR) store_6x32(sums + MR, alpha, beta, c + MR * ldc, ldc, rows - MR, columns, bias, activation, slope);
}
#undef FLINT_ROW_12X32_MEMORY
#undef FLINT_ROW_12X32_REGISTER
#undef FLINT_DEPTH_12X32
#undef FLINT_BLOCK_12X32
#undef FLINT_OPERANDS_12X32
#undef FLINT_NOTHING
#undef FLINT_ADD_C
#undef FLINT_ADD_BIAS
#undef FLINT_C_ROW_12X32
#undef FLINT_C_ROWS_12X32

// Whether products use the AVX-512 tiles: wherever the CPU has AVX-512, unless
// FLINT_GEMM_AVX512=0 (=1 asks for them, the default). Even where 512-bit multiply-adds issue at
// half the rate of 256-bit ones (Zen 4 splits each in two, so the FLOPs per cycle are the same),
// the 32 registers hold a tile four times the 6×16 AVX2 one's and the convolutions' own AVX-512
// kernels run: a Zen 4 EPYC (2 cores, ABBA rounds of flint-bench models) trained the convnet
// 1.44×, the LSTM 1.36× and the wide MLP 1.24× faster with them. Tests switch it with
// flint_sgemm_use_avx512.
static int avx512_choice = -1;

static int avx512_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
}

static int wide_kernel(void) {
    static int by_default = -1;
    int choice = __atomic_load_n(&avx512_choice, __ATOMIC_RELAXED);
    if (choice >= 0) return choice;
    int known = __atomic_load_n(&by_default, __ATOMIC_RELAXED);
    if (known >= 0) return known;
    const char *setting = getenv("FLINT_GEMM_AVX512");
    int wanted = -1;
    if (setting && setting[0]) {
        if (strcmp(setting, "0") == 0 || strcmp(setting, "1") == 0)
            wanted = setting[0] == '1';
        else  // a typo must not pass silently, nor stop the program (as FLINT_GEMM in BlockedGemm.swift)
            fprintf(stderr, "Flint: FLINT_GEMM_AVX512=\"%s\" is neither \"0\" nor \"1\"; using the default\n", setting);
    }
    known = avx512_supported() && wanted != 0;
    __atomic_store_n(&by_default, known, __ATOMIC_RELAXED);
    return known;
}

int flint_sgemm_avx512_in_use(void) { return wide_kernel(); }

int flint_sgemm_avx512_supported(void) { return avx512_supported(); }

int flint_sgemm_use_avx512(int choice) {
    __atomic_store_n(&avx512_choice, choice < 0 ? -1 : choice > 0 && avx512_supported(), __ATOMIC_RELAXED);
    return wide_kernel();
}

// The depths of one k block as runs: run j covers `length[j]` consecutive depths, which each
// row of a gathered A's panel holds adjacent from `offset[j]` elements past its start (a
// convolution's taps along one image row).
typedef struct {
    long count;
    const long *offset, *length;
} depth_runs;

// kernel_6x16 for a whole panel of a gathered A read in place, row r starting at rows_a[r]:
// the products summed over the runs in order, as over one run of all the depths.
FLINT_AVX2 static void kernel_6x16_runs(const float *const *rows_a, depth_runs runs, const float *bp, float alpha,
                                        float beta, float *c, long ldc, long columns,
                                        const float *bias, int activation, float slope) {
    const long a_col = 1;
    FLINT_ZERO_TILE;
    for (long run = 0; run < runs.count; run++) {
        long start = runs.offset[run];
        const float *a0 = rows_a[0] + start, *a1 = rows_a[1] + start, *a2 = rows_a[2] + start, *a3 = rows_a[3] + start,
                    *a4 = rows_a[4] + start, *a5 = rows_a[5] + start;
        FLINT_DEPTHS(runs.length[run]);
    }
    __m256 tile[MR][2] = FLINT_TILE;
    store_tile(tile, alpha, beta, c, ldc, MR, columns, bias, activation, slope);
}

// kernel_6x32 for a whole panel of a gathered A read in place (see kernel_6x16_runs).
FLINT_AVX512 static void kernel_6x32_runs(const float *const *rows_a, depth_runs runs, const float *bp, const float *bq,
                                          float alpha, float beta, float *c, long ldc, long columns,
                                          const float *bias, int activation, float slope) {
    const long a_col = 1;
    FLINT_WIDE_ZERO_TILE;
    for (long run = 0; run < runs.count; run++) {
        long start = runs.offset[run];
        const float *a0 = rows_a[0] + start, *a1 = rows_a[1] + start, *a2 = rows_a[2] + start, *a3 = rows_a[3] + start,
                    *a4 = rows_a[4] + start, *a5 = rows_a[5] + start;
        FLINT_WIDE_DEPTHS(runs.length[run]);
    }
    __m512 acc[MR][2] = FLINT_WIDE_TILE;
    store_6x32(acc, alpha, beta, c, ldc, MR, columns, bias, activation, slope);
}
#undef FLINT_WIDE_STEP
#undef FLINT_WIDE_DEPTHS
#undef FLINT_WIDE_ZERO_TILE
#undef FLINT_WIDE_TILE
#undef FLINT_STEP
#undef FLINT_DEPTHS
#undef FLINT_ZERO_TILE
#undef FLINT_TILE

// A's element (i, p): base[i·row + p·col] (strided), or base[rows[i] + cols[p]] when `rows` is
// set (gathered: the column matrix of a convolution, read from the image without making it).
typedef struct {
    const float *base;
    long row, col;
    const long *rows, *cols;
    // A packed whole beforehand (flint_sgemm_pack_a), or NULL: k block pc's panels at
    // packed + rounded_rows(m) * pc, its rows from i at + i * kc.
    const float *packed;
} a_source;

// Rows i0..<i0+mc, depths p0..<p0+kc of a gathered A into MR-row panels, as pack_a.
static void pack_a_gathered(const a_source *a, long i0, long mc, long p0, long kc, float *out) {
    const long *cols = a->cols + p0;
    // Whole panels of MR adjacent rows each (the taps of a filter gradient: a filter position's
    // input channels): depth by depth across the panels, so that each depth's source lines (one
    // image position, its channels side by side) are read once rather than once per panel. One
    // Zen 5 core: the Keras convnet's second filter gradient (288×64×73728) 168–171 → 176–181
    // GFLOP/s; its training +0.3–2.8% (six alternated rounds, all faster).
    int all_adjacent = mc % MR == 0;
    for (long i = 0; i < mc && all_adjacent; i += MR)
        for (long r = 1; r < MR && all_adjacent; r++) all_adjacent = a->rows[i0 + i + r] == a->rows[i0 + i] + r;
    if (all_adjacent) {
        const long *offsets = a->rows + i0;
        for (long p = 0; p < kc; p++) {
            const float *source = a->base + cols[p];
            for (long i = 0; i < mc; i += MR) memcpy(out + i * kc + p * MR, source + offsets[i], MR * sizeof(float));
        }
        return;
    }
    for (long i = 0; i < mc; i += MR) {
        long rows = mc - i < MR ? mc - i : MR;
        const long *offsets = a->rows + i0 + i;
        int adjacent = rows == MR;
        for (long r = 1; r < rows && adjacent; r++) adjacent = offsets[r] == offsets[0] + r;
        if (adjacent) {
            // MR adjacent rows (the taps of a filter gradient): one copy per depth.
            for (long p = 0; p < kc; p++) memcpy(out + p * MR, a->base + offsets[0] + cols[p], MR * sizeof(float));
        } else {
            for (long p = 0; p < kc; p++) {
                for (long r = 0; r < rows; r++) out[p * MR + r] = a->base[offsets[r] + cols[p]];
                for (long r = rows; r < MR; r++) out[p * MR + r] = 0;
            }
        }
        out += kc * MR;
    }
}

// Where a gathered A's columns are adjacent (cols[p + 1] == cols[p] + 1): the first depth of
// each run into `starts` (ending with k) unless it is NULL; returns the number of runs.
static long gathered_runs(const long *cols, long k, long *starts) {
    long count = 0;
    for (long p = 0; p < k; p++)
        if (p == 0 || cols[p] != cols[p - 1] + 1) {
            if (starts) starts[count] = p;
            count++;
        }
    if (starts) starts[count] = k;
    return count;
}

// The runs of the k block p0..<p0+kc: `offset` from each row's start and `length`.
static depth_runs block_runs(const long *cols, const long *starts, long count, long p0, long kc, long *offset,
                             long *length) {
    depth_runs runs = {0, offset, length};
    for (long j = 0; j < count; j++) {
        long first = starts[j] > p0 ? starts[j] : p0, end = starts[j + 1] < p0 + kc ? starts[j + 1] : p0 + kc;
        if (first >= end) continue;
        offset[runs.count] = cols[first];
        length[runs.count++] = end - first;
    }
    return runs;
}

// The k blocks of a product: equal blocks of at most KC (a short last block would load and
// store C for little work).
static long k_step(long k) {
    long blocks = (k + KC - 1) / KC;
    return (k + blocks - 1) / blocks;
}

// B packed whole (flint_sgemm_pack): the panels of each NC column block and k block one after
// another, as sgemm_blocked packs them one at a time; block (jc, pc) starts at
// jc·k + pc·(its width rounded up to NR).
static long rounded_width(long nc) { return (nc + NR - 1) / NR * NR; }

// The most rows of A for which B is read in place (see b_in_place in sgemm_blocked). One Zen 5
// core, interleaved calls, packed → in place: 128×128×9216 (a Dense 9216 → 128 at batch 128)
// 182–188 → 193–201 GFLOP/s, 128×784×1024 217–219 → 231–233, an LSTM's kernel gradient
// 128×512×3584 208–210 → 214–215; at 256 rows 256×1024×784 lost 4%. Two cores, an LSTM band's
// weight-gradient step (156×512×64, [x_t | h_{t−1}]ᵀ · dz_t) 296–300 → 338–352 GFLOP/s.
#ifndef B_IN_PLACE_ROWS
#define B_IN_PLACE_ROWS 160
#endif

// The two B panels of the tile column at jr and the step between their depths: read in place
// (jr < in_place), or from the packed panels.
#define FLINT_B_PANELS(jr) \
    const float *bp = (jr) < in_place ? b_block + (jr) : panels + ((jr) - in_place) * kc; \
    const float *bq = (jr) < in_place ? bp + NR : bp + NR * kc; \
    long b_step = (jr) < in_place ? b_row : NR

// `prepacked`: B as flint_sgemm_pack left it (then b, b_row and b_col are unused), or NULL to
// pack each block here.
FLINT_AVX2 static void sgemm_blocked(long m, long n, long k, float alpha, const a_source *a,
                                     const float *b, long b_row, long b_col, const float *prepacked,
                                     float beta, float *c, long ldc, const flint_epilogue *epilogue) {
    if (m <= 0 || n <= 0) return;
    const float *bias = epilogue ? epilogue->bias : NULL;
    int activation = epilogue ? epilogue->activation : FLINT_ACTIVATION_NONE;
    float slope = epilogue ? epilogue->slope : 0;
    if (k <= 0) {
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++)
                c[i * ldc + j] = finish(beta != 0 ? beta * c[i * ldc + j] : 0, bias, j, activation, slope);
        return;
    }
    const int wide = wide_kernel();
    if (!packed_a) packed_a = aligned_floats((long)MC * KC);
    if (!packed_b && !prepacked) packed_b = aligned_floats((long)NC * KC);
    // Narrow products read A's row panels in place: packing A costs about as much as the product
    // when few B panels reuse it (3456×64×288, a convolution's forward: 72 → 94 GFLOP/s). A
    // gathered A in place needs long runs (an image's rows of taps, not a filter gradient's).
    // With AVX-512 a strided A is packed unless one B panel pair covers n: the 12×32 tile on
    // packed A beats the 6×32 one in place from two pairs on (one thread: 128×128×784, an MLP's
    // inference band, 86 → 120 GFLOP/s; 128×64×784 85 → 100; an LSTM step's 64×128×512
    // against its packed kernel 86 → 118).
    long run_count = a->rows ? gathered_runs(a->cols, k, NULL) : 0;
    int direct = a->packed ? 0 : a->rows ? n <= 512 && k >= 16 * run_count : a->col == 1 && n <= (wide ? 2 * NR : 512);
    // Then its runs of adjacent columns, and those of the current k block (few: k / 16 at most).
    long *run_starts = NULL, *run_offset = NULL, *run_length = NULL;
    if (a->rows && direct) {
        run_starts = malloc((size_t)(3 * run_count + 1) * sizeof(long));
        if (!run_starts) abort();
        run_offset = run_starts + run_count + 1;
        run_length = run_offset + run_count;
        gathered_runs(a->cols, k, run_starts);
    }
    // With AVX-512 and few rows of A, B's whole pairs of panels are read where they lie (rows of
    // B stored contiguously): packing them cost up to a quarter of the product there, the copies
    // read back by few tiles. The same products in the same order, so the same bits.
    int b_in_place = wide && !prepacked && !direct && b_col == 1 && m <= B_IN_PLACE_ROWS;
    for (long jc = 0; jc < n; jc += NC) {
        long nc = n - jc < NC ? n - jc : NC;
        long step = k_step(k);
        for (long pc = 0; pc < k; pc += step) {
            long kc = k - pc < step ? k - pc : step;
            // The first k block applies the caller's beta; later ones add to what it wrote.
            float block_beta = pc == 0 ? beta : 1;
            // The last k block stores each element for the last time: the epilogue goes there.
            int last = pc + kc >= k;
            const float *panels = prepacked ? prepacked + jc * k + pc * rounded_width(nc) : packed_b;
            // Columns below `in_place` are read in place, the rest from `panels`.
            long in_place = b_in_place ? nc / (2 * NR) * (2 * NR) : 0;
            const float *b_block = in_place ? b + pc * b_row + jc * b_col : NULL;
            if (!prepacked && in_place < nc)
                pack_b(kc, nc - in_place, b + pc * b_row + (jc + in_place) * b_col, b_row, b_col, packed_b);
            // The runs of this block where a gathered A is read in place.
            depth_runs place_runs = {0, run_offset, run_length};
            if (a->rows && direct) place_runs = block_runs(a->cols, run_starts, run_count, pc, kc, run_offset, run_length);
            for (long ic = 0; ic < m; ic += MC) {
                long mc = m - ic < MC ? m - ic : MC;
                // Whole row panels in place when direct; the last partial one is always packed.
                long whole = direct ? mc / MR * MR : 0;
                const float *pa = packed_a;
                if (whole < mc) {
                    if (a->packed)
                        pa = a->packed + (m + MR - 1) / MR * MR * pc + ic * kc;
                    else if (a->rows)
                        pack_a_gathered(a, ic + whole, mc - whole, pc, kc, packed_a);
                    else
                        pack_a(mc - whole, kc, a->base + (ic + whole) * a->row + pc * a->col, a->row, a->col, packed_a);
                }
                // With AVX-512, the panels read in place take two B panels at a time (6×32), and so
                // does the last packed panel when the packed ones do not pair up (a batch's last
                // rows, which the 6×16 kernel would run at half the speed).
                long paired = wide ? whole : 0, packed_panels = (mc - whole + MR - 1) / MR;
                long odd = wide && packed_panels % 2 == 1 ? whole + (packed_panels - 1) * MR : mc;
                for (long jr = 0; jr < nc && (paired > 0 || odd < mc); jr += 2 * NR) {
                    long columns = nc - jr < 2 * NR ? nc - jr : 2 * NR;
                    const float *tile_bias = last && bias ? bias + jc + jr : NULL;
                    int tile_activation = last ? activation : FLINT_ACTIVATION_NONE;
                    FLINT_B_PANELS(jr);
                    for (long ir = 0; ir < paired; ir += MR) {
                        float *tile = c + (ic + ir) * ldc + jc + jr;
                        if (a->rows) {
                            const float *panel[MR];
                            for (int r = 0; r < MR; r++) panel[r] = a->base + a->rows[ic + ir + r];
                            if (columns > NR)
                                kernel_6x32_runs(panel, place_runs, bp, bq, alpha, block_beta, tile, ldc, columns, tile_bias,
                                                 tile_activation, slope);
                            else
                                kernel_6x16_runs(panel, place_runs, bp, alpha, block_beta, tile, ldc, columns, tile_bias,
                                                 tile_activation, slope);
                        } else {
                            const float *first = a->base + (ic + ir) * a->row + pc * a->col;
                            if (columns > NR)
                                kernel_6x32(kc, first, a->row, a->col, bp, bq, b_step, alpha, block_beta, tile, ldc, MR, columns,
                                            tile_bias, tile_activation, slope);
                            else
                                kernel_6x16(kc, first, a->row, a->col, bp, alpha, block_beta, tile, ldc, MR, columns,
                                            tile_bias, tile_activation, slope);
                        }
                    }
                    if (odd < mc) {
                        float *tile = c + (ic + odd) * ldc + jc + jr;
                        const float *panel = pa + (odd - whole) * kc;
                        if (columns > NR)
                            kernel_packed_rows_6x32(kc, panel, bp, bq, b_step, alpha, block_beta, tile, ldc, mc - odd, columns,
                                                    tile_bias, tile_activation, slope);
                        else
                            kernel_packed_rows(kc, panel, bp, alpha, block_beta, tile, ldc, mc - odd, columns, tile_bias,
                                               tile_activation, slope);
                    }
                }
                // With AVX-512 the packed panels go in pairs against pairs of B panels (12×32),
                // or against the last single one (12×16).
                for (long jr = 0; wide && jr < nc; jr += 2 * NR) {
                    long columns = nc - jr < 2 * NR ? nc - jr : 2 * NR;
                    const float *tile_bias = last && bias ? bias + jc + jr : NULL;
                    int tile_activation = last ? activation : FLINT_ACTIVATION_NONE;
                    FLINT_B_PANELS(jr);
                    for (long ir = paired; ir < odd; ir += 2 * MR) {
                        // The second panel may be partial: packing zero-fills it.
                        long pair_rows = mc - ir < 2 * MR ? mc - ir : 2 * MR;
                        float *tile = c + (ic + ir) * ldc + jc + jr;
                        const float *pair = pa + (ir - whole) * kc;
                        if (columns > NR)
                            kernel_12x32_packed(kc, pair, bp, bq, b_step, alpha, block_beta, tile, ldc, pair_rows, columns, tile_bias,
                                                tile_activation, slope);
                        else
                            kernel_12x16_packed(kc, pair, bp, alpha, block_beta, tile, ldc, pair_rows, columns, tile_bias,
                                                tile_activation, slope);
                    }
                }
                // The 6×16 tiles: down each B panel (it stays in L1 while packed A panels stream
                // from L2), except where A is read in place and the packed B block fits in about
                // L2: then along each row panel, whose six strided rows stay in L1 while B's
                // panels stream in order. A Zen 3 core, interleaved one-thread calls: 64×512×128
                // (an LSTM step) +1–10%, 256×512×784 +6–15%, 1792×512×28 +6–13%, 4032×64×288
                // 0–3%. The tiles are the same, so are the bits.
                long across = (nc + NR - 1) / NR, down = (odd - paired + MR - 1) / MR;
                int along_rows = direct && nc * kc <= (1L << 18);
                for (long t = 0; !wide && t < across * down; t++) {
                    long jr = (along_rows ? t % across : t / down) * NR;
                    long ir = paired + (along_rows ? t / across : t % down) * MR;
                    long columns = nc - jr < NR ? nc - jr : NR;
                    long rows = mc - ir < MR ? mc - ir : MR;
                    float *tile = c + (ic + ir) * ldc + jc + jr;
                    const float *tile_bias = last && bias ? bias + jc + jr : NULL;
                    int tile_activation = last ? activation : FLINT_ACTIVATION_NONE;
                    if (ir >= whole) {
                        kernel_packed_rows(kc, pa + (ir - whole) * kc, panels + jr * kc, alpha, block_beta, tile,
                                           ldc, rows, columns, tile_bias, tile_activation, slope);
                    } else if (a->rows) {
                        const float *panel[MR];
                        for (int r = 0; r < MR; r++) panel[r] = a->base + a->rows[ic + ir + r];
                        kernel_6x16_runs(panel, place_runs, panels + jr * kc, alpha, block_beta, tile, ldc, columns,
                                         tile_bias, tile_activation, slope);
                    } else {
                        kernel_6x16(kc, a->base + (ic + ir) * a->row + pc * a->col, a->row, a->col, panels + jr * kc,
                                    alpha, block_beta, tile, ldc, rows, columns, tile_bias, tile_activation, slope);
                    }
                }
            }
        }
    }
    free(run_starts);
}

void flint_sgemm(long m, long n, long k, float alpha, const float *a, long a_row, long a_col,
                 const float *b, long b_row, long b_col, float beta, float *c, long ldc, const flint_epilogue *epilogue) {
    a_source source = {a, a_row, a_col, NULL, NULL, NULL};
    sgemm_blocked(m, n, k, alpha, &source, b, b_row, b_col, NULL, beta, c, ldc, epilogue);
}

long flint_sgemm_packed_size(long k, long n) { return k * rounded_width(n); }

void flint_sgemm_pack(long k, long n, const float *b, long b_row, long b_col, float *out) {
    if (k <= 0) return;  // nothing to pack (and no k blocks to size)
    for (long jc = 0; jc < n; jc += NC) {
        long nc = n - jc < NC ? n - jc : NC, step = k_step(k);
        for (long pc = 0; pc < k; pc += step) {
            long kc = k - pc < step ? k - pc : step;
            pack_b(kc, nc, b + pc * b_row + jc * b_col, b_row, b_col, out + jc * k + pc * rounded_width(nc));
        }
    }
}

void flint_sgemm_packed(long m, long n, long k, float alpha, const float *a, long a_row, long a_col,
                        const float *packed, float beta, float *c, long ldc, const flint_epilogue *epilogue) {
    a_source source = {a, a_row, a_col, NULL, NULL, NULL};
    sgemm_blocked(m, n, k, alpha, &source, NULL, 0, 0, packed, beta, c, ldc, epilogue);
}

long flint_sgemm_packed_a_size(long m, long k) { return (m + MR - 1) / MR * MR * k; }

int flint_sgemm_packs_a(long n, long a_col) { return !(a_col == 1 && n <= (wide_kernel() ? 2 * NR : 512)); }

void flint_sgemm_pack_a(long m, long k, long first_panel, long panels, const float *a, long a_row, long a_col, float *out) {
    if (k <= 0) return;
    long rows = (m + MR - 1) / MR * MR, step = k_step(k);
    for (long pc = 0; pc < k; pc += step) {
        long kc = k - pc < step ? k - pc : step;
        for (long q = first_panel; q < first_panel + panels && q * MR < m; q++) {
            long count = m - q * MR < MR ? m - q * MR : MR;
            pack_a(count, kc, a + q * MR * a_row + pc * a_col, a_row, a_col, out + rows * pc + q * MR * kc);
        }
    }
}

void flint_sgemm_a_packed(long m, long n, long k, float alpha, const float *packed, const float *b, long b_row, long b_col,
                          float beta, float *c, long ldc, const flint_epilogue *epilogue) {
    a_source source = {NULL, 0, 0, NULL, NULL, packed};
    sgemm_blocked(m, n, k, alpha, &source, b, b_row, b_col, NULL, beta, c, ldc, epilogue);
}

// The calling thread's buffer for an A that its product's tasks share (flint_sgemm_pack_a).
static _Thread_local float *shared_a;
static _Thread_local long shared_a_capacity;

float *flint_sgemm_shared_floats(long count) {
    if (count > shared_a_capacity) {
        free(shared_a);
        shared_a_capacity = count;
        shared_a = aligned_floats(shared_a_capacity);
    }
    return shared_a;
}

void flint_sgemm_gathered(long m, long n, long k, float alpha, const float *a, const long *a_rows, const long *a_cols,
                          const float *b, long b_row, long b_col, float beta, float *c, long ldc,
                          const flint_epilogue *epilogue) {
    a_source source = {a, 0, 0, a_rows, a_cols, NULL};
    sgemm_blocked(m, n, k, alpha, &source, b, b_row, b_col, NULL, beta, c, ldc, epilogue);
}

void flint_sgemm_gathered_packed(long m, long n, long k, float alpha, const float *a, const long *a_rows, const long *a_cols,
                                 const float *packed, float beta, float *c, long ldc, const flint_epilogue *epilogue) {
    a_source source = {a, 0, 0, a_rows, a_cols, NULL};
    sgemm_blocked(m, n, k, alpha, &source, NULL, 0, 0, packed, beta, c, ldc, epilogue);
}

// Thread-local scratch for gemv: x made contiguous, or the sums of the column form.
static _Thread_local float *gemv_scratch;
static _Thread_local long gemv_capacity;

static void release_thread_buffers(void *unused) {
    (void)unused;
    free(packed_a);
    free(packed_b);
    free(gemv_scratch);
    free(shared_a);
    packed_a = packed_b = gemv_scratch = shared_a = NULL;
    gemv_capacity = shared_a_capacity = 0;
    release_registered = 0;
}

static float *scratch_floats(long count) {
    if (count > gemv_capacity) {
        free(gemv_scratch);
        gemv_capacity = count < 4096 ? 4096 : count;
        gemv_scratch = aligned_floats(gemv_capacity);
    }
    return gemv_scratch;
}

FLINT_AVX2 static float horizontal_sum(__m256 v) {
    __m128 low = _mm256_castps256_ps128(v), high = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(low, high);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

FLINT_AVX2 static void store_y(float *y, float alpha, float beta, float sum) {
    *y = beta != 0 ? alpha * sum + beta * *y : alpha * sum;
}

FLINT_AVX2 void flint_sgemv(long rows, long columns, float alpha, const float *m, long m_row, long m_col,
                            const float *x, long incx, float beta, float *y, long incy) {
    if (rows <= 0) return;
    if (columns <= 0 || (m_col != 1 && m_row != 1)) {
        // Empty sums, or a matrix dense along neither axis: plain loops.
        for (long i = 0; i < rows; i++) {
            float sum = 0;
            for (long j = 0; j < columns; j++) sum += m[i * m_row + j * m_col] * x[j * incx];
            store_y(y + i * incy, alpha, beta, sum);
        }
        return;
    }
    if (m_col == 1) {
        // Rows contiguous: one dot product per row, four rows at a time.
        const float *v = x;
        if (incx != 1) {
            float *copy = scratch_floats(columns);
            for (long j = 0; j < columns; j++) copy[j] = x[j * incx];
            v = copy;
        }
        long i = 0;
        for (; i + 4 <= rows; i += 4) {
            const float *r0 = m + i * m_row, *r1 = r0 + m_row, *r2 = r1 + m_row, *r3 = r2 + m_row;
            __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
            long j = 0;
            for (; j + 8 <= columns; j += 8) {
                __m256 xv = _mm256_loadu_ps(v + j);
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + j), xv, s0);
                s1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + j), xv, s1);
                s2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + j), xv, s2);
                s3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + j), xv, s3);
            }
            float t0 = horizontal_sum(s0), t1 = horizontal_sum(s1), t2 = horizontal_sum(s2), t3 = horizontal_sum(s3);
            for (; j < columns; j++) {
                t0 += r0[j] * v[j]; t1 += r1[j] * v[j]; t2 += r2[j] * v[j]; t3 += r3[j] * v[j];
            }
            store_y(y + i * incy, alpha, beta, t0);
            store_y(y + (i + 1) * incy, alpha, beta, t1);
            store_y(y + (i + 2) * incy, alpha, beta, t2);
            store_y(y + (i + 3) * incy, alpha, beta, t3);
        }
        for (; i < rows; i++) {
            const float *r = m + i * m_row;
            __m256 s0 = _mm256_setzero_ps();
            long j = 0;
            for (; j + 8 <= columns; j += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(r + j), _mm256_loadu_ps(v + j), s0);
            float t = horizontal_sum(s0);
            for (; j < columns; j++) t += r[j] * v[j];
            store_y(y + i * incy, alpha, beta, t);
        }
        return;
    }
    // Columns contiguous (m_row == 1): y accumulates x[j] times column j, 64 rows at a time
    // held in registers while every column streams past.
    float *sums = scratch_floats(rows);
    long i = 0;
    for (; i + 64 <= rows; i += 64) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        __m256 a4 = _mm256_setzero_ps(), a5 = _mm256_setzero_ps(), a6 = _mm256_setzero_ps(), a7 = _mm256_setzero_ps();
        for (long j = 0; j < columns; j++) {
            const float *col = m + i + j * m_col;
            __m256 xj = _mm256_set1_ps(x[j * incx]);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(col), xj, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 8), xj, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 16), xj, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 24), xj, a3);
            a4 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 32), xj, a4);
            a5 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 40), xj, a5);
            a6 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 48), xj, a6);
            a7 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 56), xj, a7);
        }
        _mm256_storeu_ps(sums + i, a0); _mm256_storeu_ps(sums + i + 8, a1);
        _mm256_storeu_ps(sums + i + 16, a2); _mm256_storeu_ps(sums + i + 24, a3);
        _mm256_storeu_ps(sums + i + 32, a4); _mm256_storeu_ps(sums + i + 40, a5);
        _mm256_storeu_ps(sums + i + 48, a6); _mm256_storeu_ps(sums + i + 56, a7);
    }
    for (; i < rows; i++) {
        float t = 0;
        // The same fused multiply-adds in the same order as the vector loop above.
        for (long j = 0; j < columns; j++) t = __builtin_fmaf(m[i + j * m_col], x[j * incx], t);
        sums[i] = t;
    }
    for (i = 0; i < rows; i++) store_y(y + i * incy, alpha, beta, sums[i]);
}

#else

int flint_sgemm_supported(void) { return 0; }

int flint_sgemm_use_avx512(int choice) { (void)choice; return 0; }
int flint_sgemm_avx512_in_use(void) { return 0; }
int flint_sgemm_avx512_supported(void) { return 0; }
int flint_sgemm_use_register_broadcasts(int choice) { (void)choice; return 0; }

void flint_sgemm(long m, long n, long k, float alpha, const float *a, long a_row, long a_col,
                 const float *b, long b_row, long b_col, float beta, float *c, long ldc, const flint_epilogue *epilogue) {
    (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)a_row; (void)a_col;
    (void)b; (void)b_row; (void)b_col; (void)beta; (void)c; (void)ldc; (void)epilogue;
    abort();  // callers check flint_sgemm_supported() first
}

void flint_sgemm_gathered(long m, long n, long k, float alpha, const float *a, const long *a_rows, const long *a_cols,
                          const float *b, long b_row, long b_col, float beta, float *c, long ldc,
                          const flint_epilogue *epilogue) {
    (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)a_rows; (void)a_cols;
    (void)b; (void)b_row; (void)b_col; (void)beta; (void)c; (void)ldc; (void)epilogue;
    abort();  // callers check flint_sgemm_supported() first
}

void flint_sgemm_gathered_packed(long m, long n, long k, float alpha, const float *a, const long *a_rows, const long *a_cols,
                                 const float *packed, float beta, float *c, long ldc, const flint_epilogue *epilogue) {
    (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)a_rows; (void)a_cols;
    (void)packed; (void)beta; (void)c; (void)ldc; (void)epilogue;
    abort();
}

void flint_apply_epilogue(long rows, long columns, float *c, long ldc, const flint_epilogue *epilogue) {
    (void)rows; (void)columns; (void)c; (void)ldc; (void)epilogue;
    abort();
}

long flint_sgemm_packed_size(long k, long n) { return k * n; }
long flint_sgemm_packed_a_size(long m, long k) { return m * k; }
int flint_sgemm_packs_a(long n, long a_col) { (void)n; (void)a_col; return 0; }
float *flint_sgemm_shared_floats(long count) { (void)count; abort(); }

void flint_sgemm_pack_a(long m, long k, long first_panel, long panels, const float *a, long a_row, long a_col, float *out) {
    (void)m; (void)k; (void)first_panel; (void)panels; (void)a; (void)a_row; (void)a_col; (void)out;
    abort();
}

void flint_sgemm_a_packed(long m, long n, long k, float alpha, const float *packed, const float *b, long b_row, long b_col,
                          float beta, float *c, long ldc, const flint_epilogue *epilogue) {
    (void)m; (void)n; (void)k; (void)alpha; (void)packed; (void)b; (void)b_row; (void)b_col;
    (void)beta; (void)c; (void)ldc; (void)epilogue;
    abort();
}

void flint_sgemm_pack(long k, long n, const float *b, long b_row, long b_col, float *out) {
    (void)k; (void)n; (void)b; (void)b_row; (void)b_col; (void)out;
    abort();
}

void flint_sgemm_packed(long m, long n, long k, float alpha, const float *a, long a_row, long a_col,
                        const float *packed, float beta, float *c, long ldc, const flint_epilogue *epilogue) {
    (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)a_row; (void)a_col;
    (void)packed; (void)beta; (void)c; (void)ldc; (void)epilogue;
    abort();
}

void flint_sgemv(long rows, long columns, float alpha, const float *m, long m_row, long m_col,
                 const float *x, long incx, float beta, float *y, long incy) {
    (void)rows; (void)columns; (void)alpha; (void)m; (void)m_row; (void)m_col;
    (void)x; (void)incx; (void)beta; (void)y; (void)incy;
    abort();
}

#endif
