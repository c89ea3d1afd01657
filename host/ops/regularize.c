/* Keras's L2 regularizer: the penalty added to the loss and its gradient
 * added to a parameter's (cl/regularize.cl); l2 is rounded to float32 here,
 * as Keras casts it to the variable's dtype. */
#include "core/core.h"
#include "crossdev/ops.h"

static xd_status check(xd_context *ctx, const char *op, const xd_tensor *w, const xd_tensor *other,
                       const char *other_name, size_t count)
{
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = xd_check_tensor(ctx, op, "w", w, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, other_name, other, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if (other->count != count)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s has %zu elements, needs %zu", op, other_name, other->count,
                       count);
    return xd_check_u32(ctx, op, "w's element count", w->count);
}

xd_status xd_l2_penalty(xd_context *ctx, const xd_tensor *w, double l2, xd_tensor *loss)
{
    xd_status st = check(ctx, "l2_penalty", w, loss, "loss", 1);
    if (st != XD_OK) return st;
    cl_uint n = (cl_uint)w->count;
    cl_float f = (cl_float)l2;
    return XD_LAUNCH(ctx, XD_K_l2_penalty, 1, XD_ARG(w->mem), XD_ARG(n), XD_ARG(f), XD_ARG(loss->mem));
}

xd_status xd_l2_gradient(xd_context *ctx, const xd_tensor *w, double l2, xd_tensor *g)
{
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (!w) return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "l2_gradient: w is NULL");
    xd_status st = check(ctx, "l2_gradient", w, g, "g", w->count);
    if (st != XD_OK) return st;
    cl_uint n = (cl_uint)w->count;
    cl_float f = (cl_float)l2;
    return XD_LAUNCH(ctx, XD_K_l2_gradient, n, XD_ARG(w->mem), XD_ARG(g->mem), XD_ARG(n), XD_ARG(f));
}
