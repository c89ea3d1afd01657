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
    int64_t n, c, h, w;      /* input  [n, c, h, w] */
    int64_t o, kh, kw;       /* weights [o, c, kh, kw] */
    int64_t oh, ow;          /* output [n, o, oh, ow] */
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

/* Helpers: float -> new double array (malloc; NULL when out of memory). */
double *xdr_from_float(const float *v, size_t n);

#endif
