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

/* xd_philox4x32_10 on each lane: mul_hi and * give the halves of its 64-bit
 * products, so every lane's words are the scalar function's bits. */
XD_INLINE void xd_philox_v_(xd_vu c[4], uint k0, uint k1)
{
    for (int round = 0; round < 10; ++round) {
        xd_vu hi0 = mul_hi((xd_vu)0xD2511F53u, c[0]), lo0 = (xd_vu)0xD2511F53u * c[0];
        xd_vu hi1 = mul_hi((xd_vu)0xCD9E8D57u, c[2]), lo1 = (xd_vu)0xCD9E8D57u * c[2];
        c[0] = hi1 ^ c[1] ^ (xd_vu)k0;
        c[1] = lo1;
        c[2] = hi0 ^ c[3] ^ (xd_vu)k1;
        c[3] = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}

/* out = in / keep where kept, else 0, lane by lane (the division correctly
 * rounded on every XD_DIV_MODE: the device's vector / with mode 0 and in
 * fast mode, the scalar XD_DIV lane by lane otherwise). */
XD_INLINE xd_vf xd_dropout_apply_(xd_vf in, xd_vi kept, float keep)
{
#if XD_DIV_MODE == 0 || defined(XD_FAST)
    xd_vf q = in / (xd_vf)keep;
#else
    float t[XD_VW];
    XD_VLANES(in, t);
    for (uint l = 0; l < XD_VW; ++l) t[l] = XD_DIV(t[l], keep);
    xd_vf q = XD_VLOAD(t);
#endif
    return XD_VSELECT((xd_vf)0.0f, q, kept);
}

/* The lanes' outputs for word w of their blocks: kept where the word's top
 * 24 bits as u = m 2^-24 are below keep (xd_dropout_keep). */
#define XD_DROPOUT_WORD_(x, w) xd_dropout_apply_((x), XD_CONVERT_VF((w) >> 8) * 5.9604644775390625e-08f < (xd_vf)keep, keep)

/* One work-item: 4 XD_VW consecutive elements, element j from word j & 3 of
 * Philox block j >> 2 (xd_dropout_keep's draw); the lanes are the XD_VW
 * blocks, and each word's elements (stride 4) are split out of and merged
 * back into four contiguous vectors by even / odd steps.  A last partial
 * group element by element. */
__kernel void xd_dropout(__global const float *in, __global float *out, const uint n, const uint seed_lo,
                         const uint seed_hi, const uint stream_lo, const uint stream_hi, const float keep)
{
    uint j0 = (uint)get_global_id(0) * 4 * XD_VW;
    if (j0 >= n) return;
    ulong seed = ((ulong)seed_hi << 32) | seed_lo;
    ulong stream = ((ulong)stream_hi << 32) | stream_lo;
    /* keep 1 (rate 0, or below 2^-25): every element kept, the identity
     * (exact in reproducible mode anyway; fast mode's division need not be) */
    if (keep == 1.0f || n - j0 < 4 * XD_VW) {
        for (uint j = j0; j < min(n, j0 + 4 * XD_VW); ++j) {
            float v = in[j];
            if (keep != 1.0f) v = xd_dropout_keep(seed, stream, j, keep) ? XD_DIV(v, keep) : 0.0f;
            out[j] = v;
        }
        return;
    }
    xd_vu c[4] = {(j0 >> 2) + XD_VIOTA, (xd_vu)0, (xd_vu)stream_lo, (xd_vu)stream_hi};
    xd_philox_v_(c, seed_lo, seed_hi);
    __global const float *p = in + j0;
    xd_vf a = XD_VLOAD(p), b = XD_VLOAD(p + XD_VW), d = XD_VLOAD(p + 2 * XD_VW), e = XD_VLOAD(p + 3 * XD_VW);
    xd_vf e1 = XD_VEVEN(a, b), e2 = XD_VEVEN(d, e), o1 = XD_VODD(a, b), o2 = XD_VODD(d, e);
    xd_vf w0 = XD_DROPOUT_WORD_(XD_VEVEN(e1, e2), c[0]), w2 = XD_DROPOUT_WORD_(XD_VODD(e1, e2), c[2]);
    xd_vf w1 = XD_DROPOUT_WORD_(XD_VEVEN(o1, o2), c[1]), w3 = XD_DROPOUT_WORD_(XD_VODD(o1, o2), c[3]);
    e1 = XD_VZIP_LO(w0, w2);
    e2 = XD_VZIP_HI(w0, w2);
    o1 = XD_VZIP_LO(w1, w3);
    o2 = XD_VZIP_HI(w1, w3);
    __global float *q = out + j0;
    xd_vstore_n(XD_VZIP_LO(e1, o1), q, XD_VW);
    xd_vstore_n(XD_VZIP_HI(e1, o1), q + XD_VW, XD_VW);
    xd_vstore_n(XD_VZIP_LO(e2, o2), q + 2 * XD_VW, XD_VW);
    xd_vstore_n(XD_VZIP_HI(e2, o2), q + 3 * XD_VW, XD_VW);
}
