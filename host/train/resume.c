/* Resuming a run (--resume TRACE): the old trace is checked against this
 * run, then its batches, snapshots, records and last state are taken over,
 * so that the resumed trace is the one an uninterrupted run writes. */
#include <string.h>

#include "train/run.h"

/* The first setting in which old differs from this run, or NULL. */
static const char *differing_setting(const xd_trace *old, const xd_train_config *cfg, const xd_dataset *d,
                                     const xd_model *m)
{
    if (strcmp(old->model, m->kind) != 0) return "model";
    if (old->batch != m->batch) return "batch";
    if (old->seed != cfg->seed) return "seed";
    if (strcmp(old->mode, xd_mode_string(xd_context_mode(m->ctx))) != 0) return "mode";
    if (strcmp(old->data_name, d->name) != 0) return "data.name";
    if ((old->nops > 0) != (cfg->hash_ops != 0)) return "op_hashes (use --hash-ops as the first run did)";
    if (old->ntensors != xd_model_state_count(m)) return "tensors";
    return NULL;
}

xd_status xd_resume_open(const xd_train_config *cfg, const xd_dataset *d, const xd_model *m, int64_t total,
                         xd_trace **old, int64_t *start, xd_error *err)
{
    xd_status st = xd_trace_open(cfg->resume, old, err);
    if (st != XD_OK) return st;
    const char *why = differing_setting(*old, cfg, d, m);
    if (why) {
        xd_error_msg(err, "%s: cannot resume: field '%s' differs from this run", cfg->resume, why);
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

xd_status xd_resume_adopt(const xd_trace *old, const char *dir, const char *tmpdir, int64_t start, xd_trace_writer *w,
                          xd_model *m, xd_error *err)
{
    xd_trace_writer_adopt(w, old);
    xd_status st = XD_OK;
    for (size_t i = 0; i < old->nsnapshots && st == XD_OK; ++i) {
        st = xd_snapshot_copy(dir, tmpdir, old->snapshots[i], old, err);
        if (st == XD_OK) xd_trace_writer_snapshot(w, old->snapshots[i]);
    }
    if (st == XD_OK) st = xd_snapshot_read(m, dir, start, err);
    return st;
}
