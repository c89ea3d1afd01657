/* Per-device op tests: every op against the double reference (reference.c)
 * on a table of shapes, backward ops against central finite differences of
 * the double forward, Adam over many steps, ReLU edge cases, argument
 * checks, init against the host build, and run-to-run bitwise repeatability.
 *
 *   test_ops --device ID [--small] [--mode reproducible|fast]
 *
 * --small (the simulator) keeps the shapes tiny but still covers every op,
 * batch 1, an odd size, stride 2 and same padding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "reference.h"
#include "crossdev/hostmath.h"

/* ---- tolerances ---------------------------------------------------------------
 * An element passes when |got - ref| <= abs * sqrt(K) * rms(ref) + rel * |ref|,
 * K the length of the reduction behind it (1 for elementwise results).  Float
 * rounding in a K-term sum of terms of either sign grows like
 * u * sqrt(K) * (size of the partial sums) ~ u * sqrt(K) * rms(result), with
 * u = 2^-24 = 6e-8 the unit roundoff: abs 4e-7 is about 7u, rel 2u covers the
 * final rounding.  Adam is checked per element after t steps against
 * rel * t * scale (each step adds at most a few u of relative error, and
 * neither recurrence shrinks it): scale is v for v, the same recurrence on |g|
 * for m, and sum |w_k - w_k-1| + max |w_k| for w (the updates and the
 * per-step rounding of w).  An off-by-one tap, a wrong index or a scalar
 * computed in float (1 - 0.999f is 4.7e-5 off) is orders of magnitude more. */
enum {
    T_CONV_FWD,
    T_CONV_BWD_DATA,
    T_CONV_BWD_W,
    T_CONV_BWD_B,
    T_DENSE_FWD,
    T_DENSE_BWD_DATA,
    T_DENSE_BWD_W,
    T_DENSE_BWD_B,
    T_XENT_LOSS,
    T_XENT_GRAD,
    T_ADAM,
    T_POOL,
    T_DROPOUT,
    T_BN,
    T_BN_MOVING,
    T_SOFTMAX,
    T_XENTP_LOSS,
    T_XENTP_GRAD,
    T_ADAM_KERAS,
    T_SGD,
    T_FD,
    T_ACT,
    T_COUNT
};
static const struct tol {
    const char *op;
    double abs, rel;
} TOL[T_COUNT] = {
    /*                                              abs (x sqrt(K) rms)  rel */
    [T_CONV_FWD] = {"conv2d_forward", 4e-7, 1.2e-7},            /* K = C*KH*KW */
    [T_CONV_BWD_DATA] = {"conv2d_backward_data", 4e-7, 1.2e-7}, /* K = O*KH*KW */
    [T_CONV_BWD_W] = {"conv2d_backward_weights", 4e-7, 1.2e-7}, /* K = N*OH*OW */
    [T_CONV_BWD_B] = {"conv2d_backward_bias", 4e-7, 1.2e-7},    /* K = N*OH*OW */
    [T_DENSE_FWD] = {"dense_forward", 4e-7, 1.2e-7},            /* K = I */
    [T_DENSE_BWD_DATA] = {"dense_backward_data", 4e-7, 1.2e-7}, /* K = O */
    [T_DENSE_BWD_W] = {"dense_backward_weights", 4e-7, 1.2e-7}, /* K = N */
    [T_DENSE_BWD_B] = {"dense_backward_bias", 4e-7, 1.2e-7},    /* K = N */
    [T_XENT_LOSS] = {"softmax_xent loss", 4e-7, 2.4e-7},        /* K = classes (+ N for the mean) */
    [T_XENT_GRAD] = {"softmax_xent dlogits", 4e-7, 2.4e-7},     /* K = classes */
    [T_ADAM] = {"adam_step w, m, v", 0, 2.4e-7},                /* rel x t x scale, see above */
    /* issue 14's ops; rel 3.6e-7 (3 ulp) where fast mode's division, sqrt or
     * exp (OpenCL: <= 2.5 or 3 ulp) is the last rounding */
    [T_POOL] = {"max/avg pooling", 4e-7, 3.6e-7},                /* K = taps or covering windows */
    [T_DROPOUT] = {"dropout", 0, 3.6e-7},                        /* one division; bitwise in reproducible */
    [T_BN] = {"batchnorm", 4e-7, 3.6e-7},                        /* K = N*H*W (the statistics) */
    [T_BN_MOVING] = {"batchnorm moving stats", 4e-7, 2.4e-7},    /* K = 1 */
    [T_SOFTMAX] = {"softmax fwd/bwd", 4e-7, 3.6e-7},             /* per element: see test_softmax */
    [T_XENTP_LOSS] = {"sparse_xent_probs loss", 4e-7, 3.6e-7},   /* K = classes (+ N for the mean) */
    [T_XENTP_GRAD] = {"sparse_xent_probs dprobs", 4e-7, 3.6e-7}, /* K = classes */
    [T_ADAM_KERAS] = {"adam_keras_step w, m, v", 0, 2.4e-7},     /* rel x t x scale, as Adam */
    [T_SGD] = {"sgd_step w, m", 0, 2.4e-7},                      /* rel x t x scale, as Adam */
    /* device backward vs central differences of the double forward (K = 1) */
    [T_FD] = {"finite differences", 2e-5, 2e-5},
    /* the activations: exp/expm1/tanh and a division (reproducible <= 2.5
     * ulp, OpenCL's builtins <= 4); the backward's 1 - y cancels near
     * saturation, hence the abs part (x rms) */
    [T_ACT] = {"activations fwd/bwd", 4e-6, 6e-7},
};
static struct {
    double max_err, max_ratio; /* largest |got - ref|, largest error / allowed */
    int checks;
} seen[T_COUNT];

/* |got - ref| <= abs + rel * |base| (base: ref when NULL); prints the first
 * ten mismatches; records the worst error of the op. */
static int close_to(xdt *t, int op, const char *what, const float *got, const double *ref, const double *base, size_t n,
                    double abs, double rel)
{
    size_t bad = 0;
    double worst = 0, ratio = 0;
    for (size_t i = 0; i < n; ++i) {
        double err = fabs((double)got[i] - ref[i]);
        double lim = abs + rel * fabs(base ? base[i] : ref[i]);
        if (!(err <= lim)) {
            if (bad < 10)
                printf("  %s [%zu]: got %.9g, reference %.9g, error %.3g > %.3g\n", what, i, (double)got[i], ref[i],
                       err, lim);
            ++bad;
        }
        if (err > worst || isnan(err)) worst = err;
        if (lim > 0 && err / lim > ratio) ratio = err / lim;
        if (lim == 0 && err > 0) ratio = INFINITY;
    }
    if (worst > seen[op].max_err || isnan(worst)) seen[op].max_err = worst;
    if (ratio > seen[op].max_ratio) seen[op].max_ratio = ratio;
    seen[op].checks++;
    return xdt_check(t, bad == 0, "%s: %zu of %zu elements beyond %s tolerance (abs %.3g + rel %.2g; max error %.3g)",
                     what, bad, n, TOL[op].op, abs, rel, worst);
}

static double rms(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += v[i] * v[i];
    return n ? sqrt(s / (double)n) : 0;
}

/* The table's rule for a result of a K-term reduction. */
static int check(xdt *t, int op, const char *what, const float *got, const double *ref, size_t n, double k)
{
    return close_to(t, op, what, got, ref, NULL, n, TOL[op].abs * sqrt(k) * rms(ref, n), TOL[op].rel);
}

/* ---- allocation helpers: everything of one case in one arena ------------------ */
typedef struct arena {
    void *mem[64];
    xd_tensor *ten[32];
    int nm, nt, bad;
} arena;

static void *akeep(arena *a, void *p)
{
    if (!p || a->nm == (int)(sizeof a->mem / sizeof a->mem[0])) {
        a->bad = 1;
        free(p);
        return NULL;
    }
    return a->mem[a->nm++] = p;
}
static float *af(arena *a, size_t n) { return akeep(a, calloc(n ? n : 1, sizeof(float))); }
static double *ad(arena *a, size_t n) { return akeep(a, calloc(n ? n : 1, sizeof(double))); }
static double *adbl(arena *a, const float *v, size_t n) { return v ? akeep(a, xdr_from_float(v, n)) : NULL; }
static float *afill(arena *a, size_t n, uint32_t seed, float lo, float hi)
{
    float *v = af(a, n);
    if (v) xdt_fill(v, n, seed, lo, hi);
    return v;
}
/* Device tensor (f32 unless dtype says otherwise) from data, or zeros when data is NULL. */
static xd_tensor *aup(arena *a, xdt *t, xd_dtype dtype, int ndim, const int64_t *shape, const void *data)
{
    xd_tensor *x = a->bad ? NULL : xdt_upload(t, dtype, ndim, shape, data);
    if (x && !data && xd_tensor_fill_zero(x) != XD_OK) a->bad = 1;
    if (!x || a->nt == (int)(sizeof a->ten / sizeof a->ten[0])) {
        a->bad = 1;
        xd_tensor_destroy(x);
        return NULL;
    }
    return a->ten[a->nt++] = x;
}
static float *adown(arena *a, xdt *t, const xd_tensor *x) { return akeep(a, a->bad ? NULL : xdt_download(t, x)); }
static void afree(arena *a)
{
    for (int i = 0; i < a->nt; ++i) xd_tensor_destroy(a->ten[i]);
    for (int i = 0; i < a->nm; ++i) free(a->mem[i]);
    memset(a, 0, sizeof *a);
}

/* One output of a case: device results of two identical runs and the reference. */
typedef struct out_spec {
    const char *name;
    int tol;
    size_t n;
    double k; /* reduction length for the tolerance */
    float *got[2];
    double *ref;
} out_spec;

/* Run-to-run bitwise equality, then the reference comparison, for every output. */
static void compare_outputs(xdt *t, const char *tag, const out_spec *o, int nout)
{
    char what[256];
    for (int i = 0; i < nout; ++i) {
        snprintf(what, sizeof what, "%s %s run-to-run", tag, o[i].name);
        xdt_bitwise(t, what, o[i].got[0], o[i].got[1], o[i].n);
        snprintf(what, sizeof what, "%s %s", tag, o[i].name);
        check(t, o[i].tol, what, o[i].got[0], o[i].ref, o[i].n, o[i].k);
    }
}

/* ---- finite differences -----------------------------------------------------------
 * The device gradient at up to FD_MAX evenly spread elements of param against
 * the central difference of a double loss (param is perturbed in place). */
#define FD_MAX 96
typedef double (*loss_fn)(void *ctx);
static void fd_check(xdt *t, const char *what, loss_fn f, void *ctx, double *param, size_t n, const float *grad,
                     double h)
{
    size_t m = n < FD_MAX ? n : FD_MAX;
    float got[FD_MAX];
    double fd[FD_MAX];
    for (size_t q = 0; q < m; ++q) {
        size_t j = m == 1 ? 0 : q * (n - 1) / (m - 1);
        double save = param[j];
        param[j] = save + h;
        double lp = f(ctx);
        param[j] = save - h;
        double lm = f(ctx);
        param[j] = save;
        fd[q] = (lp - lm) / (2 * h);
        got[q] = grad[j];
    }
    check(t, T_FD, what, got, fd, m, 1);
}

/* ---- conv2d ----------------------------------------------------------------------- */
typedef struct conv_case {
    int n, c, h, w, o, kh, kw, sh, sw;
    char pad; /* 'v' valid, 's' same, 'e' explicit pt/pb/pl/pr */
    int pt, pb, pl, pr;
    int small; /* also in --small */
} conv_case;
static const conv_case CONV[] = {
    /* n   c   h   w   o  kh kw sh sw pad pt pb pl pr small */
    {1, 1, 7, 7, 1, 3, 3, 1, 1, 'v', 0, 0, 0, 0, 1},
    {2, 3, 7, 7, 5, 3, 3, 2, 2, 's', 0, 0, 0, 0, 1},
    {1, 3, 9, 8, 6, 3, 5, 2, 1, 'e', 2, 0, 1, 3, 1},
    {2, 1, 9, 7, 3, 1, 1, 2, 2, 'v', 0, 0, 0, 0, 1},
    {1, 1, 33, 33, 2, 5, 5, 1, 1, 's', 0, 0, 0, 0, 1},
    {3, 3, 33, 7, 4, 5, 5, 2, 2, 's', 0, 0, 0, 0, 0},
    {4, 2, 8, 8, 7, 5, 5, 2, 2, 's', 0, 0, 0, 0, 0},
    {2, 3, 11, 13, 9, 5, 3, 1, 2, 'e', 4, 1, 0, 2, 0},
    {5, 3, 33, 33, 8, 1, 1, 1, 1, 'v', 0, 0, 0, 0, 0},
    {32, 1, 28, 28, 32, 3, 3, 1, 1, 'v', 0, 0, 0, 0, 0}, /* the seed model's conv layer */
    /* rows shorter than 16 with 16+ channels: the channel-lane kernels on
     * PoCL's row (and dy channels last for the weights) */
    {2, 17, 9, 9, 18, 3, 3, 1, 1, 'v', 0, 0, 0, 0, 1},
    {2, 16, 7, 6, 16, 3, 3, 1, 1, 's', 0, 0, 0, 0, 1},    /* ... with padding */
    {3, 4, 10, 9, 5, 3, 2, 2, 1, 'v', 0, 0, 0, 0, 1},     /* dy channels last at stride 2, 1 */
    {32, 32, 13, 13, 64, 3, 3, 1, 1, 'v', 0, 0, 0, 0, 0}, /* mnist-convnet's conv2d_1 */
    /* strides with 16+ channels: the channel-lane kernels at stride 2 (resnet's downsampling) */
    {2, 16, 12, 12, 32, 3, 3, 2, 2, 's', 0, 0, 0, 0, 1},
    {2, 16, 9, 9, 32, 1, 1, 2, 2, 'v', 0, 0, 0, 0, 1},
    {2, 17, 11, 10, 18, 3, 3, 2, 2, 's', 0, 0, 0, 0, 1},
    {1, 16, 9, 8, 16, 3, 2, 2, 1, 'e', 2, 0, 1, 1, 1}, /* ... strides 2, 1 and uneven explicit padding */
};

typedef struct conv_loss {
    const xdr_conv *s;
    const double *x, *w, *b, *r;
    double *y;
} conv_loss;
/* L = sum((conv(x, w) + b) * r), so dL/dy = r. */
static double conv_loss_fn(void *p)
{
    conv_loss *c = p;
    xdr_conv2d_forward(c->s, c->x, c->w, c->b, 0, c->y);
    double l = 0;
    for (size_t i = 0; i < xdr_conv_y_count(c->s); ++i) l += c->y[i] * c->r[i];
    return l;
}

static void test_conv(xdt *t, const conv_case *cc, int idx)
{
    xd_conv2d_params p = {cc->sh, cc->sw, cc->pt, cc->pb, cc->pl, cc->pr};
    if (cc->pad == 'v') p = xd_conv2d_valid(cc->sh, cc->sw);
    if (cc->pad == 's') p = xd_conv2d_same(cc->h, cc->w, cc->kh, cc->kw, cc->sh, cc->sw);
    char tag[160];
    snprintf(tag, sizeof tag, "conv[%d] x%dx%dx%dx%d w%dx%dx%dx%d s%d,%d pad %d,%d,%d,%d", idx, cc->n, cc->c, cc->h,
             cc->w, cc->o, cc->c, cc->kh, cc->kw, cc->sh, cc->sw, p.pad_top, p.pad_bottom, p.pad_left, p.pad_right);
    xdr_conv s;
    if (!xdt_check(t, xdr_conv_init(&s, cc->n, cc->c, cc->h, cc->w, cc->o, cc->kh, cc->kw, p), "%s: empty", tag))
        return;
    xdt_check(t,
              xd_conv2d_out_size(cc->h, cc->kh, p.stride_h, p.pad_top, p.pad_bottom) == s.oh &&
                  xd_conv2d_out_size(cc->w, cc->kw, p.stride_w, p.pad_left, p.pad_right) == s.ow,
              "%s: xd_conv2d_out_size disagrees with %lldx%lld", tag, (long long)s.oh, (long long)s.ow);
    if (cc->pad == 's')
        xdt_check(t, s.oh == (cc->h + cc->sh - 1) / cc->sh && s.ow == (cc->w + cc->sw - 1) / cc->sw,
                  "%s: same padding gives %lldx%lld, not ceil(in / stride)", tag, (long long)s.oh, (long long)s.ow);
    size_t nx = xdr_conv_x_count(&s), nw = xdr_conv_w_count(&s), ny = xdr_conv_y_count(&s), no = (size_t)s.o;
    arena a = {0};
    uint32_t seed = 100u * (uint32_t)idx;
    float *x = afill(&a, nx, seed + 1, -1, 1), *w = afill(&a, nw, seed + 2, -1, 1);
    float *b = afill(&a, no, seed + 3, -1, 1), *dy = afill(&a, ny, seed + 4, -1, 1);
    int64_t xs[4] = {s.n, s.c, s.h, s.w}, ws[4] = {s.o, s.c, s.kh, s.kw}, ys[4] = {s.n, s.o, s.oh, s.ow};
    int64_t bs[1] = {s.o};
    xd_tensor *tx = aup(&a, t, XD_DTYPE_F32, 4, xs, x), *tw = aup(&a, t, XD_DTYPE_F32, 4, ws, w);
    xd_tensor *tb = aup(&a, t, XD_DTYPE_F32, 1, bs, b), *tdy = aup(&a, t, XD_DTYPE_F32, 4, ys, dy);
    xd_tensor *ty = aup(&a, t, XD_DTYPE_F32, 4, ys, NULL), *tyr = aup(&a, t, XD_DTYPE_F32, 4, ys, NULL);
    xd_tensor *ty0 = aup(&a, t, XD_DTYPE_F32, 4, ys, NULL), *tdx = aup(&a, t, XD_DTYPE_F32, 4, xs, NULL);
    xd_tensor *tdw = aup(&a, t, XD_DTYPE_F32, 4, ws, NULL), *tdb = aup(&a, t, XD_DTYPE_F32, 1, bs, NULL);
    xd_tensor *tdw2 = aup(&a, t, XD_DTYPE_F32, 4, ws, NULL), *tdb2 = aup(&a, t, XD_DTYPE_F32, 1, bs, NULL);
    float *acc0 = afill(&a, nx, seed + 5, -1, 1);
    xd_tensor *tacc = aup(&a, t, XD_DTYPE_F32, 4, xs, acc0), *ttmp = aup(&a, t, XD_DTYPE_F32, 4, xs, NULL);
    if (a.bad) goto done;
    double kf = (double)(s.c * s.kh * s.kw), kd = (double)(s.o * s.kh * s.kw), kwt = (double)(s.n * s.oh * s.ow);
    out_spec o[6] = {{"forward", T_CONV_FWD, ny, kf, {0}, 0},
                     {"forward_relu", T_CONV_FWD, ny, kf, {0}, 0},
                     {"forward (no bias)", T_CONV_FWD, ny, kf, {0}, 0},
                     {"backward_data", T_CONV_BWD_DATA, nx, kd, {0}, 0},
                     {"backward_weights", T_CONV_BWD_W, nw, kwt, {0}, 0},
                     {"backward_bias", T_CONV_BWD_B, no, kwt, {0}, 0}};
    xd_tensor *outs[6] = {ty, tyr, ty0, tdx, tdw, tdb};
    for (int run = 0; run < 2; ++run) {
        xdt_ok(t, xd_conv2d_forward(t->ctx, &p, tx, tw, tb, ty), "conv2d_forward");
        xdt_ok(t, xd_conv2d_forward_relu(t->ctx, &p, tx, tw, tb, tyr), "conv2d_forward_relu");
        xdt_ok(t, xd_conv2d_forward(t->ctx, &p, tx, tw, NULL, ty0), "conv2d_forward (no bias)");
        xdt_ok(t, xd_conv2d_backward_data(t->ctx, &p, tdy, tw, tdx), "conv2d_backward_data");
        xdt_ok(t, xd_conv2d_backward_weights(t->ctx, &p, tx, tdy, tdw), "conv2d_backward_weights");
        xdt_ok(t, xd_conv2d_backward_bias(t->ctx, tdy, tdb), "conv2d_backward_bias");
        for (int i = 0; i < 6; ++i) o[i].got[run] = adown(&a, t, outs[i]);
    }
    double *xd = adbl(&a, x, nx), *wd = adbl(&a, w, nw), *bd = adbl(&a, b, no), *dyd = adbl(&a, dy, ny);
    o[0].ref = ad(&a, ny), o[1].ref = ad(&a, ny), o[2].ref = ad(&a, ny);
    o[3].ref = ad(&a, nx), o[4].ref = ad(&a, nw), o[5].ref = ad(&a, no);
    if (a.bad) goto done;
    xdr_conv2d_forward(&s, xd, wd, bd, 0, o[0].ref);
    xdr_conv2d_forward(&s, xd, wd, bd, 1, o[1].ref);
    xdr_conv2d_forward(&s, xd, wd, NULL, 0, o[2].ref);
    xdr_conv2d_backward_data(&s, dyd, wd, o[3].ref);
    xdr_conv2d_backward_weights(&s, xd, dyd, o[4].ref);
    xdr_conv2d_backward_bias(&s, dyd, o[5].ref);
    compare_outputs(t, tag, o, 6);

    /* weights and bias from one pass over dy: the separate ops' bits */
    xdt_ok(t, xd_conv2d_backward_weights_bias(t->ctx, &p, tx, tdy, tdw2, tdb2), "conv2d_backward_weights_bias");
    float *dw2 = adown(&a, t, tdw2), *db2 = adown(&a, t, tdb2);
    char both[200];
    snprintf(both, sizeof both, "%s backward_weights_bias == backward_weights", tag);
    if (dw2) xdt_bitwise(t, both, dw2, o[4].got[0], nw);
    snprintf(both, sizeof both, "%s backward_weights_bias == backward_bias", tag);
    if (db2) xdt_bitwise(t, both, db2, o[5].got[0], no);

    /* the fused ReLU is the ReLU of the same sums, bit for bit */
    float *relu = af(&a, ny);
    if (!relu) goto done;
    for (size_t i = 0; i < ny; ++i) relu[i] = o[0].got[0][i] > 0 ? o[0].got[0][i] : 0.0f;
    char what[200];
    snprintf(what, sizeof what, "%s forward_relu == relu(forward)", tag);
    xdt_bitwise(t, what, o[1].got[0], relu, ny);

    /* a gradient added into a sum in the store: the sum + backward_data, bit for bit */
    xdt_ok(t, xd_conv2d_backward_data_accumulate(t->ctx, &p, tdy, tw, ttmp, tacc), "conv2d_backward_data_accumulate");
    float *gacc = adown(&a, t, tacc), *wacc = af(&a, nx);
    if (!gacc || !wacc) goto done;
    for (size_t i = 0; i < nx; ++i) wacc[i] = acc0[i] + o[3].got[0][i];
    snprintf(what, sizeof what, "%s backward_data_accumulate == acc + backward_data", tag);
    xdt_bitwise(t, what, gacc, wacc, nx);

    /* gradients against finite differences of the double forward (cheap cases) */
    if ((double)ny * kf * (double)(nx + nw + no) < 4e7) {
        conv_loss cl = {&s, xd, wd, bd, dyd, ad(&a, ny)};
        if (!cl.y) goto done;
        snprintf(what, sizeof what, "%s FD dL/dx", tag);
        fd_check(t, what, conv_loss_fn, &cl, xd, nx, o[3].got[0], 1e-3);
        snprintf(what, sizeof what, "%s FD dL/dw", tag);
        fd_check(t, what, conv_loss_fn, &cl, wd, nw, o[4].got[0], 1e-3);
        snprintf(what, sizeof what, "%s FD dL/db", tag);
        fd_check(t, what, conv_loss_fn, &cl, bd, no, o[5].got[0], 1e-3);
    }
done:
    afree(&a);
}

/* ---- dense -------------------------------------------------------------------------- */
typedef struct dense_case {
    int n, in, out;
    int x4d; /* x given as [n, in/100, 10, 10] (flattened by the op) */
    int small;
} dense_case;
static const dense_case DENSE[] = {
    /* n    in  out 4d small */
    {1, 7, 3, 0, 1},  {2, 33, 10, 0, 1}, {3, 300, 5, 1, 1}, /* two K chunks of 256, 4-D input */
    {33, 1, 1, 0, 0}, {5, 513, 7, 0, 0}, {7, 1000, 33, 1, 0}, {32, 21632, 10, 0, 0}, /* the seed model's dense layer */
};

typedef struct dense_loss {
    int64_t n, in, out;
    const double *x, *w, *b, *r;
    double *y;
} dense_loss;
static double dense_loss_fn(void *p)
{
    dense_loss *d = p;
    xdr_dense_forward(d->n, d->in, d->out, d->x, d->w, d->b, d->y);
    double l = 0;
    for (int64_t i = 0; i < d->n * d->out; ++i) l += d->y[i] * d->r[i];
    return l;
}

static void test_dense(xdt *t, const dense_case *dc, int idx)
{
    char tag[96];
    snprintf(tag, sizeof tag, "dense[%d] x%dx%d%s w%dx%d", idx, dc->n, dc->in, dc->x4d ? " (4-D)" : "", dc->out,
             dc->in);
    size_t nx = (size_t)dc->n * (size_t)dc->in, nw = (size_t)dc->out * (size_t)dc->in;
    size_t ny = (size_t)dc->n * (size_t)dc->out, no = (size_t)dc->out;
    arena a = {0};
    uint32_t seed = 1000u + 100u * (uint32_t)idx;
    float *x = afill(&a, nx, seed + 1, -1, 1), *w = afill(&a, nw, seed + 2, -1, 1);
    float *b = afill(&a, no, seed + 3, -1, 1), *dy = afill(&a, ny, seed + 4, -1, 1);
    int64_t xs4[4] = {dc->n, dc->in / 100, 10, 10}, xs2[2] = {dc->n, dc->in}, ws[2] = {dc->out, dc->in};
    int64_t ys[2] = {dc->n, dc->out}, bs[1] = {dc->out};
    int xnd = dc->x4d ? 4 : 2;
    const int64_t *xs = dc->x4d ? xs4 : xs2;
    xd_tensor *tx = aup(&a, t, XD_DTYPE_F32, xnd, xs, x), *tw = aup(&a, t, XD_DTYPE_F32, 2, ws, w);
    xd_tensor *tb = aup(&a, t, XD_DTYPE_F32, 1, bs, b), *tdy = aup(&a, t, XD_DTYPE_F32, 2, ys, dy);
    xd_tensor *ty = aup(&a, t, XD_DTYPE_F32, 2, ys, NULL), *ty0 = aup(&a, t, XD_DTYPE_F32, 2, ys, NULL);
    xd_tensor *tdx = aup(&a, t, XD_DTYPE_F32, xnd, xs, NULL), *tdw = aup(&a, t, XD_DTYPE_F32, 2, ws, NULL);
    xd_tensor *tdb = aup(&a, t, XD_DTYPE_F32, 1, bs, NULL);
    if (a.bad) goto done;
    out_spec o[5] = {{"forward", T_DENSE_FWD, ny, dc->in, {0}, 0},
                     {"forward (no bias)", T_DENSE_FWD, ny, dc->in, {0}, 0},
                     {"backward_data", T_DENSE_BWD_DATA, nx, dc->out, {0}, 0},
                     {"backward_weights", T_DENSE_BWD_W, nw, dc->n, {0}, 0},
                     {"backward_bias", T_DENSE_BWD_B, no, dc->n, {0}, 0}};
    xd_tensor *outs[5] = {ty, ty0, tdx, tdw, tdb};
    for (int run = 0; run < 2; ++run) {
        xdt_ok(t, xd_dense_forward(t->ctx, tx, tw, tb, ty), "dense_forward");
        xdt_ok(t, xd_dense_forward(t->ctx, tx, tw, NULL, ty0), "dense_forward (no bias)");
        xdt_ok(t, xd_dense_backward_data(t->ctx, tdy, tw, tdx), "dense_backward_data");
        xdt_ok(t, xd_dense_backward_weights(t->ctx, tx, tdy, tdw), "dense_backward_weights");
        xdt_ok(t, xd_dense_backward_bias(t->ctx, tdy, tdb), "dense_backward_bias");
        for (int i = 0; i < 5; ++i) o[i].got[run] = adown(&a, t, outs[i]);
    }
    double *xd = adbl(&a, x, nx), *wd = adbl(&a, w, nw), *bd = adbl(&a, b, no), *dyd = adbl(&a, dy, ny);
    o[0].ref = ad(&a, ny), o[1].ref = ad(&a, ny), o[2].ref = ad(&a, nx), o[3].ref = ad(&a, nw), o[4].ref = ad(&a, no);
    if (a.bad) goto done;
    xdr_dense_forward(dc->n, dc->in, dc->out, xd, wd, bd, o[0].ref);
    xdr_dense_forward(dc->n, dc->in, dc->out, xd, wd, NULL, o[1].ref);
    xdr_dense_backward_data(dc->n, dc->in, dc->out, dyd, wd, o[2].ref);
    xdr_dense_backward_weights(dc->n, dc->in, dc->out, xd, dyd, o[3].ref);
    xdr_dense_backward_bias(dc->n, dc->out, dyd, o[4].ref);
    compare_outputs(t, tag, o, 5);

    if ((double)ny * (double)dc->in * (double)(nx + nw + no) < 4e7) {
        dense_loss dl = {dc->n, dc->in, dc->out, xd, wd, bd, dyd, ad(&a, ny)};
        if (!dl.y) goto done;
        char what[160];
        snprintf(what, sizeof what, "%s FD dL/dx", tag);
        fd_check(t, what, dense_loss_fn, &dl, xd, nx, o[2].got[0], 1e-3);
        snprintf(what, sizeof what, "%s FD dL/dw", tag);
        fd_check(t, what, dense_loss_fn, &dl, wd, nw, o[3].got[0], 1e-3);
        snprintf(what, sizeof what, "%s FD dL/db", tag);
        fd_check(t, what, dense_loss_fn, &dl, bd, no, o[4].got[0], 1e-3);
    }
done:
    afree(&a);
}

/* ---- softmax cross-entropy ------------------------------------------------------------- */
typedef struct xent_case {
    int n, k;
    float range; /* logits uniform in [-range, range); above 100 each row also
                               gets one logit 2*range higher, in column row % k: exp
                               overflows unless the true row max is subtracted */
    int small;
} xent_case;
static const xent_case XENT[] = {
    {1, 1, 3, 1}, {1, 10, 3, 1}, {7, 3, 5, 1}, {4, 10, 80, 1}, {6, 4, 500, 1}, {32, 10, 3, 0}, {33, 1000, 10, 0},
};

typedef struct xent_loss {
    int64_t n, k;
    const double *z;
    const int32_t *labels;
} xent_loss;
static double xent_loss_fn(void *p)
{
    xent_loss *x = p;
    return xdr_softmax_xent(x->n, x->k, x->z, x->labels, NULL, NULL);
}

/* A loss op on in [n, k] with labels [n], twice: o[0..2].got (loss,
 * gradient, row losses) for run-to-run equality; then once without
 * row_loss, which must give the same loss. */
typedef xd_status (*loss_op)(xd_context *, const xd_tensor *, const xd_tensor *, xd_tensor *, xd_tensor *, xd_tensor *);
static void run_loss_op(xdt *t, arena *a, loss_op op, const char *tag, int n, int k, const float *in,
                        const int32_t *labels, out_spec *o)
{
    int64_t zs[2] = {n, k}, ns[1] = {n}, one[1] = {1};
    xd_tensor *tz = aup(a, t, XD_DTYPE_F32, 2, zs, in), *tl = aup(a, t, XD_DTYPE_I32, 1, ns, labels);
    xd_tensor *tloss = aup(a, t, XD_DTYPE_F32, 1, one, NULL), *tgrad = aup(a, t, XD_DTYPE_F32, 2, zs, NULL);
    xd_tensor *trow = aup(a, t, XD_DTYPE_F32, 1, ns, NULL), *tloss2 = aup(a, t, XD_DTYPE_F32, 1, one, NULL);
    if (a->bad) return;
    xd_tensor *outs[3] = {tloss, tgrad, trow};
    for (int run = 0; run < 2; ++run) {
        xdt_ok(t, op(t->ctx, tz, tl, tloss, tgrad, trow), tag);
        for (int i = 0; i < 3; ++i) o[i].got[run] = adown(a, t, outs[i]);
    }
    xdt_ok(t, op(t->ctx, tz, tl, tloss2, tgrad, NULL), tag);
    float *loss2 = adown(a, t, tloss2);
    char what[160];
    snprintf(what, sizeof what, "%s loss without row_loss", tag);
    if (loss2 && o[0].got[0]) xdt_bitwise(t, what, loss2, o[0].got[0], 1);
}

static void test_xent(xdt *t, const xent_case *xc, int idx)
{
    char tag[96];
    snprintf(tag, sizeof tag, "softmax_xent[%d] %dx%d range %g", idx, xc->n, xc->k, (double)xc->range);
    size_t nz = (size_t)xc->n * (size_t)xc->k, nn = (size_t)xc->n;
    arena a = {0};
    float *z = afill(&a, nz, 2000u + (uint32_t)idx, -xc->range, xc->range);
    int32_t *labels = akeep(&a, calloc(nn, sizeof *labels));
    if (a.bad) goto done;
    for (size_t i = 0; i < nn; ++i) {
        labels[i] = (int32_t)((i * 7 + (size_t)idx) % (size_t)xc->k);
        if (xc->range > 100) z[i * (size_t)xc->k + i % (size_t)xc->k] += 2 * xc->range;
    }
    double kk = (double)xc->k;
    out_spec o[3] = {{"loss", T_XENT_LOSS, 1, kk + (double)xc->n, {0}, 0},
                     {"dlogits", T_XENT_GRAD, nz, kk, {0}, 0},
                     {"row_loss", T_XENT_LOSS, nn, kk, {0}, 0}};
    double *zd = adbl(&a, z, nz);
    o[0].ref = ad(&a, 1), o[1].ref = ad(&a, nz), o[2].ref = ad(&a, nn);
    run_loss_op(t, &a, xd_softmax_xent, tag, xc->n, xc->k, z, labels, o);
    if (a.bad) goto done;
    o[0].ref[0] = xdr_softmax_xent(xc->n, xc->k, zd, labels, o[1].ref, o[2].ref);
    compare_outputs(t, tag, o, 3);
    char what[160];
    if (nz <= 400) {
        xent_loss xl = {xc->n, xc->k, zd, labels};
        snprintf(what, sizeof what, "%s FD dloss/dlogits", tag);
        fd_check(t, what, xent_loss_fn, &xl, zd, nz, o[1].got[0], 1e-4);
    }
done:
    afree(&a);
}

/* A label outside [0, K) cannot be checked by the host without a read: the
 * kernel gives a NaN row (and loss) instead of reading out of bounds. */
static void test_xent_bad_label(xdt *t)
{
    arena a = {0};
    float z[6] = {1, 2, 3, 4, 5, 6};
    int32_t labels[2] = {1, 3};
    int64_t zs[2] = {2, 3}, ns[1] = {2}, one[1] = {1};
    xd_tensor *tz = aup(&a, t, XD_DTYPE_F32, 2, zs, z), *tl = aup(&a, t, XD_DTYPE_I32, 1, ns, labels);
    xd_tensor *tloss = aup(&a, t, XD_DTYPE_F32, 1, one, NULL), *tdz = aup(&a, t, XD_DTYPE_F32, 2, zs, NULL);
    xd_tensor *trow = aup(&a, t, XD_DTYPE_F32, 1, ns, NULL);
    if (a.bad) goto done;
    xdt_ok(t, xd_softmax_xent(t->ctx, tz, tl, tloss, tdz, trow), "softmax_xent (label out of range)");
    float *loss = adown(&a, t, tloss), *row = adown(&a, t, trow);
    if (a.bad) goto done;
    xdt_check(t, isnan(loss[0]) && !isnan(row[0]) && isnan(row[1]),
              "softmax_xent with label 3 of 3 classes: loss %g, rows %g %g (want NaN, finite, NaN)", (double)loss[0],
              (double)row[0], (double)row[1]);
done:
    afree(&a);
}

/* ---- ReLU ---------------------------------------------------------------------------- */
static void test_relu(xdt *t, size_t n)
{
    arena a = {0};
    float *x = afill(&a, n, 3000u, -1, 1), *dy = afill(&a, n, 3001u, -1, 1);
    if (a.bad) goto done;
    static const float special[] = {0.0f,    -0.0f,           NAN,     -NAN, INFINITY, -INFINITY, 1e-45f,
                                    -1e-45f, 1.17549435e-38f, -3.4e38f};
    enum { NS = sizeof special / sizeof special[0] };
    memcpy(x, special, sizeof special);
    int64_t shape[2] = {2, (int64_t)n / 2};
    xd_tensor *tx = aup(&a, t, XD_DTYPE_F32, 2, shape, x), *tdy = aup(&a, t, XD_DTYPE_F32, 2, shape, dy);
    xd_tensor *ty = aup(&a, t, XD_DTYPE_F32, 2, shape, NULL), *tdx = aup(&a, t, XD_DTYPE_F32, 2, shape, NULL);
    if (a.bad) goto done;
    float *got[2][2];
    for (int run = 0; run < 2; ++run) {
        xdt_ok(t, xd_relu_forward(t->ctx, tx, ty), "relu_forward");
        xdt_ok(t, xd_relu_backward(t->ctx, ty, tdy, tdx), "relu_backward");
        got[run][0] = adown(&a, t, ty);
        got[run][1] = adown(&a, t, tdx);
    }
    double *xd = adbl(&a, x, n), *dyd = adbl(&a, dy, n), *yr = ad(&a, n), *dxr = ad(&a, n);
    float *yf = af(&a, n), *dxf = af(&a, n);
    if (a.bad) goto done;
    xdt_bitwise(t, "relu_forward run-to-run", got[0][0], got[1][0], n);
    xdt_bitwise(t, "relu_backward run-to-run", got[0][1], got[1][1], n);
    /* the reference of an exact op is exact: compare bit for bit */
    xdr_relu_forward(xd, yr, n);
    xdr_relu_backward(yr, dyd, dxr, n);
    for (size_t i = 0; i < n; ++i) yf[i] = (float)yr[i], dxf[i] = (float)dxr[i];
    xdt_bitwise(t, "relu_forward vs reference", got[0][0], yf, n);
    xdt_bitwise(t, "relu_backward vs reference", got[0][1], dxf, n);
    const float *y = got[0][0], *dx = got[0][1];
    uint32_t u0, u1;
    memcpy(&u0, &y[0], 4);
    memcpy(&u1, &y[1], 4);
    xdt_check(t, u0 == 0 && u1 == 0, "relu(+0), relu(-0) must be +0: got %a, %a", (double)y[0], (double)y[1]);
    xdt_check(t, isnan(y[2]) && isnan(y[3]), "relu(NaN) must be NaN: got %g, %g", (double)y[2], (double)y[3]);
    xdt_check(t, y[4] == INFINITY && y[5] == 0 && y[6] == 1e-45f && y[7] == 0,
              "relu(inf, -inf, denorm, -denorm) = %g %g %g %g", (double)y[4], (double)y[5], (double)y[6], (double)y[7]);
    xdt_check(t, dx[0] == 0 && dx[1] == 0 && dy[0] != 0 && dy[1] != 0, "relu'(0) must be 0: got %g, %g", (double)dx[0],
              (double)dx[1]);
    xdt_check(t, dx[2] == 0 && dx[3] == 0 && dx[6] == dy[6], "relu_backward at NaN / denormal: %g %g %g", (double)dx[2],
              (double)dx[3], (double)dx[6]);
done:
    afree(&a);
}

/* ---- Adam ----------------------------------------------------------------------------- */
static void test_adam_scalars(xdt *t)
{
    xd_adam_params p = xd_adam_defaults();
    xdt_check(t, p.lr == 1e-3 && p.beta1 == 0.9 && p.beta2 == 0.999 && p.eps == 1e-7, "xd_adam_defaults: %g %g %g %g",
              p.lr, p.beta1, p.beta2, p.eps);
    static const int64_t steps[] = {1, 2, 100, 100000};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; ++i) {
        int64_t s = steps[i];
        xd_adam_scalars sc;
        if (!xdt_check(t, xd_adam_scalars_for(&p, s, &sc, NULL) == XD_OK, "xd_adam_scalars_for t=%lld", (long long)s))
            continue;
        double bc1 = 1 - pow(0.9, (double)s), bc2 = 1 - pow(0.999, (double)s);
        xdt_check(t,
                  sc.b1 == (float)0.9 && sc.b2 == (float)0.999 && sc.omb1 == (float)(1 - 0.9) &&
                      sc.omb2 == (float)(1 - 0.999) && sc.eps == (float)1e-7,
                  "adam scalars t=%lld: b1 %a b2 %a omb1 %a omb2 %a eps %a", (long long)s, (double)sc.b1, (double)sc.b2,
                  (double)sc.omb1, (double)sc.omb2, (double)sc.eps);
        xdt_check(t, sc.sqrt_bc2 == (float)sqrt(bc2) && sc.step == (float)(1e-3 / bc1),
                  "adam scalars t=%lld: sqrt_bc2 %a (want %a), step %a (want %a)", (long long)s, (double)sc.sqrt_bc2,
                  (double)(float)sqrt(bc2), (double)sc.step, (double)(float)(1e-3 / bc1));
    }
    volatile float b2f = 0.999f; /* the float32 way the scalars must not be computed */
    xd_adam_scalars sc;
    xd_adam_scalars_for(&p, 1, &sc, NULL);
    xdt_check(t, sc.omb2 != 1.0f - b2f, "omb2 %a equals 1 - 0.999f in float", (double)sc.omb2);
    xd_error err;
    xdt_check(t, xd_adam_scalars_for(&p, 0, &sc, &err) == XD_INVALID_ARGUMENT && strstr(err.message, "(got 0)"),
              "xd_adam_scalars_for t=0 accepted or not named: %s", err.message);
    xd_adam_params bad = p;
    bad.beta2 = 1.0;
    xdt_check(t, xd_adam_scalars_for(&bad, 1, &sc, &err) == XD_INVALID_ARGUMENT && strstr(err.message, "beta < 1"),
              "xd_adam_scalars_for beta2=1 accepted or not named: %s", err.message);
}

/* Fixed gradients (the same array every step) or new ones each step; the
 * gradient magnitudes cycle over 1, 1e-3, 1e-6 and 0 so that eps matters.
 * Checked at t = 1, 2 and 100 (tolerance: see the table). */
static void test_adam(xdt *t, size_t n, int varying)
{
    const char *kind = varying ? "varying" : "fixed";
    arena a = {0};
    float *w0 = afill(&a, n, 4000u, -1e-3f, 1e-3f), *g = af(&a, n);
    double *w = adbl(&a, w0, n), *m = ad(&a, n), *v = ad(&a, n), *gd = ad(&a, n);
    /* per-element scales: |g| recurrence of m; sum of |w steps| + max |w| */
    double *mabs = ad(&a, n), *wpath = ad(&a, n), *wmax = ad(&a, n), *wscale = ad(&a, n), *wprev = ad(&a, n);
    int64_t shape[1] = {(int64_t)n};
    xd_tensor *tw = aup(&a, t, XD_DTYPE_F32, 1, shape, w0), *tg = aup(&a, t, XD_DTYPE_F32, 1, shape, NULL);
    xd_tensor *tm = aup(&a, t, XD_DTYPE_F32, 1, shape, NULL), *tv = aup(&a, t, XD_DTYPE_F32, 1, shape, NULL);
    if (a.bad) goto done;
    xd_adam_params p = xd_adam_defaults();
    static const float mag[4] = {1.0f, 1e-3f, 1e-6f, 0.0f};
    for (size_t i = 0; i < n; ++i) wmax[i] = fabs(w[i]);
    for (int64_t s = 1; s <= 100; ++s) {
        if (s == 1 || varying) {
            xdt_fill(g, n, 4001u + (uint32_t)(varying ? s : 0), -1, 1);
            for (size_t i = 0; i < n; ++i) g[i] *= mag[i % 4], gd[i] = g[i];
            if (!xdt_ok(t, xd_tensor_write(tg, g, n * 4), "tensor_write g")) break;
        }
        if (!xdt_ok(t, xd_adam_step(t->ctx, &p, s, tw, tg, tm, tv), "adam_step")) break;
        memcpy(wprev, w, n * sizeof *w);
        xdr_adam_step(&p, s, w, gd, m, v, n);
        for (size_t i = 0; i < n; ++i) {
            mabs[i] = p.beta1 * mabs[i] + (1 - p.beta1) * fabs(gd[i]);
            wpath[i] += fabs(w[i] - wprev[i]);
            wmax[i] = fmax(wmax[i], fabs(w[i]));
            wscale[i] = wpath[i] + wmax[i];
        }
        if (s != 1 && s != 2 && s != 100) continue;
        float *gw = xdt_download(t, tw), *gm = xdt_download(t, tm), *gv = xdt_download(t, tv);
        if (gw && gm && gv) {
            char what[96];
            double rel = TOL[T_ADAM].rel * (double)s;
            snprintf(what, sizeof what, "adam %s t=%lld w", kind, (long long)s);
            close_to(t, T_ADAM, what, gw, w, wscale, n, 0, rel);
            snprintf(what, sizeof what, "adam %s t=%lld m", kind, (long long)s);
            close_to(t, T_ADAM, what, gm, m, mabs, n, 0, rel);
            snprintf(what, sizeof what, "adam %s t=%lld v", kind, (long long)s);
            close_to(t, T_ADAM, what, gv, v, NULL, n, 0, rel);
        }
        free(gw);
        free(gm);
        free(gv);
    }
done:
    afree(&a);
}

/* ---- init ------------------------------------------------------------------------------ */
static void test_init(xdt *t, size_t n, int stats)
{
    arena a = {0};
    int64_t shape[2] = {(int64_t)n / 8, 8};
    xd_tensor *tu = aup(&a, t, XD_DTYPE_F32, 2, shape, NULL), *tn = aup(&a, t, XD_DTYPE_F32, 2, shape, NULL);
    float *hu = af(&a, n), *hn = af(&a, n);
    if (a.bad) goto done;
    const int64_t fi = 300, fo = 100;
    const uint64_t seed = 0x123456789abcdefULL, stream = 7;
    double limit = sqrt(6.0 / (double)(fi + fo)), stddev = sqrt(2.0 / (double)fi);
    xdt_ok(t, xd_init_glorot_uniform(t->ctx, tu, seed, stream, fi, fo), "init_glorot_uniform");
    xdt_ok(t, xd_init_he_normal(t->ctx, tn, seed, stream + 1, fi), "init_he_normal");
    float *du = adown(&a, t, tu), *dn = adown(&a, t, tn);
    if (a.bad) goto done;
    xd_host_init_uniform(hu, n, seed, stream, limit);
    xd_host_init_normal(hn, n, seed, stream + 1, stddev);
    xdt_bitwise(t, "init_glorot_uniform vs host", du, hu, n);
    xdt_bitwise(t, "init_he_normal vs host", dn, hn, n);
    float lf = (float)limit;
    size_t out = 0, bad = 0;
    double sum = 0, sq = 0, umin = INFINITY, umax = -INFINITY;
    for (size_t i = 0; i < n; ++i) {
        if (!(du[i] >= -lf && du[i] < lf)) out++;
        if (!isfinite(dn[i])) bad++;
        sum += dn[i], sq += (double)dn[i] * dn[i];
        umin = fmin(umin, du[i]), umax = fmax(umax, du[i]);
    }
    xdt_check(t, out == 0, "glorot: %zu of %zu values outside [-%g, %g)", out, n, (double)lf, (double)lf);
    xdt_check(t, bad == 0, "he_normal: %zu non-finite values", bad);
    if (stats) {
        double mean = sum / (double)n, sd = sqrt(sq / (double)n - mean * mean);
        printf("  he_normal n=%zu: mean %.3g, std %.6g (want %.6g); glorot range [%.6g, %.6g] of +-%.6g\n", n, mean, sd,
               stddev, umin, umax, limit);
        xdt_check(t, fabs(mean) < 5 * stddev / sqrt((double)n), "he_normal mean %g beyond 5 sigma", mean);
        xdt_check(t, fabs(sd / stddev - 1) < 5 / sqrt(2.0 * (double)n), "he_normal std %g, want %g", sd, stddev);
        xdt_check(t, umin < -0.999 * limit && umax > 0.999 * limit, "glorot range [%g, %g] does not reach +-%g", umin,
                  umax, limit);
    }
    /* another stream, another draw */
    xdt_ok(t, xd_init_glorot_uniform(t->ctx, tu, seed, stream + 2, fi, fo), "init_glorot_uniform");
    float *du2 = adown(&a, t, tu);
    if (du2)
        xdt_check(t, memcmp(du, du2, n * 4) != 0, "glorot: streams %llu and %llu give the same values",
                  (unsigned long long)stream, (unsigned long long)stream + 2);
    xdt_ok(t, xd_init_zeros(t->ctx, tu), "init_zeros");
    float *z = adown(&a, t, tu);
    if (z) {
        size_t nz = 0;
        for (size_t i = 0; i < n; ++i) nz += z[i] != 0;
        xdt_check(t, nz == 0, "init_zeros left %zu non-zeros", nz);
    }
done:
    afree(&a);
}

/* ---- pooling ---------------------------------------------------------------------------- */
typedef struct pool_case {
    int n, c, h, w, kh, kw, sh, sw;
    char pad; /* 'v' valid, 's' same */
    int small;
} pool_case;
static const pool_case POOL[] = {
    /* n   c   h   w kh kw sh sw pad small */
    {1, 1, 4, 4, 2, 2, 2, 2, 'v', 1},
    {2, 3, 7, 7, 3, 3, 2, 2, 'v', 1}, /* overlapping windows (pool 3, stride 2) */
    {1, 2, 7, 5, 3, 3, 2, 2, 's', 1}, /* same padding with overlap */
    {2, 1, 5, 6, 2, 2, 1, 1, 's', 1}, /* stride 1 */
    {1, 2, 7, 8, 2, 3, 3, 2, 'v', 1}, /* stride 3 > pool 2: inputs no window covers */
    {1, 1, 3, 3, 3, 3, 1, 1, 's', 1}, /* every window padded */
    {3, 4, 13, 11, 3, 2, 2, 3, 's', 0},
    {32, 32, 26, 26, 2, 2, 2, 2, 'v', 0}, /* mnist-convnet's first MaxPooling2D */
    {32, 64, 11, 11, 2, 2, 2, 2, 'v', 0}, /* its second: 11 -> 5, the last row unused */
    /* disjoint windows (one backward kernel): pairs with a padded last
     * column, 3x3 with uncovered tails, rows longer than a vector, gaps */
    {2, 3, 7, 7, 2, 2, 2, 2, 's', 1},
    {2, 3, 10, 11, 3, 3, 3, 3, 'v', 1},
    {1, 2, 9, 40, 2, 2, 2, 2, 'v', 1},
    {2, 2, 8, 9, 2, 1, 3, 2, 'v', 1},
};

typedef struct pool_loss {
    const xdr_pool *s;
    const double *x, *r;
    double *y;
    int max;
} pool_loss;
/* L = sum(pool(x) * r), so dL/dy = r. */
static double pool_loss_fn(void *p)
{
    pool_loss *l = p;
    if (l->max) xdr_maxpool_forward(l->s, l->x, l->y);
    else xdr_avgpool_forward(l->s, l->x, l->y);
    double sum = 0;
    for (size_t i = 0; i < (size_t)(l->s->n * l->s->c * l->s->oh * l->s->ow); ++i) sum += l->y[i] * l->r[i];
    return sum;
}

/* The most windows that cover one input along an axis. */
static int pool_cover(int k, int s) { return (k + s - 1) / s; }

static void test_pool(xdt *t, const pool_case *pc, int idx)
{
    xd_pool2d_params p = pc->pad == 's' ? xd_pool2d_same(pc->h, pc->w, pc->kh, pc->kw, pc->sh, pc->sw)
                                        : xd_pool2d_valid(pc->kh, pc->kw, pc->sh, pc->sw);
    char tag[160], what[200];
    snprintf(tag, sizeof tag, "pool[%d] x%dx%dx%dx%d pool %dx%d s%d,%d pad %d,%d,%d,%d", idx, pc->n, pc->c, pc->h,
             pc->w, pc->kh, pc->kw, pc->sh, pc->sw, p.pad_top, p.pad_bottom, p.pad_left, p.pad_right);
    xdr_pool s;
    if (!xdt_check(t, xdr_pool_init(&s, pc->n, pc->c, pc->h, pc->w, p), "%s: empty", tag)) return;
    if (pc->pad == 's')
        xdt_check(t, s.oh == (pc->h + pc->sh - 1) / pc->sh && s.ow == (pc->w + pc->sw - 1) / pc->sw,
                  "%s: same padding gives %lldx%lld, not ceil(in / stride)", tag, (long long)s.oh, (long long)s.ow);
    size_t nx = (size_t)(s.n * s.c * s.h * s.w), ny = (size_t)(s.n * s.c * s.oh * s.ow);
    arena a = {0};
    uint32_t seed = 5000u + 10u * (uint32_t)idx;
    float *x = afill(&a, nx, seed + 1, -1, 1), *dy = afill(&a, ny, seed + 2, -1, 1);
    int64_t xs[4] = {s.n, s.c, s.h, s.w}, ys[4] = {s.n, s.c, s.oh, s.ow};
    xd_tensor *tx = aup(&a, t, XD_DTYPE_F32, 4, xs, x), *tdy = aup(&a, t, XD_DTYPE_F32, 4, ys, dy);
    xd_tensor *tym = aup(&a, t, XD_DTYPE_F32, 4, ys, NULL), *tdxm = aup(&a, t, XD_DTYPE_F32, 4, xs, NULL);
    xd_tensor *tya = aup(&a, t, XD_DTYPE_F32, 4, ys, NULL), *tdxa = aup(&a, t, XD_DTYPE_F32, 4, xs, NULL);
    if (a.bad) goto done;
    double taps = (double)(pc->kh * pc->kw), cover = (double)(pool_cover(pc->kh, pc->sh) * pool_cover(pc->kw, pc->sw));
    out_spec o[4] = {{"maxpool forward", T_POOL, ny, 1, {0}, 0},
                     {"maxpool backward", T_POOL, nx, cover, {0}, 0},
                     {"avgpool forward", T_POOL, ny, taps, {0}, 0},
                     {"avgpool backward", T_POOL, nx, cover, {0}, 0}};
    xd_tensor *outs[4] = {tym, tdxm, tya, tdxa};
    for (int run = 0; run < 2; ++run) {
        xdt_ok(t, xd_maxpool2d_forward(t->ctx, &p, tx, tym), "maxpool2d_forward");
        xdt_ok(t, xd_maxpool2d_backward(t->ctx, &p, tx, tdy, tdxm), "maxpool2d_backward");
        xdt_ok(t, xd_avgpool2d_forward(t->ctx, &p, tx, tya), "avgpool2d_forward");
        xdt_ok(t, xd_avgpool2d_backward(t->ctx, &p, tdy, tdxa), "avgpool2d_backward");
        for (int i = 0; i < 4; ++i) o[i].got[run] = adown(&a, t, outs[i]);
    }
    double *xd = adbl(&a, x, nx), *dyd = adbl(&a, dy, ny);
    for (int i = 0; i < 4; ++i) o[i].ref = ad(&a, i % 2 ? nx : ny);
    float *maxf = af(&a, ny);
    if (a.bad) goto done;
    xdr_maxpool_forward(&s, xd, o[0].ref);
    xdr_maxpool_backward(&s, xd, dyd, o[1].ref);
    xdr_avgpool_forward(&s, xd, o[2].ref);
    xdr_avgpool_backward(&s, dyd, o[3].ref);
    compare_outputs(t, tag, o, 4);
    /* the maximum is one of the inputs: exact */
    for (size_t i = 0; i < ny; ++i) maxf[i] = (float)o[0].ref[i];
    snprintf(what, sizeof what, "%s maxpool forward == reference, bit for bit", tag);
    xdt_bitwise(t, what, o[0].got[0], maxf, ny);
    if ((double)ny * taps * (double)nx < 4e7) {
        pool_loss pl = {&s, xd, dyd, ad(&a, ny), 1};
        if (!pl.y) goto done;
        /* max: piecewise linear, a small step never crosses a tie of these inputs */
        snprintf(what, sizeof what, "%s FD maxpool dL/dx", tag);
        fd_check(t, what, pool_loss_fn, &pl, xd, nx, o[1].got[0], 1e-6);
        pl.max = 0;
        snprintf(what, sizeof what, "%s FD avgpool dL/dx", tag);
        fd_check(t, what, pool_loss_fn, &pl, xd, nx, o[3].got[0], 1e-3);
    }
done:
    afree(&a);
}

/* Ties, NaN and -inf on one 4x5 plane, pool 3x3 stride 2: two windows, columns
 * 0-2 and 2-4, sharing column 2. */
static void test_pool_ties(xdt *t)
{
    arena a = {0};
    xd_pool2d_params p = xd_pool2d_valid(3, 3, 2, 2);
    int64_t xs[4] = {1, 1, 4, 5}, ys[4] = {1, 1, 1, 2};
    float x[20], dy[2] = {3, 5}, want[20];
    xd_tensor *tx = aup(&a, t, XD_DTYPE_F32, 4, xs, NULL), *tdy = aup(&a, t, XD_DTYPE_F32, 4, ys, dy);
    xd_tensor *ty = aup(&a, t, XD_DTYPE_F32, 4, ys, NULL), *tdx = aup(&a, t, XD_DTYPE_F32, 4, xs, NULL);
    if (a.bad) goto done;
    /* all equal: each window's first tap (0,0) and (0,2) takes its gradient */
    for (int i = 0; i < 20; ++i) x[i] = 2.0f, want[i] = 0.0f;
    want[0] = 3, want[2] = 5;
    xdt_ok(t, xd_tensor_write(tx, x, sizeof x), "tensor_write");
    xdt_ok(t, xd_maxpool2d_backward(t->ctx, &p, tx, tdy, tdx), "maxpool2d_backward (ties)");
    float *g = adown(&a, t, tdx);
    if (g) xdt_bitwise(t, "maxpool ties: first maximum in row-major order", g, want, 20);
    /* a tie at (1,2) and (2,2), inside both windows: (1,2) takes both gradients */
    for (int i = 0; i < 20; ++i) x[i] = 0.0f, want[i] = 0.0f;
    x[7] = x[12] = 7.0f;
    want[7] = 8;
    xdt_ok(t, xd_tensor_write(tx, x, sizeof x), "tensor_write");
    xdt_ok(t, xd_maxpool2d_backward(t->ctx, &p, tx, tdy, tdx), "maxpool2d_backward (shared argmax)");
    g = adown(&a, t, tdx);
    if (g) xdt_bitwise(t, "maxpool: two windows with one argmax add their gradients", g, want, 20);
    /* NaN in the second window only; -inf everywhere in the first */
    for (int i = 0; i < 20; ++i) x[i] = -INFINITY;
    x[13] = NAN, x[14] = 1.0f;
    xdt_ok(t, xd_tensor_write(tx, x, sizeof x), "tensor_write");
    xdt_ok(t, xd_maxpool2d_forward(t->ctx, &p, tx, ty), "maxpool2d_forward (NaN, -inf)");
    float *y = adown(&a, t, ty);
    if (y)
        xdt_check(t, y[0] == -INFINITY && isnan(y[1]), "maxpool: window of -inf gives %g, window with NaN gives %g",
                  (double)y[0], (double)y[1]);
done:
    afree(&a);
}

/* ---- dropout ---------------------------------------------------------------------------- */
static void test_dropout(xdt *t, size_t n, double rate, int idx)
{
    char tag[96], what[160];
    snprintf(tag, sizeof tag, "dropout[%d] n=%zu rate=%g", idx, n, rate);
    const uint64_t seed = 0xd20f0f5eedULL + (uint64_t)idx, stream = 0x100000000ULL * 3 + 41;
    arena a = {0};
    float *x = afill(&a, n, 6000u + (uint32_t)idx, 0.5f, 1.5f), *dy = afill(&a, n, 6100u + (uint32_t)idx, 0.5f, 1.5f);
    uint8_t *mask = akeep(&a, calloc(n, 1)), *other = akeep(&a, calloc(n, 1));
    int64_t shape[2] = {(int64_t)n / 4, 4};
    xd_tensor *tx = aup(&a, t, XD_DTYPE_F32, 2, shape, x), *tdy = aup(&a, t, XD_DTYPE_F32, 2, shape, dy);
    xd_tensor *ty = aup(&a, t, XD_DTYPE_F32, 2, shape, NULL), *tdx = aup(&a, t, XD_DTYPE_F32, 2, shape, NULL);
    float *want = af(&a, n);
    if (a.bad) goto done;
    for (size_t i = 0; i < n; i += 2) x[i] = -x[i]; /* both signs, never 0: y != 0 exactly where kept */
    if (!xdt_ok(t, xd_tensor_write(tx, x, n * 4), "tensor_write")) goto done;
    out_spec o[2] = {{"forward", T_DROPOUT, n, 1, {0}, 0}, {"backward", T_DROPOUT, n, 1, {0}, 0}};
    for (int run = 0; run < 2; ++run) {
        xdt_ok(t, xd_dropout_forward(t->ctx, tx, rate, seed, stream, ty), "dropout_forward");
        xdt_ok(t, xd_dropout_backward(t->ctx, tdy, rate, seed, stream, tdx), "dropout_backward");
        o[0].got[run] = adown(&a, t, ty);
        o[1].got[run] = adown(&a, t, tdx);
    }
    double *xd = adbl(&a, x, n), *dyd = adbl(&a, dy, n);
    o[0].ref = ad(&a, n), o[1].ref = ad(&a, n);
    if (a.bad) goto done;
    float keep = xd_dropout_keep_scale(rate);
    xdt_check(t, keep == (float)(1.0 - rate), "%s: keep %a is not (float)(1 - rate)", tag, (double)keep);
    xd_host_dropout_mask(mask, n, seed, stream, rate);
    xdr_dropout(xd, mask, keep, o[0].ref, n);
    xdr_dropout(dyd, mask, keep, o[1].ref, n);
    compare_outputs(t, tag, o, 2);
    /* the device's mask (where y, dx are non-zero) is the host's, bit for bit */
    size_t kept = 0, bad = 0;
    for (size_t i = 0; i < n; ++i) {
        kept += mask[i];
        bad += (o[0].got[0][i] != 0) != mask[i] || (o[1].got[0][i] != 0) != mask[i];
    }
    xdt_check(t, bad == 0, "%s: %zu elements where the device mask differs from xd_host_dropout_mask", tag, bad);
    double frac = (double)kept / (double)n, sd = sqrt(keep * (1.0 - keep) / (double)n);
    printf("  %s: kept %.4f (keep %.4f)\n", tag, frac, (double)keep);
    xdt_check(t, rate == 0 ? kept == n : fabs(frac - keep) <= 5 * sd + 1e-12, "%s: kept fraction %.5f, keep %.5f", tag,
              frac, (double)keep);
    if (xd_context_mode(t->ctx) == XD_MODE_REPRODUCIBLE) {
        for (size_t i = 0; i < n; ++i) want[i] = mask[i] ? xd_host_div(x[i], keep) : 0.0f;
        snprintf(what, sizeof what, "%s forward == host mask and division", tag);
        xdt_bitwise(t, what, o[0].got[0], want, n);
    }
    if (rate == 0) {
        snprintf(what, sizeof what, "%s rate 0 is the identity", tag);
        xdt_bitwise(t, what, o[0].got[0], x, n);
    } else {
        xd_host_dropout_mask(other, n, seed, stream + 1, rate);
        xdt_check(t, memcmp(mask, other, n) != 0, "%s: streams %llu and %llu give the same mask", tag,
                  (unsigned long long)stream, (unsigned long long)stream + 1);
    }
done:
    afree(&a);
}

/* ---- batch normalization ------------------------------------------------------------------ */
typedef struct bn_case {
    int n, c, h, w;
    int gamma, beta; /* scale / center */
    int nd;          /* 2: x given as [n, c] (h = w = 1) */
    float offset;    /* added to x: statistics away from 0 */
    int small;
} bn_case;
static const bn_case BN[] = {
    /* n   c   h   w  g  b nd offset small */
    {1, 1, 1, 5, 1, 1, 4, 0, 1},                                  /* batch 1, one channel */
    {2, 3, 4, 5, 1, 1, 4, 0, 1},    {3, 2, 5, 3, 0, 0, 4, 20, 1}, /* no gamma, no beta; mean near 20 */
    {4, 5, 1, 1, 1, 0, 2, 0, 1},                                  /* [N, C], after a Dense */
    {5, 3, 2, 2, 0, 1, 4, 0, 1},    {32, 32, 13, 13, 1, 1, 4, 0, 0},
    {7, 3, 9, 11, 1, 1, 4, -30, 0}, /* mean -30, spread 0.58: the variance must be two-pass */
};
static const double BN_EPS = 1e-3, BN_MOMENTUM = 0.99;

typedef struct bn_loss {
    int64_t n, c, hw;
    const double *x, *gamma, *beta, *r;
    double *y, *mean, *var;
} bn_loss;
/* L = sum(bn_train(x) * r) with the batch statistics. */
static double bn_loss_fn(void *p)
{
    bn_loss *b = p;
    xdr_batchnorm_train_forward(b->n, b->c, b->hw, b->x, b->gamma, b->beta, BN_EPS, b->y, b->mean, b->var);
    double l = 0;
    for (int64_t i = 0; i < b->n * b->c * b->hw; ++i) l += b->y[i] * b->r[i];
    return l;
}

/* Outputs of one batch-norm case, in out_spec order. */
enum { BN_Y, BN_MEAN, BN_VAR, BN_DX, BN_DGAMMA, BN_DBETA, BN_MM, BN_MV, BN_YINF, BN_NOUT };

static void bn_device(xdt *t, arena *a, xd_tensor *const *ts, const bn_case *bc, out_spec *o, int run)
{
    /* ts: x, dy, gamma, beta, then the outputs in BN_ order */
    xd_tensor *g = bc->gamma ? ts[2] : NULL, *b = bc->beta ? ts[3] : NULL;
    xd_tensor *const *out = ts + 4;
    xdt_ok(t, xd_batchnorm_train_forward(t->ctx, ts[0], g, b, BN_EPS, out[BN_Y], out[BN_MEAN], out[BN_VAR]),
           "batchnorm_train_forward");
    xdt_ok(t,
           xd_batchnorm_train_backward(t->ctx, ts[0], ts[1], g, out[BN_MEAN], out[BN_VAR], BN_EPS, out[BN_DX],
                                       g ? out[BN_DGAMMA] : NULL, b ? out[BN_DBETA] : NULL),
           "batchnorm_train_backward");
    xdt_ok(t, xd_batchnorm_update_moving(t->ctx, BN_MOMENTUM, out[BN_MEAN], out[BN_VAR], out[BN_MM], out[BN_MV]),
           "batchnorm_update_moving");
    xdt_ok(t, xd_batchnorm_inference_forward(t->ctx, ts[0], g, b, out[BN_MM], out[BN_MV], BN_EPS, out[BN_YINF]),
           "batchnorm_inference_forward");
    for (int i = 0; i < BN_NOUT; ++i) o[i].got[run] = adown(a, t, out[i]);
}

/* y = x inv + (beta - mean inv) rounds each term relative to its own size,
 * and the statistics' error (~ u sqrt(M) of the sums) reaches y relative to
 * |x inv| + |mean inv| + the spread: per-element limits, not the rms of y
 * (a mean far from 0 makes the terms much larger than y, in Keras too). */
static void bn_y_limits(const bn_case *bc, int64_t hw, const double *x, const double *gamma, const double *beta,
                        const double *mean, const double *var, const double *ref, double *lim)
{
    double sk = sqrt((double)(bc->n * hw));
    for (int64_t i = 0; i < bc->n * bc->c * hw; ++i) {
        int64_t ch = (i / hw) % bc->c;
        double inv = (gamma ? fabs(gamma[ch]) : 1.0) / sqrt(var[ch] + BN_EPS);
        double scale = (fabs(x[i]) + fabs(mean[ch]) + sqrt(var[ch])) * inv + (beta ? fabs(beta[ch]) : 0.0);
        lim[i] = TOL[T_BN].abs * sk * scale + TOL[T_BN].rel * fabs(ref[i]);
    }
}

static void bn_check_y(xdt *t, const char *tag, const char *name, const out_spec *o, const double *lim)
{
    char what[200];
    snprintf(what, sizeof what, "%s %s run-to-run", tag, name);
    xdt_bitwise(t, what, o->got[0], o->got[1], o->n);
    snprintf(what, sizeof what, "%s %s", tag, name);
    close_to(t, T_BN, what, o->got[0], o->ref, lim, o->n, 0, 1);
}

static void test_batchnorm(xdt *t, const bn_case *bc, int idx)
{
    char tag[128], what[200];
    snprintf(tag, sizeof tag, "batchnorm[%d] x%dx%dx%dx%d%s%s%s offset %g", idx, bc->n, bc->c, bc->h, bc->w,
             bc->gamma ? " gamma" : "", bc->beta ? " beta" : "", bc->nd == 2 ? " (2-D)" : "", (double)bc->offset);
    int64_t hw = (int64_t)bc->h * bc->w, m = bc->n * hw;
    size_t nx = (size_t)(bc->n * bc->c * hw), nc = (size_t)bc->c;
    arena a = {0};
    uint32_t seed = 7000u + 10u * (uint32_t)idx;
    float *x = afill(&a, nx, seed + 1, -1, 1), *dy = afill(&a, nx, seed + 2, -1, 1);
    float *gamma = afill(&a, nc, seed + 3, 0.5f, 1.5f), *beta = afill(&a, nc, seed + 4, -1, 1);
    float *mm = afill(&a, nc, seed + 5, -1, 1), *mv = afill(&a, nc, seed + 6, 0.5f, 1.5f);
    if (a.bad) goto done;
    for (size_t i = 0; i < nx; ++i) x[i] += bc->offset;
    int64_t xs4[4] = {bc->n, bc->c, bc->h, bc->w}, xs2[2] = {bc->n, bc->c}, cs[1] = {bc->c};
    const int64_t *xs = bc->nd == 2 ? xs2 : xs4;
    xd_tensor *ts[4 + BN_NOUT] = {aup(&a, t, XD_DTYPE_F32, bc->nd, xs, x), aup(&a, t, XD_DTYPE_F32, bc->nd, xs, dy),
                                  aup(&a, t, XD_DTYPE_F32, 1, cs, gamma), aup(&a, t, XD_DTYPE_F32, 1, cs, beta)};
    for (int i = 0; i < BN_NOUT; ++i) {
        int per_channel = i != BN_Y && i != BN_DX && i != BN_YINF;
        ts[4 + i] = aup(&a, t, XD_DTYPE_F32, per_channel ? 1 : bc->nd, per_channel ? cs : xs,
                        i == BN_MM   ? mm
                        : i == BN_MV ? mv
                                     : NULL);
    }
    if (a.bad) goto done;
    double k = (double)m;
    out_spec o[BN_NOUT] = {{"y", T_BN, nx, k, {0}, 0},
                           {"mean", T_BN, nc, k, {0}, 0},
                           {"var", T_BN, nc, k, {0}, 0},
                           {"dx", T_BN, nx, k, {0}, 0},
                           {"dgamma", T_BN, nc, k, {0}, 0},
                           {"dbeta", T_BN, nc, k, {0}, 0},
                           {"moving_mean", T_BN_MOVING, nc, 1, {0}, 0},
                           {"moving_var", T_BN_MOVING, nc, 1, {0}, 0},
                           {"inference y", T_BN, nx, k, {0}, 0}};
    for (int run = 0; run < 2; ++run) {
        if (run && (xd_tensor_write(ts[4 + BN_MM], mm, nc * 4) != XD_OK ||
                    xd_tensor_write(ts[4 + BN_MV], mv, nc * 4) != XD_OK))
            a.bad = 1;
        bn_device(t, &a, ts, bc, o, run);
    }
    /* the ReLU fused into the store: the ReLU of the same y, the same statistics */
    xd_tensor *try = aup(&a, t, XD_DTYPE_F32, bc->nd, xs, NULL), *trm = aup(&a, t, XD_DTYPE_F32, 1, cs, NULL),
              *trv = aup(&a, t, XD_DTYPE_F32, 1, cs, NULL);
    if (a.bad) goto done;
    xdt_ok(t,
           xd_batchnorm_train_forward_relu(t->ctx, ts[0], bc->gamma ? ts[2] : NULL, bc->beta ? ts[3] : NULL, BN_EPS,
                                           try, trm, trv),
           "batchnorm_train_forward_relu");
    float *gry = adown(&a, t, try), *grm = adown(&a, t, trm), *grv = adown(&a, t, trv), *wry = af(&a, nx);
    if (a.bad || !o[BN_Y].got[0] || !o[BN_MEAN].got[0] || !o[BN_VAR].got[0]) goto done;
    for (size_t i = 0; i < nx; ++i) wry[i] = o[BN_Y].got[0][i] > 0.0f ? o[BN_Y].got[0][i] : 0.0f;
    snprintf(what, sizeof what, "%s train_forward_relu == relu(train_forward)", tag);
    xdt_bitwise(t, what, gry, wry, nx);
    snprintf(what, sizeof what, "%s train_forward_relu: the same mean and var", tag);
    xdt_bitwise(t, what, grm, o[BN_MEAN].got[0], nc);
    xdt_bitwise(t, what, grv, o[BN_VAR].got[0], nc);
    double *xd = adbl(&a, x, nx), *dyd = adbl(&a, dy, nx), *gd = adbl(&a, gamma, nc), *bd = adbl(&a, beta, nc);
    for (int i = 0; i < BN_NOUT; ++i) o[i].ref = ad(&a, o[i].n);
    double *mmd = adbl(&a, mm, nc), *mvd = adbl(&a, mv, nc);
    if (a.bad) goto done;
    const double *g = bc->gamma ? gd : NULL, *b = bc->beta ? bd : NULL;
    xdr_batchnorm_train_forward(bc->n, bc->c, hw, xd, g, b, BN_EPS, o[BN_Y].ref, o[BN_MEAN].ref, o[BN_VAR].ref);
    xdr_batchnorm_train_backward(bc->n, bc->c, hw, xd, dyd, g, BN_EPS, o[BN_DX].ref, o[BN_DGAMMA].ref, o[BN_DBETA].ref);
    memcpy(o[BN_MM].ref, mmd, nc * sizeof(double));
    memcpy(o[BN_MV].ref, mvd, nc * sizeof(double));
    xdr_batchnorm_update_moving(bc->c, BN_MOMENTUM, o[BN_MEAN].ref, o[BN_VAR].ref, o[BN_MM].ref, o[BN_MV].ref);
    xdr_batchnorm_inference(bc->n, bc->c, hw, xd, g, b, o[BN_MM].ref, o[BN_MV].ref, BN_EPS, o[BN_YINF].ref);
    int skip_dg = !bc->gamma, skip_db = !bc->beta; /* not computed without gamma / beta */
    for (int i = 0; i < BN_NOUT; ++i)
        if (i != BN_Y && i != BN_YINF && !(i == BN_DGAMMA && skip_dg) && !(i == BN_DBETA && skip_db))
            compare_outputs(t, tag, &o[i], 1);
    double *lim = ad(&a, nx);
    if (!lim) goto done;
    bn_y_limits(bc, hw, xd, g, b, o[BN_MEAN].ref, o[BN_VAR].ref, o[BN_Y].ref, lim);
    bn_check_y(t, tag, "y", &o[BN_Y], lim);
    bn_y_limits(bc, hw, xd, g, b, o[BN_MM].ref, o[BN_MV].ref, o[BN_YINF].ref, lim);
    bn_check_y(t, tag, "inference y", &o[BN_YINF], lim);
    if ((double)nx * (double)(nx + 2 * nc) < 4e7) {
        bn_loss bl = {bc->n, bc->c, hw, xd, gd, bd, dyd, ad(&a, nx), ad(&a, nc), ad(&a, nc)};
        if (!bl.y || !bl.mean || !bl.var) goto done;
        bl.gamma = g, bl.beta = b;
        snprintf(what, sizeof what, "%s FD dL/dx", tag);
        fd_check(t, what, bn_loss_fn, &bl, xd, nx, o[BN_DX].got[0], 1e-4);
        if (g) {
            snprintf(what, sizeof what, "%s FD dL/dgamma", tag);
            fd_check(t, what, bn_loss_fn, &bl, gd, nc, o[BN_DGAMMA].got[0], 1e-4);
        }
        if (b) {
            snprintf(what, sizeof what, "%s FD dL/dbeta", tag);
            fd_check(t, what, bn_loss_fn, &bl, bd, nc, o[BN_DBETA].got[0], 1e-4);
        }
    }
done:
    afree(&a);
}

/* ---- softmax ---------------------------------------------------------------------------------- */
typedef struct softmax_case {
    int n, k;
    float range;
    int small;
} softmax_case;
static const softmax_case SOFTMAX[] = {
    {1, 1, 3, 1}, {1, 10, 3, 1}, {7, 3, 5, 1}, {4, 10, 30, 1}, {32, 10, 3, 0}, {33, 1000, 10, 0},
};

typedef struct softmax_loss {
    int64_t n, k;
    const double *z, *r;
    double *y;
} softmax_loss;
static double softmax_loss_fn(void *p)
{
    softmax_loss *s = p;
    xdr_softmax_forward(s->n, s->k, s->z, s->y);
    double l = 0;
    for (int64_t i = 0; i < s->n * s->k; ++i) l += s->y[i] * s->r[i];
    return l;
}

static void test_softmax(xdt *t, const softmax_case *sc, int idx)
{
    char tag[96], what[160];
    snprintf(tag, sizeof tag, "softmax[%d] %dx%d range %g", idx, sc->n, sc->k, (double)sc->range);
    size_t nz = (size_t)sc->n * (size_t)sc->k;
    arena a = {0};
    float *z = afill(&a, nz, 8000u + (uint32_t)idx, -sc->range, sc->range),
          *dy = afill(&a, nz, 8100u + (uint32_t)idx, -1, 1);
    int64_t zs[2] = {sc->n, sc->k};
    xd_tensor *tz = aup(&a, t, XD_DTYPE_F32, 2, zs, z), *tdy = aup(&a, t, XD_DTYPE_F32, 2, zs, dy);
    xd_tensor *ty = aup(&a, t, XD_DTYPE_F32, 2, zs, NULL), *tdx = aup(&a, t, XD_DTYPE_F32, 2, zs, NULL);
    if (a.bad) goto done;
    out_spec o[2] = {{"forward", T_SOFTMAX, nz, sc->k, {0}, 0}, {"backward", T_SOFTMAX, nz, sc->k, {0}, 0}};
    for (int run = 0; run < 2; ++run) {
        xdt_ok(t, xd_softmax_forward(t->ctx, tz, ty), "softmax_forward");
        xdt_ok(t, xd_softmax_backward(t->ctx, ty, tdy, tdx), "softmax_backward");
        o[0].got[run] = adown(&a, t, ty);
        o[1].got[run] = adown(&a, t, tdx);
    }
    double *zd = adbl(&a, z, nz), *dyd = adbl(&a, dy, nz), *yd = NULL;
    o[0].ref = ad(&a, nz), o[1].ref = ad(&a, nz);
    if (a.bad) goto done;
    xdr_softmax_forward(sc->n, sc->k, zd, o[0].ref);
    /* the backward from the device's y: the op's input, not a second forward's rounding */
    if (!(yd = adbl(&a, o[0].got[0], nz))) goto done;
    xdr_softmax_backward(sc->n, sc->k, yd, dyd, o[1].ref);
    /* Per-element error scales, not the rms of the result: every y_j of a
     * row shares the rounding of the row's sum (relative ~ u sqrt(K)), and
     * exp(z_j - m) inherits the rounding of its argument (relative u |z_j - m|);
     * dx_j = y_j (dy_j - d) cancels where dy_j ~ d, so its scale is
     * y_j (|dy_j| + sum |dy y|). */
    double *lim[2] = {ad(&a, nz), ad(&a, nz)};
    if (!lim[0] || !lim[1]) goto done;
    const double ta = TOL[T_SOFTMAX].abs, tr = TOL[T_SOFTMAX].rel, sk = sqrt((double)sc->k);
    for (size_t r = 0; r < (size_t)sc->n; ++r) {
        const double *zr = zd + r * (size_t)sc->k;
        double d = 0, m = zr[0];
        for (size_t j = 0; j < (size_t)sc->k; ++j) d += fabs(dyd[r * (size_t)sc->k + j] * yd[r * (size_t)sc->k + j]);
        for (size_t j = 1; j < (size_t)sc->k; ++j) m = fmax(m, zr[j]);
        for (size_t j = 0; j < (size_t)sc->k; ++j) {
            size_t i = r * (size_t)sc->k + j;
            lim[0][i] = (ta * (sk + fabs(zr[j] - m)) + tr) * fabs(o[0].ref[i]);
            lim[1][i] = (ta * sk + tr) * yd[i] * (fabs(dyd[i]) + d);
        }
    }
    static const char *const dir[2] = {"forward", "backward"};
    for (int i = 0; i < 2; ++i) {
        snprintf(what, sizeof what, "%s %s run-to-run", tag, dir[i]);
        xdt_bitwise(t, what, o[i].got[0], o[i].got[1], nz);
        snprintf(what, sizeof what, "%s %s", tag, dir[i]);
        close_to(t, T_SOFTMAX, what, o[i].got[0], o[i].ref, lim[i], nz, 0, 1);
    }
    if (nz <= 400) {
        softmax_loss sl = {sc->n, sc->k, zd, dyd, ad(&a, nz)};
        if (!sl.y) goto done;
        snprintf(what, sizeof what, "%s FD dL/dz", tag);
        fd_check(t, what, softmax_loss_fn, &sl, zd, nz, o[1].got[0], 1e-4);
    }
done:
    afree(&a);
}

/* ---- global average pooling, Add, Concatenate ------------------------------------------------- */
typedef struct merge_case {
    int n, c1, c2, h, w; /* h = w = 0: features [n, c] (Concatenate after a Dense) */
    int small;
} merge_case;
static const merge_case MERGE[] = {
    /* n  c1  c2   h   w small */
    {1, 1, 1, 1, 1, 1},     {2, 3, 5, 4, 5, 1}, {3, 4, 2, 7, 7, 1},    /* odd planes */
    {2, 6, 3, 0, 0, 1},     {1, 2, 7, 1, 9, 1}, {32, 64, 64, 8, 8, 0}, /* a ResNet head */
    {8, 16, 32, 28, 28, 0},
};

typedef struct gap_loss {
    int64_t nc, hw;
    const double *x, *r;
    double *y;
    int max; /* GlobalMaxPooling2D */
} gap_loss;
/* L = sum(pool(x) * r), so dL/dy = r. */
static double gap_loss_fn(void *p)
{
    gap_loss *l = p;
    (l->max ? xdr_global_maxpool_forward : xdr_global_avgpool_forward)(l->nc, l->hw, l->x, l->y);
    double sum = 0;
    for (int64_t i = 0; i < l->nc; ++i) sum += l->y[i] * l->r[i];
    return sum;
}

/* Global average pooling (max: global max pooling): the device's sum of
 * the plane against the double mean (K = H*W; max: the maximum), its
 * backward, finite differences, and the same bits as AveragePooling2D
 * (MaxPooling2D) with the plane as its window.  ties: inputs on a grid of
 * 1/4, so that a plane often has several maxima (no finite differences). */
static void test_global_pool(xdt *t, const merge_case *mc, int idx, int max, int ties)
{
    if (mc->h == 0) return;
    char tag[128], what[200];
    snprintf(tag, sizeof tag, "global_%spool[%d]%s x%dx%dx%dx%d", max ? "max" : "avg", idx, ties ? " ties" : "", mc->n,
             mc->c1, mc->h, mc->w);
    const int64_t nc = (int64_t)mc->n * mc->c1, hw = (int64_t)mc->h * mc->w;
    arena a = {0};
    float *x = afill(&a, (size_t)(nc * hw), (max ? 9700u : 9000u) + (uint32_t)idx, -1, 1),
          *dy = afill(&a, (size_t)nc, (max ? 9800u : 9100u) + (uint32_t)idx, -1, 1);
    if (a.bad) goto done;
    for (int64_t i = 0; ties && i < nc * hw; ++i) x[i] = roundf(x[i] * 4.0f) / 4.0f;
    int64_t xs[4] = {mc->n, mc->c1, mc->h, mc->w}, ys[2] = {mc->n, mc->c1}, y4[4] = {mc->n, mc->c1, 1, 1};
    xd_tensor *tx = aup(&a, t, XD_DTYPE_F32, 4, xs, x), *tdy = aup(&a, t, XD_DTYPE_F32, 2, ys, dy);
    xd_tensor *ty = aup(&a, t, XD_DTYPE_F32, 2, ys, NULL), *tdx = aup(&a, t, XD_DTYPE_F32, 4, xs, NULL);
    xd_tensor *tp = aup(&a, t, XD_DTYPE_F32, 4, y4, NULL);
    if (a.bad) goto done;
    out_spec o[2] = {{"forward", T_POOL, (size_t)nc, max ? 1 : (double)hw, {0}, 0},
                     {"backward", T_POOL, (size_t)(nc * hw), 1, {0}, 0}};
    for (int run = 0; run < 2; ++run) {
        xdt_ok(t, (max ? xd_global_maxpool2d_forward : xd_global_avgpool2d_forward)(t->ctx, tx, ty), "forward");
        xdt_ok(t,
               max ? xd_global_maxpool2d_backward(t->ctx, tx, tdy, tdx)
                   : xd_global_avgpool2d_backward(t->ctx, tdy, tdx),
               "backward");
        o[0].got[run] = adown(&a, t, ty);
        o[1].got[run] = adown(&a, t, tdx);
    }
    xd_pool2d_params plane = xd_pool2d_valid(mc->h, mc->w, 1, 1);
    xdt_ok(t, (max ? xd_maxpool2d_forward : xd_avgpool2d_forward)(t->ctx, &plane, tx, tp),
           "pool2d, the plane as window");
    float *pooled = adown(&a, t, tp);
    double *xd = adbl(&a, x, (size_t)(nc * hw)), *dyd = adbl(&a, dy, (size_t)nc);
    o[0].ref = ad(&a, (size_t)nc), o[1].ref = ad(&a, (size_t)(nc * hw));
    if (a.bad) goto done;
    (max ? xdr_global_maxpool_forward : xdr_global_avgpool_forward)(nc, hw, xd, o[0].ref);
    if (max) xdr_global_maxpool_backward(nc, hw, xd, dyd, o[1].ref);
    else xdr_global_avgpool_backward(nc, hw, dyd, o[1].ref);
    compare_outputs(t, tag, o, 2);
    snprintf(what, sizeof what, "%s == %s of the whole plane, bit for bit", tag,
             max ? "MaxPooling2D" : "AveragePooling2D");
    xdt_bitwise(t, what, o[0].got[0], pooled, (size_t)nc);
    if (!ties && nc * hw <= 4096) {
        gap_loss gl = {nc, hw, xd, dyd, ad(&a, (size_t)nc), max};
        if (!gl.y) goto done;
        snprintf(what, sizeof what, "%s FD dL/dx", tag);
        fd_check(t, what, gap_loss_fn, &gl, xd, (size_t)(nc * hw), o[1].got[0], max ? 1e-4 : 1e-3);
    }
done:
    afree(&a);
}

/* Float results the host computes the same way (one addition, or a copy). */
static void host_add(const float *a, const float *b, float *y, size_t n)
{
    for (size_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

typedef struct concat_loss {
    int64_t n, hw;
    int64_t c[2];
    const double *x[2], *r;
    double *y;
} concat_loss;
/* L = sum(concat(x0, x1) * r). */
static double concat_loss_fn(void *p)
{
    concat_loss *l = p;
    xdr_concat(l->n, l->hw, 2, l->c, l->x, l->y);
    double sum = 0;
    for (int64_t i = 0; i < l->n * (l->c[0] + l->c[1]) * l->hw; ++i) sum += l->y[i] * l->r[i];
    return sum;
}

/* Add (and an accumulation in place) and Concatenate with its backward:
 * one addition or a copy per element, so bit for bit what the host gives. */
static void test_merge(xdt *t, const merge_case *mc, int idx)
{
    char tag[128], what[200];
    const int img = mc->h > 0;
    const int64_t hw = img ? (int64_t)mc->h * mc->w : 1, cy = mc->c1 + mc->c2;
    const size_t n1 = (size_t)(mc->n * mc->c1 * hw), n2 = (size_t)(mc->n * mc->c2 * hw), ny = n1 + n2;
    snprintf(tag, sizeof tag, "merge[%d] %dx(%d+%d)x%dx%d", idx, mc->n, mc->c1, mc->c2, mc->h, mc->w);
    arena a = {0};
    uint32_t seed = 9200u + 10u * (uint32_t)idx;
    float *x1 = afill(&a, n1, seed + 1, -1, 1), *b = afill(&a, n1, seed + 2, -1, 1),
          *x2 = afill(&a, n2, seed + 3, -1, 1);
    float *dy = afill(&a, ny, seed + 4, -1, 1), *want = af(&a, ny > n2 ? ny : n2);
    int64_t s1[4] = {mc->n, mc->c1, mc->h, mc->w}, s2[4] = {mc->n, mc->c2, mc->h, mc->w},
            sy[4] = {mc->n, cy, mc->h, mc->w};
    const int nd = img ? 4 : 2;
    xd_tensor *t1 = aup(&a, t, XD_DTYPE_F32, nd, s1, x1), *tb = aup(&a, t, XD_DTYPE_F32, nd, s1, b);
    xd_tensor *t2 = aup(&a, t, XD_DTYPE_F32, nd, s2, x2), *tdy = aup(&a, t, XD_DTYPE_F32, nd, sy, dy);
    xd_tensor *tsum = aup(&a, t, XD_DTYPE_F32, nd, s1, NULL), *tacc = aup(&a, t, XD_DTYPE_F32, nd, s1, x1);
    xd_tensor *ty = aup(&a, t, XD_DTYPE_F32, nd, sy, NULL), *td1 = aup(&a, t, XD_DTYPE_F32, nd, s1, NULL);
    xd_tensor *td2 = aup(&a, t, XD_DTYPE_F32, nd, s2, x2), *trelu = aup(&a, t, XD_DTYPE_F32, nd, s1, NULL);
    if (a.bad) goto done;
    xdt_ok(t, xd_add_relu_forward(t->ctx, t1, tb, trelu), "add_relu_forward");
    xdt_ok(t, xd_add_forward(t->ctx, t1, tb, tsum), "add_forward");
    xdt_ok(t, xd_add_forward(t->ctx, tacc, tb, tacc), "add_forward in place");
    xdt_ok(t, xd_concat_forward(t->ctx, t1, 0, ty), "concat_forward");
    xdt_ok(t, xd_concat_forward(t->ctx, t2, mc->c1, ty), "concat_forward");
    xdt_ok(t, xd_concat_backward(t->ctx, tdy, 0, 0, td1), "concat_backward");
    xdt_ok(t, xd_concat_backward(t->ctx, tdy, mc->c1, 1, td2), "concat_backward, accumulating");
    float *gsum = adown(&a, t, tsum), *gacc = adown(&a, t, tacc), *gy = adown(&a, t, ty);
    float *gd1 = adown(&a, t, td1), *gd2 = adown(&a, t, td2);
    double *ry = ad(&a, ny), *rd = ad(&a, n2), *xd1 = adbl(&a, x1, n1), *xd2 = adbl(&a, x2, n2),
           *dyd = adbl(&a, dy, ny);
    if (a.bad) goto done;
    host_add(x1, b, want, n1);
    snprintf(what, sizeof what, "%s add", tag);
    xdt_bitwise(t, what, gsum, want, n1);
    float *grelu = adown(&a, t, trelu);
    if (!grelu) goto done;
    for (size_t i = 0; i < n1; ++i) want[i] = want[i] > 0.0f ? want[i] : 0.0f; /* no NaN here */
    snprintf(what, sizeof what, "%s add_relu == relu(add)", tag);
    xdt_bitwise(t, what, grelu, want, n1);
    host_add(x1, b, want, n1);
    snprintf(what, sizeof what, "%s add in place (an accumulation)", tag);
    xdt_bitwise(t, what, gacc, want, n1);
    const int64_t c[2] = {mc->c1, mc->c2};
    const double *xs[2] = {xd1, xd2};
    xdr_concat(mc->n, hw, 2, c, xs, ry);
    for (size_t i = 0; i < ny; ++i) want[i] = (float)ry[i];
    snprintf(what, sizeof what, "%s concat forward", tag);
    xdt_bitwise(t, what, gy, want, ny);
    xdr_concat_backward(mc->n, hw, cy, 0, mc->c1, dyd, ry);
    for (size_t i = 0; i < n1; ++i) want[i] = (float)ry[i];
    snprintf(what, sizeof what, "%s concat backward", tag);
    xdt_bitwise(t, what, gd1, want, n1);
    xdr_concat_backward(mc->n, hw, cy, mc->c1, mc->c2, dyd, rd);
    for (size_t i = 0; i < n2; ++i) want[i] = x2[i] + (float)rd[i];
    snprintf(what, sizeof what, "%s concat backward accumulating", tag);
    xdt_bitwise(t, what, gd2, want, n2);
    if (ny <= 4096) { /* the backward is the forward's gradient */
        concat_loss cl = {mc->n, hw, {mc->c1, mc->c2}, {xd1, xd2}, dyd, ad(&a, ny)};
        float *g2 = af(&a, n2);
        if (!cl.y || !g2) goto done;
        for (size_t i = 0; i < n2; ++i) g2[i] = gd2[i] - x2[i];
        snprintf(what, sizeof what, "%s FD concat dL/dx1", tag);
        fd_check(t, what, concat_loss_fn, &cl, xd2, n2, g2, 1e-3);
    }
done:
    afree(&a);
}

/* ---- Keras's L2 regularizer: penalty into a loss, gradient into a gradient ------------------------ */
static void test_l2(xdt *t, size_t n, int idx)
{
    char what[160];
    arena a = {0};
    const double l2 = 0.003;
    const float l2f = (float)l2, loss0 = 0.25f;
    float *w = afill(&a, n, 9700u + (uint32_t)idx, -2, 2), *g = afill(&a, n, 9800u + (uint32_t)idx, -1, 1);
    int64_t sw[1] = {(int64_t)n}, s1[1] = {1};
    xd_tensor *tw = aup(&a, t, XD_DTYPE_F32, 1, sw, w), *tg = aup(&a, t, XD_DTYPE_F32, 1, sw, g);
    xd_tensor *tl = aup(&a, t, XD_DTYPE_F32, 1, s1, &loss0);
    if (a.bad) goto done;
    xdt_ok(t, xd_l2_penalty(t->ctx, tw, l2, tl), "l2_penalty");
    xdt_ok(t, xd_l2_gradient(t->ctx, tw, l2, tg), "l2_gradient");
    float *gl = adown(&a, t, tl), *gg = adown(&a, t, tg), *want = af(&a, n);
    if (a.bad) goto done;
    /* the contract's order in float (squares summed in index order, then one product, one addition) */
    float sum = 0.0f;
    double exact = 0;
    for (size_t j = 0; j < n; ++j) {
        float q = w[j] * w[j];
        sum = sum + q;
        exact += (double)w[j] * w[j];
    }
    float pen = l2f * sum, lw = loss0 + pen;
    snprintf(what, sizeof what, "l2[%d] n=%zu penalty in the contract's order", idx, n);
    /* fast mode may contract and reassociate (Intel's compiler does): the double reference below */
    if (xd_context_mode(t->ctx) == XD_MODE_REPRODUCIBLE) xdt_bitwise(t, what, gl, &lw, 1);
    double ref = loss0 + (double)l2f * exact;
    xdt_check(t, fabs((double)gl[0] - ref) <= 1e-5 * fabs(ref), "l2[%d] penalty %.9g, double reference %.9g", idx,
              (double)gl[0], ref);
    for (size_t j = 0; j < n; ++j) {
        float d = l2f * (2.0f * w[j]);
        want[j] = g[j] + d;
    }
    snprintf(what, sizeof what, "l2[%d] n=%zu gradient g + l2 (2 w)", idx, n);
    if (xd_context_mode(t->ctx) == XD_MODE_REPRODUCIBLE) xdt_bitwise(t, what, gg, want, n);
    /* the gradient is the penalty's derivative: 2 l2 w, to rounding */
    double worst = 0;
    for (size_t j = 0; j < n; ++j) {
        double e = fabs(((double)gg[j] - g[j]) - 2.0 * (double)l2f * w[j]);
        if (e > worst) worst = e;
    }
    xdt_check(t, worst <= 1e-6, "l2[%d] gradient - g = d penalty / dw (worst %.2g)", idx, worst);
done:
    afree(&a);
}

/* ---- sparse categorical cross-entropy from probabilities ----------------------------------------- */
typedef struct xentp_case {
    int n, k;
    int clipped; /* rows r % 3 == 0: label prob 1e-9 (clipped low); == 1: the rest 1e-12 (high) */
    int small;
} xentp_case;
static const xentp_case XENTP[] = {
    {1, 1, 0, 1}, {1, 10, 0, 1}, {7, 3, 1, 1}, {4, 10, 1, 1}, {5, 4, 0, 1}, {32, 10, 0, 0}, {33, 1000, 1, 0},
};
#define XENTP_LO ((double)(float)XD_KERAS_EPSILON)
#define XENTP_HI ((double)(float)(1.0 - XD_KERAS_EPSILON))

typedef struct xentp_loss {
    int64_t n, k;
    const double *p;
    const int32_t *labels;
} xentp_loss;
static double xentp_loss_fn(void *p)
{
    xentp_loss *x = p;
    return xdr_sparse_xent_probs(x->n, x->k, x->p, x->labels, XENTP_LO, XENTP_HI, NULL, NULL);
}

/* Rows of probabilities that do not sum to 1 (Keras normalises them): a
 * softmax of random logits times a row scale in [0.5, 2). */
static void xentp_inputs(const xentp_case *xc, int idx, float *p, int32_t *labels)
{
    size_t k = (size_t)xc->k;
    xdt_fill(p, (size_t)xc->n * k, 9000u + (uint32_t)idx, -3, 3);
    for (size_t r = 0; r < (size_t)xc->n; ++r) {
        float *pr = p + r * k, scale, mx = pr[0];
        double s = 0;
        xdt_fill(&scale, 1, 9100u + (uint32_t)(idx * 1000 + (int)r), 0.5f, 2.0f);
        for (size_t j = 1; j < k; ++j) mx = pr[j] > mx ? pr[j] : mx;
        for (size_t j = 0; j < k; ++j) s += exp(pr[j] - mx);
        for (size_t j = 0; j < k; ++j) pr[j] = (float)(exp(pr[j] - mx) / s) * scale;
        labels[r] = (int32_t)((r * 7 + (size_t)idx) % k);
        if (xc->clipped && k > 1 && r % 3 == 0) pr[labels[r]] = 1e-9f;
        if (xc->clipped && k > 1 && r % 3 == 1)
            for (size_t j = 0; j < k; ++j) pr[j] = (int32_t)j == labels[r] ? 1.0f : 1e-12f;
    }
}

/* Keras's two formulas: JAX's (renormalise, then clip: a clipped row has no
 * gradient at all) and TensorFlow's (clip each p, then renormalise). */
static xd_status xent_probs_tf(xd_context *c, const xd_tensor *p, const xd_tensor *l, xd_tensor *loss, xd_tensor *dp,
                               xd_tensor *row)
{
    return xd_sparse_xent_probs_form(c, XD_XENT_CLIP_RENORMALISE, p, l, loss, dp, row);
}

static double xentp_clip_loss_fn(void *p)
{
    xentp_loss *x = p;
    return xdr_sparse_xent_probs_clip(x->n, x->k, x->p, x->labels, XENTP_LO, XENTP_HI, NULL, NULL);
}

typedef struct xentp_form {
    const char *name;
    loss_op op;
    double (*ref)(int64_t n, int64_t k, const double *p, const int32_t *labels, double lo, double hi, double *dp,
                  double *row_loss);
    double (*loss_fn)(void *);
    int clipped_rows_flat; /* a clipped row has no gradient (JAX's formula) */
} xentp_form;
static const xentp_form XENTP_FORMS[] = {
    {"sparse_xent_probs", xd_sparse_xent_probs, xdr_sparse_xent_probs, xentp_loss_fn, 1},
    {"sparse_xent_probs TF form", xent_probs_tf, xdr_sparse_xent_probs_clip, xentp_clip_loss_fn, 0},
};

/* One case of one formula: against the double reference, twice bitwise,
 * and by finite differences where nothing is clipped. */
static void test_xent_probs(xdt *t, const xentp_case *xc, int idx, const xentp_form *f)
{
    char tag[96], what[160];
    snprintf(tag, sizeof tag, "%s[%d] %dx%d%s", f->name, idx, xc->n, xc->k, xc->clipped ? " clipped rows" : "");
    size_t np = (size_t)xc->n * (size_t)xc->k, nn = (size_t)xc->n;
    arena a = {0};
    float *p = af(&a, np);
    int32_t *labels = akeep(&a, calloc(nn, sizeof *labels));
    if (a.bad) goto done;
    xentp_inputs(xc, idx, p, labels);
    double kk = (double)xc->k;
    out_spec o[3] = {{"loss", T_XENTP_LOSS, 1, kk + (double)xc->n, {0}, 0},
                     {"dprobs", T_XENTP_GRAD, np, kk, {0}, 0},
                     {"row_loss", T_XENTP_LOSS, nn, kk, {0}, 0}};
    double *pd = adbl(&a, p, np);
    o[0].ref = ad(&a, 1), o[1].ref = ad(&a, np), o[2].ref = ad(&a, nn);
    run_loss_op(t, &a, f->op, tag, xc->n, xc->k, p, labels, o);
    if (a.bad) goto done;
    o[0].ref[0] = f->ref(xc->n, xc->k, pd, labels, XENTP_LO, XENTP_HI, o[1].ref, o[2].ref);
    compare_outputs(t, tag, o, 3);
    /* JAX's formula: a clipped row has no gradient at all, and the loss -log(lo) or -log(hi) */
    size_t nonzero = 0;
    for (size_t r = 0; f->clipped_rows_flat && r < nn; ++r)
        if ((xc->clipped && xc->k > 1 && r % 3 < 2) || xc->k == 1)
            for (size_t j = 0; j < (size_t)xc->k; ++j) nonzero += o[1].got[0][r * (size_t)xc->k + j] != 0;
    xdt_check(t, nonzero == 0, "%s: %zu non-zero gradients in clipped rows", tag, nonzero);
    if (np <= 400 && !xc->clipped) {
        xentp_loss xl = {xc->n, xc->k, pd, labels};
        snprintf(what, sizeof what, "%s FD dloss/dprobs", tag);
        fd_check(t, what, f->loss_fn, &xl, pd, np, o[1].got[0], 1e-5);
    }
done:
    afree(&a);
}

/* jax's clip derivative at a tie: q == lo exactly gives half the gradient.
 * [a, 1] with label 0, a chosen so that a / (a + 1) rounds to lo exactly
 * (reproducible mode: the division is correctly rounded on every device);
 * and a label outside [0, K) gives a NaN row and loss. */
static void test_xent_probs_edges(xdt *t)
{
    arena a = {0};
    float lo = (float)XD_KERAS_EPSILON, p[4] = {0, 1, 0.25f, 0.75f};
    int32_t labels[2] = {0, 2};
    int64_t ps[2] = {2, 2}, ns[1] = {2}, one[1] = {1};
    float cand = (float)((double)lo * (1.0 + (double)lo));
    for (int i = 0; i < 64 && xd_host_div(cand, cand + 1.0f) != lo; ++i)
        cand = nextafterf(cand, xd_host_div(cand, cand + 1.0f) < lo ? 1.0f : 0.0f);
    p[0] = cand;
    xd_tensor *tp = aup(&a, t, XD_DTYPE_F32, 2, ps, p), *tl = aup(&a, t, XD_DTYPE_I32, 1, ns, labels);
    xd_tensor *tloss = aup(&a, t, XD_DTYPE_F32, 1, one, NULL), *tdp = aup(&a, t, XD_DTYPE_F32, 2, ps, NULL);
    xd_tensor *trow = aup(&a, t, XD_DTYPE_F32, 1, ns, NULL);
    if (a.bad) goto done;
    xdt_ok(t, xd_sparse_xent_probs(t->ctx, tp, tl, tloss, tdp, trow), "sparse_xent_probs (tie, bad label)");
    float *loss = adown(&a, t, tloss), *dp = adown(&a, t, tdp), *row = adown(&a, t, trow);
    if (a.bad) goto done;
    xdt_check(t, isnan(loss[0]) && isnan(row[1]) && isnan(dp[2]) && isnan(dp[3]) && !isnan(row[0]),
              "sparse_xent_probs with label 2 of 2 classes: loss %g, rows %g %g (want NaN, finite, NaN)",
              (double)loss[0], (double)row[0], (double)row[1]);
    if (xd_context_mode(t->ctx) != XD_MODE_REPRODUCIBLE) goto done;
    if (!xdt_check(t, xd_host_div(cand, cand + 1.0f) == lo, "no a with a / (a + 1) == %a found", (double)lo)) goto done;
    float s = cand + 1.0f, q = lo, half = xd_host_div(0.5f, lo);
    float want0 = xd_host_div(xd_host_div(half * (q - 1.0f), s), 2.0f);
    float want1 = xd_host_div(xd_host_div(half * q, s), 2.0f);
    xdt_check(t, dp[0] == want0 && dp[1] == want1 && row[0] == -xd_host_log(lo),
              "sparse_xent_probs at q == lo: dp %a %a (want %a %a: half the slope), loss %a", (double)dp[0],
              (double)dp[1], (double)want0, (double)want1, (double)row[0]);
done:
    afree(&a);
}

/* ---- Keras Adam, SGD in both forms ----------------------------------------------------------------- */
typedef struct optim_case {
    const char *name;
    int adam; /* Keras's Adam, else SGD with sgd */
    xd_sgd_params sgd;
} optim_case;
static const optim_case OPTIM[] = {
    {"adam keras", 1, {0, 0, 0, XD_SGD_KERAS}},
    {"sgd keras", 0, {0.01, 0.0, 0, XD_SGD_KERAS}},
    {"sgd keras momentum", 0, {0.01, 0.9, 0, XD_SGD_KERAS}},
    {"sgd keras nesterov", 0, {0.01, 0.9, 1, XD_SGD_KERAS}},
    {"sgd torch", 0, {0.01, 0.0, 0, XD_SGD_TORCH}},
    {"sgd torch momentum", 0, {0.01, 0.9, 0, XD_SGD_TORCH}},
    {"sgd torch nesterov", 0, {0.01, 0.9, 1, XD_SGD_TORCH}},
};

/* The per-element error scales (see the table): m's recurrence on |g|, and
 * for w the sum of its steps plus its largest magnitude. */
typedef struct optim_scale {
    double *mabs, *wpath, *wmax, *wscale, *wprev;
} optim_scale;
static void optim_scale_step(const optim_case *oc, int64_t s, const double *g, const double *w, optim_scale *sc,
                             size_t n)
{
    xd_adam_params ap = xd_adam_defaults();
    for (size_t i = 0; i < n; ++i) {
        double mom = oc->adam ? ap.beta1 : oc->sgd.momentum;
        double gin = oc->adam                       ? (1 - ap.beta1) * fabs(g[i])
                     : oc->sgd.form == XD_SGD_KERAS ? oc->sgd.lr * fabs(g[i])
                                                    : fabs(g[i]);
        sc->mabs[i] = (s == 1 && !oc->adam) ? gin : mom * sc->mabs[i] + gin;
        sc->wpath[i] += fabs(w[i] - sc->wprev[i]);
        sc->wmax[i] = fmax(sc->wmax[i], fabs(w[i]));
        sc->wscale[i] = sc->wpath[i] + sc->wmax[i];
    }
}

static void optim_check(xdt *t, const optim_case *oc, int64_t s, const xd_tensor *const *dev, double *const *ref,
                        const optim_scale *sc, size_t n)
{
    int op = oc->adam ? T_ADAM_KERAS : T_SGD, has_m = oc->adam || oc->sgd.momentum != 0;
    static const char *const names[3] = {"w", "m", "v"};
    const double *base[3] = {sc->wscale, sc->mabs, NULL};
    for (int i = 0; i < (oc->adam ? 3 : has_m ? 2 : 1); ++i) {
        float *got = xdt_download(t, dev[i]);
        char what[128];
        snprintf(what, sizeof what, "%s t=%lld %s", oc->name, (long long)s, names[i]);
        if (got) close_to(t, op, what, got, ref[i], base[i], n, 0, TOL[op].rel * (double)s);
        free(got);
    }
}

/* 100 steps with new gradients each step (magnitudes cycling over 1, 1e-3,
 * 1e-6, 0 so that Adam's eps matters), checked at t = 1, 2 and 100. */
static void test_optimizer(xdt *t, const optim_case *oc, size_t n)
{
    arena a = {0};
    float *w0 = afill(&a, n, 4100u, -1e-3f, 1e-3f), *g = af(&a, n);
    double *w = adbl(&a, w0, n), *m = ad(&a, n), *v = ad(&a, n), *gd = ad(&a, n);
    optim_scale sc = {ad(&a, n), ad(&a, n), ad(&a, n), ad(&a, n), ad(&a, n)};
    int64_t shape[1] = {(int64_t)n};
    xd_tensor *tw = aup(&a, t, XD_DTYPE_F32, 1, shape, w0), *tg = aup(&a, t, XD_DTYPE_F32, 1, shape, NULL);
    xd_tensor *tm = aup(&a, t, XD_DTYPE_F32, 1, shape, NULL), *tv = aup(&a, t, XD_DTYPE_F32, 1, shape, NULL);
    if (a.bad) goto done;
    xd_adam_params ap = xd_adam_defaults();
    static const float mag[4] = {1.0f, 1e-3f, 1e-6f, 0.0f};
    for (size_t i = 0; i < n; ++i) sc.wmax[i] = fabs(w[i]);
    xd_tensor *dev[3] = {tw, tm, tv};
    double *ref[3] = {w, m, v};
    for (int64_t s = 1; s <= 100; ++s) {
        xdt_fill(g, n, 4101u + (uint32_t)s, -1, 1);
        for (size_t i = 0; i < n; ++i) g[i] *= mag[i % 4], gd[i] = g[i];
        if (!xdt_ok(t, xd_tensor_write(tg, g, n * 4), "tensor_write g")) break;
        xd_status st = oc->adam ? xd_adam_keras_step(t->ctx, &ap, s, tw, tg, tm, tv)
                                : xd_sgd_step(t->ctx, &oc->sgd, s, tw, tg, oc->sgd.momentum != 0 ? tm : NULL);
        if (!xdt_ok(t, st, oc->name)) break;
        memcpy(sc.wprev, w, n * sizeof *w);
        if (oc->adam) xdr_adam_keras_step(&ap, s, w, gd, m, v, n);
        else xdr_sgd_step(&oc->sgd, s, w, gd, m, n);
        optim_scale_step(oc, s, gd, w, &sc, n);
        if (s == 1 || s == 2 || s == 100) optim_check(t, oc, s, (const xd_tensor *const *)dev, ref, &sc, n);
    }
done:
    afree(&a);
}

/* The scalars in double, and the two SGD forms' states: the same trajectory
 * of w with a constant learning rate, Keras's velocity = -lr * PyTorch's buffer. */
static void test_optim_forms(xdt *t)
{
    xd_adam_params p = xd_adam_defaults();
    xd_adam_keras_scalars sc;
    if (xdt_check(t, xd_adam_keras_scalars_for(&p, 3, &sc, NULL) == XD_OK, "xd_adam_keras_scalars_for t=3")) {
        double want = 1e-3 * sqrt(1 - pow(0.999, 3)) / (1 - pow(0.9, 3));
        xdt_check(t,
                  sc.alpha == (float)want && sc.omb1 == (float)(1 - 0.9) && sc.omb2 == (float)(1 - 0.999) &&
                      sc.eps == (float)1e-7,
                  "adam keras scalars: alpha %a (want %a), omb1 %a, omb2 %a", (double)sc.alpha, (double)(float)want,
                  (double)sc.omb1, (double)sc.omb2);
    }
    xd_error err;
    xdt_check(t, xd_adam_keras_scalars_for(&p, 0, &sc, &err) == XD_INVALID_ARGUMENT && strstr(err.message, "(got 0)"),
              "adam keras scalars: t=0 accepted or not named: %s", err.message);
    arena a = {0};
    int64_t shape[1] = {4};
    float g[4] = {1, -2, 0.5f, 0}, zero[4] = {0};
    xd_tensor *ts[4];
    for (int i = 0; i < 4; ++i) ts[i] = aup(&a, t, XD_DTYPE_F32, 1, shape, zero); /* w, m keras; w, buf torch */
    xd_tensor *tg = aup(&a, t, XD_DTYPE_F32, 1, shape, g);
    if (a.bad) goto done;
    for (int nesterov = 0; nesterov < 2; ++nesterov) {
        xd_sgd_params k = {0.1, 0.9, nesterov, XD_SGD_KERAS}, tp = {0.1, 0.9, nesterov, XD_SGD_TORCH};
        for (int i = 0; i < 4; ++i) xdt_ok(t, xd_tensor_write(ts[i], zero, sizeof zero), "tensor_write");
        for (int64_t s = 1; s <= 3; ++s) {
            xdt_ok(t, xd_sgd_step(t->ctx, &k, s, ts[0], tg, ts[1]), "sgd_step keras");
            xdt_ok(t, xd_sgd_step(t->ctx, &tp, s, ts[2], tg, ts[3]), "sgd_step torch");
        }
        float *wk = adown(&a, t, ts[0]), *mk = adown(&a, t, ts[1]), *wt = adown(&a, t, ts[2]),
              *bt = adown(&a, t, ts[3]);
        if (a.bad) goto done;
        /* 3 steps of g = 1, momentum 0.9, lr 0.1: w = -0.1 (1 + 1.9 + 2.71) or, Nesterov, -0.1 (1.9 + 2.71 + 3.439) */
        double w1 = nesterov ? -0.8049 : -0.561;
        for (int i = 0; i < 4; ++i)
            xdt_check(
                t,
                fabs(wk[i] - w1 * g[i]) < 1e-6 && fabs(wt[i] - w1 * g[i]) < 1e-6 && fabs(mk[i] + 0.1 * bt[i]) < 1e-6 &&
                    fabs(bt[i] - 2.71 * g[i]) < 1e-6,
                "sgd forms%s [%d]: keras w %.7g m %.7g, torch w %.7g buf %.7g (want w %.7g, m = -lr buf, buf %.7g)",
                nesterov ? " nesterov" : "", i, (double)wk[i], (double)mk[i], (double)wt[i], (double)bt[i], w1 * g[i],
                2.71 * g[i]);
    }
done:
    afree(&a);
}

/* ---- the other activations, global max pooling, zero padding ------------------------------- */
typedef struct act_case {
    xd_act_op op;
    double alpha;
    float lo, hi; /* the inputs' range */
} act_case;
static const act_case ACT[] = {
    {XD_ACT_OP_SIGMOID, 0, -12, 12},    {XD_ACT_OP_TANH, 0, -6, 6},  {XD_ACT_OP_LEAKY_RELU, 0.2, -3, 3},
    {XD_ACT_OP_LEAKY_RELU, 0.3, -3, 3}, {XD_ACT_OP_ELU, 1.0, -6, 3}, {XD_ACT_OP_ELU, 0.5, -6, 3},
    {XD_ACT_OP_RELU6, 0, -4, 10},       {XD_ACT_OP_SILU, 0, -8, 8},  {XD_ACT_OP_GELU, 0, -9, 6},
};

typedef struct act_loss {
    const act_case *c;
    const double *x, *r;
    double *y;
    size_t n;
} act_loss;
/* L = sum(f(x) * r), so dL/dy = r. */
static double act_loss_fn(void *p)
{
    act_loss *l = p;
    xdr_activation_forward(l->c->op, l->c->alpha, l->x, l->y, l->n);
    double sum = 0;
    for (size_t i = 0; i < l->n; ++i) sum += l->y[i] * l->r[i];
    return sum;
}

static int act_near(float got, double want)
{
    return isnan(want) ? isnan(got) : isinf(want) ? (double)got == want : fabs((double)got - want) <= 1e-6;
}

/* NaN through every forward; the infinities where Keras's formulas give a number. */
static void act_specials(xdt *t, const act_case *c, const char *tag, const float *y)
{
    static const double at_inf[][2] = {{0, 1}, {-1, 1},         {-INFINITY, INFINITY}, {-1, INFINITY},
                                       {0, 6}, {NAN, INFINITY}, {NAN, INFINITY}};
    double lo = at_inf[c->op][0], hi = at_inf[c->op][1];
    if (c->op == XD_ACT_OP_LEAKY_RELU || c->op == XD_ACT_OP_ELU) lo = c->op == XD_ACT_OP_ELU ? -c->alpha : -INFINITY;
    /* near: fast mode's builtins within their bounds (PoCL's tanh(inf) is 1 - 2^-24) */
    xdt_check(t, isnan(y[0]) && act_near(y[1], lo) && act_near(y[2], hi),
              "%s: f(NaN) %g, f(-inf) %g (want %g), f(inf) %g (want %g)", tag, (double)y[0], (double)y[1], lo,
              (double)y[2], hi);
}

static void test_activation(xdt *t, const act_case *c, size_t n, int idx)
{
    char tag[128], what[200];
    snprintf(tag, sizeof tag, "%s[%d] alpha %g x%zu", xd_act_op_name(c->op), idx, c->alpha, n);
    arena a = {0};
    float *x = afill(&a, n, 9500u + (uint32_t)idx, c->lo, c->hi), *dy = afill(&a, n, 9600u + (uint32_t)idx, -1, 1);
    int64_t shape[2] = {2, (int64_t)n / 2};
    xd_tensor *tx = aup(&a, t, XD_DTYPE_F32, 2, shape, x), *tdy = aup(&a, t, XD_DTYPE_F32, 2, shape, dy);
    xd_tensor *ty = aup(&a, t, XD_DTYPE_F32, 2, shape, NULL), *tdx = aup(&a, t, XD_DTYPE_F32, 2, shape, NULL);
    if (a.bad) goto done;
    out_spec o[2] = {{"forward", T_ACT, n, 1, {0}, 0}, {"backward", T_ACT, n, 1, {0}, 0}};
    for (int run = 0; run < 2; ++run) {
        xdt_ok(t, xd_activation_forward(t->ctx, c->op, c->alpha, tx, ty), "activation_forward");
        xdt_ok(t, xd_activation_backward(t->ctx, c->op, c->alpha, tx, ty, tdy, tdx), "activation_backward");
        o[0].got[run] = adown(&a, t, ty);
        o[1].got[run] = adown(&a, t, tdx);
    }
    double *xd = adbl(&a, x, n), *dyd = adbl(&a, dy, n);
    o[0].ref = ad(&a, n), o[1].ref = ad(&a, n);
    float *hy = af(&a, n), *hdx = af(&a, n);
    if (a.bad) goto done;
    xdr_activation_forward(c->op, c->alpha, xd, o[0].ref, n);
    xdr_activation_backward(c->op, c->alpha, xd, dyd, o[1].ref, n);
    compare_outputs(t, tag, o, 2);
    if (xd_context_mode(t->ctx) == XD_MODE_REPRODUCIBLE) { /* the host build of xd_math.h, bit for bit */
        for (size_t i = 0; i < n; ++i) {
            hy[i] = xd_host_act_forward(c->op, (float)c->alpha, x[i]);
            hdx[i] = xd_host_act_backward(c->op, (float)c->alpha, x[i], o[0].got[0][i], dy[i]);
        }
        snprintf(what, sizeof what, "%s forward == the host's xd_math.h", tag);
        xdt_bitwise(t, what, o[0].got[0], hy, n);
        snprintf(what, sizeof what, "%s backward == the host's xd_math.h", tag);
        xdt_bitwise(t, what, o[1].got[0], hdx, n);
    }
    act_loss al = {c, xd, dyd, ad(&a, n), n};
    if (!al.y) goto done;
    snprintf(what, sizeof what, "%s FD dL/dx", tag);
    fd_check(t, what, act_loss_fn, &al, xd, n, o[1].got[0], 1e-3);
    x[0] = NAN, x[1] = -INFINITY, x[2] = INFINITY;
    xd_tensor *ts = aup(&a, t, XD_DTYPE_F32, 2, shape, x);
    if (!ts || !xdt_ok(t, xd_activation_forward(t->ctx, c->op, c->alpha, ts, ty), "activation_forward")) goto done;
    float *ys = adown(&a, t, ty);
    if (ys) act_specials(t, c, tag, ys);
done:
    afree(&a);
}

/* ZeroPadding2D: copies, so bit for bit against the reference both ways. */
static void test_zeropad(xdt *t, const merge_case *mc, int idx)
{
    if (mc->h == 0) return;
    static const int pads[3][4] = {{1, 1, 1, 1}, {1, 0, 2, 1}, {0, 3, 0, 0}};
    const int *pad = pads[idx % 3];
    char tag[128];
    snprintf(tag, sizeof tag, "zeropad[%d] x%dx%dx%dx%d pad %d,%d,%d,%d", idx, mc->n, mc->c1, mc->h, mc->w, pad[0],
             pad[1], pad[2], pad[3]);
    const int64_t nc = (int64_t)mc->n * mc->c1, oh = mc->h + pad[0] + pad[1], ow = mc->w + pad[2] + pad[3];
    const size_t nx = (size_t)(nc * mc->h * mc->w), ny = (size_t)(nc * oh * ow);
    arena a = {0};
    float *x = afill(&a, nx, 9900u + (uint32_t)idx, -1, 1), *dy = afill(&a, ny, 9950u + (uint32_t)idx, -1, 1);
    int64_t xs[4] = {mc->n, mc->c1, mc->h, mc->w}, ys[4] = {mc->n, mc->c1, oh, ow};
    xd_tensor *tx = aup(&a, t, XD_DTYPE_F32, 4, xs, x), *tdy = aup(&a, t, XD_DTYPE_F32, 4, ys, dy);
    xd_tensor *ty = aup(&a, t, XD_DTYPE_F32, 4, ys, NULL), *tdx = aup(&a, t, XD_DTYPE_F32, 4, xs, NULL);
    if (a.bad) goto done;
    xd_pad2d_params p = {pad[0], pad[1], pad[2], pad[3]};
    xdt_ok(t, xd_zeropad2d_forward(t->ctx, &p, tx, ty), "zeropad2d_forward");
    xdt_ok(t, xd_zeropad2d_backward(t->ctx, &p, tdy, tdx), "zeropad2d_backward");
    float *y = adown(&a, t, ty), *dx = adown(&a, t, tdx), *yf = af(&a, ny), *dxf = af(&a, nx);
    double *xd = adbl(&a, x, nx), *dyd = adbl(&a, dy, ny), *yr = ad(&a, ny), *dxr = ad(&a, nx);
    if (a.bad) goto done;
    xdr_zeropad_forward(nc, mc->h, mc->w, pad, xd, yr);
    xdr_zeropad_backward(nc, mc->h, mc->w, pad, dyd, dxr);
    for (size_t i = 0; i < ny; ++i) yf[i] = (float)yr[i];
    for (size_t i = 0; i < nx; ++i) dxf[i] = (float)dxr[i];
    char what[200];
    snprintf(what, sizeof what, "%s forward vs reference", tag);
    xdt_bitwise(t, what, y, yf, ny);
    snprintf(what, sizeof what, "%s backward vs reference", tag);
    xdt_bitwise(t, what, dx, dxf, nx);
done:
    afree(&a);
}

/* ---- argument checks ----------------------------------------------------------------------- */
static void expect_fail(xdt *t, xd_status got, xd_status want, const char *op, const char *call)
{
    const char *err = xd_context_last_error(t->ctx);
    xdt_check(t, got == want && err && strstr(err, op), "%s: got %s (want %s), last error \"%s\" (want it to name %s)",
              call, xd_status_name(got), xd_status_name(want), err ? err : "(null)", op);
}
#define EXPECT_FAIL(call, want, op) expect_fail(t, (call), (want), (op), #call)

static void test_arguments(xdt *t)
{
    arena a = {0};
    int64_t x3[4] = {1, 3, 5, 5}, x2[4] = {1, 2, 5, 5}, w3[4] = {2, 3, 3, 3}, y3[4] = {1, 2, 3, 3};
    int64_t y4[4] = {1, 2, 4, 4}, n2[1] = {2}, n3[1] = {3}, d26[2] = {2, 6}, d46[2] = {4, 6}, d47[2] = {4, 7};
    int64_t d24[2] = {2, 4}, d23[2] = {2, 3}, n1[1] = {1}, n5[1] = {5}, n6[1] = {6};
    xd_tensor *x = aup(&a, t, XD_DTYPE_F32, 4, x3, NULL), *xb = aup(&a, t, XD_DTYPE_F32, 4, x2, NULL);
    xd_tensor *w = aup(&a, t, XD_DTYPE_F32, 4, w3, NULL), *y = aup(&a, t, XD_DTYPE_F32, 4, y3, NULL);
    xd_tensor *yb = aup(&a, t, XD_DTYPE_F32, 4, y4, NULL), *b2 = aup(&a, t, XD_DTYPE_F32, 1, n2, NULL);
    xd_tensor *b3 = aup(&a, t, XD_DTYPE_F32, 1, n3, NULL), *dx = aup(&a, t, XD_DTYPE_F32, 2, d26, NULL);
    xd_tensor *dw = aup(&a, t, XD_DTYPE_F32, 2, d46, NULL), *dwb = aup(&a, t, XD_DTYPE_F32, 2, d47, NULL);
    xd_tensor *dy = aup(&a, t, XD_DTYPE_F32, 2, d24, NULL), *z = aup(&a, t, XD_DTYPE_F32, 2, d23, NULL);
    xd_tensor *l2 = aup(&a, t, XD_DTYPE_I32, 1, n2, NULL), *l3 = aup(&a, t, XD_DTYPE_I32, 1, n3, NULL);
    xd_tensor *loss = aup(&a, t, XD_DTYPE_F32, 1, n1, NULL), *v5 = aup(&a, t, XD_DTYPE_F32, 1, n5, NULL);
    xd_tensor *v5b = aup(&a, t, XD_DTYPE_F32, 1, n5, NULL), *v6 = aup(&a, t, XD_DTYPE_F32, 1, n6, NULL);
    if (a.bad) goto done;
    xd_context *c = t->ctx;
    xd_conv2d_params p = xd_conv2d_valid(1, 1), p0 = xd_conv2d_valid(0, 1), pbig = {1, 1, 3, 0, 0, 0};
    xd_adam_params ap = xd_adam_defaults(), aneg = ap;
    aneg.lr = -1;
    EXPECT_FAIL(xd_conv2d_forward(c, &p, xb, w, b2, y), XD_SHAPE_MISMATCH, "conv2d_forward");
    EXPECT_FAIL(xd_conv2d_forward(c, &p, x, w, b2, yb), XD_SHAPE_MISMATCH, "conv2d_forward");
    EXPECT_FAIL(xd_conv2d_forward(c, &p, x, w, b3, y), XD_SHAPE_MISMATCH, "conv2d_forward");
    EXPECT_FAIL(xd_conv2d_forward_relu(c, &p0, x, w, b2, y), XD_INVALID_ARGUMENT, "conv2d_forward_relu");
    EXPECT_FAIL(xd_conv2d_forward(c, &pbig, x, w, b2, y), XD_INVALID_ARGUMENT, "conv2d_forward");
    EXPECT_FAIL(xd_conv2d_forward(c, NULL, x, w, b2, y), XD_INVALID_ARGUMENT, "conv2d_forward");
    EXPECT_FAIL(xd_conv2d_forward(c, &p, x, w, b2, dy), XD_SHAPE_MISMATCH, "conv2d_forward");
    EXPECT_FAIL(xd_conv2d_backward_data(c, &p, y, w, xb), XD_SHAPE_MISMATCH, "conv2d_backward_data");
    EXPECT_FAIL(xd_conv2d_backward_weights(c, &p, xb, y, w), XD_SHAPE_MISMATCH, "conv2d_backward_weights");
    EXPECT_FAIL(xd_conv2d_backward_weights(c, &p, x, yb, w), XD_SHAPE_MISMATCH, "conv2d_backward_weights");
    EXPECT_FAIL(xd_conv2d_backward_bias(c, y, b3), XD_SHAPE_MISMATCH, "conv2d_backward_bias");
    EXPECT_FAIL(xd_conv2d_backward_weights_bias(c, &p, x, y, w, b3), XD_SHAPE_MISMATCH, "conv2d_backward_weights_bias");
    EXPECT_FAIL(xd_conv2d_backward_weights_bias(c, &p, x, y, w, NULL), XD_INVALID_ARGUMENT,
                "conv2d_backward_weights_bias");
    EXPECT_FAIL(xd_dense_forward(c, dx, dwb, NULL, dy), XD_SHAPE_MISMATCH, "dense_forward");
    EXPECT_FAIL(xd_dense_forward(c, dx, dw, NULL, z), XD_SHAPE_MISMATCH, "dense_forward");
    EXPECT_FAIL(xd_dense_forward(c, dx, dw, b3, dy), XD_SHAPE_MISMATCH, "dense_forward");
    EXPECT_FAIL(xd_dense_backward_data(c, dy, dwb, dx), XD_SHAPE_MISMATCH, "dense_backward_data");
    EXPECT_FAIL(xd_dense_backward_data(c, z, dw, dx), XD_SHAPE_MISMATCH, "dense_backward_data");
    EXPECT_FAIL(xd_dense_backward_weights(c, dx, dy, dwb), XD_SHAPE_MISMATCH, "dense_backward_weights");
    EXPECT_FAIL(xd_dense_backward_bias(c, dy, b3), XD_SHAPE_MISMATCH, "dense_backward_bias");
    EXPECT_FAIL(xd_softmax_xent(c, z, l3, loss, z, NULL), XD_SHAPE_MISMATCH, "softmax_xent");
    EXPECT_FAIL(xd_softmax_xent(c, z, b2, loss, z, NULL), XD_INVALID_ARGUMENT, "softmax_xent");
    EXPECT_FAIL(xd_softmax_xent(c, z, l2, b2, z, NULL), XD_SHAPE_MISMATCH, "softmax_xent");
    EXPECT_FAIL(xd_softmax_xent(c, z, l2, loss, dy, NULL), XD_SHAPE_MISMATCH, "softmax_xent");
    EXPECT_FAIL(xd_softmax_xent(c, z, l2, loss, z, b3), XD_SHAPE_MISMATCH, "softmax_xent");
    EXPECT_FAIL(xd_adam_step(c, &ap, 0, v5, v5b, v5, v5), XD_INVALID_ARGUMENT, "adam_step");
    EXPECT_FAIL(xd_adam_step(c, &aneg, 1, v5, v5b, v5, v5), XD_INVALID_ARGUMENT, "adam_step");
    EXPECT_FAIL(xd_adam_step(c, &ap, 1, v5, v5b, v6, v5), XD_SHAPE_MISMATCH, "adam_step");
    EXPECT_FAIL(xd_adam_step(c, &ap, 1, v5, NULL, v5, v5), XD_INVALID_ARGUMENT, "adam_step");
    EXPECT_FAIL(xd_relu_forward(c, v5, v6), XD_SHAPE_MISMATCH, "relu_forward");
    EXPECT_FAIL(xd_relu_forward(c, NULL, v6), XD_INVALID_ARGUMENT, "relu_forward");
    EXPECT_FAIL(xd_relu_backward(c, v5, v5b, v6), XD_SHAPE_MISMATCH, "relu_backward");
    EXPECT_FAIL(xd_relu_forward(c, l2, b2), XD_INVALID_ARGUMENT, "relu_forward");
    EXPECT_FAIL(xd_init_he_normal(c, v5, 1, 0, 0), XD_INVALID_ARGUMENT, "init_he_normal");
    EXPECT_FAIL(xd_init_glorot_uniform(c, v5, 1, 0, 3, 0), XD_INVALID_ARGUMENT, "init_glorot_uniform");
    EXPECT_FAIL(xd_init_uniform(c, v5, 1, 0, NAN), XD_INVALID_ARGUMENT, "init_uniform");
    EXPECT_FAIL(xd_init_uniform(c, v5, 1, 0, -1.0), XD_INVALID_ARGUMENT, "init_uniform");
    xdt_check(t, xd_conv2d_out_size(2, 3, 1, 0, 0) < 1 && xd_conv2d_out_size(5, 3, 0, 0, 0) < 1,
              "xd_conv2d_out_size accepts impossible parameters");
    /* the context is still usable after the refusals */
    xdt_ok(t, xd_relu_forward(c, v5, v5b), "relu_forward after refusals");
    xdt_ok(t, xd_context_finish(c), "context_finish after refusals");
done:
    afree(&a);
}

/* PyTorch's running statistics against the double reference (given mean and
 * var, so the reduction length is 1), on an image and on features (the
 * count M = N*H*W), run to run bitwise; one value per channel refused. */
static void test_batchnorm_running_pytorch(xdt *t, int nd)
{
    arena a = {0};
    const int64_t n = 4, c = 5, xs4[4] = {n, c, 3, 2}, xs2[2] = {n, c}, cs[1] = {c}, one[2] = {1, c};
    const int64_t m = nd == 4 ? n * 6 : n;
    const double momentum = 0.1;
    float *mean = afill(&a, (size_t)c, 9101, -1, 1), *var = afill(&a, (size_t)c, 9102, 0.1f, 2);
    float *rm = afill(&a, (size_t)c, 9103, -1, 1), *rv = afill(&a, (size_t)c, 9104, 0.5f, 1.5f);
    xd_tensor *x = aup(&a, t, XD_DTYPE_F32, nd, nd == 4 ? xs4 : xs2, NULL),
              *x1 = aup(&a, t, XD_DTYPE_F32, 2, one, NULL);
    xd_tensor *tm = aup(&a, t, XD_DTYPE_F32, 1, cs, mean), *tv = aup(&a, t, XD_DTYPE_F32, 1, cs, var);
    xd_tensor *trm = aup(&a, t, XD_DTYPE_F32, 1, cs, NULL), *trv = aup(&a, t, XD_DTYPE_F32, 1, cs, NULL);
    if (a.bad) goto done;
    out_spec o[2] = {{"running_mean", T_BN_MOVING, (size_t)c, 1, {0}, 0},
                     {"running_var", T_BN_MOVING, (size_t)c, 1, {0}, 0}};
    for (int run = 0; run < 2; ++run) {
        if (xd_tensor_write(trm, rm, (size_t)c * 4) != XD_OK || xd_tensor_write(trv, rv, (size_t)c * 4) != XD_OK) {
            a.bad = 1;
            goto done;
        }
        xdt_ok(t, xd_batchnorm_update_running_pytorch(t->ctx, momentum, x, tm, tv, trm, trv),
               "batchnorm_update_running_pytorch");
        o[0].got[run] = adown(&a, t, trm);
        o[1].got[run] = adown(&a, t, trv);
    }
    o[0].ref = adbl(&a, rm, (size_t)c);
    o[1].ref = adbl(&a, rv, (size_t)c);
    double *md = adbl(&a, mean, (size_t)c), *vd = adbl(&a, var, (size_t)c);
    if (a.bad) goto done;
    xdr_batchnorm_update_running_pytorch(c, m, momentum, md, vd, o[0].ref, o[1].ref);
    compare_outputs(t, nd == 4 ? "batchnorm running (PyTorch) 4x5x3x2" : "batchnorm running (PyTorch) 4x5", o, 2);
    xd_context *ctx = t->ctx;
    EXPECT_FAIL(xd_batchnorm_update_running_pytorch(ctx, 0.1, x1, tm, tv, trm, trv), XD_INVALID_ARGUMENT,
                "batchnorm_update_running_pytorch");
    EXPECT_FAIL(xd_batchnorm_update_running_pytorch(ctx, -0.5, x, tm, tv, trm, trv), XD_INVALID_ARGUMENT,
                "batchnorm_update_running_pytorch");
    EXPECT_FAIL(xd_batchnorm_update_running_pytorch(ctx, 0.1, x, tm, tv, x, trv), XD_SHAPE_MISMATCH,
                "batchnorm_update_running_pytorch");
done:
    afree(&a);
}

/* The refusals of issue 14's ops: each names the op, nothing is launched. */
static void test_arguments_layers(xdt *t)
{
    arena a = {0};
    int64_t x4[4] = {1, 3, 5, 5}, p2[4] = {1, 3, 2, 2}, p3[4] = {1, 3, 3, 3}, c3[1] = {3}, c4[1] = {4};
    int64_t r23[2] = {2, 3}, r24[2] = {2, 4}, n2[1] = {2}, n3[1] = {3}, n1[1] = {1};
    xd_tensor *x = aup(&a, t, XD_DTYPE_F32, 4, x4, NULL), *y2 = aup(&a, t, XD_DTYPE_F32, 4, p2, NULL);
    xd_tensor *y3 = aup(&a, t, XD_DTYPE_F32, 4, p3, NULL), *v3 = aup(&a, t, XD_DTYPE_F32, 1, c3, NULL);
    xd_tensor *v4 = aup(&a, t, XD_DTYPE_F32, 1, c4, NULL), *v3b = aup(&a, t, XD_DTYPE_F32, 1, c3, NULL);
    xd_tensor *z = aup(&a, t, XD_DTYPE_F32, 2, r23, NULL), *zb = aup(&a, t, XD_DTYPE_F32, 2, r24, NULL);
    xd_tensor *l2 = aup(&a, t, XD_DTYPE_I32, 1, n2, NULL), *l3 = aup(&a, t, XD_DTYPE_I32, 1, n3, NULL);
    xd_tensor *loss = aup(&a, t, XD_DTYPE_F32, 1, n1, NULL), *x2 = aup(&a, t, XD_DTYPE_F32, 4, x4, NULL);
    if (a.bad) goto done;
    xd_context *c = t->ctx;
    xd_pool2d_params p = xd_pool2d_valid(2, 2, 2, 2), pz = xd_pool2d_valid(0, 2, 2, 2), pbig = p;
    pbig.pad_top = 2;
    EXPECT_FAIL(xd_maxpool2d_forward(c, &p, x, y3), XD_SHAPE_MISMATCH, "maxpool2d_forward");
    EXPECT_FAIL(xd_maxpool2d_forward(c, &pz, x, y2), XD_INVALID_ARGUMENT, "maxpool2d_forward");
    EXPECT_FAIL(xd_maxpool2d_forward(c, &pbig, x, y2), XD_INVALID_ARGUMENT, "maxpool2d_forward");
    EXPECT_FAIL(xd_maxpool2d_forward(c, NULL, x, y2), XD_INVALID_ARGUMENT, "maxpool2d_forward");
    EXPECT_FAIL(xd_maxpool2d_backward(c, &p, x, y2, y2), XD_SHAPE_MISMATCH, "maxpool2d_backward");
    EXPECT_FAIL(xd_avgpool2d_forward(c, &p, z, y2), XD_SHAPE_MISMATCH, "avgpool2d_forward");
    EXPECT_FAIL(xd_avgpool2d_backward(c, &p, y3, x), XD_SHAPE_MISMATCH, "avgpool2d_backward");
    EXPECT_FAIL(xd_dropout_forward(c, x, 1.0, 1, 2, x2), XD_INVALID_ARGUMENT, "dropout_forward");
    EXPECT_FAIL(xd_dropout_forward(c, x, -0.1, 1, 2, x2), XD_INVALID_ARGUMENT, "dropout_forward");
    EXPECT_FAIL(xd_dropout_forward(c, x, NAN, 1, 2, x2), XD_INVALID_ARGUMENT, "dropout_forward");
    EXPECT_FAIL(xd_dropout_backward(c, x, 0.5, 1, 2, y2), XD_SHAPE_MISMATCH, "dropout_backward");
    EXPECT_FAIL(xd_batchnorm_train_forward(c, x, v4, NULL, 1e-3, x2, v3, v3b), XD_SHAPE_MISMATCH,
                "batchnorm_train_forward");
    EXPECT_FAIL(xd_batchnorm_train_forward(c, x, NULL, NULL, 0.0, x2, v3, v3b), XD_INVALID_ARGUMENT,
                "batchnorm_train_forward");
    EXPECT_FAIL(xd_batchnorm_train_forward(c, x, NULL, NULL, 1e-3, y2, v3, v3b), XD_SHAPE_MISMATCH,
                "batchnorm_train_forward");
    EXPECT_FAIL(xd_batchnorm_train_forward(c, x, NULL, NULL, 1e-3, x2, NULL, v3b), XD_INVALID_ARGUMENT,
                "batchnorm_train_forward");
    EXPECT_FAIL(xd_batchnorm_train_backward(c, x, x2, NULL, v3, v4, 1e-3, x2, NULL, NULL), XD_SHAPE_MISMATCH,
                "batchnorm_train_backward");
    EXPECT_FAIL(xd_batchnorm_update_moving(c, 1.5, v3, v3b, v3, v3b), XD_INVALID_ARGUMENT, "batchnorm_update_moving");
    EXPECT_FAIL(xd_batchnorm_update_moving(c, 0.99, v3, v3b, v4, v3b), XD_SHAPE_MISMATCH, "batchnorm_update_moving");
    EXPECT_FAIL(xd_batchnorm_inference_forward(c, x, NULL, v4, v3, v3b, 1e-3, x2), XD_SHAPE_MISMATCH,
                "batchnorm_inference_forward");
    EXPECT_FAIL(xd_softmax_forward(c, z, zb), XD_SHAPE_MISMATCH, "softmax_forward");
    EXPECT_FAIL(xd_softmax_forward(c, x, x2), XD_SHAPE_MISMATCH, "softmax_forward");
    EXPECT_FAIL(xd_softmax_backward(c, z, z, zb), XD_SHAPE_MISMATCH, "softmax_backward");
    EXPECT_FAIL(xd_sparse_xent_probs(c, z, l3, loss, z, NULL), XD_SHAPE_MISMATCH, "sparse_xent_probs");
    EXPECT_FAIL(xd_sparse_xent_probs(c, z, v3, loss, z, NULL), XD_INVALID_ARGUMENT, "sparse_xent_probs");
    EXPECT_FAIL(xd_sparse_xent_probs(c, z, l2, v3, z, NULL), XD_SHAPE_MISMATCH, "sparse_xent_probs");
    EXPECT_FAIL(xd_sparse_xent_probs(c, z, l2, loss, zb, NULL), XD_SHAPE_MISMATCH, "sparse_xent_probs");
    EXPECT_FAIL(xd_sparse_xent_probs(c, z, l2, loss, z, v3), XD_SHAPE_MISMATCH, "sparse_xent_probs");
    EXPECT_FAIL(xd_global_avgpool2d_forward(c, x, v3), XD_SHAPE_MISMATCH, "global_avgpool2d_forward");
    EXPECT_FAIL(xd_global_avgpool2d_forward(c, x, z), XD_SHAPE_MISMATCH, "global_avgpool2d_forward");
    EXPECT_FAIL(xd_global_avgpool2d_backward(c, zb, x), XD_SHAPE_MISMATCH, "global_avgpool2d_backward");
    EXPECT_FAIL(xd_add_forward(c, x, y2, x2), XD_SHAPE_MISMATCH, "add_forward");
    EXPECT_FAIL(xd_add_forward(c, x, x, y3), XD_SHAPE_MISMATCH, "add_forward");
    EXPECT_FAIL(xd_concat_forward(c, x, 1, x2), XD_SHAPE_MISMATCH, "concat_forward");
    EXPECT_FAIL(xd_concat_forward(c, x, -1, x2), XD_SHAPE_MISMATCH, "concat_forward");
    EXPECT_FAIL(xd_concat_forward(c, y2, 0, x2), XD_SHAPE_MISMATCH, "concat_forward");
    EXPECT_FAIL(xd_concat_forward(c, z, 0, x2), XD_SHAPE_MISMATCH, "concat_forward");
    EXPECT_FAIL(xd_concat_backward(c, x2, 1, 0, x), XD_SHAPE_MISMATCH, "concat_backward");
    xd_adam_params ap = xd_adam_defaults();
    xd_sgd_params sp = {0.01, 0.9, 0, XD_SGD_KERAS}, sneg = sp, snest = {0.01, 0.0, 1, XD_SGD_TORCH};
    sneg.lr = -1;
    EXPECT_FAIL(xd_adam_keras_step(c, &ap, 0, v3, v3b, v3, v3), XD_INVALID_ARGUMENT, "adam_keras_step");
    EXPECT_FAIL(xd_adam_keras_step(c, &ap, 1, v3, v3b, v4, v3), XD_SHAPE_MISMATCH, "adam_keras_step");
    EXPECT_FAIL(xd_sgd_step(c, &sneg, 1, v3, v3b, v3), XD_INVALID_ARGUMENT, "sgd_step");
    EXPECT_FAIL(xd_sgd_step(c, &sp, 0, v3, v3b, v3), XD_INVALID_ARGUMENT, "sgd_step");
    EXPECT_FAIL(xd_sgd_step(c, &sp, 1, v3, v3b, NULL), XD_INVALID_ARGUMENT, "sgd_step");
    EXPECT_FAIL(xd_sgd_step(c, &sp, 1, v3, v4, v3), XD_SHAPE_MISMATCH, "sgd_step");
    EXPECT_FAIL(xd_sgd_step(c, &snest, 1, v3, v3b, NULL), XD_INVALID_ARGUMENT, "sgd_step");
    sp.momentum = 0; /* no momentum: no buffer needed */
    xdt_ok(t, xd_sgd_step(c, &sp, 1, v3, v3b, NULL), "sgd_step without momentum or buffer");
    xdt_ok(t, xd_context_finish(c), "context_finish after refusals");
done:
    afree(&a);
}

/* XD_FAST_GEMM=always|never sets fast mode's clblast tunable, so the build
 * options (and every trace) name the GEMM path that runs. */
static void test_gemm_path_recorded(xdt *t)
{
    const char *gemm = getenv("XD_FAST_GEMM"), *opts = xd_context_build_options(t->ctx);
    if (!gemm || xd_context_mode(t->ctx) != XD_MODE_FAST) return;
    const char *want = strcmp(gemm, "always") == 0  ? "-DXD_CLBLAST=2 "
                       : strcmp(gemm, "never") == 0 ? "-DXD_CLBLAST=0 "
                                                    : NULL;
    if (want) xdt_check(t, strstr(opts, want) != NULL, "XD_FAST_GEMM=%s recorded as %s: %s", gemm, want, opts);
}

int main(int argc, char **argv)
{
    xdt t;
    int rc = xdt_init(&t, "test_ops", argc, argv);
    if (rc) return rc;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    test_gemm_path_recorded(&t);
    for (size_t i = 0; i < sizeof CONV / sizeof CONV[0]; ++i)
        if (CONV[i].small || !t.small) test_conv(&t, &CONV[i], (int)i);
    for (size_t i = 0; i < sizeof DENSE / sizeof DENSE[0]; ++i)
        if (DENSE[i].small || !t.small) test_dense(&t, &DENSE[i], (int)i);
    for (size_t i = 0; i < sizeof XENT / sizeof XENT[0]; ++i)
        if (XENT[i].small || !t.small) test_xent(&t, &XENT[i], (int)i);
    test_xent_bad_label(&t);
    test_relu(&t, t.small ? 64 : 4096);
    test_relu(&t, 70); /* a partial last vector (backward: XD_VW elements a work-item) */
    test_adam_scalars(&t);
    test_adam(&t, t.small ? 64 : 4099, 0);
    test_adam(&t, t.small ? 64 : 4099, 1);
    test_init(&t, t.small ? 1024 : (size_t)1 << 20, !t.small);
    for (size_t i = 0; i < sizeof POOL / sizeof POOL[0]; ++i)
        if (POOL[i].small || !t.small) test_pool(&t, &POOL[i], (int)i);
    test_pool_ties(&t);
    static const double rates[3] = {0.0, 0.5, 0.3};
    for (int i = 0; i < 3; ++i) test_dropout(&t, t.small ? 1000 : (size_t)1 << 18, rates[i], i);
    for (size_t i = 0; i < sizeof BN / sizeof BN[0]; ++i)
        if (BN[i].small || !t.small) test_batchnorm(&t, &BN[i], (int)i);
    test_batchnorm_running_pytorch(&t, 4);
    test_batchnorm_running_pytorch(&t, 2);
    for (size_t i = 0; i < sizeof SOFTMAX / sizeof SOFTMAX[0]; ++i)
        if (SOFTMAX[i].small || !t.small) test_softmax(&t, &SOFTMAX[i], (int)i);
    for (size_t i = 0; i < sizeof XENTP / sizeof XENTP[0]; ++i)
        for (size_t f = 0; f < sizeof XENTP_FORMS / sizeof XENTP_FORMS[0]; ++f)
            if (XENTP[i].small || !t.small) test_xent_probs(&t, &XENTP[i], (int)i, &XENTP_FORMS[f]);
    test_xent_probs_edges(&t);
    for (size_t i = 0; i < sizeof MERGE / sizeof MERGE[0]; ++i)
        if (MERGE[i].small || !t.small) {
            test_global_pool(&t, &MERGE[i], (int)i, 0, 0);
            test_merge(&t, &MERGE[i], (int)i);
            test_global_pool(&t, &MERGE[i], (int)i, 1, 0);
            test_global_pool(&t, &MERGE[i], (int)i, 1, 1);
            test_zeropad(&t, &MERGE[i], (int)i);
        }
    const size_t l2n[3] = {1, 37, 4099};
    for (int i = 0; i < (t.small ? 2 : 3); ++i) test_l2(&t, l2n[i], i);
    for (size_t i = 0; i < sizeof OPTIM / sizeof OPTIM[0]; ++i) test_optimizer(&t, &OPTIM[i], t.small ? 64 : 4099);
    test_optim_forms(&t);
    for (size_t i = 0; i < sizeof ACT / sizeof ACT[0]; ++i) test_activation(&t, &ACT[i], t.small ? 64 : 4098, (int)i);
    test_arguments(&t);
    test_arguments_layers(&t);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    printf("max errors against the reference (ratio = worst error / allowed error):\n");
    for (int i = 0; i < T_COUNT; ++i)
        if (seen[i].checks)
            printf("  %-24s abs %.1e x sqrt(K) rms, rel %.1e: max error %.3g, ratio %.3f (%d checks)\n", TOL[i].op,
                   TOL[i].abs, TOL[i].rel, seen[i].max_err, seen[i].max_ratio, seen[i].checks);
    printf("time %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return xdt_finish(&t);
}
