/* resnet-ops: the built-in resnet's convolutions and batch normalizations
 * one by one (batch 32, Fashion-MNIST's 28x28x1), on one device in one
 * mode: the median ms of one call, GFLOP/s (convolutions: 2 x the
 * multiply-adds of the op) and the bytes the op must move at least (its
 * inputs and outputs once), for docs/performance.md "resnet: where a step
 * goes".
 *
 *   build/resnet-ops --device pthread [--mode reproducible|fast] [--reps N] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "crossdev/crossdev.h"

enum kind { FWD, BWD_DATA, BWD_WB, BN_FWD, BN_BWD };
static const char *const kind_name[] = {"forward", "backward_data", "backward_weights+bias", "bn forward",
                                        "bn backward"};

/* One conv of the model: input [32, c, h, h], o filters k x k, stride s, padding same. */
typedef struct conv {
    const char *name;
    int c, h, o, k, s;
} conv;
static const conv k_convs[] = {
    {"conv2d", 1, 28, 16, 3, 1},    {"conv2d_1", 16, 28, 16, 3, 1}, {"conv2d_3", 16, 28, 32, 3, 2},
    {"conv2d_4", 32, 14, 32, 3, 1}, {"conv2d_5", 16, 28, 32, 1, 2}, {"conv2d_6", 32, 14, 64, 3, 2},
    {"conv2d_7", 64, 7, 64, 3, 1},  {"conv2d_8", 32, 14, 64, 1, 2},
};
#define N 32

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "resnet-ops: %s: %s\n", what, msg);
    exit(2);
}

static xd_tensor *tensor(xd_context *ctx, int64_t a, int64_t b, int64_t c, int64_t d, int ndim, uint32_t seed)
{
    int64_t shape[4] = {a, b, c, d};
    xd_tensor *t = NULL;
    if (xd_tensor_create(ctx, XD_DTYPE_F32, ndim, shape, &t) != XD_OK) die("tensor", xd_context_last_error(ctx));
    size_t n = xd_tensor_count(t);
    float *h = malloc(n * 4);
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        h[i] = (float)((s >> 8) & 0xffff) / 65536.0f - 0.25f;
    }
    if (xd_tensor_write(t, h, n * 4) != XD_OK) die("tensor write", xd_context_last_error(ctx));
    free(h);
    return t;
}

typedef struct run {
    xd_context *ctx;
    enum kind kind;
    xd_conv2d_params p;
    xd_tensor *x, *w, *b, *y, *dx, *g, *mean, *var; /* g: gamma or dgamma's partner */
} run;

static xd_status once(run *r)
{
    xd_context *ctx = r->ctx;
    switch (r->kind) {
    case FWD: return xd_conv2d_forward(ctx, &r->p, r->x, r->w, r->b, r->y);
    case BWD_DATA: return xd_conv2d_backward_data(ctx, &r->p, r->y, r->w, r->dx);
    case BWD_WB: return xd_conv2d_backward_weights_bias(ctx, &r->p, r->x, r->y, r->w, r->b);
    case BN_FWD: return xd_batchnorm_train_forward(ctx, r->x, r->g, r->b, 1e-3, r->y, r->mean, r->var);
    case BN_BWD: return xd_batchnorm_train_backward(ctx, r->x, r->y, r->g, r->mean, r->var, 1e-3, r->dx, r->w, r->b);
    }
    return XD_INVALID_ARGUMENT;
}

/* The median ms of one call, wall clock, and in *cpu the median CPU time
 * of the whole process (the device's threads on a CPU device): on a shared
 * machine the CPU time moves less with the other loads than the wall clock. */
static double median_ms(run *r, int reps, double *cpu)
{
    double t[64] = {0}, c[64] = {0};
    if (reps > 64) reps = 64;
    for (int i = -1; i < reps; ++i) {
        double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        if (once(r) != XD_OK || xd_context_finish(r->ctx) != XD_OK)
            die(kind_name[r->kind], xd_context_last_error(r->ctx));
        if (i >= 0) t[i] = (now(CLOCK_MONOTONIC) - t0) * 1e3, c[i] = (now(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_d);
    qsort(c, (size_t)reps, sizeof c[0], cmp_d);
    *cpu = c[reps / 2];
    return t[reps / 2];
}

static void destroy(run *r)
{
    xd_tensor *all[] = {r->x, r->w, r->b, r->y, r->dx, r->g, r->mean, r->var};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) xd_tensor_destroy(all[i]);
}

/* The three ops of one conv; returns their ms summed into *total. */
static void bench_conv(xd_context *ctx, const conv *c, int reps, double *total)
{
    int oh = (c->h + c->s - 1) / c->s;
    run r = {ctx,  FWD, xd_conv2d_same(c->h, c->h, c->k, c->k, c->s, c->s), NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL};
    r.x = tensor(ctx, N, c->c, c->h, c->h, 4, 1);
    r.dx = tensor(ctx, N, c->c, c->h, c->h, 4, 2);
    r.w = tensor(ctx, c->o, c->c, c->k, c->k, 4, 3);
    r.b = tensor(ctx, c->o, 1, 1, 1, 1, 4);
    r.y = tensor(ctx, N, c->o, oh, oh, 4, 5);
    double macs = (double)N * c->o * oh * oh * c->c * c->k * c->k;
    double in = (double)N * c->c * c->h * c->h * 4, out = (double)N * c->o * oh * oh * 4,
           wb = (double)c->o * (c->c * c->k * c->k + 1) * 4;
    double bytes[3] = {in + wb + out, out + wb + in, in + out + wb};
    for (int k = FWD; k <= BWD_WB; ++k) {
        if (k == BWD_DATA && c->c == 1) continue; /* the first conv's is off the path */
        r.kind = (enum kind)k;
        double cpu, ms = median_ms(&r, reps, &cpu);
        *total += ms;
        printf("  %-9s %-22s %8.3f ms %8.3f cpu-ms %7.1f MFLOP %7.1f GFLOP/s %6.2f MB %6.1f GB/s\n", c->name,
               kind_name[k], ms, cpu, 2 * macs * 1e-6, 2 * macs / ms * 1e-6, bytes[k] * 1e-6, bytes[k] / ms * 1e-6);
    }
    destroy(&r);
}

/* Training forward and backward of a BatchNormalization on [32, c, h, h]. */
static void bench_bn(xd_context *ctx, int c, int h, int reps, double *total)
{
    run r = {ctx, BN_FWD, xd_conv2d_valid(1, 1), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    r.x = tensor(ctx, N, c, h, h, 4, 1);
    r.y = tensor(ctx, N, c, h, h, 4, 2);
    r.dx = tensor(ctx, N, c, h, h, 4, 3);
    r.g = tensor(ctx, c, 1, 1, 1, 1, 4);
    r.b = tensor(ctx, c, 1, 1, 1, 1, 5);
    r.w = tensor(ctx, c, 1, 1, 1, 1, 6);
    r.mean = tensor(ctx, c, 1, 1, 1, 1, 7);
    r.var = tensor(ctx, c, 1, 1, 1, 1, 8);
    double bytes = (double)N * c * h * h * 4;
    for (int k = BN_FWD; k <= BN_BWD; ++k) {
        r.kind = (enum kind)k;
        double cpu, ms = median_ms(&r, reps, &cpu);
        *total += ms;
        double moved = bytes * (k == BN_FWD ? 2 : 3); /* x, y; x, dy, dx */
        printf("  bn %2dx%2dx%-3d %-22s %8.3f ms %8.3f cpu-ms %24s %6.2f MB %6.1f GB/s\n", h, h, c, kind_name[k], ms,
               cpu, "", moved * 1e-6, moved / ms * 1e-6);
    }
    destroy(&r);
}

int main(int argc, char **argv)
{
    const char *sel = NULL;
    xd_mode mode = XD_MODE_REPRODUCIBLE;
    int reps = 9;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) sel = argv[++i];
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
            mode = !strcmp(argv[++i], "fast") ? XD_MODE_FAST : XD_MODE_REPRODUCIBLE;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: resnet-ops --device SEL [--mode reproducible|fast] [--reps N]\n");
            return 2;
        }
    }
    if (!sel || reps < 1) die("usage", "--device SEL is required (see crossdev-compare list)");
    if (!getenv("OCL_ICD_VENDORS")) {
        struct stat sb;
        if (stat(XD_DEFAULT_VENDORS_DIR, &sb) == 0) setenv("OCL_ICD_VENDORS", XD_DEFAULT_VENDORS_DIR, 0);
    }
    if (!getenv("POCL_DEVICES")) setenv("POCL_DEVICES", XD_DEFAULT_POCL_DEVICES, 0);
    xd_error err;
    xd_device_list *list = NULL;
    size_t idx[64], cnt = 0;
    if (xd_device_list_create(&list, &err) != XD_OK) die("devices", err.message);
    if (xd_device_list_count(list) > sizeof idx / sizeof idx[0]) die("devices", "too many");
    if (xd_device_select(list, sel, idx, &cnt, &err) != XD_OK || cnt != 1)
        die("--device", cnt != 1 ? "select one device" : err.message);
    xd_context *ctx = NULL;
    if (xd_context_create(xd_device_list_get(list, idx[0]), mode, &ctx) != XD_OK)
        die("context", xd_context_last_error(ctx));
    printf("resnet ops, batch %d, %s mode, median of %d calls\n", N, mode == XD_MODE_FAST ? "fast" : "reproducible",
           reps);
    double total = 0;
    for (size_t i = 0; i < sizeof k_convs / sizeof k_convs[0]; ++i) bench_conv(ctx, &k_convs[i], reps, &total);
    bench_bn(ctx, 16, 28, reps, &total);
    bench_bn(ctx, 32, 14, reps, &total);
    bench_bn(ctx, 64, 7, reps, &total);
    printf("  sum of one call each: %.2f ms (a step runs conv2d_1's ops 2x and each bn 3x, 2x, 2x)\n", total);
    xd_context_destroy(ctx);
    xd_device_list_destroy(list);
    return 0;
}
