/* Tensors: a device buffer with a dtype and shape, owned by the caller. */
#include <stdlib.h>
#include <string.h>

#include "core.h"

xd_status xd_tensor_create(xd_context *ctx, xd_dtype dtype, int ndim, const int64_t *shape, xd_tensor **out)
{
    if (!ctx || !out) return XD_INVALID_ARGUMENT;
    *out = NULL;
    if (ndim < 1 || ndim > XD_MAX_DIMS || !shape)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "tensor: ndim %d outside 1..%d", ndim, XD_MAX_DIMS);
    if (dtype != XD_DTYPE_F32 && dtype != XD_DTYPE_I32)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "tensor: unknown dtype %d", (int)dtype);
    uint64_t count = 1;
    for (int i = 0; i < ndim; ++i) {
        if (shape[i] < 1 || shape[i] > (int64_t)1 << 32)
            return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "tensor: dimension %d is %lld (must be 1..2^32)", i,
                           (long long)shape[i]);
        if (count > (UINT64_C(1) << 40) / (uint64_t)shape[i])
            return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "tensor: element count overflows");
        count *= (uint64_t)shape[i];
    }
    uint64_t bytes = count * 4;
    if (ctx->device.max_mem_alloc_size && bytes > ctx->device.max_mem_alloc_size)
        return xd_fail(ctx, XD_OUT_OF_DEVICE_MEMORY, CL_INVALID_BUFFER_SIZE,
                       "tensor of %llu bytes exceeds %s's largest allocation (%llu bytes)", (unsigned long long)bytes,
                       ctx->device.id, (unsigned long long)ctx->device.max_mem_alloc_size);
    /* Drivers allocate lazily: a buffer beyond the device's memory is often
     * created fine and fails at first use, far from its cause.  Refuse it
     * here, naming the sizes. */
    const uint64_t total = ctx->device_bytes + bytes;
    if (ctx->device.global_mem_size && total > ctx->device.global_mem_size)
        return xd_fail(ctx, XD_OUT_OF_DEVICE_MEMORY, CL_MEM_OBJECT_ALLOCATION_FAILURE,
                       "a tensor of %llu bytes would bring crossdev's allocations on %s to %llu bytes, beyond its "
                       "global memory (%llu bytes)",
                       (unsigned long long)bytes, ctx->device.id, (unsigned long long)total,
                       (unsigned long long)ctx->device.global_mem_size);
    xd_tensor *t = calloc(1, sizeof *t);
    if (!t) return xd_fail(ctx, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory");
    cl_int rc;
    t->mem = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, (size_t)bytes, NULL, &rc);
    if (rc != CL_SUCCESS) {
        free(t);
        return xd_fail(ctx, XD_OUT_OF_DEVICE_MEMORY, rc, "allocating a tensor of %llu bytes on %s failed: %s (%d)",
                       (unsigned long long)bytes, ctx->device.id, xd_cl_error_name(rc), (int)rc);
    }
    t->ctx = ctx;
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->count = (size_t)count;
    ctx->device_bytes += bytes;
    if (ctx->device_bytes > ctx->device_bytes_peak) ctx->device_bytes_peak = ctx->device_bytes;
    *out = t;
    return XD_OK;
}

xd_status xd_tensor_view(const xd_tensor *t, int ndim, const int64_t *shape, xd_tensor **out)
{
    if (!t || !out || !shape) return XD_INVALID_ARGUMENT;
    *out = NULL;
    uint64_t count = 1;
    for (int i = 0; i < ndim && ndim <= XD_MAX_DIMS; ++i) count *= shape[i] > 0 ? (uint64_t)shape[i] : 0;
    if (ndim < 1 || ndim > XD_MAX_DIMS || count != t->count)
        return xd_fail(t->ctx, XD_INVALID_ARGUMENT, 0,
                       "tensor view: %d dimensions of %llu elements over a tensor of %zu", ndim,
                       (unsigned long long)count, t->count);
    xd_tensor *v = malloc(sizeof *v);
    if (!v) return xd_fail(t->ctx, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory");
    *v = *t;
    v->view = 1;
    v->ndim = ndim;
    memcpy(v->shape, shape, (size_t)ndim * sizeof *shape);
    clRetainMemObject(v->mem);
    *out = v;
    return XD_OK;
}

void xd_tensor_destroy(xd_tensor *t)
{
    if (!t) return;
    if (!t->view) t->ctx->device_bytes -= (uint64_t)t->count * 4;
    clReleaseMemObject(t->mem);
    free(t);
}

int xd_tensor_ndim(const xd_tensor *t) { return t ? t->ndim : 0; }
const int64_t *xd_tensor_shape(const xd_tensor *t) { return t ? t->shape : NULL; }
size_t xd_tensor_count(const xd_tensor *t) { return t ? t->count : 0; }
xd_dtype xd_tensor_dtype(const xd_tensor *t) { return t ? t->dtype : XD_DTYPE_F32; }
void *xd_tensor_cl_mem(xd_tensor *t) { return t ? (void *)t->mem : NULL; }

xd_status xd_tensor_write(xd_tensor *t, const void *host, size_t bytes)
{
    if (!t || !host) return XD_INVALID_ARGUMENT;
    if (bytes != t->count * 4)
        return xd_fail(t->ctx, XD_INVALID_ARGUMENT, 0, "tensor write: %zu bytes given, tensor holds %zu", bytes,
                       t->count * 4);
    cl_int rc = clEnqueueWriteBuffer(t->ctx->queue, t->mem, CL_TRUE, 0, bytes, host, 0, NULL, NULL);
    return rc == CL_SUCCESS ? XD_OK : xd_fail_cl(t->ctx, rc, "clEnqueueWriteBuffer");
}

xd_status xd_tensor_write_async(xd_tensor *t, const void *host, size_t bytes)
{
    if (bytes != t->count * 4)
        return xd_fail(t->ctx, XD_INVALID_ARGUMENT, 0, "tensor write: %zu bytes given, tensor holds %zu", bytes,
                       t->count * 4);
    cl_int rc = clEnqueueWriteBuffer(t->ctx->queue, t->mem, CL_FALSE, 0, bytes, host, 0, NULL, NULL);
    return rc == CL_SUCCESS ? XD_OK : xd_fail_cl(t->ctx, rc, "clEnqueueWriteBuffer");
}

xd_status xd_tensor_read_async(const xd_tensor *t, void *host, size_t bytes, xd_event *done)
{
    if (bytes != t->count * 4)
        return xd_fail(t->ctx, XD_INVALID_ARGUMENT, 0, "tensor read: %zu bytes asked, tensor holds %zu", bytes,
                       t->count * 4);
    cl_int rc = clEnqueueReadBuffer(t->ctx->queue, t->mem, CL_FALSE, 0, bytes, host, 0, NULL, done ? &done->ev : NULL);
    return rc == CL_SUCCESS ? XD_OK : xd_fail_cl(t->ctx, rc, "clEnqueueReadBuffer");
}

xd_status xd_event_wait(xd_context *ctx, const xd_event *e)
{
    cl_int rc = clWaitForEvents(1, &e->ev);
    return rc == CL_SUCCESS ? XD_OK : xd_fail_cl(ctx, rc, "clWaitForEvents");
}

void xd_event_release(xd_event *e)
{
    if (!e->ev) return;
    clReleaseEvent(e->ev);
    e->ev = NULL;
}

void xd_context_flush(xd_context *ctx) { clFlush(ctx->queue); }

xd_status xd_tensor_read(const xd_tensor *t, void *host, size_t bytes)
{
    if (!t || !host) return XD_INVALID_ARGUMENT;
    if (bytes != t->count * 4)
        return xd_fail(t->ctx, XD_INVALID_ARGUMENT, 0, "tensor read: %zu bytes asked, tensor holds %zu", bytes,
                       t->count * 4);
    cl_int rc = clEnqueueReadBuffer(t->ctx->queue, t->mem, CL_TRUE, 0, bytes, host, 0, NULL, NULL);
    return rc == CL_SUCCESS ? XD_OK : xd_fail_cl(t->ctx, rc, "clEnqueueReadBuffer");
}

xd_status xd_tensor_copy(xd_tensor *dst, const xd_tensor *src)
{
    if (!dst || !src || dst->ctx != src->ctx) return XD_INVALID_ARGUMENT;
    if (dst->count != src->count || dst->dtype != src->dtype)
        return xd_fail(dst->ctx, XD_SHAPE_MISMATCH, 0, "tensor copy: %zu elements into %zu", src->count, dst->count);
    cl_int rc = clEnqueueCopyBuffer(dst->ctx->queue, src->mem, dst->mem, 0, 0, src->count * 4, 0, NULL, NULL);
    return rc == CL_SUCCESS ? XD_OK : xd_fail_cl(dst->ctx, rc, "clEnqueueCopyBuffer");
}

xd_status xd_tensor_fill_zero(xd_tensor *t)
{
    if (!t) return XD_INVALID_ARGUMENT;
    cl_uint zero = 0;
    cl_int rc = clEnqueueFillBuffer(t->ctx->queue, t->mem, &zero, sizeof zero, 0, t->count * 4, 0, NULL, NULL);
    return rc == CL_SUCCESS ? XD_OK : xd_fail_cl(t->ctx, rc, "clEnqueueFillBuffer");
}

xd_status xd_check_tensor(xd_context *ctx, const char *op, const char *name, const xd_tensor *t, xd_dtype dtype,
                          int min_ndim)
{
    if (!t) return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: %s is NULL", op, name);
    if (t->ctx != ctx) return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: %s belongs to another context", op, name);
    if (t->dtype != dtype)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: %s must be %s", op, name,
                       dtype == XD_DTYPE_F32 ? "float32" : "int32");
    if (t->ndim < min_ndim)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s has %d dims, needs at least %d", op, name, t->ndim, min_ndim);
    return XD_OK;
}

xd_status xd_check_u32(xd_context *ctx, const char *op, const char *what, uint64_t v)
{
    if (v >= UINT64_C(0xffffffff))
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: %s = %llu exceeds the kernels' 32-bit indexing", op, what,
                       (unsigned long long)v);
    return XD_OK;
}
