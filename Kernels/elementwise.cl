// Element-wise kernels: unary map, binary zip, select, copy, fill, cast and upload conversion.
//
// Every operation comes in two shapes, stamped out by the macros below:
//   *_linear   operand element i lives at off + i * stride (stride 1 for contiguous, 0 for a
//              broadcast scalar, anything once the host has merged the dimensions into one);
//              each work-item handles ELEMS_PER_ITEM consecutive elements.
//   *_strided  up to 8 dimensions; `shape` and each operand's `strides` are int8 vectors with the
//              innermost dimension in component 0 (padded with shape 1, stride 0), `rank` says
//              how many are used. Each work-item handles ELEMS_PER_ITEM consecutive elements.
// The output of unary, binary and select is contiguous at element 0.

#ifndef ELEMS_PER_ITEM
#define ELEMS_PER_ITEM 1
#endif

// ---- Index helpers ---------------------------------------------------------------------------

// Runs BODY (a braced block) for the elements i of this work-item's chunk, all below n. The
// kernels branch on their strides first, so that the common contiguous case gets a loop the
// compiler can vectorise. BODY is one macro argument, not variadic: OpenCL C 1.2 has no
// variadic macros (NVIDIA's compiler rejects them), so a BODY must keep any comma inside
// parentheses.
#define FOR_EACH_LINEAR(BODY)                                                        \
    size_t first_ = get_global_id(0) * (size_t)ELEMS_PER_ITEM;                       \
    if (first_ >= (size_t)n) return;                                                 \
    int base_ = (int)first_;                                                         \
    if (n - base_ >= ELEMS_PER_ITEM) {                                               \
        for (int j_ = 0; j_ < ELEMS_PER_ITEM; ++j_) { int i = base_ + j_; BODY }            \
    } else {                                                                         \
        for (int i = base_; i < n; ++i) { BODY }                                            \
    }

// Adds dimension K's contribution to the offsets o0..o2 and divides it out of r_; keeps the
// innermost coordinate in c0_.
#define STRIDED_STEP(K)                                                              \
    if (K < rank) {                                                                  \
        int c_ = r_;                                                                 \
        if (K + 1 < rank) { int q_ = r_ / shape.s##K; c_ = r_ - q_ * shape.s##K; r_ = q_; } \
        if (K == 0) c0_ = c_;                                                        \
        o0 += c_ * s0.s##K; o1 += c_ * s1.s##K; o2 += c_ * s2.s##K;                  \
    }

// Runs BODY (as in FOR_EACH_LINEAR) for the elements i of this work-item's chunk (ELEMS_PER_ITEM
// consecutive output elements), with o0, o1, o2 the element offsets of up to three operands
// (strides s0, s1, s2; offsets base0, base1, base2). Coordinates are decomposed once per run
// along the innermost dimension, and the offsets then advance by the innermost strides.
#define FOR_EACH_STRIDED(BODY)                                                        \
    size_t first_ = get_global_id(0) * (size_t)ELEMS_PER_ITEM;                       \
    if (first_ >= (size_t)n) return;                                                 \
    int i = (int)first_;                                                             \
    int end_ = i + min(n - i, ELEMS_PER_ITEM);                                       \
    while (i < end_) {                                                               \
        int o0 = base0, o1 = base1, o2 = base2, r_ = i, c0_ = 0;                     \
        STRIDED_STEP(0) STRIDED_STEP(1) STRIDED_STEP(2) STRIDED_STEP(3)              \
        STRIDED_STEP(4) STRIDED_STEP(5) STRIDED_STEP(6) STRIDED_STEP(7)              \
        int run_ = min(shape.s0 - c0_, end_ - i);                                    \
        for (int j_ = 0; j_ < run_; ++j_, ++i) {                                     \
            BODY                                                                     \
            o0 += s0.s0; o1 += s1.s0; o2 += s2.s0;                                   \
        }                                                                            \
        (void)o1; (void)o2;                                                          \
    }

// ---- Unary ops: y = f(x) with scalars p0, p1 -------------------------------------------------

inline float op_sign(float x) { return isnan(x) ? x : (x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f)); }

// relu, clamp, maximum and minimum keep NaN (as PyTorch and the CPU backend do); OpenCL's
// fmax/fmin would return the other operand. !(x <= 0) is true for NaN.
inline float op_relu(float x) { return !(x <= 0.0f) ? x : 0.0f; }
inline float op_clamp(float x, float low, float high) { float y = x < low ? low : x; return y > high ? high : y; }
inline float op_maximum(float a, float b) { return (a > b || isnan(a)) ? a : b; }
inline float op_minimum(float a, float b) { return (a < b || isnan(a)) ? a : b; }

#define UNARY_OPS(X)                                                                 \
    X(neg, -x)                                                                       \
    X(abs, fabs(x))                                                                  \
    X(exp, exp(x))                                                                   \
    X(log, log(x))                                                                   \
    X(sqrt, sqrt(x))                                                                 \
    X(rsqrt, rsqrt(x))                                                               \
    X(square, x * x)                                                                 \
    X(reciprocal, 1.0f / x)                                                          \
    X(sign, op_sign(x))                                                              \
    X(relu, op_relu(x))                                                              \
    X(sigmoid, 1.0f / (1.0f + exp(-x)))                                              \
    X(tanh, tanh(x))                                                                 \
    X(leaky_relu, x > 0.0f ? x : p0 * x)                                             \
    X(affine, x * p0 + p1)                                                           \
    X(pow, pow(x, p0))                                                               \
    X(clamp, op_clamp(x, p0, p1))                                                  \
    X(erf, erf(x))                                                                   \
    X(softplus, fmax(x, 0.0f) + log1p(exp(-fabs(x))))                                \
    X(gelu, 0.5f * x * (1.0f + erf(x * 0.70710678118654752f)))                       \
    X(silu, x / (1.0f + exp(-x)))

#define UNARY_KERNELS(NAME, EXPR)                                                    \
__kernel void unary_##NAME##_linear(__global float *out, int n,                      \
        __global const float *xs, int xoff, int xstride, float p0, float p1) {       \
    if (xstride == 1) {                                                              \
        FOR_EACH_LINEAR({ float x = xs[xoff + i]; out[i] = (EXPR); })                \
    } else {                                                                         \
        FOR_EACH_LINEAR({ float x = xs[xoff + i * xstride]; out[i] = (EXPR); })      \
    }                                                                                \
}                                                                                    \
__kernel void unary_##NAME##_strided(__global float *out, int n, int rank, int8 shape, \
        __global const float *xs, int xoff, int8 s0, float p0, float p1) {           \
    const int8 s1 = (int8)(0), s2 = (int8)(0);                                       \
    const int base0 = xoff, base1 = 0, base2 = 0;                                    \
    FOR_EACH_STRIDED({ float x = xs[o0]; out[i] = (EXPR); })                         \
}

UNARY_OPS(UNARY_KERNELS)

// ---- Binary ops: y = f(a, b) -----------------------------------------------------------------

#define BINARY_OPS(X)                                                                \
    X(add, a + b)                                                                    \
    X(sub, a - b)                                                                    \
    X(mul, a * b)                                                                    \
    X(div, a / b)                                                                    \
    X(pow, pow(a, b))                                                                \
    X(maximum, op_maximum(a, b))                                                     \
    X(minimum, op_minimum(a, b))                                                     \
    X(equal, a == b ? 1.0f : 0.0f)                                                   \
    X(not_equal, a != b ? 1.0f : 0.0f)                                               \
    X(less, a < b ? 1.0f : 0.0f)                                                     \
    X(less_equal, a <= b ? 1.0f : 0.0f)                                              \
    X(greater, a > b ? 1.0f : 0.0f)                                                  \
    X(greater_equal, a >= b ? 1.0f : 0.0f)                                           \
    X(relu_gradient, a * (b > 0.0f ? 1.0f : 0.0f))

#define BINARY_KERNELS(NAME, EXPR)                                                   \
__kernel void binary_##NAME##_linear(__global float *out, int n,                     \
        __global const float *as, int aoff, int astride,                             \
        __global const float *bs, int boff, int bstride) {                           \
    if (astride == 1 && bstride == 1) {                                              \
        FOR_EACH_LINEAR({ float a = as[aoff + i]; float b = bs[boff + i]; out[i] = (EXPR); }) \
    } else if (astride == 1 && bstride == 0) {                                       \
        float b = bs[boff];                                                          \
        FOR_EACH_LINEAR({ float a = as[aoff + i]; out[i] = (EXPR); })                \
    } else if (astride == 0 && bstride == 1) {                                       \
        float a = as[aoff];                                                          \
        FOR_EACH_LINEAR({ float b = bs[boff + i]; out[i] = (EXPR); })                \
    } else {                                                                         \
        FOR_EACH_LINEAR({ float a = as[aoff + i * astride]; float b = bs[boff + i * bstride]; \
                          out[i] = (EXPR); })                                        \
    }                                                                                \
}                                                                                    \
__kernel void binary_##NAME##_strided(__global float *out, int n, int rank, int8 shape, \
        __global const float *as, int aoff, int8 s0,                                 \
        __global const float *bs, int boff, int8 s1) {                               \
    const int8 s2 = (int8)(0);                                                       \
    const int base0 = aoff, base1 = boff, base2 = 0;                                 \
    FOR_EACH_STRIDED({ float a = as[o0]; float b = bs[o1]; out[i] = (EXPR); })       \
}

BINARY_OPS(BINARY_KERNELS)

// ---- Fused bias add + activation: y = f(a + b), scalar p0 (leaky slope) ------------------------

#define ADD_THEN_OPS(X)                                                              \
    X(relu, op_relu(x))                                                              \
    X(sigmoid, 1.0f / (1.0f + exp(-x)))                                              \
    X(tanh, tanh(x))                                                                 \
    X(leaky_relu, x > 0.0f ? x : p0 * x)

#define ADD_THEN_KERNELS(NAME, EXPR)                                                 \
__kernel void add_then_##NAME##_linear(__global float *out, int n,                   \
        __global const float *as, int aoff, int astride,                             \
        __global const float *bs, int boff, int bstride, float p0) {                 \
    if (astride == 1 && bstride == 1) {                                              \
        FOR_EACH_LINEAR({ float x = as[aoff + i] + bs[boff + i]; out[i] = (EXPR); }) \
    } else {                                                                         \
        FOR_EACH_LINEAR({ float x = as[aoff + i * astride] + bs[boff + i * bstride]; \
                          out[i] = (EXPR); })                                        \
    }                                                                                \
}                                                                                    \
__kernel void add_then_##NAME##_strided(__global float *out, int n, int rank, int8 shape, \
        __global const float *as, int aoff, int8 s0,                                 \
        __global const float *bs, int boff, int8 s1, float p0) {                     \
    const int8 s2 = (int8)(0);                                                       \
    const int base0 = aoff, base1 = boff, base2 = 0;                                 \
    FOR_EACH_STRIDED({ float x = as[o0] + bs[o1]; out[i] = (EXPR); })                \
}

ADD_THEN_OPS(ADD_THEN_KERNELS)

// ---- Select: out = cond != 0 ? a : b ---------------------------------------------------------

__kernel void select_linear(__global float *out, int n,
        __global const float *cs, int coff, int cstride,
        __global const float *as, int aoff, int astride,
        __global const float *bs, int boff, int bstride) {
    FOR_EACH_LINEAR({
        out[i] = cs[coff + i * cstride] != 0.0f ? as[aoff + i * astride] : bs[boff + i * bstride];
    })
}

__kernel void select_strided(__global float *out, int n, int rank, int8 shape,
        __global const float *cs, int coff, int8 s0,
        __global const float *as, int aoff, int8 s1,
        __global const float *bs, int boff, int8 s2) {
    const int base0 = coff, base1 = aoff, base2 = boff;
    FOR_EACH_STRIDED({ out[i] = cs[o0] != 0.0f ? as[o1] : bs[o2]; })
}

// ---- Copy: dst[...] = src[...], any 4-byte element type ---------------------------------------

__kernel void copy_linear(__global uint *dst, int doff, int dstride,
        __global const uint *src, int soff, int sstride, int n) {
    if (dstride == 1 && sstride == 1) {
        FOR_EACH_LINEAR({ dst[doff + i] = src[soff + i]; })
    } else {
        FOR_EACH_LINEAR({ dst[doff + i * dstride] = src[soff + i * sstride]; })
    }
}

__kernel void copy_strided(__global uint *dst, int doff, int8 s1,
        __global const uint *src, int soff, int8 s0, int n, int rank, int8 shape) {
    const int8 s2 = (int8)(0);
    const int base0 = soff, base1 = doff, base2 = 0;
    FOR_EACH_STRIDED({ dst[o1] = src[o0]; })
}

// ---- Fill and cast ---------------------------------------------------------------------------

__kernel void fill_bits(__global uint *out, int off, int n, uint bits) {
    FOR_EACH_LINEAR({ out[off + i] = bits; })
}

// float -> int: truncate toward zero, saturate to the int range, NaN -> 0.
__kernel void cast_float_to_int(__global const float *src, int soff, int n, __global int *out) {
    FOR_EACH_LINEAR({ float x = src[soff + i]; out[i] = isnan(x) ? 0 : convert_int_sat_rtz(x); })
}

__kernel void cast_int_to_float(__global const int *src, int soff, int n, __global float *out) {
    FOR_EACH_LINEAR({ out[i] = convert_float(src[soff + i]); })
}

// ---- Upload conversion: host elements to float32 x * scale + shift -----------------------------
// Batches of byte images travel as bytes and become model inputs here in one pass. The product
// and the sum are rounded separately, never contracted into an fma, as on the CPU backend.

__kernel void upload_from_uint8(__global const uchar *src, int n, float scale, float shift, __global float *out) {
#pragma OPENCL FP_CONTRACT OFF
    FOR_EACH_LINEAR({ float p = convert_float(src[i]) * scale; out[i] = p + shift; })
}

__kernel void upload_from_int8(__global const char *src, int n, float scale, float shift, __global float *out) {
#pragma OPENCL FP_CONTRACT OFF
    FOR_EACH_LINEAR({ float p = convert_float(src[i]) * scale; out[i] = p + shift; })
}

__kernel void upload_from_int32(__global const int *src, int n, float scale, float shift, __global float *out) {
#pragma OPENCL FP_CONTRACT OFF
    FOR_EACH_LINEAR({ float p = convert_float(src[i]) * scale; out[i] = p + shift; })
}

__kernel void upload_from_float32(__global const float *src, int n, float scale, float shift, __global float *out) {
#pragma OPENCL FP_CONTRACT OFF
    FOR_EACH_LINEAR({ float p = src[i] * scale; out[i] = p + shift; })
}

// ---- Tiled copy: transposes and other copies whose innermost dimension is strided ----------
//
// Work-item (x, y, z) copies a COPY_TILE x COPY_TILE tile of dimensions 0 and 1 (innermost
// first) for outer index z (dimensions 2 and up, decomposed). On CPUs this keeps every cache line
// it touches, in source and destination, in use until the tile is done.

#ifndef COPY_TILE
#define COPY_TILE 16
#endif

__kernel void copy_tiled(__global uint *dst, int doff, int8 s1,
        __global const uint *src, int soff, int8 s0, int rank, int8 shape) {
    int t0 = get_global_id(0) * COPY_TILE;
    int t1 = get_global_id(1) * COPY_TILE;
    if (t0 >= shape.s0 || t1 >= shape.s1) return;
    int o0 = soff, o1 = doff, o2 = 0, c0_ = 0;
    const int8 s2 = (int8)(0);
    // Outer coordinates: dimensions 2 ... rank - 1 of get_global_id(2).
    int r_ = get_global_id(2);
    STRIDED_STEP(2) STRIDED_STEP(3) STRIDED_STEP(4) STRIDED_STEP(5) STRIDED_STEP(6) STRIDED_STEP(7)
    (void)o2; (void)c0_;
    int e0 = min(COPY_TILE, shape.s0 - t0), e1 = min(COPY_TILE, shape.s1 - t1);
    int src_base = o0 + t0 * s0.s0 + t1 * s0.s1;
    int dst_base = o1 + t0 * s1.s0 + t1 * s1.s1;
    for (int b = 0; b < e1; ++b)
        for (int a = 0; a < e0; ++a)
            dst[dst_base + b * s1.s1 + a * s1.s0] = src[src_base + b * s0.s1 + a * s0.s0];
}
