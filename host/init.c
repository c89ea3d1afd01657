/* Seeded initialisation ops and the device self-test (probe). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static xd_status launch_draw(xd_context *ctx, xd_kernel_id k, xd_tensor *w, uint64_t seed, uint64_t stream,
                             float param, const char *op)
{
    xd_status st = xd_check_tensor(ctx, op, "w", w, XD_DTYPE_F32, 1);
    if (st == XD_OK) st = xd_check_u32(ctx, op, "element count", w->count);
    if (st != XD_OK) return st;
    cl_uint n = (cl_uint)w->count;
    cl_uint s_lo = (cl_uint)seed, s_hi = (cl_uint)(seed >> 32);
    cl_uint t_lo = (cl_uint)stream, t_hi = (cl_uint)(stream >> 32);
    return XD_LAUNCH(ctx, k, n, XD_ARG(w->mem), XD_ARG(n), XD_ARG(s_lo), XD_ARG(s_hi), XD_ARG(t_lo), XD_ARG(t_hi),
                     XD_ARG(param));
}

xd_status xd_init_uniform(xd_context *ctx, xd_tensor *w, uint64_t seed, uint64_t stream, double limit)
{
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (!(limit > 0.0) || !isfinite(limit))
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "init_uniform: limit %g must be positive and finite", limit);
    return launch_draw(ctx, XD_K_init_uniform, w, seed, stream, xd_uniform_scale(limit), "init_uniform");
}

xd_status xd_init_glorot_uniform(xd_context *ctx, xd_tensor *w, uint64_t seed, uint64_t stream, int64_t fan_in,
                                 int64_t fan_out)
{
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (fan_in < 1 || fan_out < 1)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "init_glorot_uniform: fan_in %lld and fan_out %lld must be >= 1",
                       (long long)fan_in, (long long)fan_out);
    return xd_init_uniform(ctx, w, seed, stream, sqrt(6.0 / (double)(fan_in + fan_out)));
}

xd_status xd_init_he_normal(xd_context *ctx, xd_tensor *w, uint64_t seed, uint64_t stream, int64_t fan_in)
{
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (fan_in < 1)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "init_he_normal: fan_in %lld must be >= 1", (long long)fan_in);
    return launch_draw(ctx, XD_K_init_normal, w, seed, stream, (float)sqrt(2.0 / (double)fan_in), "init_he_normal");
}

xd_status xd_init_zeros(xd_context *ctx, xd_tensor *t)
{
    xd_status st = xd_check_tensor(ctx, "init_zeros", "t", t, t ? t->dtype : XD_DTYPE_F32, 1);
    return st != XD_OK ? st : xd_tensor_fill_zero(t);
}

/* A fixed set of inputs that reaches every branch of the reproducible math:
 * subnormals, huge and tiny values, exact halves, negative values, NaN/inf. */
static void probe_inputs(float *a, float *b, size_t n)
{
    uint32_t state = 12345u;
    static const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 2.0f, 88.0f, -88.0f, 100.0f, -104.0f,
                                    1e-40f, 1e-45f, 3.4e38f, 1.17549435e-38f, 0.693147f, 1.4142135f,
                                    INFINITY, -INFINITY, NAN, 7.0f};
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

xd_status xd_context_probe(xd_context *ctx, size_t *mismatches)
{
    enum { N = 4096 };
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (mismatches) *mismatches = 0;
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    float *got = malloc(5 * N * sizeof *got);
    xd_tensor *ta = NULL, *tb = NULL, *to = NULL;
    xd_status st = XD_OUT_OF_HOST_MEMORY;
    if (!a || !b || !got) {
        xd_fail(ctx, st, 0, "out of host memory");
        goto done;
    }
    probe_inputs(a, b, N);
    int64_t n1 = N, n5 = 5 * N;
    if ((st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, &n1, &ta)) != XD_OK) goto done;
    if ((st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, &n1, &tb)) != XD_OK) goto done;
    if ((st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, &n5, &to)) != XD_OK) goto done;
    if ((st = xd_tensor_write(ta, a, N * 4)) != XD_OK) goto done;
    if ((st = xd_tensor_write(tb, b, N * 4)) != XD_OK) goto done;
    cl_uint n = N;
    if ((st = XD_LAUNCH(ctx, XD_K_probe_math, N, XD_ARG(ta->mem), XD_ARG(tb->mem), XD_ARG(to->mem), XD_ARG(n))) != XD_OK)
        goto done;
    if ((st = xd_tensor_read(to, got, 5 * N * 4)) != XD_OK) goto done;
    size_t bad = 0;
    char first[256] = "";
    for (size_t i = 0; i < N; ++i) {
        float want[5] = {xd_host_exp(a[i]), xd_host_log(a[i]), xd_host_div(a[i], b[i]), xd_host_sqrt(a[i]),
                         fmaf(a[i], b[i], 1.0f)};
        for (int k = 0; k < 5; ++k) {
            uint32_t wu, gu;
            memcpy(&wu, &want[k], 4);
            memcpy(&gu, &got[5 * i + (size_t)k], 4);
            int both_nan = isnan(want[k]) && isnan(got[5 * i + (size_t)k]);
            if (wu != gu && !both_nan) {
                if (!bad) {
                    static const char *const fn[5] = {"exp", "log", "div", "sqrt", "fma"};
                    xd_format(first, sizeof first, "%s(%a, %a): device %a, host %a", fn[k], (double)a[i],
                              (double)b[i], (double)got[5 * i + (size_t)k], (double)want[k]);
                }
                ++bad;
            }
        }
    }
    if (mismatches) *mismatches = bad;
    if (bad) {
        st = xd_fail(ctx, XD_MISMATCH, 0, "probe on %s (%s): %zu of %d results differ from the host build; first: %s",
                     ctx->device.id, xd_mode_string(ctx->mode), bad, 5 * N, first);
    } else {
        st = XD_OK;
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
