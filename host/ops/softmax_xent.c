/* Softmax cross-entropy from logits host API. */
#include "core/core.h"
#include "crossdev/ops.h"

xd_status xd_softmax_xent(xd_context *ctx, const xd_tensor *logits, const xd_tensor *labels, xd_tensor *loss,
                          xd_tensor *dlogits, xd_tensor *row_loss)
{
    const char *op = "softmax_xent";
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = xd_check_tensor(ctx, op, "logits", logits, XD_DTYPE_F32, 2)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, "labels", labels, XD_DTYPE_I32, 1)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, "loss", loss, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, "dlogits", dlogits, XD_DTYPE_F32, 2)) != XD_OK) return st;
    if (logits->ndim != 2) return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: logits must be [N, K]", op);
    cl_uint N = (cl_uint)logits->shape[0], K = (cl_uint)logits->shape[1];
    if (labels->count != N)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %zu labels for %u rows of logits", op, labels->count, N);
    if (loss->count != 1) return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: loss must hold one element", op);
    if (dlogits->ndim != 2 || dlogits->shape[0] != logits->shape[0] || dlogits->shape[1] != logits->shape[1])
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: dlogits must be [%u, %u] like logits", op, N, K);
    if ((st = xd_check_u32(ctx, op, "logits", logits->count)) != XD_OK) return st;
    cl_mem rows;
    if (row_loss) {
        if ((st = xd_check_tensor(ctx, op, "row_loss", row_loss, XD_DTYPE_F32, 1)) != XD_OK) return st;
        if (row_loss->count != N)
            return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: row_loss must hold %u elements", op, N);
        rows = row_loss->mem;
    } else if ((st = xd_scratch(ctx, 1, (size_t)N * 4, &rows)) != XD_OK) {
        return st;
    }
    st = XD_LAUNCH(ctx, XD_K_softmax_xent_rows, N, XD_ARG(logits->mem), XD_ARG(labels->mem), XD_ARG(rows),
                   XD_ARG(dlogits->mem), XD_ARG(N), XD_ARG(K));
    if (st != XD_OK) return st;
    return XD_LAUNCH(ctx, XD_K_mean, 1, XD_ARG(rows), XD_ARG(loss->mem), XD_ARG(N));
}
