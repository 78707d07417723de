// Fused optimizer steps: one pass over a parameter instead of a chain of element-wise launches.

#ifndef ELEMS_PER_ITEM
#define ELEMS_PER_ITEM 1
#endif

// Adam (PyTorch's rule, see AdamStep in FlintBackend): reads w, g, m, v and writes w', m', v'
// to separate buffers. step_size = lr / c1, inverse_root = 1 / sqrt(c2), keep = 1 - lr * decay.
__kernel void adam_step(int n, __global const float *w, __global const float *g,
                        __global const float *m, __global const float *v,
                        __global float *w_out, __global float *m_out, __global float *v_out,
                        float beta1, float beta2, float epsilon, float l2,
                        float step_size, float inverse_root, float keep) {
    int first = (int)get_global_id(0) * ELEMS_PER_ITEM;
    int last = min(first + ELEMS_PER_ITEM, n);
    for (int i = first; i < last; ++i) {
        float grad = g[i] + l2 * w[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * grad;
        float vi = beta2 * v[i] + (1.0f - beta2) * grad * grad;
        m_out[i] = mi;
        v_out[i] = vi;
        w_out[i] = w[i] * keep - step_size * mi / (sqrt(vi) * inverse_root + epsilon);
    }
}
