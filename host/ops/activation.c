/* ReLU and the other activations' host API (cl/activation.cl). */
#include "core/core.h"
#include "crossdev/ops.h"
#include "xd_math.h"

/* The kernels' kinds are the public enum's values. */
_Static_assert(XD_ACT_OP_SIGMOID == XD_ACTK_SIGMOID && XD_ACT_OP_TANH == XD_ACTK_TANH &&
                   XD_ACT_OP_LEAKY_RELU == XD_ACTK_LEAKY_RELU && XD_ACT_OP_ELU == XD_ACTK_ELU &&
                   XD_ACT_OP_RELU6 == XD_ACTK_RELU6 && XD_ACT_OP_SILU == XD_ACTK_SILU && XD_ACT_OP_GELU == XD_ACTK_GELU,
               "xd_act_op and cl/xd_math.h's XD_ACTK_* differ");

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

const char *xd_act_op_name(xd_act_op op)
{
    static const char *const names[] = {"sigmoid", "tanh", "leaky_relu", "elu", "relu6", "silu", "gelu"};
    return op >= 0 && op < (int)(sizeof names / sizeof names[0]) ? names[op] : "unknown";
}

static xd_status act_check(xd_context *ctx, const char *op, xd_act_op kind)
{
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (kind < XD_ACT_OP_SIGMOID || kind > XD_ACT_OP_GELU)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: unknown activation %d", op, (int)kind);
    return XD_OK;
}

xd_status xd_activation_forward(xd_context *ctx, xd_act_op op, double alpha, const xd_tensor *x, xd_tensor *y)
{
    xd_status st = act_check(ctx, "activation_forward", op);
    if (st == XD_OK) st = same_shape(ctx, "activation_forward", "x", x, "y", y);
    if (st != XD_OK) return st;
    cl_uint n = (cl_uint)x->count;
    cl_int kind = (cl_int)op;
    cl_float a = (cl_float)alpha;
    return XD_LAUNCH(ctx, XD_K_act_fwd, n, XD_ARG(x->mem), XD_ARG(y->mem), XD_ARG(n), XD_ARG(kind), XD_ARG(a));
}

xd_status xd_activation_backward(xd_context *ctx, xd_act_op op, double alpha, const xd_tensor *x, const xd_tensor *y,
                                 const xd_tensor *dy, xd_tensor *dx)
{
    const char *name = "activation_backward";
    xd_status st = act_check(ctx, name, op);
    if (st == XD_OK) st = same_shape(ctx, name, "x", x, "y", y);
    if (st == XD_OK) st = same_shape(ctx, name, "y", y, "dy", dy);
    if (st == XD_OK) st = same_shape(ctx, name, "dy", dy, "dx", dx);
    if (st != XD_OK) return st;
    cl_uint n = (cl_uint)x->count;
    cl_int kind = (cl_int)op;
    cl_float a = (cl_float)alpha;
    return XD_LAUNCH(ctx, XD_K_act_bwd, n, XD_ARG(x->mem), XD_ARG(y->mem), XD_ARG(dy->mem), XD_ARG(dx->mem), XD_ARG(n),
                     XD_ARG(kind), XD_ARG(a));
}
