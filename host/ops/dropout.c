/* Dropout host API (cl/dropout.cl): the forward and the backward are the
 * same kernel on (x, y) or (dy, dx), the mask recomputed from seed and stream. */
#include "core/core.h"
#include "crossdev/hostmath.h"
#include "crossdev/ops.h"

static xd_status dropout(xd_context *ctx, const char *op, const char *inn, const xd_tensor *in, double rate,
                         uint64_t seed, uint64_t stream, const char *outn, xd_tensor *out)
{
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (!(rate >= 0.0 && rate < 1.0))
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: rate %g must be in [0, 1)", op, rate);
    if ((st = xd_check_tensor(ctx, op, inn, in, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, outn, out, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if (in->count != out->count)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s has %zu elements, %s %zu", op, inn, in->count, outn,
                       out->count);
    if ((st = xd_check_u32(ctx, op, "element count", in->count)) != XD_OK) return st;
    cl_uint n = (cl_uint)in->count;
    cl_uint s_lo = (cl_uint)seed, s_hi = (cl_uint)(seed >> 32);
    cl_uint t_lo = (cl_uint)stream, t_hi = (cl_uint)(stream >> 32);
    cl_float keep = xd_dropout_keep_scale(rate);
    /* 4 XD_VW elements (XD_VW Philox blocks) per work-item */
    return XD_LAUNCH(ctx, XD_K_dropout, (n + 4 * ctx->params.vw - 1) / (4 * ctx->params.vw), XD_ARG(in->mem),
                     XD_ARG(out->mem), XD_ARG(n), XD_ARG(s_lo), XD_ARG(s_hi), XD_ARG(t_lo), XD_ARG(t_hi), XD_ARG(keep));
}

xd_status xd_dropout_forward(xd_context *ctx, const xd_tensor *x, double rate, uint64_t seed, uint64_t stream,
                             xd_tensor *y)
{
    return dropout(ctx, "dropout_forward", "x", x, rate, seed, stream, "y", y);
}

xd_status xd_dropout_backward(xd_context *ctx, const xd_tensor *dy, double rate, uint64_t seed, uint64_t stream,
                              xd_tensor *dx)
{
    return dropout(ctx, "dropout_backward", "dy", dy, rate, seed, stream, "dx", dx);
}
