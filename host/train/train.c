/* Training: seeded shuffle, batches, forward/backward/Adam through the model,
 * per-step hashes, snapshots and evaluation, all recorded into a trace that
 * appears under its final name only when complete. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "train/run.h"
#include "xd_math.h"

#define XD_SHUFFLE_STREAM UINT64_C(0x5348554600000000) /* "SHUF" << 32 | epoch */

xd_train_config xd_train_defaults(void)
{
    xd_train_config c;
    memset(&c, 0, sizeof c);
    c.model = "seed-cnn";
    c.seed = 42;
    c.batch = 32;
    c.epochs = 1;
    c.adam = xd_adam_defaults();
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
    xd_context *ctx;
    xd_model *m;
    const xd_dataset *d;
    const xd_train_config *cfg;
    char tmpdir[4096];
    float *buf;             /* host staging, large enough for any tensor */
    float *state[2];        /* host copies of the whole training state, two steps in flight */
    float loss[2];          /* the loss of those steps */
    xd_event ready[2];      /* the last read of each copy */
    float *batch[2];        /* host staging of the input batch, two steps in flight */
    int32_t *labels2[2];    /* and of its labels */
    json_t *op_names;       /* filled during the first recorded step */
    json_t *op_row;         /* current step's op hashes */
    int naming_ops;
    xd_status hook_status;
    xd_error *err;
} run;

/* 1 when no element is Inf or NaN (exponent bits all ones): integer ops
 * and no early exit, so the scan can be vectorised. */
static int all_finite(const float *v, size_t n)
{
    const uint32_t *u = (const uint32_t *)(const void *)v;
    uint32_t bad = 0;
    for (size_t i = 0; i < n; ++i) bad |= (uint32_t)((u[i] & 0x7f800000u) == 0x7f800000u);
    return bad == 0;
}

/* Reads a tensor to the host staging buffer; returns its hash. */
static xd_status read_hash(run *r, const xd_tensor *t, uint64_t *hash)
{
    size_t n = xd_tensor_count(t);
    xd_status st = xd_tensor_read(t, r->buf, n * 4);
    if (st != XD_OK) {
        xd_error_msg(r->err, "%s", xd_context_last_error(r->ctx));
        return st;
    }
    *hash = xd_hash_bytes(r->buf, n * 4);
    return XD_OK;
}

static void op_hook(void *user, const char *op, const xd_tensor *out)
{
    run *r = user;
    if (r->hook_status != XD_OK) return;
    uint64_t h;
    r->hook_status = read_hash(r, out, &h);
    if (r->hook_status != XD_OK) return;
    char hex[24];
    xd_hash_hex(h, hex);
    json_array_append_new(r->op_row, json_string(hex));
    if (r->naming_ops) json_array_append_new(r->op_names, json_string(op));
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
    if (st != XD_OK) xd_error_msg(r->err, "%s", xd_context_last_error(r->ctx));
    return st;
}

/* Waits for copy `slot`; appends its hashes to `row` (trace tensor order);
 * records the first Inf/NaN (the loss first, then each tensor). */
static xd_status state_consume(run *r, int slot, json_t *row, int64_t *nonfinite_at, int64_t step, char *nf_name,
                               size_t nf_cap, int with_loss)
{
    if (xd_event_wait(r->ctx, &r->ready[slot]) != XD_OK) {
        xd_error_msg(r->err, "step %lld: reading the state back: %s", (long long)step,
                  xd_context_last_error(r->ctx));
        return XD_OPENCL;
    }
    if (with_loss && !isfinite(r->loss[slot]) && *nonfinite_at < 0) {
        *nonfinite_at = step;
        snprintf(nf_name, nf_cap, "loss");
    }
    size_t off = 0;
    for (size_t k = 0; k < xd_model_state_count(r->m); ++k) {
        size_t n = xd_tensor_count(xd_model_state(r->m, k, NULL, 0));
        char hex[24];
        xd_hash_hex(xd_hash_bytes(r->state[slot] + off, n * 4), hex);
        json_array_append_new(row, json_string(hex));
        if (*nonfinite_at < 0 && !all_finite(r->state[slot] + off, n)) {
            *nonfinite_at = step;
            xd_model_state(r->m, k, nf_name, nf_cap);
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
        uint32_t w = xd_philox_word(seed, stream, (uint64_t)k);
        int64_t j = (int64_t)(((uint64_t)w * (uint64_t)(i + 1)) >> 32);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* Loads samples idx[0..B) into the model's input and labels. */
static xd_status load_batch(run *r, int slot, const float *xs, const int32_t *ys, const int32_t *idx, int64_t B)
{
    const size_t px = (size_t)(r->d->height * r->d->width);
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
    if (st != XD_OK) xd_error_msg(r->err, "%s", xd_context_last_error(r->ctx));
    return st;
}

/* Test-set loss and accuracy with the training batch size; the last partial
 * batch is padded with sample 0 and the padding ignored.  Sums in double,
 * in sample order. */
static xd_status evaluate(run *r, double *loss, double *acc)
{
    const int64_t B = r->m->batch, K = r->m->classes;
    const int64_t n = (r->cfg->eval_limit > 0 && r->cfg->eval_limit < r->d->n_test) ? r->cfg->eval_limit : r->d->n_test;
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
        if (st == XD_OK) st = xd_model_forward(r->m, NULL, NULL);
        if (st == XD_OK) st = xd_tensor_read(r->m->row_loss, rows, (size_t)B * 4);
        if (st == XD_OK) st = xd_tensor_read(xd_model_logits(r->m), logits, (size_t)(B * K) * 4);
        if (st != XD_OK) {
            xd_error_msg(r->err, "evaluation: %s", xd_context_last_error(r->ctx));
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
    *loss = lsum / (double)n;
    *acc = (double)correct / (double)n;
    free(idx);
    free(rows);
    free(logits);
    return st;
}

static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static int in_list(const int64_t *v, size_t n, int64_t x)
{
    for (size_t i = 0; i < n; ++i)
        if (v[i] == x) return 1;
    return 0;
}


static xd_status train_run(xd_context *ctx, const xd_dataset *d, const xd_train_config *cfg, xd_train_result *res,
                           xd_error *err)
{
    if (!ctx || !d || !cfg || !cfg->out_dir) return XD_INVALID_ARGUMENT;
    double t0 = now();
    xd_train_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    res->test_loss = res->test_accuracy = NAN;
    res->first_nonfinite_step = -1;

    if (cfg->batch < 1 || cfg->batch > d->n_train) {
        xd_error_msg(err, "--batch %lld: must be between 1 and the %lld training samples", (long long)cfg->batch,
                  (long long)d->n_train);
        return XD_INVALID_ARGUMENT;
    }
    const int64_t B = cfg->batch, spe = d->n_train / B; /* the final partial batch is dropped */
    if (cfg->steps < 0 || cfg->epochs < 0 || (cfg->steps == 0 && cfg->epochs == 0)) {
        xd_error_msg(err, "--steps/--epochs: need a positive number of steps or epochs");
        return XD_INVALID_ARGUMENT;
    }
    const int64_t total = cfg->steps ? cfg->steps : cfg->epochs * spe;
    if (total > (INT64_C(1) << 31) / B) {
        xd_error_msg(err, "--steps/--epochs: %lld steps of batch %lld is too many", (long long)total, (long long)B);
        return XD_INVALID_ARGUMENT;
    }
    if (xd_path_exists(cfg->out_dir)) {
        xd_error_msg(err, "%s: output already exists (crossdev never overwrites a trace)", cfg->out_dir);
        return XD_IO;
    }

    run r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.d = d;
    r.cfg = cfg;
    r.err = err;
    r.hook_status = XD_OK;
    xd_trace *old = NULL;
    int32_t *perm = NULL, *batches = NULL;
    json_t *root = NULL, *loss_arr = json_array(), *hash_steps = json_array(), *init_row = json_array();
    json_t *op_steps = json_array(), *eval_hist = json_array(), *snap_arr = json_array(), *tensors = json_array();
    r.op_names = json_array();
    int64_t *snaps = NULL;
    size_t nsnaps = 0;
    int64_t nonfinite_at = -1;
    char nf_name[XD_TRACE_NAME_LEN] = "";
    int tmp_made = 0;
    xd_status st = XD_OK;

    snprintf(r.tmpdir, sizeof r.tmpdir, "%s.tmp-%ld", cfg->out_dir, (long)getpid());
    if ((st = xd_mkdir_new(r.tmpdir, err)) != XD_OK) goto done;
    tmp_made = 1;

    st = xd_model_create(ctx, cfg->model ? cfg->model : "seed-cnn", B, d->height, d->width, d->classes, &r.m);
    if (st != XD_OK) {
        xd_error_msg(err, "%s", xd_context_last_error(ctx));
        goto done;
    }
    /* Host staging: r.buf for one op hook output (layer outputs and their
     * gradients, state tensors, dlogits); r.state for two copies of the
     * whole training state; r.batch/r.labels2 for two input batches. */
    size_t buf_count = (size_t)(B * d->classes), state_count = 0;
    for (size_t k = 0; k < xd_model_state_count(r.m); ++k) {
        size_t n = xd_tensor_count(xd_model_state(r.m, k, NULL, 0));
        state_count += n;
        if (n > buf_count) buf_count = n;
    }
    for (int i = 0; i < r.m->nlayers; ++i)
        if (xd_tensor_count(r.m->layers[i].out) > buf_count) buf_count = xd_tensor_count(r.m->layers[i].out);
    r.buf = malloc(buf_count * 4);
    for (int i = 0; i < 2; ++i) {
        r.state[i] = malloc(state_count * 4 + 4);
        r.batch[i] = malloc((size_t)(B * d->height * d->width) * 4 + 4);
        r.labels2[i] = malloc((size_t)B * sizeof *r.labels2[i]);
    }
    perm = malloc((size_t)d->n_train * sizeof *perm);
    batches = malloc((size_t)(total * B) * sizeof *batches + 4);
    /* snapshot schedule: default or explicit list, plus every K, plus the end */
    if (!r.buf || !r.state[0] || !r.state[1] || !r.batch[0] || !r.batch[1] || !r.labels2[0] || !r.labels2[1] || !perm || !batches || !loss_arr || !r.op_names) {
        xd_error_msg(err, "out of host memory");
        st = XD_OUT_OF_HOST_MEMORY;
        goto done;
    }
    if ((st = xd_snapshot_schedule(total, cfg->snapshot_at, cfg->n_snapshot_at, cfg->snapshot_every, &snaps, &nsnaps,
                                   err)) != XD_OK)
        goto done;

    for (size_t k = 0; k < xd_model_state_count(r.m); ++k) {
        char n[128];
        xd_model_state(r.m, k, n, sizeof n);
        json_array_append_new(tensors, json_string(n));
    }

    int64_t start = 0;
    if (cfg->resume) {
        if ((st = xd_trace_open(cfg->resume, &old, err)) != XD_OK) goto done;
        const char *why = NULL;
        if (strcmp(old->model, r.m->kind) != 0) why = "model";
        else if (old->batch != B) why = "batch";
        else if (old->seed != cfg->seed) why = "seed";
        else if (strcmp(old->mode, xd_mode_string(xd_context_mode(ctx))) != 0) why = "mode";
        else if (strcmp(old->data_name, d->name) != 0) why = "data.name";
        else if ((old->nops > 0) != (cfg->hash_ops != 0)) why = "op_hashes (use --hash-ops as the first run did)";
        else if (old->ntensors != json_array_size(tensors)) why = "tensors";
        if (why) {
            xd_error_msg(err, "%s: cannot resume: field '%s' differs from this run", cfg->resume, why);
            st = XD_MISMATCH;
            goto done;
        }
        start = old->snapshots[old->nsnapshots - 1];
        if (start != old->steps || start >= total) {
            xd_error_msg(err, "%s: cannot resume: its last snapshot is step %lld of %lld; this run asks for %lld steps",
                      cfg->resume, (long long)start, (long long)old->steps, (long long)total);
            st = XD_MISMATCH;
            goto done;
        }
        char bp[4200];
        snprintf(bp, sizeof bp, "%s/batches.npy", cfg->resume);
        xd_npy_array ob;
        if ((st = xd_npy_read(bp, &ob, err)) != XD_OK) goto done;
        if (ob.dtype != XD_DTYPE_I32 || ob.ndim != 2 || ob.shape[0] != start || ob.shape[1] != B) {
            char got[160];
            xd_npy_describe(&ob, got, sizeof got);
            xd_error_msg(err, "%s: holds %s, expected int32 [%lld, %lld] (steps, batch)", bp, got,
                      (long long)start, (long long)B);
            xd_npy_free(&ob);
            st = XD_FORMAT;
            goto done;
        }
        memcpy(batches, ob.data, (size_t)(start * B) * 4);
        xd_npy_free(&ob);
        json_t *oroot = old->json;
        json_array_extend(loss_arr, json_object_get(oroot, "loss"));
        json_array_extend(hash_steps, json_object_get(json_object_get(oroot, "hashes"), "steps"));
        json_array_extend(init_row, json_object_get(json_object_get(oroot, "hashes"), "init"));
        json_array_extend(eval_hist, json_object_get(json_object_get(oroot, "eval"), "history"));
        if (old->nops) {
            json_array_extend(op_steps, json_object_get(json_object_get(oroot, "op_hashes"), "steps"));
            json_array_extend(r.op_names, json_object_get(json_object_get(oroot, "op_hashes"), "ops"));
        }
        for (size_t i = 0; i < old->nsnapshots && st == XD_OK; ++i) {
            st = xd_snapshot_copy(cfg->resume, r.tmpdir, old->snapshots[i], old, err);
            if (st == XD_OK) json_array_append_new(snap_arr, json_integer(old->snapshots[i]));
        }
        if (st == XD_OK) st = xd_snapshot_read(r.m, cfg->resume, start, err);
        if (st != XD_OK) goto done;
    } else {
        if ((st = xd_model_init(r.m, cfg->seed)) != XD_OK) {
            xd_error_msg(err, "init: %s", xd_context_last_error(ctx));
            goto done;
        }
        if ((st = state_enqueue(&r, 0, 0)) != XD_OK) goto done;
        if ((st = state_consume(&r, 0, init_row, &nonfinite_at, 0, nf_name, sizeof nf_name, 0)) != XD_OK) goto done;
        if ((st = xd_snapshot_write(r.m, r.state[0], r.tmpdir, 0, err)) != XD_OK) goto done;
        json_array_append_new(snap_arr, json_integer(0));
    }

    double ts0 = now();
    int64_t epoch_ready = -1, step = start;
    /* Two steps in flight: step s+1 is queued before the host hashes,
     * scans and snapshots step s's state (from its host copy), so the
     * device is not idle while the host works.  A step whose weights are
     * evaluated is finished before the next one is queued.  If step s
     * turns out non-finite and training stops there, step s+1 (already run)
     * is dropped: nothing of it is recorded. */
    int64_t pend = -1; /* step number whose state copy awaits consumption, -1: none */
    int stop_now = 0;
    for (;;) {
        int queued = 0;
        if (step < total && !stop_now) {
            if (cfg->stop && *cfg->stop) {
                xd_error_msg(err, "interrupted at step %lld; no trace written", (long long)step);
                st = XD_INTERRUPTED;
                goto done;
            }
            int64_t epoch = step / spe, k = step % spe;
            if (epoch != epoch_ready) {
                shuffle(perm, d->n_train, cfg->seed, epoch);
                epoch_ready = epoch;
            }
            int32_t *idx = batches + (size_t)(step * B);
            memcpy(idx, perm + (size_t)(k * B), (size_t)B * 4);
            int slot = (int)(step & 1);
            if ((st = load_batch(&r, slot, d->train_x, d->train_y, idx, B)) != XD_OK) goto done;
            r.op_row = json_array();
            r.naming_ops = cfg->hash_ops && json_array_size(r.op_names) == 0;
            xd_op_hook hook = cfg->hash_ops ? op_hook : NULL;
            st = xd_model_forward(r.m, hook, &r);
            if (st == XD_OK) st = xd_model_backward(r.m, hook, &r);
            if (st == XD_OK) st = xd_model_update(r.m, &cfg->adam, step + 1, hook, &r);
            if (st != XD_OK || r.hook_status != XD_OK) {
                if (st != XD_OK) xd_error_msg(err, "step %lld: %s", (long long)step + 1, xd_context_last_error(ctx));
                else st = r.hook_status;
                json_decref(r.op_row);
                goto done;
            }
            if (cfg->hash_ops) json_array_append_new(op_steps, r.op_row);
            else json_decref(r.op_row);
            if ((st = state_enqueue(&r, slot, 1)) != XD_OK) goto done;
            ++step;
            queued = 1;
        }
        /* Consume the older step in flight, and the one just queued when
         * nothing will follow it or its weights are evaluated. */
        int64_t todo[2];
        int ntodo = 0;
        if (pend >= 0) todo[ntodo++] = pend;
        pend = -1;
        if (queued) {
            int evals = cfg->eval_limit >= 0 && cfg->eval_every > 0 && step % cfg->eval_every == 0 && step < total;
            if (step == total || evals) todo[ntodo++] = step;
            else pend = step;
        }
        for (int i = 0; i < ntodo; ++i) {
            int64_t s1 = todo[i];
            int slot = (int)((s1 - 1) & 1);
            json_t *row = json_array();
            json_array_append_new(hash_steps, row);
            if ((st = state_consume(&r, slot, row, &nonfinite_at, s1, nf_name, sizeof nf_name, 1)) != XD_OK) goto done;
            float loss = r.loss[slot];
            json_array_append_new(loss_arr, real_or_null(loss));
            res->final_loss = loss;
            stop_now = nonfinite_at >= 0 && cfg->stop_on_nonfinite;
            if (in_list(snaps, nsnaps, s1) || stop_now) {
                if ((st = xd_snapshot_write(r.m, r.state[slot], r.tmpdir, s1, err)) != XD_OK) goto done;
                json_array_append_new(snap_arr, json_integer(s1));
            }
            if (cfg->eval_limit >= 0 && cfg->eval_every > 0 && s1 % cfg->eval_every == 0 && s1 < total && !stop_now) {
                double el, ea;
                if ((st = evaluate(&r, &el, &ea)) != XD_OK) goto done;
                json_array_append_new(eval_hist, json_pack("{s:I, s:o, s:f}", "step", (json_int_t)s1, "loss",
                                                           real_or_null(el), "accuracy", ea));
            }
            if (cfg->progress) cfg->progress(cfg->user, s1, total, loss, now() - ts0);
            if (stop_now) {
                /* the step after s1 may have run already: drop what it recorded */
                if (cfg->hash_ops)
                    while ((int64_t)json_array_size(op_steps) > s1) /* one row per step, resumed ones included */
                        json_array_remove(op_steps, json_array_size(op_steps) - 1);
                step = s1;
                pend = -1;
                break;
            }
        }
        if (!queued && pend < 0) break;
    }
    if ((st = xd_context_finish(ctx)) != XD_OK) {
        xd_error_msg(err, "%s", xd_context_last_error(ctx));
        goto done;
    }
    res->steps_done = step;
    res->seconds_steps = now() - ts0;
    res->first_nonfinite_step = nonfinite_at;

    double el = NAN, ea = NAN;
    if (nonfinite_at < 0 && cfg->eval_limit >= 0 && (st = evaluate(&r, &el, &ea)) != XD_OK) goto done;
    res->test_loss = el;
    res->test_accuracy = ea;
    {
        char bp[4200];
        int64_t bs[2] = {step, B};
        snprintf(bp, sizeof bp, "%s/batches.npy", r.tmpdir);
        if ((st = xd_npy_write(bp, XD_DTYPE_I32, 2, bs, batches, err)) != XD_OK) goto done;
    }
    char *devtext = xd_device_info_json(xd_context_device(ctx));
    json_t *dev = devtext ? json_loads(devtext, 0, NULL) : json_object();
    xd_free(devtext);
    char sum[24];
    xd_hash_hex(d->checksum, sum);
    root = json_object();
    json_object_set_new(root, "format", json_string("crossdev-trace"));
    json_object_set_new(root, "version", json_integer(XD_TRACE_VERSION));
    json_object_set_new(root, "model", json_string(r.m->kind));
    json_object_set_new(root, "seed", json_integer((json_int_t)cfg->seed));
    json_object_set_new(root, "mode", json_string(xd_mode_string(xd_context_mode(ctx))));
    json_object_set_new(root, "batch", json_integer(B));
    json_object_set_new(root, "steps", json_integer(step));
    json_object_set_new(root, "steps_requested", json_integer(total));
    json_object_set_new(root, "optimizer", json_pack("{s:s, s:f, s:f, s:f, s:f}", "name", "adam", "lr", cfg->adam.lr,
                                                     "beta1", cfg->adam.beta1, "beta2", cfg->adam.beta2, "eps",
                                                     cfg->adam.eps));
    json_object_set_new(root, "data",
                        json_pack("{s:s, s:s, s:b, s:s, s:s, s:I, s:I, s:I, s:I}", "name", d->name, "source", d->source,
                                  "synthetic", d->synthetic, "scale", "x/255", "checksum", sum, "n_train",
                                  (json_int_t)d->n_train, "n_test", (json_int_t)d->n_test, "height",
                                  (json_int_t)d->height, "width", (json_int_t)d->width));
    json_object_set_new(root, "layout", json_pack("{s:s, s:s, s:s, s:s, s:s}", "input", "NCHW", "conv1.weight", "OIHW",
                                                  "dense1.weight", "OI", "flatten", "CHW", "npy", "<f4 C-order"));
    json_object_set_new(root, "training",
                        json_pack("{s:s, s:s, s:I, s:s}", "partial_batch", "dropped", "shuffle",
                                  "Fisher-Yates per epoch, Philox4x32-10 stream 0x53485546<<32|epoch",
                                  "steps_per_epoch", (json_int_t)spe, "init",
                                  "Glorot-uniform kernels (Philox stream = parameter index + 1), zero biases"));
    json_object_set_new(root, "tensors", tensors);
    tensors = NULL;
    json_object_set_new(root, "loss", loss_arr);
    loss_arr = NULL;
    json_object_set_new(root, "hashes", json_pack("{s:s, s:o, s:o}", "algorithm", "xxh3-64 of the float32 bytes",
                                                  "init", init_row, "steps", hash_steps));
    init_row = hash_steps = NULL;
    if (cfg->hash_ops) {
        json_object_set_new(root, "op_hashes", json_pack("{s:o, s:o}", "ops", r.op_names, "steps", op_steps));
        r.op_names = op_steps = NULL;
    } else {
        json_object_set_new(root, "op_hashes", json_null());
    }
    json_object_set_new(root, "snapshots", snap_arr);
    snap_arr = NULL;
    json_object_set_new(root, "device", dev ? dev : json_object());
    json_object_set_new(root, "build_options", json_string(xd_context_build_options(ctx)));
    json_object_set_new(root, "guarantee", json_string(xd_context_guarantee(ctx)));
    json_object_set_new(root, "crossdev_version", json_string(xd_version_string()));
    json_object_set_new(root, "eval", json_pack("{s:o, s:o}", "final",
                                                isfinite(ea) ? json_pack("{s:I, s:o, s:f, s:I}", "step", (json_int_t)step,
                                                                         "loss", real_or_null(el), "accuracy", ea, "n",
                                                                         (json_int_t)(cfg->eval_limit > 0 && cfg->eval_limit < d->n_test ? cfg->eval_limit : d->n_test))
                                                             : json_null(),
                                                "history", eval_hist));
    eval_hist = NULL;
    json_object_set_new(root, "nonfinite", nonfinite_at >= 0 ? json_pack("{s:I, s:s}", "step", (json_int_t)nonfinite_at,
                                                                         "tensor", nf_name)
                                                             : json_null());
    json_object_set_new(root, "resumed_from", old ? json_pack("{s:s, s:I}", "trace", cfg->resume, "step",
                                                              (json_int_t)start)
                                                  : json_null());
    res->seconds_total = now() - t0;
    res->device_bytes_peak = xd_context_device_bytes_peak(ctx);
    json_object_set_new(root, "timing", json_pack("{s:f, s:f, s:I}", "seconds_total", res->seconds_total,
                                                  "seconds_steps", res->seconds_steps, "device_bytes_peak",
                                                  (json_int_t)res->device_bytes_peak));
    {
        char jp[4200];
        snprintf(jp, sizeof jp, "%s/trace.json", r.tmpdir);
        if ((st = xd_json_write_file(root, jp, err)) != XD_OK) goto done;
    }
    /* Publish: never replace anything that appeared meanwhile. */
    if ((st = xd_rename_noreplace(r.tmpdir, cfg->out_dir, err)) != XD_OK) goto done;
    tmp_made = 0;
    if (nonfinite_at >= 0) {
        xd_error_msg(err, "non-finite value in %s at step %lld (recorded in the trace)", nf_name,
                  (long long)nonfinite_at);
        st = XD_NOT_FINITE;
    }
done:
    if (tmp_made) xd_remove_tree(r.tmpdir);
    json_decref(root);
    json_decref(loss_arr);
    json_decref(hash_steps);
    json_decref(init_row);
    json_decref(op_steps);
    json_decref(eval_hist);
    json_decref(snap_arr);
    json_decref(tensors);
    json_decref(r.op_names);
    xd_trace_close(old);
    xd_model_destroy(r.m);
    if (ctx) xd_context_finish(ctx); /* no transfer may still use the staging buffers */
    free(r.buf);
    for (int i = 0; i < 2; ++i) {
        free(r.state[i]);
        free(r.batch[i]);
        free(r.labels2[i]);
        xd_event_release(&r.ready[i]);
    }
    free(perm);
    free(batches);
    free(snaps);
    return st;
}

xd_status xd_train_run(xd_context *ctx, const xd_dataset *d, const xd_train_config *cfg, xd_train_result *res,
                       xd_error *err)
{
    return xd_error_return(err, train_run(ctx, d, cfg, res, err));
}
