/* Batch normalization over the channels of NCHW x [N,C,H,W] (Keras's axis -1
 * of NHWC), per channel c over M = N*H*W values.
 *
 * Keras 3, training (keras/src/layers/normalization/batch_normalization.py
 * call, keras/src/backend/jax/nn.py moments and batch_normalization):
 *   mean = jnp.mean(x, axes);  var = jnp.var(x, axes) = sum((x - mean)^2) / M
 *   inv = rsqrt(var + eps) [* gamma];  res = -mean * inv [+ beta]
 *   y = x * inv + res
 *   moving = moving * momentum + batch * (1 - momentum)
 * rsqrt is computed here as the correctly rounded 1 / sqrt(var + eps).
 *
 * Orders (docs/reproducibility.md), part[c*N + n] per sample, then per channel:
 *  mean[c]   per sample: adds over (h, w); adds of those over n; / M
 *  var[c]    per sample: adds over (h, w) of d*d, d = x - mean[c]; adds over n; / M
 *  y         x * inv[c] + res[c] (two roundings, no fma)
 *  backward  per sample: adds over (h, w) of dy, and the fma chain over (h, w)
 *            of dy * (x - mean[c]); each summed over n ascending (sdy, sdx):
 *              dbeta = sdy;  dgamma = sdx * rstd   (rstd = 1 / sqrt(var + eps))
 *              dx = k * ((dy - sdy / M) - (x - mean) * ((sdx / M) * (rstd * rstd))),
 *              k = gamma * rstd (rstd without gamma)
 *            the gradient of the batch-statistics forward (mean and var
 *            depend on x): dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat)). */
#include "xd_math.h"

/* kind 0: part = adds of x; 1: adds of (x - mean)^2; 2: part = adds of dy and
 * part[C*N + ...] = fma chain of dy * (x - mean).  One work-item per (c, n). */
__kernel void xd_bn_partial(__global const float *x, __global const float *mean, __global const float *dy,
                            __global float *part, const uint N, const uint C, const uint HW, const int kind)
{
    uint g = (uint)get_global_id(0);
    if (g >= C * N) return;
    uint n = g % N, c = g / N;
    size_t off = ((size_t)n * C + c) * HW;
    __global const float *xp = x + off;
    float s = 0.0f;
    if (kind == 0) {
        XD_ORDERED for (uint k = 0; k < HW; ++k) s = s + xp[k];
    } else if (kind == 1) {
        float mu = mean[c];
        XD_ORDERED for (uint k = 0; k < HW; ++k) {
            float d = xp[k] - mu;
            s = s + d * d;
        }
    } else {
        float mu = mean[c], sx = 0.0f;
        __global const float *dp = dy + off;
        XD_ORDERED for (uint k = 0; k < HW; ++k) s = s + dp[k];
        XD_ORDERED for (uint k = 0; k < HW; ++k) sx = XD_FMA(dp[k], xp[k] - mu, sx);
        part[(size_t)C * N + g] = sx;
    }
    part[g] = s;
}

/* out[c] = (adds over n ascending of part[c*N + n]) / count. */
__kernel void xd_bn_stat(__global const float *part, __global float *out, const uint C, const uint N,
                         const float count)
{
    uint c = (uint)get_global_id(0);
    if (c >= C) return;
    __global const float *row = part + (size_t)c * N;
    float s = 0.0f;
    XD_ORDERED for (uint n = 0; n < N; ++n) s = s + row[n];
    out[c] = XD_DIV(s, count);
}

/* coef[c] = inv, coef[C + c] = res (Keras's names, see above). */
__kernel void xd_bn_coeffs(__global const float *mean, __global const float *var, __global const float *gamma,
                           __global const float *beta, __global float *coef, const uint C, const float eps,
                           const int has_gamma, const int has_beta)
{
    uint c = (uint)get_global_id(0);
    if (c >= C) return;
    float inv = XD_DIV(1.0f, XD_SQRT(var[c] + eps));
    if (has_gamma) inv = inv * gamma[c];
    float res = -mean[c] * inv;
    if (has_beta) res = res + beta[c];
    coef[c] = inv;
    coef[C + c] = res;
}

/* relu: the ReLU after it (a fusion: cl/activation.cl's xd_relu_fwd, value
 * for value) */
__kernel void xd_bn_apply(__global const float *x, __global const float *coef, __global float *y, const uint C,
                          const uint HW, const uint n, const int relu)
{
    size_t j = get_global_id(0); /* size_t: a uint index becomes gathers on Intel's CPU runtime (cl/adam.cl) */
    if (j >= n) return;
    uint c = (uint)((j / HW) % C);
    float v = x[j] * coef[c] + coef[C + c];
    y[j] = relu ? xd_relu(v) : v;
}

/* The backward's per-channel part: dgamma, dbeta (each optional) and
 * coef = [k | sdy / M | (sdx / M) (rstd rstd)] for xd_bn_bwd_apply. */
__kernel void xd_bn_bwd_coeffs(__global const float *part, __global const float *var, __global const float *gamma,
                               __global float *coef, __global float *dgamma, __global float *dbeta, const uint C,
                               const uint N, const float eps, const float count, const int has_gamma,
                               const int want_dgamma, const int want_dbeta)
{
    uint c = (uint)get_global_id(0);
    if (c >= C) return;
    __global const float *pdy = part + (size_t)c * N;
    __global const float *pdx = part + (size_t)C * N + (size_t)c * N;
    float sdy = 0.0f, sdx = 0.0f;
    XD_ORDERED for (uint n = 0; n < N; ++n) sdy = sdy + pdy[n];
    XD_ORDERED for (uint n = 0; n < N; ++n) sdx = sdx + pdx[n];
    float rstd = XD_DIV(1.0f, XD_SQRT(var[c] + eps));
    if (want_dgamma) dgamma[c] = sdx * rstd;
    if (want_dbeta) dbeta[c] = sdy;
    coef[c] = has_gamma ? gamma[c] * rstd : rstd;
    coef[C + c] = XD_DIV(sdy, count);
    coef[2 * C + c] = XD_DIV(sdx, count) * (rstd * rstd);
}

__kernel void xd_bn_bwd_apply(__global const float *x, __global const float *dy, __global const float *mean,
                              __global const float *coef, __global float *dx, const uint C, const uint HW,
                              const uint n)
{
    size_t j = get_global_id(0); /* size_t: a uint index becomes gathers on Intel's CPU runtime (cl/adam.cl) */
    if (j >= n) return;
    uint c = (uint)((j / HW) % C);
    dx[j] = coef[c] * ((dy[j] - coef[C + c]) - (x[j] - mean[c]) * coef[2 * C + c]);
}

/* Keras's moving-statistics update; momentum and 1 - momentum rounded on the
 * host from double. */
__kernel void xd_bn_moving(__global float *moving_mean, __global float *moving_var, __global const float *mean,
                           __global const float *var, const uint C, const float momentum, const float one_minus)
{
    uint c = (uint)get_global_id(0);
    if (c >= C) return;
    moving_mean[c] = moving_mean[c] * momentum + mean[c] * one_minus;
    moving_var[c] = moving_var[c] * momentum + var[c] * one_minus;
}

/* PyTorch's BatchNorm2d running statistics (torch/nn/modules/batchnorm.py,
 * aten batch_norm_cpu_update_stats_template):
 *   running_mean = momentum * mean + (1 - momentum) * running_mean
 *   running_var  = momentum * (var * unbias) + (1 - momentum) * running_var
 * var is the biased batch variance above; unbias = M / (M - 1), momentum
 * and 1 - momentum are rounded to float on the host from double; each
 * product rounded, then one addition (no fma). */
__kernel void xd_bn_running(__global float *running_mean, __global float *running_var, __global const float *mean,
                            __global const float *var, const uint C, const float momentum, const float one_minus,
                            const float unbias)
{
    uint c = (uint)get_global_id(0);
    if (c >= C) return;
    running_mean[c] = momentum * mean[c] + one_minus * running_mean[c];
    running_var[c] = momentum * (var[c] * unbias) + one_minus * running_var[c];
}

/* ---- the same kernels on vector lanes (XD_VW > 1) ---------------------------------
 * xd_bn_partial on lanes of XD_VW samples: each lane the chain of one (c, n),
 * exactly as above.  One work-item: channel c, samples n0 .. n0 + XD_VW
 * (past N: clamped, not stored).  The lanes' planes lie C * HW apart, so the
 * chains go by blocks of XD_VW (h, w) positions: one contiguous load from
 * each plane (row j: lane j's next XD_VW values), transposed in registers
 * (t[k]: every lane's value at the block's k-th position), then added k
 * ascending; the positions past the last whole block are gathered.  A
 * gather a position (vgatherqps from XD_VW planes) ran at ~5 GB/s. */

/* (the blocks must be inlined and their loops unrolled for t to stay in
 * registers: PoCL keeps a called function's arrays on the stack) */
#define XD_UNROLL _Pragma("unroll")
#define XD_BN_INLINE inline __attribute__((always_inline))

/* t[k] = lane j's p[u[j] + i + k] in lane j, k < XD_VW. */
XD_BN_INLINE void xd_vblock_(__global const float *p, const uint *u, uint i, xd_vf *t)
{
    XD_UNROLL for (uint j = 0; j < XD_VW; ++j) t[j] = XD_VLOAD(p + u[j] + i);
    xd_vtranspose(t);
}

__kernel void xd_bn_partial_v(__global const float *x, __global const float *mean, __global const float *dy,
                              __global float *part, const uint N, const uint C, const uint HW, const int kind)
{
    uint nnb = (N + XD_VW - 1) / XD_VW;
    uint g = (uint)get_global_id(0);
    if (g >= C * nnb) return;
    uint n0 = (g % nnb) * XD_VW, c = g / nnb, k = min((uint)XD_VW, N - n0);
    xd_vu off = (min(n0 + XD_VIOTA, (xd_vu)(N - 1)) * C + c) * HW;
    uint u[XD_VW], nb = HW - HW % XD_VW;
    XD_VLANES(off, u);
    xd_vf s = (xd_vf)0.0f, sx = (xd_vf)0.0f, mu = (xd_vf)(kind == 0 ? 0.0f : mean[c]);
    xd_vf t[XD_VW], e[XD_VW];
    if (kind == 0) {
        XD_ORDERED for (uint i = 0; i < nb; i += XD_VW) {
            xd_vblock_(x, u, i, t);
            XD_UNROLL XD_ORDERED for (uint q = 0; q < XD_VW; ++q) s = s + t[q];
        }
        XD_ORDERED for (uint i = nb; i < HW; ++i) s = s + XD_VGATHER(x, off + i);
    } else if (kind == 1) {
        XD_ORDERED for (uint i = 0; i < nb; i += XD_VW) {
            xd_vblock_(x, u, i, t);
            XD_UNROLL XD_ORDERED for (uint q = 0; q < XD_VW; ++q) {
                xd_vf d = t[q] - mu;
                s = s + d * d;
            }
        }
        XD_ORDERED for (uint i = nb; i < HW; ++i) {
            xd_vf d = XD_VGATHER(x, off + i) - mu;
            s = s + d * d;
        }
    } else {
        /* the chains of dy and of dy * (x - mean) side by side: independent */
        XD_ORDERED for (uint i = 0; i < nb; i += XD_VW) {
            xd_vblock_(dy, u, i, t);
            xd_vblock_(x, u, i, e);
            XD_UNROLL XD_ORDERED for (uint q = 0; q < XD_VW; ++q) {
                s = s + t[q];
                sx = XD_FMA(t[q], e[q] - mu, sx);
            }
        }
        XD_ORDERED for (uint i = nb; i < HW; ++i) {
            xd_vf d = XD_VGATHER(dy, off + i);
            s = s + d;
            sx = XD_FMA(d, XD_VGATHER(x, off + i) - mu, sx);
        }
        xd_vstore_n(sx, part + (size_t)C * N + (size_t)c * N + n0, k);
    }
    xd_vstore_n(s, part + (size_t)c * N + n0, k);
}

/* xd_bn_apply and xd_bn_bwd_apply by vectors of XD_VW neighbouring elements
 * of one (n, c) plane (HW >= XD_VW; the plane's last vector shifted back to
 * end at its end, its first lanes recomputed and not stored; outputs never
 * alias inputs): the same operations per element.  One work-item a plane:
 * a work-item a vector spent more on finding its plane and channel (two
 * divisions) than on its 16 elements.  planes = N * C. */
__kernel void xd_bn_apply_v(__global const float *x, __global const float *coef, __global float *y, const uint C,
                            const uint HW, const uint planes, const int relu)
{
    uint p = (uint)get_global_id(0);
    if (p >= planes) return;
    uint c = p % C, s = 0;
    size_t base = (size_t)p * HW;
    xd_vf k = (xd_vf)coef[c], r = (xd_vf)coef[C + c];
    for (; s + XD_VW <= HW; s += XD_VW) {
        xd_vf v = XD_VLOAD(x + base + s) * k + r;
        xd_vstore_n(relu ? xd_vrelu(v) : v, y + base + s, XD_VW);
    }
    if (s < HW) {
        uint b = HW - XD_VW;
        xd_vf v = XD_VLOAD(x + base + b) * k + r;
        xd_vstore_range(relu ? xd_vrelu(v) : v, y + base + b, s - b, XD_VW);
    }
}

__kernel void xd_bn_bwd_apply_v(__global const float *x, __global const float *dy, __global const float *mean,
                                __global const float *coef, __global float *dx, const uint C, const uint HW,
                                const uint planes)
{
    uint p = (uint)get_global_id(0);
    if (p >= planes) return;
    uint c = p % C, s = 0;
    size_t base = (size_t)p * HW;
    xd_vf k = (xd_vf)coef[c], a = (xd_vf)coef[C + c], mu = (xd_vf)mean[c], b = (xd_vf)coef[2 * C + c];
    for (; s + XD_VW <= HW; s += XD_VW)
        xd_vstore_n(k * ((XD_VLOAD(dy + base + s) - a) - (XD_VLOAD(x + base + s) - mu) * b), dx + base + s, XD_VW);
    if (s < HW) {
        uint e = HW - XD_VW;
        xd_vf r = k * ((XD_VLOAD(dy + base + e) - a) - (XD_VLOAD(x + base + e) - mu) * b);
        xd_vstore_range(r, dx + base + e, s - e, XD_VW);
    }
}
