/* Batch normalization host API (cl/batchnorm.cl): per-(channel, sample)
 * partial sums, then per-channel statistics and coefficients, then one
 * elementwise pass.  The scalars eps and momentum are rounded to float here
 * from double, as Keras's weak-typed Python floats are. */
#include <math.h>

#include "core/core.h"
#include "crossdev/ops.h"

typedef struct bn_dims {
    cl_uint N, C, HW, count; /* count: all of x's elements */
    cl_float M;              /* N*HW, the values behind each channel's statistics */
} bn_dims;

/* x [N, C, ...] f32; another tensor with x's element count. */
static xd_status check_x(xd_context *ctx, const char *op, const xd_tensor *x, const char *yname, const xd_tensor *y,
                         bn_dims *d)
{
    xd_status st;
    if ((st = xd_check_tensor(ctx, op, "x", x, XD_DTYPE_F32, 2)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, yname, y, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if (y->count != x->count)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s has %zu elements, x %zu", op, yname, y->count, x->count);
    if ((st = xd_check_u32(ctx, op, "x", x->count)) != XD_OK) return st;
    if ((st = xd_check_u32(ctx, op, "partial sums", 2 * (uint64_t)x->shape[0] * (uint64_t)x->shape[1])) != XD_OK)
        return st;
    d->N = (cl_uint)x->shape[0];
    d->C = (cl_uint)x->shape[1];
    d->count = (cl_uint)x->count;
    if (d->count == 0) return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: x is empty", op);
    d->HW = d->count / (d->N * d->C);
    d->M = (cl_float)((double)d->N * d->HW); /* as jnp.mean's float32 count */
    return XD_OK;
}

/* A per-channel tensor [C]; optional ones may be NULL. */
static xd_status check_c(xd_context *ctx, const char *op, const char *name, const xd_tensor *t, cl_uint C, int optional)
{
    if (!t) return optional ? XD_OK : xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: %s is NULL", op, name);
    xd_status st = xd_check_tensor(ctx, op, name, t, XD_DTYPE_F32, 1);
    if (st != XD_OK) return st;
    if (t->count != C)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s has %zu elements, x has %u channels", op, name, t->count, C);
    return XD_OK;
}

static xd_status check_eps(xd_context *ctx, const char *op, double eps)
{
    if (!(eps > 0.0) || !isfinite(eps))
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: epsilon %g must be positive and finite", op, eps);
    return XD_OK;
}

/* The per-(channel, sample) partial sums of kind (cl/batchnorm.cl), on
 * lanes of samples where the device has vector lanes. */
static xd_status partials(xd_context *ctx, const bn_dims *d, cl_mem x, cl_mem mean, cl_mem dy, cl_mem part, cl_int kind)
{
    size_t vw = ctx->params.vw;
    if (vw > 1)
        return XD_LAUNCH(ctx, XD_K_bn_partial_v, (size_t)d->C * ((d->N + vw - 1) / vw), XD_ARG(x), XD_ARG(mean),
                         XD_ARG(dy), XD_ARG(part), XD_ARG(d->N), XD_ARG(d->C), XD_ARG(d->HW), XD_ARG(kind));
    return XD_LAUNCH(ctx, XD_K_bn_partial, (size_t)d->C * d->N, XD_ARG(x), XD_ARG(mean), XD_ARG(dy), XD_ARG(part),
                     XD_ARG(d->N), XD_ARG(d->C), XD_ARG(d->HW), XD_ARG(kind));
}

/* The elementwise passes on vector lanes, one work-item a plane: planes of
 * at least a vector, outputs apart from the inputs (the last vector of a
 * plane recomputes lanes of the one before).  Else one element per
 * work-item. */
static size_t plane_vectors(const xd_context *ctx, const bn_dims *d, cl_mem out, cl_mem in0, cl_mem in1)
{
    size_t vw = ctx->params.vw;
    if (vw < 2 || d->HW < vw || out == in0 || out == in1) return 0;
    return (size_t)d->N * d->C;
}

/* out[c] = the kind-0 (mean) or kind-1 (variance) statistic of x. */
static xd_status statistic(xd_context *ctx, const bn_dims *d, const xd_tensor *x, cl_mem mean, cl_int kind, cl_mem out)
{
    cl_mem part;
    xd_status st = xd_scratch(ctx, 0, (size_t)d->C * d->N * 4, &part);
    if (st == XD_OK) st = partials(ctx, d, x->mem, mean, x->mem, part, kind);
    if (st == XD_OK)
        st = XD_LAUNCH(ctx, XD_K_bn_stat, d->C, XD_ARG(part), XD_ARG(out), XD_ARG(d->C), XD_ARG(d->N), XD_ARG(d->M));
    return st;
}

/* y = x inv + res from mean, var, gamma, beta (coefficients in scratch 1). */
static xd_status normalize(xd_context *ctx, const bn_dims *d, const xd_tensor *x, const xd_tensor *gamma,
                           const xd_tensor *beta, cl_mem mean, cl_mem var, double eps, xd_tensor *y, cl_int relu)
{
    cl_mem coef;
    xd_status st = xd_scratch(ctx, 1, (size_t)d->C * 2 * 4, &coef);
    if (st != XD_OK) return st;
    cl_float e = (cl_float)eps;
    cl_int has_gamma = gamma != NULL, has_beta = beta != NULL;
    cl_mem gm = gamma ? gamma->mem : mean, bm = beta ? beta->mem : mean; /* any buffer when absent */
    st = XD_LAUNCH(ctx, XD_K_bn_coeffs, d->C, XD_ARG(mean), XD_ARG(var), XD_ARG(gm), XD_ARG(bm), XD_ARG(coef),
                   XD_ARG(d->C), XD_ARG(e), XD_ARG(has_gamma), XD_ARG(has_beta));
    if (st != XD_OK) return st;
    size_t items = plane_vectors(ctx, d, y->mem, x->mem, x->mem);
    cl_uint planes = d->N * d->C;
    if (items)
        return XD_LAUNCH(ctx, XD_K_bn_apply_v, items, XD_ARG(x->mem), XD_ARG(coef), XD_ARG(y->mem), XD_ARG(d->C),
                         XD_ARG(d->HW), XD_ARG(planes), XD_ARG(relu));
    return XD_LAUNCH(ctx, XD_K_bn_apply, d->count, XD_ARG(x->mem), XD_ARG(coef), XD_ARG(y->mem), XD_ARG(d->C),
                     XD_ARG(d->HW), XD_ARG(d->count), XD_ARG(relu));
}

static xd_status train_forward(xd_context *ctx, const char *op, const xd_tensor *x, const xd_tensor *gamma,
                               const xd_tensor *beta, double eps, xd_tensor *y, xd_tensor *mean_out, xd_tensor *var_out,
                               cl_int relu)
{
    bn_dims d = {0};
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = check_eps(ctx, op, eps)) != XD_OK || (st = check_x(ctx, op, x, "y", y, &d)) != XD_OK) return st;
    if ((st = check_c(ctx, op, "gamma", gamma, d.C, 1)) != XD_OK ||
        (st = check_c(ctx, op, "beta", beta, d.C, 1)) != XD_OK ||
        (st = check_c(ctx, op, "mean_out", mean_out, d.C, 0)) != XD_OK ||
        (st = check_c(ctx, op, "var_out", var_out, d.C, 0)) != XD_OK)
        return st;
    if ((st = statistic(ctx, &d, x, x->mem, 0, mean_out->mem)) != XD_OK) return st;
    if ((st = statistic(ctx, &d, x, mean_out->mem, 1, var_out->mem)) != XD_OK) return st;
    return normalize(ctx, &d, x, gamma, beta, mean_out->mem, var_out->mem, eps, y, relu);
}

xd_status xd_batchnorm_train_forward(xd_context *ctx, const xd_tensor *x, const xd_tensor *gamma, const xd_tensor *beta,
                                     double eps, xd_tensor *y, xd_tensor *mean_out, xd_tensor *var_out)
{
    return train_forward(ctx, "batchnorm_train_forward", x, gamma, beta, eps, y, mean_out, var_out, 0);
}

xd_status xd_batchnorm_train_forward_relu(xd_context *ctx, const xd_tensor *x, const xd_tensor *gamma,
                                          const xd_tensor *beta, double eps, xd_tensor *y, xd_tensor *mean_out,
                                          xd_tensor *var_out)
{
    return train_forward(ctx, "batchnorm_train_forward_relu", x, gamma, beta, eps, y, mean_out, var_out, 1);
}

xd_status xd_batchnorm_inference_forward(xd_context *ctx, const xd_tensor *x, const xd_tensor *gamma,
                                         const xd_tensor *beta, const xd_tensor *mean, const xd_tensor *var, double eps,
                                         xd_tensor *y)
{
    const char *op = "batchnorm_inference_forward";
    bn_dims d = {0};
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = check_eps(ctx, op, eps)) != XD_OK || (st = check_x(ctx, op, x, "y", y, &d)) != XD_OK) return st;
    if ((st = check_c(ctx, op, "gamma", gamma, d.C, 1)) != XD_OK ||
        (st = check_c(ctx, op, "beta", beta, d.C, 1)) != XD_OK ||
        (st = check_c(ctx, op, "mean", mean, d.C, 0)) != XD_OK || (st = check_c(ctx, op, "var", var, d.C, 0)) != XD_OK)
        return st;
    return normalize(ctx, &d, x, gamma, beta, mean->mem, var->mem, eps, y, 0);
}

xd_status xd_batchnorm_train_backward(xd_context *ctx, const xd_tensor *x, const xd_tensor *dy, const xd_tensor *gamma,
                                      const xd_tensor *mean, const xd_tensor *var, double eps, xd_tensor *dx,
                                      xd_tensor *dgamma, xd_tensor *dbeta)
{
    const char *op = "batchnorm_train_backward";
    bn_dims d = {0};
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = check_eps(ctx, op, eps)) != XD_OK || (st = check_x(ctx, op, x, "dy", dy, &d)) != XD_OK ||
        (st = check_x(ctx, op, x, "dx", dx, &d)) != XD_OK)
        return st;
    if ((st = check_c(ctx, op, "gamma", gamma, d.C, 1)) != XD_OK ||
        (st = check_c(ctx, op, "mean", mean, d.C, 0)) != XD_OK ||
        (st = check_c(ctx, op, "var", var, d.C, 0)) != XD_OK ||
        (st = check_c(ctx, op, "dgamma", dgamma, d.C, 1)) != XD_OK ||
        (st = check_c(ctx, op, "dbeta", dbeta, d.C, 1)) != XD_OK)
        return st;
    cl_mem part, coef;
    if ((st = xd_scratch(ctx, 0, (size_t)d.C * d.N * 2 * 4, &part)) != XD_OK) return st;
    if ((st = xd_scratch(ctx, 1, (size_t)d.C * 3 * 4, &coef)) != XD_OK) return st;
    cl_int kind = 2;
    st = partials(ctx, &d, x->mem, mean->mem, dy->mem, part, kind);
    if (st != XD_OK) return st;
    cl_float e = (cl_float)eps;
    cl_int has_gamma = gamma != NULL, want_dg = dgamma != NULL, want_db = dbeta != NULL;
    cl_mem gm = gamma ? gamma->mem : var->mem, dgm = dgamma ? dgamma->mem : coef, dbm = dbeta ? dbeta->mem : coef;
    st = XD_LAUNCH(ctx, XD_K_bn_bwd_coeffs, d.C, XD_ARG(part), XD_ARG(var->mem), XD_ARG(gm), XD_ARG(coef), XD_ARG(dgm),
                   XD_ARG(dbm), XD_ARG(d.C), XD_ARG(d.N), XD_ARG(e), XD_ARG(d.M), XD_ARG(has_gamma), XD_ARG(want_dg),
                   XD_ARG(want_db));
    if (st != XD_OK) return st;
    size_t items = plane_vectors(ctx, &d, dx->mem, x->mem, dy->mem);
    cl_uint planes = d.N * d.C;
    if (items)
        return XD_LAUNCH(ctx, XD_K_bn_bwd_apply_v, items, XD_ARG(x->mem), XD_ARG(dy->mem), XD_ARG(mean->mem),
                         XD_ARG(coef), XD_ARG(dx->mem), XD_ARG(d.C), XD_ARG(d.HW), XD_ARG(planes));
    return XD_LAUNCH(ctx, XD_K_bn_bwd_apply, d.count, XD_ARG(x->mem), XD_ARG(dy->mem), XD_ARG(mean->mem), XD_ARG(coef),
                     XD_ARG(dx->mem), XD_ARG(d.C), XD_ARG(d.HW), XD_ARG(d.count));
}

xd_status xd_batchnorm_update_moving(xd_context *ctx, double momentum, const xd_tensor *mean, const xd_tensor *var,
                                     xd_tensor *moving_mean, xd_tensor *moving_var)
{
    const char *op = "batchnorm_update_moving";
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (!(momentum >= 0.0 && momentum <= 1.0))
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: momentum %g must be in [0, 1]", op, momentum);
    if ((st = xd_check_tensor(ctx, op, "mean", mean, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if ((st = xd_check_u32(ctx, op, "channels", mean->count)) != XD_OK) return st;
    cl_uint C = (cl_uint)mean->count;
    if ((st = check_c(ctx, op, "var", var, C, 0)) != XD_OK ||
        (st = check_c(ctx, op, "moving_mean", moving_mean, C, 0)) != XD_OK ||
        (st = check_c(ctx, op, "moving_var", moving_var, C, 0)) != XD_OK)
        return st;
    cl_float mom = (cl_float)momentum, omm = (cl_float)(1.0 - momentum);
    return XD_LAUNCH(ctx, XD_K_bn_moving, C, XD_ARG(moving_mean->mem), XD_ARG(moving_var->mem), XD_ARG(mean->mem),
                     XD_ARG(var->mem), XD_ARG(C), XD_ARG(mom), XD_ARG(omm));
}

xd_status xd_batchnorm_update_running_pytorch(xd_context *ctx, double momentum, const xd_tensor *x,
                                              const xd_tensor *mean, const xd_tensor *var, xd_tensor *running_mean,
                                              xd_tensor *running_var)
{
    const char *op = "batchnorm_update_running_pytorch";
    bn_dims d = {0};
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (!(momentum >= 0.0 && momentum <= 1.0))
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: momentum %g must be in [0, 1]", op, momentum);
    if ((st = check_x(ctx, op, x, "x", x, &d)) != XD_OK) return st;
    if ((st = check_c(ctx, op, "mean", mean, d.C, 0)) != XD_OK ||
        (st = check_c(ctx, op, "var", var, d.C, 0)) != XD_OK ||
        (st = check_c(ctx, op, "running_mean", running_mean, d.C, 0)) != XD_OK ||
        (st = check_c(ctx, op, "running_var", running_var, d.C, 0)) != XD_OK)
        return st;
    const double m = (double)d.N * d.HW;
    if (m < 2) /* PyTorch: "Expected more than 1 value per channel when training" */
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: one value per channel (the unbiased variance needs two)", op);
    cl_float mom = (cl_float)momentum, omm = (cl_float)(1.0 - momentum), unbias = (cl_float)(m / (m - 1.0));
    return XD_LAUNCH(ctx, XD_K_bn_running, d.C, XD_ARG(running_mean->mem), XD_ARG(running_var->mem), XD_ARG(mean->mem),
                     XD_ARG(var->mem), XD_ARG(d.C), XD_ARG(mom), XD_ARG(omm), XD_ARG(unbias));
}
