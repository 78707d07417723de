// Batched GEMM: C[b] = alpha * A[b] . B[b] + beta * C[b]; A is m x k, B is k x n, C is m x n.
// Element [b][r][c] of an operand lives at off + b * bs + r * rs + c * cs (in elements). C is
// row-major (cs == 1), and `gemm` reads A and B row-major too: the host copies a column-major
// (transposed) operand to row-major scratch memory first, except that `gemm_bt` (below) reads a
// column-major B in place when C has few rows.
//
// Register tiling without local memory (fast on CPU devices such as PoCL): each work-item computes
// a GEMM_TM x GEMM_VW block of C, holding GEMM_TM accumulator vectors of GEMM_VW floats. For every
// k it loads one row of B's block as a vector and multiplies it by the TM scalars of A's column.
// Rows past m are clamped (computed twice, stored once); a block that crosses the right edge of C
// loads B's columns one by one, clamped to n - 1. The NDRange is (ceil(n / VW), ceil(m / TM), batch).

#ifndef GEMM_TM
#define GEMM_TM 8
#endif
#ifndef GEMM_VW
#define GEMM_VW 16
#endif

#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)
#define VFLOAT GEMM_CAT(float, GEMM_VW)
#define VLOAD GEMM_CAT(vload, GEMM_VW)
#define VSTORE GEMM_CAT(vstore, GEMM_VW)

// B's row kk, columns col0 .. col0 + VW - 1, each column clamped to n - 1.
inline VFLOAT gemm_load_b_edge(__global const float *b, int b_rs, int kk, int col0, int n) {
    float lanes[GEMM_VW];
    for (int j = 0; j < GEMM_VW; ++j) lanes[j] = b[kk * b_rs + min(col0 + j, n - 1)];
    return VLOAD(0, lanes);
}

// Element (r, kk) of A.
#define A_AT(r, kk) a[(r) * lda + (kk)]

__kernel void gemm(int m, int n, int k, float alpha,
        __global const float *a, int a_off, int lda, int a_bs,
        __global const float *b, int b_off, int ldb, int b_bs,
        float beta, __global float *c, int c_off, int ldc, int c_bs) {
    int col0 = get_global_id(0) * GEMM_VW;
    int row0 = get_global_id(1) * GEMM_TM;
    int batch = get_global_id(2);
    if (col0 >= n || row0 >= m) return;
    a += a_off + batch * a_bs;
    b += b_off + batch * b_bs + col0;
    c += c_off + batch * c_bs;
    int rows[GEMM_TM];
    for (int i = 0; i < GEMM_TM; ++i) rows[i] = min(row0 + i, m - 1);
    VFLOAT acc[GEMM_TM];
    for (int i = 0; i < GEMM_TM; ++i) acc[i] = (VFLOAT)(0.0f);
    bool full = col0 + GEMM_VW <= n;
    if (full) {
        int kk = 0;
        for (; kk + 4 <= k; kk += 4) {
            VFLOAT b0 = VLOAD(0, b + kk * ldb);
            VFLOAT b1 = VLOAD(0, b + (kk + 1) * ldb);
            VFLOAT b2 = VLOAD(0, b + (kk + 2) * ldb);
            VFLOAT b3 = VLOAD(0, b + (kk + 3) * ldb);
            for (int i = 0; i < GEMM_TM; ++i) {
                int r = rows[i];
                acc[i] += A_AT(r, kk) * b0;
                acc[i] += A_AT(r, kk + 1) * b1;
                acc[i] += A_AT(r, kk + 2) * b2;
                acc[i] += A_AT(r, kk + 3) * b3;
            }
        }
        for (; kk < k; ++kk) {
            VFLOAT bv = VLOAD(0, b + kk * ldb);
            for (int i = 0; i < GEMM_TM; ++i) acc[i] += A_AT(rows[i], kk) * bv;
        }
    } else {
        for (int kk = 0; kk < k; ++kk) {
            VFLOAT bv = gemm_load_b_edge(b - col0, ldb, kk, col0, n);
            for (int i = 0; i < GEMM_TM; ++i) acc[i] += A_AT(rows[i], kk) * bv;
        }
    }
    for (int i = 0; i < GEMM_TM; ++i) {
        int r = row0 + i;
        if (r >= m) break;
        __global float *cp = c + r * ldc + col0;
        if (full) {
            VFLOAT v = alpha * acc[i];
            if (beta != 0.0f) v += beta * VLOAD(0, cp);
            VSTORE(v, 0, cp);
        } else {
            float lanes[GEMM_VW];
            VSTORE(acc[i], 0, lanes);
            for (int j = 0; j < n - col0; ++j) {
                float v = alpha * lanes[j];
                if (beta != 0.0f) v += beta * cp[j];
                cp[j] = v;
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
