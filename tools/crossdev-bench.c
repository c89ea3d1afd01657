/* crossdev-bench: throughput of crossdev's ops in both modes on one device,
 * against CLBlast called directly and OpenBLAS on the host (the ceiling).
 *
 *   crossdev-bench --device SEL [--reps N] [--steps N] [--skip-train] [--skip-1024] [--mnist-ops]
 *
 * Every figure is the median of --reps timed repetitions after one warm-up
 * (wall clock around enqueue + clFinish/xd_context_finish: CLBlast's event
 * covers only its last kernel).  GEMM shapes are those of seed-cnn at batch
 * 32 (dense layer 21632 -> 10, conv 1 -> 32 3x3 as im2col GEMMs) and 1024^3;
 * mnist-convnet's convolutions, poolings and dropout op by op. */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <cblas.h>
#include <clblast_c.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crossdev/crossdev.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int g_reps = 5;

/* Median seconds of fn(user) over g_reps runs after one warm-up; < 0 on error. */
typedef int (*bench_fn)(void *user);
static double time_median(bench_fn fn, void *user)
{
    if (fn(user)) return -1;
    double t[64] = {0};
    int n = g_reps < 1 ? 1 : g_reps < 64 ? g_reps : 64;
    for (int i = 0; i < n; ++i) {
        double t0 = now();
        if (fn(user)) return -1;
        t[i] = now() - t0;
    }
    return median(t, n);
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "crossdev-bench: %s: %s\n", what, msg);
    exit(2);
}

static void fill(float *p, size_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)((s >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
}

static xd_tensor *tensor(xd_context *ctx, int ndim, const int64_t *shape, uint32_t seed)
{
    xd_tensor *t = NULL;
    if (xd_tensor_create(ctx, XD_DTYPE_F32, ndim, shape, &t) != XD_OK) die("tensor", xd_context_last_error(ctx));
    size_t n = xd_tensor_count(t);
    float *h = malloc(n * 4);
    fill(h, n, seed);
    if (xd_tensor_write(t, h, n * 4) != XD_OK) die("tensor write", xd_context_last_error(ctx));
    free(h);
    return t;
}

/* ---- GEMM --------------------------------------------------------------------- */
enum gemm_op { G_FWD, G_BWD_DATA, G_BWD_W };
static const char *const gemm_op_name[] = {"dense_forward", "dense_backward_data", "dense_backward_weights"};
/* C[M,N] = op(A) op(B) as the dense op computes it:
 *  forward      y[M,N]  = x[M,K] W[N,K]^T      (N T)
 *  bwd data     dx[M,N] = dy[M,K] W[K,N]       (N N)
 *  bwd weights  dW[M,N] = dy[K,M]^T x[K,N]     (T N) */
typedef struct gemm_case {
    size_t M, N, K;
    enum gemm_op op;
    const char *what;
} gemm_case;

typedef struct dense_run {
    xd_context *ctx;
    enum gemm_op op;
    xd_tensor *a, *b, *c;
} dense_run;

static int dense_once(void *u)
{
    dense_run *r = u;
    xd_status st;
    if (r->op == G_FWD) st = xd_dense_forward(r->ctx, r->a, r->b, NULL, r->c);
    else if (r->op == G_BWD_DATA) st = xd_dense_backward_data(r->ctx, r->a, r->b, r->c);
    else st = xd_dense_backward_weights(r->ctx, r->b, r->a, r->c);
    if (st == XD_OK) st = xd_context_finish(r->ctx);
    if (st != XD_OK) fprintf(stderr, "  %s: %s\n", gemm_op_name[r->op], xd_context_last_error(r->ctx));
    return st != XD_OK;
}

static double bench_dense(xd_context *ctx, const gemm_case *g)
{
    int64_t M = (int64_t)g->M, N = (int64_t)g->N, K = (int64_t)g->K;
    dense_run r = {ctx, g->op, NULL, NULL, NULL};
    if (g->op == G_FWD) {
        r.a = tensor(ctx, 2, (int64_t[]){M, K}, 1); /* x */
        r.b = tensor(ctx, 2, (int64_t[]){N, K}, 2); /* W */
        r.c = tensor(ctx, 2, (int64_t[]){M, N}, 3); /* y */
    } else if (g->op == G_BWD_DATA) {
        r.a = tensor(ctx, 2, (int64_t[]){M, K}, 1); /* dy */
        r.b = tensor(ctx, 2, (int64_t[]){K, N}, 2); /* W */
        r.c = tensor(ctx, 2, (int64_t[]){M, N}, 3); /* dx */
    } else {
        r.a = tensor(ctx, 2, (int64_t[]){K, M}, 1); /* dy */
        r.b = tensor(ctx, 2, (int64_t[]){K, N}, 2); /* x */
        r.c = tensor(ctx, 2, (int64_t[]){M, N}, 3); /* dW */
    }
    double t = time_median(dense_once, &r);
    xd_tensor_destroy(r.a);
    xd_tensor_destroy(r.b);
    xd_tensor_destroy(r.c);
    return t;
}

/* CLBlast directly, on our own context and queue. */
typedef struct clb_run {
    cl_command_queue q;
    const gemm_case *g;
    cl_mem a, b, c;
} clb_run;

static void gemm_layout(const gemm_case *g, int *ta, int *tb, size_t *lda, size_t *ldb)
{
    *ta = g->op == G_BWD_W;
    *tb = g->op == G_FWD;
    *lda = *ta ? g->M : g->K;
    *ldb = *tb ? g->K : g->N;
}

static int clb_once(void *u)
{
    clb_run *r = u;
    int ta, tb;
    size_t lda, ldb;
    gemm_layout(r->g, &ta, &tb, &lda, &ldb);
    CLBlastStatusCode rc = CLBlastSgemm(CLBlastLayoutRowMajor, ta ? CLBlastTransposeYes : CLBlastTransposeNo,
                                        tb ? CLBlastTransposeYes : CLBlastTransposeNo, r->g->M, r->g->N, r->g->K, 1.0f,
                                        r->a, 0, lda, r->b, 0, ldb, 0.0f, r->c, 0, r->g->N, &r->q, NULL);
    if (rc != CLBlastSuccess) {
        fprintf(stderr, "  CLBlastSgemm: status %d\n", (int)rc);
        return 1;
    }
    return clFinish(r->q) != CL_SUCCESS;
}

static double bench_clblast(cl_context c, cl_command_queue q, const gemm_case *g)
{
    size_t na = g->M * g->K, nb = g->K * g->N, nc = g->M * g->N;
    float *h = malloc((na > nb ? na : nb) * 4);
    cl_int rc;
    clb_run r = {q, g, NULL, NULL, NULL};
    fill(h, na, 1);
    r.a = clCreateBuffer(c, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, na * 4, h, &rc);
    fill(h, nb, 2);
    r.b = clCreateBuffer(c, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, nb * 4, h, &rc);
    r.c = clCreateBuffer(c, CL_MEM_READ_WRITE, nc * 4, NULL, &rc);
    free(h);
    double t = (r.a && r.b && r.c) ? time_median(clb_once, &r) : -1;
    if (r.a) clReleaseMemObject(r.a);
    if (r.b) clReleaseMemObject(r.b);
    if (r.c) clReleaseMemObject(r.c);
    return t;
}

typedef struct blas_run {
    const gemm_case *g;
    float *a, *b, *c;
} blas_run;

static int blas_once(void *u)
{
    blas_run *r = u;
    int ta, tb;
    size_t lda, ldb;
    gemm_layout(r->g, &ta, &tb, &lda, &ldb);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)r->g->M,
                (int)r->g->N, (int)r->g->K, 1.0f, r->a, (int)lda, r->b, (int)ldb, 0.0f, r->c, (int)r->g->N);
    return 0;
}

static double bench_openblas(const gemm_case *g)
{
    blas_run r = {g, malloc(g->M * g->K * 4), malloc(g->K * g->N * 4), malloc(g->M * g->N * 4)};
    fill(r.a, g->M * g->K, 1);
    fill(r.b, g->K * g->N, 2);
    double t = time_median(blas_once, &r);
    free(r.a);
    free(r.b);
    free(r.c);
    return t;
}

static double gflops(double flop, double s) { return s > 0 ? flop / s * 1e-9 : NAN; }

/* ---- conv2d and Adam ---------------------------------------------------------------- */
typedef struct conv_run {
    xd_context *ctx;
    int which; /* 0 fwd (+ReLU), 1 bwd data, 2 bwd weights, 3 adam */
    xd_conv2d_params p;
    xd_tensor *x, *w, *b, *y, *m, *v;
    int64_t t;
} conv_run;

static int conv_once(void *u)
{
    conv_run *r = u;
    xd_status st;
    xd_adam_params ap = xd_adam_defaults();
    switch (r->which) {
    case 0: st = xd_conv2d_forward_relu(r->ctx, &r->p, r->x, r->w, r->b, r->y); break;
    case 1: st = xd_conv2d_backward_data(r->ctx, &r->p, r->y, r->w, r->x); break;
    case 2: st = xd_conv2d_backward_weights(r->ctx, &r->p, r->x, r->y, r->w); break;
    default: st = xd_adam_step(r->ctx, &ap, ++r->t, r->x, r->y, r->m, r->v); break;
    }
    if (st == XD_OK) st = xd_context_finish(r->ctx);
    if (st != XD_OK) fprintf(stderr, "  op %d: %s\n", r->which, xd_context_last_error(r->ctx));
    return st != XD_OK;
}

/* seed-cnn conv: x [32,1,28,28], w [32,1,3,3], y [32,32,26,26]; seconds for each op. */
static void bench_conv(xd_context *ctx, double sec[4])
{
    conv_run r = {ctx, 0, xd_conv2d_valid(1, 1), NULL, NULL, NULL, NULL, NULL, NULL, 0};
    r.x = tensor(ctx, 4, (int64_t[]){32, 1, 28, 28}, 1);
    r.w = tensor(ctx, 4, (int64_t[]){32, 1, 3, 3}, 2);
    r.b = tensor(ctx, 1, (int64_t[]){32}, 3);
    r.y = tensor(ctx, 4, (int64_t[]){32, 32, 26, 26}, 4);
    for (int k = 0; k < 3; ++k) {
        r.which = k;
        sec[k] = time_median(conv_once, &r);
    }
    xd_tensor_destroy(r.x);
    xd_tensor_destroy(r.w);
    xd_tensor_destroy(r.b);
    xd_tensor_destroy(r.y);
    /* Adam over seed-cnn's 216,650 parameters as one tensor */
    int64_t np = 21632 * 10 + 10 + 288 + 32;
    r.which = 3;
    r.x = tensor(ctx, 1, &np, 1);
    r.y = tensor(ctx, 1, &np, 2);
    r.m = tensor(ctx, 1, &np, 3);
    r.v = tensor(ctx, 1, &np, 4);
    xd_tensor_fill_zero(r.m);
    xd_tensor_fill_zero(r.v);
    sec[3] = time_median(conv_once, &r);
    xd_tensor_destroy(r.x);
    xd_tensor_destroy(r.y);
    xd_tensor_destroy(r.m);
    xd_tensor_destroy(r.v);
}

/* ---- mnist-convnet's ops ------------------------------------------------------------
 * Keras's MNIST example at batch 32, NCHW: conv2d 1->32 3x3 on 28x28, max pool 2,
 * conv2d_1 32->64 3x3 on 13x13, max pool 2, dropout 0.5 on the 1600 features.
 * Each op alone, both modes; the ms of one call and GFLOP/s (convolutions) or
 * M elements/s of the op's input (pooling, dropout). */
enum mnist_kind { MK_CONV_FWD, MK_CONV_BWD_DATA, MK_CONV_BWD_W, MK_POOL_FWD, MK_POOL_BWD, MK_DROP_FWD, MK_DROP_BWD };
typedef struct mnist_op {
    const char *name;
    enum mnist_kind kind;
    int64_t n, c, h, w, o; /* input [n,c,h,w]; o output channels (convolutions) */
} mnist_op;
static const mnist_op k_mnist_ops[] = {
    {"conv2d.forward+relu", MK_CONV_FWD, 32, 1, 28, 28, 32},
    {"conv2d.backward_data (off the path)", MK_CONV_BWD_DATA, 32, 1, 28, 28, 32},
    {"conv2d.backward_weights", MK_CONV_BWD_W, 32, 1, 28, 28, 32},
    {"max_pooling2d.forward", MK_POOL_FWD, 32, 32, 26, 26, 0},
    {"max_pooling2d.backward", MK_POOL_BWD, 32, 32, 26, 26, 0},
    {"conv2d_1.forward+relu", MK_CONV_FWD, 32, 32, 13, 13, 64},
    {"conv2d_1.backward_data", MK_CONV_BWD_DATA, 32, 32, 13, 13, 64},
    {"conv2d_1.backward_weights", MK_CONV_BWD_W, 32, 32, 13, 13, 64},
    {"max_pooling2d_1.forward", MK_POOL_FWD, 32, 64, 11, 11, 0},
    {"max_pooling2d_1.backward", MK_POOL_BWD, 32, 64, 11, 11, 0},
    {"dropout.forward", MK_DROP_FWD, 32, 1600, 1, 1, 0},
    {"dropout.backward", MK_DROP_BWD, 32, 1600, 1, 1, 0},
};

typedef struct mnist_run {
    xd_context *ctx;
    const mnist_op *op;
    xd_conv2d_params cp;
    xd_pool2d_params pp;
    xd_tensor *in, *w, *b, *out, *dout; /* dout: the pooling backward's dx */
} mnist_run;

static int mnist_once(void *u)
{
    mnist_run *r = u;
    xd_status st = XD_OK;
    switch (r->op->kind) {
    case MK_CONV_FWD: st = xd_conv2d_forward_relu(r->ctx, &r->cp, r->in, r->w, r->b, r->out); break;
    case MK_CONV_BWD_DATA: st = xd_conv2d_backward_data(r->ctx, &r->cp, r->out, r->w, r->in); break;
    case MK_CONV_BWD_W: st = xd_conv2d_backward_weights(r->ctx, &r->cp, r->in, r->out, r->w); break;
    case MK_POOL_FWD: st = xd_maxpool2d_forward(r->ctx, &r->pp, r->in, r->out); break;
    case MK_POOL_BWD: st = xd_maxpool2d_backward(r->ctx, &r->pp, r->in, r->out, r->dout); break;
    case MK_DROP_FWD: st = xd_dropout_forward(r->ctx, r->in, 0.5, 42, 7, r->out); break;
    case MK_DROP_BWD: st = xd_dropout_backward(r->ctx, r->out, 0.5, 42, 7, r->in); break;
    }
    if (st == XD_OK) st = xd_context_finish(r->ctx);
    if (st != XD_OK) fprintf(stderr, "  %s: %s\n", r->op->name, xd_context_last_error(r->ctx));
    return st != XD_OK;
}

/* Seconds of one call of op (median), its tensors made and freed here. */
static double bench_mnist_op(xd_context *ctx, const mnist_op *op)
{
    mnist_run r = {ctx, op, xd_conv2d_valid(1, 1), xd_pool2d_valid(2, 2, 2, 2), NULL, NULL, NULL, NULL, NULL};
    int64_t n = op->n, c = op->c, h = op->h, w = op->w;
    r.in = tensor(ctx, 4, (int64_t[]){n, c, h, w}, 1);
    if (op->kind <= MK_CONV_BWD_W) {
        r.w = tensor(ctx, 4, (int64_t[]){op->o, c, 3, 3}, 2);
        r.b = tensor(ctx, 1, (int64_t[]){op->o}, 3);
        r.out = tensor(ctx, 4, (int64_t[]){n, op->o, h - 2, w - 2}, 4);
    } else if (op->kind <= MK_POOL_BWD) {
        r.out = tensor(ctx, 4, (int64_t[]){n, c, h / 2, w / 2}, 4);
        r.dout = tensor(ctx, 4, (int64_t[]){n, c, h, w}, 5);
    } else {
        r.out = tensor(ctx, 4, (int64_t[]){n, c, h, w}, 4);
    }
    double t = time_median(mnist_once, &r);
    xd_tensor *all[] = {r.in, r.w, r.b, r.out, r.dout};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
        if (all[i]) xd_tensor_destroy(all[i]);
    return t;
}

static void print_mnist_ops(xd_context *const ctx[2])
{
    printf("\nmnist-convnet ops, batch 32 (median of one call)   repro ms     fast ms   repro GFLOP/s or Melem/s   "
           "fast\n");
    for (size_t i = 0; i < sizeof k_mnist_ops / sizeof k_mnist_ops[0]; ++i) {
        const mnist_op *op = &k_mnist_ops[i];
        double s[2] = {bench_mnist_op(ctx[0], op), bench_mnist_op(ctx[1], op)};
        int conv = op->kind <= MK_CONV_BWD_W;
        double work = conv ? 2.0 * op->n * op->o * (op->h - 2) * (op->w - 2) * op->c * 9 * 1e-9
                           : (double)(op->n * op->c * op->h * op->w) * 1e-6;
        printf("  %-44s %10.3f  %10.3f  %14.2f %-10s %8.2f\n", op->name, s[0] * 1e3, s[1] * 1e3, work / s[0],
               conv ? "GFLOP/s" : "Melem/s", work / s[1]);
        fflush(stdout);
    }
}

/* ---- training ---------------------------------------------------------------------- */
typedef struct train_prog {
    double t0;    /* before context creation */
    double first; /* time of step 1, from t0 */
    double *at;   /* wall time of each step */
    int64_t n;
} train_prog;

static void on_progress(void *user, int64_t step, int64_t steps, float loss, double seconds)
{
    train_prog *p = user;
    double t = now();
    if (step == 1) p->first = t - p->t0;
    if (step >= 1 && step <= p->n) p->at[step - 1] = t;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) { return remove(path); }

typedef struct train_figs {
    double first_step_s, steady_ips, whole_ips, ctx_s;
    uint64_t dev_peak;
} train_figs;

static int bench_train(const xd_device_info *dev, xd_mode mode, const xd_dataset *data, int64_t steps, train_figs *f)
{
    char dir[256], out[300];
    xd_error err;
    snprintf(dir, sizeof dir, "/tmp/crossdev-bench-XXXXXX");
    if (!mkdtemp(dir)) die("mkdtemp", dir);
    snprintf(out, sizeof out, "%s/trace", dir);
    train_prog p = {now(), 0, calloc((size_t)steps, sizeof(double)), steps};
    xd_context *ctx = NULL;
    xd_status st = xd_context_create(dev, mode, &ctx);
    if (st != XD_OK) die("context", xd_context_last_error(ctx));
    f->ctx_s = now() - p.t0;
    xd_train_config cfg = xd_train_defaults();
    cfg.batch = 32;
    cfg.steps = steps;
    cfg.eval_limit = -1;
    cfg.out_dir = out;
    cfg.progress = on_progress;
    cfg.user = &p;
    xd_train_result res;
    st = xd_train_run(ctx, data, &cfg, &res, &err);
    double end = now();
    f->dev_peak = xd_context_device_bytes_peak(ctx);
    xd_context_destroy(ctx);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    if (st != XD_OK) {
        fprintf(stderr, "crossdev-bench: training (%s): %s\n", xd_mode_string(mode), err.message);
        free(p.at);
        return 1;
    }
    f->first_step_s = p.first;
    f->whole_ips = (double)(steps * 32) / (end - p.t0);
    /* steady state: median step time over the second half */
    int64_t lo = steps / 2 > 1 ? steps / 2 : 1, n = 0;
    double *d = calloc((size_t)steps, sizeof(double));
    for (int64_t i = lo; i < steps; ++i) d[n++] = p.at[i] - p.at[i - 1];
    f->steady_ips = n ? 32.0 / median(d, (int)n) : NAN;
    free(d);
    free(p.at);
    return 0;
}

static void usage(FILE *o)
{
    fprintf(o, "usage: crossdev-bench --device SEL [--reps N] [--steps N] [--skip-train] [--skip-1024] [--mnist-ops]\n"
               "  GFLOP/s of crossdev's dense/conv ops (reproducible and fast mode), CLBlast directly and\n"
               "  OpenBLAS cblas_sgemm on the host; Adam throughput; seed-cnn training images/s;\n"
               "  mnist-convnet's ops one by one (--mnist-ops: only those).\n");
}

typedef struct bench_opts {
    const char *sel;
    int64_t steps;
    int skip_train, skip_1024;
    int mnist_only; /* --mnist-ops: only the mnist-convnet op table */
} bench_opts;

/* Options; returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, bench_opts *o)
{
    o->sel = NULL;
    o->steps = 200;
    o->skip_train = o->skip_1024 = o->mnist_only = 0;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) o->sel = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) g_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) o->steps = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--skip-train")) o->skip_train = 1;
        else if (!strcmp(argv[i], "--skip-1024")) o->skip_1024 = 1;
        else if (!strcmp(argv[i], "--mnist-ops")) o->mnist_only = o->skip_train = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!o->sel || g_reps < 1 || o->steps < 4) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* The one device the selector names, found through the build's vendors folder. */
static const xd_device_info *pick_device(const char *sel, xd_device_list **list)
{
    if (!getenv("OCL_ICD_VENDORS")) {
        struct stat sb;
        if (stat(XD_DEFAULT_VENDORS_DIR, &sb) == 0) setenv("OCL_ICD_VENDORS", XD_DEFAULT_VENDORS_DIR, 0);
    }
    if (!getenv("POCL_DEVICES")) setenv("POCL_DEVICES", XD_DEFAULT_POCL_DEVICES, 0);
    xd_error err;
    if (xd_device_list_create(list, &err) != XD_OK) die("devices", err.message);
    size_t idx[64], cnt = 0;
    if (xd_device_list_count(*list) > 64) die("devices", "too many");
    if (xd_device_select(*list, sel, idx, &cnt, &err) != XD_OK) die("--device", err.message);
    if (cnt != 1) die("--device", "selects more than one device; give one");
    return xd_device_list_get(*list, idx[0]);
}

/* The GEMM table: crossdev's ops in both modes, CLBlast on the device and
 * OpenBLAS on the host, at seed-cnn's shapes (and 1024^3). */
static void print_gemms(const xd_device_info *dev, xd_context *const ctx[2], int skip_1024)
{
    cl_int rc;
    cl_device_id did = (cl_device_id)dev->device_handle;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)dev->platform_handle, 0};
    cl_context clc = clCreateContext(props, 1, &did, NULL, NULL, &rc);
    if (rc != CL_SUCCESS) die("clCreateContext", "failed");
    cl_command_queue q = clCreateCommandQueue(clc, did, 0, &rc);
    if (rc != CL_SUCCESS) die("clCreateCommandQueue", "failed");
    const gemm_case cases[] = {
        {32, 10, 21632, G_FWD, "dense fwd  y = x W^T"},       {32, 21632, 10, G_BWD_DATA, "dense bwd data dx = dy W"},
        {10, 21632, 32, G_BWD_W, "dense bwd w dW = dy^T x"},  {21632, 10, 32, G_BWD_W, "(transposed dW shape)"},
        {32, 21632, 9, G_BWD_DATA, "conv fwd im2col  W col"}, {32, 9, 21632, G_FWD, "conv bwd w  dyP col^T"},
        {9, 21632, 32, G_BWD_W, "conv bwd data  W^T dyP"},    {1024, 1024, 1024, G_FWD, "square"},
    };
    printf("\nSGEMM GFLOP/s            M      N      K  %-22s  repro    fast  CLBlast  OpenBLAS  fast/repro  "
           "CLBlast/OpenBLAS\n",
           "op");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        const gemm_case *g = &cases[i];
        if (skip_1024 && g->M == 1024) continue;
        double flop = 2.0 * (double)g->M * (double)g->N * (double)g->K;
        double r = gflops(flop, bench_dense(ctx[0], g)), f = gflops(flop, bench_dense(ctx[1], g));
        double c = gflops(flop, bench_clblast(clc, q, g)), o = gflops(flop, bench_openblas(g));
        printf("  %-22s %5zu  %5zu  %5zu  %-22s %6.2f  %6.2f  %7.2f  %8.2f  %9.2fx  %15.2fx\n", g->what, g->M, g->N,
               g->K, gemm_op_name[g->op], r, f, c, o, f / r, c / o);
        fflush(stdout);
    }
    clReleaseCommandQueue(q);
    clReleaseContext(clc);
}

/* conv2d at seed-cnn's shapes and Adam over its parameters, both modes. */
static void print_conv_adam(xd_context *const ctx[2])
{
    double cs[2][4];
    for (int m = 0; m < 2; ++m) bench_conv(ctx[m], cs[m]);
    double cflop = 2.0 * 32 * 32 * 26 * 26 * 9;
    const char *cn[3] = {"conv2d_forward_relu", "conv2d_backward_data", "conv2d_backward_weights"};
    printf("\nconv2d seed-cnn (x [32,1,28,28], w [32,1,3,3])   repro GFLOP/s   fast GFLOP/s   fast/repro\n");
    for (int k = 0; k < 3; ++k)
        printf("  %-44s %10.3f  %13.3f  %10.2fx   (%.3f ms / %.3f ms)\n", cn[k], gflops(cflop, cs[0][k]),
               gflops(cflop, cs[1][k]), cs[0][k] / cs[1][k], cs[0][k] * 1e3, cs[1][k] * 1e3);
    double np = 21632 * 10 + 10 + 288 + 32;
    printf("  %-44s %10.1f  %13.1f  Melem/s (%.3f ms / %.3f ms)\n", "adam_step (216,650 params)", np / cs[0][3] * 1e-6,
           np / cs[1][3] * 1e-6, cs[0][3] * 1e3, cs[1][3] * 1e3);
}

static void print_training(const train_figs tf[2], const int ok[2], int64_t steps)
{
    printf("\ntraining seed-cnn, batch 32, %lld steps, synthetic data (xd_train_run: traces, hashes)\n",
           (long long)steps);
    printf("  %-13s %14s %14s %16s %14s %16s\n", "mode", "steady img/s", "whole img/s", "first step s", "context s",
           "device peak MiB");
    for (int m = 0; m < 2; ++m) {
        if (!ok[m]) {
            printf("  %-13s failed\n", xd_mode_string((xd_mode)m));
            continue;
        }
        printf("  %-13s %14.1f %14.1f %16.3f %14.3f %16.1f\n", xd_mode_string((xd_mode)m), tf[m].steady_ips,
               tf[m].whole_ips, tf[m].first_step_s, tf[m].ctx_s, (double)tf[m].dev_peak / 1048576.0);
    }
    if (ok[0] && ok[1]) printf("  fast/repro steady: %.2fx\n", tf[1].steady_ips / tf[0].steady_ips);
}

int main(int argc, char **argv)
{
    bench_opts o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0) return rc;
    xd_device_list *list = NULL;
    const xd_device_info *dev = pick_device(o.sel, &list);
    printf("crossdev-bench on %s (median of %d reps after 1 warm-up; OpenBLAS on the host)\n", dev->id, g_reps);

    /* training first: time to first step includes cold kernel builds */
    train_figs tf[2];
    int train_ok[2] = {0, 0};
    if (!o.skip_train) {
        xd_dataset *data = NULL;
        xd_error err;
        if (xd_dataset_synthetic(42, 2048, 64, &data, &err) != XD_OK) die("dataset", err.message);
        for (int m = 0; m < 2; ++m) train_ok[m] = !bench_train(dev, (xd_mode)m, data, o.steps, &tf[m]);
        xd_dataset_destroy(data);
    }
    xd_context *ctx[2] = {NULL, NULL};
    for (int m = 0; m < 2; ++m)
        if (xd_context_create(dev, (xd_mode)m, &ctx[m]) != XD_OK) die("context", xd_context_last_error(ctx[m]));
    if (!o.mnist_only) {
        print_gemms(dev, ctx, o.skip_1024);
        print_conv_adam(ctx);
    }
    print_mnist_ops(ctx);
    if (!o.skip_train) print_training(tf, train_ok, o.steps);
    for (int m = 0; m < 2; ++m)
        printf("device bytes peak (%s bench context): %.1f MiB\n", xd_mode_string((xd_mode)m),
               (double)xd_context_device_bytes_peak(ctx[m]) / 1048576.0);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak host memory (maxrss): %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
    for (int m = 0; m < 2; ++m) xd_context_destroy(ctx[m]);
    xd_device_list_destroy(list);
    return 0;
}
