/* Dense layer host API: y = x W^T + b with x [N, ...] flattened to [N, I].
 * Reproducible mode: the fixed-order kernels of cl/dense.cl.  Fast mode:
 * CLBlast SGEMM (host/ops/blas.c) for forward, backward data and weights where
 * xd_fast_gemm() says it pays, else the same kernels built with contraction. */
#include "blas.h"
#include "xd_math.h" /* XD_KCHUNK */
#include "core/core.h"
#include "crossdev/ops.h"

/* N and I of x seen as [N, I]. */
static xd_status flat(xd_context *ctx, const char *op, const char *name, const xd_tensor *x, cl_uint *N, cl_uint *I)
{
    xd_status st = xd_check_tensor(ctx, op, name, x, XD_DTYPE_F32, 2);
    if (st != XD_OK) return st;
    if ((st = xd_check_u32(ctx, op, name, x->count)) != XD_OK) return st;
    *N = (cl_uint)x->shape[0];
    *I = (cl_uint)(x->count / (size_t)x->shape[0]);
    return XD_OK;
}

static xd_status check_w(xd_context *ctx, const char *op, const xd_tensor *w, cl_uint I, cl_uint *O)
{
    xd_status st = xd_check_tensor(ctx, op, "w", w, XD_DTYPE_F32, 2);
    if (st != XD_OK) return st;
    if (w->ndim != 2 || w->shape[1] != (int64_t)I)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: w must be [O, %u] (out, in), got %d-D with %lld inputs", op, I,
                       w->ndim, (long long)(w->ndim >= 2 ? w->shape[1] : -1));
    if ((st = xd_check_u32(ctx, op, "w", w->count)) != XD_OK) return st;
    *O = (cl_uint)w->shape[0];
    return XD_OK;
}

static xd_status check_dy(xd_context *ctx, const char *op, const xd_tensor *dy, cl_uint N, cl_uint O)
{
    xd_status st = xd_check_tensor(ctx, op, "dy", dy, XD_DTYPE_F32, 2);
    if (st != XD_OK) return st;
    if (dy->ndim != 2 || dy->shape[0] != (int64_t)N || dy->shape[1] != (int64_t)O)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: dy/y must be [%u, %u]", op, N, O);
    return XD_OK;
}

xd_status xd_dense_forward(xd_context *ctx, const xd_tensor *x, const xd_tensor *w, const xd_tensor *b, xd_tensor *y)
{
    const char *op = "dense_forward";
    cl_uint N = 0, I = 0, O = 0;
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = flat(ctx, op, "x", x, &N, &I)) != XD_OK) return st;
    if ((st = check_w(ctx, op, w, I, &O)) != XD_OK) return st;
    if ((st = check_dy(ctx, op, y, N, O)) != XD_OK) return st;
    if (b) {
        if ((st = xd_check_tensor(ctx, op, "b", b, XD_DTYPE_F32, 1)) != XD_OK) return st;
        if (b->count != O)
            return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: b has %zu elements, w has %u outputs", op, b->count, O);
    }
    if (xd_fast_gemm(ctx, N, O, I)) {
        /* y[N,O] = x[N,I] W[O,I]^T by CLBlast, then + b */
        if ((st = xd_sgemm(ctx, op, 0, 1, N, O, I, 1.0f, x->mem, 0, I, w->mem, 0, I, 0.0f, y->mem, 0, O)) != XD_OK)
            return st;
        if (!b) return XD_OK;
        return XD_LAUNCH(ctx, XD_K_add_bias_rows, (size_t)N * O, XD_ARG(y->mem), XD_ARG(b->mem), XD_ARG(N), XD_ARG(O));
    }
    cl_uint nch = (I + XD_KCHUNK - 1) / XD_KCHUNK;
    size_t parts = (size_t)N * O * nch;
    if ((st = xd_check_u32(ctx, op, "partial sums (N x O x chunks)", parts)) != XD_OK) return st; /* 32-bit indices */
    cl_mem part;
    if ((st = xd_scratch(ctx, 0, parts * 4, &part)) != XD_OK) return st;
    if (ctx->params.dense_tiled) { /* work-groups of 8 x 8 over local-memory tiles (cl/dense.cl) */
        size_t groups = (size_t)nch * ((N + 7) / 8) * ((O + 7) / 8);
        st = XD_LAUNCH_GROUPS(ctx, XD_K_dense_fwd_partial_tiled, groups, 64, XD_ARG(x->mem), XD_ARG(w->mem),
                              XD_ARG(part), XD_ARG(N), XD_ARG(I), XD_ARG(O), XD_ARG(nch));
    } else {
        size_t nob = (O + ctx->params.dense_ob - 1) / ctx->params.dense_ob;
        size_t nnv = (N + ctx->params.vw - 1) / ctx->params.vw;
        st = XD_LAUNCH(ctx, XD_K_dense_fwd_partial, (size_t)nch * nnv * nob, XD_ARG(x->mem), XD_ARG(w->mem),
                       XD_ARG(part), XD_ARG(N), XD_ARG(I), XD_ARG(O), XD_ARG(nch));
    }
    if (st != XD_OK) return st;
    cl_uint P = N * O;
    cl_int has_bias = b != NULL;
    cl_mem bm = b ? b->mem : part;
    return XD_LAUNCH(ctx, XD_K_reduce_rows, P, XD_ARG(part), XD_ARG(bm), XD_ARG(y->mem), XD_ARG(P), XD_ARG(nch),
                     XD_ARG(O), XD_ARG(has_bias));
}

static xd_status backward_data(xd_context *ctx, const char *op, const xd_tensor *dy, const xd_tensor *w,
                               const xd_tensor *relu_y, xd_tensor *dx)
{
    cl_uint N = 0, I = 0, O = 0;
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = flat(ctx, op, "dx", dx, &N, &I)) != XD_OK) return st;
    if ((st = check_w(ctx, op, w, I, &O)) != XD_OK) return st;
    if ((st = check_dy(ctx, op, dy, N, O)) != XD_OK) return st;
    if (relu_y &&
        ((st = xd_check_tensor(ctx, op, "relu_y", relu_y, XD_DTYPE_F32, 1)) != XD_OK || relu_y->count != dx->count))
        return st != XD_OK
                   ? st
                   : xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: relu_y must have dx's %zu elements", op, dx->count);
    if (xd_fast_gemm(ctx, N, I, O)) { /* dx[N,I] = dy[N,O] W[O,I] */
        st = xd_sgemm(ctx, op, 0, 0, N, I, O, 1.0f, dy->mem, 0, O, w->mem, 0, I, 0.0f, dx->mem, 0, I);
        return st == XD_OK && relu_y ? xd_relu_backward(ctx, relu_y, dx, dx) : st;
    }
    /* dense_nb samples x vw inputs per work-item (XD_DENSE_NB, XD_VW) */
    size_t items =
        (size_t)((N + ctx->params.dense_nb - 1) / ctx->params.dense_nb) * ((I + ctx->params.vw - 1) / ctx->params.vw);
    cl_int relu = relu_y != NULL;
    cl_mem ym = relu_y ? relu_y->mem : dx->mem; /* any valid buffer when unused */
    return XD_LAUNCH(ctx, XD_K_dense_bwd_data, items, XD_ARG(dy->mem), XD_ARG(w->mem), XD_ARG(dx->mem), XD_ARG(N),
                     XD_ARG(I), XD_ARG(O), XD_ARG(ym), XD_ARG(relu));
}

xd_status xd_dense_backward_data(xd_context *ctx, const xd_tensor *dy, const xd_tensor *w, xd_tensor *dx)
{
    return backward_data(ctx, "dense_backward_data", dy, w, NULL, dx);
}

xd_status xd_dense_backward_data_relu(xd_context *ctx, const xd_tensor *dy, const xd_tensor *w, const xd_tensor *relu_y,
                                      xd_tensor *dx)
{
    return backward_data(ctx, "dense_backward_data_relu", dy, w, relu_y, dx);
}

xd_status xd_dense_backward_weights(xd_context *ctx, const xd_tensor *x, const xd_tensor *dy, xd_tensor *dw)
{
    const char *op = "dense_backward_weights";
    cl_uint N = 0, I = 0, O = 0;
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = flat(ctx, op, "x", x, &N, &I)) != XD_OK) return st;
    if ((st = check_w(ctx, op, dw, I, &O)) != XD_OK) return st;
    if ((st = check_dy(ctx, op, dy, N, O)) != XD_OK) return st;
    if (xd_fast_gemm(ctx, O, I, N)) /* dW[O,I] = dy[N,O]^T x[N,I] */
        return xd_sgemm(ctx, op, 1, 0, O, I, N, 1.0f, dy->mem, 0, O, x->mem, 0, I, 0.0f, dw->mem, 0, I);
    /* dense_ob outputs x vw inputs per work-item (XD_DENSE_OB, XD_VW) */
    size_t items =
        (size_t)((O + ctx->params.dense_ob - 1) / ctx->params.dense_ob) * ((I + ctx->params.vw - 1) / ctx->params.vw);
    return XD_LAUNCH(ctx, XD_K_dense_bwd_weights, items, XD_ARG(x->mem), XD_ARG(dy->mem), XD_ARG(dw->mem), XD_ARG(N),
                     XD_ARG(I), XD_ARG(O));
}

xd_status xd_dense_backward_bias(xd_context *ctx, const xd_tensor *dy, xd_tensor *db)
{
    const char *op = "dense_backward_bias";
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = xd_check_tensor(ctx, op, "dy", dy, XD_DTYPE_F32, 2)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, "db", db, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if (dy->ndim != 2 || (int64_t)db->count != dy->shape[1])
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: dy must be [N, O] and db [O]", op);
    if ((st = xd_check_u32(ctx, op, "dy", dy->count)) != XD_OK) return st;
    cl_uint N = (cl_uint)dy->shape[0], O = (cl_uint)dy->shape[1];
    cl_mem part;
    if ((st = xd_scratch(ctx, 0, dy->count * 4, &part)) != XD_OK) return st;
    if ((st = XD_LAUNCH(ctx, XD_K_transpose, dy->count, XD_ARG(dy->mem), XD_ARG(part), XD_ARG(N), XD_ARG(O))) != XD_OK)
        return st;
    return xd_reduce_rows(ctx, part, db->mem, O, N);
}
