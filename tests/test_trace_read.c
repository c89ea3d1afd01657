/* The trace reader alone (host/io/trace_read.c), no device: a valid trace.json
 * parses; every bad one is refused with XD_FORMAT (XD_IO for a missing
 * file), no trace returned, and a message naming the file and the field.
 * Each case is its own named check.  The end-to-end twin, through
 * `crossdev-compare diff` and `run --resume` on a real trace with its
 * snapshots, is tests/scripts/test_bad_traces.sh.
 * usage: test_trace_read CORPUS-DIR (tests/fuzz/corpus/trace) */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/trace.h"

static xdt T = {.name = "test_trace_read"};
static const char *corpus;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf) buf[n] = '\0';
    *len = n;
    return buf;
}

/* Parses text as "trace.json"; checks that it is refused and that the
 * message names the file and contains `field`. */
static void refused(const char *name, const char *text, size_t len, const char *field)
{
    static xd_trace sentinel;
    xd_trace *t = &sentinel; /* must come back NULL */
    xd_error err;
    xd_status st = xd_trace_parse(text, len, "dir/trace.json", &t, &err);
    int ok =
        st == XD_FORMAT && t == NULL && strncmp(err.message, "dir/trace.json: ", 16) == 0 && strstr(err.message, field);
    xdt_check(&T, ok, "%s: status %s, trace %s, message \"%s\" (wanted the file and \"%s\")", name, xd_status_name(st),
              t ? "returned" : "NULL", err.message, field);
    if (ok && getenv("VERBOSE")) printf("ok   %s: %s\n", name, err.message);
    if (st == XD_OK && t != &sentinel) xd_trace_close(t);
}

/* ---- field-level mutations of the valid trace ------------------------------------- */
/* Sets (or, with value NULL, deletes) the element at a dotted path such as
 * "hashes.steps.1.0" (numbers index arrays; -1 is the last element, the
 * size appends). */
static int set_path(json_t *root, const char *path, json_t *value)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = root;
    char *save = NULL, *tok = strtok_r(buf, ".", &save);
    while (tok) {
        char *next = strtok_r(NULL, ".", &save);
        json_t *child;
        long idx = 0;
        if (json_is_array(cur)) {
            idx = strtol(tok, NULL, 10);
            if (idx < 0) idx += (long)json_array_size(cur);
            child = json_array_get(cur, (size_t)idx);
        } else {
            child = json_object_get(cur, tok);
        }
        if (!next) {
            if (json_is_array(cur) && value && (size_t)idx == json_array_size(cur))
                return json_array_append_new(cur, value); /* one past the end: append */
            if (json_is_array(cur))
                return value ? json_array_set_new(cur, (size_t)idx, value) : json_array_remove(cur, (size_t)idx);
            return value ? json_object_set_new(cur, tok, value) : json_object_del(cur, tok);
        }
        if (!child) break;
        cur = child;
        tok = next;
    }
    json_decref(value);
    return -1;
}

typedef struct mutation {
    const char *name, *path, *value; /* value: JSON text, or NULL to delete */
    const char *field;               /* what the message must contain */
} mutation;

static const mutation MUTATIONS[] = {
    /* another format or version */
    {"other-format", "format", "\"keras-history\"", "field 'format'"},
    {"format-number", "format", "1", "field 'format'"},
    {"version-2", "version", "2", "field 'version' is 2"},
    {"version-string", "version", "\"1\"", "field 'version'"},
    {"version-huge", "version", "1000000000000", "field 'version'"},
    /* missing fields */
    {"missing-format", "format", NULL, "field 'format'"},
    {"missing-version", "version", NULL, "field 'version'"},
    {"missing-model", "model", NULL, "field 'model'"},
    {"missing-seed", "seed", NULL, "field 'seed'"},
    {"missing-mode", "mode", NULL, "field 'mode'"},
    {"missing-batch", "batch", NULL, "field 'batch'"},
    {"missing-steps", "steps", NULL, "field 'steps'"},
    {"missing-device", "device", NULL, "field 'device'"},
    {"missing-device.id", "device.id", NULL, "field 'device.id'"},
    {"missing-data", "data", NULL, "field 'data'"},
    {"missing-data.name", "data.name", NULL, "field 'data.name'"},
    {"missing-data.synthetic", "data.synthetic", NULL, "field 'data.synthetic'"},
    {"missing-loss", "loss", NULL, "field 'loss'"},
    {"missing-tensors", "tensors", NULL, "field 'tensors'"},
    {"missing-hashes", "hashes", NULL, "field 'hashes'"},
    {"missing-hashes.init", "hashes.init", NULL, "field 'hashes'"},
    {"missing-hashes.steps", "hashes.steps", NULL, "field 'hashes'"},
    {"missing-snapshots", "snapshots", NULL, "field 'snapshots'"},
    {"missing-eval.final.accuracy", "eval.final.accuracy", NULL, "field 'eval.final.accuracy'"},
    /* wrong types */
    {"steps-string", "steps", "\"3\"", "field 'steps'"},
    {"steps-fraction", "steps", "3.5", "field 'steps'"},
    {"steps-bool", "steps", "true", "field 'steps'"},
    {"batch-string", "batch", "\"32\"", "field 'batch'"},
    {"batch-fraction", "batch", "32.0", "field 'batch'"},
    {"seed-word", "seed", "\"forty-two\"", "field 'seed'"},
    {"seed-digits-then-word", "seed", "\"42abc\"", "field 'seed'"},
    {"seed-empty-string", "seed", "\"\"", "field 'seed'"},
    {"seed-beyond-uint64", "seed", "\"18446744073709551616\"", "field 'seed'"},
    {"seed-fraction", "seed", "4.2", "field 'seed'"},
    {"model-number", "model", "7", "field 'model'"},
    {"mode-unknown", "mode", "\"turbo\"", "field 'mode'"},
    {"device-string", "device", "\"pocl/pthread\"", "field 'device'"},
    {"device.id-number", "device.id", "0", "field 'device.id'"},
    {"device.name-number", "device.name", "0", "field 'device.name'"},
    {"device.driver-object", "device.driver", "{}", "field 'device.driver'"},
    {"data-array", "data", "[]", "field 'data'"},
    {"data.synthetic-string", "data.synthetic", "\"false\"", "field 'data.synthetic'"},
    {"data.synthetic-number", "data.synthetic", "0", "field 'data.synthetic'"},
    {"training-string", "training", "\"dropped\"", "field 'training'"},
    {"training.partial_batch-bool", "training.partial_batch", "false", "field 'training.partial_batch'"},
    {"build_options-number", "build_options", "3", "field 'build_options'"},
    {"guarantee-array", "guarantee", "[]", "field 'guarantee'"},
    {"crossdev_version-number", "crossdev_version", "0.1", "field 'crossdev_version'"},
    {"loss-object", "loss", "{\"0\": 2.3}", "field 'loss'"},
    {"loss-string-entry", "loss.1", "\"2.16\"", "field 'loss[1]'"},
    {"loss-bool-entry", "loss.0", "false", "field 'loss[0]'"},
    {"loss-array-entry", "loss.2", "[2.0]", "field 'loss[2]'"},
    {"tensors-string", "tensors", "\"conv1.weight\"", "field 'tensors'"},
    {"tensors-empty", "tensors", "[]", "field 'tensors'"},
    {"tensor-name-number", "tensors.2", "3", "field 'tensors[2]'"},
    {"tensor-name-empty", "tensors.1", "\"\"", "field 'tensors[1]'"},
    {"tensor-name-path", "tensors.0", "\"../../etc/passwd\"", "field 'tensors[0]'"},
    {"hashes-string", "hashes", "\"xxh3\"", "field 'hashes'"},
    {"snapshots-string", "snapshots", "\"0,1,2,3\"", "field 'snapshots'"},
    {"snapshot-fraction", "snapshots.1", "0.5", "field 'snapshots[1]'"},
    {"snapshot-string", "snapshots.1", "\"1\"", "field 'snapshots[1]'"},
    {"op_hashes-string", "op_hashes", "\"none\"", "field 'op_hashes'"},
    {"op_hashes.ops-name-number", "op_hashes.ops.0", "1", "field 'op_hashes.ops[0]'"},
    {"eval-string", "eval", "\"none\"", "field 'eval'"},
    {"eval.final-string", "eval.final", "\"0.68\"", "field 'eval.final'"},
    {"eval.final.accuracy-string", "eval.final.accuracy", "\"0.68\"", "field 'eval.final.accuracy'"},
    {"eval.final.loss-string", "eval.final.loss", "\"0.88\"", "field 'eval.final.loss'"},
    {"nonfinite-string", "nonfinite", "\"step 2\"", "field 'nonfinite'"},
    {"nonfinite.step-string", "nonfinite", "{\"step\": \"2\", \"tensor\": \"conv1.weight\"}", "field 'nonfinite.step'"},
    {"nonfinite.tensor-number", "nonfinite", "{\"step\": 2, \"tensor\": 5}", "field 'nonfinite.tensor'"},
    /* negative or out-of-range counts */
    {"steps-negative", "steps", "-1", "field 'steps'"},
    {"steps-huge", "steps", "1099511627777", "field 'steps'"},
    {"batch-negative", "batch", "-32", "field 'batch'"},
    {"batch-zero", "batch", "0", "field 'batch'"},
    {"batch-beyond-2^31", "batch", "2147483649", "field 'batch'"},
    {"seed-negative", "seed", "-42", "field 'seed'"},
    {"version-negative", "version", "-1", "field 'version'"},
    {"snapshot-negative", "snapshots.0", "-1", "field 'snapshots[0]'"},
    {"snapshot-beyond-steps", "snapshots.-1", "4", "field 'snapshots[3]'"},
    {"snapshots-repeated", "snapshots.2", "1", "field 'snapshots[2]'"},
    {"snapshots-empty", "snapshots", "[]", "field 'snapshots'"},
    {"eval.final.accuracy-negative", "eval.final.accuracy", "-0.5", "field 'eval.final.accuracy'"},
    {"eval.final.accuracy-above-1", "eval.final.accuracy", "68.14", "field 'eval.final.accuracy'"},
    {"nonfinite.step-negative", "nonfinite", "{\"step\": -1, \"tensor\": \"conv1.weight\"}", "field 'nonfinite.step'"},
    {"nonfinite.step-beyond", "nonfinite", "{\"step\": 4, \"tensor\": \"conv1.weight\"}", "field 'nonfinite.step'"},
    /* arrays of the wrong length, hashes missing for a step */
    {"loss-too-long", "loss.3", "1.5", "field 'loss' has 4 entries, expected 3 (steps)"},
    {"loss-too-short", "loss.-1", NULL, "field 'loss' has 2 entries, expected 3 (steps)"},
    {"loss-empty", "loss", "[]", "field 'loss' has 0 entries, expected 3 (steps)"},
    {"steps-beyond-recorded", "steps", "4", "field 'loss' has 3 entries, expected 4 (steps)"},
    {"hashes.steps-row-missing", "hashes.steps.-1", NULL, "field 'hashes.steps' has 2 rows, expected 3 (steps)"},
    {"hashes.steps-row-short", "hashes.steps.1.-1", NULL, "field 'hashes.steps[1]'"},
    {"hashes.steps-row-null", "hashes.steps.2", "null", "field 'hashes.steps[2]'"},
    {"hashes.steps-hash-md5", "hashes.steps.0.3", "\"md5:d41d8cd98f00b204e9800998ecf8427e\"",
     "field 'hashes.steps[0][3]'"},
    {"hashes.steps-hash-upper", "hashes.steps.0.0", "\"xxh3:3C8370FD3ECB588F\"", "field 'hashes.steps[0][0]'"},
    {"hashes.steps-hash-short", "hashes.steps.2.5", "\"xxh3:3c8370fd\"", "field 'hashes.steps[2][5]'"},
    {"hashes.init-short", "hashes.init.-1", NULL, "field 'hashes.init' has"},
    {"hashes.init-not-hash", "hashes.init.0", "12345", "field 'hashes.init[0]'"},
    {"op_hashes.steps-row-missing", "op_hashes.steps.-1", NULL, "field 'op_hashes'"},
    {"op_hashes.steps-row-short", "op_hashes.steps.0.-1", NULL, "field 'op_hashes.steps[0]'"},
};

/* ---- text-level cases: not JSON at all ---------------------------------------------- */
static void text_case(const char *name, const char *valid, const char *from, const char *to, const char *field)
{
    const char *at = strstr(valid, from);
    if (!at) {
        xdt_check(&T, 0, "%s: \"%s\" not in valid.json", name, from);
        return;
    }
    size_t pre = (size_t)(at - valid), nto = strlen(to), post = strlen(at + strlen(from));
    size_t n = pre + nto + post;
    char *s = malloc(n + 1);
    if (!s) return;
    snprintf(s, n + 1, "%.*s%s%s", (int)pre, valid, to, at + strlen(from));
    refused(name, s, n, field);
    free(s);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_trace_read CORPUS-DIR\n");
        return 2;
    }
    corpus = argv[1];
    char path[4096];
    xd_error err;
    size_t vlen = 0;
    snprintf(path, sizeof path, "%s/valid.json", corpus);
    char *valid = slurp(path, &vlen);
    if (!valid) {
        printf("FAIL: cannot read %s\n", path);
        return 1;
    }

    /* the valid trace parses, with the values it holds */
    xd_trace *t = NULL;
    xd_status st = xd_trace_parse(valid, vlen, "valid.json", &t, &err);
    xdt_check(&T, st == XD_OK && t, "valid.json parses: %s", err.message);
    if (t) {
        xdt_check(&T,
                  t->steps == 3 && t->batch == 32 && t->seed == 42 && t->ntensors == 12 && t->nsnapshots == 4 &&
                      !t->synthetic && t->test_accuracy > 0.68 && t->test_accuracy < 0.69 && t->nonfinite_step == -1 &&
                      strcmp(t->device_id, "pocl/pthread") == 0,
                  "valid.json: steps %lld batch %lld ntensors %zu synthetic %d accuracy %g", (long long)t->steps,
                  (long long)t->batch, t->ntensors, t->synthetic, t->test_accuracy);
        xd_trace_close(t);
    }
    json_error_t je;
    json_t *root = json_loadb(valid, vlen, 0, &je);
    if (!root) {
        printf("FAIL: valid.json: %s\n", je.text);
        return 1;
    }
    /* accepted variants: a seed as a digit string (up to 2^64-1), null/absent optional fields */
    static const mutation ACCEPTED[] = {
        {"seed-digit-string", "seed", "\"18446744073709551615\"", NULL},
        {"eval.final-null", "eval.final", "null", NULL},
        {"eval.final.loss-null", "eval.final.loss", "null", NULL},
        {"eval-absent", "eval", NULL, NULL},
        {"nonfinite-absent", "nonfinite", NULL, NULL},
        {"nonfinite-recorded", "nonfinite", "{\"step\": 3, \"tensor\": \"dense1.weight\"}", NULL},
        {"loss-null-entry", "loss.1", "null", NULL},
        {"op_hashes-null", "op_hashes", "null", NULL},
        {"device.name-absent", "device.name", NULL, NULL},
        {"build_options-null", "build_options", "null", NULL},
    };
    for (size_t i = 0; i < sizeof ACCEPTED / sizeof ACCEPTED[0]; ++i) {
        const mutation *m = &ACCEPTED[i];
        json_t *c = json_deep_copy(root);
        set_path(c, m->path, m->value ? json_loads(m->value, JSON_DECODE_ANY, NULL) : NULL);
        char *text = json_dumps(c, 0);
        t = NULL;
        st = text ? xd_trace_parse(text, strlen(text), "trace.json", &t, &err) : XD_OUT_OF_HOST_MEMORY;
        xdt_check(&T, st == XD_OK, "%s: accepted: %s", m->name, err.message);
        if (t && strcmp(m->name, "seed-digit-string") == 0)
            xdt_check(&T, t->seed == UINT64_MAX, "%s: seed %llu", m->name, (unsigned long long)t->seed);
        xd_trace_close(t);
        free(text);
        json_decref(c);
    }

    for (size_t i = 0; i < sizeof MUTATIONS / sizeof MUTATIONS[0]; ++i) {
        const mutation *m = &MUTATIONS[i];
        json_t *c = json_deep_copy(root);
        json_t *v = NULL;
        if (m->value && !(v = json_loads(m->value, JSON_DECODE_ANY, &je))) {
            xdt_check(&T, 0, "%s: bad test value %s", m->name, m->value);
            json_decref(c);
            continue;
        }
        if (set_path(c, m->path, v) != 0) {
            xdt_check(&T, 0, "%s: path %s not in valid.json", m->name, m->path);
            json_decref(c);
            continue;
        }
        char *text = json_dumps(c, JSON_PRESERVE_ORDER);
        if (text) refused(m->name, text, strlen(text), m->field);
        free(text);
        json_decref(c);
    }
    json_decref(root);

    /* not JSON: NaN/Infinity as Python's json.dump writes them, cut-off text,
     * duplicate keys, empty input, another JSON value */
    text_case("steps-NaN", valid, "\"steps\": 3,", "\"steps\": NaN,", "in field 'steps'");
    text_case("steps-Infinity", valid, "\"steps\": 3,", "\"steps\": Infinity,", "in field 'steps'");
    text_case("steps--Infinity", valid, "\"steps\": 3,", "\"steps\": -Infinity,", "in field 'steps'");
    text_case("batch-NaN", valid, "\"batch\": 32,", "\"batch\": NaN,", "in field 'batch'");
    text_case("loss-NaN-entry", valid, "\"loss\": [2.309142589569092,", "\"loss\": [NaN,", "in field 'loss'");
    text_case("loss-overflow-entry", valid, "\"loss\": [2.309142589569092,", "\"loss\": [1e999,", "in field 'loss'");
    text_case("steps-unquoted-word", valid, "\"steps\": 3,", "\"steps\": three,", "in field 'steps'");
    text_case("duplicate-key", valid, "\"steps\": 3,", "\"steps\": 3, \"steps\": 4,", "duplicate object key");
    text_case("trailing-garbage", valid, "\"resumed_from\": null", "\"resumed_from\": null} {", "not valid JSON");
    refused("empty-text", "", 0, "not valid JSON");
    refused("not-an-object", "[1, 2, 3]", 9, "not a JSON object");
    refused("json-string", "\"crossdev-trace\"", 16, "not valid JSON");
    refused("nul-byte", "{\"format\": \"cross\0dev\"}", 23, "not valid JSON");
    /* every cut-off prefix of the valid file is refused (and never crashes) */
    int all = 1;
    for (size_t n = 0; n < vlen - 1 && all; ++n) {
        t = NULL;
        st = xd_trace_parse(valid, n, "trace.json", &t, &err);
        if (st != XD_FORMAT || t || !strstr(err.message, "trace.json: not valid JSON")) {
            all = 0;
            xdt_check(&T, 0, "prefix of %zu bytes: %s %s", n, xd_status_name(st), err.message);
        }
        xd_trace_close(t);
    }
    xdt_check(&T, all, "every cut-off prefix of valid.json refused as not valid JSON");

    /* the seed corpus of the fuzzer: each bad file refused, naming the field */
    static const struct {
        const char *file, *field;
    } CORPUS[] = {
        {"negative_steps.json", "field 'steps'"},
        {"not_json.json", "not valid JSON"},
        {"short_loss.json", "field 'loss' has"},
        {"version2.json", "field 'version' is 2"},
        {"steps_nan.json", "in field 'steps'"},
        {"loss_nan.json", "in field 'loss'"},
        {"hashes_step_missing.json", "field 'hashes.steps' has 2 rows"},
        {"seed_word.json", "field 'seed'"},
        {"synthetic_missing.json", "field 'data.synthetic'"},
    };
    for (size_t i = 0; i < sizeof CORPUS / sizeof CORPUS[0]; ++i) {
        size_t n = 0;
        snprintf(path, sizeof path, "%s/%s", corpus, CORPUS[i].file);
        char *text = slurp(path, &n);
        if (!xdt_check(&T, text != NULL, "corpus %s: cannot read %s", CORPUS[i].file, path)) continue;
        refused(CORPUS[i].file, text, n, CORPUS[i].field);
        free(text);
    }

    /* xd_trace_open on a directory: trace.json missing or not a file, a
     * listed snapshot missing, then the same trace complete */
    char dir[] = "/tmp/xd-trace-read-XXXXXX";
    if (!xdt_check(&T, mkdtemp(dir) != NULL, "mkdtemp")) return xdt_finish(&T);
    t = NULL;
    st = xd_trace_open(dir, &t, &err);
    xdt_check(&T, st == XD_IO && !t && strstr(err.message, "/trace.json: ") && strstr(err.message, "No such file"),
              "open: no trace.json: %s %s", xd_status_name(st), err.message);
    snprintf(path, sizeof path, "%s/trace.json", dir);
    mkdir(path, 0700);
    st = xd_trace_open(dir, &t, &err);
    xdt_check(&T, st == XD_IO && !t && strstr(err.message, "/trace.json: not a regular file"),
              "open: trace.json is a directory: %s %s", xd_status_name(st), err.message);
    rmdir(path);
    write_file(path, "{\"format\": \"crossdev-trace\", \"version\": 1, \"steps\": NaN}");
    st = xd_trace_open(dir, &t, &err);
    xdt_check(&T,
              st == XD_FORMAT && !t && strstr(err.message, "/trace.json: not valid JSON") &&
                  strstr(err.message, "'steps'"),
              "open: NaN steps: %s %s", xd_status_name(st), err.message);
    write_file(path, valid);
    static const char *const names[] = {"conv1.weight",    "conv1.weight.m", "conv1.weight.v", "conv1.bias",
                                        "conv1.bias.m",    "conv1.bias.v",   "dense1.weight",  "dense1.weight.m",
                                        "dense1.weight.v", "dense1.bias",    "dense1.bias.m",  "dense1.bias.v"};
    char p[4400];
    for (int s = 0; s <= 3; ++s) {
        snprintf(p, sizeof p, "%s/step-%06d", dir, s);
        mkdir(p, 0700);
        for (size_t k = 0; k < 12; ++k) {
            if (s == 2 && k == 7) continue; /* step 2's dense1.weight.m is missing */
            snprintf(p, sizeof p, "%s/step-%06d/%s.npy", dir, s, names[k]);
            write_file(p, "");
        }
    }
    st = xd_trace_open(dir, &t, &err);
    xdt_check(&T,
              st == XD_FORMAT && !t && strstr(err.message, "/step-000002/dense1.weight.m.npy: snapshot file missing") &&
                  strstr(err.message, "'snapshots'"),
              "open: missing snapshot file named: %s %s", xd_status_name(st), err.message);
    snprintf(p, sizeof p, "%s/step-000002/dense1.weight.m.npy", dir);
    write_file(p, "");
    st = xd_trace_open(dir, &t, &err);
    xdt_check(&T, st == XD_OK && t && strcmp(t->dir, dir) == 0, "open: complete trace opens: %s", err.message);
    xd_trace_close(t);
    /* clean up */
    for (int s = 0; s <= 3; ++s) {
        for (size_t k = 0; k < 12; ++k) {
            snprintf(p, sizeof p, "%s/step-%06d/%s.npy", dir, s, names[k]);
            unlink(p);
        }
        snprintf(p, sizeof p, "%s/step-%06d", dir, s);
        rmdir(p);
    }
    unlink(path);
    rmdir(dir);
    free(valid);
    return xdt_finish(&T);
}
