#ifndef FLINT_PEAK_FLOPS_H
#define FLINT_PEAK_FLOPS_H

/// Runs `iterations` rounds of independent fp32 fused multiply-adds at the widest vector width
/// the CPU supports (AVX-512, AVX2+FMA, else scalar C) and returns the FLOPs performed
/// (a multiply-add counts 2). One call keeps one core busy; call it from one thread per core.
double flint_peak_fma_loop(long iterations);

/// The instruction set `flint_peak_fma_loop` uses: "avx512", "avx2-fma" or "scalar".
const char *flint_peak_fma_isa(void);

#endif
