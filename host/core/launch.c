/* Kernel launches: arguments, then a 1-D range with an explicit local size
 * (core.h describes the three entry points).  Profiling events go to
 * host/core/profile.c when XD_PROFILE=1. */
#include "core.h"

static xd_status enqueue(xd_context *ctx, cl_kernel kern, int id, size_t global, size_t local)
{
    cl_event ev = NULL;
    cl_int rc = clEnqueueNDRangeKernel(ctx->queue, kern, 1, NULL, &global, &local, 0, NULL,
                                       ctx->profile && id >= 0 ? &ev : NULL);
    if (rc != CL_SUCCESS) return xd_fail_cl(ctx, rc, "clEnqueueNDRangeKernel");
    if (ev) xd_profile_record(ctx, id, ev);
    return XD_OK;
}

static xd_status set_args(xd_context *ctx, cl_kernel kern, const xd_arg *args, size_t nargs)
{
    for (size_t i = 0; i < nargs; ++i) {
        cl_int rc = clSetKernelArg(kern, (cl_uint)i, args[i].size, args[i].ptr);
        if (rc != CL_SUCCESS) return xd_fail_cl(ctx, rc, "clSetKernelArg");
    }
    return XD_OK;
}

xd_status xd_launch_groups(xd_context *ctx, xd_kernel_id k, size_t groups, size_t local, const xd_arg *args,
                           size_t nargs)
{
    xd_status st = set_args(ctx, ctx->kernels[k], args, nargs);
    if (st != XD_OK || groups == 0) return st;
    if (ctx->device.max_work_group_size && local > ctx->device.max_work_group_size)
        return xd_fail(ctx, XD_UNSUPPORTED, 0, "work-groups of %zu work-items exceed %s's maximum (%llu)", local,
                       ctx->device.id, (unsigned long long)ctx->device.max_work_group_size);
    return enqueue(ctx, ctx->kernels[k], (int)k, groups * local, local);
}

xd_status xd_launch_kernel(xd_context *ctx, cl_kernel kern, int id, size_t n, size_t local, const xd_arg *args,
                           size_t nargs)
{
    xd_status st = set_args(ctx, kern, args, nargs);
    if (st != XD_OK) return st;
    if (n == 0) return XD_OK;
    if (local == 0) {
        /* On a CPU device a small launch gets smaller work-groups, so that
         * every core has some (at least 2 per compute unit when possible):
         * 64 work-items in one group would run on one core.  GPUs keep their
         * work-group size (a tiny group would waste most of a warp).
         * Scheduling only. */
        local = ctx->local_size;
        if (ctx->device.type == XD_DEVICE_CPU) {
            size_t want = 2 * (size_t)(ctx->device.compute_units ? ctx->device.compute_units : 1);
            while (local > 1 && (n + local - 1) / local < want) local /= 2;
        }
    }
    return enqueue(ctx, kern, id, (n + local - 1) / local * local, local);
}

xd_status xd_launch(xd_context *ctx, xd_kernel_id k, size_t n, const xd_arg *args, size_t nargs)
{
    return xd_launch_kernel(ctx, ctx->kernels[k], (int)k, n, 0, args, nargs);
}

xd_status xd_reduce_rows(xd_context *ctx, cl_mem part, cl_mem out, cl_uint P, cl_uint K)
{
    cl_uint mod = 1;
    cl_int has_bias = 0;
    return XD_LAUNCH(ctx, XD_K_reduce_rows, P, XD_ARG(part), XD_ARG(part), XD_ARG(out), XD_ARG(P), XD_ARG(K),
                     XD_ARG(mod), XD_ARG(has_bias));
}
