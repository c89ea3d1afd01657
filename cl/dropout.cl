/* Dropout (training), forward and backward in one kernel.
 *
 * Keras 3 (keras/src/backend/jax/random.py dropout):
 *   keep_prob = 1.0 - rate;  mask = bernoulli(seed, keep_prob, shape)
 *   y = select(mask, x / keep_prob, 0)        (keep_prob a weak-typed float32)
 * and its gradient dx = select(mask, dy / keep_prob, 0).  crossdev draws the
 * mask from Philox instead of JAX's RNG (xd_dropout_keep in xd_math.h: word
 * j of stream `stream` under key `seed`), so it is the same on every device
 * and in the host build (xd_host_dropout_mask); the backward recomputes it
 * from the same (seed, stream) instead of keeping a mask tensor.
 * keep = (float)(1.0 - rate), rounded on the host; the division is
 * correctly rounded (XD_DIV). */
#include "xd_math.h"

__kernel void xd_dropout(__global const float *in, __global float *out, const uint n, const uint seed_lo,
                         const uint seed_hi, const uint stream_lo, const uint stream_hi, const float keep)
{
    uint j = (uint)get_global_id(0);
    if (j >= n) return;
    ulong seed = ((ulong)seed_hi << 32) | seed_lo;
    ulong stream = ((ulong)stream_hi << 32) | stream_lo;
    /* keep 1 (rate 0, or below 2^-25): every element kept, the identity
     * (exact in reproducible mode anyway; fast mode's division need not be) */
    if (keep == 1.0f) out[j] = in[j];
    else out[j] = xd_dropout_keep(seed, stream, j, keep) ? XD_DIV(in[j], keep) : 0.0f;
}
