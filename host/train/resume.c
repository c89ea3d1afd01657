/* Resuming a run (--resume TRACE): the old trace is checked against this
 * run, then its batches, snapshots, op outputs, records and last state are
 * taken over, so that the resumed trace is the one an uninterrupted run
 * writes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "train/run.h"

/* The optimizer the trace records against this run's ("" when the same):
 * its name and form (a trace from before the forms: PyTorch's Adam), then
 * each hyper-parameter it records. */
static void differing_optimizer(const xd_trace *old, const xd_optimizer_spec *o, char *why, size_t cap)
{
    const char *kind = xd_optimizer_kind_name(o->kind),
               *variant = old->optimizer.variant[0] ? old->optimizer.variant : "pytorch";
    char theirs_kind[64];
    snprintf(theirs_kind, sizeof theirs_kind, "%s-%s", old->optimizer.name[0] ? old->optimizer.name : "adam", variant);
    if (strcmp(theirs_kind, kind) != 0) {
        snprintf(why, cap, "'optimizer' differs: the trace has %s, this run %s", theirs_kind, kind);
        return;
    }
    const double mine[5] = {o->lr, o->beta1, o->beta2, o->eps, o->momentum};
    const double theirs[5] = {old->optimizer.lr, old->optimizer.beta1, old->optimizer.beta2, old->optimizer.eps,
                              old->optimizer.momentum};
    static const char *const key[5] = {"lr", "beta1", "beta2", "eps", "momentum"};
    for (int i = 0; i < 5 && !why[0]; ++i)
        if (!isnan(theirs[i]) && theirs[i] != mine[i])
            snprintf(why, cap, "'optimizer.%s' differs: the trace has %.17g, this run %.17g", key[i], theirs[i],
                     mine[i]);
    if (!why[0] && old->optimizer.nesterov >= 0 && old->optimizer.nesterov != o->nesterov)
        snprintf(why, cap, "'optimizer.nesterov' differs: the trace has %s, this run %s",
                 old->optimizer.nesterov ? "true" : "false", o->nesterov ? "true" : "false");
}

/* The trace's model_spec against this run's, the file it came from aside
 * ("" when the same, or when the trace predates model_spec). */
static void differing_spec(const xd_trace *old, const xd_model *m, char *why, size_t cap)
{
    json_t *theirs = json_deep_copy(json_object_get((json_t *)old->json, "model_spec"));
    char *text = xd_model_spec_json(&m->spec);
    json_t *mine = text ? json_loads(text, 0, NULL) : NULL;
    if (json_is_object(theirs) && json_is_object(mine)) {
        json_object_del(theirs, "source");
        json_object_del(mine, "source");
        if (!json_equal(theirs, mine))
            snprintf(why, cap,
                     "'model_spec' differs: the trace's model '%s' is not this run's '%s' (layers or options)",
                     old->model, m->kind);
    }
    json_decref(theirs);
    json_decref(mine);
    xd_free(text);
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
    if (!why[0]) differing_spec(old, m, why, cap);
    if (!why[0]) differing_optimizer(old, &m->opt, why, cap);
    return why[0] != '\0';
}

xd_status xd_resume_open(const xd_train_config *cfg, const xd_dataset *d, const xd_model *m, int64_t total,
                         xd_trace **old, int64_t *start, xd_error *err)
{
    xd_status st = xd_trace_open(cfg->resume, old, err);
    if (st != XD_OK) return st;
    char why[512] = "";
    if (differing_setting(*old, cfg, d, m, why, sizeof why)) {
        xd_error_msg(err, "%s: cannot resume: field %s", cfg->resume, why);
        return XD_MISMATCH;
    }
    *start = (*old)->snapshots[(*old)->nsnapshots - 1];
    if (*start != (*old)->steps || *start >= total) {
        xd_error_msg(err, "%s: cannot resume: its last snapshot is step %lld of %lld; this run asks for %lld steps",
                     cfg->resume, (long long)*start, (long long)(*old)->steps, (long long)total);
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
