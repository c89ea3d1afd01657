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

/* XD_CONV_ROWS (a tunable, bits of cl/xd_math.h): the channel-lane kernels
 * of one vector of channels (XD_CONV_ROWS_ONE), of more (XD_CONV_ROWS_TWO)
 * store a work-item's outputs by rows transposed in registers, and dy goes
 * channels last by transposed blocks (XD_CONV_ROWS_DY); a bit clear: by
 * scatters, by gathers (the values stored are the same either way). */
#ifndef XD_CONV_ROWS
#define XD_CONV_ROWS 7
#endif

/* Output channels per work-item: a tunable (-D from host/core/params.c); it
 * decides which work-item computes an output, never the order of its sum. */
#ifndef XD_CONV_OB
#define XD_CONV_OB 4
#endif

/* One work-item: sample n, XD_CONV_OB output channels, XD_VW neighbouring
 * outputs of one output row (the lanes).  The last vector of a row is
 * shifted back to end at the row's end (its first lanes recompute outputs
 * of the vector before and are not stored), so with stride 1 every tap
 * away from the padding is one contiguous load.  A row of taps in the
 * padding is skipped for all lanes alike; a lane whose tap column is in the
 * padding keeps its sum unchanged (select): both exactly as the scalar loop
 * that skips padding taps. */
__kernel void xd_conv2d_fwd(__global const float *x, __global const float *w,
                            __global const float *b, __global float *y, const uint N,
                            const uint C, const uint H, const uint W, const uint O,
                            const uint KH, const uint KW, const uint OH, const uint OW,
                            const uint SH, const uint SW, const uint PT, const uint PL,
                            const int has_bias, const int relu)
{
    uint nob = (O + XD_CONV_OB - 1) / XD_CONV_OB;
    uint nv = (OW + XD_VW - 1) / XD_VW;
    uint g = (uint)get_global_id(0);
    if (g >= N * nob * OH * nv) return;
    uint v = g % nv;
    uint t = g / nv;
    uint oh = t % OH;
    t /= OH;
    uint ob = t % nob;
    uint n = t / nob;
    uint os = OW >= XD_VW ? min(v * XD_VW, OW - XD_VW) : 0; /* ow of lane 0 */
    uint skip = v * XD_VW - os;                              /* lanes not stored */
    uint kst = min((uint)XD_VW, OW - os);                    /* lanes that are outputs */
    xd_vi iwl = XD_AS_VI(min(os + XD_VIOTA, (xd_vu)(OW - 1)) * SW) - (int)PL;
    int iw_first = (int)(os * SW) - (int)PL;
    int contiguous = SW == 1 && OW >= XD_VW;
    int ih0 = (int)(oh * SH) - (int)PT;
    xd_vf acc[XD_CONV_OB];
    __global const float *wq[XD_CONV_OB]; /* each output channel's filter */
    #pragma unroll
    for (uint q = 0; q < XD_CONV_OB; ++q) {
        acc[q] = (xd_vf)0.0f;
        wq[q] = w + (size_t)min(ob * XD_CONV_OB + q, O - 1) * C * KH * KW;
    }
    for (uint c = 0; c < C; ++c) {
        __global const float *xc = x + ((size_t)n * C + c) * H * W;
        for (uint kh = 0; kh < KH; ++kh) {
            int ih = ih0 + (int)kh;
            if (ih < 0 || ih >= (int)H) continue;
            __global const float *xr = xc + (size_t)ih * W;
            uint tap0 = (c * KH + kh) * KW;
            XD_ORDERED for (uint kw = 0; kw < KW; ++kw) {
                int lo = iw_first + (int)kw;
                if (contiguous && lo >= 0 && lo + XD_VW <= (int)W) {
                    xd_vf xv = XD_VLOAD(xr + lo);
                    #pragma unroll
                    for (uint q = 0; q < XD_CONV_OB; ++q) acc[q] = XD_FMA(xv, (xd_vf)wq[q][tap0 + kw], acc[q]);
                } else {
                    xd_vi iw = iwl + (int)kw;
                    xd_vi ok = (iw >= 0) & (iw < (int)W);
                    xd_vf xv = XD_VGATHER(xr, XD_AS_VU(XD_VSELECT((xd_vi)0, iw, ok)));
                    #pragma unroll
                    for (uint q = 0; q < XD_CONV_OB; ++q)
                        acc[q] = XD_VSELECT(acc[q], XD_FMA(xv, (xd_vf)wq[q][tap0 + kw], acc[q]), ok);
                }
            }
        }
    }
    #pragma unroll
    for (uint q = 0; q < XD_CONV_OB; ++q) {
        uint o = ob * XD_CONV_OB + q;
        if (o >= O) break;
        xd_vf r = acc[q];
        if (has_bias) r = r + (xd_vf)b[o];
        if (relu) r = xd_vrelu(r);
        xd_vstore_range(r, y + (((size_t)n * O + o) * OH + oh) * OW + os, skip, kst);
    }
}

/* One work-item: sample n, XD_CONV_OB input channels sharing each load of
 * dy, XD_VW neighbouring inputs of one input row (the lanes; the last
 * vector of a row shifted back, as in the forward kernel).  A tap row that
 * reaches no output row is skipped for all lanes alike; a lane whose tap
 * column reaches no output keeps its sum unchanged (select): both exactly as
 * the scalar loop over the taps that reach (ih, iw). */
__kernel void xd_conv2d_bwd_data(__global const float *dy, __global const float *w,
                                 __global float *dx, const uint N, const uint C, const uint H,
                                 const uint W, const uint O, const uint KH, const uint KW,
                                 const uint OH, const uint OW, const uint SH, const uint SW,
                                 const uint PT, const uint PL)
{
    uint ncb = (C + XD_CONV_OB - 1) / XD_CONV_OB;
    uint nv = (W + XD_VW - 1) / XD_VW;
    uint g = (uint)get_global_id(0);
    if (g >= N * ncb * H * nv) return;
    uint v = g % nv;
    uint t = g / nv;
    uint ih = t % H;
    t /= H;
    uint cb = t % ncb;
    uint n = t / ncb;
    uint is = W >= XD_VW ? min(v * XD_VW, W - XD_VW) : 0; /* iw of lane 0 */
    uint skip = v * XD_VW - is;
    uint kst = min((uint)XD_VW, W - is);
    xd_vi iwp = XD_AS_VI(min(is + XD_VIOTA, (xd_vu)(W - 1))) + (int)PL;
    int contiguous = SW == 1 && W >= XD_VW;
    uint nq = min((uint)XD_CONV_OB, C - cb * XD_CONV_OB);
    __global const float *wq[XD_CONV_OB]; /* w[o, c_q, :, :] is wq[q] + o * C * KH * KW */
    xd_vf acc[XD_CONV_OB];
    #pragma unroll
    for (uint q = 0; q < XD_CONV_OB; ++q) {
        wq[q] = w + (size_t)min(cb * XD_CONV_OB + q, C - 1) * KH * KW;
        acc[q] = (xd_vf)0.0f;
    }
    size_t wstride = (size_t)C * KH * KW;
    for (uint o = 0; o < O; ++o) {
        __global const float *dyo = dy + ((size_t)n * O + o) * OH * OW;
        size_t wo = (size_t)o * wstride;
        for (uint kh = 0; kh < KH; ++kh) {
            int th = (int)(ih + PT) - (int)kh;
            if (th < 0 || th % (int)SH != 0 || (uint)th / SH >= OH) continue;
            __global const float *dyr = dyo + (size_t)((uint)th / SH) * OW;
            XD_ORDERED for (uint kw = 0; kw < KW; ++kw) {
                size_t tap = wo + (size_t)kh * KW + kw;
                int lo = (int)is + (int)PL - (int)kw; /* ow of lane 0 when SW == 1 */
                if (contiguous && lo >= 0 && lo + XD_VW <= (int)OW) {
                    xd_vf dyv = XD_VLOAD(dyr + lo);
                    #pragma unroll
                    for (uint q = 0; q < XD_CONV_OB; ++q) {
                        if (q >= nq) continue; /* a partial last block: no work, the loop stays unrollable */
                        acc[q] = XD_FMA(dyv, (xd_vf)wq[q][tap], acc[q]);
                    }
                } else {
                    xd_vi tw = iwp - (int)kw;
                    xd_vi ow = (SW == 1) ? tw : max(tw, (xd_vi)0) / (int)SW;
                    xd_vi ok = (tw >= 0) & (ow < (int)OW) & (ow * (int)SW == tw);
                    xd_vf dyv = XD_VGATHER(dyr, XD_AS_VU(XD_VSELECT((xd_vi)0, ow, ok)));
                    #pragma unroll
                    for (uint q = 0; q < XD_CONV_OB; ++q) {
                        if (q >= nq) continue;
                        acc[q] = XD_VSELECT(acc[q], XD_FMA(dyv, (xd_vf)wq[q][tap], acc[q]), ok);
                    }
                }
            }
        }
    }
    #pragma unroll
    for (uint q = 0; q < XD_CONV_OB; ++q) {
        uint c = cb * XD_CONV_OB + q;
        if (c >= C) break;
        xd_vstore_range(acc[q], dx + (((size_t)n * C + c) * H + ih) * W + is, skip, kst);
    }
}

/* part[((o*C + c)*KH + kh)*KW + kw][n]: per-sample partial of dW.  One
 * work-item: sample n, input channel c, XD_CONV_TB taps (flattened kh*KW +
 * kw) sharing each load of dy, XD_VW output channels (the lanes, gathered
 * from their planes of dy); every partial still sums (oh, ow) ascending over
 * the taps inside the input.  with_bias: the work-items of input channel 0
 * and the first tap block also write the bias partials bpart[o*N + n], the
 * sum over (oh, ow) ascending of the dy they gather, added from 0: exactly
 * xd_conv2d_bwd_bias_partial's sums, without a second pass over dy. */
#ifndef XD_CONV_TB
#define XD_CONV_TB 4
#endif
__kernel void xd_conv2d_bwd_weights_partial(__global const float *x, __global const float *dy,
                                            __global float *part, const uint N, const uint C,
                                            const uint H, const uint W, const uint O,
                                            const uint KH, const uint KW, const uint OH,
                                            const uint OW, const uint SH, const uint SW,
                                            const uint PT, const uint PL, __global float *bpart,
                                            const int with_bias)
{
    uint T = KH * KW;
    uint ntb = (T + XD_CONV_TB - 1) / XD_CONV_TB;
    uint nov = (O + XD_VW - 1) / XD_VW;
    uint g = (uint)get_global_id(0);
    if (g >= nov * C * ntb * N) return;
    uint n = g % N;
    uint t = g / N;
    uint tb = t % ntb;
    t /= ntb;
    uint c = t % C;
    uint o0 = (t / C) * XD_VW;
    uint P = OH * OW;
    xd_vu dyoff = ((uint)n * O + min(o0 + XD_VIOTA, (xd_vu)(O - 1))) * P;
    int kh[XD_CONV_TB], kw[XD_CONV_TB];
    xd_vf acc[XD_CONV_TB];
    #pragma unroll
    for (uint s = 0; s < XD_CONV_TB; ++s) {
        uint tap = min(tb * XD_CONV_TB + s, T - 1);
        kh[s] = (int)(tap / KW) - (int)PT;
        kw[s] = (int)(tap % KW) - (int)PL;
        acc[s] = (xd_vf)0.0f;
    }
    __global const float *xc = x + ((size_t)n * C + c) * H * W;
    xd_vf accb = (xd_vf)0.0f; /* the bias partial: the dy just gathered, added in the same order */
    for (uint oh = 0; oh < OH; ++oh) {
        XD_ORDERED for (uint ow = 0; ow < OW; ++ow) {
            xd_vf dyv = XD_VGATHER(dy, dyoff + (oh * OW + ow));
            accb = accb + dyv;
            #pragma unroll
            for (uint s = 0; s < XD_CONV_TB; ++s) {
                int ih = (int)(oh * SH) + kh[s];
                int iw = (int)(ow * SW) + kw[s];
                if (ih < 0 || ih >= (int)H || iw < 0 || iw >= (int)W) continue;
                acc[s] = XD_FMA(dyv, (xd_vf)xc[(size_t)ih * W + (size_t)iw], acc[s]);
            }
        }
    }
    uint k = min((uint)XD_VW, O - o0);
    #pragma unroll
    for (uint s = 0; s < XD_CONV_TB; ++s) {
        uint tap = tb * XD_CONV_TB + s;
        if (tap >= T) break;
        xd_vscatter_n(acc[s], part, (((o0 + XD_VIOTA) * C + c) * T + tap) * N + n, k);
    }
    if (with_bias && c == 0 && tb == 0) xd_vscatter_n(accb, bpart, (o0 + XD_VIOTA) * N + n, k);
}

/* part[o*N + n] = sum over (oh, ow) ascending of dy[n, o, oh, ow].  One
 * work-item: sample n, XD_VW output channels (the lanes). */
__kernel void xd_conv2d_bwd_bias_partial(__global const float *dy, __global float *part,
                                         const uint N, const uint O, const uint HW)
{
    uint nov = (O + XD_VW - 1) / XD_VW;
    uint g = (uint)get_global_id(0);
    if (g >= nov * N) return;
    uint n = g % N, o0 = (g / N) * XD_VW;
    xd_vu off = ((uint)n * O + min(o0 + XD_VIOTA, (xd_vu)(O - 1))) * HW;
    xd_vf acc = (xd_vf)0.0f;
    XD_ORDERED for (uint k = 0; k < HW; ++k) acc = acc + XD_VGATHER(dy, off + k);
    xd_vscatter_n(acc, part, (o0 + XD_VIOTA) * N + n, min((uint)XD_VW, O - o0));
}

/* dyt[n, p, o] = dy[n, o, p] with rows of OP >= O floats (OP a multiple of
 * XD_VW; the lanes past O zero): output channels contiguous for the
 * backward-weights kernel below.  One work-item: XD_VW channels of one
 * sample, every position p ascending by blocks of XD_VW: a whole block is
 * XD_VW contiguous loads (one a channel) transposed in registers; a block
 * at the end of the planes or of the channels goes position by position,
 * gathering its channels.  With sums, also the bias gradient's partials:
 * part[o * N + n] = the add chain from 0 over p ascending of dy[n, o, p],
 * bn_partial_v's kind 0 value for value (xd_conv2d_backward_bias), summed
 * on the way. */
__kernel void xd_conv2d_dy_channels_last(__global const float *dy, __global float *dyt, __global float *part,
                                         const uint N, const uint O, const uint P, const uint OP, const int sums)
{
    uint nov = OP / XD_VW;
    uint g = (uint)get_global_id(0);
    if (g >= N * nov) return;
    uint v = g % nov, n = g / nov, o0 = v * XD_VW;
    xd_vu o = o0 + XD_VIOTA;
    xd_vi ok = XD_AS_VI(o) < (xd_vi)O;
    xd_vf s = (xd_vf)0.0f;
    XD_ORDERED for (uint p0 = 0; p0 < P; p0 += XD_VW)
    {
        __global float *d0 = dyt + ((size_t)n * P + p0) * OP + o0;
        if ((XD_CONV_ROWS & XD_CONV_ROWS_DY) && p0 + XD_VW <= P && o0 + XD_VW <= O) {
            xd_vf t[XD_VW];
            _Pragma("unroll") for (uint j = 0; j < XD_VW; ++j) t[j] =
                XD_VLOAD(dy + ((size_t)n * O + o0 + j) * P + p0);
            xd_vtranspose(t);
            _Pragma("unroll") XD_ORDERED for (uint i = 0; i < XD_VW; ++i)
            {
                xd_vstore_n(t[i], d0 + (size_t)i * OP, XD_VW);
                s = s + t[i];
            }
            continue;
        }
        XD_ORDERED for (uint i = 0; i < XD_VW && p0 + i < P; ++i)
        {
            xd_vf d = XD_VGATHER(dy, ((uint)n * O + min(o, (xd_vu)(O - 1))) * P + p0 + i);
            xd_vstore_n(XD_VSELECT((xd_vf)0.0f, d, ok), d0 + (size_t)i * OP, XD_VW);
            s = s + d;
        }
    }
    /* a vector wholly past O (OP rounds up to a block of vectors) stores nothing */
    if (sums && o0 < O) xd_vscatter_n(s, part, min(o, (xd_vu)(O - 1)) * N + n, min((uint)XD_VW, O - o0));
}

/* The interior of a block of taps: the outputs [*lo, *hi) of a row or
 * column (stride S) whose taps' offsets t (their input row or column at
 * output 0) all land inside [0, L). */
XD_INLINE void xd_conv_bww_interior_(const int *t, uint TB, uint L, uint OUT, uint S, uint *lo, uint *hi)
{
    int tmin = 0, tmax = 0;
    for (uint s = 0; s < TB; ++s) {
        tmin = min(tmin, t[s]);
        tmax = max(tmax, t[s]);
    }
    *lo = *hi = OUT;
    if (tmax >= (int)L) return;
    uint l = (uint)(-tmin + (int)S - 1) / S;              /* the first output with o S + tmin >= 0 */
    uint h = min(OUT, (uint)((int)L - 1 - tmax) / S + 1); /* past the last with o S + tmax < L */
    if (l < h) *lo = l, *hi = h;
}

/* One output (oh, ow) of the weights kernel below: dy's OV vectors times
 * each tap's x, into the tap's chains; CHECK 0 only where every tap is
 * inside x (the interior of the row). */
#define XD_CONV_BWW_AT_(ow, CHECK, OV, TB)                                                                             \
    {                                                                                                                  \
        __global const float *d = dn + (size_t)(oh * OW + (ow)) * OP;                                                  \
        xd_vf dv[OV];                                                                                                  \
        _Pragma("unroll") for (uint v = 0; v < OV; ++v) dv[v] = XD_VLOAD(d + v * XD_VW);                               \
        _Pragma("unroll") for (uint s = 0; s < TB; ++s)                                                                \
        {                                                                                                              \
            int ih = (int)(oh * SH) + th[s], iw = (int)((ow)*SW) + tw[s];                                              \
            if (CHECK && (ih < 0 || ih >= (int)H || iw < 0 || iw >= (int)W)) continue;                                 \
            xd_vf xv = (xd_vf)(CHECK ? xc[ih * (int)W + iw] : xr[s][(ow)*SW]);                                         \
            _Pragma("unroll") for (uint v = 0; v < OV; ++v) acc[v][s] = XD_FMA(dv[v], xv, acc[v][s]);                  \
        }                                                                                                              \
    }

/* Backward weights, dy channels last (dyt, rows OP apart): per sample, the
 * fma chain over (oh, ow) ascending of dy * x for OV (XD_CONV_OV, or 1) x XD_VW output
 * channels (the lanes, contiguous loads) x TB (XD_CONV_CL_TB, or 1) taps of one input
 * channel, over the taps inside the input (padding PT, PL: a tap in the
 * padding is skipped, a branch uniform across the lanes; the interior of a
 * wide image, where no tap is, is taken without the tests, in the same
 * order).  nsplit 0: the work-item loops over
 * the samples and adds their chains in order (0 + s_0 + s_1 ...) into dw;
 * else one sample per work-item, its chain to part[tap row * N + n] for
 * xd_reduce_rows, which adds them in the same order. */
#define XD_CONV_BWD_WEIGHTS_CL_KERNEL(NAME, OV, TB)                                                                    \
__kernel void NAME(__global const float *x, __global const float *dyt, __global float *dw,                             \
                                       __global float *part, const uint N, const uint C, const uint H,                 \
                                       const uint W, const uint O, const uint KH, const uint KW, const uint OH,        \
                                       const uint OW, const uint SH, const uint SW, const uint OP, const int nsplit,   \
                                       const uint PT, const uint PL)                                                   \
{                                                                                                                      \
    uint T = KH * KW, ntb = (T + TB - 1) / TB, nov = OP / (XD_VW * OV);                                                \
    uint ns = nsplit ? N : 1;                                                                                          \
    uint g = (uint)get_global_id(0);                                                                                   \
    if (g >= nov * C * ntb * ns) return;                                                                               \
    uint n0 = nsplit ? g % ns : 0, n1 = nsplit ? n0 + 1 : N;                                                           \
    uint t = g / ns, tb = t % ntb, c = (t / ntb) % C, o0 = (t / (ntb * C)) * XD_VW * OV;                               \
    int th[TB], tw[TB]; /* a tap's input row and column at output (0, 0) */                                            \
    _Pragma("unroll")                                                                                                  \
    for (uint s = 0; s < TB; ++s) {                                                                                    \
        uint tap = min(tb * TB + s, T - 1);                                                                            \
        th[s] = (int)(tap / KW) - (int)PT;                                                                             \
        tw[s] = (int)(tap % KW) - (int)PL;                                                                             \
    }                                                                                                                  \
    uint rlo, rhi, clo, chi; /* the rows and columns of outputs whose taps are all inside x */                         \
    xd_conv_bww_interior_(th, TB, H, OH, SH, &rlo, &rhi);                                                              \
    xd_conv_bww_interior_(tw, TB, W, OW, SW, &clo, &chi);                                                              \
    if (chi - clo < 8) clo = chi = OW; /* a short interior (7x7 images) is slower taken apart: every output checked */ \
    __global const float *xr[TB]; /* per tap: x at output (oh, 0) of an interior row */                                \
    xd_vf tot[OV][TB];                                                                                                 \
    _Pragma("unroll")                                                                                                  \
    for (uint v = 0; v < OV; ++v)                                                                                      \
        _Pragma("unroll")                                                                                              \
        for (uint s = 0; s < TB; ++s) tot[v][s] = (xd_vf)0.0f;                                                         \
    for (uint n = n0; n < n1; ++n) {                                                                                   \
        xd_vf acc[OV][TB];                                                                                             \
        _Pragma("unroll")                                                                                              \
        for (uint v = 0; v < OV; ++v)                                                                                  \
            _Pragma("unroll")                                                                                          \
            for (uint s = 0; s < TB; ++s) acc[v][s] = (xd_vf)0.0f;                                                     \
        __global const float *xc = x + ((size_t)n * C + c) * H * W;                                                    \
        __global const float *dn = dyt + (size_t)n * OH * OW * OP + o0;                                                \
        for (uint oh = 0; clo >= chi && oh < OH; ++oh) /* no interior worth taking apart: every output checked */      \
            XD_ORDERED for (uint ow = 0; ow < OW; ++ow) XD_CONV_BWW_AT_(ow, 1, OV, TB);                                \
        for (uint oh = 0; clo < chi && oh < OH; ++oh) {                                                                \
            /* [clo, chi) of an interior row: its outputs whose every tap is inside x, taken without the bounds */     \
            /* tests; the row is still walked in ascending ow, so every chain adds in the same order */                \
            if (oh < rlo || oh >= rhi) {                                                                               \
                XD_ORDERED for (uint ow = 0; ow < OW; ++ow) XD_CONV_BWW_AT_(ow, 1, OV, TB);                            \
                continue;                                                                                              \
            }                                                                                                          \
            _Pragma("unroll")                                                                                          \
            for (uint s = 0; s < TB; ++s) xr[s] = xc + ((int)(oh * SH) + th[s]) * (int)W + tw[s];                      \
            XD_ORDERED for (uint ow = 0; ow < clo; ++ow) XD_CONV_BWW_AT_(ow, 1, OV, TB);                               \
            XD_ORDERED for (uint ow = clo; ow < chi; ++ow) XD_CONV_BWW_AT_(ow, 0, OV, TB);                             \
            XD_ORDERED for (uint ow = chi; ow < OW; ++ow) XD_CONV_BWW_AT_(ow, 1, OV, TB);                              \
        }                                                                                                              \
        /* one sample: its chain is the partial (as xd_conv2d_bwd_weights_partial's) */                                \
        _Pragma("unroll")                                                                                              \
        for (uint v = 0; v < OV; ++v)                                                                                  \
            _Pragma("unroll")                                                                                          \
            for (uint s = 0; s < TB; ++s) tot[v][s] = nsplit ? acc[v][s] : tot[v][s] + acc[v][s];                      \
    }                                                                                                                  \
    _Pragma("unroll")                                                                                                  \
    for (uint v = 0; v < OV; ++v) {                                                                                    \
        uint ov = o0 + v * XD_VW;                                                                                      \
        if (ov >= O) continue;                                                                                         \
        uint k = min((uint)XD_VW, O - ov);                                                                             \
        xd_vu row = ((ov + XD_VIOTA) * C + c) * T;                                                                     \
        _Pragma("unroll")                                                                                              \
        for (uint s = 0; s < TB; ++s) {                                                                                \
            uint tap = tb * TB + s;                                                                                    \
            if (tap >= T) continue;                                                                                    \
            if (nsplit) xd_vscatter_n(tot[v][s], part, (row + tap) * N + n0, k);                                       \
            else xd_vscatter_n(tot[v][s], dw, row + tap, k);                                                           \
        }                                                                                                              \
    }                                                                                                                  \
}

#ifndef XD_CONV_CL_TB
#define XD_CONV_CL_TB 4
#endif
#ifndef XD_CONV_CL1_TB
#define XD_CONV_CL1_TB 4
#endif
XD_CONV_BWD_WEIGHTS_CL_KERNEL(xd_conv2d_bwd_weights_cl, XD_CONV_OV, XD_CONV_CL_TB)
/* One vector of output channels (16-channel layers at XD_VW 16): taps
 * of its own (a tunable), its accumulators a vector a tap. */
XD_CONV_BWD_WEIGHTS_CL_KERNEL(xd_conv2d_bwd_weights_cl1, 1, XD_CONV_CL1_TB)
/* 1x1 convolutions (resnet's projections): one tap a work-item, where
 * blocks of XD_CONV_TB would compute the same tap XD_CONV_TB times. */
XD_CONV_BWD_WEIGHTS_CL_KERNEL(xd_conv2d_bwd_weights_cl_1x1, XD_CONV_OV, 1)

/* ---- convolutions with channels on the lanes ------------------------------------
 * out[n, k, a, b] for XD_CONV_CV x XD_VW channels k (the lanes, weights wt
 * [R, KH, KW, KP] channels last) and XD_CONV_QB outputs b of one row a
 * (neighbours, or every TW-th backward: below): the fma chain over (r, kh, kw) ascending of src[n, r, tap] *
 * wt[r, kh, kw, k] over the taps inside src, strides (TH, TW),
 *   forward (dir 1):        src x, r = c, k = o, tap (a TH + kh - PT, b TW + kw - PL)
 *   backward data (dir -1): src dy, r = o, k = c, tap ((a + PT - kh) / TH, (b + PL - kw) / TW)
 *                           where both divide exactly
 * so each output is exactly the row kernels' sum.  A tap outside src is
 * skipped by a branch on the tap's mask of the block's outputs, uniform
 * across the lanes (positions past the row: an empty mask).  Forward, a
 * work-item's QB outputs are neighbours in a row and a tap reaches them
 * TW columns of src apart.  Backward data they are every TW-th output of
 * a row, of one phase b mod TW (BS = TW): a tap (kw) reaches all of them
 * or none (the division by TW is exact for every output of a phase or for
 * none), so the tap loop does not branch output by output, and consecutive
 * outputs take consecutive columns of src.  Either way a tap keeps the
 * offset of its first output and steps from there. */

/* floor(x / d) for d > 0, x of either sign; no division at d 1 (every
 * forward conv but a strided one, every backward data at stride 1). */
XD_INLINE int xd_floor_div_(int x, int d)
{
    return d == 1 ? x : x >= 0 ? x / d : -((-x + d - 1) / d);
}

/* Bit j (j < hi, hi <= QB: the block's outputs inside the row) set when
 * column kw of output b0 + j BS lies inside src (SW columns); *col: its
 * src column for the first such output.  The outputs a column reaches are
 * a run of j (their src columns rise with j), bounded in closed form:
 * forward, src column (b0 + j) TW + kw - PL in [0, SW); backward data,
 * (b0 + j TW + PL - kw) / TW, exact for every j of the phase or for none,
 * in [0, SW).  A tap's mask is its column's, where its row lies inside src
 * (xd_lanes_row_): the same for every kernel row. */
XD_INLINE uint xd_lanes_cols_(int b0, int hi, int dir, uint kw, uint SW, uint PL, uint TW, int *col)
{
    int t = (int)TW, c0, lo;
    *col = 0;
    if (dir > 0) { /* column c0 + j TW: j from ceil(-c0 / TW) to floor((SW - 1 - c0) / TW) */
        c0 = b0 * t + (int)kw - (int)PL;
        lo = -xd_floor_div_(c0, t);
        hi = min(hi, xd_floor_div_((int)SW - 1 - c0, t) + 1);
    } else { /* column c0 + j, where b0 + PL - kw divides by TW */
        int u = b0 + (int)PL - (int)kw;
        c0 = xd_floor_div_(u, t);
        if (u - c0 * t != 0) return 0;
        lo = -c0;
        hi = min(hi, (int)SW - c0);
    }
    lo = max(lo, 0);
    if (lo >= hi) return 0;
    *col = dir > 0 ? c0 + lo * t : c0 + lo;
    return (uint)((1u << hi) - (1u << lo)); /* hi <= QB <= 16 */
}

/* The src row of kernel row kh for output row a, or -1 when it lies
 * outside src (SH rows) or, backward data, a + PT - kh does not divide by TH. */
XD_INLINE int xd_lanes_row_(int a, int dir, uint kh, uint SH, uint PT, uint TH)
{
    int tr = dir > 0 ? a * (int)TH + (int)kh - (int)PT : a + (int)PT - (int)kh;
    int sr = dir > 0 || TH == 1 ? tr : (tr >= 0 && tr % (int)TH == 0 ? tr / (int)TH : -1);
    return sr >= 0 && sr < (int)SH ? sr : -1;
}

/* (clang warns "loop not unrolled" for the unroll pragmas below in the
 * kernel instances where a layout's branch or loop is empty; the live
 * loops are unrolled: without the pragmas the forward ran 1.3-1.4x slower) */
#ifdef __clang__
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpass-failed"
#endif
/* A work-item's outputs as rows, transposed in registers: lanes k (the
 * channels) become lanes j (the outputs), so that a channel's outputs go to
 * out in one store instead of a scatter over XD_VW planes.  QB a multiple
 * of XD_VW: T[XD_VW (v QB / XD_VW + jb) + k] holds channel k0 + v XD_VW +
 * k's outputs jb XD_VW ..  jb XD_VW + XD_VW - 1.  QB half a vector (CV
 * even): T[XD_VW v / 2 + k] holds channel k0 + v XD_VW + k's QB outputs,
 * then channel k0 + (v + 1) XD_VW + k's. */
#define XD_CONV_ROWS_OK_(CV, QB) XD_CONV_ROWS_OK(XD_CONV_ROWS, XD_VW, CV, QB)
inline __attribute__((always_inline)) void xd_conv_lanes_rows_(const xd_vf *acc, uint CV, uint QB, xd_vf *T)
{
    if (QB % XD_VW == 0) {
        _Pragma("unroll") for (uint v = 0; v < CV; ++v) _Pragma("unroll") for (uint jb = 0; jb < QB / XD_VW; ++jb)
        {
            xd_vf *t = T + XD_VW * (v * (QB / XD_VW) + jb);
            _Pragma("unroll") for (uint i = 0; i < XD_VW; ++i) t[i] = acc[(jb * XD_VW + i) * CV + v];
            xd_vtranspose(t);
        }
    } else {
        _Pragma("unroll") for (uint v = 0; v < CV; v += 2)
        {
            xd_vf *t = T + XD_VW * (v / 2);
            _Pragma("unroll") for (uint i = 0; i < XD_VW; ++i) t[i] = acc[(i % QB) * CV + v + i / QB];
            xd_vtranspose(t);
        }
    }
}

/* One row of outputs of channel k (< K): the bias and the ReLU, as the
 * scatter path's, value for value; then lanes [0, nj) to column c of row a. */
inline __attribute__((always_inline)) void xd_conv_lanes_row_out_(xd_vf r, int hh, __global float *out,
                                                                  __global const float *b, uint n, uint K, uint k,
                                                                  uint P, uint a, uint OW, uint c, int has_bias,
                                                                  int relu, int accum)
{
    if (c >= OW) return;
    if (has_bias) r = r + (xd_vf)b[k];
    if (relu) r = xd_vrelu(r);
    __global float *p = out + ((size_t)n * K + k) * P + a * OW + c;
    uint nj = OW - c;
    if (accum) r = xd_vload_lanes_n(p, hh, min((uint)(hh < 0 ? XD_VW : XD_VW / 2), nj)) + r;
    if (hh < 0) xd_vstore_n(r, p, min((uint)XD_VW, nj));
    else xd_vstore_halfvec_n(r, hh, p, min((uint)XD_VW / 2, nj));
}

/* T's rows (xd_conv_lanes_rows_) of outputs that are neighbours in a row
 * from b0 (BS 1).  With K0, the rows of phase 0 of a pair (backward data at
 * stride 2, T phase 1's: outputs b0, b0 + 2, ... and b0 + 1, b0 + 3, ...),
 * interleaved: a row's lanes then are neighbours from b0. */
inline __attribute__((always_inline)) void xd_conv_lanes_store_(const xd_vf *K0, const xd_vf *T, uint CV, uint QB,
                                                                __global float *out, __global const float *b,
                                                                uint n, uint K, uint k0, uint P, uint a, uint OW,
                                                                uint b0, int has_bias, int relu, int accum)
{
    if (QB % XD_VW == 0) {
        _Pragma("unroll") for (uint v = 0; v < CV; ++v) _Pragma("unroll") for (uint jb = 0; jb < QB / XD_VW; ++jb)
        {
            const uint i0 = XD_VW * (v * (QB / XD_VW) + jb), kv = k0 + v * XD_VW;
            _Pragma("unroll") for (uint k = 0; k < XD_VW; ++k)
            {
                if (kv + k >= K) break;
                if (!K0) {
                    xd_conv_lanes_row_out_(T[i0 + k], -1, out, b, n, K, kv + k, P, a, OW, b0 + jb * XD_VW, has_bias,
                                           relu, accum);
                    continue;
                }
                const uint c = b0 + 2 * jb * XD_VW;
                xd_conv_lanes_row_out_(XD_VZIP_LO(K0[i0 + k], T[i0 + k]), -1, out, b, n, K, kv + k, P, a, OW, c,
                                       has_bias, relu, accum);
                xd_conv_lanes_row_out_(XD_VZIP_HI(K0[i0 + k], T[i0 + k]), -1, out, b, n, K, kv + k, P, a, OW,
                                       c + XD_VW, has_bias, relu, accum);
            }
        }
        return;
    }
    _Pragma("unroll") for (uint v = 0; v < CV; v += 2) _Pragma("unroll") for (uint h = 0; h < 2; ++h)
    {
        const uint i0 = XD_VW * (v / 2), kv = k0 + (v + h) * XD_VW;
        _Pragma("unroll") for (uint k = 0; k < XD_VW; ++k)
        {
            if (kv + k >= K) break;
            if (!K0) {
                xd_conv_lanes_row_out_(T[i0 + k], (int)h, out, b, n, K, kv + k, P, a, OW, b0, has_bias, relu, accum);
                continue;
            }
            xd_vf z = h ? XD_VZIP_HI(K0[i0 + k], T[i0 + k]) : XD_VZIP_LO(K0[i0 + k], T[i0 + k]);
            xd_conv_lanes_row_out_(z, -1, out, b, n, K, kv + k, P, a, OW, b0, has_bias, relu, accum);
        }
    }
}

#ifdef __clang__
#pragma clang diagnostic pop
#endif

/* One kernel per blocking: CV vectors of channels x QB outputs of a row per
 * work-item (the sums do not depend on it).  Backward data at stride 2 where
 * the outputs go by rows: a work-item takes a pair of blocks, phase 0 then
 * phase 1 (PH 2; the host's launch size counts pairs), and stores both
 * interleaved, its outputs then neighbours in a row. */
#define XD_CONV_LANES_KERNEL(NAME, CV, QB, PAIRS)                                                                          \
    __kernel void NAME(__global const float *src, __global const float *wt, __global const float *b,               \
                       __global float *out, const uint N, const uint R, const uint K, const uint KP, const uint SH,  \
                       const uint SW, const uint OH, const uint OW, const uint KH, const uint KW, const uint PT,     \
                       const uint PL, const int dir, const int has_bias, const int relu, const uint TH,             \
                       const uint TW, const int accum)                                                              \
    {                                                                                                               \
        uint BS = dir > 0 ? 1 : TW; /* output columns between two of a work-item's outputs */                      \
        const uint PH = PAIRS ? 2 : 1; /* the host takes the pairs' kernel only where BS is 2 and rows are ok */   \
        uint nqb = ((OW + BS - 1) / BS + QB - 1) / QB * BS / PH, nkb = KP / (XD_VW * CV);                          \
        uint g = (uint)get_global_id(0);                                                                            \
        if (g >= N * nkb * OH * nqb) return;                                                                        \
        uint q = g % nqb, bq = PH == 2 ? q * QB * 2 : q % BS + q / BS * QB * BS; /* its phase, then its block */   \
        uint a = (g / nqb) % OH, kb = (g / (nqb * OH)) % nkb, n = g / (nqb * OH * nkb);                            \
        uint k0 = kb * XD_VW * CV;                                                                                  \
        uint step = dir > 0 ? TW : 1; /* src columns between two outputs a tap reaches */                          \
        uint P = OH * OW;                                                                                           \
        xd_vf K0[CV * QB]; /* a pair's phase 0, as rows */                                                          \
        for (uint ph = 0; ph < PH; ++ph) {                                                                          \
            uint b0 = bq + ph;                                                                                      \
            uint mask[32]; /* per tap, the block's outputs it reaches (KH * KW <= 32) */                            \
            int first[32]; /* per tap, its offset in src for the first of them */                                   \
            int hi = b0 < OW ? min((int)QB, (int)((OW - b0 + BS - 1) / BS)) : 0; /* the block's outputs in the row */ \
            for (uint kw = 0; kw < KW; ++kw) mask[kw] = xd_lanes_cols_((int)b0, hi, dir, kw, SW, PL, TW, &first[kw]); \
            for (uint kh = KH; kh-- > 0;) {                                                                         \
                int sr = xd_lanes_row_((int)a, dir, kh, SH, PT, TH);                                                \
                for (uint kw = 0; kw < KW; ++kw) {                                                                  \
                    mask[kh * KW + kw] = sr < 0 ? 0u : mask[kw];                                                    \
                    first[kh * KW + kw] = sr * (int)SW + first[kw];                                                 \
                }                                                                                                   \
            }                                                                                                       \
            xd_vf acc[QB][CV];                                                                                      \
            _Pragma("unroll") for (uint j = 0; j < QB; ++j) _Pragma("unroll") for (uint v = 0; v < CV; ++v)         \
                acc[j][v] = (xd_vf)0.0f;                                                                            \
            for (uint r = 0; r < R; ++r) {                                                                          \
                __global const float *sp = src + ((size_t)n * R + r) * SH * SW;                                     \
                for (uint kh = 0; kh < KH; ++kh) {                                                                  \
                    XD_ORDERED for (uint kw = 0; kw < KW; ++kw)                                                     \
                    {                                                                                               \
                        uint t = kh * KW + kw, m = mask[t], i = 0;                                                  \
                        if (!m) continue; /* a tap no output of the block reaches (strided backward data: most) */ \
                        __global const float *s0 = sp + first[t];                                                   \
                        __global const float *wp = wt + ((size_t)r * KH * KW + t) * KP + k0;                        \
                        xd_vf wv[CV];                                                                               \
                        _Pragma("unroll") for (uint v = 0; v < CV; ++v) wv[v] = XD_VLOAD(wp + v * XD_VW);           \
                        _Pragma("unroll") for (uint j = 0; j < QB; ++j)                                             \
                        {                                                                                           \
                            if (!(m & (1u << j))) continue;                                                         \
                            xd_vf s = (xd_vf)s0[i];                                                                 \
                            i += step;                                                                              \
                            _Pragma("unroll") for (uint v = 0; v < CV; ++v) acc[j][v] = XD_FMA(s, wv[v], acc[j][v]); \
                        }                                                                                           \
                    }                                                                                               \
                }                                                                                                   \
            }                                                                                                       \
            if (XD_CONV_ROWS_OK_(CV, QB) && (BS == 1 || PH == 2)) {                                                 \
                xd_vf T[CV * QB];                                                                                   \
                xd_conv_lanes_rows_(&acc[0][0], CV, QB, PH == 2 && ph == 0 ? K0 : T);                               \
                if (PH == 2 && ph == 0) continue;                                                                   \
                xd_conv_lanes_store_(PH == 2 ? K0 : 0, T, CV, QB, out, b, n, K, k0, P, a, OW, bq, has_bias, relu,   \
                                     accum);                                                                        \
                return;                                                                                             \
            }                                                                                                       \
            _Pragma("unroll") for (uint j = 0; j < QB; ++j)                                                         \
            {                                                                                                       \
                uint bj = b0 + j * BS;                                                                              \
                if (bj >= OW) continue; /* past the row: no work, the loop stays unrollable */                      \
                _Pragma("unroll") for (uint v = 0; v < CV; ++v)                                                     \
                {                                                                                                   \
                    uint kv = k0 + v * XD_VW;                                                                       \
                    if (kv >= K) continue;                                                                          \
                    xd_vf r = acc[j][v];                                                                            \
                    if (has_bias) r = r + XD_VGATHER(b, min(kv + XD_VIOTA, (xd_vu)(K - 1)));                        \
                    if (relu) r = xd_vrelu(r);               \
                    xd_vu at = ((uint)n * K + min(kv + XD_VIOTA, (xd_vu)(K - 1))) * P + a * OW + bj;           \
                    if (accum) r = XD_VGATHER(out, at) + r;                                                         \
                    xd_vscatter_n(r, out, at, min((uint)XD_VW, K - kv));                                            \
                }                                                                                                   \
            }                                                                                                       \
        }                                                                                                           \
    }

XD_CONV_LANES_KERNEL(xd_conv2d_lanes, XD_CONV_CV, XD_CONV_QB, 0)
/* One vector of channels (16-channel layers at XD_VW 16), twice the outputs of a row. */
XD_CONV_LANES_KERNEL(xd_conv2d_lanes1, 1, XD_CONV_QB1, 0)
/* Backward data at stride 2 by pairs of blocks (where the outputs go by rows). */
XD_CONV_LANES_KERNEL(xd_conv2d_lanes_pairs, XD_CONV_CV, XD_CONV_QB, 1)
XD_CONV_LANES_KERNEL(xd_conv2d_lanes1_pairs, 1, XD_CONV_QB1, 1)

/* wt[r, kh, kw, k] = w[k * sk + r * sr + kh * KW + kw] for k < K, 0 up to KP:
 * the weights channels last for xd_conv2d_lanes (forward: r = c, k = o,
 * sk = C KH KW, sr = KH KW; backward data: r = o, k = c, sk = KH KW,
 * sr = C KH KW).  One work-item: XD_VW channels of one (r, tap). */
__kernel void xd_conv2d_weights_lanes(__global const float *w, __global float *wt, const uint R, const uint K,
                                      const uint KP, const uint T, const uint sk, const uint sr)
{
    uint nkv = KP / XD_VW;
    uint g = (uint)get_global_id(0);
    if (g >= R * T * nkv) return;
    uint v = g % nkv, t = (g / nkv) % T, r = g / (nkv * T);
    xd_vu k = v * XD_VW + XD_VIOTA;
    xd_vf x = XD_VGATHER(w, min(k, (xd_vu)(K - 1)) * sk + r * sr + t);
    xd_vstore_n(XD_VSELECT((xd_vf)0.0f, x, XD_AS_VI(k) < (xd_vi)K), wt + ((size_t)r * T + t) * KP + v * XD_VW, XD_VW);
}
