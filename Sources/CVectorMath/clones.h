#ifndef FLINT_CLONES_H
#define FLINT_CLONES_H

// Functions marked FLINT_CLONES are compiled for AVX2 (x86-64-v3) and the baseline, and the
// loader picks one for the CPU it runs on (an ifunc). FLINT_CLONES_AVX512 adds AVX-512
// (x86-64-v4) where it was measured to pay: the LSTM step's exponentials and divisions run
// 1.6x faster in sixteen lanes on a Zen 4 core. (Every clone so compiled made convolution
// inference 10-18% slower in one A/B run, so the rest stay as they are.) Not under
// ThreadSanitizer: it would instrument the ifunc's resolver, which runs before the sanitizer is
// initialised, and crash.
#ifndef __has_feature
#define __has_feature(x) 0
#endif

#if defined(__x86_64__) && defined(__linux__) && !__has_feature(thread_sanitizer) && !defined(__SANITIZE_THREAD__)
#define FLINT_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#define FLINT_CLONES_AVX512 __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FLINT_CLONES
#define FLINT_CLONES_AVX512
#endif

#endif
