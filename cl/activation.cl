/* ReLU.  Forward keeps NaN (as PyTorch does) and maps -0 to +0; backward
 * passes the gradient only where the output is > 0 (gradient 0 at exactly 0). */
#include "xd_math.h"

__kernel void xd_relu_fwd(__global const float *x, __global float *y, const uint n)
{
    uint j = (uint)get_global_id(0);
    if (j >= n) return;
    float v = x[j];
    y[j] = (v > 0.0f) ? v : ((v == v) ? 0.0f : v);
}

__kernel void xd_relu_bwd(__global const float *y, __global const float *dy,
                          __global float *dx, const uint n)
{
    uint j = (uint)get_global_id(0);
    if (j >= n) return;
    dx[j] = (y[j] > 0.0f) ? dy[j] : 0.0f;
}
