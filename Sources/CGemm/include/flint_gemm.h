#ifndef FLINT_GEMM_H
#define FLINT_GEMM_H

// FlintCPU's own single-precision matrix product for CPUs with AVX2 and FMA, single-threaded:
// the CPU backend splits a product into blocks of C and runs one call per core. Beside
// OpenBLAS it saves the separate pass that zeroes C when beta is 0 (the first k block writes C
// instead of adding to it), reads either operand in either layout while packing, and never
// wakes a thread pool of its own.
//
// C = alpha · A · B + beta · C for A m×k, B k×n, C m×n: A's element (i, p) is a[i·a_row + p·a_col],
// B's (p, j) is b[p·b_row + j·b_col], C's (i, j) is c[i·ldc + j]. With beta 0, C is only written
// (whatever it held, NaN included, is ignored). Each element of C is summed over k in the same
// order however C is split into blocks, so results do not depend on the number of threads.

// 1 when this CPU runs flint_sgemm (x86-64 with AVX2 and FMA) and this file was compiled with
// optimisation, else 0.
int flint_sgemm_supported(void);

// What flint_sgemm does to each element of C as it stores it for the last time (a layer's bias
// and activation, saving a pass over C): adds bias[j] (one float per column; NULL for none), then
// applies `activation`, exactly as FlintCPU's element-wise loops do: relu is `x <= 0 ? 0 : x` (NaN
// stays NaN), leaky relu `x > 0 ? x : slope · x`.
enum { FLINT_ACTIVATION_NONE = 0, FLINT_ACTIVATION_RELU = 1, FLINT_ACTIVATION_LEAKY_RELU = 2 };
typedef struct {
    const float *bias;
    int activation;
    float slope;
} flint_epilogue;

// Chooses the micro-kernels where the CPU has AVX-512: 1 the tiles on 512-bit registers (12×32
// and 12×16 from packed A, 6×32 from A in place), 0 the 6×16 AVX2 one, -1 the default (AVX-512
// wherever the CPU has it, unless FLINT_GEMM_AVX512=0). All give the same bits. Returns 1 if the
// AVX-512 tiles are now in use (never without AVX-512). For tests and measurements; not meant to
// be switched while products run.
int flint_sgemm_use_avx512(int choice);
// 1 while products use the AVX-512 tiles, else 0.
int flint_sgemm_avx512_in_use(void);
// 1 where the CPU has AVX-512 (flint_sgemm_use_avx512(1) would switch to its tiles), else 0.
int flint_sgemm_avx512_supported(void);
// How the AVX-512 12×32 tile reads A: 1 broadcast into a register (faster on AMD's cores), 0 as a
// memory operand of each multiply-add (faster on Intel's), -1 the default for this CPU. Same bits
// either way; returns the choice now in force. For tests and measurements.
int flint_sgemm_use_register_broadcasts(int choice);

// Applies `epilogue` in place to `rows` rows of `columns` floats, row r at c + r·ldc (bias[j] per
// column): for outputs computed elsewhere (a direct convolution's row), while they are in cache.
// Like flint_sgemm, only where flint_sgemm_supported() says so.
void flint_apply_epilogue(long rows, long columns, float *c, long ldc, const flint_epilogue *epilogue);

// m, n > 0, k >= 0. Uses packing buffers private to the calling thread (kept for its next call).
// `epilogue` may be NULL.
void flint_sgemm(long m, long n, long k, float alpha,
                 const float *a, long a_row, long a_col,
                 const float *b, long b_row, long b_col,
                 float beta, float *c, long ldc, const flint_epilogue *epilogue);

// B packed once for many products with it (an LSTM's recurrent kernel, one product per time
// step): flint_sgemm_pack writes the k×n matrix B (element (p, j) at b[p·b_row + j·b_col]) into
// `out`, flint_sgemm_packed_size(k, n) floats, and flint_sgemm_packed is flint_sgemm with that
// B, the same sums in the same order. `out` (and so `packed`) must be 32-byte aligned: the
// panels are stored and loaded with aligned vector instructions.
long flint_sgemm_packed_size(long k, long n);
void flint_sgemm_pack(long k, long n, const float *b, long b_row, long b_col, float *out);
void flint_sgemm_packed(long m, long n, long k, float alpha, const float *a, long a_row, long a_col,
                        const float *packed, float beta, float *c, long ldc, const flint_epilogue *epilogue);

// A packed once and shared by the tasks of one product split by columns (each would pack all of
// it): flint_sgemm_pack_a writes MR-row panels first_panel..<first_panel+panels of the m×k matrix
// A (element (i, p) at a[i·a_row + p·a_col]) for every k block into `out`
// (flint_sgemm_packed_a_size(m, k) floats, 32-byte aligned), so tasks can pack disjoint panels in
// parallel; flint_sgemm_a_packed is flint_sgemm with that A, the same sums in the same order.
// flint_sgemm_packs_a says whether flint_sgemm packs a strided A (column step a_col) for n columns
// at all (narrow products read it in place). flint_sgemm_shared_floats is a buffer of the calling
// thread, kept for its next call. MR is 6.
long flint_sgemm_packed_a_size(long m, long k);
int flint_sgemm_packs_a(long n, long a_col);
void flint_sgemm_pack_a(long m, long k, long first_panel, long panels, const float *a, long a_row, long a_col, float *out);
void flint_sgemm_a_packed(long m, long n, long k, float alpha, const float *packed, const float *b, long b_row, long b_col,
                          float beta, float *c, long ldc, const flint_epilogue *epilogue);
float *flint_sgemm_shared_floats(long count);

// flint_sgemm with A gathered: its element (i, p) is a[a_rows[i] + a_cols[p]] (a_rows m offsets,
// a_cols k). A convolution's column matrix is such an A over its image (rows: output positions,
// columns: taps; or the other way round for the filter gradient), so the product runs without
// making it. Where a_cols holds long runs of adjacent offsets, A's rows are read in place.
// The same sums in the same order as flint_sgemm of that matrix made explicitly (bands of rows
// or of columns alike).
void flint_sgemm_gathered(long m, long n, long k, float alpha, const float *a, const long *a_rows, const long *a_cols,
                          const float *b, long b_row, long b_col, float beta, float *c, long ldc,
                          const flint_epilogue *epilogue);
// flint_sgemm_gathered with B packed by flint_sgemm_pack: for products that take the same B
// many times (a convolution run a few output rows at a time).
void flint_sgemm_gathered_packed(long m, long n, long k, float alpha, const float *a, const long *a_rows, const long *a_cols,
                                 const float *packed, float beta, float *c, long ldc, const flint_epilogue *epilogue);

// A convolution's filter gradient with the image and the gradient read in place (filter_gradient.c):
// out[t · filters + f] = Σ_{p < count} image[positions[p] + taps[t]] · gradient[p · filters + f],
// overwritten, the sums over p in flint_sgemm's order. Only where flint_filter_gradient_in_place
// says so: AVX-512 tiles in use, at least 3 taps, and every tile's 3 taps adjacent in the image.
int flint_filter_gradient_in_place(long tap_count, const long *taps);
void flint_filter_gradient(long tap_count, long filters, long count, const float *image, const long *positions,
                           const long *taps, const float *gradient, float *out);
// flint_filter_gradient added to what `out` holds when `add` is nonzero (a sum over several calls).
void flint_filter_gradient_adding(long tap_count, long filters, long count, const float *image, const long *positions,
                                  const long *taps, const float *gradient, int add, float *out);

// A convolution's input gradient with col2im folded in (input_gradient.c): for each of
// `images` images n, each of its `count` output positions p and each tap t,
// Σ_f gradient[(n · count + p) · filters + f] · filter[t · filters + f] is added to
// image[n · image_stride + positions[p] + taps[t]]. The filter goes in packed first:
// flint_input_gradient_pack writes flint_input_gradient_packed_size floats. Only where
// flint_sgemm_avx512_in_use() says so (AVX-512 tiles); any taps (runs of adjacent ones go together).
long flint_input_gradient_packed_size(long tap_count, long filters, const long *taps);
void flint_input_gradient_pack(long tap_count, long filters, const long *taps, const float *filter, float *out);
void flint_input_gradient(long images, long count, long filters, long tap_count, const float *gradient,
                          const long *positions, const long *taps, const float *packed, float *image, long image_stride);

// y = alpha · M · x + beta · y for M rows × columns, element (i, j) at m[i·m_row + j·m_col],
// x[j·incx], y[i·incy]: the matrix–vector products of batch-1 inference, which are bound by
// reading M. Same conventions as flint_sgemm (beta 0 never reads y; the sum over j of each y[i]
// runs in an order that does not depend on how the rows are split between calls).
void flint_sgemv(long rows, long columns, float alpha, const float *m, long m_row, long m_col,
                 const float *x, long incx, float beta, float *y, long incy);

#endif
