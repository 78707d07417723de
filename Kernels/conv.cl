// Convolution support over NHWC images: im2col and its adjoint col2im, and max pooling.
//
// The column matrix is [patch_count, patch_size]: row (n * out_h + oh) * out_w + ow, column
// (kh * kernel_w + kw) * channels + c. Both kernels take the geometry as the same int
// arguments, in ConvGeometry's order (CONV_GEOMETRY below).

// 1: each work-item moves whole runs of channels (CPUs: the index arithmetic, divisions
// included, is paid once per run and the inner loops vectorise); 0: one work-item per element
// (GPUs: neighbouring work-items touch neighbouring addresses).
#ifndef CONV_RUNS
#define CONV_RUNS 0
#endif

#define CONV_GEOMETRY                                                                \
    int batch, int height, int width, int channels, int kernel_h, int kernel_w,      \
    int stride_h, int stride_w, int dilation_h, int dilation_w, int pad_top, int pad_left, \
    int out_h, int out_w

// out[row, col] = the image element output `row` sees through the tap and channel of `col`, or
// pad_value outside the image. CONV_RUNS: a work-item per (row, kh) writes that kernel row's
// kernel_w * channels entries; else a work-item per entry.
__kernel void im2col(__global const float *x, int xoff, CONV_GEOMETRY, float pad_value,
        __global float *out) {
    int patch_size = kernel_h * kernel_w * channels;
    int g = get_global_id(0);
#if CONV_RUNS
    if (g >= batch * out_h * out_w * kernel_h) return;
    int row = g / kernel_h, kh = g - row * kernel_h;
    int t = row / out_w, ow = row - t * out_w;
    int n = t / out_h, oh = t - n * out_h;
    int ih = oh * stride_h - pad_top + kh * dilation_h;
    __global float *q = out + row * patch_size + kh * kernel_w * channels;
    if (ih < 0 || ih >= height) {
        for (int j = 0; j < kernel_w * channels; ++j) q[j] = pad_value;
        return;
    }
    __global const float *p = x + xoff + (n * height + ih) * width * channels;
    for (int kw = 0; kw < kernel_w; ++kw, q += channels) {
        int iw = ow * stride_w - pad_left + kw * dilation_w;
        if (iw >= 0 && iw < width) {
            for (int c = 0; c < channels; ++c) q[c] = p[iw * channels + c];
        } else {
            for (int c = 0; c < channels; ++c) q[c] = pad_value;
        }
    }
#else
    if (g >= batch * out_h * out_w * patch_size) return;
    int row = g / patch_size, col = g - row * patch_size;
    int tap = col / channels, c = col - tap * channels;
    int kh = tap / kernel_w, kw = tap - kh * kernel_w;
    int t = row / out_w, ow = row - t * out_w;
    int n = t / out_h, oh = t - n * out_h;
    int ih = oh * stride_h - pad_top + kh * dilation_h;
    int iw = ow * stride_w - pad_left + kw * dilation_w;
    bool inside = ih >= 0 && ih < height && iw >= 0 && iw < width;
    out[g] = inside ? x[xoff + ((n * height + ih) * width + iw) * channels + c] : pad_value;
#endif
}

// out[n, h, w, c] = the sum of the column entries im2col copied from it: tap (kh, kw) of output
// (oh, ow) reads it when h + pad_top - kh * dilation_h == oh * stride_h (and likewise across),
// with oh and ow in range. Each element is owned by one work-item and summed in a fixed order
// (kh, then kw), so the result is deterministic, needs no atomics and overwrites `out`.
// CONV_RUNS: a work-item per pixel (n, h, w) handles its channels; else one per element.
__kernel void col2im(__global const float *cols, int coff, CONV_GEOMETRY, __global float *out) {
    int patch_size = kernel_h * kernel_w * channels;
    int g = get_global_id(0);
#if CONV_RUNS
    if (g >= batch * height * width) return;
    int u = g / width, w = g - u * width;
    int c = 0;  // p below points at the pixel's first channel
    __global float *q = out + g * channels;
    for (int j = 0; j < channels; ++j) q[j] = 0.0f;
#else
    if (g >= batch * height * width * channels) return;
    int t = g / channels, c = g - t * channels;
    int u = t / width, w = t - u * width;
    __global float *q = out + g;
    float sum = 0.0f;
#endif
    int n = u / height, h = u - n * height;
    for (int kh = 0; kh < kernel_h; ++kh) {
        int y = h + pad_top - kh * dilation_h;
        if (y < 0) break;  // y only falls as kh grows
        int oh = y / stride_h;
        if (oh * stride_h != y || oh >= out_h) continue;
        int row_base = (n * out_h + oh) * out_w;
        for (int kw = 0; kw < kernel_w; ++kw) {
            int z = w + pad_left - kw * dilation_w;
            if (z < 0) break;
            int ow = z / stride_w;
            if (ow * stride_w != z || ow >= out_w) continue;
            __global const float *p = cols + coff + (row_base + ow) * patch_size + (kh * kernel_w + kw) * channels + c;
#if CONV_RUNS
            for (int j = 0; j < channels; ++j) q[j] += p[j];
#else
            sum += *p;
#endif
        }
    }
#if !CONV_RUNS
    *q = sum;
#endif
}

// Max pooling: out[n, oh, ow, c] is the largest element of the window of (oh, ow) in channel c
// and taps[...] its tap kh * kernel_w + kw. A value replaces the best so far when nothing has
// won yet or when it beats a best that is not NaN (so NaN wins and the first of equals stays);
// padding never takes part. CONV_RUNS: a work-item per output pixel handles its channels.
__kernel void max_pool(__global const float *x, int xoff, CONV_GEOMETRY, __global float *out,
        __global int *taps) {
    int g = get_global_id(0);
#if CONV_RUNS
    if (g >= batch * out_h * out_w) return;
    int pixel = g;
    __global float *o = out + pixel * channels;
    __global int *t = taps + pixel * channels;
    for (int c = 0; c < channels; ++c) { o[c] = -INFINITY; t[c] = -1; }
#else
    if (g >= batch * out_h * out_w * channels) return;
    int pixel = g / channels, c = g - pixel * channels;
    float best = -INFINITY;
    int winner = -1;
#endif
    int u = pixel / out_w, ow = pixel - u * out_w;
    int n = u / out_h, oh = u - n * out_h;
    for (int kh = 0; kh < kernel_h; ++kh) {
        int ih = oh * stride_h - pad_top + kh * dilation_h;
        if (ih < 0 || ih >= height) continue;
        for (int kw = 0; kw < kernel_w; ++kw) {
            int iw = ow * stride_w - pad_left + kw * dilation_w;
            if (iw < 0 || iw >= width) continue;
            __global const float *p = x + xoff + ((n * height + ih) * width + iw) * channels;
            int tap = kh * kernel_w + kw;
#if CONV_RUNS
            for (int c = 0; c < channels; ++c) {
                float v = p[c], b = o[c];
                if (t[c] < 0 || (!(v <= b) && b == b)) { o[c] = v; t[c] = tap; }
            }
#else
            float v = p[c];
            if (winner < 0 || (!(v <= best) && best == best)) { best = v; winner = tap; }
#endif
        }
    }
#if !CONV_RUNS
    out[g] = best;
    taps[g] = winner;
#endif
}

// The adjoint of max_pool: out[n, h, w, c] sums the gradients of the outputs whose winning tap
// read it, visiting (kh, kw) in ascending order as col2im does (deterministic, no atomics,
// overwrites out). CONV_RUNS: a work-item per input pixel handles its channels.
__kernel void max_pool_backward(__global const float *grad, int goff, __global const int *taps,
        CONV_GEOMETRY, __global float *out) {
    int g = get_global_id(0);
#if CONV_RUNS
    if (g >= batch * height * width) return;
    int pixel = g;
    __global float *q = out + pixel * channels;
    for (int c = 0; c < channels; ++c) q[c] = 0.0f;
#else
    if (g >= batch * height * width * channels) return;
    int pixel = g / channels, c = g - pixel * channels;
    float sum = 0.0f;
#endif
    int u = pixel / width, w = pixel - u * width;
    int n = u / height, h = u - n * height;
    for (int kh = 0; kh < kernel_h; ++kh) {
        int y = h + pad_top - kh * dilation_h;
        if (y < 0) break;
        int oh = y / stride_h;
        if (oh * stride_h != y || oh >= out_h) continue;
        for (int kw = 0; kw < kernel_w; ++kw) {
            int z = w + pad_left - kw * dilation_w;
            if (z < 0) break;
            int ow = z / stride_w;
            if (ow * stride_w != z || ow >= out_w) continue;
            int at = ((n * out_h + oh) * out_w + ow) * channels;
            int tap = kh * kernel_w + kw;
#if CONV_RUNS
            for (int c = 0; c < channels; ++c)
                if (taps[at + c] == tap) q[c] += grad[goff + at + c];
#else
            if (taps[at + c] == tap) sum += grad[goff + at + c];
#endif
        }
    }
#if !CONV_RUNS
    out[g] = sum;
#endif
}
