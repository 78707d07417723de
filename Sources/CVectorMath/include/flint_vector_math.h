#ifndef FLINT_VECTOR_MATH_H
#define FLINT_VECTOR_MATH_H

#include <stdint.h>

// Compute-bound loops of the CPU backend: the LSTM step and its adjoint (exponentials), direct
// convolution rows, Adam (a square root and a division per element), column sums in double,
// max pooling's windows.
// Swift code is compiled for the x86-64 baseline (four float lanes); these loops are compiled
// twice, for AVX2 (eight lanes) and the baseline, and the loader picks one for the CPU it runs
// on. Same operations in the same order as FastMath.swift, without contraction into FMA, so
// every machine computes the same bits.

// One LSTM step for one row of `units` (see Backend.lstmCell): x and r are the row's
// [4·units] input projection and h·U, c its cell state; writes gates [4·units] and out
// [h' | c'] [2·units].
void flint_lstm_cell_row(long units, const float *x, const float *r, const float *c, float *gates, float *out);
// The same from z alone (a step's input projection and recurrent product summed by one product).
void flint_lstm_cell_row_summed(long units, const float *z, const float *c, float *gates, float *out);

// Its adjoint for one row: from gates [4·units], c, the new cell c' and the gradients of h' and
// c', writes dz [4·units] and dc [units].
void flint_lstm_cell_backward_row(long units, const float *gates, const float *c, const float *new_cell,
                                  const float *grad_h, const float *grad_c, float *dz, float *dc);

// acc[i] += (double)rows[r·row_stride + i] for every row r < count, rows in order, i < width:
// the column sums of a reduction (a bias gradient), accumulated in double.
void flint_add_rows_double(const float *rows, long count, long row_stride, long width, double *acc);

// For `count` rows of `width` (contiguous): out = gradient · (output > 0 ? 1 : 0), element by
// element (ReLU's adjoint), and acc[i] += (double)out[r·width + i], rows in order.
void flint_relu_gradient_rows(const float *gradient, const float *output, long count, long width, float *out,
                              double *acc);

// Uniform floats low + scale · u from Philox4x32-10 blocks first..<first+blocks (see Philox.swift:
// block b has counter counter_offset + b and key seed; its four words give out[4b..4b+3], with
// u = (word >> 8) · 2⁻²⁴); `out` holds the whole blocks' values (4 · blocks floats from block first).
void flint_philox_uniform(float *out, long first, long blocks, unsigned long long seed,
                          unsigned long long counter_offset, float low, float scale);

// Inverted dropout from the same blocks: out[i] = x[i] · (u_i ≥ rate ? scale : 0), u_i the uniform
// (low 0, scale 1) of element i; x and out hold the whole blocks (4 · blocks floats from block
// first) and may be the same array.
void flint_philox_dropout(const float *x, float *out, long first, long blocks, unsigned long long seed,
                          unsigned long long counter_offset, float rate, float scale);

// One window of max pooling over `channels`: `windows` (≥ 1) candidate rows in tap order, row i
// at candidates[i] with tap taps[i]. Per channel, starting from row 0, a later row's value and
// tap replace the best where it beats a best that is not NaN or is NaN itself (the first NaN,
// else the first maximum; see CPUBackend.maxPool2d); best and best_taps get the result.
void flint_max_window(long channels, const float *const *candidates, const int32_t *taps, long windows, float *best,
                      int32_t *best_taps);

// flint_max_window for `outputs` windows in a row, window o's candidate i at candidates[i] +
// o·step, its results at best + o·channels; at most FLINT_MAX_WINDOW_ROW_TAPS candidates
// (more: nothing done; the caller checks).
#define FLINT_MAX_WINDOW_ROW_TAPS 64
void flint_max_window_row(long channels, long outputs, long step, const float *const *candidates, const int32_t *taps,
                          long windows, float *best, int32_t *best_taps);

// q[i] += p[i] for i < count (col2im's fold of a patch row into an image row); no overlap.
void flint_accumulate(float *q, const float *p, long count);

// One Adam update of elements 0..<count (see Backend.adamStep and CPUBackend.adamStep): from the
// parameter w, gradient g and moments m, v, writes w1, m1, v1, which may be the same arrays as
// the inputs. step_size is lr / (1 - β₁ᵗ), inverse_root 1 / √(1 - β₂ᵗ), keep 1 - lr · decay.
void flint_adam(long count, const float *w, const float *g, const float *m, const float *v,
                float *w1, float *m1, float *v1, float beta1, float beta2, float epsilon, float l2,
                float step_size, float inverse_root, float keep);

// One output row of a direct convolution for inputs with few channels (see
// DirectConvolution.swift), for a multiple of eight filters: `image` is the input image (NHWC,
// `width` × `channels` per row), kernel rows kh_begin..<kh_end are those inside the image, the
// first of them reading input row ih_begin; `weights` is [kh, kw, channels, filters]; writes
// out_width × filters floats to `out`. Eight filters of four neighbouring outputs stay in
// registers while every tap adds into them. Multiply-adds may be fused (AVX2 clone), so the
// last bits can differ between CPUs. One channel's whole 3×3 windows run in AVX-512 where the
// CPU has it, eight positions by 32 filters, and there the epilogue is applied in the registers
// (bias[f] added, NULL for none, then `activation`: 0 none, 1 ReLU, 2 leaky ReLU, as CGemm's
// flint_epilogue): the positions [*finished_begin, *finished_end); the caller applies it to the
// others (an empty range where none were).
void flint_conv_row(const float *image, long width, long channels, long kernel_width,
                    long stride_w, long pad_left, long dilation_h, long dilation_w,
                    long kh_begin, long kh_end, long ih_begin, long out_width,
                    const float *weights, long filters, const float *bias, int activation, float slope, float *out,
                    long *finished_begin, long *finished_end);

// The filter gradient's share of one output row, for a multiple of eight filters (the same
// geometry arguments as flint_conv_row; `gradient` is the row's out_width × filters output
// gradient): for every tap of kernel rows kh_begin..<kh_end and every channel, the eight-filter
// groups of Σ over the row's outputs of pixel · gradient, written to
// sums[((kh·kernel_width + kw)·channels + c)·filters + f]. Taps no output reads are left alone.
void flint_conv_filter_gradient_row(const float *image, long width, long channels, long kernel_width,
                                    long stride_w, long pad_left, long dilation_h, long dilation_w,
                                    long kh_begin, long kh_end, long ih_begin, long out_width,
                                    const float *gradient, long filters, float *sums);

#endif
