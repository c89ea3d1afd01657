/* The io stage's internals (no OpenCL): the trace document's writer, the
 * JSON file writer and helpers for messages.  Never installed.  jansson's
 * json_t is only named here, so the stages above io (train) write traces
 * without ever seeing JSON. */
#ifndef XD_HOST_IO_H
#define XD_HOST_IO_H

#include "common/common.h"
#include "crossdev/io.h"
#include "crossdev/model.h"
#include "crossdev/trace.h"

/* xd_npy_write for a file inside a staging folder published whole (a
 * trace's snapshots): written in place, no sync (xd_write_file_staged). */
xd_status xd_npy_write_staged(const char *path, xd_dtype dtype, int ndim, const int64_t *shape, const void *data,
                              xd_error *err);
/* "float32 [10, 21632]": what an .npy holds, for messages. */
void xd_npy_describe(const xd_npy_array *a, char *buf, size_t cap);
/* numpy's name of a dtype: "float32", "int32", "uint8", "int64", "float64". */
const char *xd_dtype_name(xd_dtype dtype);
/* An .npy in a buffer of its own (malloc'd, len bytes; always consumed: the
 * elements are converted in place) whose dtype is one of `dtypes` (bits
 * 1u << xd_dtype: XD_DTYPE_U8, I64 and F64 are read here besides float32
 * and int32); another is refused with "NAME: unsupported dtype 'D' (its
 * numpy name; WHY)".  Otherwise as xd_npy_parse. */
xd_status xd_npy_parse_owned(unsigned char *own, size_t len, const char *name, unsigned dtypes, const char *why,
                             xd_npy_array *out, xd_error *err);

/* ---- images as crossdev trains on them (host/io/npz.c) --------------------------------
 * n images of h x w x c elements of dtype, channels last (as numpy, Keras
 * and IDX files hold them), into float32 NCHW at x:
 *   uint8   x/255.0f, one correctly rounded float division (IDX files too)
 *   float32 as stored
 *   float64 rounded to the nearest float32, as Keras's fit casts it
 * Returns the index of the first image holding a NaN or an infinity (or a
 * float64 beyond float32's range: *overflow set), or -1 when all are
 * finite. */
int64_t xd_images_to_nchw(const void *src, xd_dtype dtype, int64_t n, int64_t h, int64_t w, int64_t c, float *x,
                          int *overflow);

/* ---- .npz data sets (host/io/npz.c) ----------------------------------------------------
 * numpy's zip of .npy files (np.savez, np.savez_compressed) holding
 * x_train, y_train, x_test and y_test as Keras's datasets give them:
 * images (count, rows, cols) or (count, rows, cols, channels) of uint8,
 * float32 or float64 (both sets the same dtype and image shape), labels
 * (count,) or (count, 1) of uint8, int32 or int64, from 0; other entries
 * are ignored.  Refusals name the file and the array: XD_FORMAT. */
typedef struct xd_npz_split {
    int64_t n;
    float *x;   /* [n, C, H, W], xd_images_to_nchw */
    int32_t *y; /* [n] */
} xd_npz_split;
typedef struct xd_npz_data {
    int64_t height, width, channels;
    int32_t max_label;
    xd_dtype x_dtype; /* what the images were stored as */
    xd_npz_split train, test;
} xd_npz_data;
/* An .npz in memory (file names it in messages), or a file. */
xd_status xd_npz_parse(const void *buf, size_t len, const char *file, xd_npz_data *out, xd_error *err);
xd_status xd_npz_read(const char *path, xd_npz_data *out, xd_error *err);
/* Frees the arrays and zeroes *d; NULL-safe. */
void xd_npz_data_free(xd_npz_data *d);
/* Writes a JSON document atomically (xd_write_file_atomic), as trace.json
 * and report.json are written: indented, keys in insertion order, reals
 * with 17 significant digits, a final newline. */
struct json_t;
xd_status xd_json_write_file(struct json_t *root, const char *path, xd_error *err);
/* The same for a file the user named (a report): xd_write_file_user, so
 * "-" is standard output and a device or FIFO is written through. */
xd_status xd_json_write_user(struct json_t *root, const char *path, xd_error *err);

/* ---- the trace document (host/io/trace_write.c) ------------------------------------
 * A run records into a writer as it goes: the tensor names, the hashes of
 * the initial state, one loss and one row of hashes per step, the op hashes
 * of each step (--hash-ops), each snapshot and each evaluation; a resumed
 * run first adopts what its old trace recorded.  xd_trace_writer_write
 * then writes trace.json with the run's metadata (xd_trace_meta), fields in
 * the order of docs/trace-format.md. */
typedef struct xd_trace_writer xd_trace_writer;

/* What trace.json says about the run besides the records. */
typedef struct xd_trace_meta {
    const char *model;           /* "seed-cnn", "mnist-convnet", a Keras model's name */
    const char *model_spec_json; /* the spec (xd_model_spec_json), or NULL ("model_spec": null) */
    uint64_t seed;
    const char *mode; /* "reproducible" / "fast" */
    int64_t batch;
    int64_t steps; /* steps recorded */
    int64_t steps_requested;
    const xd_optimizer_spec *optimizer;
    uint64_t batches_hash;        /* XXH3 of batches.npy's int32 data: the batch order */
    const uint64_t *batch_hashes; /* [steps]: what each step trained on ("batch_hashes"), or NULL */
    struct {
        const char *name, *layout; /* "conv1.weight", "OIHW" */
    } layouts[XD_MAX_LAYERS * 2];
    size_t nlayouts;
    struct {
        const char *name, *source, *scale; /* scale: "x/255", "as stored (float32)", ... */
        int synthetic;
        uint64_t checksum;
        int64_t n_train, n_test, height, width, channels, classes;
    } data;
    struct {
        const char *partial_batch, *shuffle, *init;
        int64_t steps_per_epoch;
    } training;
    int op_hashes;             /* 1: "op_hashes" holds the recorded ops; 0: null */
    const int64_t *op_outputs; /* steps with an ops-XXXXXX/ folder ("op_outputs"; none: null) */
    size_t nop_outputs;
    const char *device_json; /* the device record as text, or NULL ({}) */
    const char *build_options, *guarantee, *crossdev_version;
    struct {
        int64_t step, n;
        double loss, accuracy; /* accuracy NaN: not evaluated ("final": null) */
    } eval;
    int64_t nonfinite_step; /* -1: none ("nonfinite": null) */
    const char *nonfinite_tensor;
    const char *resumed_from; /* NULL: not resumed ("resumed_from": null) */
    int64_t resumed_step;
    struct {
        double seconds_total, seconds_steps;
        uint64_t device_bytes_peak;
    } timing;
} xd_trace_meta;

/* NULL when out of host memory. */
xd_trace_writer *xd_trace_writer_create(void);
void xd_trace_writer_destroy(xd_trace_writer *w);
/* The next tensor of the hash rows (trace order). */
void xd_trace_writer_tensor(xd_trace_writer *w, const char *name);
/* The hashes of the initial state, one per tensor. */
void xd_trace_writer_init(xd_trace_writer *w, const uint64_t *hashes, size_t n);
/* A step: its loss (NaN/Inf recorded as null) and the state's hashes after it. */
void xd_trace_writer_step(xd_trace_writer *w, float loss, const uint64_t *hashes, size_t n);
/* The next op of a step (its name in "op_hashes"."ops"), given before
 * step 1: the plan names them. */
void xd_trace_writer_op_name(xd_trace_writer *w, const char *op);
/* A step's op hashes: begin, one xd_trace_writer_op per op in the order
 * named, end. */
void xd_trace_writer_op_begin(xd_trace_writer *w);
void xd_trace_writer_op(xd_trace_writer *w, uint64_t hash);
void xd_trace_writer_op_end(xd_trace_writer *w);
/* Drops the op-hash rows beyond the first `steps` (a step run but not recorded). */
void xd_trace_writer_op_truncate(xd_trace_writer *w, int64_t steps);
void xd_trace_writer_snapshot(xd_trace_writer *w, int64_t step);
/* An evaluation during training (--eval-every): "eval"."history". */
void xd_trace_writer_eval(xd_trace_writer *w, int64_t step, double loss, double accuracy);
/* A resumed run continues old's records: losses, hash rows, the initial
 * hashes, the evaluation history and, when old has them, the op hashes
 * (their names are this run's, as its tensors' are). */
void xd_trace_writer_adopt(xd_trace_writer *w, const xd_trace *old);
/* Writes trace.json (atomically, xd_json_write_file) at path. */
xd_status xd_trace_writer_write(const xd_trace_writer *w, const xd_trace_meta *meta, const char *path, xd_error *err);

#endif
