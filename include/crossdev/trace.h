/* crossdev — reading traces (format "crossdev-trace", versions
 * XD_TRACE_VERSION_MIN..XD_TRACE_VERSION; see docs/trace-format.md).
 * Writing: host/io/trace_write.c, driven by xd_train_run. */
#ifndef CROSSDEV_TRACE_H
#define CROSSDEV_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "crossdev/io.h"
#include "crossdev/error.h"
#include "crossdev/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XD_TRACE_VERSION 1     /* the version written */
#define XD_TRACE_VERSION_MIN 1 /* the oldest version read */
#define XD_TRACE_NAME_LEN 96
/* op_hashes.updates: what an update op's hash covers, in the order hashed */
#define XD_OP_UPDATES_HASH "parameter, then its optimizer state (m, v)"

/* A parsed and validated trace.json.  Read-only for callers. */
typedef struct xd_trace {
    char dir[1024];
    int version;
    char model[64];
    char mode[32];
    uint64_t seed;
    int64_t batch;
    int64_t steps;           /* steps recorded (loss and hashes hold this many) */
    int64_t steps_requested; /* -1 when the trace does not say */
    char device_id[320];
    char device_name[160];
    char driver[160];
    char build_options[512];
    char guarantee[256];
    char crossdev_version[32];
    char producer[96]; /* a framework trace's "framework framework_version" ("pytorch 1.13.0"); "" for crossdev's */
    char data_name[64];
    int synthetic;
    int has_data_checksum; /* data.checksum: the decoded arrays' hash, what decides "same data" */
    uint64_t data_checksum;
    /* the batch order: "batches_hash" (the XXH3 of batches.npy's int32
     * data), or computed from batches.npy by xd_trace_open for traces that
     * predate the field; 0 when neither is there */
    int has_batches_hash;
    uint64_t batches_hash;
    /* "batch_hashes": per step, the XXH3 of what it trained on (the
     * inputs as float32 in (N, H, W, C) order, then the labels as int32);
     * NULL when the trace does not say */
    uint64_t *batch_hashes;
    struct {
        char name[32];                          /* "adam", "sgd" */
        char variant[16];                       /* "keras", "pytorch"; "" in traces before models were data */
        double lr, beta1, beta2, eps, momentum; /* NaN when absent */
        int nesterov;                           /* -1 when absent */
    } optimizer;
    char partial_batch[32];
    float *loss; /* [steps], loss[k] after step k+1 */
    size_t ntensors;
    char (*tensor_names)[XD_TRACE_NAME_LEN];
    uint64_t *hashes;      /* [steps][ntensors]: state after each step */
    uint64_t *init_hashes; /* [ntensors]: step 0 */
    size_t nops;           /* 0 unless made with --hash-ops */
    int op_updates_state;  /* op_hashes.updates is XD_OP_UPDATES_HASH: an update op's hash covers the
                              parameter and its optimizer state (older traces: the parameter alone) */
    char (*op_names)[XD_TRACE_NAME_LEN];
    uint64_t *op_hashes; /* [steps][nops] */
    size_t nsnapshots;
    int64_t *snapshots;              /* sorted steps with a step-XXXXXX/ folder */
    double test_loss, test_accuracy; /* NaN when not evaluated */
    int64_t eval_n;                  /* test samples of that evaluation (0: not said) */
    size_t nop_outputs;              /* steps with an ops-XXXXXX/ folder (--op-outputs-at) */
    int64_t *op_outputs;
    int64_t nonfinite_step; /* first step with a NaN/Inf, -1 when none */
    char nonfinite_tensor[XD_TRACE_NAME_LEN];
    void *json; /* the parsed document (jansson json_t *) */
} xd_trace;

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
/* The trace's device record as JSON text (caller frees with xd_free), or NULL. */
XD_API char *xd_trace_device_json(const xd_trace *t);

#ifdef __cplusplus
}
#endif
#endif
