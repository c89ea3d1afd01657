/* Optimizers in Keras's and PyTorch's forms (PyTorch's Adam: cl/adam.cl).
 * Every hyperparameter-derived scalar comes from the host, computed in
 * double and rounded once to float (docs/reproducibility.md).  No fma
 * anywhere: each product and sum is rounded on its own (FP_CONTRACT OFF), as
 * the frameworks' own elementwise ops write them.
 *
 * Keras 3 Adam (keras/src/optimizers/adam.py update_step, amsgrad off):
 *   alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)    (host, double -> float)
 *   m += (g - m) * (1 - b1);  v += (g * g - v) * (1 - b2)
 *   w -= (m * alpha) / (sqrt(v) + eps)
 *
 * Keras 3 SGD (keras/src/optimizers/sgd.py update_step), momentum != 0:
 *   m = m * momentum - g * lr
 *   nesterov: w = w + (m * momentum - g * lr);  else w = w + m
 * momentum == 0 (no momentum variable):  w = w - g * lr
 *
 * PyTorch SGD (torch.optim.SGD, _single_tensor_sgd; dampening 0, no weight
 * decay), momentum != 0:
 *   first step: buf = g;  later: buf = buf * momentum + g
 *   nesterov: d = g + momentum * buf;  else d = buf
 * momentum == 0: d = g;   then w = w - lr * d  (param.add_(d, alpha=-lr)) */
#include "xd_math.h"

__kernel void xd_adam_keras(__global float *w, __global const float *g, __global float *m, __global float *v,
                            const uint n, const float alpha, const float omb1, const float omb2, const float eps)
{
    size_t j = get_global_id(0); /* not uint: see xd_adam */
    if (j >= n) return;
    float gj = g[j];
    float mj = m[j] + (gj - m[j]) * omb1;
    float vj = v[j] + (gj * gj - v[j]) * omb2;
    m[j] = mj;
    v[j] = vj;
    w[j] = w[j] - XD_DIV(mj * alpha, XD_SQRT(vj) + eps);
}

/* m may be any buffer when momentum is 0 (has_m 0). */
__kernel void xd_sgd_keras(__global float *w, __global const float *g, __global float *m, const uint n,
                           const float lr, const float momentum, const int has_m, const int nesterov)
{
    size_t j = get_global_id(0); /* not uint: see xd_adam */
    if (j >= n) return;
    float gl = g[j] * lr;
    if (!has_m) {
        w[j] = w[j] - gl;
        return;
    }
    float mj = m[j] * momentum - gl;
    m[j] = mj;
    w[j] = w[j] + (nesterov ? mj * momentum - gl : mj);
}

/* first: the step that creates PyTorch's momentum buffer (buf = g). */
__kernel void xd_sgd_torch(__global float *w, __global const float *g, __global float *buf, const uint n,
                           const float lr, const float momentum, const int has_m, const int nesterov,
                           const int first)
{
    size_t j = get_global_id(0); /* not uint: see xd_adam */
    if (j >= n) return;
    float gj = g[j], d = gj;
    if (has_m) {
        float b = first ? gj : buf[j] * momentum + gj;
        buf[j] = b;
        d = nesterov ? gj + momentum * b : b;
    }
    w[j] = w[j] - lr * d;
}
