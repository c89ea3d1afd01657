/* Settings before numbers: every field of trace.json that changes what a
 * run computes is compared key by key, generically (a new optimizer field
 * or a model spec is compared without more code), and each difference is
 * named with both values; then the likely mechanism of a pair's
 * differences in plain words, from those settings. */
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
static void value_text(json_t *v, char *out, size_t cap)
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
static int same_value(json_t *a, json_t *b)
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
 * and the input layout a framework feeds its own kernels (NHWC for Keras):
 * the stored tensors are in the layouts the other layout.* fields name. */
static int descriptive(const char *path)
{
    return strcmp(path, "model_spec.source") == 0 || strcmp(path, "training.init") == 0 ||
           strcmp(path, "layout.input") == 0;
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
    } else if (!same_value(a, b)) {
        char ta[160], tb[160];
        value_text(a, ta, sizeof ta);
        value_text(b, tb, sizeof tb);
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
    json_t *a = json_object_get(ref->json, "producer"), *b = json_object_get(o->json, "producer");
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

/* The batch order over the common steps, from both batches.npy; where a
 * file cannot be read, the recorded hashes of runs of one length. */
static void compare_batches(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    if (p->common_steps < 1 || ref->batch != o->batch) return;
    xd_npy_array a = {0}, b = {0};
    xd_error e;
    int ok = xd_trace_load_batches(ref, &a, &e) == XD_OK && xd_trace_load_batches(o, &b, &e) == XD_OK &&
             a.dtype == XD_DTYPE_I32 && b.dtype == XD_DTYPE_I32 && a.ndim == 2 && b.ndim == 2 &&
             a.shape[1] == ref->batch && b.shape[1] == ref->batch && a.shape[0] >= p->common_steps &&
             b.shape[0] >= p->common_steps;
    if (ok) {
        const int32_t *ra = a.data, *rb = b.data;
        for (int64_t k = 0; k < p->common_steps; ++k)
            if (memcmp(ra + k * ref->batch, rb + k * ref->batch, (size_t)ref->batch * 4) != 0) {
                char ta[160], tb[160];
                batch_row_text(ra + k * ref->batch, ref->batch, k + 1, ta, sizeof ta);
                batch_row_text(rb + k * ref->batch, ref->batch, k + 1, tb, sizeof tb);
                add_setting(p, XD_SETTING_TRAINING, "batch order", ta, tb);
                break;
            }
    } else if (ref->steps == o->steps && ref->has_batches_hash && o->has_batches_hash) {
        char ta[24], tb[24];
        xd_hash_hex(ref->batches_hash, ta);
        xd_hash_hex(o->batches_hash, tb);
        if (ref->batches_hash != o->batches_hash) add_setting(p, XD_SETTING_TRAINING, "batch order", ta, tb);
    } else {
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
    json_t *ja = ref->json, *jb = o->json;
    char a[32], b[32];
    if (ref->seed != o->seed) {
        snprintf(a, sizeof a, "%llu", (unsigned long long)ref->seed);
        snprintf(b, sizeof b, "%llu", (unsigned long long)o->seed);
        add_setting(p, XD_SETTING_TRAINING, "seed", a, b);
    }
    for (size_t i = 0; ja && jb && i < sizeof FIELDS / sizeof *FIELDS; ++i)
        diff_json(p, FIELDS[i].kind, FIELDS[i].key, json_object_get(ja, FIELDS[i].key),
                  json_object_get(jb, FIELDS[i].key));
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

int xd_trace_conforming(const xd_trace *t)
{
    json_t *r = json_object_get(json_object_get((json_t *)t->json, "device"), "reproducible");
    return !json_is_false(r);
}

/* ---- the likely mechanism -------------------------------------------------------- */

/* The value of -DNAME=V in build options, or "" */
static void define_value(const char *opts, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "-D%s=", name);
    const char *q = strstr(opts, pat);
    out[0] = '\0';
    if (q) snprintf(out, cap, "%.*s", (int)strcspn(q + strlen(pat), " "), q + strlen(pat));
}

/* Appends "; text" (or text) to the pair's mechanism. */
static void say(xd_pair *p, const char *text)
{
    size_t len = strlen(p->mechanism);
    if (len < sizeof p->mechanism)
        snprintf(p->mechanism + len, sizeof p->mechanism - len, "%s%s", len ? "; " : "", text);
}

/* Training settings in words: what the runs were asked to do differently. */
static void training_mechanism(xd_pair *p)
{
    static const struct {
        const char *prefix, *words;
    } WORDS[] = {
        {"optimizer.variant", "the optimizer variant differs (Keras's and PyTorch's Adam differ by ~4% of a weight at "
                              "step 1)"},
        {"optimizer", "optimizer settings differ"},
        {"data", "the data differs"},
        {"seed", "the seeds differ: other initial weights and batch order"},
        {"batch order", "the batch order differs"},
        {"batch", "the batch sizes differ"},
        {"model", "the models differ"},
        {"layout", "the tensor layouts differ"},
        {"training", "the training procedure differs"},
    };
    for (size_t w = 0; w < sizeof WORDS / sizeof *WORDS; ++w)
        for (size_t i = 0; i < p->nsettings; ++i) {
            const xd_setting_diff *d = &p->settings[i];
            if (d->kind != XD_SETTING_TRAINING || strncmp(d->key, WORDS[w].prefix, strlen(WORDS[w].prefix)) != 0)
                continue;
            if (strcmp(WORDS[w].prefix, "optimizer") == 0 && xd_settings_find(p, "optimizer.variant")) break;
            if (strcmp(WORDS[w].prefix, "batch") == 0 && strcmp(d->key, "batch") != 0) continue;
            say(p, WORDS[w].words);
            break;
        }
}

/* The tunables of build options (-DXD_... besides the mode's and the GEMM
 * path's), for comparing them as one thing. */
static int tunables_differ(const xd_pair *p)
{
    const xd_setting_diff *d = xd_settings_find(p, "build options");
    if (!d) return 0;
    const char *sides[2] = {d->ref, d->other};
    for (int s = 0; s < 2; ++s)
        for (const char *q = strstr(sides[s], "-DXD_"); q; q = strstr(q + 1, "-DXD_"))
            if (strncmp(q, "-DXD_FAST=", 10) != 0 && strncmp(q, "-DXD_DIV_MODE=", 14) != 0 &&
                strncmp(q, "-DXD_CLBLAST=", 13) != 0)
                return 1;
    return 0;
}

/* A framework's run on either side: crossdev's modes, tunables and GEMM
 * paths say nothing about it.  Returns 1 when it said the mechanism. */
static int framework_mechanism(xd_pair *p)
{
    const xd_trace *a = p->ref, *b = p->other;
    char text[400];
    if (!a->producer[0] && !b->producer[0]) return 0;
    if (a->producer[0] && b->producer[0]) {
        snprintf(text, sizeof text,
                 "two framework runs (%s vs %s): their libraries pick summation orders and parallel splits by the "
                 "settings recorded in producer (threads, deterministic algorithms, backend), so a run differs "
                 "from another where those settings or the hardware differ",
                 a->producer, b->producer);
    } else {
        snprintf(text, sizeof text,
                 "one run is %s's (producer in its trace.json): its own kernels and libraries sum, contract and "
                 "parallelise in their own orders, not in crossdev's documented ones, so the runs part at the "
                 "first operation that rounds differently",
                 a->producer[0] ? a->producer : b->producer);
    }
    say(p, text);
    return 1;
}

/* How the computation differed, in words. */
static void computation_mechanism(xd_pair *p)
{
    const xd_trace *a = p->ref, *b = p->other;
    const int fast_a = strcmp(a->mode, "fast") == 0, fast_b = strcmp(b->mode, "fast") == 0;
    const xd_setting_diff *v = xd_settings_find(p, "crossdev_version");
    char ga[8], gb[8], text[256];
    define_value(a->build_options, "XD_CLBLAST", ga, sizeof ga);
    define_value(b->build_options, "XD_CLBLAST", gb, sizeof gb);
    if (framework_mechanism(p)) return;
    if (fast_a != fast_b)
        say(p, "the modes differ: fast mode uses the vendor's division, exp and log and lets the compiler contract "
               "a*b+c into one rounding (-cl-mad-enable), reproducible mode uses exactly rounded operations without "
               "contraction, so they part at the first operation that rounds differently");
    if (fast_a && fast_b && strcmp(ga, gb) != 0) {
        snprintf(text, sizeof text, "the GEMM path differs: %s on one side, %s on the other (XD_CLBLAST=%s vs %s)",
                 strcmp(ga, "1") == 0 ? "CLBlast's SGEMM" : "crossdev's own kernels",
                 strcmp(gb, "1") == 0 ? "CLBlast's SGEMM" : "crossdev's own kernels", ga, gb);
        say(p, text);
    }
    if (tunables_differ(p) && (fast_a || fast_b || !xd_trace_conforming(a) || !xd_trace_conforming(b)) &&
        !p->guarantee_judged)
        say(p, "the tunables differ (build options): where the rules of reproducible mode do not hold they change "
               "the order of additions");
    if (fast_a && fast_b && strcmp(a->device_id, b->device_id) != 0)
        say(p, "fast mode on two devices: their math libraries and compilers round differently");
    if (v) {
        snprintf(text, sizeof text, "the crossdev versions differ (%.40s vs %.40s): the kernels may have changed",
                 v->ref, v->other);
        say(p, text);
    }
    if (p->guarantee_broken)
        say(p, "reproducible mode on two conforming devices must give the same bits: the device's compiler or "
               "driver broke one of its rules (docs/reproducibility.md); please report it with both traces");
}

void xd_pair_mechanism(xd_pair *p)
{
    p->mechanism[0] = '\0';
    if (p->verdict == XD_VERDICT_DIFFERENT_SETTINGS) training_mechanism(p);
    else if (p->verdict == XD_VERDICT_ROUNDING_LEVEL || p->verdict == XD_VERDICT_DIVERGED) computation_mechanism(p);
}
