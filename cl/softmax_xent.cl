/* Softmax cross-entropy from logits [N, K] with int labels [N].
 *  row max m; s = adds of exp(z_j - m) over j ascending from 0;
 *  loss_n = log(s) - (z_label - m);
 *  dz[n,j] = (exp(z_j - m) / s - [j == label]) / N
 *  mean loss = (adds of loss_n over n ascending from 0) / N
 * A label outside [0, K) gives NaN for that row's loss and gradient (and so
 * a NaN mean): the kernel never reads out of bounds, and training reports
 * the NaN at the step it appears.  Dataset loading rejects such labels. */
#include "xd_math.h"

__kernel void xd_softmax_xent_rows(__global const float *z, __global const int *labels,
                                   __global float *row_loss, __global float *dz, const uint N,
                                   const uint K)
{
    uint n = (uint)get_global_id(0);
    if (n >= N) return;
    __global const float *zr = z + (size_t)n * K;
    __global float *dr = dz + (size_t)n * K;
    int label = labels[n];
    float m = zr[0];
    for (uint j = 1; j < K; ++j) m = (zr[j] > m) ? zr[j] : m;
    float s = 0.0f;
    XD_ORDERED for (uint j = 0; j < K; ++j) s = s + XD_EXP(zr[j] - m);
    float fn = (float)N;
    if (label < 0 || (uint)label >= K) {
        row_loss[n] = XD_DIV(0.0f, 0.0f);
        for (uint j = 0; j < K; ++j) dr[j] = row_loss[n];
        return;
    }
    row_loss[n] = XD_LOG(s) - (zr[label] - m);
    for (uint j = 0; j < K; ++j) {
        float p = XD_DIV(XD_EXP(zr[j] - m), s);
        if ((int)j == label) p = p - 1.0f;
        dr[j] = XD_DIV(p, fn);
    }
}

__kernel void xd_mean(__global const float *v, __global float *out, const uint N)
{
    if (get_global_id(0) != 0) return;
    float acc = 0.0f;
    XD_ORDERED for (uint n = 0; n < N; ++n) acc = acc + v[n];
    out[0] = XD_DIV(acc, (float)N);
}
