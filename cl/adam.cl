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
    /* a size_t index, not uint: Intel's CPU compiler vectorised the uint
     * form (which may wrap) into gathers and scatters, at 0.34 ms for
     * seed-cnn's 216,650 parameters; contiguous loads take 0.07-0.10 */
    size_t j = get_global_id(0);
    if (j >= n) return;
    float gj = g[j];
    float mj = b1 * m[j] + omb1 * gj;
    float vj = b2 * v[j] + omb2 * (gj * gj);
    m[j] = mj;
    v[j] = vj;
    float denom = XD_DIV(XD_SQRT(vj), sqrt_bc2) + eps;
    w[j] = w[j] - step * XD_DIV(mj, denom);
}

