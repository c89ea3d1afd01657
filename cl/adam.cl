/* Adam, the update of torch.optim.Adam (no weight decay, no amsgrad):
 *   m = b1 m + (1-b1) g;   v = b2 v + (1-b2) (g g)
 *   w = w - step * (m / (sqrt(v) / sqrt(1-b2^t) + eps)),  step = lr / (1-b1^t)
 * 1-b1, 1-b2, sqrt(1-b2^t) and step come from the host, computed in double
 * and rounded once to float: a device pow() differs between devices, and
 * 1 - 0.999f in float32 is 6.4e-6 off from 1 - 0.999. */
#include "xd_math.h"

__kernel void xd_adam(__global float *w, __global const float *g, __global float *m,
                      __global float *v, const uint n, const float b1, const float omb1,
                      const float b2, const float omb2, const float sqrt_bc2, const float step,
                      const float eps)
{
    uint j = (uint)get_global_id(0);
    if (j >= n) return;
    float gj = g[j];
    float mj = b1 * m[j] + omb1 * gj;
    float vj = b2 * v[j] + omb2 * (gj * gj);
    m[j] = mj;
    v[j] = vj;
    float denom = XD_DIV(XD_SQRT(vj), sqrt_bc2) + eps;
    w[j] = w[j] - step * XD_DIV(mj, denom);
}

/* Up to four tensors in one launch (the model's whole update): work-item j
 * updates element j of the concatenation [t0 | t1 | t2 | t3]; each element
 * gets exactly the arithmetic of xd_adam. */
__kernel void xd_adam4(__global float *w0, __global const float *g0, __global float *m0, __global float *v0,
                       const uint n0, __global float *w1, __global const float *g1, __global float *m1,
                       __global float *v1, const uint n1, __global float *w2, __global const float *g2,
                       __global float *m2, __global float *v2, const uint n2, __global float *w3,
                       __global const float *g3, __global float *m3, __global float *v3, const uint n3,
                       const float b1, const float omb1, const float b2, const float omb2,
                       const float sqrt_bc2, const float step, const float eps)
{
    uint j = (uint)get_global_id(0);
    __global float *w;
    __global const float *g;
    __global float *m;
    __global float *v;
    if (j < n0) {
        w = w0; g = g0; m = m0; v = v0;
    } else if ((j -= n0) < n1) {
        w = w1; g = g1; m = m1; v = v1;
    } else if ((j -= n1) < n2) {
        w = w2; g = g2; m = m2; v = v2;
    } else if ((j -= n2) < n3) {
        w = w3; g = g3; m = m3; v = v3;
    } else {
        return;
    }
    float gj = g[j];
    float mj = b1 * m[j] + omb1 * gj;
    float vj = b2 * v[j] + omb2 * (gj * gj);
    m[j] = mj;
    v[j] = vj;
    float denom = XD_DIV(XD_SQRT(vj), sqrt_bc2) + eps;
    w[j] = w[j] - step * XD_DIV(mj, denom);
}
