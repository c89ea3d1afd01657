/* Keras's L2 regularizer (keras/src/regularizers/regularizers.py, L2):
 * the loss gains l2 * sum(square(w)) for each regularized variable, l2 cast
 * to float32; JAX differentiates it to l2 * (2 w), added to the data
 * gradient (one float32 addition, so its operands' order does not matter).
 *
 *   xd_l2_penalty   one work-item: s = ((w0 w0 + w1 w1) + w2 w2) + ... in
 *                   index order, then loss[0] = loss[0] + l2 s.  The
 *                   training step's loss is the data loss, then each
 *                   penalty added in the plan's order (docs/reproducibility.md).
 *   xd_l2_gradient  g[j] = g[j] + l2 (2 w[j]): two roundings, no contraction
 *                   in reproducible mode. */
#include "xd_math.h"

__kernel void xd_l2_penalty(__global const float *w, const uint n, const float l2, __global float *loss)
{
    if (get_global_id(0) != 0) return;
    float s = 0.0f;
    XD_ORDERED
    for (uint j = 0; j < n; ++j) {
        float q = w[j] * w[j];
        s = s + q;
    }
    float p = l2 * s;
    loss[0] = loss[0] + p;
}

__kernel void xd_l2_gradient(__global const float *w, __global float *g, const uint n, const float l2)
{
    size_t j = get_global_id(0);
    if (j >= n) return;
    float d = l2 * (2.0f * w[j]);
    g[j] = g[j] + d;
}
