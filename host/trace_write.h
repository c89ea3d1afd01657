/* Trace writing helpers used by training (internal). */
#ifndef XD_HOST_TRACE_WRITE_H
#define XD_HOST_TRACE_WRITE_H

#include <jansson.h>

#include "model.h"

/* Creates directory path (must not exist). */
xd_status xd_mkdir_new(const char *path, char *err, size_t errlen);
/* rm -rf of a trace temp folder (only regular files and folders). */
void xd_remove_tree(const char *path);
/* Writes every parameter, its m and v into dir/step-XXXXXX/NAME.npy. */
/* "float32 [10, 21632]": what an .npy holds, for messages. */
void xd_npy_describe(const xd_npy_array *a, char *buf, size_t cap);
xd_status xd_snapshot_write(xd_model *m, const float *state, const char *dir, int64_t step, char *err, size_t errlen);
/* Loads every parameter, m and v from trace `dir` at `step` into the model. */
xd_status xd_snapshot_read(xd_model *m, const char *dir, int64_t step, char *err, size_t errlen);
/* "xxh3:0123456789abcdef" */
void xd_hash_hex(uint64_t h, char out[24]);
uint64_t xd_hash_bytes(const void *p, size_t n);
/* Writes a JSON document atomically (temp file, fsync, rename). */
xd_status xd_json_write_file(json_t *root, const char *path, char *err, size_t errlen);

#endif
