/* Settings before numbers: every field of trace.json that changes what a
 * run computes is compared key by key, generically (a new optimizer field
 * or a model spec is compared without more code), and each difference is
 * named with both values.  The likely mechanism is mechanism.c. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "compare/pair.h"

static void add_setting(xd_pair *p, xd_setting_kind kind, const char *key, const char *ref, const char *other)
{
    if (p->nsettings == XD_MAX_SETTING_DIFFS) {
        p->settings_more++;
        return;
    }
    xd_setting_diff *d = &p->settings[p->nsettings++];
    d->kind = kind;
    snprintf(d->key, sizeof d->key, "%s", key);
    snprintf(d->ref, sizeof d->ref, "%s", ref);
    snprintf(d->other, sizeof d->other, "%s", other);
}

int xd_settings_differ(const xd_pair *p, xd_setting_kind kind)
{
    for (size_t i = 0; i < p->nsettings; ++i)
        if (p->settings[i].kind == kind) return 1;
    return 0;
}

const xd_setting_diff *xd_settings_find(const xd_pair *p, const char *key)
{
    for (size_t i = 0; i < p->nsettings; ++i)
        if (strcmp(p->settings[i].key, key) == 0) return &p->settings[i];
    return NULL;
}

/* A JSON value as a reader writes it: strings bare, reals short. */
void xd_json_value_text(json_t *v, char *out, size_t cap)
{
    if (!v || json_is_null(v)) snprintf(out, cap, "absent");
    else if (json_is_string(v)) snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) xd_format_shortest(json_real_value(v), 0, out, cap);
    else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        snprintf(out, cap, "%s", s ? s : "?");
        free(s);
    }
}

/* Numbers by value (1 and 1.0 are one learning rate); null is absent. */
int xd_json_same_value(json_t *a, json_t *b)
{
    if (!a || json_is_null(a)) return !b || json_is_null(b);
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    return b && json_equal(a, b);
}

static void diff_json(xd_pair *p, xd_setting_kind kind, const char *path, json_t *a, json_t *b);

static void diff_members(xd_pair *p, xd_setting_kind kind, const char *path, json_t *a, json_t *b)
{
    const char *k;
    json_t *v;
    char sub[256];
    json_object_foreach(a, k, v)
    {
        snprintf(sub, sizeof sub, "%s.%s", path, k);
        diff_json(p, kind, sub, v, json_object_get(b, k));
    }
    json_object_foreach(b, k, v)
    {
        if (json_object_get(a, k)) continue;
        snprintf(sub, sizeof sub, "%s.%s", path, k);
        diff_json(p, kind, sub, NULL, v);
    }
}

/* Fields that describe rather than decide what was trained: the file a
 * model came from (the same model may sit anywhere), the initializers'
 * wording (model_spec holds the initializers; the step-0 hashes the values),
 * the input layout a framework feeds its own kernels (NHWC for Keras):
 * the stored tensors are in the layouts the other layout.* fields name;
 * and a framework's seeding state (what its generators held when training
 * began: the initial weights and the batches say what it changed). */
static int descriptive(const char *path)
{
    return strcmp(path, "model_spec.source") == 0 || strcmp(path, "training.init") == 0 ||
           strcmp(path, "layout.input") == 0 || strncmp(path, "producer.seeding.", 17) == 0;
}

/* Every leaf in which a and b differ, named by its path: "optimizer.lr",
 * "model_spec.layers[2].filters".  Arrays of other lengths are one
 * difference (their lengths). */
static void diff_json(xd_pair *p, xd_setting_kind kind, const char *path, json_t *a, json_t *b)
{
    if (json_is_object(a) && json_is_object(b)) {
        diff_members(p, kind, path, a, b);
    } else if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
        char sub[256];
        for (size_t i = 0; i < json_array_size(a); ++i) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            diff_json(p, kind, sub, json_array_get(a, i), json_array_get(b, i));
        }
    } else if (json_is_array(a) && json_is_array(b)) {
        char ta[48], tb[48];
        snprintf(ta, sizeof ta, "%zu items", json_array_size(a));
        snprintf(tb, sizeof tb, "%zu items", json_array_size(b));
        add_setting(p, kind, path, ta, tb);
    } else if (!xd_json_same_value(a, b)) {
        char ta[160], tb[160];
        xd_json_value_text(a, ta, sizeof ta);
        xd_json_value_text(b, tb, sizeof tb);
        /* a field one writer did not know yet (an older trace) is said, not judged */
        int absent = !a || json_is_null(a) || !b || json_is_null(b);
        add_setting(p, absent || descriptive(path) ? XD_SETTING_INFO : kind, path, ta, tb);
    }
}

/* The top-level fields compared key by key, and what a difference in each
 * means.  Issue-14-style additions (a model spec, optimizer variants) are
 * compared by being here. */
static const struct {
    const char *key;
    xd_setting_kind kind;
} FIELDS[] = {
    {"model", XD_SETTING_TRAINING},   {"model_spec", XD_SETTING_TRAINING},
    {"batch", XD_SETTING_TRAINING},   {"optimizer", XD_SETTING_TRAINING},
    {"layout", XD_SETTING_TRAINING},  {"training", XD_SETTING_TRAINING},
    {"mode", XD_SETTING_COMPUTATION}, {"crossdev_version", XD_SETTING_COMPUTATION},
    {"steps", XD_SETTING_INFO},       {"steps_requested", XD_SETTING_INFO},
};

/* Two framework runs: their producer records (threads, deterministic
 * algorithms, backend, versions) leaf by leaf, as how they computed.  A
 * crossdev run has none; that pairing is named by the mechanism instead of
 * listing every producer field as absent on one side. */
static void compare_producers(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    json_t *a = xd_trace_section(ref, "producer"), *b = xd_trace_section(o, "producer");
    if (json_is_object(a) && json_is_object(b)) diff_json(p, XD_SETTING_COMPUTATION, "producer", a, b);
}

/* The data: data.checksum decides (the name says where it came from, not
 * what it is); a trace without a checksum is compared by name, said so. */
static void compare_data(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    char a[24], b[24];
    if (ref->has_data_checksum && o->has_data_checksum) {
        xd_hash_hex(ref->data_checksum, a);
        xd_hash_hex(o->data_checksum, b);
        if (ref->data_checksum != o->data_checksum) add_setting(p, XD_SETTING_TRAINING, "data.checksum", a, b);
        if (strcmp(ref->data_name, o->data_name) != 0)
            add_setting(p, XD_SETTING_INFO, "data.name", ref->data_name, o->data_name);
        return;
    }
    if (strcmp(ref->data_name, o->data_name) != 0 || ref->synthetic != o->synthetic)
        add_setting(p, XD_SETTING_TRAINING, "data.name", ref->data_name, o->data_name);
    else
        add_setting(p, XD_SETTING_INFO, "data.checksum",
                    ref->has_data_checksum ? "present" : "absent (compared by name)",
                    o->has_data_checksum ? "present" : "absent (compared by name)");
}

/* The initial weights: every device computes them on the host from the
 * seed, so different step-0 hashes under the same model and seed mean other
 * weights were given (--weights, another .keras file): a setting. */
static void compare_initial_weights(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    if (ref->ntensors != o->ntensors || ref->seed != o->seed) return; /* the seed's line says it */
    for (size_t i = 0; i < ref->ntensors; ++i)
        if (strcmp(ref->tensor_names[i], o->tensor_names[i]) == 0 && ref->init_hashes[i] != o->init_hashes[i]) {
            char a[24], b[24], what[160];
            xd_hash_hex(ref->init_hashes[i], a);
            xd_hash_hex(o->init_hashes[i], b);
            snprintf(what, sizeof what, "initial weights (%s at step 0)", ref->tensor_names[i]);
            add_setting(p, XD_SETTING_TRAINING, what, a, b);
            return;
        }
}

/* "step 5: samples 812, 3301, ..." */
static void batch_row_text(const int32_t *row, int64_t batch, int64_t step, char *out, size_t cap)
{
    size_t len = (size_t)snprintf(out, cap, "step %lld: samples", (long long)step);
    for (int64_t i = 0; i < batch && i < 4 && len < cap; ++i)
        len += (size_t)snprintf(out + len, cap - len, "%s %d", i ? "," : "", row[i]);
    if (batch > 4 && len < cap) snprintf(out + len, cap - len, ", ...");
}

/* 1 when some row of the first `steps` rows holds an index < 0: a
 * framework run that did not say which samples it trained on. */
static int order_unknown(const int32_t *rows, int64_t steps, int64_t batch)
{
    for (int64_t k = 0; k < steps * batch; ++k)
        if (rows[k] < 0) return 1;
    return 0;
}

/* The first of the common steps whose recorded batch contents differ
 * (batch_hashes), 0 when every one is the same. */
static int64_t first_content_difference(const xd_trace *ref, const xd_trace *o, int64_t steps)
{
    for (int64_t k = 0; k < steps; ++k)
        if (ref->batch_hashes[k] != o->batch_hashes[k]) return k + 1;
    return 0;
}

/* Both batch orders over the common steps, known: the first step whose
 * samples differ, listed as a difference of that kind (training; for
 * information where the contents say the batches are the same); 1 when
 * one was found. */
static int compare_batch_rows(const int32_t *ra, const int32_t *rb, xd_setting_kind kind, xd_pair *p)
{
    int64_t batch = p->ref->batch;
    for (int64_t k = 0; k < p->common_steps; ++k)
        if (memcmp(ra + k * batch, rb + k * batch, (size_t)batch * 4) != 0) {
            char ta[160], tb[160];
            batch_row_text(ra + k * batch, batch, k + 1, ta, sizeof ta);
            batch_row_text(rb + k * batch, batch, k + 1, tb, sizeof tb);
            add_setting(p, kind, "batch order", ta, tb);
            return 1;
        }
    return 0;
}

/* What the steps trained on, with both traces' batch contents recorded
 * (batch_hashes): the same at every common step, or a training difference
 * from the first step that differs; the indices, where both recorded them,
 * say whether the samples or their values differ.  Unknown indices are
 * then no gap: the contents answer. */
static void compare_batch_contents(const int32_t *ra, const int32_t *rb, int known, xd_pair *p)
{
    const xd_trace *ref = p->ref, *o = p->other;
    int64_t k = first_content_difference(ref, o, p->common_steps);
    char ta[160], tb[160];
    if (k == 0) {
        snprintf(tb, sizeof tb, "recorded: the same at all %lld common steps (batch_hashes)",
                 (long long)p->common_steps);
        add_setting(p, XD_SETTING_INFO, "batch content", "recorded", tb);
        if (known) compare_batch_rows(ra, rb, XD_SETTING_INFO, p);
        return;
    }
    if (known && compare_batch_rows(ra, rb, XD_SETTING_TRAINING, p)) return; /* other samples: the order says which */
    snprintf(ta, sizeof ta, "differs from step %lld", (long long)k);
    snprintf(tb, sizeof tb, "%s",
             known ? "the same samples (indices) with other values: the data or its preprocessing"
                   : "(batch_hashes: other samples, order or preprocessing)");
    add_setting(p, XD_SETTING_TRAINING, "batch content", ta, tb);
}

/* What each step trained on: the recorded batch contents where both traces
 * have them, else the batch order from both batches.npy (unknown on either
 * side, indices -1, it is said and not compared: never "the same"); where
 * a file cannot be read, the recorded hashes of runs of one length. */
static void compare_batches(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    if (p->common_steps < 1 || ref->batch != o->batch) return;
    xd_npy_array a = {0}, b = {0};
    xd_error e;
    int ok = xd_trace_load_batches(ref, &a, &e) == XD_OK && xd_trace_load_batches(o, &b, &e) == XD_OK &&
             a.dtype == XD_DTYPE_I32 && b.dtype == XD_DTYPE_I32 && a.ndim == 2 && b.ndim == 2 &&
             a.shape[1] == ref->batch && b.shape[1] == ref->batch && a.shape[0] >= p->common_steps &&
             b.shape[0] >= p->common_steps;
    int ua = !ok || order_unknown(a.data, p->common_steps, ref->batch);
    int ub = !ok || order_unknown(b.data, p->common_steps, ref->batch);
    if (ref->batch_hashes && o->batch_hashes) {
        compare_batch_contents(a.data, b.data, !ua && !ub, p);
    } else if (ok && (ua || ub)) {
        p->batch_order_unknown = 1;
        add_setting(p, XD_SETTING_INFO, "batch order", ua ? "unknown (not recorded)" : "recorded",
                    ub ? "unknown (not recorded): not compared" : "recorded: not compared");
    } else if (ok) {
        compare_batch_rows(a.data, b.data, XD_SETTING_TRAINING, p);
    } else if (ref->steps == o->steps && ref->has_batches_hash && o->has_batches_hash) {
        char ta[24], tb[24];
        xd_hash_hex(ref->batches_hash, ta);
        xd_hash_hex(o->batches_hash, tb);
        if (ref->batches_hash != o->batches_hash) add_setting(p, XD_SETTING_TRAINING, "batch order", ta, tb);
    } else {
        p->batch_order_unknown = 1;
        add_setting(p, XD_SETTING_INFO, "batch order", "not checked", "(batches.npy not readable in both)");
    }
    xd_npy_free(&a);
    xd_npy_free(&b);
}

/* The tokens of s missing from t, space-separated, into out. */
static void tokens_missing(const char *s, const char *t, char *out, size_t cap)
{
    char *copy = xd_strdup(s), *save = NULL;
    size_t len = 0;
    out[0] = '\0';
    for (char *tok = copy ? strtok_r(copy, " ", &save) : NULL; tok; tok = strtok_r(NULL, " ", &save)) {
        int found = 0;
        size_t n = strlen(tok);
        for (const char *q = strstr(t, tok); q && !found; q = strstr(q + 1, tok))
            found = (q == t || q[-1] == ' ') && (q[n] == ' ' || q[n] == '\0');
        if (!found && len < cap) len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? " " : "", tok);
    }
    free(copy);
}

/* Build options, token by token: only those one side has are listed. */
static void compare_build_options(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    char a[160], b[160];
    tokens_missing(ref->build_options, o->build_options, a, sizeof a);
    tokens_missing(o->build_options, ref->build_options, b, sizeof b);
    if (a[0] || b[0]) add_setting(p, XD_SETTING_COMPUTATION, "build options", a[0] ? a : "-", b[0] ? b : "-");
}

void xd_settings_compare(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    char a[32], b[32];
    if (ref->seed != o->seed) {
        snprintf(a, sizeof a, "%llu", (unsigned long long)ref->seed);
        snprintf(b, sizeof b, "%llu", (unsigned long long)o->seed);
        add_setting(p, XD_SETTING_TRAINING, "seed", a, b);
    }
    for (size_t i = 0; i < sizeof FIELDS / sizeof *FIELDS; ++i)
        diff_json(p, FIELDS[i].kind, FIELDS[i].key, xd_trace_section(ref, FIELDS[i].key),
                  xd_trace_section(o, FIELDS[i].key));
    compare_data(ref, o, p);
    compare_initial_weights(ref, o, p);
    compare_batches(ref, o, p);
    if (!ref->producer[0] && !o->producer[0]) compare_build_options(ref, o, p); /* a framework has none */
    compare_producers(ref, o, p);
    if (strcmp(ref->device_id, o->device_id) == 0 && strcmp(ref->driver, o->driver) != 0)
        add_setting(p, XD_SETTING_COMPUTATION, "device.driver", ref->driver, o->driver);
    if (ref->eval_n != o->eval_n) {
        snprintf(a, sizeof a, "%lld", (long long)ref->eval_n);
        snprintf(b, sizeof b, "%lld", (long long)o->eval_n);
        add_setting(p, XD_SETTING_INFO, "eval.final.n", ref->eval_n ? a : "not evaluated",
                    o->eval_n ? b : "not evaluated");
    }
}
