/* Trace reading and validation (format version 1, docs/trace-format.md):
 * pure parsing, no device, so the fuzzer and `diff` use it alone. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crossdev/trace.h"
#include "internal.h"

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
    free(t->snapshots);
    if (t->json) json_decref((json_t *)t->json);
    free(t);
}

#define FAIL(...)                              \
    do {                                       \
        xd_format(err, errlen, __VA_ARGS__);   \
        goto fail;                             \
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

static xd_status parse_root(json_t *root, const char *name, xd_trace **out, char *err, size_t errlen)
{
    xd_trace *t = calloc(1, sizeof *t);
    if (!t) {
        json_decref(root);
        return XD_OUT_OF_HOST_MEMORY;
    }
    t->json = root;
    t->test_loss = t->test_accuracy = NAN;
    t->nonfinite_step = -1;
    if (!json_is_object(root)) FAIL("%s: not a JSON object", name);
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!fmt || strcmp(fmt, "crossdev-trace") != 0) FAIL("%s: field 'format' is not \"crossdev-trace\"", name);
    int64_t v;
    if (!get_count(root, "version", 1000, &v)) FAIL("%s: field 'version' missing or not an integer", name);
    t->version = (int)v;
    if (t->version != XD_TRACE_VERSION)
        FAIL("%s: trace version %d is not supported (this crossdev reads version %d)", name, t->version,
             XD_TRACE_VERSION);
    if (!get_string(root, "model", t->model, sizeof t->model)) FAIL("%s: field 'model' missing or not a string", name);
    if (!get_string(root, "mode", t->mode, sizeof t->mode) ||
        (strcmp(t->mode, "reproducible") != 0 && strcmp(t->mode, "fast") != 0))
        FAIL("%s: field 'mode' must be \"reproducible\" or \"fast\"", name);
    json_t *seed = json_object_get(root, "seed");
    if (json_is_integer(seed) && json_integer_value(seed) >= 0) t->seed = (uint64_t)json_integer_value(seed);
    else if (json_is_string(seed)) t->seed = strtoull(json_string_value(seed), NULL, 10);
    else FAIL("%s: field 'seed' missing or not a non-negative integer", name);
    if (!get_count(root, "batch", INT64_C(1) << 31, &t->batch) || t->batch < 1)
        FAIL("%s: field 'batch' missing or not a positive integer", name);
    if (!get_count(root, "steps", INT64_C(1) << 40, &t->steps)) FAIL("%s: field 'steps' missing or negative", name);
    json_t *dev = json_object_get(root, "device");
    if (!json_is_object(dev) || !get_string(dev, "id", t->device_id, sizeof t->device_id))
        FAIL("%s: field 'device.id' missing", name);
    get_string(dev, "name", t->device_name, sizeof t->device_name);
    get_string(dev, "driver", t->driver, sizeof t->driver);
    get_string(root, "build_options", t->build_options, sizeof t->build_options);
    get_string(root, "guarantee", t->guarantee, sizeof t->guarantee);
    get_string(root, "crossdev_version", t->crossdev_version, sizeof t->crossdev_version);
    json_t *data = json_object_get(root, "data");
    if (!json_is_object(data) || !get_string(data, "name", t->data_name, sizeof t->data_name))
        FAIL("%s: field 'data.name' missing", name);
    t->synthetic = json_is_true(json_object_get(data, "synthetic"));
    get_string(json_object_get(root, "training"), "partial_batch", t->partial_batch, sizeof t->partial_batch);

    /* loss: one number (or null for a non-finite loss) per step */
    json_t *loss = json_object_get(root, "loss");
    if (!json_is_array(loss)) FAIL("%s: field 'loss' missing or not an array", name);
    if ((int64_t)json_array_size(loss) != t->steps)
        FAIL("%s: field 'loss' has %zu entries for %lld steps", name, json_array_size(loss), (long long)t->steps);
    t->loss = malloc(((size_t)t->steps + 1) * sizeof *t->loss);
    if (!t->loss) FAIL("%s: out of memory", name);
    for (int64_t k = 0; k < t->steps; ++k) {
        json_t *x = json_array_get(loss, (size_t)k);
        if (json_is_null(x)) t->loss[k] = NAN;
        else if (json_is_number(x)) t->loss[k] = (float)json_number_value(x);
        else FAIL("%s: loss[%lld] is not a number", name, (long long)k);
    }

    json_t *tensors = json_object_get(root, "tensors");
    if (!json_is_array(tensors) || json_array_size(tensors) == 0 || json_array_size(tensors) > 1024)
        FAIL("%s: field 'tensors' missing or not a non-empty array", name);
    t->ntensors = json_array_size(tensors);
    t->tensor_names = calloc(t->ntensors, sizeof *t->tensor_names);
    if (!t->tensor_names) FAIL("%s: out of memory", name);
    for (size_t i = 0; i < t->ntensors; ++i) {
        const char *s = json_string_value(json_array_get(tensors, i));
        if (!s || !*s || strlen(s) >= XD_TRACE_NAME_LEN || strchr(s, '/'))
            FAIL("%s: tensors[%zu] is not a valid tensor name", name, i);
        snprintf(t->tensor_names[i], XD_TRACE_NAME_LEN, "%s", s);
    }
    json_t *hashes = json_object_get(root, "hashes");
    json_t *init = json_object_get(hashes, "init"), *steps = json_object_get(hashes, "steps");
    if (!json_is_object(hashes) || !json_is_array(init) || !json_is_array(steps))
        FAIL("%s: field 'hashes' must hold arrays 'init' and 'steps'", name);
    if (json_array_size(init) != t->ntensors) FAIL("%s: hashes.init has %zu entries for %zu tensors", name,
                                                   json_array_size(init), t->ntensors);
    if ((int64_t)json_array_size(steps) != t->steps)
        FAIL("%s: hashes.steps has %zu entries for %lld steps", name, json_array_size(steps), (long long)t->steps);
    t->init_hashes = calloc(t->ntensors, sizeof *t->init_hashes);
    t->hashes = calloc((size_t)t->steps * t->ntensors + 1, sizeof *t->hashes);
    if (!t->init_hashes || !t->hashes) FAIL("%s: out of memory", name);
    for (size_t i = 0; i < t->ntensors; ++i)
        if (!parse_hash(json_array_get(init, i), &t->init_hashes[i])) FAIL("%s: hashes.init[%zu] is not a hash", name, i);
    for (int64_t k = 0; k < t->steps; ++k) {
        json_t *row = json_array_get(steps, (size_t)k);
        if (!json_is_array(row) || json_array_size(row) != t->ntensors)
            FAIL("%s: hashes.steps[%lld] missing or not %zu hashes", name, (long long)k, t->ntensors);
        for (size_t i = 0; i < t->ntensors; ++i)
            if (!parse_hash(json_array_get(row, i), &t->hashes[(size_t)k * t->ntensors + i]))
                FAIL("%s: hashes.steps[%lld][%zu] is not a hash", name, (long long)k, i);
    }

    json_t *ops = json_object_get(root, "op_hashes");
    if (ops && !json_is_null(ops)) {
        json_t *names = json_object_get(ops, "ops"), *rows = json_object_get(ops, "steps");
        if (!json_is_array(names) || !json_is_array(rows) || json_array_size(names) == 0 ||
            json_array_size(names) > 4096 || (int64_t)json_array_size(rows) != t->steps)
            FAIL("%s: field 'op_hashes' must hold 'ops' and one row of hashes per step", name);
        t->nops = json_array_size(names);
        t->op_names = calloc(t->nops, sizeof *t->op_names);
        t->op_hashes = calloc((size_t)t->steps * t->nops + 1, sizeof *t->op_hashes);
        if (!t->op_names || !t->op_hashes) FAIL("%s: out of memory", name);
        for (size_t i = 0; i < t->nops; ++i) {
            const char *s = json_string_value(json_array_get(names, i));
            if (!s || strlen(s) >= XD_TRACE_NAME_LEN) FAIL("%s: op_hashes.ops[%zu] is not a name", name, i);
            snprintf(t->op_names[i], XD_TRACE_NAME_LEN, "%s", s);
        }
        for (int64_t k = 0; k < t->steps; ++k) {
            json_t *row = json_array_get(rows, (size_t)k);
            if (!json_is_array(row) || json_array_size(row) != t->nops)
                FAIL("%s: op_hashes.steps[%lld] missing or not %zu hashes", name, (long long)k, t->nops);
            for (size_t i = 0; i < t->nops; ++i)
                if (!parse_hash(json_array_get(row, i), &t->op_hashes[(size_t)k * t->nops + i]))
                    FAIL("%s: op_hashes.steps[%lld][%zu] is not a hash", name, (long long)k, i);
        }
    }

    json_t *snaps = json_object_get(root, "snapshots");
    if (!json_is_array(snaps) || json_array_size(snaps) == 0) FAIL("%s: field 'snapshots' missing or empty", name);
    t->nsnapshots = json_array_size(snaps);
    t->snapshots = calloc(t->nsnapshots, sizeof *t->snapshots);
    if (!t->snapshots) FAIL("%s: out of memory", name);
    for (size_t i = 0; i < t->nsnapshots; ++i) {
        json_t *s = json_array_get(snaps, i);
        if (!json_is_integer(s) || json_integer_value(s) < 0 || json_integer_value(s) > t->steps ||
            (i && json_integer_value(s) <= t->snapshots[i - 1]))
            FAIL("%s: snapshots[%zu] is not a step in 0..%lld in increasing order", name, i, (long long)t->steps);
        t->snapshots[i] = (int64_t)json_integer_value(s);
    }

    json_t *fin = json_object_get(json_object_get(root, "eval"), "final");
    if (json_is_object(fin)) {
        json_t *a = json_object_get(fin, "accuracy"), *l = json_object_get(fin, "loss");
        if (json_is_number(a)) t->test_accuracy = json_number_value(a);
        if (json_is_number(l)) t->test_loss = json_number_value(l);
    }
    json_t *nf = json_object_get(root, "nonfinite");
    if (json_is_object(nf)) {
        int64_t s;
        if (!get_count(nf, "step", t->steps, &s)) FAIL("%s: nonfinite.step is not a step", name);
        t->nonfinite_step = s;
        get_string(nf, "tensor", t->nonfinite_tensor, sizeof t->nonfinite_tensor);
    }
    *out = t;
    return XD_OK;
fail:
    xd_trace_close(t);
    return XD_FORMAT;
}

xd_status xd_trace_parse(const char *text, size_t len, const char *name, xd_trace **out, char *err, size_t errlen)
{
    if (!text || !out) return XD_INVALID_ARGUMENT;
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        xd_format(err, errlen, "%s: not valid JSON (line %d: %s)", name, je.line, je.text);
        return XD_FORMAT;
    }
    return parse_root(root, name, out, err, errlen);
}

xd_status xd_trace_open(const char *dir, xd_trace **out, char *err, size_t errlen)
{
    if (!dir || !out) return XD_INVALID_ARGUMENT;
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/trace.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        struct stat sb;
        if (stat(path, &sb) != 0) {
            xd_format(err, errlen, "%s: %s (not a crossdev trace directory?)", path, strerror(errno));
            return XD_IO;
        }
        xd_format(err, errlen, "%s: not valid JSON (line %d: %s)", path, je.line, je.text);
        return XD_FORMAT;
    }
    xd_status st = parse_root(root, path, out, err, errlen);
    if (st != XD_OK) return st;
    xd_trace *t = *out;
    snprintf(t->dir, sizeof t->dir, "%s", dir);
    /* every listed snapshot must be there, with every tensor */
    for (size_t i = 0; i < t->nsnapshots; ++i) {
        for (size_t k = 0; k < t->ntensors; ++k) {
            char p[4096];
            struct stat sb;
            snprintf(p, sizeof p, "%s/step-%06lld/%s.npy", dir, (long long)t->snapshots[i], t->tensor_names[k]);
            if (stat(p, &sb) != 0) {
                xd_format(err, errlen, "%s: snapshot file missing (listed in trace.json)", p);
                xd_trace_close(t);
                *out = NULL;
                return XD_FORMAT;
            }
        }
    }
    return XD_OK;
}

int xd_trace_has_snapshot(const xd_trace *t, int64_t step)
{
    for (size_t i = 0; t && i < t->nsnapshots; ++i)
        if (t->snapshots[i] == step) return 1;
    return 0;
}

xd_status xd_trace_load_tensor(const xd_trace *t, int64_t step, const char *name, xd_npy_array *out, char *err,
                               size_t errlen)
{
    if (!t || !name || !out) return XD_INVALID_ARGUMENT;
    char p[4096];
    snprintf(p, sizeof p, "%s/step-%06lld/%s.npy", t->dir, (long long)step, name);
    return xd_npy_read(p, out, err, errlen);
}

char *xd_trace_device_json(const xd_trace *t)
{
    if (!t || !t->json) return NULL;
    json_t *d = json_object_get((json_t *)t->json, "device");
    return d ? json_dumps(d, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
}
