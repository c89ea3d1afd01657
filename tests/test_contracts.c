/* The twins' contract (cpu: no device).  tests/fixtures/contracts holds
 * golden files that crossdev's C and its Python twins (tools/python/crossdev:
 * philox.py, schedule.py, spec.py) must both reproduce: Philox4x32-10 known
 * answers (Random123's, written by hand), crossdev's Philox streams and the
 * values drawn from them, dropout masks for a (seed, layer, step), snapshot
 * schedules, and the model_spec of every valid Keras fixture.  This program
 * checks the C side (tests/python/check_contracts.py the Python side): it
 * computes every generated file again and compares it with the golden one,
 * case by case and then byte for byte.  With --write it writes them instead
 * (tests/fixtures/contracts/make.sh).
 * Usage: test_contracts CONTRACTS_DIR KERAS_FIXTURES_DIR [--write] */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crossdev/crossdev.h"
#include "crossdev/hostmath.h"
#include "harness.h"
#include "train/net.h"
#include "train/run.h"

static xdt T = {.name = "test_contracts"};
static int WRITE; /* --write: make the files instead of checking them */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define JSON_FLAGS (JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))

/* ---- values as the files spell them ---------------------------------------------------- */
static json_t *hex32(uint32_t v)
{
    char s[16];
    snprintf(s, sizeof s, "0x%08x", (unsigned)v);
    return json_string(s);
}

static json_t *hex64(uint64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "0x%llx", (unsigned long long)v);
    return json_string(s);
}

static json_t *float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return hex32(u);
}

static json_t *floats_json(const float *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; ++i) json_array_append_new(a, float_bits(v[i]));
    return a;
}

static json_t *i64s_json(const int64_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; ++i) json_array_append_new(a, json_integer(v[i]));
    return a;
}

/* A mask of n elements as hex bytes: element j is bit j % 8 of byte j / 8. */
static json_t *mask_json(const uint8_t *keep, size_t n)
{
    size_t bytes = (n + 7) / 8;
    char *s = calloc(2 * bytes + 1, 1);
    for (size_t b = 0; s && b < bytes; ++b) {
        unsigned v = 0;
        for (size_t k = 0; k < 8 && 8 * b + k < n; ++k) v |= (unsigned)(keep[8 * b + k] != 0) << k;
        snprintf(s + 2 * b, 3, "%02x", v);
    }
    json_t *j = json_string(s ? s : "");
    free(s);
    return j;
}

/* ---- files ------------------------------------------------------------------------------- */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = 2 * cap + 4096 + 1);
            if (!nb) break;
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
    } while (got > 0);
    fclose(f);
    if (buf) buf[len] = '\0';
    return buf;
}

/* The first line where two texts part, for the message. */
static void show_first_difference(const char *path, const char *have, const char *want)
{
    size_t line = 1, i = 0;
    for (; have[i] && have[i] == want[i]; ++i) line += have[i] == '\n';
    size_t from = i;
    while (from > 0 && want[from - 1] != '\n') --from;
    printf("  %s line %zu: the file has \"%.*s\", C makes \"%.*s\"\n", path, line, (int)strcspn(have + from, "\n"),
           have + from, (int)strcspn(want + from, "\n"), want + from);
}

/* text and a newline, malloc-ed (the files end with one). */
static char *line_of(const char *text)
{
    size_t len = text ? strlen(text) : 0;
    char *line = malloc(len + 2);
    if (line) snprintf(line, len + 2, "%s\n", text ? text : "");
    return line;
}

/* In --write mode writes text to path; else checks the file holds exactly
 * text.  Returns 0 when the check fails. */
static int write_or_same(const char *path, const char *text)
{
    if (WRITE) {
        FILE *f = fopen(path, "wb");
        int ok = f && fputs(text, f) >= 0;
        ok = (f && fclose(f) == 0) && ok;
        return xdt_check(&T, ok, "%s: cannot write it (%s)", path, strerror(errno));
    }
    char *have = read_text(path);
    int same = have && strcmp(have, text) == 0;
    xdt_check(&T, same, "%s: %s", path,
              have ? "not what the C side makes (tests/fixtures/contracts/make.sh makes it again)"
                   : "missing or unreadable");
    if (have && !same) show_first_difference(path, have, text);
    free(have);
    return same;
}

/* Each case of doc against the golden file's, naming the first that
 * differs; then the whole text byte for byte (or, --write, the file made). */
static void golden(const char *dir, const char *name, json_t *doc)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t e;
    json_t *file = WRITE ? NULL : json_load_file(path, 0, &e);
    const char *key;
    json_t *mine;
    json_object_foreach(doc, key, mine)
    {
        json_t *theirs = json_object_get(file, key);
        for (size_t i = 0; file && json_is_array(mine) && i < json_array_size(mine); ++i) {
            json_t *a = json_array_get(mine, i), *b = json_array_get(theirs, i);
            if (json_equal(a, b)) continue;
            char *sa = json_dumps(a, JSON_COMPACT), *sb = b ? json_dumps(b, JSON_COMPACT) : NULL;
            xdt_check(&T, 0, "%s: %s[%zu]: C gives %.400s, the file %.400s", name, key, i, sa, sb ? sb : "nothing");
            free(sa);
            free(sb);
        }
        if (file && json_is_array(mine))
            xdt_check(&T, json_array_size(mine) == json_array_size(theirs), "%s: %s: C has %zu cases, the file %zu",
                      name, key, json_array_size(mine), json_array_size(theirs));
    }
    char *text = json_dumps(doc, JSON_FLAGS), *line = line_of(text);
    if (xdt_check(&T, text && line, "%s: out of memory", name)) write_or_same(path, line);
    free(line);
    free(text);
    json_decref(file);
    json_decref(doc);
}

/* A generated file: what it holds, "made by the C side", and its cases. */
static json_t *cases_doc(const char *what, json_t *cases)
{
    char about[256];
    snprintf(about, sizeof about, "%s, made by the C side (make.sh); see README.md", what);
    json_t *d = json_object();
    json_object_set_new(d, "about", json_string(about));
    json_object_set_new(d, "cases", cases);
    return d;
}

/* ---- Philox: the known answers, crossdev's streams and draws ------------------------------- */
static uint32_t parse_hex32(json_t *v)
{
    const char *s = json_string_value(v);
    return s ? (uint32_t)strtoul(s, NULL, 16) : 0;
}

/* philox-kat.json (written by hand): every vector through xd_host_philox4x32_10. */
static void check_kat(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/philox-kat.json", dir);
    json_error_t e;
    json_t *doc = json_load_file(path, 0, &e);
    json_t *vec = json_object_get(doc, "vectors");
    xdt_check(&T, json_array_size(vec) == 3, "%s: three known-answer vectors (%s)", path, doc ? "" : e.text);
    for (size_t i = 0; i < json_array_size(vec); ++i) {
        json_t *v = json_array_get(vec, i), *ctr = json_object_get(v, "counter"), *key = json_object_get(v, "key");
        uint32_t c[4], want[4];
        for (size_t k = 0; k < 4; ++k) {
            c[k] = parse_hex32(json_array_get(ctr, k));
            want[k] = parse_hex32(json_array_get(json_object_get(v, "out"), k));
        }
        xd_host_philox4x32_10(c, parse_hex32(json_array_get(key, 0)), parse_hex32(json_array_get(key, 1)));
        xdt_check(&T, memcmp(c, want, sizeof c) == 0,
                  "philox KAT %zu: got %08x %08x %08x %08x, Random123 says %08x ...", i, c[0], c[1], c[2], c[3],
                  want[0]);
    }
    json_decref(doc);
}

typedef struct draw_case {
    uint64_t seed, stream;
    double a, b; /* the draw's parameters: limit, (min, max), stddev */
} draw_case;

/* Streams: the seeds and streams crossdev keys (init's parameter index + 1,
 * "DROP" for dropout, "SHUF" for the shuffle, "SYN" for the synthetic
 * data) and the extremes of both halves of the key and the counter. */
static const draw_case STREAMS[] = {
    {0, 0, 0, 0},
    {42, 7, 0, 0},
    {42, 1, 0, 0},
    {UINT64_MAX, UINT64_MAX, 0, 0},
    {0x0123456789abcdefu, UINT64_C(0x44524f5005000001), 0, 0},
    {42, UINT64_C(0x5348554600000003), 0, 0},
    {7, UINT64_C(0x53594e02), 0, 0},
};
#define STREAM_WORDS 10 /* two and a half blocks */

static json_t *streams_json(void)
{
    json_t *a = json_array();
    for (size_t i = 0; i < COUNT(STREAMS); ++i) {
        json_t *w = json_array();
        for (uint64_t j = 0; j < STREAM_WORDS; ++j)
            json_array_append_new(w, hex32(xd_host_philox_word(STREAMS[i].seed, STREAMS[i].stream, j)));
        json_array_append_new(a, json_pack("{s:o, s:o, s:o}", "seed", hex64(STREAMS[i].seed), "stream",
                                           hex64(STREAMS[i].stream), "words", w));
    }
    return a;
}

static const double RATES[] = {0.0, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 1e-8};

static json_t *keep_scales_json(void)
{
    json_t *a = json_array();
    for (size_t i = 0; i < COUNT(RATES); ++i)
        json_array_append_new(
            a, json_pack("{s:f, s:o}", "rate", RATES[i], "keep", float_bits(xd_dropout_keep_scale(RATES[i]))));
    return a;
}

typedef void (*draw_fn)(float *out, size_t n, const draw_case *c);
static void draw_uniform(float *out, size_t n, const draw_case *c)
{
    xd_host_init_uniform(out, n, c->seed, c->stream, c->a);
}
static void draw_range(float *out, size_t n, const draw_case *c)
{
    xd_host_init_uniform_range(out, n, c->seed, c->stream, c->a, c->b);
}
static void draw_normal(float *out, size_t n, const draw_case *c)
{
    xd_host_init_normal(out, n, c->seed, c->stream, c->a);
}
static void draw_truncated(float *out, size_t n, const draw_case *c)
{
    xd_host_init_truncated_normal(out, n, c->seed, c->stream, c->a);
}

#define DRAWS 9
/* One initializer's draws: (seed, stream, its parameters by `keys`) and DRAWS values. */
static json_t *draws_json(draw_fn fn, const char *const keys[2], const draw_case *cases, size_t ncases)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < ncases; ++i) {
        float v[DRAWS];
        fn(v, DRAWS, &cases[i]);
        json_t *o = json_pack("{s:o, s:o}", "seed", hex64(cases[i].seed), "stream", hex64(cases[i].stream));
        json_object_set_new(o, keys[0], json_real(cases[i].a));
        if (keys[1]) json_object_set_new(o, keys[1], json_real(cases[i].b));
        if (fn == draw_uniform) json_object_set_new(o, "scale", float_bits(xd_uniform_scale(cases[i].a)));
        json_object_set_new(o, "values", floats_json(v, DRAWS));
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *philox_doc(void)
{
    static const draw_case uni[] = {{42, 1, 0.05, 0}, {42, 3, 0.24494897427831780, 0}, {UINT64_MAX, 9, 1.0, 0}};
    static const draw_case range[] = {{42, 2, -0.05, 0.05}, {5, 4, 0.25, 3.0}};
    static const draw_case normal[] = {{42, 3, 1.0, 0}, {UINT64_MAX, 1, 0.05, 0}};
    static const draw_case trunc[] = {{42, 4, 0.5, 0}, {3, 2, 1.0, 0}};
    static const char *const limit[2] = {"limit", NULL}, *const ab[2] = {"min", "max"}, *const sd[2] = {"stddev", NULL};
    json_t *d = json_object();
    json_object_set_new(
        d, "about", json_string("crossdev's Philox streams and draws, made by the C side (make.sh); see README.md"));
    json_object_set_new(d, "streams", streams_json());
    json_object_set_new(d, "keep_scale", keep_scales_json());
    json_object_set_new(d, "init_uniform", draws_json(draw_uniform, limit, uni, COUNT(uni)));
    json_object_set_new(d, "init_uniform_range", draws_json(draw_range, ab, range, COUNT(range)));
    json_object_set_new(d, "init_normal", draws_json(draw_normal, sd, normal, COUNT(normal)));
    json_object_set_new(d, "init_truncated_normal", draws_json(draw_truncated, sd, trunc, COUNT(trunc)));
    return d;
}

/* ---- dropout masks ---------------------------------------------------------------------- */
typedef struct mask_case {
    uint64_t seed;
    int layer;
    int64_t step;
    size_t n;
    double rate;
} mask_case;

/* mnist-convnet's Dropout (layer 5, 32 x 1600 at batch 32), all-layers' (layer
 * 8, 4 x 48), a step past 2^24 (taken modulo), partial blocks, rate 0, and a
 * tie: element 3 of (42, layer 0, step 3474206) draws u = 0.5 exactly, not
 * below keep 0.5, so dropped (found by searching the steps). */
static const mask_case MASKS[] = {
    {42, 5, 1, 51200, 0.5},
    {42, 5, 2, 37, 0.5},
    {7, 8, 1, 192, 0.25},
    {UINT64_MAX, 0, 0x1000001, 100, 0.1},
    {123456789, 3, 16777215, 33, 0.9},
    {1, 2, 5, 17, 0.0},
    {2024, 1, 3, 64, 0.3},
    {42, 0, 3474206, 8, 0.5},
};

static json_t *dropout_doc(void)
{
    json_t *cases = json_array();
    for (size_t i = 0; i < COUNT(MASKS); ++i) {
        const mask_case *c = &MASKS[i];
        uint64_t stream = XD_DROPOUT_STREAM(c->layer, c->step);
        uint8_t *keep = calloc(c->n, 1);
        if (!keep) continue;
        xd_host_dropout_mask(keep, c->n, c->seed, stream, c->rate);
        json_int_t kept = 0;
        for (size_t j = 0; j < c->n; ++j) kept += keep[j];
        json_array_append_new(cases, json_pack("{s:o, s:i, s:I, s:o, s:f, s:o, s:I, s:I, s:o}", "seed", hex64(c->seed),
                                               "layer", c->layer, "step", (json_int_t)c->step, "stream", hex64(stream),
                                               "rate", c->rate, "keep", float_bits(xd_dropout_keep_scale(c->rate)), "n",
                                               (json_int_t)c->n, "kept", kept, "mask", mask_json(keep, c->n)));
        free(keep);
    }
    return cases_doc("dropout masks for (seed, layer, step)", cases);
}

/* ---- snapshot schedules ----------------------------------------------------------------- */
typedef struct sched_case {
    int64_t steps;
    int n_at; /* -1: no list (the default schedule) */
    int64_t at[4];
    int64_t every;
} sched_case;

static const sched_case SCHEDULES[] = {
    {1, -1, {0}, 0},      {3, -1, {0}, 0},      {7, -1, {0}, 0},        {100, -1, {0}, 0},         {101, -1, {0}, 0},
    {120, -1, {0}, 0},    {500, -1, {0}, 0},    {501, -1, {0}, 0},      {502, -1, {0}, 0},         {1000, -1, {0}, 0},
    {1875, -1, {0}, 0},   {3750, -1, {0}, 0},   {20, -1, {0}, 7},       {5, -1, {0}, 7},           {4, -1, {0}, 1},
    {1000, -1, {0}, 300}, {1875, -1, {0}, 500}, {40, 3, {17, 3, 9}, 0}, {40, 4, {5, 5, 0, 40}, 0}, {40, 0, {0}, 0},
    {120, 1, {2}, 0},     {12, 1, {4}, 5},      {12, 2, {8, 4}, 4},     {10, 2, {3, 11}, 0},       {10, 1, {-1}, 0},
    {1, 3, {0, 1, 2}, 0},
};

/* One case: its schedule, or the refusal's message from "step" on (the
 * option's name is the caller's: --snapshot-at in C, snapshot_at in Python). */
static json_t *schedule_json(const sched_case *c)
{
    int64_t *s = NULL;
    size_t n = 0;
    xd_error err = {0};
    int n_at = c->n_at;
    xd_status st =
        xd_snapshot_schedule(c->steps, n_at < 0 ? NULL : c->at, n_at < 0 ? 0 : (size_t)n_at, c->every, &s, &n, &err);
    json_t *o = json_pack("{s:I, s:o, s:I}", "steps", (json_int_t)c->steps, "at",
                          n_at < 0 ? json_null() : i64s_json(c->at, (size_t)n_at), "every", (json_int_t)c->every);
    if (st == XD_OK) {
        json_object_set_new(o, "schedule", i64s_json(s, n));
    } else {
        const char *msg = strstr(err.message, "step ");
        json_object_set_new(o, "refused", json_string(msg ? msg : err.message));
    }
    if (st == XD_OK && n_at < 0 && c->every == 0) { /* the public function gives the same */
        int64_t def[64];
        size_t nd = xd_default_snapshots(c->steps, def, COUNT(def));
        xdt_check(&T, nd == n && memcmp(def, s, n * sizeof *s) == 0, "xd_default_snapshots(%lld) = the schedule",
                  (long long)c->steps);
    }
    free(s);
    return o;
}

static json_t *schedules_doc(void)
{
    json_t *cases = json_array();
    for (size_t i = 0; i < COUNT(SCHEDULES); ++i) json_array_append_new(cases, schedule_json(&SCHEDULES[i]));
    return cases_doc("snapshot schedules for (steps, snapshot_at, snapshot_every)", cases);
}

/* ---- the model_spec of every valid Keras fixture ------------------------------------------- */
/* model_spec/NAME.json, NAME the last part of the manifest's "expected": the
 * spec crossdev reads from the fixture as xd_model_spec_json writes it, its
 * source the fixture's file name (not the path it was read from); and the
 * golden text read back by xd_model_spec_from_json gives the same text. */
static void model_spec(const char *dir, const char *keras_dir, json_t *entry)
{
    const char *file = json_string_value(json_object_get(entry, "file"));
    const char *expected = json_string_value(json_object_get(entry, "expected"));
    if (!xdt_check(&T, file && expected, "manifest: a valid entry without file or expected")) return;
    const char *name = strrchr(expected, '/') ? strrchr(expected, '/') + 1 : expected;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", keras_dir, file);
    xd_model_spec spec;
    xd_error err = {0};
    if (!xdt_check(&T, xd_model_spec_load(path, &spec, NULL, &err) == XD_OK, "%s: %s", path, err.message)) return;
    snprintf(spec.source, sizeof spec.source, "%s", file);
    char *text = xd_model_spec_json(&spec), *line = line_of(text);
    snprintf(path, sizeof path, "%s/model_spec/%s.json", dir, name);
    int same = xdt_check(&T, text && line, "%s: out of memory", path) && write_or_same(path, line);
    xd_model_spec back;
    if (same && !WRITE &&
        xdt_check(&T, xd_model_spec_from_json(line, &back, &err) == XD_OK, "%s: %s", path, err.message)) {
        char *again = xd_model_spec_json(&back);
        xdt_check(&T, again && strcmp(again, text) == 0, "%s: read back and written again, another text", path);
        xd_free(again);
    }
    free(line);
    xd_free(text);
}

static void model_specs(const char *dir, const char *keras_dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", keras_dir);
    json_error_t e;
    json_t *manifest = json_load_file(path, 0, &e);
    json_t *valid = json_object_get(manifest, "valid");
    xdt_check(&T, json_array_size(valid) > 0, "%s: valid fixtures (%s)", path, manifest ? "none" : e.text);
    snprintf(path, sizeof path, "%s/model_spec", dir);
    if (WRITE && mkdir(path, 0777) != 0 && errno != EEXIST) xdt_check(&T, 0, "%s: %s", path, strerror(errno));
    for (size_t i = 0; i < json_array_size(valid); ++i) model_spec(dir, keras_dir, json_array_get(valid, i));
    json_decref(manifest);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--write") != 0)) {
        fprintf(stderr, "usage: test_contracts CONTRACTS_DIR KERAS_FIXTURES_DIR [--write]\n");
        return 2;
    }
    WRITE = argc == 4;
    const char *dir = argv[1];
    check_kat(dir);
    golden(dir, "philox.json", philox_doc());
    golden(dir, "dropout.json", dropout_doc());
    golden(dir, "schedules.json", schedules_doc());
    model_specs(dir, argv[2]);
    return xdt_finish(&T);
}
