// Batched GEMM: C[b] = alpha * A[b] . B[b] + beta * C[b]; A is m x k, B is k x n, C is m x n.
// Element [b][r][c] of an operand lives at off + b * bs + r * rs + c * cs (in elements). C is
// row-major (cs == 1). `gemm` reads A and B row-major: the host copies a column-major
// (transposed) operand to row-major scratch memory first, except that `gemm_bt` (below) reads a
// column-major B in place when C has few rows. `gemm_tiled` reads either layout in place: bit 0
// of its `trans` argument says A is column-major (element (r, k) at a[k * lda + r]), bit 1 that B
// is (element (k, c) at b[c * ldb + k]). `gemm` takes the same arguments and requires trans 0.
//
// Every kernel here sums each element of C in the same order, one fma per k from k = 0 upwards,
// so the variants (and every tuning of them) give bit-identical results; only the split-K path
// (`gemm_splitk_combine`, chosen by shape alone) and `gemm_bt` sum in another order.
//
// `gemm`: register tiling without local memory (fast on CPU devices such as PoCL). Each
// work-item computes a GEMM_TM x (GEMM_VN * GEMM_VW) block of C, holding GEMM_TM x GEMM_VN
// accumulator vectors of GEMM_VW floats. For every k it loads GEMM_VN vectors of B's row and
// multiplies them by the GEMM_TM scalars of A's column. Rows past m are clamped (computed twice,
// stored once); a block that crosses the right edge of C loads B's columns one by one, clamped
// to n - 1. The NDRange is (ceil(n / (VN * VW)), ceil(m / TM), batch).

#ifndef GEMM_TM
#define GEMM_TM 8
#endif
#ifndef GEMM_VW
#define GEMM_VW 16
#endif
#ifndef GEMM_VN
#define GEMM_VN 1
#endif

#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)
#define VFLOAT GEMM_CAT(float, GEMM_VW)
#define VLOAD GEMM_CAT(vload, GEMM_VW)
#define VSTORE GEMM_CAT(vstore, GEMM_VW)
#define GEMM_COLS (GEMM_VW * GEMM_VN)

// B's row kk, columns col0 .. col0 + VW - 1, each column clamped to n - 1.
inline VFLOAT gemm_load_b_edge(__global const float *b, int b_rs, int kk, int col0, int n) {
    float lanes[GEMM_VW];
    for (int j = 0; j < GEMM_VW; ++j) lanes[j] = b[kk * b_rs + min(col0 + j, n - 1)];
    return VLOAD(0, lanes);
}

// One k step of the register tile: acc[i][v] += A[row i][kk] * B[kk][vector v].
#define GEMM_STEP(KK, LOAD_B)                                                        \
    {                                                                                \
        VFLOAT bv[GEMM_VN];                                                          \
        _Pragma("unroll") for (int v = 0; v < GEMM_VN; ++v) bv[v] = LOAD_B(KK, v);   \
        _Pragma("unroll") for (int i = 0; i < GEMM_TM; ++i) {                        \
            VFLOAT av = (VFLOAT)(arow[i][KK]);                                       \
            _Pragma("unroll") for (int v = 0; v < GEMM_VN; ++v)                      \
                acc[i][v] = fma(av, bv[v], acc[i][v]);                               \
        }                                                                            \
    }
#define GEMM_LOAD_FULL(KK, V) VLOAD(V, bp + (KK) * ldb)
#define GEMM_LOAD_EDGE(KK, V) gemm_load_b_edge(b, ldb, (KK), col0 + (V) * GEMM_VW, n)

__kernel void gemm(int m, int n, int k, float alpha,
        __global const float *a, int a_off, int lda, int a_bs,
        __global const float *b, int b_off, int ldb, int b_bs,
        float beta, __global float *c, int c_off, int ldc, int c_bs, int trans) {
    (void)trans;
    int col0 = get_global_id(0) * GEMM_COLS;
    int row0 = get_global_id(1) * GEMM_TM;
    int batch = get_global_id(2);
    if (col0 >= n || row0 >= m) return;
    a += a_off + batch * a_bs;
    b += b_off + batch * b_bs;
    c += c_off + batch * c_bs;
    __global const float *arow[GEMM_TM];
    for (int i = 0; i < GEMM_TM; ++i) arow[i] = a + min(row0 + i, m - 1) * lda;
    VFLOAT acc[GEMM_TM][GEMM_VN];
    for (int i = 0; i < GEMM_TM; ++i)
        for (int v = 0; v < GEMM_VN; ++v) acc[i][v] = (VFLOAT)(0.0f);
    bool full = col0 + GEMM_COLS <= n;
    if (full) {
        __global const float *bp = b + col0;
        int kk = 0;
        for (; kk + 4 <= k; kk += 4) {
            GEMM_STEP(kk, GEMM_LOAD_FULL)
            GEMM_STEP(kk + 1, GEMM_LOAD_FULL)
            GEMM_STEP(kk + 2, GEMM_LOAD_FULL)
            GEMM_STEP(kk + 3, GEMM_LOAD_FULL)
        }
        for (; kk < k; ++kk) GEMM_STEP(kk, GEMM_LOAD_FULL)
    } else {
        for (int kk = 0; kk < k; ++kk) GEMM_STEP(kk, GEMM_LOAD_EDGE)
    }
    for (int i = 0; i < GEMM_TM; ++i) {
        int r = row0 + i;
        if (r >= m) break;
        __global float *cp = c + r * ldc + col0;
        for (int v = 0; v < GEMM_VN; ++v) {
            int first = col0 + v * GEMM_VW;
            if (first >= n) break;
            if (first + GEMM_VW <= n) {
                VFLOAT out = alpha * acc[i][v];
                if (beta != 0.0f) out += beta * VLOAD(v, cp);
                VSTORE(out, v, cp);
            } else {
                float lanes[GEMM_VW];
                VSTORE(acc[i][v], 0, lanes);
                for (int j = 0; j < n - first; ++j) {
                    float out = alpha * lanes[j];
                    if (beta != 0.0f) out += beta * cp[v * GEMM_VW + j];
                    cp[v * GEMM_VW + j] = out;
                }
            }
        }
    }
}


// ---- gemm_bt: B column-major (B^T row-major), for few rows of C -------------------------------
//
// Element (kk, col) of B lives at col * ldb + kk, so both A's rows and B's columns run along k:
// each work-item computes a GEMM_BT_TM x GEMM_BT_TN block of C as dot products, GEMM_VW terms at a
// time in vector accumulators, summed across lanes at the end. Rows and columns past the edge are
// clamped (computed, never stored). The host uses it when C has few rows, where copying B to
// row-major would cost more than the product.

#ifndef GEMM_BT_TM
#define GEMM_BT_TM 4
#endif
#ifndef GEMM_BT_TN
#define GEMM_BT_TN 4
#endif

inline float gemm_lane_sum(VFLOAT v) {
    float lanes[GEMM_VW];
    VSTORE(v, 0, lanes);
    float sum = 0.0f;
    for (int l = 0; l < GEMM_VW; ++l) sum += lanes[l];
    return sum;
}

__kernel void gemm_bt(int m, int n, int k, float alpha,
        __global const float *a, int a_off, int lda, int a_bs,
        __global const float *b, int b_off, int ldb, int b_bs,
        float beta, __global float *c, int c_off, int ldc, int c_bs) {
    int col0 = get_global_id(0) * GEMM_BT_TN;
    int row0 = get_global_id(1) * GEMM_BT_TM;
    int batch = get_global_id(2);
    if (col0 >= n || row0 >= m) return;
    a += a_off + batch * a_bs;
    b += b_off + batch * b_bs;
    c += c_off + batch * c_bs;
    int arow[GEMM_BT_TM], bcol[GEMM_BT_TN];
    for (int i = 0; i < GEMM_BT_TM; ++i) arow[i] = min(row0 + i, m - 1) * lda;
    for (int j = 0; j < GEMM_BT_TN; ++j) bcol[j] = min(col0 + j, n - 1) * ldb;
    VFLOAT acc[GEMM_BT_TM][GEMM_BT_TN];
    for (int i = 0; i < GEMM_BT_TM; ++i)
        for (int j = 0; j < GEMM_BT_TN; ++j) acc[i][j] = (VFLOAT)(0.0f);
    int kk = 0;
    for (; kk + GEMM_VW <= k; kk += GEMM_VW) {
        VFLOAT av[GEMM_BT_TM], bv[GEMM_BT_TN];
        for (int i = 0; i < GEMM_BT_TM; ++i) av[i] = VLOAD(0, a + arow[i] + kk);
        for (int j = 0; j < GEMM_BT_TN; ++j) bv[j] = VLOAD(0, b + bcol[j] + kk);
        for (int i = 0; i < GEMM_BT_TM; ++i)
            for (int j = 0; j < GEMM_BT_TN; ++j) acc[i][j] += av[i] * bv[j];
    }
    for (int i = 0; i < GEMM_BT_TM; ++i) {
        int r = row0 + i;
        if (r >= m) break;
        for (int j = 0; j < GEMM_BT_TN; ++j) {
            int col = col0 + j;
            if (col >= n) break;
            float sum = gemm_lane_sum(acc[i][j]);
            for (int t = kk; t < k; ++t) sum += a[arow[i] + t] * b[bcol[j] + t];
            float v = alpha * sum;
            if (beta != 0.0f) v += beta * c[r * ldc + col];
            c[r * ldc + col] = v;
        }
    }
}


// ---- gemm_tiled: local-memory tiles for GPUs -------------------------------------------------
//
// A work-group of GEMM_WG_N x GEMM_WG_M work-items computes a GEMM_TILE_M x GEMM_TILE_N tile of
// C (CLBlast's MWG x NWG with MDIMC x NDIMC threads). For each step of GEMM_TILE_K along k the
// group copies A's tile (transposed, padded against bank conflicts) and B's tile into local
// memory, coalesced, then every work-item multiplies its register block of
// (TILE_M / WG_M) x (TILE_N / WG_N) elements, strided by WG_M rows and WG_N columns so that
// neighbouring work-items read neighbouring local words and store neighbouring columns of C.
// Tiles that reach past m, n or k are filled with zeros and the zero steps are skipped, so
// every element is summed exactly as `gemm` sums it. `gemm_tiled_vec` copies interior tiles
// with GEMM_TILE_VW-wide loads; the host picks it only when every offset and stride of A and B
// is a multiple of that width. The NDRange is (ceil(n / TILE_N) * WG_N, ceil(m / TILE_M) * WG_M,
// batch) in groups of (WG_N, WG_M, 1).

#ifndef GEMM_TILE_M
#define GEMM_TILE_M 64
#endif
#ifndef GEMM_TILE_N
#define GEMM_TILE_N 64
#endif
#ifndef GEMM_TILE_K
#define GEMM_TILE_K 16
#endif
#ifndef GEMM_WG_M
#define GEMM_WG_M 16
#endif
#ifndef GEMM_WG_N
#define GEMM_WG_N 16
#endif
#ifndef GEMM_TILE_VW
#define GEMM_TILE_VW 4
#endif

#define GEMM_WPT_M (GEMM_TILE_M / GEMM_WG_M)
#define GEMM_WPT_N (GEMM_TILE_N / GEMM_WG_N)
#define GEMM_THREADS (GEMM_WG_M * GEMM_WG_N)
#define TFLOAT GEMM_CAT(float, GEMM_TILE_VW)
#define TSTORE GEMM_CAT(vstore, GEMM_TILE_VW)

#if GEMM_TILE_M % GEMM_WG_M != 0 || GEMM_TILE_N % GEMM_WG_N != 0
#error "GEMM_TILE_M and GEMM_TILE_N must be multiples of GEMM_WG_M and GEMM_WG_N"
#endif
#if GEMM_TILE_VW < 2 || GEMM_TILE_K % GEMM_TILE_VW != 0 || GEMM_TILE_N % GEMM_TILE_VW != 0
#error "GEMM_TILE_VW must be 2, 4, 8 or 16, and divide GEMM_TILE_K and GEMM_TILE_N"
#endif

// Copies A's rows row_base.., columns k0.. and B's rows k0.., columns col_base.. into the local
// tiles, zero outside the matrices. VEC: whole interior tiles of a row-major operand move
// GEMM_TILE_VW floats at a time through aligned vector pointers. A column-major operand is read
// with neighbouring work-items on neighbouring addresses (along m for A, along k for B).
#define GEMM_TILED_LOAD(VEC)                                                          \
    if (trans & 1) {                                                                  \
        for (int e = tid; e < GEMM_TILE_M * GEMM_TILE_K; e += GEMM_THREADS) {          \
            int kk = e / GEMM_TILE_M, r = e - kk * GEMM_TILE_M;                        \
            int gr = row_base + r, gk = k0 + kk;                                       \
            as[kk][r] = gr < m && gk < k ? a[gk * lda + gr] : 0.0f;                    \
        }                                                                              \
    } else if (VEC && row_base + GEMM_TILE_M <= m && k0 + GEMM_TILE_K <= k) {         \
        for (int e = tid; e < GEMM_TILE_M * GEMM_TILE_K / GEMM_TILE_VW; e += GEMM_THREADS) { \
            int r = e / (GEMM_TILE_K / GEMM_TILE_VW);                                  \
            int kv = (e - r * (GEMM_TILE_K / GEMM_TILE_VW)) * GEMM_TILE_VW;            \
            TFLOAT v = *(__global const TFLOAT *)(a + (row_base + r) * lda + k0 + kv); \
            float lanes[GEMM_TILE_VW];                                                 \
            TSTORE(v, 0, lanes);                                                       \
            for (int l = 0; l < GEMM_TILE_VW; ++l) as[kv + l][r] = lanes[l];           \
        }                                                                              \
    } else {                                                                           \
        for (int e = tid; e < GEMM_TILE_M * GEMM_TILE_K; e += GEMM_THREADS) {          \
            int r = e / GEMM_TILE_K, kk = e - r * GEMM_TILE_K;                         \
            int gr = row_base + r, gk = k0 + kk;                                       \
            as[kk][r] = gr < m && gk < k ? a[gr * lda + gk] : 0.0f;                    \
        }                                                                              \
    }                                                                                  \
    if (trans & 2) {                                                                  \
        for (int e = tid; e < GEMM_TILE_K * GEMM_TILE_N; e += GEMM_THREADS) {          \
            int cc = e / GEMM_TILE_K, kk = e - cc * GEMM_TILE_K;                       \
            int gk = k0 + kk, gc = col_base + cc;                                      \
            bs[kk][cc] = gk < k && gc < n ? b[gc * ldb + gk] : 0.0f;                   \
        }                                                                              \
    } else if (VEC && col_base + GEMM_TILE_N <= n && k0 + GEMM_TILE_K <= k) {         \
        for (int e = tid; e < GEMM_TILE_K * GEMM_TILE_N / GEMM_TILE_VW; e += GEMM_THREADS) { \
            int kk = e / (GEMM_TILE_N / GEMM_TILE_VW);                                 \
            int cv = (e - kk * (GEMM_TILE_N / GEMM_TILE_VW)) * GEMM_TILE_VW;           \
            TFLOAT v = *(__global const TFLOAT *)(b + (k0 + kk) * ldb + col_base + cv); \
            float lanes[GEMM_TILE_VW];                                                 \
            TSTORE(v, 0, lanes);                                                       \
            for (int l = 0; l < GEMM_TILE_VW; ++l) bs[kk][cv + l] = lanes[l];          \
        }                                                                              \
    } else {                                                                           \
        for (int e = tid; e < GEMM_TILE_K * GEMM_TILE_N; e += GEMM_THREADS) {          \
            int kk = e / GEMM_TILE_N, cc = e - kk * GEMM_TILE_N;                       \
            int gk = k0 + kk, gc = col_base + cc;                                      \
            bs[kk][cc] = gk < k && gc < n ? b[gk * ldb + gc] : 0.0f;                   \
        }                                                                              \
    }

// One k step of the register block, from the local tiles.
#define GEMM_TILED_STEP(KK)                                                           \
    {                                                                                 \
        float bv[GEMM_WPT_N];                                                         \
        _Pragma("unroll") for (int j = 0; j < GEMM_WPT_N; ++j) bv[j] = bs[KK][tx + j * GEMM_WG_N]; \
        _Pragma("unroll") for (int i = 0; i < GEMM_WPT_M; ++i) {                      \
            float av = as[KK][ty + i * GEMM_WG_M];                                    \
            _Pragma("unroll") for (int j = 0; j < GEMM_WPT_N; ++j) acc[i][j] = fma(av, bv[j], acc[i][j]); \
        }                                                                             \
    }

#define GEMM_TILED_KERNEL(NAME, VEC)                                                  \
__kernel __attribute__((reqd_work_group_size(GEMM_WG_N, GEMM_WG_M, 1)))               \
void NAME(int m, int n, int k, float alpha,                                           \
        __global const float *a, int a_off, int lda, int a_bs,                        \
        __global const float *b, int b_off, int ldb, int b_bs,                        \
        float beta, __global float *c, int c_off, int ldc, int c_bs, int trans) {    \
    __local float as[GEMM_TILE_K][GEMM_TILE_M + 1];                                   \
    __local float bs[GEMM_TILE_K][GEMM_TILE_N + 1];                                   \
    int tx = get_local_id(0), ty = get_local_id(1);                                   \
    int tid = ty * GEMM_WG_N + tx;                                                    \
    int col_base = get_group_id(0) * GEMM_TILE_N, row_base = get_group_id(1) * GEMM_TILE_M; \
    int batch = get_global_id(2);                                                     \
    a += a_off + batch * a_bs;                                                        \
    b += b_off + batch * b_bs;                                                        \
    c += c_off + batch * c_bs;                                                        \
    float acc[GEMM_WPT_M][GEMM_WPT_N];                                                \
    for (int i = 0; i < GEMM_WPT_M; ++i)                                              \
        for (int j = 0; j < GEMM_WPT_N; ++j) acc[i][j] = 0.0f;                        \
    for (int k0 = 0; k0 < k; k0 += GEMM_TILE_K) {                                     \
        GEMM_TILED_LOAD(VEC)                                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                                                 \
        if (k0 + GEMM_TILE_K <= k) {                                                  \
            _Pragma("unroll") for (int kk = 0; kk < GEMM_TILE_K; ++kk) GEMM_TILED_STEP(kk) \
        } else {                                                                      \
            for (int kk = 0; kk < k - k0; ++kk) GEMM_TILED_STEP(kk)                   \
        }                                                                             \
        barrier(CLK_LOCAL_MEM_FENCE);                                                 \
    }                                                                                 \
    for (int i = 0; i < GEMM_WPT_M; ++i) {                                            \
        int r = row_base + ty + i * GEMM_WG_M;                                        \
        if (r >= m) break;                                                            \
        for (int j = 0; j < GEMM_WPT_N; ++j) {                                        \
            int col = col_base + tx + j * GEMM_WG_N;                                  \
            if (col >= n) break;                                                      \
            float out = alpha * acc[i][j];                                            \
            if (beta != 0.0f) out += beta * c[r * ldc + col];                         \
            c[r * ldc + col] = out;                                                   \
        }                                                                             \
    }                                                                                 \
}

GEMM_TILED_KERNEL(gemm_tiled, 0)
GEMM_TILED_KERNEL(gemm_tiled_vec, 1)


// ---- split K ---------------------------------------------------------------------------------
//
// When C has too few blocks to occupy the device and k is long (a convolution's weight gradient:
// 9 x 32 outputs over 86528 pixels), the host computes `parts` partial products over runs of k
// into a contiguous [parts, m, n] buffer with alpha 1, and this kernel adds them in order:
// C = alpha * sum + beta * C. NDRange (n, m).
__kernel void gemm_splitk_combine(int m, int n, int parts, __global const float *partials,
        float alpha, float beta, __global float *c, int c_off, int ldc) {
    int col = get_global_id(0), row = get_global_id(1);
    if (col >= n || row >= m) return;
    float sum = 0.0f;
    for (int p = 0; p < parts; ++p) sum += partials[(p * m + row) * n + col];
    __global float *cp = c + c_off + row * ldc + col;
    float out = alpha * sum;
    if (beta != 0.0f) out += beta * *cp;
    *cp = out;
}
