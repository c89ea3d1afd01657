/* Creating a context, the top of core (core.h's layers): the tunables and
 * build options for the device and mode, an OpenCL context and in-order
 * profiling queue, the program and its kernel objects (program.c), the
 * self-test (probe.c); and destroying it.  Its last error, accessors and
 * scratch buffers are context_base.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

xd_status xd_device_check_reproducible(const xd_device_info *d, xd_error *err)
{
    if (!d) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_device_check_reproducible: NULL device");
    /* Subnormals are kept (docs/reproducibility.md): a flushing device would
     * give other bits, so it is refused rather than silently different. */
    if (d->fp32_denorm != XD_CAP_YES)
        return xd_error_set(err, XD_UNSUPPORTED, 0,
                            "%s: reproducible mode needs fp32 denormals (CL_FP_DENORM), device reports %s", d->id,
                            xd_cap_string(d->fp32_denorm));
    if (d->fp32_round_to_nearest != XD_CAP_YES)
        return xd_error_set(err, XD_UNSUPPORTED, 0,
                            "%s: reproducible mode needs round-to-nearest (CL_FP_ROUND_TO_NEAREST)", d->id);
    if (d->fp32_inf_nan != XD_CAP_YES)
        return xd_error_set(err, XD_UNSUPPORTED, 0, "%s: reproducible mode needs IEEE inf and NaN (CL_FP_INF_NAN)",
                            d->id);
    return xd_error_return(err, XD_OK);
}

/* Division/sqrt strategy for reproducible mode (cl/xd_math.h XD_DIV_MODE).
 * XD_FORCE_DIV_MODE=0|1|2 overrides it, for tests of each path. */
static int choose_div_mode(const xd_device_info *d)
{
    const char *force = getenv("XD_FORCE_DIV_MODE");
    if (force && (force[0] == '0' || force[0] == '1' || force[0] == '2') && !force[1]) return force[0] - '0';
    if (d->fp32_correctly_rounded_div_sqrt == XD_CAP_YES) return 0;
    if (d->fp64 == XD_CAP_YES) return 1;
    return 2;
}

static size_t choose_local_size(const xd_device_info *d, unsigned wanted)
{
    /* Local size only schedules: no kernel's arithmetic depends on it. */
    size_t ls = wanted ? wanted : 64;
    if (d->max_work_group_size && d->max_work_group_size < ls) ls = (size_t)d->max_work_group_size;
    return ls ? ls : 1;
}

/* Oclgrind's clCreateCommandQueueWithProperties hangs inside ocl-icd 2.3.1
 * (docs/drivers.md); the 1.2 entry point works everywhere we target. */
static cl_command_queue create_queue(cl_context c, cl_device_id dev, cl_int *rc)
{
    return clCreateCommandQueue(c, dev, CL_QUEUE_PROFILING_ENABLE, rc);
}

/* The tunables for the device (and XD_PARAMS, XD_FAST_GEMM), the local size, the profile. */
static xd_status choose_tunables(xd_context *ctx)
{
    xd_error err;
    ctx->params = xd_params_for(&ctx->device, xd_device_isa(&ctx->device));
    xd_status st = xd_params_from_env(&ctx->params, ctx->mode, &err);
    if (st != XD_OK) return xd_fail(ctx, st, 0, "%s", err.message);
    ctx->local_size = choose_local_size(&ctx->device, ctx->params.local_size);
    ctx->params.local_size = (unsigned)ctx->local_size; /* the size used, as the build options record it */
    const char *prof = getenv("XD_PROFILE");
    if (prof && strcmp(prof, "1") == 0) ctx->profile = xd_profile_create();
    return XD_OK;
}

/* The mode's rules as build options and the guarantee string: reproducible
 * mode checks the capabilities and picks the division path; fast mode
 * allows contraction.  Then the tunables as -D options. */
static xd_status choose_options(xd_context *ctx)
{
    if (ctx->mode == XD_MODE_REPRODUCIBLE) {
        xd_error err;
        xd_status st = xd_device_check_reproducible(&ctx->device, &err);
        if (st != XD_OK) return xd_fail(ctx, st, 0, "%s", err.message);
        ctx->div_mode = choose_div_mode(&ctx->device);
        snprintf(ctx->options, sizeof ctx->options, "-cl-std=CL1.2 -DXD_DIV_MODE=%d%s", ctx->div_mode,
                 ctx->div_mode == 0 ? " -cl-fp32-correctly-rounded-divide-sqrt" : "");
        snprintf(ctx->guarantee, sizeof ctx->guarantee, "bitwise (div/sqrt: %s)",
                 ctx->div_mode == 0   ? "correctly rounded builtins"
                 : ctx->div_mode == 1 ? "via fp64, correctly rounded"
                                      : "software with exact residuals, correctly rounded for normal results");
        /* Test hooks (docs/reproducibility.md): XD_PROBE_PLANT=reassoc builds
         * the self-test's sum as two interleaved partial sums, so that the
         * context must be refused; =build-error makes the build fail with
         * a log, as a driver that cannot compile crossdev does.  They reach
         * the compiler as options, so they show in the build options like
         * every other. */
        const char *plant = getenv("XD_PROBE_PLANT");
        int reassoc = plant && strcmp(plant, "reassoc") == 0, broken = plant && strcmp(plant, "build-error") == 0;
        if (plant && !reassoc && !broken)
            return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "XD_PROBE_PLANT: '%s' is not 'reassoc' or 'build-error'",
                           plant);
        if (plant)
            strncat(ctx->options, reassoc ? " -DXD_PROBE_PLANT_REASSOC" : " -DXD_PROBE_PLANT_BUILD_ERROR",
                    sizeof ctx->options - strlen(ctx->options) - 1);
    } else {
        ctx->div_mode = -1;
        snprintf(ctx->options, sizeof ctx->options, "-cl-std=CL1.2 -DXD_FAST=1 -cl-mad-enable");
        snprintf(ctx->guarantee, sizeof ctx->guarantee, "none (fast: vendor builtins, contraction allowed)");
    }
    size_t n = strlen(ctx->options);
    xd_params_defines(&ctx->params, ctx->options + n, sizeof ctx->options - n);
    return XD_OK;
}

/* The OpenCL context and its in-order profiling queue. */
static xd_status open_queue(xd_context *ctx)
{
    cl_int rc;
    cl_device_id dev = (cl_device_id)ctx->device.device_handle;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->device.platform_handle, 0};
    ctx->cl_ctx = clCreateContext(props, 1, &dev, NULL, NULL, &rc);
    if (rc != CL_SUCCESS) return xd_fail_cl(ctx, rc, "clCreateContext");
    ctx->queue = create_queue(ctx->cl_ctx, dev, &rc);
    if (rc != CL_SUCCESS) return xd_fail_cl(ctx, rc, "clCreateCommandQueue");
    return XD_OK;
}

/* Builds the program with the options and creates every kernel object. */
static xd_status build_kernels(xd_context *ctx)
{
    static const char *const names[XD_K_COUNT_] = {
#define XD_KERNEL_NAME_(name) "xd_" #name,
        XD_KERNEL_LIST(XD_KERNEL_NAME_)
#undef XD_KERNEL_NAME_
    };
    cl_int rc;
    char *src = NULL;
    xd_status st = xd_program_source(ctx, &src);
    if (st != XD_OK) return st;
    st = xd_program_build(ctx, src, ctx->options, 1, &ctx->program);
    free(src);
    if (st != XD_OK) return st;
    for (int k = 0; k < XD_K_COUNT_; ++k) {
        ctx->kernels[k] = clCreateKernel(ctx->program, names[k], &rc);
        if (rc != CL_SUCCESS)
            return xd_fail(ctx, XD_OPENCL, rc, "clCreateKernel(%s) failed on %s: %s (%d)%s", names[k], ctx->device.id,
                           xd_cl_error_name(rc), (int)rc,
                           rc == CL_INVALID_KERNEL_NAME
                               ? "; the build reported success, yet the program lacks crossdev's kernels: PoCL does "
                                 "this when its kernel cache (POCL_CACHE_DIR, by default ~/.cache/pocl/kcache) holds "
                                 "an entry that a crashed compile left behind; remove that folder and rerun "
                                 "(docs/drivers.md)"
                               : "");
    }
    return XD_OK;
}

/* Fail closed: in reproducible mode a device whose compiler changes the
 * arithmetic is refused here, whatever its capabilities say. */
static xd_status self_test(xd_context *ctx)
{
    if (ctx->mode != XD_MODE_REPRODUCIBLE) return XD_OK;
    xd_status st = xd_context_probe(ctx, NULL);
    if (st == XD_OK) return XD_OK;
    char *why = xd_strdup(xd_context_last_error(ctx));
    st = xd_fail(ctx, st, ctx->last_cl,
                 "%s; reproducible mode is refused on this device (fast mode still runs; docs/drivers.md)",
                 why ? why : "the self-test failed");
    free(why);
    return st;
}

xd_status xd_context_create(const xd_device_info *device, xd_mode mode, xd_context **out)
{
    if (!out) return XD_INVALID_ARGUMENT;
    *out = NULL;
    if (!device || !device->device_handle) return XD_INVALID_ARGUMENT;
    xd_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return XD_OUT_OF_HOST_MEMORY;
    *out = ctx; /* also on failure: xd_context_last_error says why */
    ctx->device = *device;
    ctx->mode = mode;
    xd_status st = choose_tunables(ctx);
    if (st == XD_OK) st = choose_options(ctx);
    if (st == XD_OK) st = open_queue(ctx);
    if (st == XD_OK) st = build_kernels(ctx);
    if (st != XD_OK) return st;
    xd_fail(ctx, XD_OK, 0, "%s", "");
    return self_test(ctx);
}

/* Releases the programs a library above core cached for this context
 * (CLBlast's, for every context: it has one process-wide cache; fast mode,
 * host/ops/blas.c sets the hook).  Called before the context's own OpenCL
 * objects go: left to CLBlast's static destructor at exit, the release
 * reaches a driver whose libraries may already be finalized (Oclgrind with
 * Intel's runtime loaded beside it corrupted the heap at exit;
 * docs/drivers.md). */
static void release_cache(xd_context *ctx)
{
    if (!ctx->release_cache) return;
    ctx->release_cache();
    ctx->release_cache = NULL;
}

void xd_context_destroy(xd_context *ctx)
{
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    release_cache(ctx);
    if (ctx->profile) {
        xd_profile_report(ctx);
        xd_profile_destroy(ctx->profile);
    }
    for (int k = 0; k < XD_K_COUNT_; ++k)
        if (ctx->kernels[k]) clReleaseKernel(ctx->kernels[k]);
    if (ctx->scratch) clReleaseMemObject(ctx->scratch);
    if (ctx->scratch2) clReleaseMemObject(ctx->scratch2);
    if (ctx->program) clReleaseProgram(ctx->program);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->cl_ctx) clReleaseContext(ctx->cl_ctx);
    free(ctx->last_error);
    free(ctx);
}
