/* The merging layers of a functional model, and the sum of a gradient that
 * fans out.
 *
 * Keras 3 (keras/src/layers/merging/add.py, concatenate.py):
 *   Add:          output = inputs[0]; output = ops.add(output, inputs[i]) for
 *                 i = 1, 2, ...: one float32 addition per input after the
 *                 first, in the list's order (the host launches xd_add once
 *                 per addition, so the order is the layer's)
 *   Concatenate:  ops.concatenate(inputs, axis=-1): channels last in Keras,
 *                 crossdev's NCHW axis 1 (features after a Dense or a
 *                 global pooling: axis 1 of [N, F]); copies, no arithmetic
 * Their gradients: Add passes dy to each input, Concatenate gives each
 * input its channels of dy.  Where a tensor feeds several layers (a
 * residual branch) its gradient is the sum of what each gives it, added by
 * xd_add in the order the plan says (host/train/plan.c, docs/reproducibility.md).
 * Each output element is one addition or one copy: no order to fix within
 * a kernel. */
#include "xd_math.h"

/* y[j] = a[j] + b[j]; y may be a (the sum accumulates into it). */
/* relu: the ReLU after it (a fusion: cl/activation.cl's xd_relu_fwd, value
 * for value).  XD_VW elements a work-item (a last partial vector element
 * by element). */
__kernel void xd_add(__global const float *a, __global const float *b, __global float *y, const uint n,
                     const int relu)
{
    uint j0 = (uint)get_global_id(0) * XD_VW;
    if (j0 >= n) return;
    if (n - j0 < XD_VW) {
        for (uint j = j0; j < n; ++j) {
            float v = a[j] + b[j];
            y[j] = relu ? xd_relu(v) : v;
        }
        return;
    }
    xd_vf v = XD_VLOAD(a + j0) + XD_VLOAD(b + j0);
    if (relu) v = xd_vrelu(v);
    xd_vstore_n(v, y + j0, XD_VW);
}

/* Element g of x [N, C, HW] and its place in y [N, CY, HW] at channel offset
 * `off`.  mode 0: y[that] = x[g] (forward); 1: x[g] = y[that] (backward, x
 * is dx); 2: x[g] = x[g] + y[that] (backward, accumulating into dx). */
__kernel void xd_concat_copy(__global float *x, __global float *y, const uint N, const uint C, const uint HW,
                             const uint CY, const uint off, const int mode)
{
    uint g = (uint)get_global_id(0);
    if (g >= N * C * HW) return;
    uint p = g % HW, c = (g / HW) % C, n = g / (HW * C);
    size_t at = ((size_t)n * CY + off + c) * HW + p;
    if (mode == 0) y[at] = x[g];
    else if (mode == 1) x[g] = y[at];
    else x[g] = x[g] + y[at];
}

/* ZeroPadding2D: element g of y [NC, OH, OW] is x [NC, H, W] at (oh - PT,
 * ow - PL), or 0 outside it (forward); the backward crops: element g of dx
 * [NC, H, W] is dy at (h + PT, w + PL).  Copies only: no arithmetic. */
__kernel void xd_zeropad_fwd(__global const float *x, __global float *y, const uint NC, const uint H, const uint W,
                             const uint OH, const uint OW, const uint PT, const uint PL)
{
    uint g = (uint)get_global_id(0);
    if (g >= NC * OH * OW) return;
    uint ow = g % OW, oh = (g / OW) % OH, plane = g / (OW * OH);
    int h = (int)oh - (int)PT, w = (int)ow - (int)PL;
    y[g] = (h >= 0 && h < (int)H && w >= 0 && w < (int)W) ? x[((size_t)plane * H + (uint)h) * W + (uint)w] : 0.0f;
}

__kernel void xd_zeropad_bwd(__global const float *dy, __global float *dx, const uint NC, const uint H, const uint W,
                             const uint OH, const uint OW, const uint PT, const uint PL)
{
    uint g = (uint)get_global_id(0);
    if (g >= NC * H * W) return;
    uint w = g % W, h = (g / W) % H, plane = g / (W * H);
    dx[g] = dy[((size_t)plane * OH + h + PT) * OW + w + PL];
}
