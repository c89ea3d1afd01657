/* Fast mode only (host/ops/conv2d.c, host/ops/dense.c): the data movement around
 * CLBlast's SGEMM.  None of these kernels is used in reproducible mode.
 *
 * col layout for a chunk of NB samples starting at n0, P = OH*OW:
 *   col[(c*KH + kh)*KW + kw][(n - n0)*P + oh*OW + ow]  (0 for padding taps) */
#include "xd_math.h"

__kernel void xd_im2col(__global const float *x, __global float *col, const uint n0, const uint NB,
                        const uint C, const uint H, const uint W, const uint KH, const uint KW,
                        const uint OH, const uint OW, const uint SH, const uint SW, const uint PT,
                        const uint PL)
{
    uint P = OH * OW;
    uint cols = NB * P;
    uint g = (uint)get_global_id(0);
    if (g >= C * KH * KW * cols) return;
    uint j = g % cols;
    uint r = g / cols;
    uint kw = r % KW;
    uint t = r / KW;
    uint kh = t % KH;
    uint c = t / KH;
    uint nl = j / P;
    uint p = j % P;
    uint oh = p / OW, ow = p % OW;
    int ih = (int)(oh * SH + kh) - (int)PT;
    int iw = (int)(ow * SW + kw) - (int)PL;
    float v = 0.0f;
    if (ih >= 0 && ih < (int)H && iw >= 0 && iw < (int)W)
        v = x[(((size_t)(n0 + nl) * C + c) * H + (size_t)ih) * W + (size_t)iw];
    col[g] = v;
}

/* dx[n, c, ih, iw] for n in [n0, n0+NB) = sum of the col entries of its taps. */
__kernel void xd_col2im(__global const float *col, __global float *dx, const uint n0, const uint NB,
                        const uint C, const uint H, const uint W, const uint KH, const uint KW,
                        const uint OH, const uint OW, const uint SH, const uint SW, const uint PT,
                        const uint PL)
{
    uint g = (uint)get_global_id(0);
    if (g >= NB * C * H * W) return;
    uint iw = g % W;
    uint t = g / W;
    uint ih = t % H;
    t /= H;
    uint c = t % C;
    uint nl = t / C;
    uint P = OH * OW;
    size_t cols = (size_t)NB * P;
    float acc = 0.0f;
    for (uint kh = 0; kh < KH; ++kh) {
        int th = (int)ih + (int)PT - (int)kh;
        if (th < 0 || th % (int)SH != 0) continue;
        uint oh = (uint)th / SH;
        if (oh >= OH) continue;
        for (uint kw = 0; kw < KW; ++kw) {
            int tw = (int)iw + (int)PL - (int)kw;
            if (tw < 0 || tw % (int)SW != 0) continue;
            uint ow = (uint)tw / SW;
            if (ow >= OW) continue;
            acc += col[((size_t)(c * KH + kh) * KW + kw) * cols + (size_t)nl * P + oh * OW + ow];
        }
    }
    dx[((size_t)n0 * C) * H * W + g] = acc;
}

/* Strided copy of A x B rows of P floats (swaps axes between layouts):
 *   out[out_off + a*osa + b*osb + p] = in[in_off + a*isa + b*isb + p] (+ bias[a]) (ReLU) */
__kernel void xd_permute3(__global const float *in, __global const float *bias,
                          __global float *out, const uint A, const uint B, const uint P,
                          const ulong in_off, const uint isa, const uint isb, const ulong out_off,
                          const uint osa, const uint osb, const int has_bias, const int relu)
{
    uint g = (uint)get_global_id(0);
    if (g >= A * B * P) return;
    uint p = g % P;
    uint t = g / P;
    uint b = t % B;
    uint a = t / B;
    float v = in[in_off + (size_t)a * isa + (size_t)b * isb + p];
    if (has_bias) v = v + bias[a];
    if (relu) v = xd_relu(v);
    out[out_off + (size_t)a * osa + (size_t)b * osb + p] = v;
}

/* y[r, o] += b[o] for y [R, O]. */
__kernel void xd_add_bias_rows(__global float *y, __global const float *b, const uint R, const uint O)
{
    uint g = (uint)get_global_id(0);
    if (g >= R * O) return;
    y[g] = y[g] + b[g % O];
}
