/* Snapshots: the model's training state as one .npy per tensor in
 * step-XXXXXX/ folders of a trace (docs/trace-format.md), written into the
 * trace's staging folder without a sync each: the folder is synced once and
 * published whole when the run ends (host/train/train.c). */
#include <stdio.h>

#include "train/run.h"

static xd_status step_dir(char *out, size_t cap, const char *dir, int64_t step, xd_error *err)
{
    return xd_path(out, cap, err, "%s/step-%06lld", dir, (long long)step);
}

xd_status xd_snapshot_write(xd_model *m, const float *state, const char *dir, int64_t step, xd_error *err)
{
    char sdir[XD_PATH_MAX];
    xd_status st = step_dir(sdir, sizeof sdir, dir, step, err);
    if (st == XD_OK) st = xd_mkdir_new(sdir, err);
    size_t off = 0;
    for (size_t k = 0; k < xd_model_state_count(m) && st == XD_OK; ++k) {
        char name[128], path[XD_PATH_MAX];
        const xd_tensor *t = xd_model_state(m, k, name, sizeof name);
        st = xd_path(path, sizeof path, err, "%s/%s.npy", sdir, name);
        if (st == XD_OK) st = xd_npy_write_staged(path, XD_DTYPE_F32, t->ndim, t->shape, state + off, err);
        off += t->count;
    }
    return st;
}

static xd_status restore_one(xd_tensor *t, const char *sdir, const char *name, xd_error *err)
{
    char path[XD_PATH_MAX];
    xd_status st = xd_path(path, sizeof path, err, "%s/%s.npy", sdir, name);
    if (st != XD_OK) return st;
    xd_npy_array a;
    if ((st = xd_npy_read(path, &a, err)) != XD_OK) return st;
    int same = a.dtype == XD_DTYPE_F32 && a.ndim == t->ndim;
    for (int i = 0; same && i < t->ndim; ++i) same = a.shape[i] == t->shape[i];
    if (!same) {
        char got[160], want[160];
        xd_npy_array e = {XD_DTYPE_F32, t->ndim, {0}, t->count, NULL};
        for (int i = 0; i < t->ndim && i < XD_NPY_MAX_DIMS; ++i) e.shape[i] = t->shape[i];
        xd_npy_describe(&a, got, sizeof got);
        xd_npy_describe(&e, want, sizeof want);
        st = xd_error_set(err, XD_FORMAT, 0, "%s: holds %s, the model's %s is %s", path, got, name, want);
    } else {
        st = xd_tensor_write(t, a.data, t->count * 4);
        if (st != XD_OK) {
            xd_error_from_context(err, st, t->ctx);
            xd_error_prefix(err, "%s", path);
        }
    }
    xd_npy_free(&a);
    return st;
}

xd_status xd_snapshot_read(xd_model *m, const char *dir, int64_t step, xd_error *err)
{
    char sdir[XD_PATH_MAX];
    xd_status st = step_dir(sdir, sizeof sdir, dir, step, err);
    for (size_t k = 0; k < xd_model_state_count(m) && st == XD_OK; ++k) {
        char name[128];
        xd_tensor *t = xd_model_state(m, k, name, sizeof name);
        st = restore_one(t, sdir, name, err);
    }
    return st;
}

xd_status xd_snapshot_copy(const xd_trace *t, const char *dst, int64_t step, xd_error *err)
{
    char dd[XD_PATH_MAX];
    xd_status st = step_dir(dd, sizeof dd, dst, step, err);
    if (st == XD_OK) st = xd_mkdir_new(dd, err);
    for (size_t i = 0; st == XD_OK && i < t->ntensors; ++i) {
        char dp[XD_PATH_MAX];
        xd_npy_array a = {0};
        st = xd_path(dp, sizeof dp, err, "%s/%s.npy", dd, t->tensor_names[i]);
        if (st == XD_OK) st = xd_trace_load_tensor(t, step, t->tensor_names[i], &a, err); /* checks its hash */
        if (st == XD_OK) st = xd_npy_write(dp, a.dtype, a.ndim, a.shape, a.data, err);
        xd_npy_free(&a);
    }
    return st;
}
