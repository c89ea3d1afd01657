/* Seeded initialisation ops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "crossdev/ops.h"
#include "crossdev/hostmath.h"

static xd_status launch_draw(xd_context *ctx, xd_kernel_id k, xd_tensor *w, uint64_t seed, uint64_t stream, float param,
                             const char *op)
{
    xd_status st = xd_check_tensor(ctx, op, "w", w, XD_DTYPE_F32, 1);
    if (st == XD_OK) st = xd_check_u32(ctx, op, "element count", w->count);
    if (st != XD_OK) return st;
    cl_uint n = (cl_uint)w->count;
    cl_uint s_lo = (cl_uint)seed, s_hi = (cl_uint)(seed >> 32);
    cl_uint t_lo = (cl_uint)stream, t_hi = (cl_uint)(stream >> 32);
    return XD_LAUNCH(ctx, k, n, XD_ARG(w->mem), XD_ARG(n), XD_ARG(s_lo), XD_ARG(s_hi), XD_ARG(t_lo), XD_ARG(t_hi),
                     XD_ARG(param));
}

xd_status xd_init_uniform(xd_context *ctx, xd_tensor *w, uint64_t seed, uint64_t stream, double limit)
{
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (!(limit > 0.0) || !isfinite(limit))
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "init_uniform: limit %g must be positive and finite", limit);
    return launch_draw(ctx, XD_K_init_uniform, w, seed, stream, xd_uniform_scale(limit), "init_uniform");
}

xd_status xd_init_glorot_uniform(xd_context *ctx, xd_tensor *w, uint64_t seed, uint64_t stream, int64_t fan_in,
                                 int64_t fan_out)
{
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (fan_in < 1 || fan_out < 1)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "init_glorot_uniform: fan_in %lld and fan_out %lld must be >= 1",
                       (long long)fan_in, (long long)fan_out);
    return xd_init_uniform(ctx, w, seed, stream, sqrt(6.0 / (double)(fan_in + fan_out)));
}

xd_status xd_init_he_normal(xd_context *ctx, xd_tensor *w, uint64_t seed, uint64_t stream, int64_t fan_in)
{
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (fan_in < 1)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "init_he_normal: fan_in %lld must be >= 1", (long long)fan_in);
    return launch_draw(ctx, XD_K_init_normal, w, seed, stream, (float)sqrt(2.0 / (double)fan_in), "init_he_normal");
}

xd_status xd_init_zeros(xd_context *ctx, xd_tensor *t)
{
    xd_status st = xd_check_tensor(ctx, "init_zeros", "t", t, t ? t->dtype : XD_DTYPE_F32, 1);
    return st != XD_OK ? st : xd_tensor_fill_zero(t);
}
