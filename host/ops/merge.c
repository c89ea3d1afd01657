/* Add and Concatenate host API (cl/merge.cl): one addition per launch, and
 * channel copies. */
#include "core/core.h"
#include "crossdev/ops.h"

xd_status xd_add_forward(xd_context *ctx, const xd_tensor *a, const xd_tensor *b, xd_tensor *y)
{
    static const char op[] = "add_forward";
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = xd_check_tensor(ctx, op, "a", a, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, "b", b, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, "y", y, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if (a->count != b->count || a->count != y->count)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: a has %zu elements, b %zu, y %zu", op, a->count, b->count,
                       y->count);
    if ((st = xd_check_u32(ctx, op, "element count", a->count)) != XD_OK) return st;
    cl_uint n = (cl_uint)a->count;
    return XD_LAUNCH(ctx, XD_K_add, n, XD_ARG(a->mem), XD_ARG(b->mem), XD_ARG(y->mem), XD_ARG(n));
}

/* x [N, C, H, W] (or [N, C]) as channels offset .. offset + C of y [N, CY,
 * H, W] (or [N, CY]); mode as xd_concat_copy's. */
static xd_status concat(xd_context *ctx, const char *op, const xd_tensor *x, int64_t offset, const xd_tensor *y,
                        cl_int mode)
{
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = xd_check_tensor(ctx, op, mode ? "dx" : "x", x, XD_DTYPE_F32, 2)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, mode ? "dy" : "y", y, XD_DTYPE_F32, 2)) != XD_OK) return st;
    int same = x->ndim == y->ndim && x->shape[0] == y->shape[0] && (x->ndim == 2 || x->ndim == 4);
    for (int d = 2; same && d < x->ndim; d++) same = x->shape[d] == y->shape[d];
    if (!same)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0,
                       "%s: the tensors must be [N, C, H, W] or [N, C] alike but in the channels", op);
    if (offset < 0 || offset + x->shape[1] > y->shape[1])
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0,
                       "%s: channels %lld..%lld are not within the %lld of the concatenation", op, (long long)offset,
                       (long long)(offset + x->shape[1] - 1), (long long)y->shape[1]);
    if ((st = xd_check_u32(ctx, op, "element count", y->count)) != XD_OK) return st;
    cl_uint N = (cl_uint)x->shape[0], C = (cl_uint)x->shape[1], CY = (cl_uint)y->shape[1], off = (cl_uint)offset;
    cl_uint HW = x->ndim == 4 ? (cl_uint)(x->shape[2] * x->shape[3]) : 1u;
    return XD_LAUNCH(ctx, XD_K_concat_copy, x->count, XD_ARG(x->mem), XD_ARG(y->mem), XD_ARG(N), XD_ARG(C), XD_ARG(HW),
                     XD_ARG(CY), XD_ARG(off), XD_ARG(mode));
}

xd_status xd_concat_forward(xd_context *ctx, const xd_tensor *x, int64_t offset, xd_tensor *y)
{
    return concat(ctx, "concat_forward", x, offset, y, 0);
}

xd_status xd_concat_backward(xd_context *ctx, const xd_tensor *dy, int64_t offset, int accumulate, xd_tensor *dx)
{
    return concat(ctx, "concat_backward", dx, offset, dy, accumulate ? 2 : 1);
}
