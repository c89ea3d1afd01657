/* Double-precision reference ops (see reference.h).  The backward passes are
 * written as scatters over the forward's (output, tap) pairs, not as the
 * kernels' gathers, so that an index slip in either cannot hide in both. */
#include "reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int xdr_conv_init(xdr_conv *s, int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh, int64_t kw,
                  xd_conv2d_params p)
{
    s->n = n, s->c = c, s->h = h, s->w = w, s->o = o, s->kh = kh, s->kw = kw, s->p = p;
    /* out = floor((in + pads - k) / stride) + 1, written out here rather than
     * taken from xd_conv2d_out_size so that the reference checks it too */
    int64_t sh = h + p.pad_top + p.pad_bottom - kh, sw = w + p.pad_left + p.pad_right - kw;
    s->oh = sh < 0 || p.stride_h < 1 ? 0 : sh / p.stride_h + 1;
    s->ow = sw < 0 || p.stride_w < 1 ? 0 : sw / p.stride_w + 1;
    return s->oh > 0 && s->ow > 0;
}

size_t xdr_conv_x_count(const xdr_conv *s) { return (size_t)(s->n * s->c * s->h * s->w); }
size_t xdr_conv_w_count(const xdr_conv *s) { return (size_t)(s->o * s->c * s->kh * s->kw); }
size_t xdr_conv_y_count(const xdr_conv *s) { return (size_t)(s->n * s->o * s->oh * s->ow); }

/* Visits every (output element, weight tap, input element) triple of the
 * convolution that lies inside the input; f gets the three flat indices. */
typedef void (*tap_fn)(void *ctx, size_t yi, size_t wi, size_t xi);
static void conv_taps(const xdr_conv *s, tap_fn f, void *ctx)
{
    for (int64_t n = 0; n < s->n; ++n)
        for (int64_t o = 0; o < s->o; ++o)
            for (int64_t oh = 0; oh < s->oh; ++oh)
                for (int64_t ow = 0; ow < s->ow; ++ow) {
                    size_t yi = (size_t)(((n * s->o + o) * s->oh + oh) * s->ow + ow);
                    for (int64_t c = 0; c < s->c; ++c)
                        for (int64_t kh = 0; kh < s->kh; ++kh) {
                            int64_t ih = oh * s->p.stride_h - s->p.pad_top + kh;
                            if (ih < 0 || ih >= s->h) continue;
                            for (int64_t kw = 0; kw < s->kw; ++kw) {
                                int64_t iw = ow * s->p.stride_w - s->p.pad_left + kw;
                                if (iw < 0 || iw >= s->w) continue;
                                f(ctx, yi, (size_t)(((o * s->c + c) * s->kh + kh) * s->kw + kw),
                                  (size_t)(((n * s->c + c) * s->h + ih) * s->w + iw));
                            }
                        }
                }
}

typedef struct tap_args {
    const double *a, *b;
    double *out;
} tap_args;
static void tap_fwd(void *p, size_t yi, size_t wi, size_t xi)
{
    tap_args *t = p; /* a = x, b = w */
    t->out[yi] += t->a[xi] * t->b[wi];
}
static void tap_bwd_data(void *p, size_t yi, size_t wi, size_t xi)
{
    tap_args *t = p; /* a = dy, b = w */
    t->out[xi] += t->a[yi] * t->b[wi];
}
static void tap_bwd_weights(void *p, size_t yi, size_t wi, size_t xi)
{
    tap_args *t = p; /* a = x, b = dy */
    t->out[wi] += t->a[xi] * t->b[yi];
}

static double relu1(double v) { return v > 0 ? v : (isnan(v) ? v : 0.0); }

void xdr_conv2d_forward(const xdr_conv *s, const double *x, const double *w, const double *b, int relu, double *y)
{
    size_t ny = xdr_conv_y_count(s), plane = (size_t)(s->oh * s->ow);
    memset(y, 0, ny * sizeof *y);
    tap_args t = {x, w, y};
    conv_taps(s, tap_fwd, &t);
    for (size_t i = 0; i < ny; ++i) {
        if (b) y[i] += b[(i / plane) % (size_t)s->o];
        if (relu) y[i] = relu1(y[i]);
    }
}

void xdr_conv2d_backward_data(const xdr_conv *s, const double *dy, const double *w, double *dx)
{
    memset(dx, 0, xdr_conv_x_count(s) * sizeof *dx);
    tap_args t = {dy, w, dx};
    conv_taps(s, tap_bwd_data, &t);
}

void xdr_conv2d_backward_weights(const xdr_conv *s, const double *x, const double *dy, double *dw)
{
    memset(dw, 0, xdr_conv_w_count(s) * sizeof *dw);
    tap_args t = {x, dy, dw};
    conv_taps(s, tap_bwd_weights, &t);
}

void xdr_conv2d_backward_bias(const xdr_conv *s, const double *dy, double *db)
{
    size_t plane = (size_t)(s->oh * s->ow);
    memset(db, 0, (size_t)s->o * sizeof *db);
    for (size_t i = 0; i < xdr_conv_y_count(s); ++i) db[(i / plane) % (size_t)s->o] += dy[i];
}

void xdr_relu_forward(const double *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; ++i) y[i] = relu1(x[i]);
}

void xdr_relu_backward(const double *y, const double *dy, double *dx, size_t n)
{
    for (size_t i = 0; i < n; ++i) dx[i] = y[i] > 0 ? dy[i] : 0.0;
}

void xdr_dense_forward(int64_t n, int64_t in, int64_t out, const double *x, const double *w, const double *b, double *y)
{
    for (int64_t r = 0; r < n; ++r)
        for (int64_t o = 0; o < out; ++o) {
            double acc = b ? b[o] : 0.0;
            for (int64_t i = 0; i < in; ++i) acc += x[r * in + i] * w[o * in + i];
            y[r * out + o] = acc;
        }
}

void xdr_dense_backward_data(int64_t n, int64_t in, int64_t out, const double *dy, const double *w, double *dx)
{
    memset(dx, 0, (size_t)(n * in) * sizeof *dx);
    for (int64_t r = 0; r < n; ++r)
        for (int64_t o = 0; o < out; ++o)
            for (int64_t i = 0; i < in; ++i) dx[r * in + i] += dy[r * out + o] * w[o * in + i];
}

void xdr_dense_backward_weights(int64_t n, int64_t in, int64_t out, const double *x, const double *dy, double *dw)
{
    memset(dw, 0, (size_t)(out * in) * sizeof *dw);
    for (int64_t r = 0; r < n; ++r)
        for (int64_t o = 0; o < out; ++o)
            for (int64_t i = 0; i < in; ++i) dw[o * in + i] += dy[r * out + o] * x[r * in + i];
}

void xdr_dense_backward_bias(int64_t n, int64_t out, const double *dy, double *db)
{
    memset(db, 0, (size_t)out * sizeof *db);
    for (int64_t r = 0; r < n; ++r)
        for (int64_t o = 0; o < out; ++o) db[o] += dy[r * out + o];
}

double xdr_softmax_xent(int64_t n, int64_t k, const double *z, const int32_t *labels, double *dz, double *row_loss)
{
    double total = 0;
    for (int64_t r = 0; r < n; ++r) {
        const double *zr = z + r * k;
        double m = zr[0], s = 0;
        for (int64_t j = 1; j < k; ++j) m = zr[j] > m ? zr[j] : m;
        for (int64_t j = 0; j < k; ++j) s += exp(zr[j] - m);
        /* s >= 1: the largest term is exp(0) */
        // cppcheck-suppress invalidFunctionArg
        double loss = log(s) - (zr[labels[r]] - m);
        total += loss;
        if (row_loss) row_loss[r] = loss;
        if (dz)
            for (int64_t j = 0; j < k; ++j) dz[r * k + j] = (exp(zr[j] - m) / s - (j == labels[r])) / (double)n;
    }
    return total / (double)n;
}

void xdr_adam_step(const xd_adam_params *p, int64_t t, double *w, const double *g, double *m, double *v, size_t n)
{
    double step = p->lr / (1.0 - pow(p->beta1, (double)t));
    double sqrt_bc2 = sqrt(1.0 - pow(p->beta2, (double)t));
    for (size_t i = 0; i < n; ++i) {
        m[i] = p->beta1 * m[i] + (1.0 - p->beta1) * g[i];
        v[i] = p->beta2 * v[i] + (1.0 - p->beta2) * g[i] * g[i];
        w[i] -= step * m[i] / (sqrt(v[i]) / sqrt_bc2 + p->eps);
    }
}

/* ---- pooling ---------------------------------------------------------------------- */
int xdr_pool_init(xdr_pool *s, int64_t n, int64_t c, int64_t h, int64_t w, xd_pool2d_params p)
{
    s->n = n, s->c = c, s->h = h, s->w = w, s->p = p;
    int64_t sh = h + p.pad_top + p.pad_bottom - p.pool_h, sw = w + p.pad_left + p.pad_right - p.pool_w;
    s->oh = sh < 0 || p.stride_h < 1 ? 0 : sh / p.stride_h + 1;
    s->ow = sw < 0 || p.stride_w < 1 ? 0 : sw / p.stride_w + 1;
    return s->oh > 0 && s->ow > 0;
}

/* Calls f for every window with its output index and its taps inside the
 * input (flat input indices, row-major within the window). */
typedef void (*window_fn)(void *ctx, size_t yi, const size_t *taps, int ntaps);
static void pool_windows(const xdr_pool *s, window_fn f, void *ctx)
{
    size_t taps[1024];
    for (int64_t pl = 0; pl < s->n * s->c; ++pl)
        for (int64_t oh = 0; oh < s->oh; ++oh)
            for (int64_t ow = 0; ow < s->ow; ++ow) {
                int nt = 0;
                for (int64_t kh = 0; kh < s->p.pool_h; ++kh)
                    for (int64_t kw = 0; kw < s->p.pool_w; ++kw) {
                        int64_t ih = oh * s->p.stride_h - s->p.pad_top + kh,
                                iw = ow * s->p.stride_w - s->p.pad_left + kw;
                        if (ih >= 0 && ih < s->h && iw >= 0 && iw < s->w && nt < 1024)
                            taps[nt++] = (size_t)((pl * s->h + ih) * s->w + iw);
                    }
                f(ctx, (size_t)((pl * s->oh + oh) * s->ow + ow), taps, nt);
            }
}

typedef struct pool_args {
    const double *in, *dy;
    double *out;
} pool_args;
static size_t first_max(const double *x, const size_t *taps, int nt)
{
    size_t best = taps[0];
    for (int i = 1; i < nt; ++i)
        if (!isnan(x[best]) && (isnan(x[taps[i]]) || x[taps[i]] > x[best])) best = taps[i];
    return best;
}
static void win_max(void *p, size_t yi, const size_t *taps, int nt)
{
    pool_args *a = p;
    a->out[yi] = a->in[first_max(a->in, taps, nt)];
}
static void win_max_bwd(void *p, size_t yi, const size_t *taps, int nt)
{
    pool_args *a = p;
    a->out[first_max(a->in, taps, nt)] += a->dy[yi];
}
static void win_avg(void *p, size_t yi, const size_t *taps, int nt)
{
    pool_args *a = p;
    double sum = 0;
    for (int i = 0; i < nt; ++i) sum += a->in[taps[i]];
    a->out[yi] = sum / nt;
}
static void win_avg_bwd(void *p, size_t yi, const size_t *taps, int nt)
{
    pool_args *a = p;
    for (int i = 0; i < nt; ++i) a->out[taps[i]] += a->dy[yi] / nt;
}

void xdr_maxpool_forward(const xdr_pool *s, const double *x, double *y)
{
    pool_args a = {x, NULL, y};
    pool_windows(s, win_max, &a);
}

void xdr_maxpool_backward(const xdr_pool *s, const double *x, const double *dy, double *dx)
{
    memset(dx, 0, (size_t)(s->n * s->c * s->h * s->w) * sizeof *dx);
    pool_args a = {x, dy, dx};
    pool_windows(s, win_max_bwd, &a);
}

void xdr_avgpool_forward(const xdr_pool *s, const double *x, double *y)
{
    pool_args a = {x, NULL, y};
    pool_windows(s, win_avg, &a);
}

void xdr_avgpool_backward(const xdr_pool *s, const double *dy, double *dx)
{
    memset(dx, 0, (size_t)(s->n * s->c * s->h * s->w) * sizeof *dx);
    pool_args a = {NULL, dy, dx};
    pool_windows(s, win_avg_bwd, &a);
}

/* ---- dropout ------------------------------------------------------------------------ */
void xdr_dropout(const double *x, const uint8_t *keep, double keep_prob, double *y, size_t n)
{
    for (size_t i = 0; i < n; ++i) y[i] = keep[i] ? x[i] / keep_prob : 0.0;
}

/* ---- global average pooling, merging ------------------------------------------------------ */
void xdr_global_avgpool_forward(int64_t nc, int64_t hw, const double *x, double *y)
{
    for (int64_t p = 0; p < nc; ++p) {
        double s = 0;
        for (int64_t k = 0; k < hw; ++k) s += x[p * hw + k];
        y[p] = s / (double)hw;
    }
}

void xdr_global_avgpool_backward(int64_t nc, int64_t hw, const double *dy, double *dx)
{
    for (int64_t p = 0; p < nc; ++p)
        for (int64_t k = 0; k < hw; ++k) dx[p * hw + k] = dy[p] / (double)hw;
}

void xdr_concat(int64_t n, int64_t hw, int ninputs, const int64_t *c, const double *const *x, double *y)
{
    int64_t cy = 0;
    for (int k = 0; k < ninputs; ++k) cy += c[k];
    for (int64_t i = 0; i < n; ++i) {
        int64_t off = 0;
        for (int k = 0; k < ninputs; off += c[k], ++k)
            for (int64_t ch = 0; ch < c[k]; ++ch)
                for (int64_t p = 0; p < hw; ++p) y[(i * cy + off + ch) * hw + p] = x[k][(i * c[k] + ch) * hw + p];
    }
}

void xdr_concat_backward(int64_t n, int64_t hw, int64_t cy, int64_t off, int64_t c, const double *dy, double *dx)
{
    for (int64_t i = 0; i < n; ++i)
        for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t p = 0; p < hw; ++p) dx[(i * c + ch) * hw + p] = dy[(i * cy + off + ch) * hw + p];
}

/* ---- batch normalization --------------------------------------------------------------- */
#define BN_AT(i, ch, k) ((((i)*c) + (ch)) * hw + (k))

static void bn_moments(int64_t n, int64_t c, int64_t hw, const double *x, double *mean, double *var)
{
    double m = (double)(n * hw);
    for (int64_t ch = 0; ch < c; ++ch) {
        double s = 0, q = 0;
        for (int64_t i = 0; i < n; ++i)
            for (int64_t k = 0; k < hw; ++k) s += x[BN_AT(i, ch, k)];
        mean[ch] = s / m;
        for (int64_t i = 0; i < n; ++i)
            for (int64_t k = 0; k < hw; ++k) q += (x[BN_AT(i, ch, k)] - mean[ch]) * (x[BN_AT(i, ch, k)] - mean[ch]);
        var[ch] = q / m;
    }
}

void xdr_batchnorm_inference(int64_t n, int64_t c, int64_t hw, const double *x, const double *gamma, const double *beta,
                             const double *mean, const double *var, double eps, double *y)
{
    for (int64_t i = 0; i < n; ++i)
        for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t k = 0; k < hw; ++k) {
                double xhat = (x[BN_AT(i, ch, k)] - mean[ch]) / sqrt(var[ch] + eps);
                y[BN_AT(i, ch, k)] = xhat * (gamma ? gamma[ch] : 1.0) + (beta ? beta[ch] : 0.0);
            }
}

void xdr_batchnorm_train_forward(int64_t n, int64_t c, int64_t hw, const double *x, const double *gamma,
                                 const double *beta, double eps, double *y, double *mean, double *var)
{
    bn_moments(n, c, hw, x, mean, var);
    xdr_batchnorm_inference(n, c, hw, x, gamma, beta, mean, var, eps, y);
}

void xdr_batchnorm_train_backward(int64_t n, int64_t c, int64_t hw, const double *x, const double *dy,
                                  const double *gamma, double eps, double *dx, double *dgamma, double *dbeta)
{
    double m = (double)(n * hw);
    for (int64_t ch = 0; ch < c; ++ch) {
        double s = 0, q = 0, sdy = 0, sdyxhat = 0;
        for (int64_t i = 0; i < n; ++i)
            for (int64_t k = 0; k < hw; ++k) s += x[BN_AT(i, ch, k)];
        double mean = s / m;
        for (int64_t i = 0; i < n; ++i)
            for (int64_t k = 0; k < hw; ++k) q += (x[BN_AT(i, ch, k)] - mean) * (x[BN_AT(i, ch, k)] - mean);
        double rstd = 1.0 / sqrt(q / m + eps), g = gamma ? gamma[ch] : 1.0;
        for (int64_t i = 0; i < n; ++i)
            for (int64_t k = 0; k < hw; ++k) {
                sdy += dy[BN_AT(i, ch, k)];
                sdyxhat += dy[BN_AT(i, ch, k)] * (x[BN_AT(i, ch, k)] - mean) * rstd;
            }
        if (dgamma) dgamma[ch] = sdyxhat;
        if (dbeta) dbeta[ch] = sdy;
        for (int64_t i = 0; i < n; ++i)
            for (int64_t k = 0; k < hw; ++k) {
                double xhat = (x[BN_AT(i, ch, k)] - mean) * rstd;
                dx[BN_AT(i, ch, k)] = g * rstd / m * (m * dy[BN_AT(i, ch, k)] - sdy - xhat * sdyxhat);
            }
    }
}

void xdr_batchnorm_update_running_pytorch(int64_t c, int64_t m, double momentum, const double *mean, const double *var,
                                          double *running_mean, double *running_var)
{
    for (int64_t ch = 0; ch < c; ++ch) {
        running_mean[ch] = (1 - momentum) * running_mean[ch] + momentum * mean[ch];
        running_var[ch] = (1 - momentum) * running_var[ch] + momentum * var[ch] * (double)m / (double)(m - 1);
    }
}

void xdr_batchnorm_update_moving(int64_t c, double momentum, const double *mean, const double *var, double *moving_mean,
                                 double *moving_var)
{
    for (int64_t ch = 0; ch < c; ++ch) {
        moving_mean[ch] = moving_mean[ch] * momentum + mean[ch] * (1 - momentum);
        moving_var[ch] = moving_var[ch] * momentum + var[ch] * (1 - momentum);
    }
}

/* ---- softmax and cross-entropy from probabilities ------------------------------------------ */
void xdr_softmax_forward(int64_t n, int64_t k, const double *z, double *y)
{
    for (int64_t r = 0; r < n; ++r) {
        const double *zr = z + r * k;
        double m = zr[0], s = 0;
        for (int64_t j = 1; j < k; ++j) m = zr[j] > m ? zr[j] : m;
        for (int64_t j = 0; j < k; ++j) s += exp(zr[j] - m);
        for (int64_t j = 0; j < k; ++j) y[r * k + j] = exp(zr[j] - m) / s;
    }
}

void xdr_softmax_backward(int64_t n, int64_t k, const double *y, const double *dy, double *dx)
{
    for (int64_t r = 0; r < n; ++r)
        for (int64_t i = 0; i < k; ++i) {
            double acc = 0;
            for (int64_t j = 0; j < k; ++j) acc += dy[r * k + j] * y[r * k + j] * ((i == j) - y[r * k + i]);
            dx[r * k + i] = acc;
        }
}

double xdr_sparse_xent_probs(int64_t n, int64_t k, const double *p, const int32_t *labels, double lo, double hi,
                             double *dp, double *row_loss)
{
    double total = 0;
    for (int64_t r = 0; r < n; ++r) {
        const double *pr = p + r * k;
        double s = 0;
        for (int64_t j = 0; j < k; ++j) s += pr[j];
        double q = pr[labels[r]] / s, c = q < lo ? lo : (q > hi ? hi : q);
        double loss = -log(c);
        total += loss;
        if (row_loss) row_loss[r] = loss;
        if (!dp) continue;
        /* dloss/dq = -slope / c; dq/dp_j = ([j == label] - q) / s */
        double slope = (q > lo && q < hi) ? 1.0 : (q == lo || q == hi) ? 0.5 : 0.0;
        for (int64_t j = 0; j < k; ++j) dp[r * k + j] = -slope / c * ((j == labels[r]) - q) / s / (double)n;
    }
    return total / (double)n;
}

double xdr_sparse_xent_probs_clip(int64_t n, int64_t k, const double *p, const int32_t *labels, double lo, double hi,
                                  double *dp, double *row_loss)
{
    double total = 0;
    for (int64_t r = 0; r < n; ++r) {
        const double *pr = p + r * k;
        double s = 0;
        for (int64_t j = 0; j < k; ++j) s += pr[j] < lo ? lo : (pr[j] > hi ? hi : pr[j]);
        double pl = pr[labels[r]], cl = pl < lo ? lo : (pl > hi ? hi : pl);
        double loss = -log(cl / s);
        total += loss;
        if (row_loss) row_loss[r] = loss;
        if (!dp) continue;
        /* d(log s - log c_l)/dp_j = clip'(p_j) (1/s - [j == label] / c_l) */
        for (int64_t j = 0; j < k; ++j) {
            double slope = (pr[j] >= lo && pr[j] <= hi) ? 1.0 : 0.0;
            dp[r * k + j] = slope * (1.0 / s - (j == labels[r] ? 1.0 / cl : 0.0)) / (double)n;
        }
    }
    return total / (double)n;
}

/* ---- optimizers ---------------------------------------------------------------------------- */
void xdr_adam_keras_step(const xd_adam_params *p, int64_t t, double *w, const double *g, double *m, double *v, size_t n)
{
    double alpha = p->lr * sqrt(1.0 - pow(p->beta2, (double)t)) / (1.0 - pow(p->beta1, (double)t));
    for (size_t i = 0; i < n; ++i) {
        m[i] += (g[i] - m[i]) * (1.0 - p->beta1);
        v[i] += (g[i] * g[i] - v[i]) * (1.0 - p->beta2);
        w[i] -= m[i] * alpha / (sqrt(v[i]) + p->eps);
    }
}

void xdr_sgd_step(const xd_sgd_params *p, int64_t t, double *w, const double *g, double *m, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        if (p->momentum == 0) {
            w[i] -= p->lr * g[i];
        } else if (p->form == XD_SGD_KERAS) {
            m[i] = p->momentum * m[i] - p->lr * g[i];
            w[i] += p->nesterov ? p->momentum * m[i] - p->lr * g[i] : m[i];
        } else {
            m[i] = t == 1 ? g[i] : p->momentum * m[i] + g[i];
            w[i] -= p->lr * (p->nesterov ? g[i] + p->momentum * m[i] : m[i]);
        }
    }
}

double *xdr_from_float(const float *v, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (d)
        for (size_t i = 0; i < n; ++i) d[i] = v[i];
    return d;
}

/* ---- the other activations, global max pooling, zero padding ------------------------------- */
static double act1(int op, double a, double x)
{
    double s = 1.0 / (1.0 + exp(-x));
    switch (op) {
    case 0: return s;
    case 1: return tanh(x);
    case 2: return x >= 0 ? x : a * x;
    case 3: return x > 0 ? x : a * expm1(x);
    case 4: return x != x ? x : x < 0 ? 0 : x > 6 ? 6 : x;
    case 5: return x * s;
    case 6: return 0.5 * x * erfc(-x / sqrt(2.0));
    default: return NAN;
    }
}

static double dact1(int op, double a, double x)
{
    double s = 1.0 / (1.0 + exp(-x)), t = tanh(x);
    switch (op) {
    case 0: return s * (1 - s);
    case 1: return 1 - t * t;
    case 2: return x >= 0 ? 1 : a;
    case 3: return x > 0 ? 1 : a * exp(x);
    case 4: return x > 0 && x < 6 ? 1 : 0;
    case 5: return s + x * s * (1 - s);
    case 6: return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2.0 * 3.14159265358979323846);
    default: return NAN;
    }
}

void xdr_activation_forward(int op, double alpha, const double *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; ++i) y[i] = act1(op, alpha, x[i]);
}

void xdr_activation_backward(int op, double alpha, const double *x, const double *dy, double *dx, size_t n)
{
    for (size_t i = 0; i < n; ++i) dx[i] = dact1(op, alpha, x[i]) * dy[i];
}

void xdr_global_maxpool_forward(int64_t nc, int64_t hw, const double *x, double *y)
{
    for (int64_t p = 0; p < nc; ++p) {
        double m = x[p * hw];
        for (int64_t k = 1; k < hw; ++k) m = x[p * hw + k] > m ? x[p * hw + k] : m;
        y[p] = m;
    }
}

void xdr_global_maxpool_backward(int64_t nc, int64_t hw, const double *x, const double *dy, double *dx)
{
    for (int64_t p = 0; p < nc; ++p) {
        double m;
        xdr_global_maxpool_forward(1, hw, x + p * hw, &m);
        int64_t count = 0;
        for (int64_t k = 0; k < hw; ++k) count += x[p * hw + k] == m;
        for (int64_t k = 0; k < hw; ++k) dx[p * hw + k] = x[p * hw + k] == m ? dy[p] / (double)count : 0.0;
    }
}

void xdr_zeropad_forward(int64_t nc, int64_t h, int64_t w, const int pad[4], const double *x, double *y)
{
    const int64_t oh = h + pad[0] + pad[1], ow = w + pad[2] + pad[3];
    memset(y, 0, (size_t)(nc * oh * ow) * sizeof *y);
    for (int64_t p = 0; p < nc; ++p)
        for (int64_t i = 0; i < h; ++i)
            for (int64_t j = 0; j < w; ++j) y[(p * oh + i + pad[0]) * ow + j + pad[2]] = x[(p * h + i) * w + j];
}

void xdr_zeropad_backward(int64_t nc, int64_t h, int64_t w, const int pad[4], const double *dy, double *dx)
{
    const int64_t oh = h + pad[0] + pad[1], ow = w + pad[2] + pad[3];
    for (int64_t p = 0; p < nc; ++p)
        for (int64_t i = 0; i < h; ++i)
            for (int64_t j = 0; j < w; ++j) dx[(p * h + i) * w + j] = dy[(p * oh + i + pad[0]) * ow + j + pad[2]];
}
