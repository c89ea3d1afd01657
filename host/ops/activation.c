/* ReLU host API. */
#include "core/core.h"
#include "crossdev/ops.h"

static xd_status same_shape(xd_context *ctx, const char *op, const char *an, const xd_tensor *a, const char *bn,
                            const xd_tensor *b)
{
    xd_status st;
    if ((st = xd_check_tensor(ctx, op, an, a, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, bn, b, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if (a->count != b->count)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s has %zu elements, %s %zu", op, an, a->count, bn, b->count);
    return xd_check_u32(ctx, op, "element count", a->count);
}

xd_status xd_relu_forward(xd_context *ctx, const xd_tensor *x, xd_tensor *y)
{
    if (!ctx) return XD_INVALID_ARGUMENT;
    xd_status st = same_shape(ctx, "relu_forward", "x", x, "y", y);
    if (st != XD_OK) return st;
    cl_uint n = (cl_uint)x->count;
    return XD_LAUNCH(ctx, XD_K_relu_fwd, n, XD_ARG(x->mem), XD_ARG(y->mem), XD_ARG(n));
}

xd_status xd_relu_backward(xd_context *ctx, const xd_tensor *y, const xd_tensor *dy, xd_tensor *dx)
{
    if (!ctx) return XD_INVALID_ARGUMENT;
    xd_status st = same_shape(ctx, "relu_backward", "y", y, "dy", dy);
    if (st == XD_OK) st = same_shape(ctx, "relu_backward", "dy", dy, "dx", dx);
    if (st != XD_OK) return st;
    cl_uint n = (cl_uint)y->count;
    size_t vw = ctx->params.vw; /* XD_VW elements per work-item */
    return XD_LAUNCH(ctx, XD_K_relu_bwd, (n + vw - 1) / vw, XD_ARG(y->mem), XD_ARG(dy->mem), XD_ARG(dx->mem),
                     XD_ARG(n));
}
