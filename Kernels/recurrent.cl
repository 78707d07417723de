// Recurrent cells: one LSTM step per launch, one work-item per (row, unit), so a step is one
// kernel instead of a dozen element-wise launches and their intermediates.
// Gate order i, f, g, o along the columns (Keras, PyTorch); see Backend.lstmCell.

static inline float lstm_sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

// z = input + recurrent ([batch, 4·units], each with row and column strides); c = cell.
// out = [h' | c'] and gates = [σ(z_i) | σ(z_f) | tanh(z_g) | σ(z_o)], contiguous.
__kernel void lstm_cell(int batch, int units,
                        __global const float *x, int x_offset, int x_row, int x_col,
                        __global const float *r, int r_offset, int r_row, int r_col,
                        __global const float *c, int c_offset, int c_row, int c_col,
                        __global float *out, __global float *gates) {
    int id = (int)get_global_id(0);
    if (id >= batch * units) return;
    int b = id / units, j = id % units;
    __global const float *xb = x + x_offset + b * x_row;
    __global const float *rb = r + r_offset + b * r_row;
    float i = lstm_sigmoid(xb[j * x_col] + rb[j * r_col]);
    float f = lstm_sigmoid(xb[(units + j) * x_col] + rb[(units + j) * r_col]);
    float g = tanh(xb[(2 * units + j) * x_col] + rb[(2 * units + j) * r_col]);
    float o = lstm_sigmoid(xb[(3 * units + j) * x_col] + rb[(3 * units + j) * r_col]);
    float new_cell = f * c[c_offset + b * c_row + j * c_col] + i * g;
    __global float *gate_row = gates + b * 4 * units;
    gate_row[j] = i;
    gate_row[units + j] = f;
    gate_row[2 * units + j] = g;
    gate_row[3 * units + j] = o;
    out[b * 2 * units + j] = o * tanh(new_cell);
    out[b * 2 * units + units + j] = new_cell;
}

// The adjoint: from gates, c, out = [h' | c'] and the gradients of h' and c' (each [batch, units],
// strided; a zero one has strides 0), the gradient of z (dz, [batch, 4·units]) and of c (dc,
// [batch, units]), contiguous.
__kernel void lstm_cell_backward(int batch, int units, __global const float *gates,
                                 __global const float *c, int c_offset, int c_row, int c_col,
                                 __global const float *out,
                                 __global const float *grad_h, int h_offset, int h_row, int h_col,
                                 __global const float *grad_c, int gc_offset, int gc_row, int gc_col,
                                 __global float *dz, __global float *dc) {
    int id = (int)get_global_id(0);
    if (id >= batch * units) return;
    int b = id / units, j = id % units;
    __global const float *gate_row = gates + b * 4 * units;
    float i = gate_row[j], f = gate_row[units + j], g = gate_row[2 * units + j], o = gate_row[3 * units + j];
    float dh = grad_h[h_offset + b * h_row + j * h_col];
    float d_new_cell = grad_c[gc_offset + b * gc_row + j * gc_col];
    float squashed = tanh(out[b * 2 * units + units + j]);
    float total = d_new_cell + dh * o * (1.0f - squashed * squashed);
    __global float *dz_row = dz + b * 4 * units;
    dz_row[j] = total * g * (i * (1.0f - i));
    dz_row[units + j] = total * c[c_offset + b * c_row + j * c_col] * (f * (1.0f - f));
    dz_row[2 * units + j] = total * i * (1.0f - g * g);
    dz_row[3 * units + j] = dh * squashed * (o * (1.0f - o));
    dc[b * units + j] = total * f;
}
