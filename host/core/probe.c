/* The self-test: the device computes the reproducible math and the loop
 * shapes of the contract's reductions (cl/probe.cl) on fixed inputs, and
 * the host build computes the same in order; every result must agree
 * bitwise.  Run at context creation in reproducible mode (a device that
 * fails is refused, naming what its compiler does) and by `list --probe`.
 *
 * The loop shapes are launched at the local sizes that choose different
 * code in a work-item vectorizer: one work-item per group, the context's
 * own choice, and a last group of partly filled vectors.  Intel's CPU
 * compiler reorders sums only in the variant it runs there
 * (docs/drivers.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "crossdev/hostmath.h"
#include "math/hostmath.h"

enum { MATH_N = 4096, LOOP_OUTS = 3 };

/* The probe's kernels: the context's own, or those of a separate build. */
typedef struct probe_kernels {
    cl_kernel math, loops, vloops;
} probe_kernels;

/* One launch of the loop kernels: P rows of K values, `local` work-items a
 * group (0: the context's choice). */
typedef struct loop_case {
    unsigned P, K;
    size_t local;
    const char *sched;
} loop_case;
static const loop_case k_loop_cases[] = {
    {37, 64, 1, "one work-item per group"},
    {37, 64, 0, "the context's work-groups"},
    {1000, 16, 0, "a last group of partly filled vectors"},
    {61, 257, 0, "long rows"},
    {45, 3, 0, "short rows"},
};
enum { NCASES = sizeof k_loop_cases / sizeof k_loop_cases[0], MAX_ROWS = 1000, MAX_K = 257 };

/* A fixed set of inputs that reaches every branch of the reproducible math:
 * subnormals, huge and tiny values, exact halves, negative values, NaN/inf. */
static void math_inputs(float *a, float *b, size_t n)
{
    uint32_t state = 12345u;
    static const float special[] = {0.0f,      -0.0f,      1.0f,     -1.0f,     0.5f,   2.0f,    88.0f,
                                    -88.0f,    100.0f,     -104.0f,  1e-40f,    1e-45f, 3.4e38f, 1.17549435e-38f,
                                    0.693147f, 1.4142135f, INFINITY, -INFINITY, NAN,    7.0f};
    size_t ns = sizeof special / sizeof special[0];
    for (size_t i = 0; i < n; ++i) {
        state = state * 1664525u + 1013904223u;
        uint32_t r = state;
        if (i < ns) {
            a[i] = special[i];
            b[i] = special[(i * 7 + 3) % ns];
        } else {
            /* spread over many binades: exponent from the random bits */
            float m = (float)(r & 0xffffffu) / 16777216.0f + 1.0f;
            int e = (int)((r >> 24) % 60) - 30;
            a[i] = ldexpf(m, e) * ((r & 1u) ? -1.0f : 1.0f);
            if (i % 4 == 0) a[i] = fabsf(a[i]);
            state = state * 1664525u + 1013904223u;
            b[i] = ldexpf((float)(state & 0xffffffu) / 16777216.0f + 1.0f, (int)((state >> 24) % 40) - 20);
        }
    }
}

/* Values over 24 binades with both signs: any other order of their sum, or
 * a fused a*b+c, rounds differently in practically every row. */
static void loop_inputs(float *v, size_t n, uint32_t state)
{
    for (size_t i = 0; i < n; ++i) {
        state = state * 1664525u + 1013904223u;
        float m = (float)(state & 0xffffu) / 65536.0f + 1.0f;
        v[i] = ldexpf(m, (int)((state >> 16) % 24)) * ((state >> 31) ? -1.0f : 1.0f);
    }
}

static int same_bits(float a, float b)
{
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y || (isnan(a) && isnan(b));
}

/* The math probe; *bad counts mismatches, `what` gets the first. */
static xd_status probe_math(xd_context *ctx, cl_kernel kern, size_t *bad, char *what, size_t cap)
{
    float *a = malloc(MATH_N * sizeof *a), *b = malloc(MATH_N * sizeof *b);
    float *got = malloc(5 * MATH_N * sizeof *got);
    xd_tensor *ta = NULL, *tb = NULL, *to = NULL;
    xd_status st = XD_OUT_OF_HOST_MEMORY;
    int64_t n1 = MATH_N, n5 = 5 * MATH_N;
    if (!a || !b || !got) {
        xd_fail(ctx, st, 0, "out of host memory");
        goto done;
    }
    math_inputs(a, b, MATH_N);
    cl_uint n = MATH_N;
    if ((st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, &n1, &ta)) != XD_OK ||
        (st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, &n1, &tb)) != XD_OK ||
        (st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, &n5, &to)) != XD_OK ||
        (st = xd_tensor_write(ta, a, MATH_N * 4)) != XD_OK || (st = xd_tensor_write(tb, b, MATH_N * 4)) != XD_OK ||
        (st = xd_launch_kernel(ctx, kern, XD_K_probe_math, MATH_N, 0,
                               (const xd_arg[]){XD_ARG(ta->mem), XD_ARG(tb->mem), XD_ARG(to->mem), XD_ARG(n)}, 4)) !=
            XD_OK ||
        (st = xd_tensor_read(to, got, 5 * MATH_N * 4)) != XD_OK)
        goto done;
    static const char *const fn[5] = {"exp", "log", "div", "sqrt", "fma"};
    for (size_t i = 0; i < MATH_N; ++i) {
        float want[5] = {xd_host_exp(a[i]), xd_host_log(a[i]), xd_host_div(a[i], b[i]), xd_host_sqrt(a[i]),
                         fmaf(a[i], b[i], 1.0f)};
        for (int k = 0; k < 5; ++k) {
            if (same_bits(want[k], got[5 * i + (size_t)k])) continue;
            if (!*bad)
                xd_format(what, cap, "crossdev's %s differs from the host build: %s(%a, %a) gives %a, the host %a",
                          fn[k], fn[k], (double)a[i], (double)b[i], (double)got[5 * i + (size_t)k], (double)want[k]);
            ++*bad;
        }
    }
done:
    xd_tensor_destroy(ta);
    xd_tensor_destroy(tb);
    xd_tensor_destroy(to);
    free(a);
    free(b);
    free(got);
    return st;
}

/* Names what a mismatch in output column col of xd_probe_loops means. */
static void describe_loop_mismatch(int col, const loop_case *c, unsigned row, float dev, float host, char *what,
                                   size_t cap)
{
    static const char *const does[4] = {"reorders floating-point additions in a loop (OpenCL C forbids it without "
                                        "-cl-unsafe-math-optimizations)",
                                        "reorders a chain of fused multiply-adds in a loop",
                                        "contracts a*b + c into a fused multiply-add although FP_CONTRACT is OFF",
                                        "reorders vector additions in a loop"};
    static const char *const shape[4] = {"the sum", "the fma chain", "a*b + c", "the vector sum"};
    xd_format(what, cap, "its compiler %s: %s of row %u (%u values, %s) gives %a, in order %a", does[col], shape[col],
              row, c->K, c->sched, (double)dev, (double)host);
}

/* Runs one loop case (rows a, shared b already on the device as tb) on both
 * kernels and compares with the host; got/want/gotv hold MAX_ROWS rows. */
static xd_status probe_loop_case(xd_context *ctx, const probe_kernels *k, const loop_case *c, const float *a,
                                 const float *b, xd_tensor *tb, float *got, float *gotv, float *want, size_t *bad,
                                 char *what, size_t cap)
{
    cl_uint P = c->P, K = c->K;
    int64_t sa = (int64_t)P * K, so = (int64_t)P * LOOP_OUTS, sv = P;
    xd_tensor *ta = NULL, *to = NULL, *tv = NULL;
    size_t nv = (P + ctx->params.vw - 1) / ctx->params.vw;
    xd_status st;
    if ((st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, &sa, &ta)) != XD_OK ||
        (st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, &so, &to)) != XD_OK ||
        (st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, &sv, &tv)) != XD_OK ||
        (st = xd_tensor_write(ta, a, (size_t)sa * 4)) != XD_OK ||
        (st = xd_launch_kernel(
             ctx, k->loops, XD_K_probe_loops, P, c->local,
             (const xd_arg[]){XD_ARG(ta->mem), XD_ARG(tb->mem), XD_ARG(to->mem), XD_ARG(P), XD_ARG(K)}, 5)) != XD_OK ||
        (st = xd_launch_kernel(ctx, k->vloops, XD_K_probe_vloops, nv, c->local,
                               (const xd_arg[]){XD_ARG(ta->mem), XD_ARG(tv->mem), XD_ARG(P), XD_ARG(K)}, 4)) != XD_OK ||
        (st = xd_tensor_read(to, got, (size_t)so * 4)) != XD_OK ||
        (st = xd_tensor_read(tv, gotv, (size_t)sv * 4)) != XD_OK)
        goto done;
    xd_host_probe_loops(a, b, want, P, K);
    for (unsigned r = 0; r < P; ++r) {
        for (int col = 0; col < 4; ++col) {
            float dev = col < 3 ? got[LOOP_OUTS * r + (unsigned)col] : gotv[r];
            float host = want[LOOP_OUTS * r + (col < 3 ? (unsigned)col : 0u)];
            if (same_bits(dev, host)) continue;
            if (!*bad) describe_loop_mismatch(col, c, r, dev, host, what, cap);
            ++*bad;
        }
    }
done:
    xd_tensor_destroy(ta);
    xd_tensor_destroy(to);
    xd_tensor_destroy(tv);
    return st;
}

static xd_status probe_loops(xd_context *ctx, const probe_kernels *k, size_t *bad, char *what, size_t cap)
{
    float *a = malloc((size_t)MAX_ROWS * MAX_K * sizeof *a), *b = malloc(MAX_K * sizeof *b);
    float *got = malloc(MAX_ROWS * LOOP_OUTS * sizeof *got), *want = malloc(MAX_ROWS * LOOP_OUTS * sizeof *want);
    float *gotv = malloc(MAX_ROWS * sizeof *gotv);
    xd_tensor *tb = NULL;
    int64_t sb = MAX_K;
    xd_status st = XD_OUT_OF_HOST_MEMORY;
    if (!a || !b || !got || !want || !gotv) {
        xd_fail(ctx, st, 0, "out of host memory");
        goto done;
    }
    loop_inputs(b, MAX_K, 777u);
    if ((st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, &sb, &tb)) != XD_OK ||
        (st = xd_tensor_write(tb, b, MAX_K * 4)) != XD_OK)
        goto done;
    for (size_t i = 0; i < NCASES && st == XD_OK; ++i) {
        const loop_case *c = &k_loop_cases[i];
        loop_inputs(a, (size_t)c->P * c->K, 1000u + (uint32_t)i);
        st = probe_loop_case(ctx, k, c, a, b, tb, got, gotv, want, bad, what, cap);
    }
done:
    xd_tensor_destroy(tb);
    free(a);
    free(b);
    free(got);
    free(want);
    free(gotv);
    return st;
}

/* Runs both probes with the given kernels.  The probe's buffers are freed
 * before training allocates anything: they do not count in the peak. */
static xd_status probe_run(xd_context *ctx, const probe_kernels *k, const char *extra, size_t *mismatches)
{
    size_t bad = 0;
    char what[512] = "";
    uint64_t peak = ctx->device_bytes_peak;
    xd_status st = probe_math(ctx, k->math, &bad, what, sizeof what);
    if (st == XD_OK) st = probe_loops(ctx, k, &bad, what, sizeof what);
    ctx->device_bytes_peak = peak;
    if (mismatches) *mismatches = bad;
    if (st != XD_OK) return st;
    if (bad)
        return xd_fail(ctx, XD_SELF_TEST_FAILED, 0,
                       "%s fails crossdev's self-test: %s (%zu results differ from the host build; %s mode, build "
                       "options \"%s%s%s\")",
                       ctx->device.id, what, bad, xd_mode_string(ctx->mode), ctx->options, extra ? " " : "",
                       extra ? extra : "");
    xd_fail(ctx, XD_OK, 0, "%s", "");
    return XD_OK;
}

xd_status xd_context_probe(xd_context *ctx, size_t *mismatches)
{
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (mismatches) *mismatches = 0;
    probe_kernels k = {ctx->kernels[XD_K_probe_math], ctx->kernels[XD_K_probe_loops], ctx->kernels[XD_K_probe_vloops]};
    return probe_run(ctx, &k, NULL, mismatches);
}

xd_status xd_context_probe_options(xd_context *ctx, const char *extra_options, size_t *mismatches)
{
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (mismatches) *mismatches = 0;
    char *src = NULL;
    xd_status st = xd_program_source(ctx, &src);
    if (st != XD_OK) return st;
    xd_program *prog = NULL;
    st = xd_program_create_own(ctx, src, extra_options, &prog);
    free(src);
    if (st != XD_OK) return st;
    probe_kernels k = {NULL, NULL, NULL};
    cl_int r1, r2, r3;
    k.math = clCreateKernel(prog->program, "xd_probe_math", &r1);
    k.loops = clCreateKernel(prog->program, "xd_probe_loops", &r2);
    k.vloops = clCreateKernel(prog->program, "xd_probe_vloops", &r3);
    if (r1 != CL_SUCCESS || r2 != CL_SUCCESS || r3 != CL_SUCCESS)
        st = xd_fail_cl(ctx, r1 != CL_SUCCESS ? r1 : r2 != CL_SUCCESS ? r2 : r3, "clCreateKernel(xd_probe_*)");
    else st = probe_run(ctx, &k, extra_options, mismatches);
    if (k.math) clReleaseKernel(k.math);
    if (k.loops) clReleaseKernel(k.loops);
    if (k.vloops) clReleaseKernel(k.vloops);
    xd_program_destroy(prog);
    return st;
}
