// Gather and scatter-add along the middle axis of [outer, length, inner].
// `indices` (int32) and the gathered / scattered values are contiguous [outer, indexLength, inner].

// out[o, j, i] = x[o, indices[o, j, i], i]; an index outside [0, length) reads as 0.
// Elements are moved as raw 32-bit words, so any 4-byte element type works.
__kernel void gather(__global const uint *x, int xoff, int outer, int length, int inner,
        __global const int *indices, int ioff, int index_length, __global uint *out) {
    int g = get_global_id(0);
    if (g >= outer * index_length * inner) return;
    int t = g / inner, i = g - t * inner;
    int o = t / index_length;
    int index = indices[ioff + g];
    out[g] = (index >= 0 && index < length) ? x[xoff + (o * length + index) * inner + i] : 0u;
}

// *p += v atomically, as a compare-and-swap loop on the float's bits (OpenCL 1.2 has no float
// atomics; 32-bit integer atomics on global memory are core).
inline void atomic_add_float(volatile __global float *p, float v) {
    volatile __global uint *bits = (volatile __global uint *)p;
    uint expected = *bits;
    for (;;) {
        uint desired = as_uint(as_float(expected) + v);
        uint seen = atomic_cmpxchg(bits, expected, desired);
        if (seen == expected) break;
        expected = seen;
    }
}

// out[o, indices[o, j, i], i] += src[o, j, i]; indices outside [0, length) are skipped.
__kernel void scatter_add(__global const float *src, int soff,
        __global const int *indices, int ioff, int index_length,
        int outer, int length, int inner, __global float *out) {
    int g = get_global_id(0);
    if (g >= outer * index_length * inner) return;
    int t = g / inner, i = g - t * inner;
    int o = t / index_length;
    int index = indices[ioff + g];
    if (index < 0 || index >= length) return;
    atomic_add_float(&out[(o * length + index) * inner + i], src[soff + g]);
}
