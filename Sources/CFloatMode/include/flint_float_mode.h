#ifndef FLINT_FLOAT_MODE_H
#define FLINT_FLOAT_MODE_H

// Switches the calling thread's floating-point unit to flush denormal (subnormal) results to
// zero and to read denormal inputs as zero. Arithmetic on denormals takes tens to hundreds of
// cycles per operation on x86; training produces them (decaying optimizer moments, gradients of
// dying units) and slows down for no benefit in float32. Each call returns the previous state
// so that callers can restore it: the mode belongs to the thread, which may be the user's.

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>

static inline unsigned long flint_flush_denormals(void) {
    unsigned int previous = _mm_getcsr();
    _mm_setcsr(previous | 0x8040u);  // FTZ (bit 15) and DAZ (bit 6)
    return previous;
}

static inline void flint_restore_float_mode(unsigned long previous) {
    _mm_setcsr((unsigned int)previous);
}

#elif defined(__aarch64__)

static inline unsigned long flint_flush_denormals(void) {
    unsigned long previous;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(previous));
    __asm__ __volatile__("msr fpcr, %0" : : "r"(previous | (1ul << 24)));  // FZ
    return previous;
}

static inline void flint_restore_float_mode(unsigned long previous) {
    __asm__ __volatile__("msr fpcr, %0" : : "r"(previous));
}

#else

static inline unsigned long flint_flush_denormals(void) { return 0; }
static inline void flint_restore_float_mode(unsigned long previous) { (void)previous; }

#endif

#endif
