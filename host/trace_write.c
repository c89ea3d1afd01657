/* Trace writing helpers: snapshot folders of .npy tensors, hashes, atomic
 * JSON files (format version 1, docs/trace-format.md).  Driven by
 * host/train.c; reading is host/trace_read.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "crossdev/trace.h"
#include "trace_write.h"

/* ---- writing ------------------------------------------------------------------ */
xd_status xd_mkdir_new(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0777) == 0) return XD_OK;
    xd_format(err, errlen, "%s: cannot create directory: %s", path, strerror(errno));
    return XD_IO;
}

void xd_remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            struct stat sb;
            if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode)) xd_remove_tree(sub);
            else unlink(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

void xd_hash_hex(uint64_t h, char out[24]) { snprintf(out, 24, "xxh3:%016llx", (unsigned long long)h); }

uint64_t xd_hash_bytes(const void *p, size_t n) { return XXH3_64bits(p, n); }

/* Snapshot `step`: every state tensor from `state`, the host copy that
 * training keeps (the tensors back to back in xd_model_state order). */
xd_status xd_snapshot_write(xd_model *m, const float *state, const char *dir, int64_t step, char *err, size_t errlen)
{
    char sdir[4096];
    snprintf(sdir, sizeof sdir, "%s/step-%06lld", dir, (long long)step);
    xd_status st = xd_mkdir_new(sdir, err, errlen);
    size_t off = 0;
    for (size_t k = 0; k < xd_model_state_count(m) && st == XD_OK; ++k) {
        char name[128], path[4200];
        const xd_tensor *t = xd_model_state(m, k, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s.npy", sdir, name);
        st = xd_npy_write(path, XD_DTYPE_F32, t->ndim, t->shape, state + off, err, errlen);
        off += t->count;
    }
    return st;
}

/* "float32 [10, 21632]": what an .npy holds, for messages. */
void xd_npy_describe(const xd_npy_array *a, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "%s [", a->dtype == XD_DTYPE_F32 ? "float32" : a->dtype == XD_DTYPE_I32 ? "int32" : "?");
    for (int i = 0; i < a->ndim && n < cap; ++i)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)a->shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

static xd_status restore_one(xd_tensor *t, const char *sdir, const char *name, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.npy", sdir, name);
    xd_npy_array a;
    xd_status st = xd_npy_read(path, &a, err, errlen);
    if (st != XD_OK) return st;
    int same = a.dtype == XD_DTYPE_F32 && a.ndim == t->ndim;
    for (int i = 0; same && i < t->ndim; ++i) same = a.shape[i] == t->shape[i];
    if (!same) {
        char got[160], want[160];
        xd_npy_array e = {XD_DTYPE_F32, t->ndim, {0}, t->count, NULL};
        for (int i = 0; i < t->ndim && i < XD_NPY_MAX_DIMS; ++i) e.shape[i] = t->shape[i];
        xd_npy_describe(&a, got, sizeof got);
        xd_npy_describe(&e, want, sizeof want);
        xd_format(err, errlen, "%s: holds %s, the model's %s is %s", path, got, name, want);
        st = XD_FORMAT;
    } else {
        st = xd_tensor_write(t, a.data, t->count * 4);
        if (st != XD_OK) xd_format(err, errlen, "%s: %s", path, xd_context_last_error(t->ctx));
    }
    xd_npy_free(&a);
    return st;
}

xd_status xd_snapshot_read(xd_model *m, const char *dir, int64_t step, char *err, size_t errlen)
{
    char sdir[4096];
    snprintf(sdir, sizeof sdir, "%s/step-%06lld", dir, (long long)step);
    xd_status st = XD_OK;
    for (size_t k = 0; k < xd_model_state_count(m) && st == XD_OK; ++k) {
        char name[128];
        xd_tensor *t = xd_model_state(m, k, name, sizeof name);
        st = restore_one(t, sdir, name, err, errlen);
    }
    return st;
}

xd_status xd_json_write_file(json_t *root, const char *path, char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (!text) {
        xd_format(err, errlen, "%s: cannot serialise JSON (out of memory)", path);
        return XD_OUT_OF_HOST_MEMORY;
    }
    xd_status st = XD_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        xd_format(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        free(text);
        return XD_IO;
    }
    size_t n = strlen(text);
    if (fwrite(text, 1, n, f) != n || fputc('\n', f) == EOF || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        xd_format(err, errlen, "%s: write failed: %s", path, strerror(errno));
        st = XD_IO;
    }
    if (fclose(f) != 0 && st == XD_OK) {
        xd_format(err, errlen, "%s: write failed: %s", path, strerror(errno));
        st = XD_IO;
    }
    if (st == XD_OK && rename(tmp, path) != 0) {
        xd_format(err, errlen, "%s: rename failed: %s", path, strerror(errno));
        st = XD_IO;
    }
    if (st != XD_OK) unlink(tmp);
    free(text);
    return st;
}

