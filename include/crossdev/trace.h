/* crossdev — reading traces (format "crossdev-trace", versions
 * XD_TRACE_VERSION_MIN..XD_TRACE_VERSION; see docs/trace-format.md).
 * Writing: host/io/trace_write.c, driven by xd_train_run. */
#ifndef CROSSDEV_TRACE_H
#define CROSSDEV_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "crossdev/error.h"
#include "crossdev/io.h"
#include "crossdev/model.h"
#include "crossdev/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XD_TRACE_VERSION 1     /* the version written */
#define XD_TRACE_VERSION_MIN 1 /* the oldest version read */
#define XD_TRACE_NAME_LEN 96
/* op_hashes.updates: what an update op's hash covers, in the order hashed */
#define XD_OP_UPDATES_HASH "parameter, then its optimizer state (m, v)"

/* A parsed and validated trace.json (xd_trace_open): opaque.  The reader
 * parses the document once and owns its backward compatibility (traces
 * from before a field existed); what a caller needs is asked through the
 * accessors below, and the library's compare stage reads the rest through
 * host/io/trace.h. */
typedef struct xd_trace xd_trace;

/* Opens dir/trace.json and validates every field the tools rely on (types,
 * counts, array lengths, one hash per tensor per step, snapshot folders
 * present).  XD_IO / XD_FORMAT with err naming the file and field. */
XD_API xd_status xd_trace_open(const char *dir, xd_trace **out, xd_error *err);
/* The same from trace.json text (fuzzing, tests); snapshot folders not checked. */
XD_API xd_status xd_trace_parse(const char *json_text, size_t len, const char *name, xd_trace **out, xd_error *err);
XD_API void xd_trace_close(xd_trace *t);
/* Reads tensor `name` ("conv1.weight", "conv1.weight.m", ...) at snapshot `step`. */
XD_API xd_status xd_trace_load_tensor(const xd_trace *t, int64_t step, const char *name, xd_npy_array *out,
                                      xd_error *err);
XD_API int xd_trace_has_snapshot(const xd_trace *t, int64_t step);
/* Reads every snapshot file and checks it against the hash trace.json
 * recorded for it (a file edited or damaged after recording): XD_FORMAT
 * naming the file, or an I/O error.  diff and compare verify every trace
 * a report covers once, before any pair is judged. */
XD_API xd_status xd_trace_verify_snapshots(const xd_trace *t, xd_error *err);
/* The index of tensor / op `name` in t's lists, or -1. */
XD_API int xd_trace_tensor_index(const xd_trace *t, const char *name);
XD_API int xd_trace_op_index(const xd_trace *t, const char *name);
/* The hash t recorded for tensor i after `step` (0: the initial state). */
XD_API uint64_t xd_trace_tensor_hash(const xd_trace *t, int64_t step, size_t i);
/* Op outputs (run --op-outputs-at): whether step has an ops-XXXXXX/ folder,
 * and the output of op `name` there. */
XD_API int xd_trace_has_op_outputs(const xd_trace *t, int64_t step);
XD_API xd_status xd_trace_load_op_output(const xd_trace *t, int64_t step, const char *name, xd_npy_array *out,
                                         xd_error *err);
/* batches.npy: int32 [steps, batch], the training-set indices of each step. */
XD_API xd_status xd_trace_load_batches(const xd_trace *t, xd_npy_array *out, xd_error *err);
/* The trace's directory, device id, mode ("reproducible", "fast"), seed,
 * steps recorded and model name ("seed-cnn", a Keras model's name). */
XD_API const char *xd_trace_dir(const xd_trace *t);
XD_API const char *xd_trace_device_id(const xd_trace *t);
XD_API const char *xd_trace_mode(const xd_trace *t);
XD_API uint64_t xd_trace_seed(const xd_trace *t);
XD_API int64_t xd_trace_steps(const xd_trace *t);
XD_API const char *xd_trace_model(const xd_trace *t);
/* The optimizer the run trained with, in full: its kind from name and
 * variant (a trace from before the forms: PyTorch's Adam), each recorded
 * hyper-parameter over the kind's defaults.  XD_FORMAT naming the trace
 * when the kind is not one crossdev knows. */
XD_API xd_status xd_trace_optimizer(const xd_trace *t, xd_optimizer_spec *out, xd_error *err);
/* The model: model_spec (a trace from before models were data: the
 * built-in its 'model' names).  XD_FORMAT naming the trace and field when
 * neither gives a model crossdev can build. */
XD_API xd_status xd_trace_model_spec(const xd_trace *t, xd_model_spec *out, xd_error *err);
/* data.source: where the data came from ("" when not said); whether it was
 * crossdev's seeded synthetic set. */
XD_API const char *xd_trace_data_source(const xd_trace *t);
XD_API int xd_trace_synthetic(const xd_trace *t);
/* 0 when the device record says the device does not meet reproducible
 * mode's requirements (device.reproducible false); 1 otherwise. */
XD_API int xd_trace_conforming(const xd_trace *t);
/* The trace's device record as JSON text (caller frees with xd_free), or NULL. */
XD_API char *xd_trace_device_json(const xd_trace *t);

#ifdef __cplusplus
}
#endif
#endif
