/* Double-precision CPU reference for the crossdev ops (tests only; never
 * linked into the library).  Plain loops in the textbook order: the
 * reference is exact-ish (double), not an emulation of the float kernels.
 * Layouts follow the library: NCHW activations, OIHW conv weights, dense
 * W [out, in]. */
#ifndef XD_TEST_REFERENCE_H
#define XD_TEST_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "crossdev/ops.h"

typedef struct xdr_conv {
    int64_t n, c, h, w; /* input  [n, c, h, w] */
    int64_t o, kh, kw;  /* weights [o, c, kh, kw] */
    int64_t oh, ow;     /* output [n, o, oh, ow] */
    xd_conv2d_params p;
} xdr_conv;

/* Fills oh/ow from the rest; returns 0 when the output would be empty. */
int xdr_conv_init(xdr_conv *s, int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh, int64_t kw,
                  xd_conv2d_params p);
size_t xdr_conv_x_count(const xdr_conv *s);
size_t xdr_conv_w_count(const xdr_conv *s);
size_t xdr_conv_y_count(const xdr_conv *s);

/* y = conv(x, w) + b (b may be NULL); relu != 0 applies max(., 0) (NaN kept). */
void xdr_conv2d_forward(const xdr_conv *s, const double *x, const double *w, const double *b, int relu, double *y);
void xdr_conv2d_backward_data(const xdr_conv *s, const double *dy, const double *w, double *dx);
void xdr_conv2d_backward_weights(const xdr_conv *s, const double *x, const double *dy, double *dw);
void xdr_conv2d_backward_bias(const xdr_conv *s, const double *dy, double *db);

/* ReLU: y = x > 0 ? x : (NaN ? x : +0); dx = y > 0 ? dy : 0. */
void xdr_relu_forward(const double *x, double *y, size_t n);
void xdr_relu_backward(const double *y, const double *dy, double *dx, size_t n);

/* Dense: x [n, in], w [out, in], y [n, out]; b may be NULL. */
void xdr_dense_forward(int64_t n, int64_t in, int64_t out, const double *x, const double *w, const double *b,
                       double *y);
void xdr_dense_backward_data(int64_t n, int64_t in, int64_t out, const double *dy, const double *w, double *dx);
void xdr_dense_backward_weights(int64_t n, int64_t in, int64_t out, const double *x, const double *dy, double *dw);
void xdr_dense_backward_bias(int64_t n, int64_t out, const double *dy, double *db);

/* Softmax cross-entropy: z [n, k], labels in [0, k).  Returns the mean loss;
 * dz (may be NULL) = (softmax(z) - onehot) / n; row_loss (may be NULL) per row. */
double xdr_softmax_xent(int64_t n, int64_t k, const double *z, const int32_t *labels, double *dz, double *row_loss);

/* One step t >= 1 of torch.optim.Adam in double, in place on w, m, v. */
void xdr_adam_step(const xd_adam_params *p, int64_t t, double *w, const double *g, double *m, double *v, size_t n);

/* ---- issue 14's ops --------------------------------------------------------------
 * Pooling over NCHW planes: x [n, c, h, w] -> y [n, c, oh, ow]. */
typedef struct xdr_pool {
    int64_t n, c, h, w, oh, ow;
    xd_pool2d_params p;
} xdr_pool;
/* Fills oh/ow (floor((in + pads - pool) / stride) + 1); 0 when empty. */
int xdr_pool_init(xdr_pool *s, int64_t n, int64_t c, int64_t h, int64_t w, xd_pool2d_params p);
/* Max over the taps inside the input; NaN propagates.  The backward gives
 * each window's gradient to its first maximum in row-major order. */
void xdr_maxpool_forward(const xdr_pool *s, const double *x, double *y);
void xdr_maxpool_backward(const xdr_pool *s, const double *x, const double *dy, double *dx);
/* Mean over the taps inside the input (padding not counted). */
void xdr_avgpool_forward(const xdr_pool *s, const double *x, double *y);
void xdr_avgpool_backward(const xdr_pool *s, const double *dy, double *dx);

/* Global average pooling over the hw values of each of nc planes; its
 * backward spreads dy / hw over the plane. */
void xdr_global_avgpool_forward(int64_t nc, int64_t hw, const double *x, double *y);
void xdr_global_avgpool_backward(int64_t nc, int64_t hw, const double *dy, double *dx);
/* The activations of xd_activation_forward (op an xd_act_op, alpha its
 * parameter): y = f(x), and dx = f'(x) dy from the analytic derivative. */
void xdr_activation_forward(int op, double alpha, const double *x, double *y, size_t n);
void xdr_activation_backward(int op, double alpha, const double *x, const double *dy, double *dx, size_t n);
/* Global max pooling: the plane's maximum; backward dy split evenly among
 * the elements equal to it (JAX's gradient of max). */
void xdr_global_maxpool_forward(int64_t nc, int64_t hw, const double *x, double *y);
void xdr_global_maxpool_backward(int64_t nc, int64_t hw, const double *x, const double *dy, double *dx);
/* ZeroPadding2D of planes [nc, h, w] by (top, bottom, left, right); backward the crop. */
void xdr_zeropad_forward(int64_t nc, int64_t h, int64_t w, const int pad[4], const double *x, double *y);
void xdr_zeropad_backward(int64_t nc, int64_t h, int64_t w, const int pad[4], const double *dy, double *dx);
/* Concatenation on axis 1 of [n, c[k], hw] inputs into y [n, sum c, hw];
 * the backward gives input (c channels at off) its slice of dy [n, cy, hw]. */
void xdr_concat(int64_t n, int64_t hw, int ninputs, const int64_t *c, const double *const *x, double *y);
void xdr_concat_backward(int64_t n, int64_t hw, int64_t cy, int64_t off, int64_t c, const double *dy, double *dx);

/* Dropout with a given mask: y = keep[j] ? x / keep_prob : 0. */
void xdr_dropout(const double *x, const uint8_t *keep, double keep_prob, double *y, size_t n);

/* Batch normalization over c of x [n, c, hw]: biased variance; gamma/beta
 * may be NULL (1 and 0). */
void xdr_batchnorm_train_forward(int64_t n, int64_t c, int64_t hw, const double *x, const double *gamma,
                                 const double *beta, double eps, double *y, double *mean, double *var);
/* The gradient of the training forward (batch statistics depend on x). */
void xdr_batchnorm_train_backward(int64_t n, int64_t c, int64_t hw, const double *x, const double *dy,
                                  const double *gamma, double eps, double *dx, double *dgamma, double *dbeta);
void xdr_batchnorm_inference(int64_t n, int64_t c, int64_t hw, const double *x, const double *gamma, const double *beta,
                             const double *mean, const double *var, double eps, double *y);
/* PyTorch's BatchNorm2d: running = (1 - m) running + m batch, the variance
 * var * M / (M - 1) (M values per channel). */
void xdr_batchnorm_update_running_pytorch(int64_t c, int64_t m, double momentum, const double *mean, const double *var,
                                          double *running_mean, double *running_var);
void xdr_batchnorm_update_moving(int64_t c, double momentum, const double *mean, const double *var, double *moving_mean,
                                 double *moving_var);

/* Softmax on rows of z [n, k]; backward through the Jacobian
 * dx_i = sum_j dy_j y_j ([i == j] - y_i). */
void xdr_softmax_forward(int64_t n, int64_t k, const double *z, double *y);
void xdr_softmax_backward(int64_t n, int64_t k, const double *y, const double *dy, double *dx);

/* Keras's sparse categorical cross-entropy from probabilities p [n, k]:
 * q = p / sum(p) clipped to [lo, hi], loss -log(q_label); returns the mean;
 * dp (may be NULL) its gradient with jax's clip derivative (1 inside, 1/2 at
 * lo or hi exactly, 0 outside); row_loss may be NULL. */
double xdr_sparse_xent_probs(int64_t n, int64_t k, const double *p, const int32_t *labels, double lo, double hi,
                             double *dp, double *row_loss);
/* The same loss as Keras on TensorFlow: each p clipped first, then -log(c_label / sum c). */
double xdr_sparse_xent_probs_clip(int64_t n, int64_t k, const double *p, const int32_t *labels, double lo, double hi,
                                  double *dp, double *row_loss);

/* One step t >= 1 of Keras 3's Adam / SGD (form Keras or PyTorch) in double. */
void xdr_adam_keras_step(const xd_adam_params *p, int64_t t, double *w, const double *g, double *m, double *v,
                         size_t n);
void xdr_sgd_step(const xd_sgd_params *p, int64_t t, double *w, const double *g, double *m, size_t n);

/* Helpers: float -> new double array (malloc; NULL when out of memory). */
double *xdr_from_float(const float *v, size_t n);

#endif
