/* Softmax on rows, and sparse categorical cross-entropy from probabilities.
 * One work-item per row of [N, K].
 *
 * softmax (jax.nn.softmax, which Keras's Dense(activation="softmax") calls
 * through keras/src/backend/jax/nn.py softmax):
 *   m = row max;  e_j = exp(z_j - m);  s = adds of e_j, j ascending;  y_j = e_j / s
 *   backward (jax's softmax jvp y * (t - sum(y t)), transposed):
 *   d = fma chain over j ascending of dy_j * y_j;  dx_j = y_j * (dy_j - d)
 *
 * Sparse categorical cross-entropy, from_logits=False
 * (keras/src/backend/jax/nn.py sparse_categorical_crossentropy, reduced by
 * keras/src/losses/loss.py "sum_over_batch_size"):
 *   q = p / sum(p);  c = clip(q, eps, 1 - eps);  loss_n = -log(c_label)
 *   loss = (adds of loss_n over n ascending) / N
 * with eps = keras.config.epsilon() = 1e-7 and lo = (float)eps,
 * hi = (float)(1 - eps) rounded on the host.  Here s = adds of p_j, j
 * ascending, and q = p_label / s.  Gradient (jnp.clip is
 * minimum(hi, maximum(lo, q)), whose jax derivative is 1 inside, 1/2 at
 * exactly lo or hi, 0 outside):
 *   t = clip'(q) / c;   dp_j = ((t * (q - [j == label])) / s) / N
 * (d(-log(p_l / s))/dp_j = (q - [j == l]) / (q s) where unclipped).  A label
 * outside [0, K) gives NaN for that row, as xd_softmax_xent.
 *
 * The same loss as Keras computes it on TensorFlow
 * (keras/src/backend/tensorflow/nn.py: clip_by_value(p, eps, 1 - eps), log,
 * then sparse_softmax_cross_entropy_with_logits): clip each probability
 * first, renormalise after:
 *   c_j = clip(p_j, lo, hi);  s = adds of c_j, j ascending;  loss_n = -log(c_label / s)
 * Gradient (tf.clip_by_value passes it where lo <= p_j <= hi, bounds
 * included, 0 outside):
 *   dp_j = (clip'(p_j) * (1/s - [j == label] / c_label)) / N
 * Where the p_j sum to 1 the two forms agree to rounding; they differ where
 * a model feeds something else to this loss (a linear last layer). */
#include "xd_math.h"

__kernel void xd_softmax_fwd(__global const float *z, __global float *y, const uint N, const uint K)
{
    uint n = (uint)get_global_id(0);
    if (n >= N) return;
    __global const float *zr = z + (size_t)n * K;
    __global float *yr = y + (size_t)n * K;
    float m = zr[0];
    for (uint j = 1; j < K; ++j) m = (zr[j] > m) ? zr[j] : m;
    float s = 0.0f;
    XD_ORDERED for (uint j = 0; j < K; ++j) s = s + XD_EXP(zr[j] - m);
    for (uint j = 0; j < K; ++j) yr[j] = XD_DIV(XD_EXP(zr[j] - m), s);
}

__kernel void xd_softmax_bwd(__global const float *y, __global const float *dy, __global float *dx, const uint N,
                             const uint K)
{
    uint n = (uint)get_global_id(0);
    if (n >= N) return;
    size_t off = (size_t)n * K;
    float d = 0.0f;
    XD_ORDERED for (uint j = 0; j < K; ++j) d = XD_FMA(dy[off + j], y[off + j], d);
    for (uint j = 0; j < K; ++j) dx[off + j] = y[off + j] * (dy[off + j] - d);
}

/* A label outside [0, K): the row's loss and gradient are NaN (1). */
static int nan_row(int label, uint K, __global float *loss, __global float *dr)
{
    if (label >= 0 && (uint)label < K) return 0;
    float nan = XD_DIV(0.0f, 0.0f);
    *loss = nan;
    for (uint j = 0; j < K; ++j) dr[j] = nan;
    return 1;
}

__kernel void xd_sparse_xent_probs_rows(__global const float *p, __global const int *labels,
                                        __global float *row_loss, __global float *dp, const uint N, const uint K,
                                        const float lo, const float hi)
{
    uint n = (uint)get_global_id(0);
    if (n >= N) return;
    __global const float *pr = p + (size_t)n * K;
    __global float *dr = dp + (size_t)n * K;
    int label = labels[n];
    if (nan_row(label, K, row_loss + n, dr)) return;
    float s = 0.0f;
    XD_ORDERED for (uint j = 0; j < K; ++j) s = s + pr[j];
    float q = XD_DIV(pr[label], s);
    float c = q < lo ? lo : (q > hi ? hi : q); /* NaN stays NaN */
    row_loss[n] = -XD_LOG(c);
    float slope = (q > lo && q < hi) ? 1.0f : ((q == lo || q == hi) ? 0.5f : 0.0f);
    float t = XD_DIV(slope, c);
    float fn = (float)N;
    for (uint j = 0; j < K; ++j) {
        float delta = (int)j == label ? 1.0f : 0.0f;
        dr[j] = XD_DIV(XD_DIV(t * (q - delta), s), fn);
    }
}

__kernel void xd_sparse_xent_probs_clip_rows(__global const float *p, __global const int *labels,
                                             __global float *row_loss, __global float *dp, const uint N,
                                             const uint K, const float lo, const float hi)
{
    uint n = (uint)get_global_id(0);
    if (n >= N) return;
    __global const float *pr = p + (size_t)n * K;
    __global float *dr = dp + (size_t)n * K;
    int label = labels[n];
    if (nan_row(label, K, row_loss + n, dr)) return;
    float s = 0.0f;
    XD_ORDERED for (uint j = 0; j < K; ++j) s = s + (pr[j] < lo ? lo : (pr[j] > hi ? hi : pr[j]));
    float pl = pr[label];
    float cl = pl < lo ? lo : (pl > hi ? hi : pl); /* NaN stays NaN */
    row_loss[n] = -XD_LOG(XD_DIV(cl, s));
    float inv_s = XD_DIV(1.0f, s), inv_c = XD_DIV(1.0f, cl), fn = (float)N;
    for (uint j = 0; j < K; ++j) {
        float slope = (pr[j] >= lo && pr[j] <= hi) ? 1.0f : 0.0f;
        float d = (int)j == label ? inv_s - inv_c : inv_s;
        dr[j] = XD_DIV(slope * d, fn);
    }
}
