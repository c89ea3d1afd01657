/* crossdev — operations on device tensors.
 *
 * Every op checks shapes, dtypes and sizes and returns a status with a
 * message in xd_context_last_error() instead of launching a kernel that could
 * read out of bounds.  Ops are enqueued on the context's in-order queue and
 * return without waiting; xd_tensor_read() or xd_context_finish() waits.
 * In reproducible mode each output's summation order is fixed by the shapes
 * alone: see docs/reproducibility.md. */
#ifndef CROSSDEV_OPS_H
#define CROSSDEV_OPS_H

#include "crossdev/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- init ------------------------------------------------------------------
 * Philox4x32-10 keyed by the 64-bit seed; `stream` picks an independent
 * stream (one per tensor).  Element j uses word j of the stream. */
/* Uniform on [-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)) (Glorot). */
XD_API xd_status xd_init_glorot_uniform(xd_context *ctx, xd_tensor *w, uint64_t seed,
                                        uint64_t stream, int64_t fan_in, int64_t fan_out);
/* Uniform on [-limit, limit), the limit rounded to float, then scaled by 2^-23. */
XD_API xd_status xd_init_uniform(xd_context *ctx, xd_tensor *w, uint64_t seed, uint64_t stream,
                                 double limit);
/* Normal(0, sqrt(2 / fan_in)) by Box-Muller on crossdev's own log/sqrt/cos (He). */
XD_API xd_status xd_init_he_normal(xd_context *ctx, xd_tensor *w, uint64_t seed, uint64_t stream,
                                   int64_t fan_in);
XD_API xd_status xd_init_zeros(xd_context *ctx, xd_tensor *t);

/* ---- conv2d ------------------------------------------------------------------ */
typedef struct xd_conv2d_params {
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
} xd_conv2d_params;
/* valid padding, given stride */
XD_API xd_conv2d_params xd_conv2d_valid(int stride_h, int stride_w);
/* TensorFlow/Keras "same": out = ceil(in / stride), extra padding at the bottom/right. */
XD_API xd_conv2d_params xd_conv2d_same(int in_h, int in_w, int k_h, int k_w, int stride_h,
                                       int stride_w);
/* Output size for an input size; < 1 when the parameters are impossible. */
XD_API int64_t xd_conv2d_out_size(int64_t in, int64_t k, int stride, int pad_lo, int pad_hi);

/* y[N,O,OH,OW] = conv(x[N,C,H,W], w[O,C,KH,KW]) + b[O] (b may be NULL). */
XD_API xd_status xd_conv2d_forward(xd_context *ctx, const xd_conv2d_params *p, const xd_tensor *x,
                                   const xd_tensor *w, const xd_tensor *b, xd_tensor *y);
/* The same with ReLU fused into the store (y = max(conv + b, 0)). */
XD_API xd_status xd_conv2d_forward_relu(xd_context *ctx, const xd_conv2d_params *p,
                                        const xd_tensor *x, const xd_tensor *w, const xd_tensor *b,
                                        xd_tensor *y);
XD_API xd_status xd_conv2d_backward_data(xd_context *ctx, const xd_conv2d_params *p,
                                         const xd_tensor *dy, const xd_tensor *w, xd_tensor *dx);
XD_API xd_status xd_conv2d_backward_weights(xd_context *ctx, const xd_conv2d_params *p,
                                            const xd_tensor *x, const xd_tensor *dy, xd_tensor *dw);
XD_API xd_status xd_conv2d_backward_bias(xd_context *ctx, const xd_tensor *dy, xd_tensor *db);

/* ---- activation ---------------------------------------------------------------- */
XD_API xd_status xd_relu_forward(xd_context *ctx, const xd_tensor *x, xd_tensor *y);
/* dx = dy where y > 0, else 0 (y is the forward output). */
XD_API xd_status xd_relu_backward(xd_context *ctx, const xd_tensor *y, const xd_tensor *dy,
                                  xd_tensor *dx);

/* ---- dense: y = x W^T + b, x [N, I] (or [N, ...] flattened), W [O, I] ---------- */
XD_API xd_status xd_dense_forward(xd_context *ctx, const xd_tensor *x, const xd_tensor *w,
                                  const xd_tensor *b, xd_tensor *y);
XD_API xd_status xd_dense_backward_data(xd_context *ctx, const xd_tensor *dy, const xd_tensor *w,
                                        xd_tensor *dx);
XD_API xd_status xd_dense_backward_weights(xd_context *ctx, const xd_tensor *x, const xd_tensor *dy,
                                           xd_tensor *dw);
XD_API xd_status xd_dense_backward_bias(xd_context *ctx, const xd_tensor *dy, xd_tensor *db);

/* ---- softmax cross-entropy from logits ------------------------------------------
 * logits [N, K] f32, labels [N] i32 in [0, K): loss [1] = mean over the batch,
 * dlogits [N, K] = its gradient; row_loss [N] (optional, may be NULL) per sample. */
XD_API xd_status xd_softmax_xent(xd_context *ctx, const xd_tensor *logits, const xd_tensor *labels,
                                 xd_tensor *loss, xd_tensor *dlogits, xd_tensor *row_loss);

/* ---- Adam, exactly torch.optim.Adam's update ------------------------------------ */
typedef struct xd_adam_params {
    double lr, beta1, beta2, eps;
} xd_adam_params;
XD_API xd_adam_params xd_adam_defaults(void);  /* 1e-3, 0.9, 0.999, 1e-7 */
/* The float32 scalars passed to the kernel for step t >= 1, computed in double. */
typedef struct xd_adam_scalars {
    float b1, omb1, b2, omb2, sqrt_bc2, step, eps;
} xd_adam_scalars;
XD_API xd_status xd_adam_scalars_for(const xd_adam_params *p, int64_t t, xd_adam_scalars *out);
XD_API xd_status xd_adam_step(xd_context *ctx, const xd_adam_params *p, int64_t t, xd_tensor *w,
                              const xd_tensor *g, xd_tensor *m, xd_tensor *v);

#ifdef __cplusplus
}
#endif
#endif
