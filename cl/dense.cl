/* Dense layer y = x W^T + b, x [N, I], W [O, I] (out, in), y [N, O].
 *
 * Summation orders (the reproducibility contract, docs/reproducibility.md):
 *  forward      y[n,o]  = sum over chunks c of XD_KCHUNK inputs, ascending, of
 *                         (fma chain over i ascending from 0), then + b[o]
 *  bwd data     dx[n,i] = fma chain over o ascending from 0 (dy[n,o] * w[o,i])
 *  bwd weights  dW[o,i] = fma chain over n ascending from 0
 *  bwd bias     db[o]   = adds over n ascending from 0 (xd_reduce_rows)
 * XD_KCHUNK is part of the contract, not a tunable: changing it changes bits. */
#include "xd_math.h"

/* Outputs (OB), samples (NB) and vector lanes (XD_VW, cl/xd_math.h) per
 * work-item: tunables (-D from host/core/params.c); they decide which work-item
 * and lane computes an output, never the order of its sum. */
#ifndef XD_DENSE_OB
#define XD_DENSE_OB 4
#endif

/* part[(n*O + o)*nch + c]; one work-item: chunk c, XD_VW samples (the
 * lanes, gathered rows of x) and XD_DENSE_OB outputs sharing each load. */
__kernel void xd_dense_fwd_partial(__global const float *x, __global const float *w,
                                   __global float *part, const uint N, const uint I,
                                   const uint O, const uint nch)
{
    uint nob = (O + XD_DENSE_OB - 1) / XD_DENSE_OB;
    uint nnv = (N + XD_VW - 1) / XD_VW;
    uint g = (uint)get_global_id(0);
    if (g >= nch * nnv * nob) return;
    uint c = g % nch;
    uint t = g / nch;
    uint ob = t % nob;
    uint n0 = (t / nob) * XD_VW;
    uint i0 = c * XD_KCHUNK;
    uint i1 = min(I, i0 + XD_KCHUNK);
    xd_vu row = min(n0 + XD_VIOTA, (xd_vu)(N - 1)) * I; /* lanes past N repeat row N-1, never stored */
    __global const float *wr[XD_DENSE_OB];
    xd_vf acc[XD_DENSE_OB];
    #pragma unroll
    for (uint q = 0; q < XD_DENSE_OB; ++q) {
        uint o = min(ob * XD_DENSE_OB + q, O - 1);
        wr[q] = w + (size_t)o * I;
        acc[q] = (xd_vf)0.0f;
    }
    uint nq = min((uint)XD_DENSE_OB, O - ob * XD_DENSE_OB); /* the last block may hold fewer */
    XD_ORDERED for (uint i = i0; i < i1; ++i) {
        xd_vf xv = XD_VGATHER(x, row + i);
        #pragma unroll
        for (uint q = 0; q < XD_DENSE_OB; ++q) {
            if (q >= nq) continue; /* a partial last block: no work, the loop stays unrollable */
            acc[q] = XD_FMA(xv, (xd_vf)wr[q][i], acc[q]);
        }
    }
    uint k = min((uint)XD_VW, N - n0);
    #pragma unroll
    for (uint q = 0; q < XD_DENSE_OB; ++q) {
        uint o = ob * XD_DENSE_OB + q;
        if (o < O) xd_vscatter_n(acc[q], part, ((n0 + XD_VIOTA) * O + o) * nch + c, k);
    }
}

/* The GPU path of xd_dense_fwd_partial (tunable dense_tiled): a work-group
 * of XD_TILE_N x XD_TILE_O work-items computes chunk c's partial sums for a
 * tile of samples and outputs.  The tile's rows of x and w over the chunk
 * are staged in local memory by loads that neighbouring work-items make to
 * neighbouring addresses; then each work-item runs its fma chain over the
 * chunk's inputs ascending, from 0 — the same partial as the other kernel.
 * Rows are padded by one float against local-memory bank conflicts. */
#define XD_TILE_N 8
#define XD_TILE_O 8
__kernel void xd_dense_fwd_partial_tiled(__global const float *x, __global const float *w,
                                         __global float *part, const uint N, const uint I,
                                         const uint O, const uint nch)
{
    __local float xs[XD_TILE_N][XD_KCHUNK + 1];
    __local float ws[XD_TILE_O][XD_KCHUNK + 1];
    uint ntn = (N + XD_TILE_N - 1) / XD_TILE_N;
    uint grp = (uint)get_group_id(0);
    uint c = grp % nch;
    uint t = grp / nch;
    uint n0 = (t % ntn) * XD_TILE_N;
    uint o0 = (t / ntn) * XD_TILE_O;
    uint lid = (uint)get_local_id(0);
    uint i0 = c * XD_KCHUNK;
    uint len = min((uint)XD_KCHUNK, I - i0);
    for (uint e = lid; e < XD_TILE_N * XD_KCHUNK; e += XD_TILE_N * XD_TILE_O) {
        uint r = e / XD_KCHUNK, k = e % XD_KCHUNK;
        xs[r][k] = k < len ? x[(size_t)min(n0 + r, N - 1) * I + i0 + k] : 0.0f;
    }
    for (uint e = lid; e < XD_TILE_O * XD_KCHUNK; e += XD_TILE_N * XD_TILE_O) {
        uint r = e / XD_KCHUNK, k = e % XD_KCHUNK;
        ws[r][k] = k < len ? w[(size_t)min(o0 + r, O - 1) * I + i0 + k] : 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    uint r = lid % XD_TILE_N, q = lid / XD_TILE_N;
    float acc = 0.0f;
    XD_ORDERED for (uint k = 0; k < len; ++k) acc = XD_FMA(xs[r][k], ws[q][k], acc);
    uint n = n0 + r, o = o0 + q;
    if (n < N && o < O) part[((size_t)n * O + o) * nch + c] = acc;
}

/* One work-item: XD_VW neighbouring inputs i (the lanes) for XD_DENSE_NB
 * samples sharing each row load of w; every output still sums o ascending.
 * relu != 0: the ReLU backward of the layer below is applied on the way out
 * (relu_y: that ReLU's output), an exact select. */
#ifndef XD_DENSE_NB
#define XD_DENSE_NB 4
#endif
__kernel void xd_dense_bwd_data(__global const float *dy, __global const float *w,
                                __global float *dx, const uint N, const uint I, const uint O,
                                __global const float *relu_y, const int relu)
{
    uint nnb = (N + XD_DENSE_NB - 1) / XD_DENSE_NB;
    uint niv = (I + XD_VW - 1) / XD_VW;
    uint g = (uint)get_global_id(0);
    if (g >= nnb * niv) return;
    uint nb = g / niv, i0 = (g % niv) * XD_VW;
    uint k = min((uint)XD_VW, I - i0);
    xd_vu col = min(i0 + XD_VIOTA, (xd_vu)(I - 1));
    uint nq = min((uint)XD_DENSE_NB, N - nb * XD_DENSE_NB); /* the last block may hold fewer */
    uint nc[XD_DENSE_NB];
    xd_vf acc[XD_DENSE_NB];
    #pragma unroll
    for (uint q = 0; q < XD_DENSE_NB; ++q) {
        nc[q] = min(nb * XD_DENSE_NB + q, N - 1);
        acc[q] = (xd_vf)0.0f;
    }
    XD_ORDERED for (uint o = 0; o < O; ++o) {
        __global const float *wr = w + (size_t)o * I;
        xd_vf wv = k == XD_VW ? XD_VLOAD(wr + i0) : XD_VGATHER(wr, col);
        #pragma unroll
        for (uint q = 0; q < XD_DENSE_NB; ++q) {
            if (q >= nq) continue; /* a partial last block: no work, the loop stays unrollable */
            acc[q] = XD_FMA((xd_vf)dy[(size_t)nc[q] * O + o], wv, acc[q]);
        }
    }
    #pragma unroll
    for (uint q = 0; q < XD_DENSE_NB; ++q) {
        uint n = nb * XD_DENSE_NB + q;
        if (n >= N) break;
        xd_vf v = acc[q];
        if (relu) { /* fused ReLU backward: (y > 0) ? dx : 0, as xd_relu_bwd */
            __global const float *yr = relu_y + (size_t)n * I;
            xd_vf yv = k == XD_VW ? XD_VLOAD(yr + i0) : XD_VGATHER(yr, col);
            v = XD_VSELECT((xd_vf)0.0f, v, yv > (xd_vf)0.0f);
        }
        xd_vstore_n(v, dx + (size_t)n * I + i0, k);
    }
}

/* One work-item: XD_VW neighbouring inputs i (the lanes) for XD_DENSE_OB
 * outputs sharing each row load of x; every output still sums n ascending. */
__kernel void xd_dense_bwd_weights(__global const float *x, __global const float *dy,
                                   __global float *dw, const uint N, const uint I, const uint O)
{
    uint nob = (O + XD_DENSE_OB - 1) / XD_DENSE_OB;
    uint niv = (I + XD_VW - 1) / XD_VW;
    uint g = (uint)get_global_id(0);
    if (g >= nob * niv) return;
    uint ob = g / niv, i0 = (g % niv) * XD_VW;
    uint k = min((uint)XD_VW, I - i0);
    xd_vu col = min(i0 + XD_VIOTA, (xd_vu)(I - 1));
    uint nq = min((uint)XD_DENSE_OB, O - ob * XD_DENSE_OB); /* the last block may hold fewer */
    uint oc[XD_DENSE_OB];
    xd_vf acc[XD_DENSE_OB];
    #pragma unroll
    for (uint q = 0; q < XD_DENSE_OB; ++q) {
        oc[q] = min(ob * XD_DENSE_OB + q, O - 1);
        acc[q] = (xd_vf)0.0f;
    }
    XD_ORDERED for (uint n = 0; n < N; ++n) {
        __global const float *xr = x + (size_t)n * I;
        xd_vf xv = k == XD_VW ? XD_VLOAD(xr + i0) : XD_VGATHER(xr, col);
        #pragma unroll
        for (uint q = 0; q < XD_DENSE_OB; ++q) {
            if (q >= nq) continue; /* a partial last block: no work, the loop stays unrollable */
            acc[q] = XD_FMA((xd_vf)dy[(size_t)n * O + oc[q]], xv, acc[q]);
        }
    }
    #pragma unroll
    for (uint q = 0; q < XD_DENSE_OB; ++q) {
        uint o = ob * XD_DENSE_OB + q;
        if (o < O) xd_vstore_n(acc[q], dw + (size_t)o * I + i0, k);
    }
}

/* part[o*N + n] = dy[n, o]: a transpose, so the bias gradient goes through
 * the same fixed-order xd_reduce_rows as every other split reduction. */
__kernel void xd_transpose(__global const float *in, __global float *out, const uint R,
                           const uint C)
{
    uint g = (uint)get_global_id(0);
    if (g >= R * C) return;
    uint r = g / C, c = g % C;
    out[(size_t)c * R + r] = in[g];
}
