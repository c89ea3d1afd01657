/* Trace reading and validation (format versions 1.., docs/trace-format.md):
 * pure parsing, no device, so the fuzzer and `diff` use it alone. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/common.h"
#include "io/trace.h"
#include "spec/keras.h"

/* ---- reading -------------------------------------------------------------------- */
void xd_trace_close(xd_trace *t)
{
    if (!t) return;
    free(t->loss);
    free(t->tensor_names);
    free(t->hashes);
    free(t->init_hashes);
    free(t->op_names);
    free(t->op_hashes);
    free(t->batch_hashes);
    free(t->snapshots);
    free(t->op_outputs);
    json_decref(t->doc);
    free(t);
}

/* In the parsers below: set the message, return XD_FORMAT. */
#define FAIL(...)                       \
    do {                                \
        xd_error_msg(err, __VA_ARGS__); \
        return XD_FORMAT;               \
    } while (0)

static int parse_hash(json_t *v, uint64_t *out)
{
    const char *s = json_string_value(v);
    if (!s || strncmp(s, "xxh3:", 5) != 0 || strlen(s) != 21) return 0;
    uint64_t h = 0;
    for (const char *p = s + 5; *p; ++p) {
        int d = (*p >= '0' && *p <= '9') ? *p - '0' : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10 : -1;
        if (d < 0) return 0;
        h = (h << 4) | (uint64_t)d;
    }
    *out = h;
    return 1;
}

static int get_string(json_t *o, const char *key, char *dst, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s) return 0;
    snprintf(dst, cap, "%s", s);
    return 1;
}

/* An optional string field: absent or null is fine (dst left empty), any
 * other type is refused (returns 0). */
static int opt_string(json_t *o, const char *key, char *dst, size_t cap)
{
    json_t *v = json_object_get(o, key);
    return !v || json_is_null(v) || get_string(o, key, dst, cap);
}

/* seed: a non-negative integer, or a string of decimal digits alone (up to
 * 2^64-1, for seeds beyond JSON's integers); anything else is refused. */
static int get_seed(json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 1;
    }
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > 20) return 0;
    uint64_t x = 0;
    for (const char *p = s; *p; ++p) {
        if (*p < '0' || *p > '9') return 0;
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10) return 0;
        x = x * 10 + d;
    }
    *out = x;
    return 1;
}

/* For a message about text that is not JSON (NaN, Infinity, a cut-off
 * file): the key of the nearest `"key":` before byte `pos`, i.e. the field
 * the parser was in.  A guess from the text, not a parse; "" when none. */
static void key_before(const char *text, size_t len, size_t pos, char *out, size_t cap)
{
    out[0] = '\0';
    if (pos > len) pos = len;
    for (size_t i = pos; i-- > 1;) {
        if (text[i] != ':') continue;
        size_t j = i;
        while (j > 0 && (text[j - 1] == ' ' || text[j - 1] == '\t' || text[j - 1] == '\n' || text[j - 1] == '\r')) --j;
        if (j < 2 || text[j - 1] != '"') continue;
        size_t end = j - 1, k = end; /* text[end] is the closing quote */
        while (k > 0 && text[k - 1] != '"' && text[k - 1] != '\n' && end - k < 64) --k;
        if (k == 0 || text[k - 1] != '"' || k == end || end - k >= cap) continue;
        int printable = 1;
        for (size_t m = k; m < end; ++m)
            if ((unsigned char)text[m] < 0x20 || text[m] == '\\') printable = 0;
        if (!printable) continue;
        memcpy(out, text + k, end - k);
        out[end - k] = '\0';
        return;
    }
}

static void json_error_message(const char *text, size_t len, const char *name, const json_error_t *je, xd_error *err)
{
    char key[72] = "";
    enum json_error_code code = json_error_code(je);
    /* a duplicate key names itself in je->text; text after the document is in no field */
    if (code != json_error_duplicate_key && code != json_error_end_of_input_expected)
        key_before(text, len, je->position > 0 ? (size_t)je->position : 0, key, sizeof key);
    if (key[0])
        xd_error_msg(err, "%s: not valid JSON at line %d, column %d, %s field '%s': %s", name, je->line, je->column,
                     code == json_error_premature_end_of_input ? "cut off after" : "in", key, je->text);
    else xd_error_msg(err, "%s: not valid JSON at line %d, column %d: %s", name, je->line, je->column, je->text);
}

/* A non-negative integer field below `max`. */
static int get_count(json_t *o, const char *key, int64_t max, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return 0;
    json_int_t i = json_integer_value(v);
    if (i < 0 || i > max) return 0;
    *out = (int64_t)i;
    return 1;
}

/* A framework trace's producer as "framework version"; absent or null is a
 * crossdev trace (""). */
static int read_producer(json_t *prod, char *out, size_t cap)
{
    char fw[40], ver[48];
    out[0] = '\0';
    if (!prod || json_is_null(prod)) return 1;
    if (!json_is_object(prod) || !get_string(prod, "framework", fw, sizeof fw) ||
        !get_string(prod, "framework_version", ver, sizeof ver))
        return 0;
    snprintf(out, cap, "%s %s", fw, ver);
    return 1;
}

/* format, version, model, mode, seed, batch, steps, device, build options,
 * guarantee, version, data, training. */
static xd_status parse_header(json_t *root, const char *name, xd_trace *t, xd_error *err)
{
    if (!json_is_object(root)) FAIL("%s: not a JSON object", name);
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!fmt) FAIL("%s: field 'format' missing or not a string (expected \"crossdev-trace\")", name);
    if (strcmp(fmt, "crossdev-trace") != 0) FAIL("%s: field 'format' is \"%.40s\", not \"crossdev-trace\"", name, fmt);
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver))
        FAIL("%s: field 'version' missing or not an integer (this crossdev reads versions %d to %d)", name,
             XD_TRACE_VERSION_MIN, XD_TRACE_VERSION);
    if (json_integer_value(ver) < XD_TRACE_VERSION_MIN || json_integer_value(ver) > XD_TRACE_VERSION)
        FAIL("%s: field 'version' is %lld: not supported (this crossdev reads versions %d to %d)", name,
             (long long)json_integer_value(ver), XD_TRACE_VERSION_MIN, XD_TRACE_VERSION);
    t->version = (int)json_integer_value(ver);
    if (!get_string(root, "model", t->model, sizeof t->model)) FAIL("%s: field 'model' missing or not a string", name);
    if (!get_string(root, "mode", t->mode, sizeof t->mode) ||
        (strcmp(t->mode, "reproducible") != 0 && strcmp(t->mode, "fast") != 0))
        FAIL("%s: field 'mode' must be \"reproducible\" or \"fast\"", name);
    if (!get_seed(json_object_get(root, "seed"), &t->seed))
        FAIL("%s: field 'seed' missing or not a non-negative integer", name);
    if (!get_count(root, "batch", INT64_C(1) << 31, &t->batch) || t->batch < 1)
        FAIL("%s: field 'batch' missing or not a positive integer", name);
    if (!get_count(root, "steps", INT64_C(1) << 40, &t->steps))
        FAIL("%s: field 'steps' missing or not a non-negative integer", name);
    json_t *dev = json_object_get(root, "device");
    if (!json_is_object(dev)) FAIL("%s: field 'device' missing or not an object", name);
    if (!get_string(dev, "id", t->device_id, sizeof t->device_id))
        FAIL("%s: field 'device.id' missing or not a string", name);
    if (!opt_string(dev, "name", t->device_name, sizeof t->device_name))
        FAIL("%s: field 'device.name' is not a string", name);
    if (!opt_string(dev, "driver", t->driver, sizeof t->driver))
        FAIL("%s: field 'device.driver' is not a string", name);
    if (!opt_string(root, "build_options", t->build_options, sizeof t->build_options))
        FAIL("%s: field 'build_options' is not a string", name);
    if (!opt_string(root, "guarantee", t->guarantee, sizeof t->guarantee))
        FAIL("%s: field 'guarantee' is not a string", name);
    if (!opt_string(root, "crossdev_version", t->crossdev_version, sizeof t->crossdev_version))
        FAIL("%s: field 'crossdev_version' is not a string", name);
    if (!read_producer(json_object_get(root, "producer"), t->producer, sizeof t->producer))
        FAIL("%s: field 'producer' is not an object with strings 'framework' and 'framework_version'", name);
    json_t *data = json_object_get(root, "data");
    if (!json_is_object(data)) FAIL("%s: field 'data' missing or not an object", name);
    if (!get_string(data, "name", t->data_name, sizeof t->data_name))
        FAIL("%s: field 'data.name' missing or not a string", name);
    /* the report labels synthetic data as such: never guess it */
    json_t *synth = json_object_get(data, "synthetic");
    if (!json_is_boolean(synth)) FAIL("%s: field 'data.synthetic' missing or not true/false", name);
    t->synthetic = json_is_true(synth);
    const char *source = json_string_value(json_object_get(data, "source"));
    if (source) snprintf(t->data_source, sizeof t->data_source, "%s", source);
    json_t *training = json_object_get(root, "training");
    if (training && !json_is_object(training)) FAIL("%s: field 'training' is not an object", name);
    if (!opt_string(training, "partial_batch", t->partial_batch, sizeof t->partial_batch))
        FAIL("%s: field 'training.partial_batch' is not a string", name);
    return XD_OK;
}

/* An optional "xxh3:<16 hex>" field: absent or null leaves *has 0. */
static int opt_hash(json_t *o, const char *key, uint64_t *out, int *has)
{
    json_t *v = json_object_get(o, key);
    *has = 0;
    if (!v || json_is_null(v)) return 1;
    return *has = parse_hash(v, out);
}

/* An optional number: absent or null gives NaN. */
static int opt_number(json_t *o, const char *key, double *out)
{
    json_t *v = json_object_get(o, key);
    *out = NAN;
    if (!v || json_is_null(v)) return 1;
    if (!json_is_number(v)) return 0;
    *out = json_number_value(v);
    return 1;
}

/* The settings a comparison and a resumed run read besides the header,
 * each optional (older traces lack some): steps_requested, data.checksum,
 * batches_hash and the optimizer's hyper-parameters. */
static xd_status parse_settings(json_t *root, const char *name, xd_trace *t, xd_error *err)
{
    json_t *req = json_object_get(root, "steps_requested");
    t->steps_requested = -1;
    if (req && !json_is_null(req) && !get_count(root, "steps_requested", INT64_C(1) << 40, &t->steps_requested))
        FAIL("%s: field 'steps_requested' is not a non-negative integer", name);
    if (!opt_hash(json_object_get(root, "data"), "checksum", &t->data_checksum, &t->has_data_checksum))
        FAIL("%s: field 'data.checksum' is not an \"xxh3:<16 hex>\" hash", name);
    if (!opt_hash(root, "batches_hash", &t->batches_hash, &t->has_batches_hash))
        FAIL("%s: field 'batches_hash' is not an \"xxh3:<16 hex>\" hash", name);
    json_t *opt = json_object_get(root, "optimizer");
    if (opt && !json_is_object(opt) && !json_is_null(opt)) FAIL("%s: field 'optimizer' is not an object", name);
    if (!opt_string(opt, "name", t->optimizer.name, sizeof t->optimizer.name))
        FAIL("%s: field 'optimizer.name' is not a string", name);
    if (!opt_string(opt, "variant", t->optimizer.variant, sizeof t->optimizer.variant))
        FAIL("%s: field 'optimizer.variant' is not a string", name);
    static const char *const keys[5] = {"lr", "beta1", "beta2", "eps", "momentum"};
    double *vals[5] = {&t->optimizer.lr, &t->optimizer.beta1, &t->optimizer.beta2, &t->optimizer.eps,
                       &t->optimizer.momentum};
    for (int i = 0; i < 5; ++i)
        if (!opt_number(opt, keys[i], vals[i])) FAIL("%s: field 'optimizer.%s' is not a number", name, keys[i]);
    json_t *nest = json_object_get(opt, "nesterov");
    if (nest && !json_is_boolean(nest) && !json_is_null(nest))
        FAIL("%s: field 'optimizer.nesterov' is not true or false", name);
    t->optimizer.nesterov = json_is_boolean(nest) ? json_is_true(nest) : -1;
    json_t *sched = json_object_get(opt, "schedule");
    if (sched &&
        xd_lr_schedule_from_json(sched, name, "field 'optimizer.schedule'", &t->optimizer.schedule, err) != XD_OK)
        return XD_FORMAT;
    return XD_OK;
}

/* loss: one number (or null for a non-finite loss) per step */
static xd_status parse_loss(json_t *root, const char *name, xd_trace *t, xd_error *err)
{
    json_t *loss = json_object_get(root, "loss");
    if (!json_is_array(loss)) FAIL("%s: field 'loss' missing or not an array", name);
    if ((int64_t)json_array_size(loss) != t->steps)
        FAIL("%s: field 'loss' has %zu entries, expected %lld (steps)", name, json_array_size(loss),
             (long long)t->steps);
    t->loss = malloc(((size_t)t->steps + 1) * sizeof *t->loss);
    if (!t->loss) FAIL("%s: out of memory", name);
    for (int64_t k = 0; k < t->steps; ++k) {
        json_t *x = json_array_get(loss, (size_t)k);
        if (json_is_null(x)) t->loss[k] = NAN;
        else if (json_is_number(x)) t->loss[k] = (float)json_number_value(x);
        else FAIL("%s: field 'loss[%lld]' is not a number or null", name, (long long)k);
    }
    return XD_OK;
}

/* A name list (tensors, op_hashes.ops): each name shorter than
 * XD_TRACE_NAME_LEN; tensor names (slash_ok 0) also non-empty, without '/'. */
static xd_status parse_names(json_t *arr, const char *name, const char *field, int slash_ok,
                             char (**out)[XD_TRACE_NAME_LEN], size_t *n, xd_error *err)
{
    *n = json_array_size(arr);
    *out = calloc(*n ? *n : 1, sizeof **out);
    if (!*out) FAIL("%s: out of memory", name);
    for (size_t i = 0; i < *n; ++i) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s || (!slash_ok && (!*s || strchr(s, '/'))) || strlen(s) >= XD_TRACE_NAME_LEN)
            FAIL("%s: field '%s[%zu]' is not a %s", name, field, i, slash_ok ? "name" : "valid tensor name");
        snprintf((*out)[i], XD_TRACE_NAME_LEN, "%s", s);
    }
    return XD_OK;
}

/* rows: `nrows` arrays of `ncols` "xxh3:" hashes into out[row * ncols + col]
 * (hashes.steps per tensor, op_hashes.steps per op). */
static xd_status parse_hash_matrix(json_t *rows, const char *name, const char *field, const char *per, int64_t nrows,
                                   size_t ncols, uint64_t *out, xd_error *err)
{
    for (int64_t k = 0; k < nrows; ++k) {
        json_t *row = json_array_get(rows, (size_t)k);
        if (!json_is_array(row) || json_array_size(row) != ncols)
            FAIL("%s: field '%s[%lld]' is not a row of %zu hashes (one per %s)", name, field, (long long)k, ncols, per);
        for (size_t i = 0; i < ncols; ++i)
            if (!parse_hash(json_array_get(row, i), &out[(size_t)k * ncols + i]))
                FAIL("%s: field '%s[%lld][%zu]' is not an \"xxh3:<16 hex>\" hash", name, field, (long long)k, i);
    }
    return XD_OK;
}

static xd_status parse_tensors_and_hashes(json_t *root, const char *name, xd_trace *t, xd_error *err)
{
    json_t *tensors = json_object_get(root, "tensors");
    if (!json_is_array(tensors) || json_array_size(tensors) == 0 || json_array_size(tensors) > 1024)
        FAIL("%s: field 'tensors' missing or not a non-empty array", name);
    xd_status st = parse_names(tensors, name, "tensors", 0, &t->tensor_names, &t->ntensors, err);
    if (st != XD_OK) return st;
    json_t *hashes = json_object_get(root, "hashes");
    json_t *init = json_object_get(hashes, "init"), *steps = json_object_get(hashes, "steps");
    if (!json_is_object(hashes) || !json_is_array(init) || !json_is_array(steps))
        FAIL("%s: field 'hashes' must hold arrays 'init' and 'steps'", name);
    if (json_array_size(init) != t->ntensors)
        FAIL("%s: field 'hashes.init' has %zu entries, expected %zu (tensors)", name, json_array_size(init),
             t->ntensors);
    if ((int64_t)json_array_size(steps) != t->steps)
        FAIL("%s: field 'hashes.steps' has %zu rows, expected %lld (steps)", name, json_array_size(steps),
             (long long)t->steps);
    t->init_hashes = calloc(t->ntensors, sizeof *t->init_hashes);
    t->hashes = calloc((size_t)t->steps * t->ntensors + 1, sizeof *t->hashes);
    if (!t->init_hashes || !t->hashes) FAIL("%s: out of memory", name);
    for (size_t i = 0; i < t->ntensors; ++i)
        if (!parse_hash(json_array_get(init, i), &t->init_hashes[i]))
            FAIL("%s: field 'hashes.init[%zu]' is not an \"xxh3:<16 hex>\" hash", name, i);
    return parse_hash_matrix(steps, name, "hashes.steps", "tensor", t->steps, t->ntensors, t->hashes, err);
}

/* op_hashes: null, or the op names and one row of hashes per step */
static xd_status parse_op_hashes(json_t *root, const char *name, xd_trace *t, xd_error *err)
{
    json_t *ops = json_object_get(root, "op_hashes");
    if (!ops || json_is_null(ops)) return XD_OK;
    json_t *names = json_object_get(ops, "ops"), *rows = json_object_get(ops, "steps");
    if (!json_is_array(names) || !json_is_array(rows) || json_array_size(names) == 0 || json_array_size(names) > 4096 ||
        (int64_t)json_array_size(rows) != t->steps)
        FAIL("%s: field 'op_hashes' must hold 'ops' and 'steps', one row of hashes per step", name);
    xd_status st = parse_names(names, name, "op_hashes.ops", 1, &t->op_names, &t->nops, err);
    if (st != XD_OK) return st;
    const char *updates = json_string_value(json_object_get(ops, "updates"));
    t->op_updates_state = updates && strcmp(updates, XD_OP_UPDATES_HASH) == 0;
    t->op_hashes = calloc((size_t)t->steps * t->nops + 1, sizeof *t->op_hashes);
    if (!t->op_hashes) FAIL("%s: out of memory", name);
    return parse_hash_matrix(rows, name, "op_hashes.steps", "op", t->steps, t->nops, t->op_hashes, err);
}

/* batch_hashes: absent (older traces, recorders not given the batches), or
 * one hash per step of what the step trained on. */
static xd_status parse_batch_hashes(json_t *root, const char *name, xd_trace *t, xd_error *err)
{
    json_t *arr = json_object_get(root, "batch_hashes");
    if (!arr || json_is_null(arr)) return XD_OK;
    if (!json_is_array(arr) || (int64_t)json_array_size(arr) != t->steps)
        FAIL("%s: field 'batch_hashes' must be an array of %lld hashes (one per step)", name, (long long)t->steps);
    t->batch_hashes = calloc((size_t)t->steps + 1, sizeof *t->batch_hashes);
    if (!t->batch_hashes) FAIL("%s: out of memory", name);
    for (int64_t k = 0; k < t->steps; ++k)
        if (!parse_hash(json_array_get(arr, (size_t)k), &t->batch_hashes[k]))
            FAIL("%s: field 'batch_hashes[%lld]' is not an \"xxh3:<16 hex>\" hash", name, (long long)k);
    return XD_OK;
}

/* A list of steps in 0..steps, increasing (snapshots, op_outputs). */
static xd_status parse_steps(json_t *arr, const char *name, const char *field, int64_t steps, int64_t **out, size_t *n,
                             xd_error *err)
{
    *n = json_array_size(arr);
    *out = calloc(*n ? *n : 1, sizeof **out);
    if (!*out) FAIL("%s: out of memory", name);
    for (size_t i = 0; i < *n; ++i) {
        json_t *s = json_array_get(arr, i);
        if (!json_is_integer(s) || json_integer_value(s) < 0 || json_integer_value(s) > steps ||
            (i && json_integer_value(s) <= (*out)[i - 1]))
            FAIL("%s: field '%s[%zu]' is not a step in 0..%lld in increasing order", name, field, i, (long long)steps);
        (*out)[i] = (int64_t)json_integer_value(s);
    }
    return XD_OK;
}

/* snapshots: a non-empty list of steps; op_outputs: null or a list of steps */
static xd_status parse_snapshots(json_t *root, const char *name, xd_trace *t, xd_error *err)
{
    json_t *snaps = json_object_get(root, "snapshots");
    if (!json_is_array(snaps) || json_array_size(snaps) == 0) FAIL("%s: field 'snapshots' missing or empty", name);
    xd_status st = parse_steps(snaps, name, "snapshots", t->steps, &t->snapshots, &t->nsnapshots, err);
    json_t *ops = json_object_get(root, "op_outputs");
    if (st != XD_OK || !ops || json_is_null(ops)) return st;
    if (!json_is_array(ops)) FAIL("%s: field 'op_outputs' is not a list of steps", name);
    return parse_steps(ops, name, "op_outputs", t->steps, &t->op_outputs, &t->nop_outputs, err);
}

/* eval.final: null (not evaluated) or {accuracy, loss (null when not
 * finite), ...}; nonfinite: null or {step, tensor} */
static xd_status parse_outcome(json_t *root, const char *name, xd_trace *t, xd_error *err)
{
    json_t *ev = json_object_get(root, "eval");
    if (ev && !json_is_object(ev) && !json_is_null(ev)) FAIL("%s: field 'eval' is not an object", name);
    json_t *fin = json_object_get(ev, "final");
    if (fin && !json_is_object(fin) && !json_is_null(fin))
        FAIL("%s: field 'eval.final' is not an object or null", name);
    if (json_is_object(fin)) {
        json_t *a = json_object_get(fin, "accuracy"), *l = json_object_get(fin, "loss");
        if (!json_is_number(a) || json_number_value(a) < 0 || json_number_value(a) > 1)
            FAIL("%s: field 'eval.final.accuracy' missing or not a number in 0..1", name);
        if (l && !json_is_null(l) && !json_is_number(l))
            FAIL("%s: field 'eval.final.loss' is not a number or null", name);
        t->test_accuracy = json_number_value(a);
        if (json_is_number(l)) t->test_loss = json_number_value(l);
        json_t *n = json_object_get(fin, "n");
        if (n && !get_count(fin, "n", INT64_C(1) << 40, &t->eval_n))
            FAIL("%s: field 'eval.final.n' is not a non-negative integer", name);
    }
    json_t *nf = json_object_get(root, "nonfinite");
    if (nf && !json_is_object(nf) && !json_is_null(nf)) FAIL("%s: field 'nonfinite' is not an object or null", name);
    if (json_is_object(nf)) {
        int64_t s;
        if (!get_count(nf, "step", t->steps, &s))
            FAIL("%s: field 'nonfinite.step' is not a step in 0..%lld", name, (long long)t->steps);
        t->nonfinite_step = s;
        if (!opt_string(nf, "tensor", t->nonfinite_tensor, sizeof t->nonfinite_tensor))
            FAIL("%s: field 'nonfinite.tensor' is not a string", name);
    }
    return XD_OK;
}

/* The document, in the order of docs/trace-format.md; root is owned by the
 * trace from here on. */
static xd_status parse_root(json_t *root, const char *name, xd_trace **out, xd_error *err)
{
    xd_trace *t = calloc(1, sizeof *t);
    if (!t) {
        json_decref(root);
        return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory", name);
    }
    t->doc = root;
    t->test_loss = t->test_accuracy = NAN;
    t->nonfinite_step = -1;
    xd_status st = parse_header(root, name, t, err);
    if (st == XD_OK) st = parse_settings(root, name, t, err);
    if (st == XD_OK) st = parse_loss(root, name, t, err);
    if (st == XD_OK) st = parse_tensors_and_hashes(root, name, t, err);
    if (st == XD_OK) st = parse_op_hashes(root, name, t, err);
    if (st == XD_OK) st = parse_batch_hashes(root, name, t, err);
    if (st == XD_OK) st = parse_snapshots(root, name, t, err);
    if (st == XD_OK) st = parse_outcome(root, name, t, err);
    if (st != XD_OK) {
        xd_trace_close(t);
        return st;
    }
    *out = t;
    return XD_OK;
}

static xd_status trace_parse(const char *text, size_t len, const char *name, xd_trace **out, xd_error *err)
{
    if (!text || !out) return XD_INVALID_ARGUMENT;
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        json_error_message(text, len, name, &je, err);
        return XD_FORMAT;
    }
    return parse_root(root, name, out, err);
}

xd_status xd_trace_parse(const char *text, size_t len, const char *name, xd_trace **out, xd_error *err)
{
    return xd_error_return(err, trace_parse(text, len, name, out, err));
}

/* trace.json, read whole: a message that says what is wrong with the path. */
static xd_status read_trace_json(const char *path, char **text, size_t *len, xd_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return xd_error_set(err, XD_IO, 0, "%s: %s (not a crossdev trace directory?)", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return xd_error_set(err, XD_IO, 0, "%s: not a regular file", path);
    return xd_read_file(path, text, len, err);
}

/* Every listed snapshot must be there, with every tensor, and every listed
 * op-output folder. */
static xd_status check_snapshot_files(const xd_trace *t, const char *dir, xd_error *err)
{
    for (size_t i = 0; i < t->nop_outputs; ++i) {
        char p[XD_PATH_MAX];
        struct stat sb;
        xd_status st = xd_path(p, sizeof p, err, "%s/ops-%06lld", dir, (long long)t->op_outputs[i]);
        if (st != XD_OK) return st;
        if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return xd_error_set(
                err, XD_FORMAT, 0,
                "%s: op-output folder missing (step %lld is listed in %s/trace.json field 'op_outputs')", p,
                (long long)t->op_outputs[i], dir);
    }
    for (size_t i = 0; i < t->nsnapshots; ++i) {
        for (size_t k = 0; k < t->ntensors; ++k) {
            char p[XD_PATH_MAX];
            struct stat sb;
            xd_status st =
                xd_path(p, sizeof p, err, "%s/step-%06lld/%s.npy", dir, (long long)t->snapshots[i], t->tensor_names[k]);
            if (st != XD_OK) return st;
            if (stat(p, &sb) != 0)
                return xd_error_set(
                    err, XD_FORMAT, 0,
                    "%s: snapshot file missing (step %lld is listed in %s/trace.json field 'snapshots')", p,
                    (long long)t->snapshots[i], dir);
        }
    }
    return XD_OK;
}

/* A trace written before "batches_hash" existed: the same hash from
 * batches.npy itself (a file that cannot be read leaves it unknown; the
 * comparison says the batch order was not checked). */
static void batches_hash_from_file(xd_trace *t)
{
    xd_npy_array a = {0};
    xd_error e;
    if (xd_trace_load_batches(t, &a, &e) == XD_OK && a.dtype == XD_DTYPE_I32) {
        t->batches_hash = xd_hash_bytes(a.data, a.count * 4);
        t->has_batches_hash = 1;
    }
    xd_npy_free(&a);
}

static xd_status trace_open(const char *dir, xd_trace **out, xd_error *err)
{
    if (!dir || !out) return XD_INVALID_ARGUMENT;
    *out = NULL;
    char path[XD_PATH_MAX];
    xd_status st = xd_path(path, sizeof path, err, "%s/trace.json", dir);
    if (st != XD_OK) return st;
    if (strlen(dir) >= sizeof(*out)->dir)
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "%s: path longer than %zu bytes", dir, sizeof(*out)->dir - 1);
    size_t len = 0;
    char *text = NULL;
    if ((st = read_trace_json(path, &text, &len, err)) != XD_OK) return st;
    st = trace_parse(text, len, path, out, err);
    free(text);
    if (st != XD_OK) return st;
    xd_trace *t = *out;
    snprintf(t->dir, sizeof t->dir, "%s", dir);
    if (!t->has_batches_hash) batches_hash_from_file(t);
    if ((st = check_snapshot_files(t, dir, err)) != XD_OK) {
        xd_trace_close(t);
        *out = NULL;
    }
    return st;
}

xd_status xd_trace_open(const char *dir, xd_trace **out, xd_error *err)
{
    return xd_error_return(err, trace_open(dir, out, err));
}

int xd_trace_has_snapshot(const xd_trace *t, int64_t step)
{
    for (size_t i = 0; t && i < t->nsnapshots; ++i)
        if (t->snapshots[i] == step) return 1;
    return 0;
}

int xd_trace_tensor_index(const xd_trace *t, const char *name)
{
    for (size_t i = 0; t && i < t->ntensors; ++i)
        if (strcmp(t->tensor_names[i], name) == 0) return (int)i;
    return -1;
}

int xd_trace_op_index(const xd_trace *t, const char *name)
{
    for (size_t i = 0; t && i < t->nops; ++i)
        if (strcmp(t->op_names[i], name) == 0) return (int)i;
    return -1;
}

uint64_t xd_trace_tensor_hash(const xd_trace *t, int64_t step, size_t i)
{
    return step == 0 ? t->init_hashes[i] : t->hashes[(size_t)(step - 1) * t->ntensors + i];
}

/* A snapshot file against the hash trace.json recorded for it: an edited or
 * damaged file would otherwise be measured (or resumed from) as if it were
 * the run's state.  Tensors the trace does not list are not checked here. */
static xd_status check_recorded_hash(const xd_trace *t, int64_t step, const char *name, const char *path,
                                     const xd_npy_array *a, xd_error *err)
{
    int i = xd_trace_tensor_index(t, name);
    if (i < 0 || step < 0 || step > t->steps) return XD_OK;
    uint64_t want = xd_trace_tensor_hash(t, step, (size_t)i);
    if (a->dtype != XD_DTYPE_F32) return XD_OK; /* callers refuse the dtype, naming it */
    uint64_t got = xd_hash_bytes(a->data, a->count * 4);
    if (got == want) return XD_OK;
    char w[24], g[24];
    xd_hash_hex(want, w);
    xd_hash_hex(got, g);
    return xd_error_set(err, XD_FORMAT, 0,
                        "%s: does not match the hash recorded in trace.json for %s at step %lld (recorded %s, "
                        "the file's %s): the file was changed or damaged",
                        path, name, (long long)step, w, g);
}

xd_status xd_trace_load_tensor(const xd_trace *t, int64_t step, const char *name, xd_npy_array *out, xd_error *err)
{
    if (!t || !name || !out) return xd_error_return(err, XD_INVALID_ARGUMENT);
    char p[XD_PATH_MAX];
    xd_status st = xd_path(p, sizeof p, err, "%s/step-%06lld/%s.npy", t->dir, (long long)step, name);
    if (st != XD_OK) return xd_error_return(err, st);
    if ((st = xd_npy_read(p, out, err)) != XD_OK) return st;
    if ((st = check_recorded_hash(t, step, name, p, out, err)) != XD_OK) xd_npy_free(out);
    return st;
}

xd_status xd_trace_verify_snapshots(const xd_trace *t, xd_error *err)
{
    if (!t) return xd_error_return(err, XD_INVALID_ARGUMENT);
    for (size_t s = 0; s < t->nsnapshots; ++s)
        for (size_t i = 0; i < t->ntensors; ++i) {
            xd_npy_array a = {0};
            xd_status st = xd_trace_load_tensor(t, t->snapshots[s], t->tensor_names[i], &a, err);
            if (st == XD_OK && a.dtype != XD_DTYPE_F32)
                st = xd_error_set(err, XD_FORMAT, 0, "%s/step-%06lld/%s.npy: not float32", t->dir,
                                  (long long)t->snapshots[s], t->tensor_names[i]);
            xd_npy_free(&a);
            if (st != XD_OK) return st;
        }
    return XD_OK;
}

int xd_trace_has_op_outputs(const xd_trace *t, int64_t step)
{
    for (size_t i = 0; t && i < t->nop_outputs; ++i)
        if (t->op_outputs[i] == step) return 1;
    return 0;
}

xd_status xd_trace_load_op_output(const xd_trace *t, int64_t step, const char *name, xd_npy_array *out, xd_error *err)
{
    if (!t || !name || !out || strchr(name, '/')) return xd_error_return(err, XD_INVALID_ARGUMENT);
    char p[XD_PATH_MAX];
    xd_status st = xd_path(p, sizeof p, err, "%s/ops-%06lld/%s.npy", t->dir, (long long)step, name);
    if (st != XD_OK) return xd_error_return(err, st);
    return xd_npy_read(p, out, err);
}

xd_status xd_trace_load_batches(const xd_trace *t, xd_npy_array *out, xd_error *err)
{
    if (!t || !out) return xd_error_return(err, XD_INVALID_ARGUMENT);
    char p[XD_PATH_MAX];
    xd_status st = xd_path(p, sizeof p, err, "%s/batches.npy", t->dir);
    if (st != XD_OK) return xd_error_return(err, st);
    return xd_npy_read(p, out, err);
}
