/* The self-test (host/core/probe.c): kernels whose results the host computes in
 * the same order and compares bitwise.  A device whose compiler changes the
 * arithmetic, or whose builtins differ from the rules of xd_math.h, fails it
 * and is refused in reproducible mode. */
#include "xd_math.h"

/* The reproducible math on given inputs. */
__kernel void xd_probe_math(__global const float *a, __global const float *b,
                            __global float *out, const uint n)
{
    uint j = (uint)get_global_id(0);
    if (j >= n) return;
    float x = a[j], y = b[j];
    out[5 * j + 0] = xd_exp(x);
    out[5 * j + 1] = xd_log(x);
    out[5 * j + 2] = xd_div(x, y);
    out[5 * j + 3] = xd_sqrt(x);
    out[5 * j + 4] = XD_FMA(x, y, 1.0f);
}

/* The loop shapes of the contract's reductions, one row a[p][0..K) each:
 *   out[3p]     adds over k ascending from 0 (reduce_rows, softmax, mean)
 *   out[3p + 1] fma chain a[p][k] * b[k] over k ascending (dense, conv)
 *   out[3p + 2] a[p][0] * b[0] + b[1] with contraction off (never fused)
 * XD_PROBE_PLANT_REASSOC (tests only) adds in two interleaved partial sums,
 * as a vectorizer that reorders would: the probe must catch it. */
__kernel void xd_probe_loops(__global const float *a, __global const float *b,
                             __global float *out, const uint P, const uint K)
{
    uint p = (uint)get_global_id(0);
    if (p >= P) return;
    __global const float *row = a + (size_t)p * K;
    float s = 0.0f;
#ifdef XD_PROBE_PLANT_BUILD_ERROR
#error "planted build failure (XD_PROBE_PLANT=build-error)"
#endif
#ifdef XD_PROBE_PLANT_REASSOC
    float s2 = 0.0f;
    for (uint k = 0; k + 1 < K; k += 2) {
        s = s + row[k];
        s2 = s2 + row[k + 1];
    }
    if (K & 1u) s = s + row[K - 1];
    s = s + s2;
#else
    XD_ORDERED for (uint k = 0; k < K; ++k) s = s + row[k];
#endif
    float d = 0.0f;
    XD_ORDERED for (uint k = 0; k < K; ++k) d = XD_FMA(row[k], b[k], d);
    out[3 * p] = s;
    out[3 * p + 1] = d;
    out[3 * p + 2] = row[0] * b[0] + b[1];
}

/* The vector form of the adds (XD_VW rows as the lanes of one vector, as
 * xd_conv2d_bwd_bias_partial): out[r] = adds over k ascending of a[r][k]. */
__kernel void xd_probe_vloops(__global const float *a, __global float *out, const uint P,
                              const uint K)
{
    uint nv = (P + XD_VW - 1) / XD_VW;
    uint g = (uint)get_global_id(0);
    if (g >= nv) return;
    uint r0 = g * XD_VW;
    xd_vu off = min(r0 + XD_VIOTA, (xd_vu)(P - 1)) * K;
    xd_vf acc = (xd_vf)0.0f;
    XD_ORDERED for (uint k = 0; k < K; ++k) acc = acc + XD_VGATHER(a, off + k);
    xd_vscatter_n(acc, out, r0 + XD_VIOTA, min((uint)XD_VW, P - r0));
}
