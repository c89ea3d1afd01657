/* Writing the trace document (format version 1, docs/trace-format.md);
 * host/io/trace_read.c reads it.  The writer collects what training records
 * step by step (hash rows, losses, op hashes, snapshots, evaluations), then
 * writes trace.json with the run's metadata, fields in the documented order. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "io/trace.h"
#include "spec/keras.h"

/* The document as text with a final newline, through `write` (atomic, or
 * to a file the user named). */
static xd_status json_write(json_t *root, const char *path, int user, xd_error *err)
{
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (!text) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: cannot serialise JSON (out of memory)", path);
    const void *parts[2] = {text, "\n"};
    const size_t sizes[2] = {strlen(text), 1};
    xd_status st =
        user ? xd_write_file_user(path, parts, sizes, 2, err) : xd_write_file_atomic(path, parts, sizes, 2, err);
    free(text);
    return st;
}

xd_status xd_json_write_file(json_t *root, const char *path, xd_error *err) { return json_write(root, path, 0, err); }
xd_status xd_json_write_user(json_t *root, const char *path, xd_error *err) { return json_write(root, path, 1, err); }

/* Each array is a field of trace.json (or of one of its objects); the
 * writer owns them until it is destroyed, the document only borrows them. */
struct xd_trace_writer {
    json_t *tensors;   /* "tensors" */
    json_t *loss;      /* "loss" */
    json_t *init;      /* "hashes"."init" */
    json_t *steps;     /* "hashes"."steps" */
    json_t *op_names;  /* "op_hashes"."ops", named before step 1 */
    json_t *op_steps;  /* "op_hashes"."steps" */
    json_t *op_row;    /* the step being recorded, until xd_trace_writer_op_end */
    json_t *snapshots; /* "snapshots" */
    json_t *history;   /* "eval"."history" */
};

xd_trace_writer *xd_trace_writer_create(void)
{
    xd_trace_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->tensors = json_array();
    w->loss = json_array();
    w->init = json_array();
    w->steps = json_array();
    w->op_names = json_array();
    w->op_steps = json_array();
    w->snapshots = json_array();
    w->history = json_array();
    if (!w->tensors || !w->loss || !w->init || !w->steps || !w->op_names || !w->op_steps || !w->snapshots ||
        !w->history) {
        xd_trace_writer_destroy(w);
        return NULL;
    }
    return w;
}

void xd_trace_writer_destroy(xd_trace_writer *w)
{
    if (!w) return;
    json_decref(w->tensors);
    json_decref(w->loss);
    json_decref(w->init);
    json_decref(w->steps);
    json_decref(w->op_names);
    json_decref(w->op_steps);
    json_decref(w->op_row);
    json_decref(w->snapshots);
    json_decref(w->history);
    free(w);
}

/* NaN and Inf have no JSON spelling: null stands for them. */
static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* Appends "xxh3:<16 hex>" of each hash to arr. */
static void append_hashes(json_t *arr, const uint64_t *hashes, size_t n)
{
    for (size_t k = 0; k < n; ++k) {
        char hex[24];
        xd_hash_hex(hashes[k], hex);
        json_array_append_new(arr, json_string(hex));
    }
}

/* A new array of "xxh3:<16 hex>" strings. */
static json_t *hash_list(const uint64_t *hashes, int64_t n)
{
    json_t *arr = json_array();
    append_hashes(arr, hashes, (size_t)n);
    return arr;
}

void xd_trace_writer_tensor(xd_trace_writer *w, const char *name)
{
    json_array_append_new(w->tensors, json_string(name));
}

void xd_trace_writer_init(xd_trace_writer *w, const uint64_t *hashes, size_t n) { append_hashes(w->init, hashes, n); }

void xd_trace_writer_step(xd_trace_writer *w, float loss, const uint64_t *hashes, size_t n)
{
    json_t *row = json_array();
    append_hashes(row, hashes, n);
    json_array_append_new(w->steps, row);
    json_array_append_new(w->loss, real_or_null(loss));
}

void xd_trace_writer_op_name(xd_trace_writer *w, const char *op)
{
    json_array_append_new(w->op_names, json_string(op));
}

void xd_trace_writer_op_begin(xd_trace_writer *w)
{
    json_decref(w->op_row);
    w->op_row = json_array();
}

void xd_trace_writer_op(xd_trace_writer *w, uint64_t hash)
{
    char hex[24];
    xd_hash_hex(hash, hex);
    json_array_append_new(w->op_row, json_string(hex));
}

void xd_trace_writer_op_end(xd_trace_writer *w)
{
    json_array_append_new(w->op_steps, w->op_row);
    w->op_row = NULL;
}

void xd_trace_writer_op_truncate(xd_trace_writer *w, int64_t steps)
{
    while ((int64_t)json_array_size(w->op_steps) > steps)
        json_array_remove(w->op_steps, json_array_size(w->op_steps) - 1);
}

void xd_trace_writer_snapshot(xd_trace_writer *w, int64_t step)
{
    json_array_append_new(w->snapshots, json_integer(step));
}

void xd_trace_writer_eval(xd_trace_writer *w, int64_t step, double loss, double accuracy)
{
    json_array_append_new(w->history, json_pack("{s:I, s:o, s:f}", "step", (json_int_t)step, "loss", real_or_null(loss),
                                                "accuracy", accuracy));
}

void xd_trace_writer_adopt(xd_trace_writer *w, const xd_trace *old)
{
    json_t *root = old->doc;
    json_array_extend(w->loss, json_object_get(root, "loss"));
    json_array_extend(w->steps, json_object_get(json_object_get(root, "hashes"), "steps"));
    json_array_extend(w->init, json_object_get(json_object_get(root, "hashes"), "init"));
    json_array_extend(w->history, json_object_get(json_object_get(root, "eval"), "history"));
    if (old->nops) json_array_extend(w->op_steps, json_object_get(json_object_get(root, "op_hashes"), "steps"));
}

/* ---- trace.json --------------------------------------------------------------------
 * Each function below makes one field.  Reals go through json_pack's "f"
 * (a double) and are printed with 17 significant digits by
 * xd_json_write_file, enough to read back the same double. */

/* The optimizer and its form: Adam in PyTorch's form (crossdev's own, the
 * default for seed-cnn) or Keras's; SGD likewise (docs/models.md). */
static json_t *settings_optimizer(const xd_trace_meta *m)
{
    const xd_optimizer_spec *o = m->optimizer;
    const char *variant = o->kind == XD_OPT_ADAM_KERAS || o->kind == XD_OPT_SGD_KERAS ? "keras" : "pytorch";
    json_t *j;
    if (o->kind == XD_OPT_ADAM_PYTORCH || o->kind == XD_OPT_ADAM_KERAS)
        j = json_pack("{s:s, s:s, s:f, s:f, s:f, s:f}", "name", "adam", "variant", variant, "lr", o->lr, "beta1",
                      o->beta1, "beta2", o->beta2, "eps", o->eps);
    else
        j = json_pack("{s:s, s:s, s:f, s:f, s:b}", "name", "sgd", "variant", variant, "lr", o->lr, "momentum",
                      o->momentum, "nesterov", o->nesterov);
    /* a learning-rate schedule only where there is one: other traces read as before */
    if (j && o->schedule.kind != XD_LR_CONSTANT) json_object_set_new(j, "schedule", xd_lr_schedule_json(&o->schedule));
    return j;
}

static json_t *settings_data(const xd_trace_meta *m)
{
    char sum[24];
    xd_hash_hex(m->data.checksum, sum);
    return json_pack("{s:s, s:s, s:b, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "name", m->data.name, "source",
                     m->data.source, "synthetic", m->data.synthetic, "scale", m->data.scale ? m->data.scale : "x/255",
                     "checksum", sum, "n_train", (json_int_t)m->data.n_train, "n_test", (json_int_t)m->data.n_test,
                     "height", (json_int_t)m->data.height, "width", (json_int_t)m->data.width, "channels",
                     (json_int_t)m->data.channels, "classes", (json_int_t)m->data.classes);
}

/* The layouts every tensor file and hash is in: the input, each weight
 * that has one (conv OIHW, dense OI), a Flatten's order, the files. */
static json_t *settings_layout(const xd_trace_meta *m)
{
    json_t *l = json_object();
    json_object_set_new(l, "input", json_string("NCHW"));
    for (size_t i = 0; i < m->nlayouts; ++i)
        json_object_set_new(l, m->layouts[i].name, json_string(m->layouts[i].layout));
    json_object_set_new(l, "flatten", json_string("CHW"));
    json_object_set_new(l, "npy", json_string("<f4 C-order"));
    return l;
}

/* The model's spec as an object ({} when it cannot be read back: never). */
static json_t *settings_model_spec(const xd_trace_meta *m)
{
    if (!m->model_spec_json) return json_null();
    json_t *spec = json_loads(m->model_spec_json, 0, NULL);
    return spec ? spec : json_object();
}

static json_t *settings_training(const xd_trace_meta *m)
{
    return json_pack("{s:s, s:s, s:I, s:s}", "partial_batch", m->training.partial_batch, "shuffle", m->training.shuffle,
                     "steps_per_epoch", (json_int_t)m->training.steps_per_epoch, "init", m->training.init);
}

/* The device record as `crossdev-compare list --json` gives it ({} when absent). */
static json_t *device_record(const xd_trace_meta *m)
{
    json_t *dev = m->device_json ? json_loads(m->device_json, 0, NULL) : NULL;
    return dev ? dev : json_object();
}

static json_t *outcome_eval(const xd_trace_writer *w, const xd_trace_meta *m)
{
    json_t *final = isfinite(m->eval.accuracy) ? json_pack("{s:I, s:o, s:f, s:I}", "step", (json_int_t)m->eval.step,
                                                           "loss", real_or_null(m->eval.loss), "accuracy",
                                                           m->eval.accuracy, "n", (json_int_t)m->eval.n)
                                               : json_null();
    return json_pack("{s:o, s:O}", "final", final, "history", w->history);
}

static json_t *outcome_nonfinite(const xd_trace_meta *m)
{
    if (m->nonfinite_step < 0) return json_null();
    return json_pack("{s:I, s:s}", "step", (json_int_t)m->nonfinite_step, "tensor", m->nonfinite_tensor);
}

static json_t *outcome_resumed_from(const xd_trace_meta *m)
{
    if (!m->resumed_from) return json_null();
    return json_pack("{s:s, s:I}", "trace", m->resumed_from, "step", (json_int_t)m->resumed_step);
}

/* The records: one loss and one hash row per step, op hashes, snapshots. */
static void add_records(json_t *root, const xd_trace_writer *w, const xd_trace_meta *m)
{
    json_object_set(root, "tensors", w->tensors);
    json_object_set(root, "loss", w->loss);
    json_object_set_new(
        root, "hashes",
        json_pack("{s:s, s:O, s:O}", "algorithm", "xxh3-64 of the float32 bytes", "init", w->init, "steps", w->steps));
    json_object_set_new(root, "op_hashes",
                        m->op_hashes ? json_pack("{s:O, s:s, s:O}", "ops", w->op_names, "updates", XD_OP_UPDATES_HASH,
                                                 "steps", w->op_steps)
                                     : json_null());
    json_object_set(root, "snapshots", w->snapshots);
    json_t *ops = m->nop_outputs ? json_array() : json_null();
    for (size_t i = 0; i < m->nop_outputs; ++i) json_array_append_new(ops, json_integer(m->op_outputs[i]));
    json_object_set_new(root, "op_outputs", ops);
}

static json_t *document(const xd_trace_writer *w, const xd_trace_meta *m)
{
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string("crossdev-trace"));
    json_object_set_new(root, "version", json_integer(XD_TRACE_VERSION));
    json_object_set_new(root, "model", json_string(m->model));
    json_object_set_new(root, "model_spec", settings_model_spec(m));
    json_object_set_new(root, "seed", json_integer((json_int_t)m->seed));
    json_object_set_new(root, "mode", json_string(m->mode));
    json_object_set_new(root, "batch", json_integer(m->batch));
    json_object_set_new(root, "steps", json_integer(m->steps));
    json_object_set_new(root, "steps_requested", json_integer(m->steps_requested));
    char bh[24];
    xd_hash_hex(m->batches_hash, bh);
    json_object_set_new(root, "batches_hash", json_string(bh));
    if (m->batch_hashes) json_object_set_new(root, "batch_hashes", hash_list(m->batch_hashes, m->steps));
    json_object_set_new(root, "optimizer", settings_optimizer(m));
    json_object_set_new(root, "data", settings_data(m));
    json_object_set_new(root, "layout", settings_layout(m));
    json_object_set_new(root, "training", settings_training(m));
    add_records(root, w, m);
    json_object_set_new(root, "device", device_record(m));
    json_object_set_new(root, "build_options", json_string(m->build_options));
    json_object_set_new(root, "guarantee", json_string(m->guarantee));
    json_object_set_new(root, "crossdev_version", json_string(m->crossdev_version));
    json_object_set_new(root, "eval", outcome_eval(w, m));
    json_object_set_new(root, "nonfinite", outcome_nonfinite(m));
    json_object_set_new(root, "resumed_from", outcome_resumed_from(m));
    json_object_set_new(root, "timing",
                        json_pack("{s:f, s:f, s:I}", "seconds_total", m->timing.seconds_total, "seconds_steps",
                                  m->timing.seconds_steps, "device_bytes_peak",
                                  (json_int_t)m->timing.device_bytes_peak));
    return root;
}

xd_status xd_trace_writer_write(const xd_trace_writer *w, const xd_trace_meta *meta, const char *path, xd_error *err)
{
    json_t *root = document(w, meta);
    xd_status st = xd_json_write_file(root, path, err);
    json_decref(root);
    return st;
}
