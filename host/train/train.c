/* Training in named phases, in the order docs/trace-format.md describes a
 * run: check the config, open the run (a temporary folder, the model, host
 * buffers), plan the snapshots, resume or initialise, the loop (two steps
 * in flight), the final evaluation, then write the trace, publish it under
 * its final name (only when complete) and close. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "train/run.h"
#include "crossdev/hostmath.h"
#include "crossdev/version.h"

#define XD_SHUFFLE_STREAM UINT64_C(0x5348554600000000) /* "SHUF" << 32 | epoch */
/* How a run draws its batches and starts, as trace.json's "training" says. */
#define XD_SHUFFLE_TEXT "Fisher-Yates per epoch, Philox4x32-10 stream 0x53485546<<32|epoch"
#define XD_INIT_TEXT \
    "the spec's initializers on Philox stream = parameter index + 1 (docs/models.md), or the file's weights"

xd_train_config xd_train_defaults(void)
{
    xd_train_config c;
    memset(&c, 0, sizeof c);
    c.model = "seed-cnn";
    c.seed = 42;
    c.batch = 32;
    c.epochs = 1;
    c.optimizer = xd_train_optimizer(NULL);
    c.stop_on_nonfinite = 1;
    return c;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct run {
    /* what the run was given, and what check_config derived from it */
    xd_context *ctx;
    const xd_dataset *d;
    const xd_train_config *cfg;
    xd_train_result *res;
    xd_error *err;
    int64_t B, spe, total; /* batch, steps per epoch (the final partial batch is dropped), steps asked for */
    double t0, ts0;        /* when the run and its steps started */
    int64_t half;          /* the step after whose record the steady rate is timed, from ts_half */
    double ts_half;
    /* opened by open_run, released by close_run */
    char tmpdir[XD_PATH_MAX];
    int tmp_made;
    xd_model_spec spec; /* the model: cfg's, or the built-in cfg->model names */
    xd_model *m;
    xd_trace_writer *w;  /* the trace document, filled as the run goes */
    float *buf;          /* host staging, large enough for any tensor */
    float *state[2];     /* host copies of the whole training state, two steps in flight */
    float loss[2];       /* the loss of those steps */
    xd_event ready[2];   /* the last read of each copy */
    float *batch[2];     /* host staging of the input batch, two steps in flight */
    int32_t *labels2[2]; /* and of its labels */
    uint64_t *hashes;    /* the hashes of one copy, trace tensor order */
    xd_hasher *hasher;   /* the op hashes (--hash-ops): one state for the run */
    int32_t *perm;       /* the training set in this epoch's order */
    int32_t *batches;    /* [total, B]: each step's samples (batches.npy) */
    int64_t *snaps;      /* the snapshot schedule, sorted */
    size_t nsnaps;
    const xd_trace *old; /* --resume: the trace continued */
    xd_trace *old_owned; /* it, when this run opened it (cfg->resume without cfg->resume_trace) */
    int64_t start;       /* the step training starts from */
    /* the loop */
    int64_t step;        /* steps queued so far */
    int64_t epoch_ready; /* the epoch perm holds, -1: none */
    int64_t pend;        /* step whose state copy awaits consumption, -1: none */
    int stop_now;        /* a non-finite value stops training */
    xd_status hook_status;
    int64_t nonfinite_at; /* first step with an Inf/NaN, -1: none */
    char nf_name[XD_TRACE_NAME_LEN];
    /* op outputs (--op-outputs-at): the folder made for the step being run, and the steps stored */
    int64_t ops_dir_step;
    int64_t *op_list;
    size_t nop_list;
} run;

/* 1 when no element is Inf or NaN (exponent bits all ones): integer ops
 * and no early exit, so the scan can be vectorised. */
/* No Inf or NaN in v: an all-ones exponent plus 2^23 sets bit 31, any
 * other exponent does not.  Sixteen independent lanes of a fixed-length
 * inner loop, which compilers vectorise at -O2: this scans the whole state
 * every step, and a scalar compare took 6% of a seed-cnn step. */
static int all_finite(const float *v, size_t n)
{
    uint32_t lanes[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint32_t w[16];
        memcpy(w, v + i, sizeof w);
        for (int k = 0; k < 16; ++k) lanes[k] |= (w[k] & 0x7f800000u) + 0x00800000u;
    }
    uint32_t bad = 0;
    for (int k = 0; k < 16; ++k) bad |= lanes[k];
    for (; i < n; ++i) bad |= isfinite(v[i]) ? 0u : 0x80000000u;
    return (bad & 0x80000000u) == 0;
}

/* The hash of what an op wrote: XXH3-64 of its outputs' float32 bytes one
 * after the other (one output: that tensor's hash, as the state's).
 * r->buf holds the last output read afterwards. */
static xd_status read_hash(run *r, const xd_tensor *const *outs, int nout, uint64_t *hash)
{
    xd_status st = XD_OK;
    xd_hasher_reset(r->hasher);
    for (int k = 0; k < nout && st == XD_OK; ++k) {
        size_t n = xd_tensor_count(outs[k]);
        st = xd_tensor_read(outs[k], r->buf, n * 4);
        if (st == XD_OK) xd_hasher_update(r->hasher, r->buf, n * 4);
    }
    *hash = xd_hasher_digest(r->hasher);
    return st == XD_OK ? st : xd_error_from_context(r->err, st, r->ctx);
}

static int in_list(const int64_t *v, size_t n, int64_t x);

/* --op-outputs-at: the output just read into r->buf, as
 * ops-XXXXXX/OP.npy of the step being run (a comparison shows the size of
 * each op's difference there). */
static xd_status store_op_output(run *r, const char *op, const xd_tensor *out)
{
    const int64_t step = r->step + 1;
    char path[XD_PATH_MAX];
    xd_status st = xd_path(path, sizeof path, r->err, "%s/ops-%06lld", r->tmpdir, (long long)step);
    if (st == XD_OK && r->ops_dir_step != step) st = xd_mkdir_new(path, r->err);
    if (st != XD_OK) return st;
    r->ops_dir_step = step;
    if (xd_tensor_dtype(out) != XD_DTYPE_F32 || strchr(op, '/')) return XD_OK;
    st = xd_path(path, sizeof path, r->err, "%s/ops-%06lld/%s.npy", r->tmpdir, (long long)step, op);
    if (st == XD_OK) st = xd_npy_write(path, XD_DTYPE_F32, xd_tensor_ndim(out), xd_tensor_shape(out), r->buf, r->err);
    return st;
}

/* Hashes what the op wrote; with --op-outputs-at stores its first output
 * (an update's parameter). */
static void op_hook(void *user, const char *op, const xd_tensor *const *outs, int nout)
{
    run *r = user;
    if (r->hook_status != XD_OK) return;
    uint64_t h = 0;
    r->hook_status = read_hash(r, outs, nout, &h);
    if (r->hook_status == XD_OK) xd_trace_writer_op(r->w, h);
    if (r->hook_status != XD_OK || !in_list(r->cfg->op_outputs_at, r->cfg->n_op_outputs_at, r->step + 1)) return;
    if (nout > 1) r->hook_status = xd_tensor_read(outs[0], r->buf, xd_tensor_count(outs[0]) * 4);
    if (r->hook_status == XD_OK) r->hook_status = store_op_output(r, op, outs[0]);
    else xd_error_from_context(r->err, r->hook_status, r->ctx);
}

/* The training state after a step, read without blocking into host copy
 * `slot` (and the loss with it), then hashed by state_consume.  Training
 * keeps two copies in flight: while the device runs step s+1 the host
 * hashes, scans and snapshots the state of step s. */
static xd_status state_enqueue(run *r, int slot, int with_loss)
{
    const size_t nt = xd_model_state_count(r->m);
    xd_status st = XD_OK;
    size_t off = 0;
    xd_event *ev = &r->ready[slot];
    xd_event_release(ev);
    for (size_t k = 0; k < nt && st == XD_OK; ++k) {
        const xd_tensor *t = xd_model_state(r->m, k, NULL, 0);
        st = xd_tensor_read_async(t, r->state[slot] + off, xd_tensor_count(t) * 4, with_loss || k + 1 < nt ? NULL : ev);
        off += xd_tensor_count(t);
    }
    if (st == XD_OK && with_loss) st = xd_tensor_read_async(r->m->loss, &r->loss[slot], 4, ev);
    if (st == XD_OK) xd_context_flush(r->ctx);
    return st == XD_OK ? st : xd_error_from_context(r->err, st, r->ctx);
}

/* Waits for copy `slot`; puts its hashes in r->hashes (trace tensor
 * order); records the first Inf/NaN (the loss first, then each tensor). */
static xd_status state_consume(run *r, int slot, int64_t step, int with_loss)
{
    if (xd_event_wait(r->ctx, &r->ready[slot]) != XD_OK) {
        xd_error_from_context(r->err, XD_OPENCL, r->ctx);
        xd_error_prefix(r->err, "step %lld: reading the state back", (long long)step);
        return XD_OPENCL;
    }
    if (with_loss && !isfinite(r->loss[slot]) && r->nonfinite_at < 0) {
        r->nonfinite_at = step;
        snprintf(r->nf_name, sizeof r->nf_name, "loss");
    }
    size_t off = 0;
    for (size_t k = 0; k < xd_model_state_count(r->m); ++k) {
        size_t n = xd_tensor_count(xd_model_state(r->m, k, NULL, 0));
        r->hashes[k] = xd_hash_bytes(r->state[slot] + off, n * 4);
        if (r->nonfinite_at < 0 && !all_finite(r->state[slot] + off, n)) {
            r->nonfinite_at = step;
            xd_model_state(r->m, k, r->nf_name, sizeof r->nf_name);
        }
        off += n;
    }
    return XD_OK;
}

/* Fisher-Yates over 0..n-1 driven by Philox stream SHUF|epoch; index j from
 * a 32-bit word w as (w * (i+1)) >> 32 (bias below 2^-15 for n < 2^17). */
static void shuffle(int32_t *perm, int64_t n, uint64_t seed, int64_t epoch)
{
    for (int64_t i = 0; i < n; ++i) perm[i] = (int32_t)i;
    uint64_t stream = XD_SHUFFLE_STREAM | (uint64_t)epoch;
    for (int64_t i = n - 1, k = 0; i > 0; --i, ++k) {
        uint32_t w = xd_host_philox_word(seed, stream, (uint64_t)k);
        int64_t j = (int64_t)(((uint64_t)w * (uint64_t)(i + 1)) >> 32);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* Loads samples idx[0..B) into the model's input and labels. */
static xd_status load_batch(run *r, int slot, const float *xs, const int32_t *ys, const int32_t *idx, int64_t B)
{
    const size_t px = (size_t)(r->d->height * r->d->width * r->d->channels);
    int32_t *labels = r->labels2[slot];
    float *x = r->batch[slot];
    for (int64_t b = 0; b < B; ++b) {
        memcpy(x + (size_t)b * px, xs + (size_t)idx[b] * px, px * 4);
        labels[b] = ys[idx[b]];
    }
    /* Not blocking.  A slot is filled again two steps later, after the wait
     * for the state reads of the step in between, which the in-order queue
     * ran after this write. */
    xd_status st = xd_tensor_write_async(r->m->input, x, (size_t)B * px * 4);
    if (st == XD_OK) st = xd_tensor_write_async(r->m->labels, labels, (size_t)B * 4);
    return st == XD_OK ? st : xd_error_from_context(r->err, st, r->ctx);
}

/* The test samples an evaluation uses: the first eval_limit (0: all). */
static int64_t eval_count(const run *r)
{
    return (r->cfg->eval_limit > 0 && r->cfg->eval_limit < r->d->n_test) ? r->cfg->eval_limit : r->d->n_test;
}

/* 1 when the weights after step s are evaluated during training (--eval-every). */
static int evaluated_after(const run *r, int64_t s)
{
    return r->cfg->eval_limit >= 0 && r->cfg->eval_every > 0 && s % r->cfg->eval_every == 0 && s < r->total;
}

/* Test-set loss and accuracy with the training batch size; the last partial
 * batch is padded with sample 0 and the padding ignored.  Sums in double,
 * in sample order. */
static xd_status evaluate(run *r, double *loss, double *acc)
{
    const int64_t B = r->m->batch, K = r->m->classes;
    const int64_t n = eval_count(r);
    int32_t *idx = malloc((size_t)B * sizeof *idx);
    float *rows = malloc((size_t)B * 4), *logits = malloc((size_t)(B * K) * 4);
    xd_status st = XD_OK;
    double lsum = 0;
    int64_t correct = 0;
    if (!idx || !rows || !logits) {
        xd_error_msg(r->err, "out of host memory (evaluation)");
        st = XD_OUT_OF_HOST_MEMORY;
    }
    for (int64_t s = 0; st == XD_OK && s < n; s += B) {
        if (r->cfg->stop && *r->cfg->stop) {
            xd_error_msg(r->err, "interrupted during evaluation; no trace written");
            st = XD_INTERRUPTED;
            break;
        }
        int64_t valid = (n - s < B) ? n - s : B;
        for (int64_t b = 0; b < B; ++b) idx[b] = (int32_t)(b < valid ? s + b : 0);
        st = load_batch(r, 0, r->d->test_x, r->d->test_y, idx, B);
        if (st == XD_OK) st = xd_model_forward(r->m, 0, 0, NULL, NULL);
        if (st == XD_OK) st = xd_tensor_read(r->m->row_loss, rows, (size_t)B * 4);
        if (st == XD_OK) st = xd_tensor_read(xd_model_logits(r->m), logits, (size_t)(B * K) * 4);
        if (st != XD_OK) {
            xd_error_from_context(r->err, st, r->ctx);
            xd_error_prefix(r->err, "evaluation");
            break;
        }
        for (int64_t b = 0; b < valid; ++b) {
            lsum += rows[b];
            int64_t best = 0;
            for (int64_t c = 1; c < K; ++c)
                if (logits[b * K + c] > logits[b * K + best]) best = c;
            correct += best == r->d->test_y[s + b];
        }
    }
    /* Keras's evaluation adds the regularizers' penalties to each batch's loss */
    float penalty = 0.0f;
    if (st == XD_OK && (st = xd_model_penalty(r->m, &penalty)) != XD_OK) xd_error_from_context(r->err, st, r->ctx);
    *loss = lsum / (double)n + (double)penalty;
    *acc = (double)correct / (double)n;
    free(idx);
    free(rows);
    free(logits);
    return st;
}

static int in_list(const int64_t *v, size_t n, int64_t x)
{
    for (size_t i = 0; i < n; ++i)
        if (v[i] == x) return 1;
    return 0;
}

/* ---- the phases of a run ------------------------------------------------------------ */

static void start_run(run *r, xd_context *ctx, const xd_dataset *d, const xd_train_config *cfg, xd_train_result *res,
                      xd_error *err)
{
    memset(r, 0, sizeof *r);
    r->t0 = now();
    r->ctx = ctx;
    r->d = d;
    r->cfg = cfg;
    r->res = res;
    r->err = err;
    r->hook_status = XD_OK;
    r->nonfinite_at = -1;
    r->ops_dir_step = -1;
    memset(res, 0, sizeof *res);
    res->test_loss = res->test_accuracy = NAN;
    res->first_nonfinite_step = -1;
}

/* Batch, length and output folder, before anything is made. */
static xd_status check_config(run *r)
{
    const xd_train_config *cfg = r->cfg;
    const xd_dataset *d = r->d;
    if (cfg->batch < 1 || cfg->batch > d->n_train) {
        xd_error_msg(r->err, "--batch %lld: must be between 1 and the %lld training samples", (long long)cfg->batch,
                     (long long)d->n_train);
        return XD_INVALID_ARGUMENT;
    }
    r->B = cfg->batch;
    r->spe = d->n_train / r->B;
    if (cfg->steps < 0 || cfg->epochs < 0 || (cfg->steps == 0 && cfg->epochs == 0)) {
        xd_error_msg(r->err, "--steps/--epochs: need a positive number of steps or epochs");
        return XD_INVALID_ARGUMENT;
    }
    r->total = cfg->steps ? cfg->steps : cfg->epochs * r->spe;
    if (r->total > (INT64_C(1) << 31) / r->B) {
        xd_error_msg(r->err, "--steps/--epochs: %lld steps of batch %lld is too many", (long long)r->total,
                     (long long)r->B);
        return XD_INVALID_ARGUMENT;
    }
    if (xd_path_exists(cfg->out_dir)) {
        xd_error_msg(r->err, "%s: output already exists (crossdev never overwrites a trace)", cfg->out_dir);
        return XD_IO;
    }
    return XD_OK;
}

/* Host staging: r->buf for one op hook output (layer outputs and their
 * gradients, state tensors, dlogits); r->state for two copies of the whole
 * training state; r->batch/r->labels2 for two input batches; the trace
 * document and the run's batches. */
static xd_status alloc_host(run *r)
{
    const int64_t B = r->B;
    const xd_dataset *d = r->d;
    const size_t nt = xd_model_state_count(r->m);
    size_t buf_count = (size_t)(B * d->classes), state_count = 0;
    for (size_t k = 0; k < nt; ++k) {
        size_t n = xd_tensor_count(xd_model_state(r->m, k, NULL, 0));
        state_count += n;
        if (n > buf_count) buf_count = n;
    }
    for (int i = 0; i < r->m->nlayers; ++i)
        if (xd_tensor_count(r->m->layers[i].out) > buf_count) buf_count = xd_tensor_count(r->m->layers[i].out);
    r->buf = malloc(buf_count * 4);
    for (int i = 0; i < 2; ++i) {
        r->state[i] = malloc(state_count * 4 + 4);
        r->batch[i] = malloc((size_t)(B * d->height * d->width * d->channels) * 4 + 4);
        r->labels2[i] = malloc((size_t)B * sizeof *r->labels2[i]);
    }
    r->hashes = malloc(nt * sizeof *r->hashes + 8);
    r->hasher = xd_hasher_create();
    r->perm = malloc((size_t)d->n_train * sizeof *r->perm);
    r->batches = malloc((size_t)(r->total * B) * sizeof *r->batches + 4);
    r->w = xd_trace_writer_create();
    if (!r->buf || !r->state[0] || !r->state[1] || !r->batch[0] || !r->batch[1] || !r->labels2[0] || !r->labels2[1] ||
        !r->hashes || !r->hasher || !r->perm || !r->batches || !r->w) {
        xd_error_msg(r->err, "out of host memory");
        return XD_OUT_OF_HOST_MEMORY;
    }
    return XD_OK;
}

/* The first label of d not below classes: its index in *split (the
 * label in *label), or -1. */
static int64_t label_outside(const xd_dataset *d, int64_t classes, const char **split, int32_t *label)
{
    for (int64_t i = 0; i < d->n_train; ++i)
        if (d->train_y[i] >= classes) return *split = "training", *label = d->train_y[i], i;
    for (int64_t i = 0; i < d->n_test; ++i)
        if (d->test_y[i] >= classes) return *split = "test", *label = d->test_y[i], i;
    return -1;
}

/* The model the config names, checked against the data: the input shape
 * (H, W, C) must match and every label must be one of its classes. */
static xd_status resolve_model(run *r)
{
    const xd_dataset *d = r->d;
    xd_status st = XD_OK;
    if (r->cfg->spec) r->spec = *r->cfg->spec;
    else st = xd_model_spec_builtin(r->cfg->model ? r->cfg->model : "seed-cnn", &r->spec, r->err);
    if (st != XD_OK) return st;
    const xd_model_spec *s = &r->spec;
    if (s->in_h != d->height || s->in_w != d->width || s->in_c != d->channels)
        return xd_error_set(r->err, XD_SHAPE_MISMATCH, 0,
                            "model '%s' takes %lldx%lldx%lld (HxWxC) inputs; the data (%s) has %lldx%lldx%lld images",
                            s->name, (long long)s->in_h, (long long)s->in_w, (long long)s->in_c, d->source,
                            (long long)d->height, (long long)d->width, (long long)d->channels);
    const char *split = "";
    int32_t label = 0;
    int64_t i = label_outside(d, s->classes, &split, &label);
    if (i >= 0)
        return xd_error_set(r->err, XD_SHAPE_MISMATCH, 0,
                            "the data (%s): %s label %d at index %lld is not a class of model '%s' (0..%lld)",
                            d->source, split, (int)label, (long long)i, s->name, (long long)s->classes - 1);
    return XD_OK;
}

static void name_op(void *w, const char *op) { xd_trace_writer_op_name(w, op); }

/* The temporary folder the trace is built in, the model, host buffers, and
 * the trace's tensors (the model's training state) and, with --hash-ops,
 * its ops (the plan's names, before step 1). */
static xd_status open_run(run *r)
{
    xd_status st = xd_path(r->tmpdir, sizeof r->tmpdir, r->err, "%s.tmp-%ld", r->cfg->out_dir, (long)getpid());
    if (st == XD_OK) st = xd_mkdir_new(r->tmpdir, r->err);
    if (st != XD_OK) return st;
    r->tmp_made = 1;
    if ((st = resolve_model(r)) != XD_OK) return st;
    st = xd_model_create(r->ctx, &r->spec, &r->cfg->optimizer, r->B, r->cfg->hash_ops, &r->m);
    if (st != XD_OK) return xd_error_from_context(r->err, st, r->ctx);
    r->m->seed = r->cfg->seed; /* dropout's key, for a resumed run too (which reads its state, not init's) */
    if ((st = alloc_host(r)) != XD_OK) return st;
    for (size_t k = 0; k < xd_model_state_count(r->m); ++k) {
        char name[128];
        xd_model_state(r->m, k, name, sizeof name);
        xd_trace_writer_tensor(r->w, name);
    }
    if (r->cfg->hash_ops) xd_plan_each_op(&r->m->plan, name_op, r->w);
    return XD_OK;
}

/* The default schedule or the explicit list, plus every K, plus the end. */
static xd_status plan_snapshots(run *r)
{
    const xd_train_config *cfg = r->cfg;
    return xd_snapshot_schedule(r->total, cfg->snapshot_at, cfg->n_snapshot_at, cfg->snapshot_every, &r->snaps,
                                &r->nsnaps, r->err);
}

/* --resume: continue the old trace from its last snapshot (host/train/resume.c). */
static xd_status resume(run *r)
{
    const char *dir = r->cfg->resume_trace ? xd_trace_dir(r->cfg->resume_trace) : r->cfg->resume;
    xd_status st = xd_resume_open(r->cfg, r->d, r->m, r->total, &r->old, &r->old_owned, &r->start, r->err);
    if (st == XD_OK) st = xd_resume_batches(dir, r->start, r->B, r->batches, r->err);
    if (st == XD_OK) st = xd_resume_adopt(r->old, dir, r->tmpdir, r->start, r->w, r->m, r->err);
    return st;
}

/* A new run: the seeded initial state, hashed and snapshotted as step 0. */
static xd_status init_state(run *r)
{
    xd_status st = xd_model_init(r->m, r->cfg->seed, r->cfg->weights, r->err);
    if (st != XD_OK) return st;
    if ((st = state_enqueue(r, 0, 0)) != XD_OK) return st;
    if ((st = state_consume(r, 0, 0, 0)) != XD_OK) return st;
    xd_trace_writer_init(r->w, r->hashes, xd_model_state_count(r->m));
    if ((st = xd_snapshot_write(r->m, r->state[0], r->tmpdir, 0, r->err)) != XD_OK) return st;
    xd_trace_writer_snapshot(r->w, 0);
    return XD_OK;
}

/* Forward, backward and update of step r->step + 1 on the loaded batch,
 * with each op's output hashed when --hash-ops asks. */
static xd_status run_step(run *r)
{
    const int hash_ops = r->cfg->hash_ops;
    xd_op_hook hook = hash_ops ? op_hook : NULL;
    if (hash_ops) xd_trace_writer_op_begin(r->w);
    const int64_t t = r->step + 1;
    xd_status st = xd_model_forward(r->m, 1, t, hook, r);
    if (st == XD_OK) st = xd_model_backward(r->m, t, hook, r);
    if (st == XD_OK) st = xd_model_update(r->m, t, hook, r);
    if (st != XD_OK) {
        xd_error_from_context(r->err, st, r->ctx);
        xd_error_prefix(r->err, "step %lld", (long long)r->step + 1);
        return st;
    }
    if (r->hook_status != XD_OK) return r->hook_status;
    if (hash_ops) xd_trace_writer_op_end(r->w);
    return XD_OK;
}

/* Queues the next step: its batch (a new epoch reshuffles), the step
 * itself, and the non-blocking read of the state after it. */
static xd_status queue_step(run *r)
{
    const xd_train_config *cfg = r->cfg;
    if (cfg->stop && *cfg->stop) {
        xd_error_msg(r->err, "interrupted at step %lld; no trace written", (long long)r->step);
        return XD_INTERRUPTED;
    }
    const int64_t B = r->B, epoch = r->step / r->spe, k = r->step % r->spe;
    if (epoch != r->epoch_ready) {
        shuffle(r->perm, r->d->n_train, cfg->seed, epoch);
        r->epoch_ready = epoch;
    }
    int32_t *idx = r->batches + (size_t)(r->step * B);
    memcpy(idx, r->perm + (size_t)(k * B), (size_t)B * 4);
    const int slot = (int)(r->step & 1);
    xd_status st = load_batch(r, slot, r->d->train_x, r->d->train_y, idx, B);
    if (st == XD_OK) st = run_step(r);
    if (st == XD_OK) st = state_enqueue(r, slot, 1);
    if (st == XD_OK) ++r->step;
    return st;
}

/* The steps whose state is consumed now: the older one in flight, and the
 * one just queued when nothing will follow it or its weights are evaluated. */
static int steps_to_consume(run *r, int queued, int64_t todo[2])
{
    int n = 0;
    if (r->pend >= 0) todo[n++] = r->pend;
    r->pend = -1;
    if (queued) {
        if (r->step == r->total || evaluated_after(r, r->step)) todo[n++] = r->step;
        else r->pend = r->step;
    }
    return n;
}

/* Records step s1 from its host copy: loss and hashes, a snapshot when the
 * schedule says or training stops here, an evaluation, progress. */
static xd_status consume_step(run *r, int64_t s1)
{
    const xd_train_config *cfg = r->cfg;
    const int slot = (int)((s1 - 1) & 1);
    xd_status st = state_consume(r, slot, s1, 1);
    if (st != XD_OK) return st;
    const float loss = r->loss[slot];
    xd_trace_writer_step(r->w, loss, r->hashes, xd_model_state_count(r->m));
    r->res->final_loss = loss;
    r->stop_now = r->nonfinite_at >= 0 && cfg->stop_on_nonfinite;
    if (in_list(r->snaps, r->nsnaps, s1) || r->stop_now) {
        if ((st = xd_snapshot_write(r->m, r->state[slot], r->tmpdir, s1, r->err)) != XD_OK) return st;
        xd_trace_writer_snapshot(r->w, s1);
    }
    if (evaluated_after(r, s1) && !r->stop_now) {
        double el, ea;
        if ((st = evaluate(r, &el, &ea)) != XD_OK) return st;
        xd_trace_writer_eval(r->w, s1, el, ea);
    }
    if (s1 == r->half) r->ts_half = now();
    if (cfg->progress) cfg->progress(cfg->user, s1, r->total, loss, now() - r->ts0);
    if (r->stop_now) {
        /* the step after s1 may have run already: drop what it recorded
         * (one op row per step, resumed ones included) */
        if (cfg->hash_ops) xd_trace_writer_op_truncate(r->w, s1);
        r->step = s1;
        r->pend = -1;
    }
    return XD_OK;
}

/* Two steps in flight: step s+1 is queued before the host hashes, scans
 * and snapshots step s's state (from its host copy), so the device is not
 * idle while the host works.  A step whose weights are evaluated is
 * finished before the next one is queued.  If step s turns out non-finite
 * and training stops there, step s+1 (already run) is dropped: nothing of
 * it is recorded. */
static xd_status train_loop(run *r)
{
    xd_status st = XD_OK;
    r->ts0 = now();
    r->half = r->start + (r->total - r->start) / 2;
    r->ts_half = r->half == r->start ? r->ts0 : 0;
    r->epoch_ready = -1;
    r->step = r->start;
    r->pend = -1;
    for (;;) {
        const int queued = r->step < r->total && !r->stop_now;
        if (queued && (st = queue_step(r)) != XD_OK) return st;
        int64_t todo[2];
        const int ntodo = steps_to_consume(r, queued, todo);
        for (int i = 0; i < ntodo && !r->stop_now; ++i)
            if ((st = consume_step(r, todo[i])) != XD_OK) return st;
        if (!queued && r->pend < 0) break;
    }
    if ((st = xd_context_finish(r->ctx)) != XD_OK) return xd_error_from_context(r->err, st, r->ctx);
    r->res->steps_done = r->step;
    r->res->seconds_steps = now() - r->ts0;
    const int half = r->ts_half > 0 && r->step > r->half; /* else (a stop at the half) the whole run */
    r->res->steps_steady = half ? r->step - r->half : r->step - r->start;
    r->res->seconds_steady = half ? now() - r->ts_half : r->res->seconds_steps;
    r->res->first_nonfinite_step = r->nonfinite_at;
    return XD_OK;
}

/* On the test set, unless training stopped at a non-finite value or
 * evaluation is off. */
static xd_status final_evaluation(run *r)
{
    double el = NAN, ea = NAN;
    xd_status st;
    if (r->nonfinite_at < 0 && r->cfg->eval_limit >= 0 && (st = evaluate(r, &el, &ea)) != XD_OK) return st;
    r->res->test_loss = el;
    r->res->test_accuracy = ea;
    return XD_OK;
}

/* The layout of each weight that has one: conv OIHW, dense OI. */
static void describe_layouts(const xd_model *m, xd_trace_meta *t)
{
    t->nlayouts = 0;
    for (int i = 0; i < m->nlayers; ++i) {
        const xd_layer *l = &m->layers[i];
        int conv = l->spec->type == XD_LAYER_CONV2D, dense = l->spec->type == XD_LAYER_DENSE;
        if (!conv && !dense) continue;
        t->layouts[t->nlayouts].name = l->weight->name;
        t->layouts[t->nlayouts++].layout = conv ? "OIHW" : "OI";
    }
}

/* The steps with op outputs: the old trace's (copied on resume) and this
 * run's, up to the last step recorded, sorted. */
static xd_status list_op_outputs(run *r)
{
    const xd_train_config *cfg = r->cfg;
    size_t nold = r->old ? r->old->nop_outputs : 0;
    r->op_list = malloc((nold + cfg->n_op_outputs_at + 1) * sizeof *r->op_list);
    if (!r->op_list) {
        xd_error_msg(r->err, "out of host memory");
        return XD_OUT_OF_HOST_MEMORY;
    }
    for (size_t i = 0; i < nold; ++i) r->op_list[r->nop_list++] = r->old->op_outputs[i];
    for (int64_t s = r->start + 1; cfg->hash_ops && s <= r->step; ++s)
        if (in_list(cfg->op_outputs_at, cfg->n_op_outputs_at, s)) r->op_list[r->nop_list++] = s;
    return XD_OK;
}

/* trace.json's account of the run besides its records. */
static void describe_run(run *r, const char *device_json, xd_trace_meta *t)
{
    const xd_train_config *cfg = r->cfg;
    const xd_dataset *d = r->d;
    memset(t, 0, sizeof *t);
    t->model = r->m->kind;
    t->seed = cfg->seed;
    t->mode = xd_mode_string(xd_context_mode(r->ctx));
    t->batch = r->B;
    t->steps = r->step;
    t->steps_requested = r->total;
    t->optimizer = &cfg->optimizer;
    describe_layouts(r->m, t);
    t->batches_hash = xd_hash_bytes(r->batches, (size_t)(r->step * r->B) * 4);
    t->op_outputs = r->op_list;
    t->nop_outputs = r->nop_list;
    t->data.name = d->name;
    t->data.source = d->source;
    t->data.scale = d->scale[0] ? d->scale : "x/255"; /* a set made by hand says nothing */
    t->data.synthetic = d->synthetic;
    t->data.checksum = d->checksum;
    t->data.n_train = d->n_train;
    t->data.n_test = d->n_test;
    t->data.height = d->height;
    t->data.width = d->width;
    t->data.channels = d->channels;
    t->data.classes = d->classes;
    t->training.partial_batch = "dropped";
    t->training.shuffle = XD_SHUFFLE_TEXT;
    t->training.steps_per_epoch = r->spe;
    t->training.init = XD_INIT_TEXT;
    t->op_hashes = cfg->hash_ops;
    t->device_json = device_json;
    t->build_options = xd_context_build_options(r->ctx);
    t->guarantee = xd_context_guarantee(r->ctx);
    t->crossdev_version = xd_version_string();
    t->eval.step = r->step;
    t->eval.n = eval_count(r);
    t->eval.loss = r->res->test_loss;
    t->eval.accuracy = r->res->test_accuracy;
    t->nonfinite_step = r->nonfinite_at;
    t->nonfinite_tensor = r->nf_name;
    t->resumed_from = r->old ? r->old->dir : NULL;
    t->resumed_step = r->start;
    r->res->seconds_total = now() - r->t0;
    r->res->device_bytes_peak = xd_context_device_bytes_peak(r->ctx);
    t->timing.seconds_total = r->res->seconds_total;
    t->timing.seconds_steps = r->res->seconds_steps;
    t->timing.device_bytes_peak = r->res->device_bytes_peak;
}

/* batches.npy and trace.json, into the temporary folder. */
static xd_status write_trace(run *r)
{
    char path[XD_PATH_MAX];
    const int64_t shape[2] = {r->step, r->B};
    xd_status st = xd_path(path, sizeof path, r->err, "%s/batches.npy", r->tmpdir);
    if (st == XD_OK) st = xd_npy_write(path, XD_DTYPE_I32, 2, shape, r->batches, r->err);
    if (st != XD_OK) return st;
    if ((st = list_op_outputs(r)) != XD_OK) return st;
    char *device_json = xd_device_info_json(xd_context_device(r->ctx));
    char *spec_json = xd_model_spec_json(&r->spec);
    uint64_t *batch_hashes = malloc((size_t)r->step * sizeof *batch_hashes + 8);
    xd_trace_meta meta;
    describe_run(r, device_json, &meta);
    meta.model_spec_json = spec_json;
    meta.batch_hashes = batch_hashes;
    st = spec_json && batch_hashes ? xd_dataset_batch_hashes(r->d, r->batches, r->step, r->B, batch_hashes, r->err)
                                   : XD_OUT_OF_HOST_MEMORY;
    if (st == XD_OK) st = xd_path(path, sizeof path, r->err, "%s/trace.json", r->tmpdir);
    else xd_error_msg(r->err, "out of host memory (trace.json)");
    if (st == XD_OK) st = xd_trace_writer_write(r->w, &meta, path, r->err);
    xd_free(device_json);
    xd_free(spec_json);
    free(batch_hashes);
    return st;
}

/* --export-weights: the final weights as a Keras .weights.h5, from the
 * host copy of the last step's state (written atomically, before the trace
 * is published: a failure leaves neither). */
static xd_status export_weights(run *r)
{
    if (!r->cfg->export_weights || r->step <= r->start) return XD_OK;
    xd_weights w;
    xd_status st = xd_model_weights_from_state(r->m, r->state[(r->step - 1) & 1], &w, r->err);
    if (st != XD_OK) return st;
    st = xd_weights_save_h5(r->cfg->export_weights, &r->spec, &w, r->err);
    xd_weights_free(&w);
    return st;
}

/* The finished trace under its final name, never replacing anything that
 * appeared there meanwhile; a run stopped by a non-finite value says so
 * (its trace is kept: it records where). */
static xd_status publish(run *r)
{
    /* the snapshots went in unsynced (host/train/snapshot.c): every file durable before the name appears */
    xd_status st = xd_sync_fs(r->tmpdir, r->err);
    if (st == XD_OK) st = xd_rename_noreplace(r->tmpdir, r->cfg->out_dir, r->err);
    if (st == XD_OK) xd_sync_parent_dir(r->cfg->out_dir);
    if (st != XD_OK) return st;
    r->tmp_made = 0;
    if (r->nonfinite_at >= 0) {
        xd_error_msg(r->err, "non-finite value in %s at step %lld (recorded in the trace)", r->nf_name,
                     (long long)r->nonfinite_at);
        return XD_NOT_FINITE;
    }
    return XD_OK;
}

/* Releases what open_run made; an unpublished temporary folder goes too. */
static void close_run(run *r)
{
    if (r->tmp_made) xd_remove_tree(r->tmpdir);
    xd_trace_writer_destroy(r->w);
    xd_trace_close(r->old_owned);
    xd_model_destroy(r->m);
    xd_context_finish(r->ctx); /* no transfer may still use the staging buffers */
    free(r->buf);
    for (int i = 0; i < 2; ++i) {
        free(r->state[i]);
        free(r->batch[i]);
        free(r->labels2[i]);
        xd_event_release(&r->ready[i]);
    }
    free(r->hashes);
    xd_hasher_destroy(r->hasher);
    free(r->perm);
    free(r->batches);
    free(r->snaps);
    free(r->op_list);
}

static xd_status train_run(xd_context *ctx, const xd_dataset *d, const xd_train_config *cfg, xd_train_result *res,
                           xd_error *err)
{
    if (!ctx || !d || !cfg || !cfg->out_dir)
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_train_run: a NULL context, dataset, config or out_dir");
    xd_train_result local;
    run r;
    start_run(&r, ctx, d, cfg, res ? res : &local, err);
    xd_status st = check_config(&r);
    if (st != XD_OK) return st;
    st = open_run(&r);
    if (st == XD_OK) st = plan_snapshots(&r);
    if (st == XD_OK) st = cfg->resume || cfg->resume_trace ? resume(&r) : init_state(&r);
    if (st == XD_OK) st = train_loop(&r);
    if (st == XD_OK) st = final_evaluation(&r);
    if (st == XD_OK) st = write_trace(&r);
    if (st == XD_OK) st = export_weights(&r);
    if (st == XD_OK) st = publish(&r);
    close_run(&r);
    return st;
}

xd_status xd_train_run(xd_context *ctx, const xd_dataset *d, const xd_train_config *cfg, xd_train_result *res,
                       xd_error *err)
{
    return xd_error_return(err, train_run(ctx, d, cfg, res, err));
}
