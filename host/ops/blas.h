/* Fast-mode GEMM through CLBlast (internal; never installed).
 *
 * Used only when ctx->mode == XD_MODE_FAST: CLBlast's summation order
 * depends on its tuning for the device, so reproducible mode never calls it.
 * CLBlast compiles its kernels on the first call per routine, precision and
 * device (a few seconds on PoCL), then caches them for the process. */
#ifndef XD_HOST_BLAS_H
#define XD_HOST_BLAS_H

#include "core/core.h"

/* Row-major C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, with
 * op(X) = X^T when trans_x is non-zero.  Offsets and leading dimensions in
 * elements.  `op` names the crossdev op in an error message. */
xd_status xd_sgemm(xd_context *ctx, const char *op, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                   cl_mem a, size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c,
                   size_t c_off, size_t ldc);

/* Fast mode: whether an op should go through CLBlast for a GEMM of this
 * shape (C [m, n], reduction k), or keep crossdev's own kernels, which split
 * the reduction and win where the output is small (CLBlast parallelises over
 * the output only: y = x W^T of seed-cnn has 320 outputs and k = 21632) or
 * the reduction is too short for a GEMM to beat a direct kernel (a conv
 * with C*KH*KW = 9).  The tunables table's clblast entry decides
 * (XD_CLBLAST_NEVER, _BY_SIZE: this rule, _ALWAYS); XD_FAST_GEMM=always|never
 * sets it (host/core/params.c), so the build options say which path ran.
 * Always 0 in reproducible mode. */
int xd_fast_gemm(const xd_context *ctx, size_t m, size_t n, size_t k);

/* The name of a CLBlastStatusCode ("CLBlastInvalidLocalMemUsage", ...). */
const char *xd_clblast_status_name(int code);

#endif
