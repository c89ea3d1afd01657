/* Adam host API: the hyperparameter-derived scalars are computed here in
 * double and rounded once to float (see cl/adam.cl). */
#include <math.h>

#include "core/core.h"
#include "crossdev/ops.h"

xd_adam_params xd_adam_defaults(void)
{
    xd_adam_params p = {1e-3, 0.9, 0.999, 1e-7};
    return p;
}

xd_status xd_adam_scalars_for(const xd_adam_params *p, int64_t t, xd_adam_scalars *out, xd_error *err)
{
    if (!p || !out) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "NULL %s", p ? "output" : "params");
    if (t < 1 || !(p->lr > 0) || !(p->beta1 >= 0 && p->beta1 < 1) || !(p->beta2 >= 0 && p->beta2 < 1) ||
        !(p->eps > 0) || !isfinite(p->lr) || !isfinite(p->eps))
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0,
                            "need step t >= 1 (got %lld), lr > 0, 0 <= beta < 1 and eps > 0", (long long)t);
    double bc1 = 1.0 - pow(p->beta1, (double)t);
    double bc2 = 1.0 - pow(p->beta2, (double)t);
    out->b1 = (float)p->beta1;
    out->omb1 = (float)(1.0 - p->beta1);
    out->b2 = (float)p->beta2;
    out->omb2 = (float)(1.0 - p->beta2);
    out->sqrt_bc2 = (float)sqrt(bc2);
    out->step = (float)(p->lr / bc1);
    out->eps = (float)p->eps;
    return xd_error_return(err, XD_OK);
}

xd_status xd_adam_step(xd_context *ctx, const xd_adam_params *p, int64_t t, xd_tensor *w, const xd_tensor *g,
                       xd_tensor *m, xd_tensor *v)
{
    const char *op = "adam_step";
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    xd_adam_scalars s;
    xd_error e;
    if (xd_adam_scalars_for(p, t, &s, &e) != XD_OK) return xd_fail(ctx, e.status, 0, "%s: %s", op, e.message);
    const xd_tensor *ts[4] = {w, g, m, v};
    static const char *const names[4] = {"w", "g", "m", "v"};
    for (int i = 0; i < 4; ++i) {
        if ((st = xd_check_tensor(ctx, op, names[i], ts[i], XD_DTYPE_F32, 1)) != XD_OK) return st;
        if (ts[i]->count != w->count)
            return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s has %zu elements, w %zu", op, names[i], ts[i]->count,
                           w->count);
    }
    if ((st = xd_check_u32(ctx, op, "w", w->count)) != XD_OK) return st;
    cl_uint n = (cl_uint)w->count;
    return XD_LAUNCH(ctx, XD_K_adam, n, XD_ARG(w->mem), XD_ARG(g->mem), XD_ARG(m->mem), XD_ARG(v->mem), XD_ARG(n),
                     XD_ARG(s.b1), XD_ARG(s.omb1), XD_ARG(s.b2), XD_ARG(s.omb2), XD_ARG(s.sqrt_bc2), XD_ARG(s.step),
                     XD_ARG(s.eps));
}
