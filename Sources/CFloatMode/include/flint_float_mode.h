#ifndef FLINT_FLOAT_MODE_H
#define FLINT_FLOAT_MODE_H

// Switches the calling thread's floating-point unit to flush denormal (subnormal) results to
// zero and to read denormal inputs as zero. Arithmetic on denormals takes tens to hundreds of
// cycles per operation on x86; training produces them (decaying optimizer moments, gradients of
// dying units) and slows down for no benefit in float32. Each call returns the previous state
// so that callers can restore it: the mode belongs to the thread, which may be the user's.
// Restoring puts back only the flush bits, so exception flags raised meanwhile stay raised.

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>

#define FLINT_FLUSH_BITS 0x8040u  // FTZ (bit 15) and DAZ (bit 6) of MXCSR

static inline uint64_t flint_flush_denormals(void) {
    unsigned int previous = _mm_getcsr();
    _mm_setcsr(previous | FLINT_FLUSH_BITS);
    return previous;
}

static inline void flint_restore_float_mode(uint64_t previous) {
    _mm_setcsr((_mm_getcsr() & ~FLINT_FLUSH_BITS) | ((unsigned int)previous & FLINT_FLUSH_BITS));
}

#elif defined(__aarch64__)

#define FLINT_FLUSH_BITS (UINT64_C(1) << 24)  // FZ of FPCR

static inline uint64_t flint_flush_denormals(void) {
    uint64_t previous;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(previous));
    __asm__ __volatile__("msr fpcr, %0" : : "r"(previous | FLINT_FLUSH_BITS));
    return previous;
}

static inline void flint_restore_float_mode(uint64_t previous) {
    uint64_t current;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(current));
    __asm__ __volatile__("msr fpcr, %0" : : "r"((current & ~FLINT_FLUSH_BITS) | (previous & FLINT_FLUSH_BITS)));
}

#else

static inline uint64_t flint_flush_denormals(void) { return 0; }
static inline void flint_restore_float_mode(uint64_t previous) { (void)previous; }

#endif

#endif
