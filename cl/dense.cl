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

#define XD_KCHUNK 256
/* Outputs (OB) and samples (NB) per work-item: tunables (-D from
 * host/params.c); they decide which work-item computes an output, never the
 * order of its sum. */
#ifndef XD_DENSE_OB
#define XD_DENSE_OB 4
#endif

/* part[(n*O + o)*nch + c]; one work-item: chunk c, sample n, XD_DENSE_OB outputs. */
__kernel void xd_dense_fwd_partial(__global const float *x, __global const float *w,
                                   __global float *part, const uint N, const uint I,
                                   const uint O, const uint nch)
{
    uint nob = (O + XD_DENSE_OB - 1) / XD_DENSE_OB;
    uint g = (uint)get_global_id(0);
    if (g >= nch * N * nob) return;
    uint c = g % nch;
    uint t = g / nch;
    uint ob = t % nob;
    uint n = t / nob;
    uint i0 = c * XD_KCHUNK;
    uint i1 = min(I, i0 + XD_KCHUNK);
    __global const float *xr = x + (size_t)n * I;
    __global const float *wr[XD_DENSE_OB];
    float acc[XD_DENSE_OB];
    for (uint q = 0; q < XD_DENSE_OB; ++q) {
        uint o = min(ob * XD_DENSE_OB + q, O - 1);
        wr[q] = w + (size_t)o * I;
        acc[q] = 0.0f;
    }
    for (uint i = i0; i < i1; ++i) {
        float xv = xr[i];
        for (uint q = 0; q < XD_DENSE_OB; ++q) acc[q] = XD_FMA(xv, wr[q][i], acc[q]);
    }
    for (uint q = 0; q < XD_DENSE_OB; ++q) {
        uint o = ob * XD_DENSE_OB + q;
        if (o < O) part[((size_t)n * O + o) * nch + c] = acc[q];
    }
}

/* One work-item: input i for XD_DENSE_NB samples sharing each w[o, i]
 * load; every output still sums o ascending. */
#ifndef XD_DENSE_NB
#define XD_DENSE_NB 4
#endif
__kernel void xd_dense_bwd_data(__global const float *dy, __global const float *w,
                                __global float *dx, const uint N, const uint I, const uint O)
{
    uint nnb = (N + XD_DENSE_NB - 1) / XD_DENSE_NB;
    uint g = (uint)get_global_id(0);
    if (g >= nnb * I) return;
    uint nb = g / I, i = g % I;
    uint nc[XD_DENSE_NB];
    float acc[XD_DENSE_NB];
    for (uint q = 0; q < XD_DENSE_NB; ++q) {
        nc[q] = min(nb * XD_DENSE_NB + q, N - 1);
        acc[q] = 0.0f;
    }
    for (uint o = 0; o < O; ++o) {
        float wv = w[(size_t)o * I + i];
        for (uint q = 0; q < XD_DENSE_NB; ++q) acc[q] = XD_FMA(dy[(size_t)nc[q] * O + o], wv, acc[q]);
    }
    for (uint q = 0; q < XD_DENSE_NB; ++q) {
        uint n = nb * XD_DENSE_NB + q;
        if (n < N) dx[(size_t)n * I + i] = acc[q];
    }
}

/* One work-item: input i, XD_DENSE_OB outputs sharing each x[n, i] load;
 * every output still sums n ascending. */
__kernel void xd_dense_bwd_weights(__global const float *x, __global const float *dy,
                                   __global float *dw, const uint N, const uint I, const uint O)
{
    uint nob = (O + XD_DENSE_OB - 1) / XD_DENSE_OB;
    uint g = (uint)get_global_id(0);
    if (g >= nob * I) return;
    uint ob = g / I, i = g % I;
    uint oc[XD_DENSE_OB];
    float acc[XD_DENSE_OB];
    for (uint q = 0; q < XD_DENSE_OB; ++q) {
        oc[q] = min(ob * XD_DENSE_OB + q, O - 1);
        acc[q] = 0.0f;
    }
    for (uint n = 0; n < N; ++n) {
        float xv = x[(size_t)n * I + i];
        for (uint q = 0; q < XD_DENSE_OB; ++q) acc[q] = XD_FMA(dy[(size_t)n * O + oc[q]], xv, acc[q]);
    }
    for (uint q = 0; q < XD_DENSE_OB; ++q) {
        uint o = ob * XD_DENSE_OB + q;
        if (o < O) dw[(size_t)o * I + i] = acc[q];
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
