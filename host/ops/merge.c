/* Add and Concatenate host API (cl/merge.cl): one addition per launch, and
 * channel copies. */
#include "core/core.h"
#include "crossdev/ops.h"

static xd_status add(xd_context *ctx, const char *op, const xd_tensor *a, const xd_tensor *b, xd_tensor *y, cl_int relu)
{
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
    return XD_LAUNCH(ctx, XD_K_add, (n + ctx->params.vw - 1) / ctx->params.vw, XD_ARG(a->mem), XD_ARG(b->mem),
                     XD_ARG(y->mem), XD_ARG(n), XD_ARG(relu));
}

xd_status xd_add_forward(xd_context *ctx, const xd_tensor *a, const xd_tensor *b, xd_tensor *y)
{
    return add(ctx, "add_forward", a, b, y, 0);
}

xd_status xd_add_relu_forward(xd_context *ctx, const xd_tensor *a, const xd_tensor *b, xd_tensor *y)
{
    return add(ctx, "add_relu_forward", a, b, y, 1);
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

/* ---- ZeroPadding2D ---------------------------------------------------------------------- */

/* x [N, C, H, W] and y [N, C, H + top + bottom, W + left + right]: the
 * kernels' geometry (NC, H, W, OH, OW, PT, PL). */
static xd_status pad_check(xd_context *ctx, const char *op, const xd_pad2d_params *p, const xd_tensor *x,
                           const xd_tensor *y, cl_uint g[7])
{
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (!p || p->top < 0 || p->bottom < 0 || p->left < 0 || p->right < 0)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: padding must be given and >= 0", op);
    if ((st = xd_check_tensor(ctx, op, "x", x, XD_DTYPE_F32, 4)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, "y", y, XD_DTYPE_F32, 4)) != XD_OK) return st;
    if (x->ndim != 4 || y->ndim != 4 || y->shape[0] != x->shape[0] || y->shape[1] != x->shape[1] ||
        y->shape[2] != x->shape[2] + p->top + p->bottom || y->shape[3] != x->shape[3] + p->left + p->right)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: y must be x [N, C, H, W] padded to [N, C, H + %d, W + %d]", op,
                       p->top + p->bottom, p->left + p->right);
    if ((st = xd_check_u32(ctx, op, "output size", y->count)) != XD_OK) return st;
    g[0] = (cl_uint)(x->shape[0] * x->shape[1]), g[1] = (cl_uint)x->shape[2], g[2] = (cl_uint)x->shape[3];
    g[3] = (cl_uint)y->shape[2], g[4] = (cl_uint)y->shape[3], g[5] = (cl_uint)p->top, g[6] = (cl_uint)p->left;
    return XD_OK;
}

#define XD_PAD_GEOM(g) \
    XD_ARG((g)[0]), XD_ARG((g)[1]), XD_ARG((g)[2]), XD_ARG((g)[3]), XD_ARG((g)[4]), XD_ARG((g)[5]), XD_ARG((g)[6])

xd_status xd_zeropad2d_forward(xd_context *ctx, const xd_pad2d_params *p, const xd_tensor *x, xd_tensor *y)
{
    cl_uint g[7] = {0};
    xd_status st = pad_check(ctx, "zeropad2d_forward", p, x, y, g);
    if (st != XD_OK) return st;
    return XD_LAUNCH(ctx, XD_K_zeropad_fwd, y->count, XD_ARG(x->mem), XD_ARG(y->mem), XD_PAD_GEOM(g));
}

xd_status xd_zeropad2d_backward(xd_context *ctx, const xd_pad2d_params *p, const xd_tensor *dy, xd_tensor *dx)
{
    cl_uint g[7] = {0};
    xd_status st = pad_check(ctx, "zeropad2d_backward", p, dx, dy, g);
    if (st != XD_OK) return st;
    return XD_LAUNCH(ctx, XD_K_zeropad_bwd, dx->count, XD_ARG(dy->mem), XD_ARG(dx->mem), XD_PAD_GEOM(g));
}
