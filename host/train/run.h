/* The train stage's internals: snapshots of the model's state on disk, the
 * snapshot schedule and resuming.  Never installed. */
#ifndef XD_HOST_TRAIN_RUN_H
#define XD_HOST_TRAIN_RUN_H

#include "crossdev/train.h"
#include "crossdev/trace.h"
#include "io/io.h"
#include "io/trace.h"
#include "train/net.h"

/* Writes every parameter, its m and v from `state` (the host copy training
 * keeps, tensors back to back in xd_model_state order) into
 * dir/step-XXXXXX/NAME.npy. */
xd_status xd_snapshot_write(xd_model *m, const float *state, const char *dir, int64_t step, xd_error *err);
/* Loads every parameter, m and v from trace folder `dir` at `step` into the
 * model, refusing a file of another dtype or shape (naming both). */
xd_status xd_snapshot_read(xd_model *m, const char *dir, int64_t step, xd_error *err);
/* Copies trace t's step-XXXXXX into dst/step-XXXXXX (resume), each file checked
 * against the hash t recorded for it. */
xd_status xd_snapshot_copy(const xd_trace *t, const char *dst, int64_t step, xd_error *err);

/* The steps a run of `total` steps snapshots, sorted and unique: the
 * explicit list (or the default schedule), plus every `every` steps (0:
 * none), plus 0 and the end.  *out is malloc-ed. */
xd_status xd_snapshot_schedule(int64_t total, const int64_t *at, size_t n_at, int64_t every, int64_t **out, size_t *n,
                               xd_error *err);

/* Resuming (host/train/resume.c), in this order: take cfg->resume_trace
 * (or open cfg->resume into *owned, which the caller closes) and check it
 * against this run (model, batch, seed, mode, data, op hashing,
 * tensors; its last snapshot must be its last step and before `total`),
 * *start being that step; read its batches.npy into the first `start`
 * rows of `batches`; copy its snapshots into tmpdir, adopt its records into
 * w and load its last state into the model. */
xd_status xd_resume_open(const xd_train_config *cfg, const xd_dataset *d, const xd_model *m, int64_t total,
                         const xd_trace **old, xd_trace **owned, int64_t *start, xd_error *err);
xd_status xd_resume_batches(const char *dir, int64_t start, int64_t batch, int32_t *batches, xd_error *err);
xd_status xd_resume_adopt(const xd_trace *old, const char *dir, const char *tmpdir, int64_t start, xd_trace_writer *w,
                          xd_model *m, xd_error *err);

#endif
