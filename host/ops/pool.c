/* Max and average pooling host API: geometry and shape checks, then the
 * gather kernels of cl/pool.cl (the same kernels in both modes). */
#include "core/core.h"
#include "crossdev/ops.h"

xd_pool2d_params xd_pool2d_valid(int pool_h, int pool_w, int stride_h, int stride_w)
{
    xd_pool2d_params p = {pool_h, pool_w, stride_h, stride_w, 0, 0, 0, 0};
    return p;
}

xd_pool2d_params xd_pool2d_same(int in_h, int in_w, int pool_h, int pool_w, int stride_h, int stride_w)
{
    /* the padding of lax.padtype_to_pads("SAME"), as conv2d's */
    xd_conv2d_params c = xd_conv2d_same(in_h, in_w, pool_h, pool_w, stride_h, stride_w);
    xd_pool2d_params p = {pool_h, pool_w, stride_h, stride_w, c.pad_top, c.pad_bottom, c.pad_left, c.pad_right};
    return p;
}

typedef struct pool_dims {
    cl_uint NC, H, W, KH, KW, OH, OW, SH, SW, PT, PL;
} pool_dims;

static xd_status check_params(xd_context *ctx, const char *op, const xd_pool2d_params *p)
{
    if (!p) return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: params is NULL", op);
    if (p->pool_h < 1 || p->pool_w < 1 || p->stride_h < 1 || p->stride_w < 1)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0,
                       "%s: pool size and strides must be >= 1 (got pool %dx%d, stride %dx%d)", op, p->pool_h,
                       p->pool_w, p->stride_h, p->stride_w);
    /* a padding as large as the window would give windows with no input tap */
    if (p->pad_top < 0 || p->pad_bottom < 0 || p->pad_left < 0 || p->pad_right < 0 || p->pad_top >= p->pool_h ||
        p->pad_bottom >= p->pool_h || p->pad_left >= p->pool_w || p->pad_right >= p->pool_w)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0,
                       "%s: padding %d,%d,%d,%d must be >= 0 and smaller than the pool %dx%d", op, p->pad_top,
                       p->pad_bottom, p->pad_left, p->pad_right, p->pool_h, p->pool_w);
    return XD_OK;
}

/* x [N,C,H,W] and y [N,C,OH,OW] consistent with p. */
static xd_status pool_check(xd_context *ctx, const char *op, const xd_pool2d_params *p, const char *xname,
                            const xd_tensor *x, const char *yname, const xd_tensor *y, pool_dims *d)
{
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = check_params(ctx, op, p)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, xname, x, XD_DTYPE_F32, 4)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, yname, y, XD_DTYPE_F32, 4)) != XD_OK) return st;
    if (x->ndim != 4 || y->ndim != 4)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s and %s must be 4-D (NCHW)", op, xname, yname);
    int64_t oh = xd_conv2d_out_size(x->shape[2], p->pool_h, p->stride_h, p->pad_top, p->pad_bottom);
    int64_t ow = xd_conv2d_out_size(x->shape[3], p->pool_w, p->stride_w, p->pad_left, p->pad_right);
    if (oh < 1 || ow < 1)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: pool %dx%d does not fit input %lldx%lld", op, p->pool_h,
                       p->pool_w, (long long)x->shape[2], (long long)x->shape[3]);
    if (y->shape[0] != x->shape[0] || y->shape[1] != x->shape[1] || y->shape[2] != oh || y->shape[3] != ow)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s is [%lld,%lld,%lld,%lld], expected [%lld,%lld,%lld,%lld]", op,
                       yname, (long long)y->shape[0], (long long)y->shape[1], (long long)y->shape[2],
                       (long long)y->shape[3], (long long)x->shape[0], (long long)x->shape[1], (long long)oh,
                       (long long)ow);
    if ((st = xd_check_u32(ctx, op, "input size", x->count)) != XD_OK) return st;
    if ((st = xd_check_u32(ctx, op, "output size", y->count)) != XD_OK) return st;
    *d = (pool_dims){(cl_uint)(x->shape[0] * x->shape[1]),
                     (cl_uint)x->shape[2],
                     (cl_uint)x->shape[3],
                     (cl_uint)p->pool_h,
                     (cl_uint)p->pool_w,
                     (cl_uint)oh,
                     (cl_uint)ow,
                     (cl_uint)p->stride_h,
                     (cl_uint)p->stride_w,
                     (cl_uint)p->pad_top,
                     (cl_uint)p->pad_left};
    return XD_OK;
}

#define XD_POOL_GEOM(d)                                                                                           \
    XD_ARG((d).NC), XD_ARG((d).H), XD_ARG((d).W), XD_ARG((d).KH), XD_ARG((d).KW), XD_ARG((d).OH), XD_ARG((d).OW), \
        XD_ARG((d).SH), XD_ARG((d).SW), XD_ARG((d).PT), XD_ARG((d).PL)

/* Work-items of the vector-lane kernels: XD_VW windows of every row of a plane each. */
static size_t vector_items(const xd_context *ctx, const pool_dims *d)
{
    return (size_t)d->NC * ((d->OW + ctx->params.vw - 1) / ctx->params.vw);
}

xd_status xd_maxpool2d_forward(xd_context *ctx, const xd_pool2d_params *p, const xd_tensor *x, xd_tensor *y)
{
    pool_dims d = {0}; /* set by pool_check on success; the analyzer cannot see xd_fail never returns XD_OK */
    xd_status st = pool_check(ctx, "maxpool2d_forward", p, "x", x, "y", y, &d);
    if (st != XD_OK) return st;
    return XD_LAUNCH(ctx, XD_K_maxpool_fwd_v, vector_items(ctx, &d), XD_ARG(x->mem), XD_ARG(y->mem), XD_POOL_GEOM(d));
}

xd_status xd_maxpool2d_backward(xd_context *ctx, const xd_pool2d_params *p, const xd_tensor *x, const xd_tensor *dy,
                                xd_tensor *dx)
{
    const char *op = "maxpool2d_backward";
    pool_dims d = {0}; /* as in xd_maxpool2d_forward */
    xd_status st = pool_check(ctx, op, p, "x", x, "dy", dy, &d);
    if (st == XD_OK) st = xd_check_tensor(ctx, op, "dx", dx, XD_DTYPE_F32, 4);
    if (st != XD_OK) return st;
    if (dx->ndim != 4 || dx->shape[0] != x->shape[0] || dx->shape[1] != x->shape[1] || dx->shape[2] != x->shape[2] ||
        dx->shape[3] != x->shape[3])
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: dx must have x's shape", op);
    if (d.SH >= d.KH && d.SW >= d.KW)
        return XD_LAUNCH(ctx, XD_K_maxpool_bwd_disjoint, vector_items(ctx, &d), XD_ARG(x->mem), XD_ARG(dy->mem),
                         XD_ARG(dx->mem), XD_POOL_GEOM(d));
    /* overlapping windows: the argmax of every window (its index in the
     * plane), then the gather */
    cl_mem am;
    if ((st = xd_scratch(ctx, 0, dy->count * sizeof(cl_uint), &am)) != XD_OK) return st;
    cl_int with_index = 1;
    st = XD_LAUNCH(ctx, XD_K_maxpool_fwd, dy->count, XD_ARG(x->mem), XD_ARG(am), XD_ARG(am), XD_ARG(with_index),
                   XD_POOL_GEOM(d));
    if (st != XD_OK) return st;
    return XD_LAUNCH(ctx, XD_K_maxpool_bwd, dx->count, XD_ARG(am), XD_ARG(dy->mem), XD_ARG(dx->mem), XD_POOL_GEOM(d));
}

/* The average pooling's backward; where its one window is the whole
 * plane, a broadcast of each plane's one term (xd_avgpool_bwd_plane: the
 * general kernel finds every element's windows, 0.5 ms for resnet's 7x7). */
static xd_status avgpool_backward(xd_context *ctx, const pool_dims *d, const xd_tensor *dy, xd_tensor *dx)
{
    if (d->OH == 1 && d->OW == 1 && d->PT == 0 && d->PL == 0 && d->KH >= d->H && d->KW >= d->W) {
        cl_uint hw = d->H * d->W;
        return XD_LAUNCH(ctx, XD_K_avgpool_bwd_plane, d->NC, XD_ARG(dy->mem), XD_ARG(dx->mem), XD_ARG(d->NC),
                         XD_ARG(hw));
    }
    return XD_LAUNCH(ctx, XD_K_avgpool_bwd, dx->count, XD_ARG(dy->mem), XD_ARG(dx->mem), XD_POOL_GEOM(*d));
}

xd_status xd_avgpool2d_forward(xd_context *ctx, const xd_pool2d_params *p, const xd_tensor *x, xd_tensor *y)
{
    pool_dims d;
    xd_status st = pool_check(ctx, "avgpool2d_forward", p, "x", x, "y", y, &d);
    if (st != XD_OK) return st;
    return XD_LAUNCH(ctx, XD_K_avgpool_fwd, y->count, XD_ARG(x->mem), XD_ARG(y->mem), XD_POOL_GEOM(d));
}

xd_status xd_avgpool2d_backward(xd_context *ctx, const xd_pool2d_params *p, const xd_tensor *dy, xd_tensor *dx)
{
    pool_dims d = {0}; /* as in xd_maxpool2d_forward */
    xd_status st = pool_check(ctx, "avgpool2d_backward", p, "dx", dx, "dy", dy, &d);
    if (st != XD_OK) return st;
    return avgpool_backward(ctx, &d, dy, dx);
}

/* ---- global average pooling: the window is the whole plane ------------------------------ */

/* x [N, C, H, W] (or [N, C]: a 1x1 plane) and y [N, C] (or [N, C, 1, 1]):
 * the dims of an average pooling whose one window is the plane. */
static xd_status global_check(xd_context *ctx, const char *op, const char *xname, const xd_tensor *x, const char *yname,
                              const xd_tensor *y, pool_dims *d)
{
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = xd_check_tensor(ctx, op, xname, x, XD_DTYPE_F32, 2)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, yname, y, XD_DTYPE_F32, 2)) != XD_OK) return st;
    int flat = y->ndim == 2 || (y->ndim == 4 && y->shape[2] == 1 && y->shape[3] == 1);
    if ((x->ndim != 4 && x->ndim != 2) || !flat || y->shape[0] != x->shape[0] || y->shape[1] != x->shape[1])
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s must be [N, C, H, W] and %s [N, C] of the same N and C", op,
                       xname, yname);
    if ((st = xd_check_u32(ctx, op, "input size", x->count)) != XD_OK) return st;
    cl_uint H = x->ndim == 4 ? (cl_uint)x->shape[2] : 1u, W = x->ndim == 4 ? (cl_uint)x->shape[3] : 1u;
    *d = (pool_dims){(cl_uint)(x->shape[0] * x->shape[1]), H, W, H, W, 1, 1, 1, 1, 0, 0};
    return XD_OK;
}

xd_status xd_global_avgpool2d_forward(xd_context *ctx, const xd_tensor *x, xd_tensor *y)
{
    pool_dims d;
    xd_status st = global_check(ctx, "global_avgpool2d_forward", "x", x, "y", y, &d);
    if (st != XD_OK) return st;
    return XD_LAUNCH(ctx, XD_K_avgpool_fwd, y->count, XD_ARG(x->mem), XD_ARG(y->mem), XD_POOL_GEOM(d));
}

xd_status xd_global_avgpool2d_backward(xd_context *ctx, const xd_tensor *dy, xd_tensor *dx)
{
    pool_dims d = {0}; /* as in xd_maxpool2d_forward */
    xd_status st = global_check(ctx, "global_avgpool2d_backward", "dx", dx, "dy", dy, &d);
    if (st != XD_OK) return st;
    return avgpool_backward(ctx, &d, dy, dx);
}

/* ---- global max pooling: the max pooling's forward, its own backward ---------------------- */

xd_status xd_global_maxpool2d_forward(xd_context *ctx, const xd_tensor *x, xd_tensor *y)
{
    pool_dims d = {0};
    xd_status st = global_check(ctx, "global_maxpool2d_forward", "x", x, "y", y, &d);
    if (st != XD_OK) return st;
    cl_int with_index = 0;
    return XD_LAUNCH(ctx, XD_K_maxpool_fwd, y->count, XD_ARG(x->mem), XD_ARG(y->mem), XD_ARG(y->mem),
                     XD_ARG(with_index), XD_POOL_GEOM(d));
}

xd_status xd_global_maxpool2d_backward(xd_context *ctx, const xd_tensor *x, const xd_tensor *dy, xd_tensor *dx)
{
    const char *op = "global_maxpool2d_backward";
    pool_dims d = {0};
    xd_status st = global_check(ctx, op, "x", x, "dy", dy, &d);
    if (st == XD_OK) st = xd_check_tensor(ctx, op, "dx", dx, XD_DTYPE_F32, 2);
    if (st != XD_OK) return st;
    if (dx->ndim != x->ndim || dx->count != x->count || dx->shape[0] != x->shape[0] || dx->shape[1] != x->shape[1])
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: dx must have x's shape", op);
    cl_uint hw = d.H * d.W;
    return XD_LAUNCH(ctx, XD_K_global_maxpool_bwd, d.NC, XD_ARG(x->mem), XD_ARG(dy->mem), XD_ARG(dx->mem), XD_ARG(d.NC),
                     XD_ARG(hw));
}
