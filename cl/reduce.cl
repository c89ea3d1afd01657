/* Fixed-order row sums, the second stage of every split reduction.
 * out[p] = (((0 + part[p][0]) + part[p][1]) + ... + part[p][K-1]) [+ bias[p % bias_mod]]
 * The order depends on the problem shape alone, never on work sizes. */
#include "xd_math.h"

__kernel void xd_reduce_rows(__global const float *part, __global const float *bias,
                             __global float *out, const uint P, const uint K,
                             const uint bias_mod, const int has_bias)
{
    uint p = (uint)get_global_id(0);
    if (p >= P) return;
    __global const float *row = part + (size_t)p * K;
    float acc = 0.0f;
    XD_ORDERED for (uint k = 0; k < K; ++k) acc = acc + row[k];
    if (has_bias) acc = acc + bias[p % bias_mod];
    out[p] = acc;
}
