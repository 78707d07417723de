// Reductions along the middle axis of a contiguous [outer, length, inner] region: sum, max and
// min, argmax, softmax and log-softmax. Element (o, r, i) lives at off + (o * length + r) * inner + i.
//
// *_axis kernels give one work-item per output (o, i). When outputs are few and the axis is long,
// the host runs *_partial first: output (o, i) is split into `chunks` pieces, partial (o, c, i)
// is written to a contiguous [outer, chunks, inner] scratch buffer, and an *_axis (or
// argmax_combine) pass over that buffer finishes the job. On CPUs, reductions with a wide inner
// axis use *_columns instead: a vector of neighbouring columns per work-item.

// 1: partial c covers the contiguous rows [c * per, (c + 1) * per) (suits CPUs);
// 0: partial c covers rows c, c + chunks, c + 2 * chunks, ... (coalesced on GPUs).
#ifndef REDUCE_CHUNKED
#define REDUCE_CHUNKED 1
#endif

// Sums are accumulated plainly over blocks of SUM_BLOCK elements, and the block sums are added
// with Neumaier's compensated summation.
#ifndef SUM_BLOCK
#define SUM_BLOCK 16
#endif

// Columns per work-item of the *_columns kernels (a float vector width: 2, 4, 8 or 16).
#ifndef REDUCE_VW
#define REDUCE_VW 16
#endif

#define REDUCE_CAT_(a, b) a##b
#define REDUCE_CAT(a, b) REDUCE_CAT_(a, b)
#define RFLOAT REDUCE_CAT(float, REDUCE_VW)
#define RLOAD REDUCE_CAT(vload, REDUCE_VW)
#define RSTORE REDUCE_CAT(vstore, REDUCE_VW)

// ---- Reducing one strided run: x[base + j * step] for j < count (count >= 1) ------------------

inline float range_sum(__global const float *x, int base, int step, int count) {
    float sum = 0.0f, comp = 0.0f;
    int j = 0;
    while (j < count) {
        int end = min(j + SUM_BLOCK, count);
        float block = 0.0f;
        for (; j < end; ++j) block += x[base + j * step];
        float t = sum + block;
        comp += fabs(sum) >= fabs(block) ? (sum - t) + block : (block - t) + sum;
        sum = t;
    }
    // Once the sum is infinite or NaN the compensation is meaningless (inf - inf).
    return isfinite(sum) ? sum + comp : sum;
}

// Max and min that propagate NaN (as PyTorch and the CPU backend do; fmax/fmin would drop it).
// Written with select so they serve scalars and the RFLOAT vectors alike.
#define NAN_MAX(a, b) select((b), (a), isgreater((a), (b)) | isnan(a))
#define NAN_MIN(a, b) select((b), (a), isless((a), (b)) | isnan(a))

inline float range_max(__global const float *x, int base, int step, int count) {
    float m = x[base];
    for (int j = 1; j < count; ++j) m = NAN_MAX(x[base + j * step], m);
    return m;
}

inline float range_min(__global const float *x, int base, int step, int count) {
    float m = x[base];
    for (int j = 1; j < count; ++j) m = NAN_MIN(x[base + j * step], m);
    return m;
}

// The first index of the largest value (a NaN counts as largest, as on the CPU backend):
// writes the value and its position j.
inline void range_argmax(__global const float *x, int base, int step, int count, float *value, int *index) {
    float best = x[base];
    int at = 0;
    for (int j = 1; j < count; ++j) {
        float v = x[base + j * step];
        if (v > best || (isnan(v) && !isnan(best))) { best = v; at = j; }
    }
    *value = best;
    *index = at;
}

// The run of rows partial c covers, as (first row, row step, row count).
inline void partial_rows(int c, int chunks, int per, int length, int *first, int *step, int *count) {
#if REDUCE_CHUNKED
    *first = c * per;
    *step = 1;
    *count = min(per, length - c * per);
#else
    *first = c;
    *step = chunks;
    *count = (length - c + chunks - 1) / chunks;
#endif
}

// ---- reduce ----------------------------------------------------------------------------------

#define REDUCE_KERNELS(NAME)                                                         \
__kernel void reduce_##NAME##_axis(__global const float *x, int xoff,                \
        int outer, int length, int inner, __global float *out) {                     \
    int g = get_global_id(0);                                                        \
    if (g >= outer * inner) return;                                                  \
    int o = g / inner, i = g - o * inner;                                            \
    out[g] = range_##NAME(x, xoff + o * length * inner + i, inner, length);          \
}                                                                                    \
__kernel void reduce_##NAME##_partial(__global const float *x, int xoff,             \
        int outer, int length, int inner, int chunks, int per,                       \
        __global float *partials) {                                                  \
    int g = get_global_id(0);                                                        \
    if (g >= outer * chunks * inner) return;                                         \
    int t = g / inner, i = g - t * inner;                                            \
    int o = t / chunks, c = t - o * chunks;                                          \
    int first, step, count;                                                          \
    partial_rows(c, chunks, per, length, &first, &step, &count);                     \
    partials[g] = range_##NAME(x, xoff + (o * length + first) * inner + i, step * inner, count); \
}

REDUCE_KERNELS(sum)
REDUCE_KERNELS(max)
REDUCE_KERNELS(min)

// ---- reduce along the axis for REDUCE_VW neighbouring columns at once (inner >= REDUCE_VW) ---
//
// Work-item (g, t) reduces columns i0 = g * REDUCE_VW ... i0 + REDUCE_VW - 1 (as one vector) of
// outer index o = t / chunks over rows [c * per, min((c + 1) * per, length)), c = t % chunks, and
// writes them to out[o, c, i] ([outer, chunks, inner]; chunks = 1 reduces the whole axis). The last
// work-item of a row also does the columns past the last whole vector, one at a time.

inline RFLOAT columns_sum(__global const float *x, int inner, int count) {
    RFLOAT sum = (RFLOAT)(0.0f), comp = (RFLOAT)(0.0f);
    int j = 0;
    while (j < count) {
        int end = min(j + SUM_BLOCK, count);
        RFLOAT block = (RFLOAT)(0.0f);
        for (; j < end; ++j) block += RLOAD(0, x + j * inner);
        RFLOAT t = sum + block;
        comp += select((block - t) + sum, (sum - t) + block, isgreaterequal(fabs(sum), fabs(block)));
        sum = t;
    }
    return select(sum, sum + comp, isfinite(sum));
}

inline RFLOAT columns_max(__global const float *x, int inner, int count) {
    RFLOAT m = RLOAD(0, x);
    for (int j = 1; j < count; ++j) m = NAN_MAX(RLOAD(0, x + j * inner), m);
    return m;
}

inline RFLOAT columns_min(__global const float *x, int inner, int count) {
    RFLOAT m = RLOAD(0, x);
    for (int j = 1; j < count; ++j) m = NAN_MIN(RLOAD(0, x + j * inner), m);
    return m;
}

#define REDUCE_COLUMNS_KERNEL(NAME)                                                  \
__kernel void reduce_##NAME##_columns(__global const float *x, int xoff,             \
        int outer, int length, int inner, int chunks, int per, __global float *out) { \
    int i0 = get_global_id(0) * REDUCE_VW;                                           \
    int t = get_global_id(1);                                                        \
    if (i0 + REDUCE_VW > inner || t >= outer * chunks) return;                       \
    int o = t / chunks, c = t - o * chunks;                                          \
    int first = c * per, count = min(per, length - first);                           \
    int base = xoff + (o * length + first) * inner;                                  \
    RSTORE(columns_##NAME(x + base + i0, inner, count), 0, out + t * inner + i0);     \
    if (i0 + 2 * REDUCE_VW > inner) {                                                \
        for (int i = i0 + REDUCE_VW; i < inner; ++i)                                 \
            out[t * inner + i] = range_##NAME(x, base + i, inner, count);            \
    }                                                                                \
}

REDUCE_COLUMNS_KERNEL(sum)
REDUCE_COLUMNS_KERNEL(max)
REDUCE_COLUMNS_KERNEL(min)

// ---- argmax ----------------------------------------------------------------------------------

__kernel void argmax_axis(__global const float *x, int xoff, int outer, int length, int inner,
        __global int *out) {
    int g = get_global_id(0);
    if (g >= outer * inner) return;
    int o = g / inner, i = g - o * inner;
    float value;
    int index;
    range_argmax(x, xoff + o * length * inner + i, inner, length, &value, &index);
    out[g] = index;
}

__kernel void argmax_partial(__global const float *x, int xoff, int outer, int length, int inner,
        int chunks, int per, __global float *values, __global int *indices) {
    int g = get_global_id(0);
    if (g >= outer * chunks * inner) return;
    int t = g / inner, i = g - t * inner;
    int o = t / chunks, c = t - o * chunks;
    int first, step, count;
    partial_rows(c, chunks, per, length, &first, &step, &count);
    float value;
    int index;
    range_argmax(x, xoff + (o * length + first) * inner + i, step * inner, count, &value, &index);
    values[g] = value;
    indices[g] = first + index * step;
}

// Picks, for each (o, i), the largest partial; ties go to the smaller row index.
__kernel void argmax_combine(__global const float *values, __global const int *indices,
        int outer, int chunks, int inner, __global int *out) {
    int g = get_global_id(0);
    if (g >= outer * inner) return;
    int o = g / inner, i = g - o * inner;
    int base = o * chunks * inner + i;
    float best = values[base];
    int at = indices[base];
    for (int c = 1; c < chunks; ++c) {
        float v = values[base + c * inner];
        int index = indices[base + c * inner];
        bool better = v > best || (isnan(v) && !isnan(best));
        bool tie = v == best || (isnan(v) && isnan(best));
        if (better || (tie && index < at)) { best = v; at = index; }
    }
    out[g] = at;
}

// ---- softmax ---------------------------------------------------------------------------------

// One work-item per (o, i): the maximum, then exp(x - max) written to `out`, their sum, and a
// last pass that scales (softmax) or rewrites (x - max - log(sum)) the row. Each exp is taken
// once; a unit stride gets its own copy of the loops so they vectorise.
#define SOFTMAX_PASSES(LOG, STRIDE)                                                  \
    {                                                                                \
        float m = range_max(x, xoff + base, STRIDE, length);                         \
        for (int r = 0; r < length; ++r)                                             \
            out[base + r * (STRIDE)] = exp(x[xoff + base + r * (STRIDE)] - m);       \
        float sum = range_sum(out, base, STRIDE, length);                            \
        if (LOG) {                                                                   \
            float lse = log(sum);                                                    \
            for (int r = 0; r < length; ++r)                                         \
                out[base + r * (STRIDE)] = (x[xoff + base + r * (STRIDE)] - m) - lse; \
        } else {                                                                     \
            for (int r = 0; r < length; ++r) out[base + r * (STRIDE)] /= sum;       \
        }                                                                            \
    }

#define SOFTMAX_KERNEL(NAME, LOG)                                                    \
__kernel void NAME(__global const float *x, int xoff, int outer, int length, int inner, \
        __global float *out) {                                                       \
    int g = get_global_id(0);                                                        \
    if (g >= outer * inner) return;                                                  \
    int o = g / inner, i = g - o * inner;                                            \
    int base = o * length * inner + i;                                               \
    if (inner == 1) SOFTMAX_PASSES(LOG, 1) else SOFTMAX_PASSES(LOG, inner)           \
}

SOFTMAX_KERNEL(softmax_axis, 0)
SOFTMAX_KERNEL(log_softmax_axis, 1)


// ---- work-group rows (GPUs) ------------------------------------------------------------------
//
// For contiguous rows (inner == 1) on GPUs: one work-group of REDUCE_WG work-items per row, each
// reducing the elements lid, lid + REDUCE_WG, ... (neighbouring work-items read neighbouring
// words), then a tree in local memory. NDRange (outer * REDUCE_WG) in groups of REDUCE_WG.

#ifndef REDUCE_WG
#define REDUCE_WG 128
#endif

#define GROUP_SUM(a, b) ((a) + (b))

// Combines the REDUCE_WG values of `partial` with COMBINE (tree order); every work-item gets it.
#define GROUP_TREE(partial, value, COMBINE)                                          \
    partial[lid] = value;                                                            \
    barrier(CLK_LOCAL_MEM_FENCE);                                                    \
    for (int step = REDUCE_WG / 2; step > 0; step >>= 1) {                           \
        if (lid < step) partial[lid] = COMBINE(partial[lid], partial[lid + step]);   \
        barrier(CLK_LOCAL_MEM_FENCE);                                                \
    }                                                                                \
    value = partial[0];                                                              \
    barrier(CLK_LOCAL_MEM_FENCE);

// The work-item's share of the row: range_NAME over its strided elements (identity when empty).
inline float share_sum(__global const float *x, int base, int lid, int length) {
    return lid < length ? range_sum(x, base + lid, REDUCE_WG, (length - lid + REDUCE_WG - 1) / REDUCE_WG) : 0.0f;
}
inline float share_max(__global const float *x, int base, int lid, int length) {
    return lid < length ? range_max(x, base + lid, REDUCE_WG, (length - lid + REDUCE_WG - 1) / REDUCE_WG) : -INFINITY;
}
inline float share_min(__global const float *x, int base, int lid, int length) {
    return lid < length ? range_min(x, base + lid, REDUCE_WG, (length - lid + REDUCE_WG - 1) / REDUCE_WG) : INFINITY;
}

#define REDUCE_ROWS_KERNEL(NAME, COMBINE)                                            \
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))                      \
void reduce_##NAME##_rows(__global const float *x, int xoff, int outer, int length,  \
        __global float *out) {                                                       \
    __local float partial[REDUCE_WG];                                                \
    int lid = get_local_id(0), o = get_group_id(0);                                  \
    float value = share_##NAME(x, xoff + o * length, lid, length);                   \
    GROUP_TREE(partial, value, COMBINE)                                              \
    if (lid == 0) out[o] = value;                                                    \
}

REDUCE_ROWS_KERNEL(sum, GROUP_SUM)
REDUCE_ROWS_KERNEL(max, NAN_MAX)
REDUCE_ROWS_KERNEL(min, NAN_MIN)

// Softmax of a contiguous row by one work-group: the row's maximum, exp(x - max) written to
// `out` while the group sums it, then the scaling (or x - max - log(sum)) pass.
#define SOFTMAX_ROWS_KERNEL(NAME, LOG)                                               \
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))                      \
void NAME(__global const float *x, int xoff, int outer, int length, __global float *out) { \
    __local float partial[REDUCE_WG];                                                \
    int lid = get_local_id(0), o = get_group_id(0);                                  \
    __global const float *row = x + xoff + o * length;                               \
    __global float *target = out + o * length;                                       \
    float m = share_max(x, xoff + o * length, lid, length);                          \
    GROUP_TREE(partial, m, NAN_MAX)                                                  \
    float sum = 0.0f;                                                                \
    for (int r = lid; r < length; r += REDUCE_WG) {                                  \
        float e = exp(row[r] - m);                                                   \
        target[r] = e;                                                               \
        sum += e;                                                                    \
    }                                                                                \
    GROUP_TREE(partial, sum, GROUP_SUM)                                              \
    if (LOG) {                                                                       \
        float lse = log(sum);                                                        \
        for (int r = lid; r < length; r += REDUCE_WG) target[r] = (row[r] - m) - lse; \
    } else {                                                                         \
        for (int r = lid; r < length; r += REDUCE_WG) target[r] /= sum;              \
    }                                                                                \
}

SOFTMAX_ROWS_KERNEL(softmax_rows, 0)
SOFTMAX_ROWS_KERNEL(log_softmax_rows, 1)
