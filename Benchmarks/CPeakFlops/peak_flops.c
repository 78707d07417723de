#include "flint_peak_flops.h"

// Twelve independent accumulator chains: enough to cover the FMA latency (4–5 cycles) on two
// FMA pipes, so the loop runs at the core's fp32 throughput limit. The result is returned
// so the compiler cannot drop the work.

#if defined(__x86_64__)
#include <immintrin.h>

#define CHAINS 12

__attribute__((target("avx512f")))
static double loop_avx512(long iterations) {
    __m512 acc[CHAINS];
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    for (int k = 0; k < CHAINS; k++) acc[k] = _mm512_set1_ps((float)k);
    for (long i = 0; i < iterations; i++) {
        for (int k = 0; k < CHAINS; k++) acc[k] = _mm512_fmadd_ps(acc[k], m, c);
    }
    float sink = 0;
    for (int k = 0; k < CHAINS; k++) sink += _mm512_reduce_add_ps(acc[k]);
    volatile float keep = sink;
    (void)keep;
    return (double)iterations * CHAINS * 16 * 2;
}

__attribute__((target("avx2,fma")))
static double loop_avx2(long iterations) {
    __m256 acc[CHAINS];
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    for (int k = 0; k < CHAINS; k++) acc[k] = _mm256_set1_ps((float)k);
    for (long i = 0; i < iterations; i++) {
        for (int k = 0; k < CHAINS; k++) acc[k] = _mm256_fmadd_ps(acc[k], m, c);
    }
    float lanes[8], sink = 0;
    for (int k = 0; k < CHAINS; k++) {
        _mm256_storeu_ps(lanes, acc[k]);
        for (int j = 0; j < 8; j++) sink += lanes[j];
    }
    volatile float keep = sink;
    (void)keep;
    return (double)iterations * CHAINS * 8 * 2;
}
#endif

static double loop_scalar(long iterations) {
    float acc[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    for (long i = 0; i < iterations; i++) {
        for (int k = 0; k < 8; k++) acc[k] = acc[k] * 0.999999f + 1e-6f;
    }
    volatile float keep = acc[0] + acc[7];
    (void)keep;
    return (double)iterations * 8 * 2;
}

const char *flint_peak_fma_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2-fma";
#endif
    return "scalar";
}

double flint_peak_fma_loop(long iterations) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return loop_avx512(iterations);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return loop_avx2(iterations);
#endif
    return loop_scalar(iterations);
}
