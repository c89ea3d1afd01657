/* Cross-device bitwise test: every op, on the same inputs, in reproducible
 * mode on every device, must give byte-identical outputs on every pair of
 * devices, and the seeded inits must equal the host build.
 *
 *   test_bitwise [--slow-regex REGEX] ID1 ID2 ...
 *
 * Devices whose id matches REGEX (the simulator) run only the small cases;
 * each pair of devices is compared on the cases both ran.  Each case is one
 * training step of a conv -> relu -> dense -> softmax-xent network: init,
 * forward, backward, then three Adam steps on the conv weights. */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "reference.h"

typedef struct bcase {
    int n, c, h, w, o, k, stride;
    char pad; /* 'v' valid, 's' same, 'e' explicit pt/pb/pl/pr */
    int pt, pb, pl, pr;
    int classes;
    int small; /* also on slow devices */
} bcase;
static const bcase CASES[] = {
    /* n   c   h   w   o  k  s  pad pt pb pl pr cls small */
    {1, 1, 7, 7, 3, 3, 1, 'v', 0, 0, 0, 0, 5, 1},
    {2, 3, 9, 9, 5, 5, 2, 's', 0, 0, 0, 0, 10, 1},
    {3, 2, 6, 5, 4, 1, 2, 'v', 0, 0, 0, 0, 3, 1},
    {2, 2, 7, 8, 6, 3, 1, 'e', 2, 0, 1, 2, 7, 1},
    {2, 2, 21, 37, 5, 5, 1, 's', 0, 0, 0, 0, 4, 1}, /* stride 1, rows longer than 16: contiguous lanes + padding */
    {8, 3, 33, 33, 16, 5, 2, 's', 0, 0, 0, 0, 10, 0},
    {32, 1, 28, 28, 32, 3, 1, 'v', 0, 0, 0, 0, 10, 0}, /* the seed model */
    /* rows shorter than 16 with 16+ channels: PoCL's channel-lane kernels
     * against the default row's row kernels */
    {2, 17, 9, 9, 18, 3, 1, 'v', 0, 0, 0, 0, 6, 1},
    {32, 32, 13, 13, 64, 3, 1, 'v', 0, 0, 0, 0, 10, 0}, /* mnist-convnet's conv2d_1 */
    /* strides with 16+ channels (resnet's downsampling): the channel-lane
     * kernels at stride 2, "same" padding (one after, none before) and 1x1
     * projections, odd sides included */
    {2, 16, 12, 12, 32, 3, 2, 's', 0, 0, 0, 0, 6, 1},
    {2, 16, 9, 9, 32, 1, 2, 'v', 0, 0, 0, 0, 5, 1},
    {2, 17, 11, 11, 18, 3, 2, 's', 0, 0, 0, 0, 4, 1},
    {8, 32, 14, 14, 64, 3, 2, 's', 0, 0, 0, 0, 10, 0}, /* resnet's conv2d_6 */
    /* 16 -> 16 channels on rows longer than 16 (resnet's conv2d_1): one
     * vector of channels a work-item (xd_conv2d_lanes1), a partial block */
    {2, 16, 21, 21, 16, 3, 1, 's', 0, 0, 0, 0, 5, 1},
    /* stride 2, backward data by phase (every other column of a row a
     * work-item): rows of more than one block per phase, odd and even */
    {2, 16, 35, 35, 16, 3, 2, 's', 0, 0, 0, 0, 5, 1},
    {2, 32, 19, 19, 32, 3, 2, 's', 0, 0, 0, 0, 4, 1},
};
enum { NCASES = sizeof CASES / sizeof CASES[0], MAXDEV = 16 };

/* Device tensors of one case. */
enum {
    X,
    W,
    B,
    Y,
    YR,
    A,
    WD,
    BD,
    LOGITS,
    LABELS,
    LOSS,
    DLOGITS,
    ROWLOSS,
    DH,
    DWD,
    DBD,
    DYC,
    DX,
    DW,
    DB,
    WG,
    WH,
    AW,
    AM,
    AV,
    NT
};
/* The outputs compared, in the order they are computed. */
static const struct {
    const char *name;
    int tensor;
} OUTS[] = {
    {"init_glorot_uniform", WG},
    {"init_he_normal", WH},
    {"conv2d_forward", Y},
    {"conv2d_forward_relu", YR},
    {"relu_forward", A},
    {"dense_forward", LOGITS},
    {"softmax_xent loss", LOSS},
    {"softmax_xent dlogits", DLOGITS},
    {"softmax_xent row_loss", ROWLOSS},
    {"dense_backward_data", DH},
    {"dense_backward_weights", DWD},
    {"dense_backward_bias", DBD},
    {"relu_backward", DYC},
    {"conv2d_backward_data", DX},
    {"conv2d_backward_weights", DW},
    {"conv2d_backward_bias", DB},
    {"adam_step w (t=3)", AW},
    {"adam_step m (t=3)", AM},
    {"adam_step v (t=3)", AV},
};
enum { NOUT_CONV = sizeof OUTS / sizeof OUTS[0] };

/* Issue 14's layers, on inputs of the case's conv-output shape [n, o, oh, ow]
 * and logits [n, classes]. */
enum {
    LX,
    LDY,
    LMAX,
    LDMAX,
    LAVG,
    LDAVG,
    LDROP,
    LDDROP,
    LGAMMA,
    LBETA,
    LBN,
    LMEAN,
    LVAR,
    LDBN,
    LDGAMMA,
    LDBETA,
    LMM,
    LMV,
    LBNINF,
    LZ,
    LDZ,
    LSOFT,
    LDSOFT,
    LLABELS,
    LXLOSS,
    LDPROBS,
    LXROW,
    LXLOSS2,
    LDPROBS2,
    LPDY,
    LG,
    LAW,
    LAM,
    LAV,
    LKW,
    LKM,
    LTW,
    LTM,
    LGAP,
    LGAPDY,
    LDGAP,
    LADD,
    LACC,
    LCAT,
    LDCAT,
    LRM,
    LRV,
    LL2LOSS,
    LL2G,
    LGMP,
    LDGMP,
    LPAD,
    LDPAD,
    LACT0, /* seven activations (xd_act_op) on the logits: forward, then backward */
    LDACT0 = LACT0 + 7,
    LNT = LDACT0 + 7
};
static const struct {
    const char *name;
    int tensor;
} LOUTS[] = {
    {"maxpool2d_forward", LMAX},
    {"maxpool2d_backward", LDMAX},
    {"avgpool2d_forward", LAVG},
    {"avgpool2d_backward", LDAVG},
    {"dropout_forward", LDROP},
    {"dropout_backward", LDDROP},
    {"batchnorm_train_forward y", LBN},
    {"batchnorm mean", LMEAN},
    {"batchnorm var", LVAR},
    {"batchnorm_train_backward dx", LDBN},
    {"batchnorm dgamma", LDGAMMA},
    {"batchnorm dbeta", LDBETA},
    {"batchnorm moving_mean", LMM},
    {"batchnorm moving_var", LMV},
    {"batchnorm_inference_forward", LBNINF},
    {"softmax_forward", LSOFT},
    {"softmax_backward", LDSOFT},
    {"sparse_xent_probs loss", LXLOSS},
    {"sparse_xent_probs dprobs", LDPROBS},
    {"sparse_xent_probs row_loss", LXROW},
    {"sparse_xent_probs TF form loss", LXLOSS2},
    {"sparse_xent_probs TF form dprobs", LDPROBS2},
    {"adam_keras_step w (t=3)", LAW},
    {"adam_keras_step m (t=3)", LAM},
    {"adam_keras_step v (t=3)", LAV},
    {"sgd_step keras nesterov w (t=3)", LKW},
    {"sgd_step keras nesterov m (t=3)", LKM},
    {"sgd_step torch momentum w (t=3)", LTW},
    {"sgd_step torch momentum buf (t=3)", LTM},
    {"global_avgpool2d_forward", LGAP},
    {"global_avgpool2d_backward", LDGAP},
    {"add_forward", LADD},
    {"add_forward accumulating twice", LACC},
    {"concat_forward", LCAT},
    {"concat_backward accumulating", LDCAT},
    {"batchnorm running_mean (PyTorch)", LRM},
    {"batchnorm running_var (PyTorch)", LRV},
    {"l2_penalty (into a loss)", LL2LOSS},
    {"l2_gradient", LL2G},
    {"global_maxpool2d_forward", LGMP},
    {"global_maxpool2d_backward", LDGMP},
    {"zeropad2d_forward", LPAD},
    {"zeropad2d_backward", LDPAD},
    {"sigmoid forward", LACT0},
    {"tanh forward", LACT0 + 1},
    {"leaky_relu forward", LACT0 + 2},
    {"elu forward", LACT0 + 3},
    {"relu6 forward", LACT0 + 4},
    {"silu forward", LACT0 + 5},
    {"gelu forward", LACT0 + 6},
    {"sigmoid backward", LDACT0},
    {"tanh backward", LDACT0 + 1},
    {"leaky_relu backward", LDACT0 + 2},
    {"elu backward", LDACT0 + 3},
    {"relu6 backward", LDACT0 + 4},
    {"silu backward", LDACT0 + 5},
    {"gelu backward", LDACT0 + 6},
};
enum { NOUT = NOUT_CONV + sizeof LOUTS / sizeof LOUTS[0] };
static const char *out_name(int k) { return k < NOUT_CONV ? OUTS[k].name : LOUTS[k - NOUT_CONV].name; }

typedef struct device_run {
    xdt t; /* this device's context; its failures count in the total */
    int slow, usable;
    float *out[NCASES][NOUT];
    size_t count[NCASES][NOUT];
} device_run;

static int ran(const device_run *d, int ci) { return d->usable && (CASES[ci].small || !d->slow); }

static xd_conv2d_params case_params(const bcase *bc)
{
    xd_conv2d_params p = {bc->stride, bc->stride, bc->pt, bc->pb, bc->pl, bc->pr};
    if (bc->pad == 'v') p = xd_conv2d_valid(bc->stride, bc->stride);
    if (bc->pad == 's') p = xd_conv2d_same(bc->h, bc->w, bc->k, bc->k, bc->stride, bc->stride);
    return p;
}

/* The device result against the double reference (a sanity check that the
 * identical results are also right; test_ops holds the tight tolerances). */
static void sanity(xdt *T, const char *what, const float *got, const double *ref, size_t n, double k)
{
    double ss = 0;
    for (size_t i = 0; i < n; ++i) ss += ref[i] * ref[i];
    xdt_close(T, what, got, ref, n, 1e-6 * sqrt(k) * sqrt(ss / (double)n), 1e-6);
}

/* Runs case ci on device d: host inputs (the same for every device), the
 * ops, the outputs read back; init compared with the host build. */
static void run_case(xdt *T, device_run *d, int ci)
{
    const bcase *bc = &CASES[ci];
    xd_conv2d_params p = case_params(bc);
    xdr_conv s;
    xdr_conv_init(&s, bc->n, bc->c, bc->h, bc->w, bc->o, bc->k, bc->k, p);
    int64_t I = s.o * s.oh * s.ow;
    size_t nx = xdr_conv_x_count(&s), nw = xdr_conv_w_count(&s), nwd = (size_t)(bc->classes * I);
    uint32_t seed = 7000u + 10u * (uint32_t)ci;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)bc->o * 4), *wd = malloc(nwd * 4);
    float *bd = malloc((size_t)bc->classes * 4), *host = malloc((nw > nwd ? nw : nwd) * 4);
    int32_t *labels = malloc((size_t)bc->n * 4);
    xd_tensor *ts[NT] = {0};
    char what[512];
    if (!xdt_check(T, x && w && b && wd && bd && host && labels, "out of host memory")) goto done;
    xdt_fill(x, nx, seed + 1, -1, 1);
    xdt_fill(w, nw, seed + 2, -0.5f, 0.5f);
    xdt_fill(b, (size_t)bc->o, seed + 3, -0.1f, 0.1f);
    xdt_fill(wd, nwd, seed + 4, -0.1f, 0.1f);
    xdt_fill(bd, (size_t)bc->classes, seed + 5, -0.1f, 0.1f);
    for (int i = 0; i < bc->n; ++i) labels[i] = (i * 7 + ci) % bc->classes;

    int64_t sx[4] = {s.n, s.c, s.h, s.w}, sw[4] = {s.o, s.c, s.kh, s.kw}, sy[4] = {s.n, s.o, s.oh, s.ow};
    int64_t swd[2] = {bc->classes, I}, sz[2] = {bc->n, bc->classes}, sn[1] = {bc->n}, so[1] = {bc->o};
    int64_t scl[1] = {bc->classes}, s1[1] = {1};
    const struct {
        int nd;
        const int64_t *shape;
        const void *data;
    } spec[NT] = {
        [X] = {4, sx, x},       [W] = {4, sw, w},           [B] = {1, so, b},    [Y] = {4, sy, 0},
        [YR] = {4, sy, 0},      [A] = {4, sy, 0},           [WD] = {2, swd, wd}, [BD] = {1, scl, bd},
        [LOGITS] = {2, sz, 0},  [LABELS] = {1, sn, labels}, [LOSS] = {1, s1, 0}, [DLOGITS] = {2, sz, 0},
        [ROWLOSS] = {1, sn, 0}, [DH] = {4, sy, 0},          [DWD] = {2, swd, 0}, [DBD] = {1, scl, 0},
        [DYC] = {4, sy, 0},     [DX] = {4, sx, 0},          [DW] = {4, sw, 0},   [DB] = {1, so, 0},
        [WG] = {4, sw, 0},      [WH] = {2, swd, 0},         [AW] = {4, sw, w},   [AM] = {4, sw, 0},
        [AV] = {4, sw, 0},
    };
    xd_context *c = d->t.ctx;
    xd_status st = XD_OK;
    for (int i = 0; i < NT && st == XD_OK; ++i) {
        ts[i] = xdt_upload(&d->t, i == LABELS ? XD_DTYPE_I32 : XD_DTYPE_F32, spec[i].nd, spec[i].shape, spec[i].data);
        st = !ts[i] ? XD_OUT_OF_DEVICE_MEMORY : spec[i].data ? XD_OK : xd_tensor_fill_zero(ts[i]);
    }
    uint64_t iseed = 0x5eed0000ULL + (uint64_t)ci;
    int64_t fan_in = s.c * s.kh * s.kw, fan_out = s.o * s.kh * s.kw;
    xd_adam_params ap = xd_adam_defaults();
#define RUN(call)                     \
    do {                              \
        if (st == XD_OK) st = (call); \
    } while (0)
    RUN(xd_init_glorot_uniform(c, ts[WG], iseed, 1, fan_in, fan_out));
    RUN(xd_init_he_normal(c, ts[WH], iseed, 2, I));
    RUN(xd_conv2d_forward(c, &p, ts[X], ts[W], ts[B], ts[Y]));
    RUN(xd_conv2d_forward_relu(c, &p, ts[X], ts[W], ts[B], ts[YR]));
    RUN(xd_relu_forward(c, ts[Y], ts[A]));
    RUN(xd_dense_forward(c, ts[YR], ts[WD], ts[BD], ts[LOGITS]));
    RUN(xd_softmax_xent(c, ts[LOGITS], ts[LABELS], ts[LOSS], ts[DLOGITS], ts[ROWLOSS]));
    RUN(xd_dense_backward_data(c, ts[DLOGITS], ts[WD], ts[DH]));
    RUN(xd_dense_backward_weights(c, ts[YR], ts[DLOGITS], ts[DWD]));
    RUN(xd_dense_backward_bias(c, ts[DLOGITS], ts[DBD]));
    RUN(xd_relu_backward(c, ts[YR], ts[DH], ts[DYC]));
    RUN(xd_conv2d_backward_data(c, &p, ts[DYC], ts[W], ts[DX]));
    RUN(xd_conv2d_backward_weights(c, &p, ts[X], ts[DYC], ts[DW]));
    RUN(xd_conv2d_backward_bias(c, ts[DYC], ts[DB]));
    for (int64_t t = 1; t <= 3; ++t) RUN(xd_adam_step(c, &ap, t, ts[AW], ts[DW], ts[AM], ts[AV]));
#undef RUN
    snprintf(what, sizeof what, "%s: case %d", d->t.dev->id, ci);
    if (!xdt_ok(&d->t, st, what)) goto done;
    for (int k = 0; k < NOUT_CONV; ++k) {
        d->out[ci][k] = xdt_download(&d->t, ts[OUTS[k].tensor]);
        d->count[ci][k] = xd_tensor_count(ts[OUTS[k].tensor]);
        if (!d->out[ci][k]) goto done;
    }

    /* the seeded inits are the host build's, bit for bit */
    xd_host_init_uniform(host, nw, iseed, 1, sqrt(6.0 / (double)(fan_in + fan_out)));
    snprintf(what, sizeof what, "%s: case %d: init_glorot_uniform vs host", d->t.dev->id, ci);
    xdt_bitwise(T, what, d->out[ci][0], host, nw);
    xd_host_init_normal(host, nwd, iseed, 2, sqrt(2.0 / (double)I));
    snprintf(what, sizeof what, "%s: case %d: init_he_normal vs host", d->t.dev->id, ci);
    xdt_bitwise(T, what, d->out[ci][1], host, nwd);

    /* and the forward results are the double reference's, to float accuracy */
    size_t ny = xdr_conv_y_count(&s), nz = (size_t)bc->n * (size_t)bc->classes;
    double *xd = xdr_from_float(x, nx), *wdd = xdr_from_float(w, nw), *bdd = xdr_from_float(b, (size_t)bc->o);
    double *yrd = xdr_from_float(d->out[ci][3], ny), *wdd2 = xdr_from_float(wd, nwd);
    double *bdd2 = xdr_from_float(bd, (size_t)bc->classes), *yref = malloc(ny * 8), *zref = malloc(nz * 8);
    if (xdt_check(T, xd && wdd && bdd && yrd && wdd2 && bdd2 && yref && zref, "out of host memory")) {
        xdr_conv2d_forward(&s, xd, wdd, bdd, 0, yref);
        snprintf(what, sizeof what, "%s: case %d: conv2d_forward vs reference", d->t.dev->id, ci);
        sanity(T, what, d->out[ci][2], yref, ny, (double)fan_in);
        xdr_dense_forward(bc->n, I, bc->classes, yrd, wdd2, bdd2, zref);
        snprintf(what, sizeof what, "%s: case %d: dense_forward vs reference", d->t.dev->id, ci);
        sanity(T, what, d->out[ci][5], zref, nz, (double)I);
    }
    free(xd), free(wdd), free(bdd), free(yrd), free(wdd2), free(bdd2), free(yref), free(zref);
done:
    for (int i = 0; i < NT; ++i) xd_tensor_destroy(ts[i]);
    free(x), free(w), free(b), free(wd), free(bd), free(host), free(labels);
}

/* The layer ops of case ci on device d, in a training step's order; the
 * outputs go to d->out[ci][NOUT_CONV + k].  Pooling alternates between 2x2
 * valid and 3x3 stride 2 same (overlapping windows), dropout between rates
 * 0.5 and 0.3. */
static xd_status run_layer_ops(xd_context *c, const xd_pool2d_params *p, int ci, xd_tensor *const *ts)
{
    double rate = ci % 2 ? 0.3 : 0.5, eps = 1e-3;
    uint64_t seed = 0xd0d0ULL + (uint64_t)ci, stream = ((uint64_t)7 << 32) | (uint64_t)ci;
    xd_adam_params ap = xd_adam_defaults();
    xd_sgd_params ks = {0.01, 0.9, 1, XD_SGD_KERAS}, tsg = {0.01, 0.9, 0, XD_SGD_TORCH};
    xd_status st = XD_OK;
#define RUN(call)                     \
    do {                              \
        if (st == XD_OK) st = (call); \
    } while (0)
    RUN(xd_maxpool2d_forward(c, p, ts[LX], ts[LMAX]));
    RUN(xd_maxpool2d_backward(c, p, ts[LX], ts[LPDY], ts[LDMAX]));
    RUN(xd_avgpool2d_forward(c, p, ts[LX], ts[LAVG]));
    RUN(xd_avgpool2d_backward(c, p, ts[LPDY], ts[LDAVG]));
    RUN(xd_dropout_forward(c, ts[LX], rate, seed, stream, ts[LDROP]));
    RUN(xd_dropout_backward(c, ts[LDY], rate, seed, stream, ts[LDDROP]));
    RUN(xd_batchnorm_train_forward(c, ts[LX], ts[LGAMMA], ts[LBETA], eps, ts[LBN], ts[LMEAN], ts[LVAR]));
    RUN(xd_batchnorm_train_backward(c, ts[LX], ts[LDY], ts[LGAMMA], ts[LMEAN], ts[LVAR], eps, ts[LDBN], ts[LDGAMMA],
                                    ts[LDBETA]));
    RUN(xd_batchnorm_update_moving(c, 0.99, ts[LMEAN], ts[LVAR], ts[LMM], ts[LMV]));
    RUN(xd_batchnorm_inference_forward(c, ts[LX], ts[LGAMMA], ts[LBETA], ts[LMM], ts[LMV], eps, ts[LBNINF]));
    RUN(xd_softmax_forward(c, ts[LZ], ts[LSOFT]));
    RUN(xd_softmax_backward(c, ts[LSOFT], ts[LDZ], ts[LDSOFT]));
    RUN(xd_sparse_xent_probs(c, ts[LSOFT], ts[LLABELS], ts[LXLOSS], ts[LDPROBS], ts[LXROW]));
    RUN(xd_sparse_xent_probs_form(c, XD_XENT_CLIP_RENORMALISE, ts[LDZ], ts[LLABELS], ts[LXLOSS2], ts[LDPROBS2], NULL));
    RUN(xd_global_avgpool2d_forward(c, ts[LX], ts[LGAP]));
    RUN(xd_global_avgpool2d_backward(c, ts[LGAPDY], ts[LDGAP]));
    RUN(xd_add_forward(c, ts[LX], ts[LDY], ts[LADD]));
    RUN(xd_add_forward(c, ts[LACC], ts[LDY], ts[LACC]));
    RUN(xd_add_forward(c, ts[LACC], ts[LBN], ts[LACC]));
    RUN(xd_concat_forward(c, ts[LX], 0, ts[LCAT]));
    RUN(xd_concat_forward(c, ts[LDY], xd_tensor_shape(ts[LX])[1], ts[LCAT]));
    RUN(xd_concat_backward(c, ts[LCAT], xd_tensor_shape(ts[LX])[1], 1, ts[LDCAT]));
    RUN(xd_batchnorm_update_running_pytorch(c, 0.1, ts[LX], ts[LMEAN], ts[LVAR], ts[LRM], ts[LRV]));
    RUN(xd_l2_penalty(c, ts[LX], 0.01, ts[LL2LOSS]));
    RUN(xd_l2_penalty(c, ts[LDY], 0.003, ts[LL2LOSS]));
    RUN(xd_l2_gradient(c, ts[LX], 0.01, ts[LL2G]));
    RUN(xd_global_maxpool2d_forward(c, ts[LX], ts[LGMP]));
    RUN(xd_global_maxpool2d_backward(c, ts[LX], ts[LGAPDY], ts[LDGMP]));
    const xd_pad2d_params pad = {1, 0, 2, 1};
    RUN(xd_zeropad2d_forward(c, &pad, ts[LX], ts[LPAD]));
    RUN(xd_zeropad2d_backward(c, &pad, ts[LPAD], ts[LDPAD]));
    for (int k = 0; k < 7; ++k) {
        const double alpha = k == XD_ACT_OP_LEAKY_RELU ? 0.2 : 1.0;
        RUN(xd_activation_forward(c, (xd_act_op)k, alpha, ts[LZ], ts[LACT0 + k]));
        RUN(xd_activation_backward(c, (xd_act_op)k, alpha, ts[LZ], ts[LACT0 + k], ts[LDZ], ts[LDACT0 + k]));
    }
    for (int64_t t = 1; t <= 3; ++t) {
        RUN(xd_adam_keras_step(c, &ap, t, ts[LAW], ts[LG], ts[LAM], ts[LAV]));
        RUN(xd_sgd_step(c, &ks, t, ts[LKW], ts[LG], ts[LKM]));
        RUN(xd_sgd_step(c, &tsg, t, ts[LTW], ts[LG], ts[LTM]));
    }
#undef RUN
    return st;
}

static void run_layers(xdt *T, device_run *d, int ci)
{
    const bcase *bc = &CASES[ci];
    xdr_conv s;
    xdr_conv_init(&s, bc->n, bc->c, bc->h, bc->w, bc->o, bc->k, bc->k, case_params(bc));
    size_t nx = xdr_conv_y_count(&s), nz = (size_t)bc->n * (size_t)bc->classes, no = (size_t)bc->o;
    size_t nw = xdr_conv_w_count(&s);
    uint32_t seed = 7500u + 10u * (uint32_t)ci;
    float *x = malloc(nx * 4), *dy = malloc(nx * 4), *gb = malloc(no * 8), *z = malloc(nz * 8), *w = malloc(nw * 8);
    float *pdy = malloc(nx * 4); /* at least the pooled size */
    int32_t *labels = malloc((size_t)bc->n * 4);
    uint8_t *mask = malloc(nx);
    xd_tensor *ts[LNT] = {0};
    char what[256];
    if (!x || !dy || !gb || !z || !w || !pdy || !labels || !mask) {
        xdt_check(T, 0, "out of host memory");
        goto done;
    }
    xdt_fill(pdy, nx, seed + 6, -1, 1);
    xdt_fill(x, nx, seed + 1, -1, 1);
    xdt_fill(dy, nx, seed + 2, -1, 1);
    xdt_fill(gb, 2 * no, seed + 3, 0.5f, 1.5f);
    xdt_fill(z, 2 * nz, seed + 4, -3, 3);
    xdt_fill(w, 2 * nw, seed + 5, -1e-2f, 1e-2f);
    for (int i = 0; i < bc->n; ++i) labels[i] = (i * 3 + ci) % bc->classes;
    xd_pool2d_params p = ci % 2 ? xd_pool2d_same((int)s.oh, (int)s.ow, 3, 3, 2, 2) : xd_pool2d_valid(2, 2, 2, 2);
    xdr_pool ps;
    xdr_pool_init(&ps, s.n, s.o, s.oh, s.ow, p);
    int64_t sx[4] = {s.n, s.o, s.oh, s.ow}, sp[4] = {ps.n, ps.c, ps.oh, ps.ow}, sc[1] = {bc->o};
    int64_t sz[2] = {bc->n, bc->classes}, sn[1] = {bc->n}, s1[1] = {1}, sw[1] = {(int64_t)nw};
    int64_t sg[2] = {s.n, s.o}, s2x[4] = {s.n, 2 * s.o, s.oh, s.ow}, spad[4] = {s.n, s.o, s.oh + 1, s.ow + 3};
    const struct {
        int nd;
        const int64_t *shape;
        const void *data;
    } spec[LACT0] = {
        /* the activations' outputs after them: [n, classes], as the logits */
        [LX] = {4, sx, x},        [LDY] = {4, sx, dy},        [LMAX] = {4, sp, 0},    [LDMAX] = {4, sx, 0},
        [LAVG] = {4, sp, 0},      [LDAVG] = {4, sx, 0},       [LDROP] = {4, sx, 0},   [LDDROP] = {4, sx, 0},
        [LGAMMA] = {1, sc, gb},   [LBETA] = {1, sc, gb + no}, [LBN] = {4, sx, 0},     [LMEAN] = {1, sc, 0},
        [LVAR] = {1, sc, 0},      [LDBN] = {4, sx, 0},        [LDGAMMA] = {1, sc, 0}, [LDBETA] = {1, sc, 0},
        [LMM] = {1, sc, gb + no}, [LMV] = {1, sc, gb},        [LBNINF] = {4, sx, 0},  [LZ] = {2, sz, z},
        [LDZ] = {2, sz, z + nz},  [LSOFT] = {2, sz, 0},       [LDSOFT] = {2, sz, 0},  [LLABELS] = {1, sn, labels},
        [LXLOSS] = {1, s1, 0},    [LDPROBS] = {2, sz, 0},     [LXROW] = {1, sn, 0},   [LPDY] = {4, sp, pdy},
        [LXLOSS2] = {1, s1, 0},   [LDPROBS2] = {2, sz, 0},    [LG] = {1, sw, w + nw}, [LAW] = {1, sw, w},
        [LAM] = {1, sw, 0},       [LAV] = {1, sw, 0},         [LKW] = {1, sw, w},     [LKM] = {1, sw, 0},
        [LTW] = {1, sw, w},       [LTM] = {1, sw, 0},         [LGAP] = {2, sg, 0},    [LGAPDY] = {2, sg, dy},
        [LDGAP] = {4, sx, 0},     [LADD] = {4, sx, 0},        [LACC] = {4, sx, x},    [LCAT] = {4, s2x, 0},
        [LDCAT] = {4, sx, x},     [LRM] = {1, sc, gb + no},   [LRV] = {1, sc, gb},    [LL2LOSS] = {1, s1, z},
        [LL2G] = {4, sx, dy},     [LGMP] = {2, sg, 0},        [LDGMP] = {4, sx, 0},   [LPAD] = {4, spad, 0},
        [LDPAD] = {4, sx, 0},
    };
    xd_status st = XD_OK;
    for (int i = 0; i < LNT && st == XD_OK; ++i) {
        const void *data = i < LACT0 ? spec[i].data : NULL;
        ts[i] = xdt_upload(&d->t, i == LLABELS ? XD_DTYPE_I32 : XD_DTYPE_F32, i < LACT0 ? spec[i].nd : 2,
                           i < LACT0 ? spec[i].shape : sz, data);
        st = !ts[i] ? XD_OUT_OF_DEVICE_MEMORY : data ? XD_OK : xd_tensor_fill_zero(ts[i]);
    }
    if (st == XD_OK) st = run_layer_ops(d->t.ctx, &p, ci, ts);
    snprintf(what, sizeof what, "%s: case %d layers", d->t.dev->id, ci);
    if (!xdt_ok(&d->t, st, what)) goto done;
    for (size_t k = 0; k < NOUT - NOUT_CONV; ++k) {
        d->out[ci][NOUT_CONV + k] = xdt_download(&d->t, ts[LOUTS[k].tensor]);
        d->count[ci][NOUT_CONV + k] = xd_tensor_count(ts[LOUTS[k].tensor]);
        if (!d->out[ci][NOUT_CONV + k]) goto done;
    }
    /* the dropout mask is the host build's, bit for bit (x has no zeros here
     * but by a 2^-24 chance: kept where y != 0) */
    xd_host_dropout_mask(mask, nx, 0xd0d0ULL + (uint64_t)ci, ((uint64_t)7 << 32) | (uint64_t)ci, ci % 2 ? 0.3 : 0.5);
    size_t bad = 0;
    const float *y = d->out[ci][NOUT_CONV + 4];
    for (size_t i = 0; i < nx; ++i) bad += (y[i] != 0) != mask[i] && x[i] != 0;
    snprintf(what, sizeof what, "%s: case %d: dropout mask vs xd_host_dropout_mask", d->t.dev->id, ci);
    xdt_check(T, bad == 0, "%s: %zu elements differ", what, bad);
done:
    for (int i = 0; i < LNT; ++i) xd_tensor_destroy(ts[i]);
    free(x), free(dy), free(gb), free(z), free(w), free(pdy), free(labels), free(mask);
}

/* Elements whose bytes differ; prints the first few. */
static size_t count_diff(const char *what, const float *a, const float *b, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i)
        if (memcmp(&a[i], &b[i], 4) != 0 && bad++ < 3)
            printf("  %s [%zu]: %a vs %a\n", what, i, (double)a[i], (double)b[i]);
    return bad;
}

int main(int argc, char **argv)
{
    xdt T;
    memset(&T, 0, sizeof T);
    T.name = "test_bitwise";
    const char *slow_re = NULL, *ids[MAXDEV];
    int nd = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--slow-regex") == 0 && i + 1 < argc) slow_re = argv[++i];
        else if (argv[i][0] == '-' || nd == MAXDEV) {
            fprintf(stderr, "usage: test_bitwise [--slow-regex REGEX] ID1 ID2 ... (at most %d)\n", MAXDEV);
            return 2;
        } else ids[nd++] = argv[i];
    }
    if (nd < 1) {
        fprintf(stderr, "test_bitwise: no device ids given\n");
        return 2;
    }
    regex_t re;
    int have_re = slow_re && *slow_re;
    if (have_re && regcomp(&re, slow_re, REG_EXTENDED | REG_NOSUB) != 0) {
        fprintf(stderr, "test_bitwise: bad --slow-regex '%s'\n", slow_re);
        return 2;
    }
    xd_error err;
    if (xd_device_list_create(&T.list, &err) != XD_OK) {
        fprintf(stderr, "test_bitwise: %s\n", err.message);
        if (have_re) regfree(&re);
        return 1;
    }
    device_run *dev = calloc((size_t)nd, sizeof *dev);
    if (!dev) return 1;
    struct timespec t0, t1;
    for (int i = 0; i < nd; ++i) {
        device_run *d = &dev[i];
        d->t.name = ids[i];
        d->slow = have_re && regexec(&re, ids[i], 0, NULL, 0) == 0;
        for (size_t j = 0; j < xd_device_list_count(T.list); ++j)
            if (strcmp(xd_device_list_get(T.list, j)->id, ids[i]) == 0) d->t.dev = xd_device_list_get(T.list, j);
        if (!xdt_check(&T, d->t.dev != NULL, "device '%s' is not present", ids[i])) continue;
        xd_status st = xd_context_create(d->t.dev, XD_MODE_REPRODUCIBLE, &d->t.ctx);
        if (!xdt_check(&T, st == XD_OK, "%s: reproducible context: %s: %s", ids[i], xd_status_name(st),
                       xd_context_last_error(d->t.ctx)))
            continue;
        d->usable = 1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int ci = 0; ci < NCASES; ++ci)
            if (ran(d, ci)) {
                run_case(&T, d, ci);
                run_layers(&T, d, ci);
            }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("device %d: %s%s: %s, %.2f s\n", i, ids[i], d->slow ? " (slow: small cases only)" : "",
               xd_context_guarantee(d->t.ctx),
               (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    }

    /* every pair, on the cases both ran */
    static size_t diff[MAXDEV][MAXDEV];
    static int cases[MAXDEV][MAXDEV];
    char what[640];
    for (int i = 0; i < nd; ++i)
        for (int j = i + 1; j < nd; ++j)
            for (int ci = 0; ci < NCASES; ++ci) {
                if (!ran(&dev[i], ci) || !ran(&dev[j], ci)) continue;
                cases[i][j]++;
                for (int k = 0; k < NOUT; ++k) {
                    const float *a = dev[i].out[ci][k], *b = dev[j].out[ci][k];
                    snprintf(what, sizeof what, "case %d %s: %s vs %s", ci, out_name(k), ids[i], ids[j]);
                    if (!a || !b) {
                        xdt_check(&T, 0, "%s: not computed", what);
                        continue;
                    }
                    size_t bad = count_diff(what, a, b, dev[i].count[ci][k]);
                    diff[i][j] += bad;
                    xdt_check(&T, bad == 0, "%s: %zu of %zu elements differ", what, bad, dev[i].count[ci][k]);
                }
            }
    printf("bitwise matrix (outputs of the cases both devices ran):\n%-4s", "");
    for (int j = 0; j < nd; ++j) printf(" %-24d", j);
    printf("\n");
    for (int i = 0; i < nd; ++i) {
        printf("%-4d", i);
        for (int j = 0; j < nd; ++j) {
            int a = i < j ? i : j, b = i < j ? j : i;
            char cell[64];
            if (i == j) snprintf(cell, sizeof cell, "-");
            else if (!cases[a][b]) snprintf(cell, sizeof cell, "not compared");
            else if (!diff[a][b]) snprintf(cell, sizeof cell, "identical (%d cases)", cases[a][b]);
            else snprintf(cell, sizeof cell, "%zu elements differ", diff[a][b]);
            printf(" %-24s", cell);
        }
        printf("  %s\n", ids[i]);
    }

    for (int i = 0; i < nd; ++i) {
        T.failed += dev[i].t.failed; /* device-side failures (op errors) count too */
        for (int ci = 0; ci < NCASES; ++ci)
            for (int k = 0; k < NOUT; ++k) free(dev[i].out[ci][k]);
        xd_context_destroy(dev[i].t.ctx);
    }
    free(dev);
    if (have_re) regfree(&re);
    int rc = xdt_finish(&T); /* T was not made by xdt_init: its device list is this function's */
    xd_device_list_destroy(T.list);
    return rc;
}
