/* conv2d, NCHW input [N,C,H,W], OIHW weights [O,C,KH,KW], output [N,O,OH,OW],
 * stride (SH,SW), padding top/left (PT,PL) (bottom/right follow from OH/OW).
 *
 * Summation orders (docs/reproducibility.md):
 *  forward      y[n,o,oh,ow]  = fma chain over (c, kh, kw) ascending from 0,
 *                               taps in the padding skipped, then + b[o]
 *  bwd data     dx[n,c,ih,iw] = fma chain over (o, kh, kw) ascending from 0,
 *                               over the taps that reach (ih, iw)
 *  bwd weights  dW[o,c,kh,kw] = sum over n ascending (adds from 0) of the
 *                               fma chain over (oh, ow) ascending from 0
 *  bwd bias     db[o]         = sum over n ascending of the add chain over (oh, ow) */
#include "xd_math.h"

/* Output channels per work-item: a tunable (-D from host/params.c); it
 * decides which work-item computes an output, never the order of its sum. */
#ifndef XD_CONV_OB
#define XD_CONV_OB 4
#endif

/* One work-item: sample n, XD_CONV_OB output channels, one output pixel. */
__kernel void xd_conv2d_fwd(__global const float *x, __global const float *w,
                            __global const float *b, __global float *y, const uint N,
                            const uint C, const uint H, const uint W, const uint O,
                            const uint KH, const uint KW, const uint OH, const uint OW,
                            const uint SH, const uint SW, const uint PT, const uint PL,
                            const int has_bias, const int relu)
{
    uint nob = (O + XD_CONV_OB - 1) / XD_CONV_OB;
    uint g = (uint)get_global_id(0);
    if (g >= N * nob * OH * OW) return;
    uint ow = g % OW;
    uint t = g / OW;
    uint oh = t % OH;
    t /= OH;
    uint ob = t % nob;
    uint n = t / nob;
    float acc[XD_CONV_OB];
    uint oc[XD_CONV_OB];
    for (uint q = 0; q < XD_CONV_OB; ++q) {
        acc[q] = 0.0f;
        oc[q] = min(ob * XD_CONV_OB + q, O - 1);
    }
    int ih0 = (int)(oh * SH) - (int)PT;
    int iw0 = (int)(ow * SW) - (int)PL;
    for (uint c = 0; c < C; ++c) {
        __global const float *xc = x + ((size_t)n * C + c) * H * W;
        for (uint kh = 0; kh < KH; ++kh) {
            int ih = ih0 + (int)kh;
            if (ih < 0 || ih >= (int)H) continue;
            for (uint kw = 0; kw < KW; ++kw) {
                int iw = iw0 + (int)kw;
                if (iw < 0 || iw >= (int)W) continue;
                float xv = xc[(size_t)ih * W + (size_t)iw];
                for (uint q = 0; q < XD_CONV_OB; ++q)
                    acc[q] = XD_FMA(xv, w[(((size_t)oc[q] * C + c) * KH + kh) * KW + kw], acc[q]);
            }
        }
    }
    for (uint q = 0; q < XD_CONV_OB; ++q) {
        uint o = ob * XD_CONV_OB + q;
        if (o >= O) break;
        float v = acc[q];
        if (has_bias) v = v + b[o];
        if (relu) v = (v > 0.0f) ? v : ((v == v) ? 0.0f : v);
        y[(((size_t)n * O + o) * OH + oh) * OW + ow] = v;
    }
}

__kernel void xd_conv2d_bwd_data(__global const float *dy, __global const float *w,
                                 __global float *dx, const uint N, const uint C, const uint H,
                                 const uint W, const uint O, const uint KH, const uint KW,
                                 const uint OH, const uint OW, const uint SH, const uint SW,
                                 const uint PT, const uint PL)
{
    uint g = (uint)get_global_id(0);
    if (g >= N * C * H * W) return;
    uint iw = g % W;
    uint t = g / W;
    uint ih = t % H;
    t /= H;
    uint c = t % C;
    uint n = t / C;
    float acc = 0.0f;
    for (uint o = 0; o < O; ++o) {
        __global const float *dyo = dy + ((size_t)n * O + o) * OH * OW;
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
                acc = XD_FMA(dyo[(size_t)oh * OW + ow],
                             w[(((size_t)o * C + c) * KH + kh) * KW + kw], acc);
            }
        }
    }
    dx[g] = acc;
}

/* part[((o*C + c)*KH + kh)*KW + kw][n]: per-sample partial of dW.  One
 * work-item: sample n, tap (c, kh, kw), XD_CONV_OB output channels sharing
 * each x load; every partial still sums (oh, ow) ascending. */
__kernel void xd_conv2d_bwd_weights_partial(__global const float *x, __global const float *dy,
                                            __global float *part, const uint N, const uint C,
                                            const uint H, const uint W, const uint O,
                                            const uint KH, const uint KW, const uint OH,
                                            const uint OW, const uint SH, const uint SW,
                                            const uint PT, const uint PL)
{
    uint nob = (O + XD_CONV_OB - 1) / XD_CONV_OB;
    uint g = (uint)get_global_id(0);
    if (g >= nob * C * KH * KW * N) return;
    uint n = g % N;
    uint t = g / N;
    uint kw = t % KW;
    t /= KW;
    uint kh = t % KH;
    t /= KH;
    uint c = t % C;
    uint ob = t / C;
    __global const float *dyo[XD_CONV_OB];
    float acc[XD_CONV_OB];
    for (uint q = 0; q < XD_CONV_OB; ++q) {
        uint o = min(ob * XD_CONV_OB + q, O - 1);
        dyo[q] = dy + ((size_t)n * O + o) * OH * OW;
        acc[q] = 0.0f;
    }
    __global const float *xc = x + ((size_t)n * C + c) * H * W;
    for (uint oh = 0; oh < OH; ++oh) {
        int ih = (int)(oh * SH + kh) - (int)PT;
        if (ih < 0 || ih >= (int)H) continue;
        for (uint ow = 0; ow < OW; ++ow) {
            int iw = (int)(ow * SW + kw) - (int)PL;
            if (iw < 0 || iw >= (int)W) continue;
            float xv = xc[(size_t)ih * W + (size_t)iw];
            for (uint q = 0; q < XD_CONV_OB; ++q)
                acc[q] = XD_FMA(dyo[q][(size_t)oh * OW + ow], xv, acc[q]);
        }
    }
    for (uint q = 0; q < XD_CONV_OB; ++q) {
        uint o = ob * XD_CONV_OB + q;
        if (o < O) part[((((size_t)o * C + c) * KH + kh) * KW + kw) * N + n] = acc[q];
    }
}

/* part[o*N + n] = sum over (oh, ow) ascending of dy[n, o, oh, ow]. */
__kernel void xd_conv2d_bwd_bias_partial(__global const float *dy, __global float *part,
                                         const uint N, const uint O, const uint HW)
{
    uint g = (uint)get_global_id(0);
    if (g >= O * N) return;
    uint n = g % N, o = g / N;
    __global const float *p = dy + ((size_t)n * O + o) * HW;
    float acc = 0.0f;
    for (uint k = 0; k < HW; ++k) acc = acc + p[k];
    part[g] = acc;
}
