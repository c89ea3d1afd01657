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

/* ---- vector lanes: XD_VW windows of a row, every row of a plane ------------
 * A work-item takes the windows os + l (the lanes) of every window row of
 * one plane, top to bottom.  The lanes are clamped to the row's last window
 * when the row is shorter than a vector; the last vector of a longer row is
 * shifted back to end at the row's end, as in cl/conv2d.cl. */
typedef struct xd_pool_lanes {
    uint plane, oh, os, skip, kst; /* lanes skip..kst-1 are outputs os+skip.. of row oh */
    uint whole;                    /* the lanes cover whole rows (one vector a row) */
} xd_pool_lanes;

XD_INLINE xd_pool_lanes xd_pool_lanes_(uint g, uint OW)
{
    xd_pool_lanes r;
    uint nv = (OW + XD_VW - 1) / XD_VW;
    r.plane = g / nv;
    r.oh = 0;
    r.os = OW >= XD_VW ? min((g % nv) * XD_VW, OW - XD_VW) : 0;
    r.skip = (g % nv) * XD_VW - r.os;
    r.kst = min((uint)XD_VW, OW - r.os);
    r.whole = nv == 1;
    return r;
}

/* Lanes skip..kst-1 of v to p[skip..kst-1]; the whole vector in one store
 * when `room` floats from p on are this work-item's own and written later
 * in its top-to-bottom order, which overwrites the extra lanes (room 0
 * unless the work-item's lanes cover whole rows). */
XD_INLINE void xd_pool_store_(xd_vf v, __global float *p, uint skip, uint kst, size_t room)
{
    xd_vstore_range(v, p, skip, skip == 0 && room >= XD_VW ? (uint)XD_VW : kst);
}

/* Windows two columns apart, at most two wide, none in a left padding: the
 * lanes' taps of a row are the even and odd elements of two contiguous
 * vectors (no gathers). */
#define XD_POOL_PAIRS(SW, KW, PL) ((SW) == 2 && (KW) <= 2 && (PL) == 0)

/* The lanes' first maxima, as xd_pool_argmax_: the value in *m, the tap
 * kh * KW + kw returned.  A tap row outside the input is skipped for all
 * lanes alike; a lane's first tap inside the input sets its maximum, and a
 * tap column outside leaves it unchanged (select), so each lane sees the
 * scalar loop's comparisons in its order.  With XD_POOL_PAIRS, a row whose
 * two vectors lie inside x is read contiguously (lanes past the row's
 * windows read the next rows' values and are never stored). */
XD_INLINE xd_vi xd_pool_argmax_v_(__global const float *x, xd_pool_lanes L, uint NC, uint H, uint W, uint KH,
                                  uint KW, uint SH, uint SW, uint PT, uint PL, xd_vf *m)
{
    int ih0 = (int)(L.oh * SH) - (int)PT;
    uint kh0 = ih0 < 0 ? (uint)(-ih0) : 0u, kh1 = min(KH, (uint)((int)H - ih0));
    xd_vu owl = min(L.os + XD_VIOTA, (xd_vu)(L.os + L.kst - 1));
    xd_vi iw0 = XD_AS_VI(owl * SW) - (int)PL;
    int pairs = XD_POOL_PAIRS(SW, KW, PL);
    size_t end = (size_t)NC * H * W;
    xd_vf mx = (xd_vf)0.0f;
    xd_vi best = (xd_vi)0, seen = (xd_vi)0;
    for (uint kh = kh0; kh < kh1; ++kh) {
        size_t row = ((size_t)L.plane * H + (uint)(ih0 + (int)kh)) * W;
        int contiguous = pairs && row + 2 * L.os + 2 * XD_VW <= end;
        xd_vf ev = (xd_vf)0.0f, od = (xd_vf)0.0f;
        if (contiguous) {
            xd_vf a = XD_VLOAD(x + row + 2 * L.os), b = XD_VLOAD(x + row + 2 * L.os + XD_VW);
            ev = XD_VEVEN(a, b);
            od = XD_VODD(a, b);
        }
        XD_ORDERED for (uint kw = 0; kw < KW; ++kw) {
            xd_vi iw = iw0 + (int)kw;
            xd_vi ok = (iw >= (xd_vi)0) & (iw < (xd_vi)W);
            xd_vf v = contiguous ? (kw ? od : ev) : XD_VGATHER(x + row, XD_AS_VU(XD_VSELECT((xd_vi)0, iw, ok)));
            xd_vi repl = ok & ((seen == (xd_vi)0) | (v > mx) | ((v != v) & (mx == mx)));
            mx = XD_VSELECT(mx, v, repl);
            best = XD_VSELECT(best, (xd_vi)(int)(kh * KW + kw), repl);
            seen = seen | ok;
        }
    }
    *m = mx;
    return best;
}

/* y: the first maximum of each window. */
__kernel void xd_maxpool_fwd_v(__global const float *x, __global float *y, XD_POOL_GEOM_ARGS)
{
    uint g = (uint)get_global_id(0);
    if (g >= NC * ((OW + XD_VW - 1) / XD_VW)) return;
    xd_pool_lanes L = xd_pool_lanes_(g, OW);
    __global float *yp = y + (size_t)L.plane * OH * OW;
    for (; L.oh < OH; ++L.oh) {
        xd_vf m;
        xd_pool_argmax_v_(x, L, NC, H, W, KH, KW, SH, SW, PT, PL, &m);
        size_t at = (size_t)L.oh * OW + L.os;
        xd_pool_store_(m, yp + at, L.skip, L.kst, L.whole ? (size_t)OH * OW - at : 0);
    }
}

/* dx row segment of XD_POOL_PAIRS windows: d0 / d1 the lanes' even / odd
 * columns, interleaved back; the lanes' columns inside the row, or whole
 * vectors where `room` allows (xd_pool_store_).  The second vector's room
 * is a select, not room - XD_VW clamped at 0: LLVM turns that into
 * llvm.usub.sat, which Oclgrind 21.10 cannot run. */
XD_INLINE void xd_pool_store_pairs_(__global float *row, xd_pool_lanes L, uint W, xd_vf d0, xd_vf d1, size_t room)
{
    uint to = min(2 * L.kst, W - 2 * L.os);
    __global float *p = row + 2 * L.os;
    xd_pool_store_(XD_VZIP_LO(d0, d1), p, 2 * L.skip, min(to, (uint)XD_VW), room);
    if (to > XD_VW || (L.skip == 0 && room >= 2 * XD_VW))
        xd_pool_store_(XD_VZIP_HI(d0, d1), p + XD_VW, max(2 * L.skip, (uint)XD_VW) - XD_VW, to - min(to, (uint)XD_VW),
                       room >= 2 * XD_VW ? (size_t)XD_VW : 0);
}

/* The dx rows of window row L.oh of disjoint windows (below). */
XD_INLINE void xd_pool_bwd_rows_(__global float *dxp, xd_pool_lanes L, xd_vi best, xd_vf g1, uint H, uint W,
                                 uint KH, uint KW, uint OH, uint OW, uint SH, uint SW, uint PT, uint PL)
{
    int ih0 = (int)(L.oh * SH) - (int)PT;
    uint rlo = (uint)max(ih0, 0), rhi = L.oh + 1 == OH ? H : (uint)(ih0 + (int)SH);
    int cend = L.os + L.kst == OW ? (int)(OW * SW) - (int)PL : (int)W; /* the last window's tail columns */
    for (uint ih = rlo; ih < rhi; ++ih) {
        __global float *row = dxp + (size_t)ih * W;
        uint r = ih - (uint)ih0;
        for (uint c = 0; c < SW; ++c) {
            xd_vf d = (xd_vf)0.0f;
            if (r < KH && c < KW) d = XD_VSELECT(d, g1, best == (xd_vi)(int)(r * KW + c));
            if (XD_POOL_PAIRS(SW, KW, PL)) {
                xd_vf d1 = (xd_vf)0.0f;
                if (r < KH && 1 < KW) d1 = XD_VSELECT(d1, g1, best == (xd_vi)(int)(r * KW + 1));
                xd_pool_store_pairs_(row, L, W, d, d1, L.whole ? (size_t)(H - ih) * W - 2 * L.os : 0);
                break;
            }
            float t[XD_VW];
            XD_VLANES(d, t);
            for (uint l = L.skip; l < L.kst && l < XD_VW; ++l) {
                int iw = (int)((L.os + l) * SW + c) - (int)PL;
                if (iw >= 0 && iw < (int)W) row[iw] = t[l];
            }
        }
        for (int iw = max(cend, 0); iw < (int)W; ++iw) row[iw] = 0.0f;
    }
}

/* Disjoint windows (stride >= pool on both axes): each input lies in at most
 * one window, so the gather's sum for it is 0 + dy of that window where it
 * is the window's first maximum, else 0 (also where no window covers it).
 * The work-item writes every input its windows own: window (oh, ow) owns
 * the rows from its first to the next window's first (the last window row
 * also the rows below it), and likewise the columns. */
__kernel void xd_maxpool_bwd_disjoint(__global const float *x, __global const float *dy, __global float *dx,
                                      XD_POOL_GEOM_ARGS)
{
    uint g = (uint)get_global_id(0);
    if (g >= NC * ((OW + XD_VW - 1) / XD_VW)) return;
    xd_pool_lanes L = xd_pool_lanes_(g, OW);
    __global float *dxp = dx + (size_t)L.plane * H * W;
    for (; L.oh < OH; ++L.oh) {
        xd_vf m;
        xd_vi best = xd_pool_argmax_v_(x, L, NC, H, W, KH, KW, SH, SW, PT, PL, &m);
        __global const float *dyr = dy + ((size_t)L.plane * OH + L.oh) * OW;
        xd_vf g1 = (xd_vf)0.0f + XD_VGATHER(dyr, min(L.os + XD_VIOTA, (xd_vu)(L.os + L.kst - 1)));
        xd_pool_bwd_rows_(dxp, L, best, g1, H, W, KH, KW, OH, OW, SH, SW, PT, PL);
    }
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

/* Average pooling's backward where the one window is the whole plane (a
 * global average pooling, or a pool as large as the input): every element
 * of plane p is xd_avgpool_bwd's sum over its one window, 0 + dy[p] / (H*W),
 * the same value (the 0 + keeps its -0 -> +0).  One work-item a plane, the
 * value stored by vectors; the last one shifted back to end at the plane's
 * end rewrites equal values. */
__kernel void xd_avgpool_bwd_plane(__global const float *dy, __global float *dx, const uint NC, const uint HW)
{
    uint p = (uint)get_global_id(0);
    if (p >= NC) return;
    float q = 0.0f + XD_DIV(dy[p], (float)HW);
    __global float *dxp = dx + (size_t)p * HW;
    if (HW < XD_VW) {
        for (uint i = 0; i < HW; ++i) dxp[i] = q;
        return;
    }
    for (uint i = 0; i + XD_VW <= HW; i += XD_VW) xd_vstore_n((xd_vf)q, dxp + i, XD_VW);
    if (HW % XD_VW) xd_vstore_n((xd_vf)q, dxp + HW - XD_VW, XD_VW);
}

/* Global max pooling's backward (Keras GlobalMaxPooling2D: ops.max over the
 * plane, whose JAX gradient splits dy evenly among the plane's maxima): one
 * work-item a plane.  y = the plane's maximum as the forward finds it (the
 * first, a NaN over every number), count = how many elements equal it
 * (added (h, w) ascending), then dx = (x == y ? 1 : 0) * (dy / count), as
 * XLA's reduce_max gradient (a NaN maximum gives NaN everywhere). */
__kernel void xd_global_maxpool_bwd(__global const float *x, __global const float *dy, __global float *dx,
                                    const uint NC, const uint HW)
{
    uint plane = (uint)get_global_id(0);
    if (plane >= NC) return;
    __global const float *xp = x + (size_t)plane * HW;
    __global float *dxp = dx + (size_t)plane * HW;
    float m = xp[0];
    XD_ORDERED for (uint i = 1; i < HW; ++i) {
        float v = xp[i];
        if (v > m || (v != v && m == m)) m = v;
    }
    float count = 0.0f;
    XD_ORDERED for (uint i = 0; i < HW; ++i) count = count + (xp[i] == m ? 1.0f : 0.0f);
    float g = XD_DIV(dy[plane], count);
    for (uint i = 0; i < HW; ++i) dxp[i] = (xp[i] == m ? 1.0f : 0.0f) * g;
}
