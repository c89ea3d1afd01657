/* Keras's Adam and SGD in Keras's and PyTorch's forms (cl/optim.cl); the
 * scalars are computed here in double and rounded once to float. */
#include <math.h>

#include "core/core.h"
#include "crossdev/ops.h"

/* Every tensor f32 with w's element count (NULL entries in ts refused). */
static xd_status same_count(xd_context *ctx, const char *op, const xd_tensor *const *ts, const char *const *names,
                            int n)
{
    xd_status st;
    for (int i = 0; i < n; ++i) {
        if ((st = xd_check_tensor(ctx, op, names[i], ts[i], XD_DTYPE_F32, 1)) != XD_OK) return st;
        if (ts[i]->count != ts[0]->count)
            return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s has %zu elements, %s %zu", op, names[i], ts[i]->count,
                           names[0], ts[0]->count);
    }
    return xd_check_u32(ctx, op, names[0], ts[0]->count);
}

xd_status xd_adam_keras_scalars_for(const xd_adam_params *p, int64_t t, xd_adam_keras_scalars *out, xd_error *err)
{
    xd_adam_scalars torch; /* the same hyperparameter checks as PyTorch's form */
    if (!out) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "NULL output");
    xd_status st = xd_adam_scalars_for(p, t, &torch, err);
    if (st != XD_OK) return st;
    double bc1 = 1.0 - pow(p->beta1, (double)t), bc2 = 1.0 - pow(p->beta2, (double)t);
    out->alpha = (float)(p->lr * sqrt(bc2) / bc1);
    out->omb1 = (float)(1.0 - p->beta1);
    out->omb2 = (float)(1.0 - p->beta2);
    out->eps = (float)p->eps;
    return xd_error_return(err, XD_OK);
}

xd_status xd_adam_keras_step(xd_context *ctx, const xd_adam_params *p, int64_t t, xd_tensor *w, const xd_tensor *g,
                             xd_tensor *m, xd_tensor *v)
{
    const char *op = "adam_keras_step";
    if (!ctx) return XD_INVALID_ARGUMENT;
    xd_adam_keras_scalars s;
    xd_error e;
    if (xd_adam_keras_scalars_for(p, t, &s, &e) != XD_OK) return xd_fail(ctx, e.status, 0, "%s: %s", op, e.message);
    const xd_tensor *ts[4] = {w, g, m, v};
    static const char *const names[4] = {"w", "g", "m", "v"};
    xd_status st = same_count(ctx, op, ts, names, 4);
    if (st != XD_OK) return st;
    cl_uint n = (cl_uint)w->count;
    return XD_LAUNCH(ctx, XD_K_adam_keras, n, XD_ARG(w->mem), XD_ARG(g->mem), XD_ARG(m->mem), XD_ARG(v->mem), XD_ARG(n),
                     XD_ARG(s.alpha), XD_ARG(s.omb1), XD_ARG(s.omb2), XD_ARG(s.eps));
}

static xd_status sgd_check(xd_context *ctx, const char *op, const xd_sgd_params *p, int64_t t)
{
    if (!p) return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: params is NULL", op);
    if (t < 1 || !(p->lr > 0) || !isfinite(p->lr) || !(p->momentum >= 0 && p->momentum <= 1))
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0,
                       "%s: need step t >= 1 (got %lld), lr > 0 (got %g), 0 <= momentum <= 1 (got %g)", op,
                       (long long)t, p->lr, p->momentum);
    if (p->form != XD_SGD_TORCH && p->form != XD_SGD_KERAS)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: unknown form %d", op, (int)p->form);
    if (p->form == XD_SGD_TORCH && p->nesterov && p->momentum == 0)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: PyTorch's Nesterov momentum needs momentum > 0", op);
    return XD_OK;
}

xd_status xd_sgd_step(xd_context *ctx, const xd_sgd_params *p, int64_t t, xd_tensor *w, const xd_tensor *g,
                      xd_tensor *m)
{
    const char *op = "sgd_step";
    if (!ctx) return XD_INVALID_ARGUMENT;
    xd_status st = sgd_check(ctx, op, p, t);
    if (st != XD_OK) return st;
    cl_int has_m = p->momentum != 0, nesterov = p->nesterov != 0, first = t == 1;
    const xd_tensor *ts[3] = {w, g, m};
    static const char *const names[3] = {"w", "g", "m"};
    if ((st = same_count(ctx, op, ts, names, has_m ? 3 : 2)) != XD_OK) return st;
    cl_uint n = (cl_uint)w->count;
    cl_float lr = (cl_float)p->lr, mom = (cl_float)p->momentum;
    cl_mem mm = has_m ? m->mem : w->mem; /* any buffer without momentum */
    if (p->form == XD_SGD_KERAS)
        return XD_LAUNCH(ctx, XD_K_sgd_keras, n, XD_ARG(w->mem), XD_ARG(g->mem), XD_ARG(mm), XD_ARG(n), XD_ARG(lr),
                         XD_ARG(mom), XD_ARG(has_m), XD_ARG(nesterov));
    return XD_LAUNCH(ctx, XD_K_sgd_torch, n, XD_ARG(w->mem), XD_ARG(g->mem), XD_ARG(mm), XD_ARG(n), XD_ARG(lr),
                     XD_ARG(mom), XD_ARG(has_m), XD_ARG(nesterov), XD_ARG(first));
}
