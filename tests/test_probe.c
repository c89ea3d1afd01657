/* The self-test: the embedded reproducible math and the kernels' loop
 * shapes match the host build bitwise on every division/sqrt path the
 * library can choose; a reordering compiler is caught and the context
 * refused; and the root cause found on Intel's CPU runtime, shown by a
 * minimal kernel (docs/drivers.md). */
#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Each forced division path (0 needs the CR capability, 1 fp64). */
static void div_paths(xdt *t)
{
    static const char *const modes[] = {"0", "1", "2"};
    size_t bad = 0;
    for (int m = 0; m < 3; ++m) {
        if (m == 0 && t->dev->fp32_correctly_rounded_div_sqrt != XD_CAP_YES) continue;
        if (m == 1 && t->dev->fp64 != XD_CAP_YES) continue;
        setenv("XD_FORCE_DIV_MODE", modes[m], 1);
        xd_context *ctx = NULL;
        xd_status st = xd_context_create(t->dev, XD_MODE_REPRODUCIBLE, &ctx);
        if (xdt_check(t, st == XD_OK, "context with XD_DIV_MODE=%s: %s", modes[m], xd_context_last_error(ctx))) {
            st = xd_context_probe(ctx, &bad);
            xdt_check(t, st == XD_OK, "probe with XD_DIV_MODE=%s: %s", modes[m], xd_context_last_error(ctx));
            printf("XD_DIV_MODE=%s (%s): %zu mismatches\n", modes[m], xd_context_guarantee(ctx), bad);
        }
        xd_context_destroy(ctx);
    }
    unsetenv("XD_FORCE_DIV_MODE");
}

/* A planted reordering (two interleaved partial sums) fails the probe on
 * every device, and a reproducible-mode context is then refused, naming
 * what the compiler does; fast mode (no guarantee, no probe) still runs. */
static void planted_reorder(xdt *t)
{
    size_t bad = 0;
    xd_status st = xd_context_probe_options(t->ctx, "-DXD_PROBE_PLANT_REASSOC", &bad);
    const char *msg = xd_context_last_error(t->ctx);
    xdt_check(t, st == XD_SELF_TEST_FAILED && bad > 0 && strstr(msg, "reorders floating-point additions"),
              "planted reordering caught: %s, %zu mismatches: %s", xd_status_name(st), bad, msg);

    setenv("XD_PROBE_PLANT", "reassoc", 1);
    xd_context *ctx = NULL;
    st = xd_context_create(t->dev, XD_MODE_REPRODUCIBLE, &ctx);
    msg = xd_context_last_error(ctx);
    xdt_check(t, st == XD_SELF_TEST_FAILED && strstr(msg, "reproducible mode is refused") && strstr(msg, t->dev->id),
              "context refused with the planted reordering: %s: %s", xd_status_name(st), msg);
    printf("refused as expected: %s\n", msg);
    xd_context_destroy(ctx);
    ctx = NULL;
    st = xd_context_create(t->dev, XD_MODE_FAST, &ctx);
    xdt_check(t, st == XD_OK, "fast mode with XD_PROBE_PLANT set: %s", xd_context_last_error(ctx));
    xd_context_destroy(ctx);
    unsetenv("XD_PROBE_PLANT");

    setenv("XD_PROBE_PLANT", "sometimes", 1);
    st = xd_context_create(t->dev, XD_MODE_REPRODUCIBLE, &ctx);
    xdt_check(t, st == XD_INVALID_ARGUMENT && strstr(xd_context_last_error(ctx), "XD_PROBE_PLANT"),
              "a bad XD_PROBE_PLANT is named: %s", xd_context_last_error(ctx));
    xd_context_destroy(ctx);
    unsetenv("XD_PROBE_PLANT");
}

/* Intel's OpenCL CPU runtime: without the loop pragma (XD_ORDERED) its
 * compiler reorders the sums, and the probe says so. */
static int is_intel_cpu_runtime(const xd_device_info *d)
{
    const char *vec = getenv("CL_CONFIG_USE_VECTORIZER");
    return strncmp(d->id, "intel-opencl/", 13) == 0 && d->type == XD_DEVICE_CPU &&
           !(vec && (strcmp(vec, "False") == 0 || strcmp(vec, "false") == 0 || strcmp(vec, "0") == 0));
}

static void unordered_loops(xdt *t)
{
    size_t bad = 0;
    xd_status st = xd_context_probe_options(t->ctx, "-DXD_UNORDERED_LOOPS", &bad);
    const char *msg = xd_context_last_error(t->ctx);
    printf("kernels without the loop pragma: %s, %zu mismatches %s\n", xd_status_name(st), bad, msg);
    if (is_intel_cpu_runtime(t->dev))
        xdt_check(t, st == XD_SELF_TEST_FAILED && strstr(msg, "reorders"),
                  "Intel's CPU runtime without the pragma: the probe names the reordering: %s", msg);
    else xdt_check(t, st == XD_OK || st == XD_SELF_TEST_FAILED, "probe without the pragma ran: %s", msg);
}

/* The root cause in nine lines of OpenCL C: out[p] = the sum of row p
 * over k ascending.  One work-item per group makes Intel's runtime run
 * the kernel's scalar variant, whose loop its compiler vectorizes into 16
 * partial sums.  With clang's loop pragma (rows_ordered; XD_ORDERED in
 * cl/xd_math.h) every device sums in order. */
static const char *k_minimal =
    "#pragma OPENCL FP_CONTRACT OFF\n"
    "__kernel void rows(__global const float *a, __global float *out, const uint K)\n"
    "{\n"
    "    uint p = (uint)get_global_id(0);\n"
    "    __global const float *row = a + (size_t)p * K;\n"
    "    float acc = 0.0f;\n"
    "    for (uint k = 0; k < K; ++k) acc = acc + row[k];\n"
    "    out[p] = acc;\n"
    "}\n"
    "__kernel void rows_ordered(__global const float *a, __global float *out, const uint K)\n"
    "{\n"
    "    uint p = (uint)get_global_id(0);\n"
    "    __global const float *row = a + (size_t)p * K;\n"
    "    float acc = 0.0f;\n"
    "#pragma clang loop vectorize(disable) interleave(disable)\n"
    "    for (uint k = 0; k < K; ++k) acc = acc + row[k];\n"
    "    out[p] = acc;\n"
    "}\n";

/* Runs minimal kernel `name` on rows of K values, one work-item per group;
 * returns the rows that differ from the in-order sum, -1 on an OpenCL
 * error (recorded). */
static int minimal_kernel(xdt *t, const char *name, const float *a, size_t rows, unsigned K)
{
    cl_device_id dev = (cl_device_id)t->dev->device_handle;
    cl_int rc;
    cl_context c = clCreateContext(NULL, 1, &dev, NULL, NULL, &rc);
    cl_command_queue q = c ? clCreateCommandQueue(c, dev, 0, &rc) : NULL;
    cl_program p = q ? clCreateProgramWithSource(c, 1, &k_minimal, NULL, &rc) : NULL;
    if (p) rc = clBuildProgram(p, 1, &dev, "-cl-std=CL1.2", NULL, NULL);
    cl_kernel k = p && rc == CL_SUCCESS ? clCreateKernel(p, name, &rc) : NULL;
    cl_mem ma = k ? clCreateBuffer(c, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, rows * K * 4, (void *)a, &rc) : NULL;
    cl_mem mo = ma ? clCreateBuffer(c, CL_MEM_WRITE_ONLY, rows * 4, NULL, &rc) : NULL;
    float *out = calloc(rows, 4);
    int differ = -1;
    size_t global = rows, local = 1;
    if (mo && out && clSetKernelArg(k, 0, sizeof ma, &ma) == CL_SUCCESS &&
        clSetKernelArg(k, 1, sizeof mo, &mo) == CL_SUCCESS && clSetKernelArg(k, 2, sizeof K, &K) == CL_SUCCESS &&
        clEnqueueNDRangeKernel(q, k, 1, NULL, &global, &local, 0, NULL, NULL) == CL_SUCCESS &&
        clEnqueueReadBuffer(q, mo, CL_TRUE, 0, rows * 4, out, 0, NULL, NULL) == CL_SUCCESS) {
        differ = 0;
        for (size_t r = 0; r < rows; ++r) {
            volatile float acc = 0.0f;
            for (unsigned j = 0; j < K; ++j) acc = acc + a[r * K + j];
            differ += memcmp((const void *)&acc, &out[r], 4) != 0;
        }
    }
    xdt_check(t, differ >= 0, "minimal kernel %s ran: OpenCL error %d", name, (int)rc);
    free(out);
    if (mo) clReleaseMemObject(mo);
    if (ma) clReleaseMemObject(ma);
    if (k) clReleaseKernel(k);
    if (p) clReleaseProgram(p);
    if (q) clReleaseCommandQueue(q);
    if (c) clReleaseContext(c);
    return differ;
}

static void root_cause(xdt *t)
{
    enum { ROWS = 64, K = 64 };
    float *a = malloc(ROWS * K * sizeof *a);
    if (!a) {
        xdt_check(t, 0, "out of memory");
        return;
    }
    uint32_t s = 99u;
    for (size_t i = 0; i < ROWS * K; ++i) {
        s = s * 1664525u + 1013904223u;
        a[i] = ldexpf((float)(s & 0xffffu) / 65536.0f + 1.0f, (int)((s >> 16) % 24)) * ((s >> 31) ? -1.0f : 1.0f);
    }
    int with = minimal_kernel(t, "rows_ordered", a, ROWS, K);
    int without = minimal_kernel(t, "rows", a, ROWS, K);
    printf("minimal kernel, one work-item per group: %d of %d rows differ from the in-order sum without the "
           "pragma, %d with it\n",
           without, ROWS, with);
    xdt_check(t, with == 0, "with the pragma every row is the in-order sum (%d differ)", with);
    if (is_intel_cpu_runtime(t->dev))
        xdt_check(t, without > 0,
                  "Intel's CPU runtime reorders the loop without the pragma (%d rows differ): if "
                  "this fails, its compiler changed: update docs/drivers.md",
                  without);
    free(a);
}

int main(int argc, char **argv)
{
    xdt t;
    int rc = xdt_init(&t, "test_probe", argc, argv);
    if (rc) return rc;
    size_t bad = 0;
    xdt_ok(&t, xd_context_probe(t.ctx, &bad), "probe (default path)");
    printf("default path: %s, %zu mismatches\n", xd_context_guarantee(t.ctx), bad);
    div_paths(&t);
    planted_reorder(&t);
    unordered_loops(&t);
    root_cause(&t);

    /* Fast mode builds and runs too (its results may differ: no check of bits). */
    xd_context *fast = NULL;
    xd_status st = xd_context_create(t.dev, XD_MODE_FAST, &fast);
    xdt_check(&t, st == XD_OK, "fast-mode context: %s", xd_context_last_error(fast));
    xd_context_destroy(fast);
    return xdt_finish(&t);
}
