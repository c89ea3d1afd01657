/* Resuming a run (--resume TRACE): the old trace is checked against this
 * run, then its batches, snapshots, op outputs, records and last state are
 * taken over, so that the resumed trace is the one an uninterrupted run
 * writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/run.h"

/* The trace's optimizer and model against this run's ("" when the same):
 * the comparators beside the spec (host/spec/optimizer.c). */
static void differing_model(const xd_trace *old, const xd_model *m, char *why, size_t cap)
{
    xd_model_spec *theirs = malloc(sizeof *theirs);
    xd_optimizer_spec opt;
    xd_setting_difference d;
    xd_error e;
    if (!theirs) snprintf(why, cap, "'model_spec' cannot be read: out of host memory");
    else if (xd_trace_model_spec(old, theirs, &e) != XD_OK) snprintf(why, cap, "'model_spec' %s", e.message);
    else if (xd_model_spec_differs(theirs, &m->spec))
        snprintf(why, cap, "'model_spec' differs: the trace's model '%s' is not this run's '%s' (layers or options)",
                 old->model, m->kind);
    else if (xd_trace_optimizer(old, &opt, &e) != XD_OK) snprintf(why, cap, "'optimizer' %s", e.message);
    else if (xd_optimizer_differs(&opt, &m->opt, &d))
        snprintf(why, cap, "'%s' differs: the trace has %s, this run %s", d.field, d.a, d.b);
    free(theirs);
}

/* The op names a --hash-ops trace recorded against this run's plan: a
 * resumed run's op rows continue the old ones column for column. */
typedef struct op_match {
    const xd_trace *old;
    size_t n;
    int differs;
} op_match;

static void match_op(void *user, const char *op)
{
    op_match *m = user;
    if (m->n >= m->old->nops || strcmp(m->old->op_names[m->n], op) != 0) m->differs = 1;
    ++m->n;
}

static int differing_ops(const xd_trace *old, const xd_model *m)
{
    op_match match = {old, 0, 0};
    xd_plan_each_op(&m->plan, match_op, &match);
    return match.differs || match.n != old->nops;
}

/* The first setting in which old differs from this run, with both values
 * ("field 'optimizer.lr' differs: the trace has 0.001, this run 0.01"), or
 * 0.  A resumed run must continue the very computation the trace began. */
static int differing_setting(const xd_trace *old, const xd_train_config *cfg, const xd_dataset *d, const xd_model *m,
                             char *why, size_t cap)
{
    const char *mode = xd_mode_string(xd_context_mode(m->ctx));
    char a[24], b[24];
    if (strcmp(old->model, m->kind) != 0)
        snprintf(why, cap, "'model' differs: the trace has %s, this run %s", old->model, m->kind);
    else if (old->batch != m->batch)
        snprintf(why, cap, "'batch' differs: the trace has %lld, this run %lld", (long long)old->batch,
                 (long long)m->batch);
    else if (old->seed != cfg->seed)
        snprintf(why, cap, "'seed' differs: the trace has %llu, this run %llu", (unsigned long long)old->seed,
                 (unsigned long long)cfg->seed);
    else if (strcmp(old->mode, mode) != 0)
        snprintf(why, cap, "'mode' differs: the trace has %s, this run %s", old->mode, mode);
    else if (old->has_data_checksum && old->data_checksum != d->checksum) {
        xd_hash_hex(old->data_checksum, a);
        xd_hash_hex(d->checksum, b);
        snprintf(why, cap, "'data.checksum' differs: the trace has %s, this run's data (%s) %s", a, d->source, b);
    } else if ((old->nops > 0) != (cfg->hash_ops != 0))
        snprintf(why, cap, "'op_hashes' differs: the trace was made %s --hash-ops, this run %s it",
                 old->nops ? "with" : "without", cfg->hash_ops ? "has" : "lacks");
    else if (old->nops > 0 && !old->op_updates_state)
        snprintf(why, cap,
                 "'op_hashes.updates' differs: the trace's update ops hash the parameter alone (an older crossdev), "
                 "this run's the parameter and its optimizer state");
    else if (old->ntensors != xd_model_state_count(m)) snprintf(why, cap, "'tensors' differs");
    else if (old->nops > 0 && differing_ops(old, m))
        snprintf(why, cap, "'op_hashes.ops' differs: the trace's ops are not this run's (another crossdev's plan)");
    if (!why[0]) differing_model(old, m, why, cap);
    return why[0] != '\0';
}

xd_status xd_resume_open(const xd_train_config *cfg, const xd_dataset *d, const xd_model *m, int64_t total,
                         const xd_trace **old, xd_trace **owned, int64_t *start, xd_error *err)
{
    *owned = NULL;
    if (!cfg->resume_trace) {
        xd_status st = xd_trace_open(cfg->resume, owned, err);
        if (st != XD_OK) return st;
    }
    *old = cfg->resume_trace ? cfg->resume_trace : *owned;
    const char *dir = (*old)->dir;
    char why[512] = "";
    if (differing_setting(*old, cfg, d, m, why, sizeof why)) {
        xd_error_msg(err, "%s: cannot resume: field %s", dir, why);
        return XD_MISMATCH;
    }
    *start = (*old)->snapshots[(*old)->nsnapshots - 1];
    if (*start != (*old)->steps || *start >= total) {
        xd_error_msg(err, "%s: cannot resume: its last snapshot is step %lld of %lld; this run asks for %lld steps",
                     dir, (long long)*start, (long long)(*old)->steps, (long long)total);
        return XD_MISMATCH;
    }
    return XD_OK;
}

xd_status xd_resume_batches(const char *dir, int64_t start, int64_t batch, int32_t *batches, xd_error *err)
{
    char path[XD_PATH_MAX];
    xd_status st = xd_path(path, sizeof path, err, "%s/batches.npy", dir);
    xd_npy_array ob;
    if (st != XD_OK || (st = xd_npy_read(path, &ob, err)) != XD_OK) return st;
    if (ob.dtype != XD_DTYPE_I32 || ob.ndim != 2 || ob.shape[0] != start || ob.shape[1] != batch) {
        char got[160];
        xd_npy_describe(&ob, got, sizeof got);
        xd_error_msg(err, "%s: holds %s, expected int32 [%lld, %lld] (steps, batch)", path, got, (long long)start,
                     (long long)batch);
        st = XD_FORMAT;
    } else {
        memcpy(batches, ob.data, (size_t)(start * batch) * 4);
    }
    xd_npy_free(&ob);
    return st;
}

/* The old trace's op outputs (--op-outputs-at) into tmpdir's ops-XXXXXX/. */
static xd_status copy_op_outputs(const xd_trace *old, const char *tmpdir, xd_error *err)
{
    xd_status st = XD_OK;
    for (size_t i = 0; i < old->nop_outputs && st == XD_OK; ++i) {
        char dst[XD_PATH_MAX];
        st = xd_path(dst, sizeof dst, err, "%s/ops-%06lld", tmpdir, (long long)old->op_outputs[i]);
        if (st == XD_OK) st = xd_mkdir_new(dst, err);
        for (size_t k = 0; k < old->nops && st == XD_OK; ++k) {
            xd_npy_array a = {0};
            xd_error e;
            if (xd_trace_load_op_output(old, old->op_outputs[i], old->op_names[k], &a, &e) == XD_OK)
                st = xd_path(dst, sizeof dst, err, "%s/ops-%06lld/%s.npy", tmpdir, (long long)old->op_outputs[i],
                             old->op_names[k]);
            if (st == XD_OK && a.data) st = xd_npy_write(dst, a.dtype, a.ndim, a.shape, a.data, err);
            xd_npy_free(&a);
        }
    }
    return st;
}

xd_status xd_resume_adopt(const xd_trace *old, const char *dir, const char *tmpdir, int64_t start, xd_trace_writer *w,
                          xd_model *m, xd_error *err)
{
    xd_trace_writer_adopt(w, old);
    /* the state first: a file of another shape or dtype is named as such
     * before the copies check every file's bytes against its hash */
    xd_status st = xd_snapshot_read(m, dir, start, err);
    for (size_t i = 0; i < old->nsnapshots && st == XD_OK; ++i) {
        st = xd_snapshot_copy(old, tmpdir, old->snapshots[i], err);
        if (st == XD_OK) xd_trace_writer_snapshot(w, old->snapshots[i]);
    }
    if (st == XD_OK) st = copy_op_outputs(old, tmpdir, err);
    return st;
}

/* ---- the trace's settings unless given (xd_train_config_from_trace) -------------------- */

static xd_status conflict(xd_train_resume *r, unsigned bit, const char *field, const char *given, const char *traced,
                          const xd_trace *t, xd_error *err)
{
    r->conflict_given = bit;
    snprintf(r->conflict.field, sizeof r->conflict.field, "%s", field);
    snprintf(r->conflict.a, sizeof r->conflict.a, "%s", given);
    snprintf(r->conflict.b, sizeof r->conflict.b, "%s", traced);
    return xd_error_set(err, XD_MISMATCH, 0,
                        "%s: cannot resume: '%s' given as %s, the trace has %s: a resumed run continues the trace's "
                        "settings",
                        t->dir, field, given, traced);
}

/* seed, batch, mode and op hashing. */
static xd_status basic_settings(xd_train_config *cfg, xd_train_resume *r, const xd_trace *t, unsigned given,
                                xd_error *err)
{
    char a[32], b[32];
    xd_mode tm = XD_MODE_REPRODUCIBLE;
    xd_mode_parse(t->mode, &tm);
    snprintf(a, sizeof a, "%llu", (unsigned long long)cfg->seed);
    snprintf(b, sizeof b, "%llu", (unsigned long long)t->seed);
    if ((given & XD_GIVEN_SEED) && cfg->seed != t->seed) return conflict(r, XD_GIVEN_SEED, "seed", a, b, t, err);
    snprintf(a, sizeof a, "%lld", (long long)cfg->batch);
    snprintf(b, sizeof b, "%lld", (long long)t->batch);
    if ((given & XD_GIVEN_BATCH) && cfg->batch != t->batch) return conflict(r, XD_GIVEN_BATCH, "batch", a, b, t, err);
    if ((given & XD_GIVEN_MODE) && r->mode != tm)
        return conflict(r, XD_GIVEN_MODE, "mode", xd_mode_string(r->mode), t->mode, t, err);
    if ((given & XD_GIVEN_HASH_OPS) && cfg->hash_ops && !t->nops)
        return conflict(r, XD_GIVEN_HASH_OPS, "op_hashes", "(on)", "null", t, err);
    cfg->seed = t->seed;
    cfg->batch = t->batch;
    r->mode = tm;
    cfg->hash_ops = t->nops > 0;
    return XD_OK;
}

/* The model and the optimizer, with the comparators beside the spec. */
static xd_status model_settings(xd_train_config *cfg, xd_train_resume *r, const xd_trace *t, unsigned given,
                                xd_error *err)
{
    xd_model_spec *theirs = malloc(sizeof *theirs);
    xd_optimizer_spec opt;
    xd_setting_difference d;
    if (!theirs) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory");
    xd_status st = xd_trace_model_spec(t, theirs, err);
    if (st == XD_OK) st = xd_trace_optimizer(t, &opt, err);
    if (st == XD_OK && (given & XD_GIVEN_MODEL) && xd_model_spec_differs(&r->spec, theirs))
        st = conflict(r, XD_GIVEN_MODEL, "model_spec", r->spec.name, theirs->name, t, err);
    if (st == XD_OK && (given & XD_GIVEN_OPTIMIZER) && xd_optimizer_differs(&cfg->optimizer, &opt, &d))
        st = conflict(r, XD_GIVEN_OPTIMIZER, d.field, d.a, d.b, t, err);
    if (st == XD_OK) {
        r->spec = *theirs;
        cfg->spec = &r->spec;
        cfg->optimizer = opt;
    }
    free(theirs);
    return st;
}

static xd_status config_from_trace(xd_train_config *cfg, xd_train_resume *r, const xd_trace *t, unsigned given,
                                   xd_error *err)
{
    if (!cfg || !r || !t) return XD_INVALID_ARGUMENT;
    r->conflict_given = 0;
    xd_status st = basic_settings(cfg, r, t, given, err);
    if (st == XD_OK) st = model_settings(cfg, r, t, given, err);
    if (st != XD_OK) return st;
    if (!(given & XD_GIVEN_DATA)) {
        r->synthetic = t->synthetic;
        r->data_dir = !t->synthetic && t->data_source[0] && xd_path_exists(t->data_source) ? t->data_source : NULL;
    }
    cfg->resume = t->dir;
    cfg->resume_trace = t;
    return XD_OK;
}

xd_status xd_train_config_from_trace(xd_train_config *cfg, xd_train_resume *r, const xd_trace *t, unsigned given,
                                     xd_error *err)
{
    return xd_error_return(err, config_from_trace(cfg, r, t, given, err));
}
