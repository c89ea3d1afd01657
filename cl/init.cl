/* Seeded initialisation: Philox4x32-10 keyed by the seed, one stream per
 * tensor; element j takes word j of its stream (same bits on every device
 * and in the host build, see xd_math.h). */
#include "xd_math.h"

/* out[j] = (m_j - 2^23) * scale, m_j the top 24 bits of word j. */
__kernel void xd_init_uniform(__global float *out, const uint n, const uint seed_lo,
                              const uint seed_hi, const uint stream_lo, const uint stream_hi,
                              const float scale)
{
    uint j = (uint)get_global_id(0);
    if (j >= n) return;
    ulong seed = ((ulong)seed_hi << 32) | seed_lo;
    ulong stream = ((ulong)stream_hi << 32) | stream_lo;
    out[j] = xd_uniform_sym(xd_philox_word(seed, stream, j), scale);
}

/* Box-Muller normal draws: xd_normal() in xd_math.h, times stddev. */
__kernel void xd_init_normal(__global float *out, const uint n, const uint seed_lo,
                             const uint seed_hi, const uint stream_lo, const uint stream_hi,
                             const float stddev)
{
    uint j = (uint)get_global_id(0);
    if (j >= n) return;
    ulong seed = ((ulong)seed_hi << 32) | seed_lo;
    ulong stream = ((ulong)stream_hi << 32) | stream_lo;
    out[j] = xd_normal(seed, stream, j) * stddev;
}

/* Probe: the reproducible math on given inputs, compared bitwise with the
 * host build by the library's self-test (xd_context_probe). */
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
