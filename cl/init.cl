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
