/* The context below its creation: the last error every core file reports
 * through (xd_fail, xd_fail_cl), the mode's names, the accessors,
 * xd_context_finish and the scratch buffers.  Creating a context
 * (context.c) builds the program (program.c) and runs the self-test
 * (probe.c), which report through these: the calls go one way (core.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

const char *xd_mode_string(xd_mode m) { return m == XD_MODE_FAST ? "fast" : "reproducible"; }

xd_status xd_mode_parse(const char *s, xd_mode *out)
{
    if (!s || !out) return XD_INVALID_ARGUMENT;
    if (strcmp(s, "reproducible") == 0) *out = XD_MODE_REPRODUCIBLE;
    else if (strcmp(s, "fast") == 0) *out = XD_MODE_FAST;
    else return XD_INVALID_ARGUMENT;
    return XD_OK;
}

xd_status xd_fail(xd_context *ctx, xd_status st, cl_int clerr, const char *fmt, ...)
{
    if (!ctx) return st;
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = (n >= 0) ? malloc((size_t)n + 1) : NULL;
    if (msg) vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    free(ctx->last_error);
    ctx->last_error = msg;
    ctx->last_cl = clerr;
    return st;
}

xd_status xd_fail_cl(xd_context *ctx, cl_int clerr, const char *what)
{
    xd_status st = XD_OPENCL;
    if (clerr == CL_MEM_OBJECT_ALLOCATION_FAILURE || clerr == CL_OUT_OF_RESOURCES || clerr == CL_INVALID_BUFFER_SIZE)
        st = XD_OUT_OF_DEVICE_MEMORY;
    else if (clerr == CL_OUT_OF_HOST_MEMORY) st = XD_OUT_OF_HOST_MEMORY;
    return xd_fail(ctx, st, clerr, "%s failed on %s: %s (%d)", what, ctx ? ctx->device.id : "?",
                   xd_cl_error_name(clerr), (int)clerr);
}

const char *xd_context_last_error(const xd_context *ctx) { return (ctx && ctx->last_error) ? ctx->last_error : ""; }
int xd_context_last_cl_error(const xd_context *ctx) { return ctx ? (int)ctx->last_cl : 0; }

xd_status xd_error_from_context(xd_error *err, xd_status st, const xd_context *ctx)
{
    return xd_error_set(err, st, xd_context_last_cl_error(ctx), "%s", xd_context_last_error(ctx));
}

const xd_device_info *xd_context_device(const xd_context *ctx) { return ctx ? &ctx->device : NULL; }
xd_mode xd_context_mode(const xd_context *ctx) { return ctx ? ctx->mode : XD_MODE_REPRODUCIBLE; }
const char *xd_context_build_options(const xd_context *ctx) { return ctx ? ctx->options : ""; }
const char *xd_context_guarantee(const xd_context *ctx) { return ctx ? ctx->guarantee : ""; }
uint64_t xd_context_device_bytes_peak(const xd_context *ctx) { return ctx ? ctx->device_bytes_peak : 0; }

xd_status xd_context_finish(xd_context *ctx)
{
    if (!ctx || !ctx->queue) return XD_INVALID_ARGUMENT;
    cl_int rc = clFinish(ctx->queue);
    return rc == CL_SUCCESS ? XD_OK : xd_fail_cl(ctx, rc, "clFinish");
}

xd_status xd_scratch(xd_context *ctx, int which, size_t bytes, cl_mem *out)
{
    cl_mem *mem = which ? &ctx->scratch2 : &ctx->scratch;
    size_t *have = which ? &ctx->scratch2_bytes : &ctx->scratch_bytes;
    if (bytes == 0) bytes = 4;
    if (*mem && *have >= bytes) {
        *out = *mem;
        return XD_OK;
    }
    if (*mem) {
        /* Safe without waiting: OpenCL deletes a released buffer only after
         * the enqueued commands that use it have finished. */
        clReleaseMemObject(*mem);
        ctx->device_bytes -= *have;
        *mem = NULL;
        *have = 0;
    }
    const uint64_t total = ctx->device_bytes + (uint64_t)bytes;
    if (ctx->device.global_mem_size && total > ctx->device.global_mem_size)
        return xd_fail(ctx, XD_OUT_OF_DEVICE_MEMORY, CL_MEM_OBJECT_ALLOCATION_FAILURE,
                       "%zu bytes of scratch would bring crossdev's allocations on %s to %llu bytes, beyond its "
                       "global memory (%llu bytes)",
                       bytes, ctx->device.id, (unsigned long long)total,
                       (unsigned long long)ctx->device.global_mem_size);
    cl_int rc;
    *mem = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, bytes, NULL, &rc);
    if (rc != CL_SUCCESS) {
        *mem = NULL;
        return xd_fail(ctx, XD_OUT_OF_DEVICE_MEMORY, rc, "allocating %zu bytes of scratch on %s failed: %s (%d)", bytes,
                       ctx->device.id, xd_cl_error_name(rc), (int)rc);
    }
    *have = bytes;
    ctx->device_bytes += bytes;
    if (ctx->device_bytes > ctx->device_bytes_peak) ctx->device_bytes_peak = ctx->device_bytes;
    *out = *mem;
    return XD_OK;
}
