#ifndef FLINT_VECTOR_MATH_H
#define FLINT_VECTOR_MATH_H

// Row loops of the CPU backend whose cost is exponentials: the LSTM step and its adjoint.
// Swift code is compiled for the x86-64 baseline (four float lanes); these loops are compiled
// twice, for AVX2 (eight lanes) and the baseline, and the loader picks one for the CPU it runs
// on. Same operations in the same order as FastMath.swift, without contraction into FMA, so
// every machine computes the same bits.

// One LSTM step for one row of `units` (see Backend.lstmCell): x and r are the row's
// [4·units] input projection and h·U, c its cell state; writes gates [4·units] and out
// [h' | c'] [2·units].
void flint_lstm_cell_row(long units, const float *x, const float *r, const float *c, float *gates, float *out);

// Its adjoint for one row: from gates [4·units], c, the new cell c' and the gradients of h' and
// c', writes dz [4·units] and dc [units].
void flint_lstm_cell_backward_row(long units, const float *gates, const float *c, const float *new_cell,
                                  const float *grad_h, const float *grad_c, float *dz, float *dc);

#endif
