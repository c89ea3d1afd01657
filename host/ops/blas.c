/* Fast-mode GEMM through CLBlast; see blas.h. */
#include <clblast_c.h>
#include <time.h>

#include "blas.h"

const char *xd_clblast_status_name(int code)
{
    switch (code) {
        /* clang-format off: one name per line */
#define N_(c) \
    case c: return #c;
        N_(CLBlastSuccess)
        N_(CLBlastOpenCLCompilerNotAvailable)
        N_(CLBlastTempBufferAllocFailure)
        N_(CLBlastOpenCLOutOfResources)
        N_(CLBlastOpenCLOutOfHostMemory)
        N_(CLBlastOpenCLBuildProgramFailure)
        N_(CLBlastInvalidValue)
        N_(CLBlastInvalidCommandQueue)
        N_(CLBlastInvalidMemObject)
        N_(CLBlastInvalidBinary)
        N_(CLBlastInvalidBuildOptions)
        N_(CLBlastInvalidProgram)
        N_(CLBlastInvalidProgramExecutable)
        N_(CLBlastInvalidKernelName)
        N_(CLBlastInvalidKernelDefinition)
        N_(CLBlastInvalidKernel)
        N_(CLBlastInvalidArgIndex)
        N_(CLBlastInvalidArgValue)
        N_(CLBlastInvalidArgSize)
        N_(CLBlastInvalidKernelArgs)
        N_(CLBlastInvalidLocalNumDimensions)
        N_(CLBlastInvalidLocalThreadsTotal)
        N_(CLBlastInvalidLocalThreadsDim)
        N_(CLBlastInvalidGlobalOffset)
        N_(CLBlastInvalidEventWaitList)
        N_(CLBlastInvalidEvent)
        N_(CLBlastInvalidOperation)
        N_(CLBlastInvalidBufferSize)
        N_(CLBlastInvalidGlobalWorkSize)
        N_(CLBlastNotImplemented)
        N_(CLBlastInvalidMatrixA)
        N_(CLBlastInvalidMatrixB)
        N_(CLBlastInvalidMatrixC)
        N_(CLBlastInvalidVectorX)
        N_(CLBlastInvalidVectorY)
        N_(CLBlastInvalidDimension)
        N_(CLBlastInvalidLeadDimA)
        N_(CLBlastInvalidLeadDimB)
        N_(CLBlastInvalidLeadDimC)
        N_(CLBlastInvalidIncrementX)
        N_(CLBlastInvalidIncrementY)
        N_(CLBlastInsufficientMemoryA)
        N_(CLBlastInsufficientMemoryB)
        N_(CLBlastInsufficientMemoryC)
        N_(CLBlastInsufficientMemoryX)
        N_(CLBlastInsufficientMemoryY)
        N_(CLBlastInsufficientMemoryTemp)
        N_(CLBlastInvalidBatchCount)
        N_(CLBlastInvalidOverrideKernel)
        N_(CLBlastMissingOverrideParameter)
        N_(CLBlastInvalidLocalMemUsage)
        N_(CLBlastNoHalfPrecision)
        N_(CLBlastNoDoublePrecision)
        N_(CLBlastInvalidVectorScalar)
        N_(CLBlastInsufficientMemoryScalar)
        N_(CLBlastDatabaseError)
        N_(CLBlastUnknownError)
        N_(CLBlastUnexpectedError)
        /* clang-format on */
#undef N_
    default: return code > -1000 && code <= 0 ? xd_cl_error_name((cl_int)code) : "unknown CLBlast status";
    }
}

#define XD_FAST_GEMM_MIN_OUTPUTS 4096 /* m * n */
#define XD_FAST_GEMM_MIN_K 4

int xd_fast_gemm(const xd_context *ctx, size_t m, size_t n, size_t k)
{
    if (ctx->mode != XD_MODE_FAST || ctx->params.clblast == XD_CLBLAST_NEVER) return 0;
    if (ctx->params.clblast == XD_CLBLAST_ALWAYS) return 1;
    return m * n >= XD_FAST_GEMM_MIN_OUTPUTS && k >= XD_FAST_GEMM_MIN_K;
}

/* The context's release hook (core.h): CLBlast's cache holds programs built
 * on the context once fast mode called it. */
static void clear_cache(void) { CLBlastClearCache(); }

xd_status xd_sgemm(xd_context *ctx, const char *op, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                   cl_mem a, size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c,
                   size_t c_off, size_t ldc)
{
    if (m == 0 || n == 0) return XD_OK;
    struct timespec t0 = {0, 0}, t1 = {0, 0};
    if (ctx->profile) {
        clFinish(ctx->queue);
        clock_gettime(CLOCK_MONOTONIC, &t0);
    }
    ctx->release_cache = clear_cache;
    CLBlastStatusCode rc = CLBlastSgemm(CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
                                        trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, alpha, a, a_off,
                                        lda, b, b_off, ldb, beta, c, c_off, ldc, &ctx->queue, NULL);
    if (ctx->profile && rc == CLBlastSuccess) {
        clFinish(ctx->queue);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        xd_profile_add_host(ctx, (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec));
    }
    if (rc == CLBlastSuccess) return XD_OK;
    xd_status st = XD_OPENCL;
    if (rc == CLBlastOpenCLOutOfResources || rc == CLBlastTempBufferAllocFailure || rc == CLBlastInsufficientMemoryTemp)
        st = XD_OUT_OF_DEVICE_MEMORY;
    else if (rc == CLBlastOpenCLOutOfHostMemory) st = XD_OUT_OF_HOST_MEMORY;
    return xd_fail(ctx, st, rc > -1000 && rc < 0 ? (cl_int)rc : 0,
                   "%s (fast mode): CLBlast SGEMM %c%c m=%zu n=%zu k=%zu failed on %s: %s (CLBlast status %d)", op,
                   trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, ctx->device.id, xd_clblast_status_name((int)rc),
                   (int)rc);
}
