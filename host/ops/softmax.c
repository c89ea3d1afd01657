/* Softmax on rows, and sparse categorical cross-entropy from probabilities
 * (Keras from_logits=False): host API of cl/softmax.cl. */
#include "core/core.h"
#include "crossdev/ops.h"

/* a [N, K] f32 and b of the same shape; N and K out. */
static xd_status rows(xd_context *ctx, const char *op, const char *an, const xd_tensor *a, const char *bn,
                      const xd_tensor *b, cl_uint *N, cl_uint *K)
{
    xd_status st;
    if ((st = xd_check_tensor(ctx, op, an, a, XD_DTYPE_F32, 2)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, bn, b, XD_DTYPE_F32, 2)) != XD_OK) return st;
    if (a->ndim != 2) return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s must be [N, K]", op, an);
    if (b->ndim != 2 || b->shape[0] != a->shape[0] || b->shape[1] != a->shape[1])
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s must be [%lld, %lld] like %s", op, bn, (long long)a->shape[0],
                       (long long)a->shape[1], an);
    if ((st = xd_check_u32(ctx, op, an, a->count)) != XD_OK) return st;
    *N = (cl_uint)a->shape[0];
    *K = (cl_uint)a->shape[1];
    return XD_OK;
}

xd_status xd_softmax_forward(xd_context *ctx, const xd_tensor *x, xd_tensor *y)
{
    cl_uint N = 0, K = 0;
    if (!ctx) return XD_INVALID_ARGUMENT;
    xd_status st = rows(ctx, "softmax_forward", "x", x, "y", y, &N, &K);
    if (st != XD_OK) return st;
    return XD_LAUNCH(ctx, XD_K_softmax_fwd, N, XD_ARG(x->mem), XD_ARG(y->mem), XD_ARG(N), XD_ARG(K));
}

xd_status xd_softmax_backward(xd_context *ctx, const xd_tensor *y, const xd_tensor *dy, xd_tensor *dx)
{
    const char *op = "softmax_backward";
    cl_uint N = 0, K = 0;
    if (!ctx) return XD_INVALID_ARGUMENT;
    xd_status st = rows(ctx, op, "y", y, "dy", dy, &N, &K);
    if (st == XD_OK) st = rows(ctx, op, "y", y, "dx", dx, &N, &K);
    if (st != XD_OK) return st;
    return XD_LAUNCH(ctx, XD_K_softmax_bwd, N, XD_ARG(y->mem), XD_ARG(dy->mem), XD_ARG(dx->mem), XD_ARG(N), XD_ARG(K));
}

xd_status xd_sparse_xent_probs(xd_context *ctx, const xd_tensor *probs, const xd_tensor *labels, xd_tensor *loss,
                               xd_tensor *dprobs, xd_tensor *row_loss)
{
    return xd_sparse_xent_probs_form(ctx, XD_XENT_RENORMALISE_CLIP, probs, labels, loss, dprobs, row_loss);
}

xd_status xd_sparse_xent_probs_form(xd_context *ctx, xd_xent_form form, const xd_tensor *probs, const xd_tensor *labels,
                                    xd_tensor *loss, xd_tensor *dprobs, xd_tensor *row_loss)
{
    const char *op = "sparse_xent_probs";
    cl_uint N = 0, K = 0;
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = rows(ctx, op, "probs", probs, "dprobs", dprobs, &N, &K)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, "labels", labels, XD_DTYPE_I32, 1)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, "loss", loss, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if (labels->count != N)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %zu labels for %u rows of probs", op, labels->count, N);
    if (loss->count != 1) return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: loss must hold one element", op);
    cl_mem rmem;
    if (row_loss) {
        if ((st = xd_check_tensor(ctx, op, "row_loss", row_loss, XD_DTYPE_F32, 1)) != XD_OK) return st;
        if (row_loss->count != N)
            return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: row_loss must hold %u elements", op, N);
        rmem = row_loss->mem;
    } else if ((st = xd_scratch(ctx, 1, (size_t)N * 4, &rmem)) != XD_OK) {
        return st;
    }
    /* jnp.clip / tf.clip_by_value(x, epsilon, 1 - epsilon) with Python floats: each rounded to float32 */
    cl_float lo = (cl_float)XD_KERAS_EPSILON, hi = (cl_float)(1.0 - XD_KERAS_EPSILON);
    st = XD_LAUNCH(ctx,
                   form == XD_XENT_CLIP_RENORMALISE ? XD_K_sparse_xent_probs_clip_rows : XD_K_sparse_xent_probs_rows, N,
                   XD_ARG(probs->mem), XD_ARG(labels->mem), XD_ARG(rmem), XD_ARG(dprobs->mem), XD_ARG(N), XD_ARG(K),
                   XD_ARG(lo), XD_ARG(hi));
    if (st != XD_OK) return st;
    return XD_LAUNCH(ctx, XD_K_mean, 1, XD_ARG(rmem), XD_ARG(loss->mem), XD_ARG(N));
}
