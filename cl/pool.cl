/* 2-D max and average pooling, NCHW: x [N,C,H,W] -> y [N,C,OH,OW], window
 * KH x KW, stride (SH,SW), padding top/left (PT,PL); the planes (n, c) are
 * independent, so every kernel sees NC = N*C planes.
 *
 * Keras 3 (keras/src/backend/jax/nn.py max_pool / average_pool):
 *   max_pool  = lax.reduce_window(x, -inf, lax.max, pool, strides, padding)
 *   avg_pool  = reduce_window(x, 0, lax.add, ...) / count, where count is
 *               prod(pool_size) for "valid" and, for "same", the same
 *               reduce_window over ones: the taps inside the input (padding
 *               excluded, as TensorFlow does).
 * "same" is out = ceil(in / stride) with the extra padding at the bottom and
 * right (lax.padtype_to_pads), as xd_conv2d_same; every window then holds at
 * least one tap inside the input (the host checks pad < pool on each side).
 *
 * Orders (docs/reproducibility.md):
 *  max forward    y = the first maximum of the window's taps inside the input,
 *                 (kh, kw) ascending; a NaN tap makes y NaN (the first NaN)
 *  max backward   dx[i] = adds, windows (oh, ow) ascending among those that
 *                 cover i, of dy[window] where i is the window's argmax: the
 *                 first maximum in row-major order takes the whole gradient
 *                 (XLA's select_and_scatter with GE, PyTorch's max_pool2d)
 *  avg forward    y = (adds over the taps inside, (kh, kw) ascending) / count
 *  avg backward   dx[i] = adds, windows (oh, ow) ascending among those that
 *                 cover i, of dy[window] / count[window]
 * Each a gather: one work-item per output, never atomics. */
#include "xd_math.h"

/* The taps of window (oh, ow) inside the input: rows ih0+kh0 .. ih0+kh1-1,
 * columns iw0+kw0 .. iw0+kw1-1. */
typedef struct xd_pool_win {
    int ih0, iw0;
    uint kh0, kh1, kw0, kw1;
} xd_pool_win;

XD_INLINE xd_pool_win xd_pool_window_(uint oh, uint ow, uint H, uint W, uint KH, uint KW, uint SH, uint SW,
                                      uint PT, uint PL)
{
    xd_pool_win w;
    w.ih0 = (int)(oh * SH) - (int)PT;
    w.iw0 = (int)(ow * SW) - (int)PL;
    w.kh0 = w.ih0 < 0 ? (uint)(-w.ih0) : 0u;
    w.kw0 = w.iw0 < 0 ? (uint)(-w.iw0) : 0u;
    w.kh1 = min(KH, (uint)((int)H - w.ih0));
    w.kw1 = min(KW, (uint)((int)W - w.iw0));
    return w;
}

/* Index in its plane of the window's first maximum, (kh, kw) ascending; the
 * first NaN wins over every number. */
XD_INLINE uint xd_pool_argmax_(__global const float *xp, xd_pool_win w, uint W)
{
    uint best = (uint)(w.ih0 + (int)w.kh0) * W + (uint)(w.iw0 + (int)w.kw0);
    float m = xp[best];
    for (uint kh = w.kh0; kh < w.kh1; ++kh) {
        uint row = (uint)(w.ih0 + (int)kh) * W;
        XD_ORDERED for (uint kw = w.kw0; kw < w.kw1; ++kw) {
            uint i = row + (uint)(w.iw0 + (int)kw);
            float v = xp[i];
            if (v > m || (v != v && m == m)) {
                m = v;
                best = i;
            }
        }
    }
    return best;
}

#define XD_POOL_GEOM_ARGS const uint NC, const uint H, const uint W, const uint KH, const uint KW, const uint OH, \
                          const uint OW, const uint SH, const uint SW, const uint PT, const uint PL

/* y[g] = x[argmax], or argmax itself into am (with_index) for the backward. */
__kernel void xd_maxpool_fwd(__global const float *x, __global float *y, __global uint *am, const int with_index,
                             XD_POOL_GEOM_ARGS)
{
    uint g = (uint)get_global_id(0);
    if (g >= NC * OH * OW) return;
    uint ow = g % OW, oh = (g / OW) % OH, plane = g / (OW * OH);
    __global const float *xp = x + (size_t)plane * H * W;
    uint best = xd_pool_argmax_(xp, xd_pool_window_(oh, ow, H, W, KH, KW, SH, SW, PT, PL), W);
    if (with_index) am[g] = best;
    else y[g] = xp[best];
}

/* The windows that cover input row i: o from *lo to *hi - 1 (empty when
 * *lo >= *hi). */
XD_INLINE void xd_pool_cover_(uint i, uint K, uint S, uint P, uint O, uint *lo, uint *hi)
{
    int t = (int)(i + P) - (int)K + 1; /* first window start that reaches i */
    *lo = t <= 0 ? 0u : ((uint)t + S - 1) / S;
    *hi = min(O, (i + P) / S + 1);
}

/* Input element g of the backward kernels: its plane, its index in the
 * plane, and the windows oh0..oh1-1 x ow0..ow1-1 that cover it. */
typedef struct xd_pool_in {
    uint plane, at, oh0, oh1, ow0, ow1;
} xd_pool_in;
XD_INLINE xd_pool_in xd_pool_input_(uint g, uint H, uint W, uint KH, uint KW, uint OH, uint OW, uint SH, uint SW,
                                    uint PT, uint PL)
{
    xd_pool_in r;
    uint iw = g % W, ih = (g / W) % H;
    r.plane = g / (W * H);
    r.at = ih * W + iw;
    xd_pool_cover_(ih, KH, SH, PT, OH, &r.oh0, &r.oh1);
    xd_pool_cover_(iw, KW, SW, PL, OW, &r.ow0, &r.ow1);
    return r;
}

__kernel void xd_maxpool_bwd(__global const uint *am, __global const float *dy, __global float *dx,
                             XD_POOL_GEOM_ARGS)
{
    uint g = (uint)get_global_id(0);
    if (g >= NC * H * W) return;
    xd_pool_in in = xd_pool_input_(g, H, W, KH, KW, OH, OW, SH, SW, PT, PL);
    size_t base = (size_t)in.plane * OH * OW;
    float acc = 0.0f;
    for (uint oh = in.oh0; oh < in.oh1; ++oh) {
        XD_ORDERED for (uint ow = in.ow0; ow < in.ow1; ++ow) {
            size_t o = base + (size_t)oh * OW + ow;
            if (am[o] == in.at) acc = acc + dy[o];
        }
    }
    dx[g] = acc;
}

__kernel void xd_avgpool_fwd(__global const float *x, __global float *y, XD_POOL_GEOM_ARGS)
{
    uint g = (uint)get_global_id(0);
    if (g >= NC * OH * OW) return;
    uint ow = g % OW, oh = (g / OW) % OH, plane = g / (OW * OH);
    __global const float *xp = x + (size_t)plane * H * W;
    xd_pool_win w = xd_pool_window_(oh, ow, H, W, KH, KW, SH, SW, PT, PL);
    float s = 0.0f;
    for (uint kh = w.kh0; kh < w.kh1; ++kh) {
        __global const float *row = xp + (size_t)(w.ih0 + (int)kh) * W + w.iw0;
        XD_ORDERED for (uint kw = w.kw0; kw < w.kw1; ++kw) s = s + row[kw];
    }
    y[g] = XD_DIV(s, (float)((w.kh1 - w.kh0) * (w.kw1 - w.kw0)));
}

__kernel void xd_avgpool_bwd(__global const float *dy, __global float *dx, XD_POOL_GEOM_ARGS)
{
    uint g = (uint)get_global_id(0);
    if (g >= NC * H * W) return;
    xd_pool_in in = xd_pool_input_(g, H, W, KH, KW, OH, OW, SH, SW, PT, PL);
    __global const float *dyp = dy + (size_t)in.plane * OH * OW;
    float acc = 0.0f;
    for (uint oh = in.oh0; oh < in.oh1; ++oh) {
        XD_ORDERED for (uint ow = in.ow0; ow < in.ow1; ++ow) {
            xd_pool_win w = xd_pool_window_(oh, ow, H, W, KH, KW, SH, SW, PT, PL);
            float count = (float)((w.kh1 - w.kh0) * (w.kw1 - w.kw0));
            acc = acc + XD_DIV(dyp[(size_t)oh * OW + ow], count);
        }
    }
    dx[g] = acc;
}
