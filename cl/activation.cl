/* ReLU.  Forward keeps NaN (as PyTorch does) and maps -0 to +0; backward
 * passes the gradient only where the output is > 0 (gradient 0 at exactly 0). */
#include "xd_math.h"

__kernel void xd_relu_fwd(__global const float *x, __global float *y, const uint n)
{
    size_t j = get_global_id(0); /* size_t: a uint index becomes gathers on Intel's CPU runtime (cl/adam.cl) */
    if (j >= n) return;
    float v = x[j];
    y[j] = xd_relu(v);
}

/* One work-item: XD_VW consecutive elements from contiguous loads (a last
 * partial vector element by element).  One scalar work-item per element
 * ran at ~1.3 G elements/s on Intel's CPU runtime, 14% of a mnist-convnet
 * step there; a select moves bits, so the lanes change none. */
__kernel void xd_relu_bwd(__global const float *y, __global const float *dy,
                          __global float *dx, const uint n)
{
    uint j0 = (uint)get_global_id(0) * XD_VW;
    if (j0 >= n) return;
    if (n - j0 < XD_VW) {
        for (uint j = j0; j < n; ++j) dx[j] = (y[j] > 0.0f) ? dy[j] : 0.0f;
        return;
    }
    xd_vf g = XD_VSELECT((xd_vf)0.0f, XD_VLOAD(dy + j0), XD_VLOAD(y + j0) > (xd_vf)0.0f);
    xd_vstore_n(g, dx + j0, XD_VW);
}

/* The other activations (sigmoid, tanh, leaky_relu, elu, relu6, silu): one
 * element per work-item, the element functions of xd_math.h (kind a
 * XD_ACTK_*, a its parameter).  The backward reads the forward's input x and
 * output y. */
__kernel void xd_act_fwd(__global const float *x, __global float *y, const uint n, const int kind, const float a)
{
    size_t j = get_global_id(0);
    if (j >= n) return;
    y[j] = xd_act_fwd1(kind, a, x[j]);
}

__kernel void xd_act_bwd(__global const float *x, __global const float *y, __global const float *dy,
                         __global float *dx, const uint n, const int kind, const float a)
{
    size_t j = get_global_id(0);
    if (j >= n) return;
    dx[j] = xd_act_bwd1(kind, a, x[j], y[j], dy[j]);
}
