// Philox4x32-10 random fills, reproducing FlintBackend's `Philox` bit for bit:
//   key = (low, high) 32 bits of the seed; element e of a fill uses block b = counter + e / 4 with
//   counter words (low32(b), high32(b), 0, 0) and takes word e % 4 of the output.
// Each work-item computes RANDOM_BLOCKS consecutive blocks at once, as vectors of that width
// (explicit SIMD for CPU drivers), and writes their 4 * RANDOM_BLOCKS elements.

// a * b + c must round twice, exactly like the Swift reference: no fused multiply-add.
#pragma OPENCL FP_CONTRACT OFF

// Blocks per work-item: 1, 2, 4, 8 or 16.
#ifndef RANDOM_BLOCKS
#define RANDOM_BLOCKS 1
#endif

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

// Float.pi as Swift defines it (rounded toward zero), times two.
#define TWO_PI_SWIFT 0x1.921fb4p+2f

#define RANDOM_CAT_(a, b) a##b
#define RANDOM_CAT(a, b) RANDOM_CAT_(a, b)
#if RANDOM_BLOCKS == 1
#define UINTV uint
#define FLOATV float
#define INTV int
#define VSTORE_RB(v, p) (*(p) = (v))
#define LANE_IDS 0
#define TO_FLOATV convert_float
#else
#define UINTV RANDOM_CAT(uint, RANDOM_BLOCKS)
#define FLOATV RANDOM_CAT(float, RANDOM_BLOCKS)
#define INTV RANDOM_CAT(int, RANDOM_BLOCKS)
#define VSTORE_RB(v, p) RANDOM_CAT(vstore, RANDOM_BLOCKS)(v, 0, p)
#define TO_FLOATV RANDOM_CAT(convert_float, RANDOM_BLOCKS)
#if RANDOM_BLOCKS == 2
#define LANE_IDS (UINTV)(0, 1)
#elif RANDOM_BLOCKS == 4
#define LANE_IDS (UINTV)(0, 1, 2, 3)
#elif RANDOM_BLOCKS == 8
#define LANE_IDS (UINTV)(0, 1, 2, 3, 4, 5, 6, 7)
#else
#define LANE_IDS (UINTV)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#endif
#endif

// The 10-round Philox of RANDOM_BLOCKS consecutive blocks starting at block `first` of the fill.
inline void philox(uint first, uint counter_lo, uint counter_hi, uint seed_lo, uint seed_hi,
        UINTV *w0, UINTV *w1, UINTV *w2, UINTV *w3) {
    UINTV index = (UINTV)(first) + LANE_IDS;
    UINTV c0 = (UINTV)(counter_lo) + index;
    UINTV c1 = (UINTV)(counter_hi) + select((UINTV)(0u), (UINTV)(1u), c0 < (UINTV)(counter_lo));
    UINTV c2 = (UINTV)(0u), c3 = (UINTV)(0u);
    uint k0 = seed_lo, k1 = seed_hi;
    for (int round = 0; round < 10; ++round) {
        UINTV hi0 = mul_hi((UINTV)(PHILOX_M0), c0), lo0 = (UINTV)(PHILOX_M0) * c0;
        UINTV hi1 = mul_hi((UINTV)(PHILOX_M1), c2), lo1 = (UINTV)(PHILOX_M1) * c2;
        UINTV n0 = hi1 ^ c1 ^ (UINTV)(k0), n2 = hi0 ^ c3 ^ (UINTV)(k1);
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    *w0 = c0; *w1 = c1; *w2 = c2; *w3 = c3;
}

inline FLOATV unit_float(UINTV word) { return TO_FLOATV(word >> 8) * 0x1p-24f; }

// Writes elements 4 * j + l (for block j, word l) from v0..v3, stopping at `count`.
inline void store_blocks(__global float *out, int count, int first, FLOATV v0, FLOATV v1, FLOATV v2, FLOATV v3) {
    float lanes[4][RANDOM_BLOCKS];
    VSTORE_RB(v0, lanes[0]);
    VSTORE_RB(v1, lanes[1]);
    VSTORE_RB(v2, lanes[2]);
    VSTORE_RB(v3, lanes[3]);
    if (count - first >= 4 * RANDOM_BLOCKS) {
        for (int j = 0; j < RANDOM_BLOCKS; ++j)
            for (int l = 0; l < 4; ++l) out[first + 4 * j + l] = lanes[l][j];
    } else {
        for (int j = 0; j < RANDOM_BLOCKS; ++j)
            for (int l = 0; l < 4; ++l)
                if (first + 4 * j + l < count) out[first + 4 * j + l] = lanes[l][j];
    }
}

__kernel void random_uniform(__global float *out, int count,
        uint seed_lo, uint seed_hi, uint counter_lo, uint counter_hi, float low, float high) {
    int block = get_global_id(0) * RANDOM_BLOCKS;
    int first = block * 4;
    if (first >= count) return;
    UINTV w0, w1, w2, w3;
    philox((uint)block, counter_lo, counter_hi, seed_lo, seed_hi, &w0, &w1, &w2, &w3);
    FLOATV span = (FLOATV)(high - low), base = (FLOATV)(low);
    store_blocks(out, count, first, base + span * unit_float(w0), base + span * unit_float(w1),
                 base + span * unit_float(w2), base + span * unit_float(w3));
}

// Box-Muller on word pairs (0, 1) and (2, 3): even elements take r cos, odd ones r sin.
__kernel void random_normal(__global float *out, int count,
        uint seed_lo, uint seed_hi, uint counter_lo, uint counter_hi, float mean, float deviation) {
    int block = get_global_id(0) * RANDOM_BLOCKS;
    int first = block * 4;
    if (first >= count) return;
    UINTV w0, w1, w2, w3;
    philox((uint)block, counter_lo, counter_hi, seed_lo, seed_hi, &w0, &w1, &w2, &w3);
    FLOATV u1a = TO_FLOATV((w0 >> 8) + (UINTV)(1u)) * 0x1p-24f;
    FLOATV u1b = TO_FLOATV((w2 >> 8) + (UINTV)(1u)) * 0x1p-24f;
    FLOATV ra = sqrt(-2.0f * log(u1a)), rb = sqrt(-2.0f * log(u1b));
    FLOATV angle_a = TWO_PI_SWIFT * unit_float(w1), angle_b = TWO_PI_SWIFT * unit_float(w3);
    FLOATV m = (FLOATV)(mean), s = (FLOATV)(deviation);
    store_blocks(out, count, first, m + s * (ra * cos(angle_a)), m + s * (ra * sin(angle_a)),
                 m + s * (rb * cos(angle_b)), m + s * (rb * sin(angle_b)));
}
