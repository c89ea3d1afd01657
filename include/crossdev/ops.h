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
#include "crossdev/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- init ------------------------------------------------------------------
 * Philox4x32-10 keyed by the 64-bit seed; `stream` picks an independent
 * stream (one per tensor).  Element j uses word j of the stream. */
/* Uniform on [-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)) (Glorot). */
XD_API xd_status xd_init_glorot_uniform(xd_context *ctx, xd_tensor *w, uint64_t seed, uint64_t stream, int64_t fan_in,
                                        int64_t fan_out);
/* Uniform on [-limit, limit), the limit rounded to float, then scaled by 2^-23. */
XD_API xd_status xd_init_uniform(xd_context *ctx, xd_tensor *w, uint64_t seed, uint64_t stream, double limit);
/* Normal(0, sqrt(2 / fan_in)) by Box-Muller on crossdev's own log/sqrt/cos (He). */
XD_API xd_status xd_init_he_normal(xd_context *ctx, xd_tensor *w, uint64_t seed, uint64_t stream, int64_t fan_in);
XD_API xd_status xd_init_zeros(xd_context *ctx, xd_tensor *t);

/* ---- conv2d ------------------------------------------------------------------ */
typedef struct xd_conv2d_params {
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
} xd_conv2d_params;
/* valid padding, given stride */
XD_API xd_conv2d_params xd_conv2d_valid(int stride_h, int stride_w);
/* TensorFlow/Keras "same": out = ceil(in / stride), extra padding at the bottom/right. */
XD_API xd_conv2d_params xd_conv2d_same(int in_h, int in_w, int k_h, int k_w, int stride_h, int stride_w);
/* Output size for an input size; < 1 when the parameters are impossible. */
XD_API int64_t xd_conv2d_out_size(int64_t in, int64_t k, int stride, int pad_lo, int pad_hi);

/* y[N,O,OH,OW] = conv(x[N,C,H,W], w[O,C,KH,KW]) + b[O] (b may be NULL). */
XD_API xd_status xd_conv2d_forward(xd_context *ctx, const xd_conv2d_params *p, const xd_tensor *x, const xd_tensor *w,
                                   const xd_tensor *b, xd_tensor *y);
/* The same with ReLU fused into the store (y = max(conv + b, 0)). */
XD_API xd_status xd_conv2d_forward_relu(xd_context *ctx, const xd_conv2d_params *p, const xd_tensor *x,
                                        const xd_tensor *w, const xd_tensor *b, xd_tensor *y);
XD_API xd_status xd_conv2d_backward_data(xd_context *ctx, const xd_conv2d_params *p, const xd_tensor *dy,
                                         const xd_tensor *w, xd_tensor *dx);
/* acc = acc + that gradient (xd_add_forward(acc, dx, acc), value for
 * value): added in the store where the kernel can, else computed into tmp
 * (dx's shape) and added. */
XD_API xd_status xd_conv2d_backward_data_accumulate(xd_context *ctx, const xd_conv2d_params *p, const xd_tensor *dy,
                                                    const xd_tensor *w, xd_tensor *tmp, xd_tensor *acc);
XD_API xd_status xd_conv2d_backward_weights(xd_context *ctx, const xd_conv2d_params *p, const xd_tensor *x,
                                            const xd_tensor *dy, xd_tensor *dw);
XD_API xd_status xd_conv2d_backward_bias(xd_context *ctx, const xd_tensor *dy, xd_tensor *db);
/* Both of the above: dw and db (the same bits), with one pass over dy where
 * the kernels allow. */
XD_API xd_status xd_conv2d_backward_weights_bias(xd_context *ctx, const xd_conv2d_params *p, const xd_tensor *x,
                                                 const xd_tensor *dy, xd_tensor *dw, xd_tensor *db);

/* ---- activation ---------------------------------------------------------------- */
XD_API xd_status xd_relu_forward(xd_context *ctx, const xd_tensor *x, xd_tensor *y);
/* dx = dy where y > 0, else 0 (y is the forward output). */
XD_API xd_status xd_relu_backward(xd_context *ctx, const xd_tensor *y, const xd_tensor *dy, xd_tensor *dx);

/* ---- dense: y = x W^T + b, x [N, I] (or [N, ...] flattened), W [O, I] ---------- */
XD_API xd_status xd_dense_forward(xd_context *ctx, const xd_tensor *x, const xd_tensor *w, const xd_tensor *b,
                                  xd_tensor *y);
XD_API xd_status xd_dense_backward_data(xd_context *ctx, const xd_tensor *dy, const xd_tensor *w, xd_tensor *dx);
XD_API xd_status xd_dense_backward_weights(xd_context *ctx, const xd_tensor *x, const xd_tensor *dy, xd_tensor *dw);
XD_API xd_status xd_dense_backward_bias(xd_context *ctx, const xd_tensor *dy, xd_tensor *db);

/* ---- softmax cross-entropy from logits ------------------------------------------
 * logits [N, K] f32, labels [N] i32 in [0, K): loss [1] = mean over the batch,
 * dlogits [N, K] = its gradient; row_loss [N] (optional, may be NULL) per sample. */
XD_API xd_status xd_softmax_xent(xd_context *ctx, const xd_tensor *logits, const xd_tensor *labels, xd_tensor *loss,
                                 xd_tensor *dlogits, xd_tensor *row_loss);

/* ---- Adam, exactly torch.optim.Adam's update ------------------------------------ */
typedef struct xd_adam_params {
    double lr, beta1, beta2, eps;
} xd_adam_params;
XD_API xd_adam_params xd_adam_defaults(void); /* 1e-3, 0.9, 0.999, 1e-7 */
/* The float32 scalars passed to the kernel for step t >= 1, computed in double. */
typedef struct xd_adam_scalars {
    float b1, omb1, b2, omb2, sqrt_bc2, step, eps;
} xd_adam_scalars;
XD_API xd_status xd_adam_scalars_for(const xd_adam_params *p, int64_t t, xd_adam_scalars *out, xd_error *err);
XD_API xd_status xd_adam_step(xd_context *ctx, const xd_adam_params *p, int64_t t, xd_tensor *w, const xd_tensor *g,
                              xd_tensor *m, xd_tensor *v);

/* ---- Adam, Keras 3's update (keras.optimizers.Adam, amsgrad off) -------------------
 *   alpha = lr sqrt(1 - b2^t) / (1 - b1^t)  (double, then float)
 *   m += (g - m)(1 - b1);  v += (g g - v)(1 - b2);  w -= m alpha / (sqrt(v) + eps)
 * It differs from xd_adam_step where eps matters: Keras adds eps to sqrt(v)
 * before the bias correction, PyTorch after, so Keras's eps acts as PyTorch's
 * eps / sqrt(1 - b2^t) (31.6 eps at t = 1 with b2 = 0.999). */
typedef struct xd_adam_keras_scalars {
    float alpha, omb1, omb2, eps;
} xd_adam_keras_scalars;
XD_API xd_status xd_adam_keras_scalars_for(const xd_adam_params *p, int64_t t, xd_adam_keras_scalars *out,
                                           xd_error *err);
XD_API xd_status xd_adam_keras_step(xd_context *ctx, const xd_adam_params *p, int64_t t, xd_tensor *w,
                                    const xd_tensor *g, xd_tensor *m, xd_tensor *v);

/* ---- SGD with momentum, in Keras's or PyTorch's form ----------------------------------
 * XD_SGD_KERAS (keras.optimizers.SGD): m = m momentum - g lr; w += nesterov ?
 *   m momentum - g lr : m.  m holds the velocity, learning rate included.
 * XD_SGD_TORCH (torch.optim.SGD, dampening 0): buf = t == 1 ? g : buf momentum + g;
 *   d = nesterov ? g + momentum buf : buf;  w -= lr d.  buf holds no learning rate.
 * momentum 0: w -= lr g in both, and m may be NULL.  t >= 1 is the step number
 * (PyTorch's form creates its buffer at t == 1). */
typedef enum xd_sgd_form { XD_SGD_TORCH = 0, XD_SGD_KERAS = 1 } xd_sgd_form;
typedef struct xd_sgd_params {
    double lr, momentum; /* lr > 0, 0 <= momentum <= 1 */
    int nesterov;        /* needs momentum > 0 (PyTorch refuses otherwise) */
    xd_sgd_form form;
} xd_sgd_params;
XD_API xd_status xd_sgd_step(xd_context *ctx, const xd_sgd_params *p, int64_t t, xd_tensor *w, const xd_tensor *g,
                             xd_tensor *m);

/* ---- pooling (Keras MaxPooling2D / AveragePooling2D), NCHW -------------------------------
 * x [N,C,H,W] -> y [N,C,OH,OW]; a window of pool_h x pool_w taps per output.
 * Max: padding ignored, NaN propagates; backward: the first maximum of a
 * window in row-major order takes its whole gradient (XLA's select_and_scatter
 * with GE, PyTorch).  Average: over the taps inside the input (padding not
 * counted, as TensorFlow/Keras "same"). */
typedef struct xd_pool2d_params {
    int pool_h, pool_w;
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right; /* each < the pool size on that axis */
} xd_pool2d_params;
XD_API xd_pool2d_params xd_pool2d_valid(int pool_h, int pool_w, int stride_h, int stride_w);
/* Keras/TensorFlow "same": out = ceil(in / stride), extra padding at the bottom/right. */
XD_API xd_pool2d_params xd_pool2d_same(int in_h, int in_w, int pool_h, int pool_w, int stride_h, int stride_w);
XD_API xd_status xd_maxpool2d_forward(xd_context *ctx, const xd_pool2d_params *p, const xd_tensor *x, xd_tensor *y);
/* dx from the forward's input x (the argmax is recomputed) and dy. */
XD_API xd_status xd_maxpool2d_backward(xd_context *ctx, const xd_pool2d_params *p, const xd_tensor *x,
                                       const xd_tensor *dy, xd_tensor *dx);
XD_API xd_status xd_avgpool2d_forward(xd_context *ctx, const xd_pool2d_params *p, const xd_tensor *x, xd_tensor *y);
XD_API xd_status xd_avgpool2d_backward(xd_context *ctx, const xd_pool2d_params *p, const xd_tensor *dy, xd_tensor *dx);

/* Keras GlobalAveragePooling2D (keepdims=False): x [N,C,H,W] -> y [N,C] (or
 * [N,C,1,1]), y = (the plane's H*W values added, (h, w) ascending, from 0)
 * / (float)(H*W), the sum rounded to float at each addition, then one
 * division, as Keras's ops.mean (jnp.mean: sum, then divide by the count, in
 * float32).  The average pooling above with the plane as its one window:
 * the same kernels.  Backward: dx = dy / (float)(H*W) at every element of
 * the plane. */
XD_API xd_status xd_global_avgpool2d_forward(xd_context *ctx, const xd_tensor *x, xd_tensor *y);
XD_API xd_status xd_global_avgpool2d_backward(xd_context *ctx, const xd_tensor *dy, xd_tensor *dx);

/* ---- merging (Keras Add, Concatenate; a gradient that fans out) -------------------------
 * y = a + b, element by element: any shapes of one count; y may be a (an
 * accumulation).  Keras's Add of n inputs is n - 1 of these, in the list's
 * order: ((x0 + x1) + x2) + ... */
XD_API xd_status xd_add_forward(xd_context *ctx, const xd_tensor *a, const xd_tensor *b, xd_tensor *y);
/* The same with ReLU fused into the store (xd_relu_forward of the sum,
 * value for value). */
XD_API xd_status xd_add_relu_forward(xd_context *ctx, const xd_tensor *a, const xd_tensor *b, xd_tensor *y);
/* Concatenate on the channels (Keras axis -1 of NHWC is crossdev's NCHW
 * axis 1; on features [N, F], axis 1): x [N,C,H,W] (or [N,C]) becomes
 * channels offset .. offset + C - 1 of y [N,CY,H,W] (or [N,CY]).  Backward:
 * dx = those channels of dy, or (accumulate) dx + them. */
XD_API xd_status xd_concat_forward(xd_context *ctx, const xd_tensor *x, int64_t offset, xd_tensor *y);
XD_API xd_status xd_concat_backward(xd_context *ctx, const xd_tensor *dy, int64_t offset, int accumulate,
                                    xd_tensor *dx);

/* ---- dropout (training) ---------------------------------------------------------------
 * y = keep_j ? x / keep : 0 with keep = (float)(1 - rate), rate in [0, 1);
 * element j is kept when the Philox draw j of (seed, stream) is below keep
 * (xd_host_dropout_mask in crossdev/hostmath.h gives the same mask).  The
 * backward recomputes the mask from the same seed and stream:
 * dx = keep_j ? dy / keep : 0.  x, y (dy, dx) any shape with equal counts. */
XD_API xd_status xd_dropout_forward(xd_context *ctx, const xd_tensor *x, double rate, uint64_t seed, uint64_t stream,
                                    xd_tensor *y);
XD_API xd_status xd_dropout_backward(xd_context *ctx, const xd_tensor *dy, double rate, uint64_t seed, uint64_t stream,
                                     xd_tensor *dx);

/* ---- batch normalization over the channels of NCHW x [N,C,H,W] (or [N,C]) ---------------
 * Keras BatchNormalization(axis=-1) on NHWC is crossdev's C.  gamma, beta:
 * [C] or NULL (scale=False / center=False).  Training forward: the batch's
 * mean and biased variance into mean_out, var_out [C], then
 * y = x inv + (beta - mean inv), inv = gamma / sqrt(var + eps). */
XD_API xd_status xd_batchnorm_train_forward(xd_context *ctx, const xd_tensor *x, const xd_tensor *gamma,
                                            const xd_tensor *beta, double eps, xd_tensor *y, xd_tensor *mean_out,
                                            xd_tensor *var_out);
/* The same with ReLU fused into the store (xd_relu_forward of y, value for
 * value); y itself is not kept. */
XD_API xd_status xd_batchnorm_train_forward_relu(xd_context *ctx, const xd_tensor *x, const xd_tensor *gamma,
                                                 const xd_tensor *beta, double eps, xd_tensor *y, xd_tensor *mean_out,
                                                 xd_tensor *var_out);
/* The gradient of the training forward (batch statistics), from its x, mean
 * and var; dgamma and dbeta [C] may each be NULL. */
XD_API xd_status xd_batchnorm_train_backward(xd_context *ctx, const xd_tensor *x, const xd_tensor *dy,
                                             const xd_tensor *gamma, const xd_tensor *mean, const xd_tensor *var,
                                             double eps, xd_tensor *dx, xd_tensor *dgamma, xd_tensor *dbeta);
/* moving = moving momentum + batch (1 - momentum), both scalars from double. */
XD_API xd_status xd_batchnorm_update_moving(xd_context *ctx, double momentum, const xd_tensor *mean,
                                            const xd_tensor *var, xd_tensor *moving_mean, xd_tensor *moving_var);
/* PyTorch's BatchNorm2d: running = batch momentum + running (1 - momentum),
 * the variance made unbiased (var M / (M - 1), M = N*H*W values per channel
 * of x, the forward's input; M < 2 refused); scalars from double. */
XD_API xd_status xd_batchnorm_update_running_pytorch(xd_context *ctx, double momentum, const xd_tensor *x,
                                                     const xd_tensor *mean, const xd_tensor *var,
                                                     xd_tensor *running_mean, xd_tensor *running_var);
/* Inference: the same normalisation with the given (moving) mean and var. */
XD_API xd_status xd_batchnorm_inference_forward(xd_context *ctx, const xd_tensor *x, const xd_tensor *gamma,
                                                const xd_tensor *beta, const xd_tensor *mean, const xd_tensor *var,
                                                double eps, xd_tensor *y);

/* ---- softmax on rows of [N, K] (Dense(activation="softmax")) ------------------------------ */
XD_API xd_status xd_softmax_forward(xd_context *ctx, const xd_tensor *x, xd_tensor *y);
/* dx = y (dy - sum_j dy_j y_j), y the forward's output. */
XD_API xd_status xd_softmax_backward(xd_context *ctx, const xd_tensor *y, const xd_tensor *dy, xd_tensor *dx);

/* ---- sparse categorical cross-entropy from probabilities (Keras from_logits=False) ----------
 * probs [N, K], labels [N] i32: q = p / sum(p), clipped to [1e-7, 1 - 1e-7]
 * (keras.config.epsilon()), row loss -log(q_label); loss [1] = their mean;
 * dprobs [N, K] its exact gradient (0 where clipped); row_loss [N] optional.
 * A label outside [0, K) gives NaN for its row (and the mean). */
#define XD_KERAS_EPSILON 1e-7
XD_API xd_status xd_sparse_xent_probs(xd_context *ctx, const xd_tensor *probs, const xd_tensor *labels, xd_tensor *loss,
                                      xd_tensor *dprobs, xd_tensor *row_loss);
/* Keras's two formulas of that loss: its JAX and torch backends renormalise
 * and then clip (xd_sparse_xent_probs), its TensorFlow backend clips each
 * probability and then renormalises (c = clip(p), -log(c_label / sum c));
 * they agree to rounding where the rows sum to 1 and differ where a model
 * feeds this loss something else (cl/softmax.cl gives both gradients). */
XD_API xd_status xd_sparse_xent_probs_form(xd_context *ctx, xd_xent_form form, const xd_tensor *probs,
                                           const xd_tensor *labels, xd_tensor *loss, xd_tensor *dprobs,
                                           xd_tensor *row_loss);

/* ---- Keras's L2 regularizer (cl/regularize.cl) ----------------------------------------
 * Penalty: loss[0] += (float)l2 * sum(w^2), the squares summed in index
 * order by one work-item (loss: one float).  Gradient: g += (float)l2 *
 * (2 w), element by element (w, g of one count). */
XD_API xd_status xd_l2_penalty(xd_context *ctx, const xd_tensor *w, double l2, xd_tensor *loss);
XD_API xd_status xd_l2_gradient(xd_context *ctx, const xd_tensor *w, double l2, xd_tensor *g);
/* ---- the other activations (Keras 3 on JAX, jax.nn's formulas) ---------------------------
 * y = f(x) element by element, any shape of equal counts; alpha is the
 * activation's parameter (leaky_relu negative_slope, elu alpha; rounded to
 * float), unused by the others.  The formulas and their gradients:
 * cl/xd_math.h (xd_act_fwd1, xd_act_bwd1); reproducible mode computes exp,
 * expm1, tanh and erfc with crossdev's own xd_exp, xd_expm1, xd_tanh, xd_erfc. */
typedef enum xd_act_op {
    XD_ACT_OP_SIGMOID,
    XD_ACT_OP_TANH,
    XD_ACT_OP_LEAKY_RELU,
    XD_ACT_OP_ELU,
    XD_ACT_OP_RELU6,
    XD_ACT_OP_SILU,
    XD_ACT_OP_GELU /* Keras's default approximate=False: the erfc form */
} xd_act_op;
XD_API const char *xd_act_op_name(xd_act_op op); /* "sigmoid", ..., Keras's names */
XD_API xd_status xd_activation_forward(xd_context *ctx, xd_act_op op, double alpha, const xd_tensor *x, xd_tensor *y);
/* dx from the forward's input x, output y and dy. */
XD_API xd_status xd_activation_backward(xd_context *ctx, xd_act_op op, double alpha, const xd_tensor *x,
                                        const xd_tensor *y, const xd_tensor *dy, xd_tensor *dx);

/* ---- Keras GlobalMaxPooling2D (keepdims=False), NCHW ------------------------------------
 * x [N,C,H,W] -> y [N,C] (or [N,C,1,1]): the plane's maximum, as the max
 * pooling above with the plane as its one window (the first maximum; a NaN
 * wins).  Backward as JAX's gradient of ops.max: dy split evenly among the
 * plane's maxima, dx = (x == y ? 1 : 0) * (dy / count) (cl/pool.cl). */
XD_API xd_status xd_global_maxpool2d_forward(xd_context *ctx, const xd_tensor *x, xd_tensor *y);
XD_API xd_status xd_global_maxpool2d_backward(xd_context *ctx, const xd_tensor *x, const xd_tensor *dy, xd_tensor *dx);

/* ---- Keras ZeroPadding2D, NCHW ---------------------------------------------------------
 * x [N,C,H,W] -> y [N,C,H+top+bottom,W+left+right], zeros around x;
 * backward: dx = the middle of dy (a crop). */
typedef struct xd_pad2d_params {
    int top, bottom, left, right;
} xd_pad2d_params;
XD_API xd_status xd_zeropad2d_forward(xd_context *ctx, const xd_pad2d_params *p, const xd_tensor *x, xd_tensor *y);
XD_API xd_status xd_zeropad2d_backward(xd_context *ctx, const xd_pad2d_params *p, const xd_tensor *dy, xd_tensor *dx);

#ifdef __cplusplus
}
#endif
#endif
