/* The verdict engine as data (cpu: no device): every case of
 * tests/fixtures/pairs/manifest.json — two small traces, the options, and
 * the verdict, rule, first step, first tensor and op, mechanism, settings,
 * tensors not judged and exit status the pair must get — run through the
 * library's compare and report (xd_report_build, as `diff REF OTHER`
 * does), then the text and JSON reports written for every case (the
 * sanitizer build reads them all).  A new verdict rule comes with its case
 * (tests/fixtures/pairs/make_pairs.py makes them).
 * Usage: test_pairs FIXTURES_DIR */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crossdev/report.h"

static xdt T = {.name = "test_pairs"};

/* The options a case names, as diff's --rounding-rel, --amplified-rel and
 * --ignore set them. */
static void case_tolerance(json_t *opts, xd_tolerance *tol, const char **globs, size_t cap)
{
    *tol = xd_tolerance_defaults();
    json_t *v;
    if ((v = json_object_get(opts, "rounding_rel"))) tol->rounding_rel = json_number_value(v);
    if ((v = json_object_get(opts, "amplified_rel"))) tol->amplified_rel = json_number_value(v);
    json_t *ign = json_object_get(opts, "ignore");
    for (size_t i = 0; i < json_array_size(ign) && tol->nignore < cap; ++i)
        globs[tol->nignore++] = json_string_value(json_array_get(ign, i));
    tol->ignore = globs;
}

/* Every string of the array `key` of e must appear in text (or, with
 * present 0, none may). */
static void check_texts(const char *name, json_t *e, const char *key, const char *what, const char *text, int present)
{
    json_t *arr = json_object_get(e, key);
    for (size_t i = 0; i < json_array_size(arr); ++i) {
        const char *want = json_string_value(json_array_get(arr, i));
        int found = want && strstr(text, want) != NULL;
        xdt_check(&T, found == present, "%s: %s %s '%s' (it says: %s)", name, what, present ? "names" : "does not name",
                  want ? want : "?", text);
    }
}

static void check_settings(const char *name, json_t *e, const xd_pair *p)
{
    json_t *keys = json_object_get(e, "settings");
    for (size_t i = 0; i < json_array_size(keys); ++i) {
        const char *key = json_string_value(json_array_get(keys, i));
        int found = 0;
        for (size_t k = 0; k < p->nsettings && key; ++k) found |= strncmp(p->settings[k].key, key, strlen(key)) == 0;
        xdt_check(&T, found, "%s: settings name '%s'", name, key ? key : "?");
    }
}

static void check_flag(const char *name, json_t *e, const char *key, int got)
{
    json_t *v = json_object_get(e, key);
    if (v) xdt_check(&T, json_is_true(v) == got, "%s: %s %d, expected %d", name, key, got, json_is_true(v));
}

/* The pair against the case's expectations. */
static void check_pair(const char *name, json_t *e, const xd_report *r)
{
    const xd_pair *p = &r->pairs[0];
    const char *v = json_string_value(json_object_get(e, "verdict")),
               *rule = json_string_value(json_object_get(e, "rule"));
    xdt_check(&T, v && strcmp(v, xd_verdict_string(p->verdict)) == 0, "%s: verdict %s, expected %s (rule: %s)", name,
              xd_verdict_string(p->verdict), v ? v : "?", p->rule_text);
    if (rule)
        xdt_check(&T, strcmp(rule, xd_rule_string(p->rule)) == 0, "%s: rule %s, expected %s", name,
                  xd_rule_string(p->rule), rule);
    json_t *fs = json_object_get(e, "first_step");
    if (fs)
        xdt_check(&T,
                  json_is_null(fs) ? p->first_divergent_step < 0 : p->first_divergent_step == json_integer_value(fs),
                  "%s: first divergent step %lld", name, (long long)p->first_divergent_step);
    const char *ft = json_string_value(json_object_get(e, "first_tensor")),
               *fo = json_string_value(json_object_get(e, "first_op")),
               *fnot = json_string_value(json_object_get(e, "first_tensor_not"));
    if (ft)
        xdt_check(&T, strcmp(ft, p->first_divergent_tensor) == 0, "%s: first tensor %s, expected %s", name,
                  p->first_divergent_tensor, ft);
    if (fo)
        xdt_check(&T, strcmp(fo, p->first_divergent_op) == 0, "%s: first op '%s', expected %s", name,
                  p->first_divergent_op, fo);
    if (fnot)
        xdt_check(&T, strcmp(fnot, p->first_divergent_tensor) != 0 && strcmp(fnot, p->first_max_tensor) != 0,
                  "%s: %s named where the runs part (%s, %s)", name, fnot, p->first_divergent_tensor,
                  p->first_max_tensor);
    check_flag(name, e, "amplified", p->amplified);
    check_flag(name, e, "loss_flat", p->loss_flat);
    check_flag(name, e, "batch_order_unknown", p->batch_order_unknown);
    check_flag(name, e, "guarantee_broken", p->guarantee_broken);
    check_texts(name, e, "mechanism", "mechanism", p->mechanism, 1);
    check_texts(name, e, "mechanism_not", "mechanism", p->mechanism, 0);
    check_texts(name, e, "rule_text", "rule", p->rule_text, 1);
    check_texts(name, e, "not_judged", "not judged", p->not_judged, 1);
    json_t *nj = json_object_get(e, "not_judged");
    if (json_is_array(nj) && json_array_size(nj) == 0)
        xdt_check(&T, p->not_judged[0] == '\0', "%s: every tensor judged (it says: %s)", name, p->not_judged);
    check_settings(name, e, p);
    json_t *ex = json_object_get(e, "exit");
    if (ex)
        xdt_check(&T, xd_report_exit_code(r) == json_integer_value(ex), "%s: exit %d, expected %lld", name,
                  xd_report_exit_code(r), (long long)json_integer_value(ex));
}

/* Adds one trace of the case to the report, which opens it. */
static int open_run(xd_report *rep, const char *dir, const char *trace)
{
    xd_error err;
    xd_run_record run = {0};
    snprintf(run.trace_dir, sizeof run.trace_dir, "%s/traces/%s", dir, trace ? trace : "?");
    xd_status st = xd_report_add_run(rep, &run, &err);
    if (st == XD_OK) st = xd_report_open_trace(rep, rep->nruns - 1, &err);
    return xdt_check(&T, st == XD_OK, "%s: %s", run.trace_dir, err.message);
}

static void run_case(const char *dir, json_t *c, FILE *text)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    xd_report *rep = xd_report_create();
    if (!rep) {
        xdt_check(&T, 0, "%s: report created (out of host memory)", name);
        return;
    }
    const char *globs[16];
    case_tolerance(json_object_get(c, "options"), &rep->tol, globs, 16);
    snprintf(rep->title, sizeof rep->title, "case %s", name ? name : "?");
    rep->first_is_reference = 1;
    if (open_run(rep, dir, json_string_value(json_object_get(c, "ref"))) &&
        open_run(rep, dir, json_string_value(json_object_get(c, "other")))) {
        xd_error err;
        xd_status st = xd_report_build(rep, &err);
        json_t *want_error = json_object_get(json_object_get(c, "expect"), "error");
        if (want_error) { /* refused: the CLI says the message and exits 2, writing no report */
            xdt_check(&T, st != XD_OK, "%s: refused", name);
            check_texts(name, json_object_get(c, "expect"), "error", "error", st != XD_OK ? err.message : "", 1);
        } else if (xdt_check(&T, st == XD_OK && rep->npairs == 1, "%s: report: %s", name, err.message)) {
            check_pair(name ? name : "?", json_object_get(c, "expect"), rep);
            xd_report_print(rep, text, 0);
            xdt_check(&T, xd_report_write_json(rep, "/dev/null", &err) == XD_OK, "%s: JSON: %s", name, err.message);
        }
    }
    xd_report_destroy(rep);
}

/* The class called `label` in rep, or NULL. */
static const xd_run_class *class_named(const xd_report *rep, const char *label)
{
    for (size_t i = 0; i < rep->nclasses; ++i)
        if (label && strcmp(rep->classes[i].label, label) == 0) return &rep->classes[i];
    return NULL;
}

/* Each expected class holds exactly the runs named (by trace, in order). */
static void check_classes(const char *name, json_t *want, const xd_report *rep, json_t *runs)
{
    xdt_check(&T, rep->nclasses == json_array_size(want), "%s: %zu classes, expected %zu", name, rep->nclasses,
              json_array_size(want));
    size_t i;
    json_t *w;
    json_array_foreach(want, i, w)
    {
        const char *label = json_string_value(json_array_get(w, 0));
        const xd_run_class *c = class_named(rep, label);
        json_t *members = json_array_get(w, 1);
        int ok = c && c->nmembers == json_array_size(members);
        for (size_t k = 0; ok && k < c->nmembers; ++k)
            ok = strcmp(json_string_value(json_array_get(runs, c->members[k])),
                        json_string_value(json_array_get(members, k))) == 0;
        xdt_check(&T, ok, "%s: class %s holds the runs expected", name, label ? label : "?");
    }
}

/* Each expected class pair: [a, b, verdict, first step, first op]. */
static void check_class_pairs(const char *name, json_t *want, const xd_report *rep)
{
    xdt_check(&T, rep->nclass_pairs == json_array_size(want), "%s: %zu class pairs, expected %zu", name,
              rep->nclass_pairs, json_array_size(want));
    for (size_t i = 0; i < rep->nclass_pairs && i < json_array_size(want); ++i) {
        json_t *w = json_array_get(want, i);
        const xd_class_pair *cp = &rep->class_pairs[i];
        const xd_pair *p = cp->pair;
        int ok = strcmp(rep->classes[cp->a].label, json_string_value(json_array_get(w, 0))) == 0 &&
                 strcmp(rep->classes[cp->b].label, json_string_value(json_array_get(w, 1))) == 0 &&
                 strcmp(xd_verdict_string(p->verdict), json_string_value(json_array_get(w, 2))) == 0 &&
                 p->first_divergent_step == json_integer_value(json_array_get(w, 3)) &&
                 strcmp(p->first_divergent_op, json_string_value(json_array_get(w, 4))) == 0;
        xdt_check(&T, ok, "%s: class pair %zu: %s vs %s %s at step %lld, op '%s'", name, i + 1,
                  rep->classes[cp->a].label, rep->classes[cp->b].label, xd_verdict_string(p->verdict),
                  (long long)p->first_divergent_step, p->first_divergent_op);
    }
}

/* Many runs in classes of bitwise-equal traces, as diff builds them. */
static void run_classes_case(const char *dir, json_t *c, FILE *text)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    json_t *names = json_object_get(c, "runs");
    size_t n = json_array_size(names), opened = 0;
    xd_report *rep = xd_report_create(); /* its tolerances: the defaults */
    if (!rep) {
        xdt_check(&T, 0, "%s: report created (out of host memory)", name);
        return;
    }
    rep->first_is_reference = 1;
    while (opened < n && open_run(rep, dir, json_string_value(json_array_get(names, opened)))) ++opened;
    xd_error err;
    if (opened == n && xdt_check(&T, xd_report_build(rep, &err) == XD_OK, "%s: report: %s", name, err.message)) {
        json_t *expect = json_object_get(c, "expect");
        check_classes(name ? name : "?", json_object_get(expect, "classes"), rep, names);
        check_class_pairs(name ? name : "?", json_object_get(expect, "pairs"), rep);
        xd_report_print(rep, text, 0);
    }
    xd_report_destroy(rep);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_pairs FIXTURES_DIR (tests/fixtures/pairs)\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", argv[1]);
    json_error_t je;
    json_t *m = json_load_file(path, 0, &je);
    if (!xdt_check(&T, m != NULL, "%s: %s", path, je.text)) return xdt_finish(&T);
    json_t *cases = json_object_get(m, "cases");
    xdt_check(&T, json_array_size(cases) >= 19, "%s: %zu cases", path, json_array_size(cases));
    /* the reports go to a file a failure can be read from */
    FILE *text = fopen("test_pairs-reports.txt", "w");
    if (!xdt_check(&T, text != NULL, "cannot write test_pairs-reports.txt")) text = stdout;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        int before = T.failed;
        run_case(argv[1], c, text);
        printf("%-26s %s\n", json_string_value(json_object_get(c, "name")), T.failed == before ? "ok" : "FAILED");
    }
    json_array_foreach(json_object_get(m, "classes"), i, c)
    {
        int before = T.failed;
        run_classes_case(argv[1], c, text);
        printf("classes: %-17s %s\n", json_string_value(json_object_get(c, "name")),
               T.failed == before ? "ok" : "FAILED");
    }
    xdt_check(&T, json_array_size(json_object_get(m, "classes")) >= 2, "%s: class cases", path);
    if (text != stdout) fclose(text);
    json_decref(m);
    return xdt_finish(&T);
}
