/* Reports: pairs and labels from runs, the exit code and the JSON document
 * (docs/report.schema.json).  The terminal text is report_text.c, the HTML
 * page report_html.c. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "crossdev/report.h"
#include "compare/pair.h"
#include "io/io.h"

static int same_mode(const xd_run_record *r, const char *mode) { return strcmp(r->mode, mode) == 0; }

static xd_status report_build(xd_report *r, xd_error *err);
static xd_status write_json(const xd_report *r, const char *path, xd_error *err);

xd_status xd_report_build(xd_report *r, xd_error *err) { return xd_error_return(err, report_build(r, err)); }

xd_status xd_report_write_json(const xd_report *r, const char *path, xd_error *err)
{
    return xd_error_return(err, write_json(r, path, err));
}

/* ---- labels ------------------------------------------------------------------------ */
/* The last `depth` components of path (trailing slashes ignored). */
static void path_suffix(const char *path, int depth, char *out, size_t cap)
{
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/') --end;
    size_t start = end;
    for (int d = 0; d < depth && start > 0; ++d) {
        if (d) --start; /* step over the slash */
        while (start > 0 && path[start - 1] != '/') --start;
    }
    snprintf(out, cap, "%.*s", (int)(end - start), path + start);
}

static const char *run_path(const xd_run_record *run) { return run->trace_dir[0] ? run->trace_dir : run->device_id; }

/* The fewest trailing path components that tell run i from every run of
 * another path; a path given twice gets " #2", " #3". */
static void label_run(xd_report *r, size_t i)
{
    const char *pi = run_path(&r->runs[i]);
    char si[128], sj[128];
    int depth = 1;
    for (; depth < 16; ++depth) {
        int clash = 0;
        path_suffix(pi, depth, si, sizeof si);
        for (size_t j = 0; j < r->nruns && !clash; ++j) {
            if (j == i || strcmp(run_path(&r->runs[j]), pi) == 0) continue;
            path_suffix(run_path(&r->runs[j]), depth, sj, sizeof sj);
            clash = strcmp(si, sj) == 0;
        }
        if (!clash) break;
    }
    path_suffix(pi, depth, si, sizeof si);
    size_t again = 0;
    for (size_t j = 0; j < i; ++j) again += strcmp(run_path(&r->runs[j]), pi) == 0;
    if (again) snprintf(r->runs[i].label, sizeof r->runs[i].label, "%.110s #%zu", si, again + 1);
    else snprintf(r->runs[i].label, sizeof r->runs[i].label, "%s", si);
}

/* ---- pairs ------------------------------------------------------------------------- */
/* A pair whose run failed (or whose mode has no reference): FAILED, with the
 * run's error as the note. */
static void pair_failed(xd_pair *p, const xd_report *r, const xd_run_record *ref, const xd_run_record *run)
{
    memset(p, 0, sizeof *p);
    p->failed_run = (size_t)(run - r->runs) + 1;
    p->ref = ref ? ref->trace : NULL;
    p->verdict = XD_VERDICT_FAILED;
    p->first_divergent_step = p->first_measured_step = p->end_step = -1;
    snprintf(p->note, sizeof p->note, "%.120s (%s) failed: %.300s", run->label, run->mode, run->error);
}

/* run against ref into the next pair; incomparable traces are a verdict
 * of their pair, not an error of the report. */
static xd_status add_pair(xd_report *r, const xd_run_record *ref, const xd_run_record *run, xd_error *err)
{
    xd_pair *p = &r->pairs[r->npairs++];
    if (run->failed || !ref || ref->failed) {
        pair_failed(p, r, ref, run->failed || !ref ? run : ref);
        return XD_OK;
    }
    xd_error e;
    xd_status st = xd_compare_pair(ref->trace, run->trace, &r->tol, p, &e);
    if (st != XD_OK && st != XD_MISMATCH)
        return xd_error_set(err, st, 0, "comparing %s with %s: %s", ref->trace_dir, run->trace_dir, e.message);
    return XD_OK;
}

/* compare's pairs: within each mode against its reference, then the two
 * modes on the reproducible reference's device. */
static xd_status pairs_by_mode(xd_report *r, xd_error *err)
{
    static const char *const modes[2] = {"reproducible", "fast"};
    const xd_run_record *refs[2] = {xd_report_mode_reference(r, modes[0]), xd_report_mode_reference(r, modes[1])};
    for (int m = 0; m < 2; ++m)
        for (size_t i = 0; i < r->nruns; ++i) {
            const xd_run_record *run = &r->runs[i];
            if (!same_mode(run, modes[m]) || run == refs[m]) continue;
            xd_status st = add_pair(r, refs[m], run, err);
            if (st != XD_OK) return st;
        }
    if (!refs[0] || !refs[1]) return XD_OK;
    /* fast against reproducible on one device: what fast mode costs */
    const xd_run_record *fast = refs[1];
    for (size_t i = 0; i < r->nruns; ++i)
        if (same_mode(&r->runs[i], "fast") && !r->runs[i].failed &&
            strcmp(r->runs[i].device_id, refs[0]->device_id) == 0) {
            fast = &r->runs[i];
            break;
        }
    return add_pair(r, refs[0], fast, err);
}

/* Every snapshot file of every trace the report covers, against the hash
 * its trace.json recorded: a verdict never rests on a file edited after
 * recording, even one whose hash says it equals the other run's (those
 * are never read for the numbers).  A file that fails is bad input, as a
 * damaged trace.json is: an error naming it, and no report. */
static xd_status verify_runs(const xd_report *r, xd_error *err)
{
    for (size_t i = 0; i < r->nruns; ++i) {
        if (r->runs[i].failed || !r->runs[i].trace) continue;
        xd_status st = xd_trace_verify_snapshots(r->runs[i].trace, err);
        if (st != XD_OK) return st;
    }
    return XD_OK;
}

static xd_status report_build(xd_report *r, xd_error *err)
{
    xd_status vst = verify_runs(r, err);
    if (vst != XD_OK) return vst;
    free(r->pairs);
    r->pairs = calloc(r->nruns + 2, sizeof *r->pairs);
    r->npairs = 0;
    if (!r->pairs) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory");
    for (size_t i = 0; i < r->nruns; ++i)
        if (!r->runs[i].label[0]) label_run(r, i);
    xd_status st = XD_OK;
    if (!r->first_is_reference) st = pairs_by_mode(r, err);
    for (size_t i = 1; r->first_is_reference && i < r->nruns && st == XD_OK; ++i)
        st = add_pair(r, &r->runs[0], &r->runs[i], err);
    return st == XD_OK ? xd_report_classes(r, err) : st;
}

/* ---- the report's life: it owns its runs and their traces ---------------------------- */

xd_report *xd_report_create(void)
{
    xd_report *r = calloc(1, sizeof *r);
    if (r) r->tol = xd_tolerance_defaults();
    return r;
}

xd_status xd_report_add_run(xd_report *r, const xd_run_record *run, xd_error *err)
{
    if (!r || !run) return xd_error_return(err, XD_INVALID_ARGUMENT);
    xd_run_record *grown = realloc(r->runs, (r->nruns + 1) * sizeof *grown);
    if (!grown) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory");
    r->runs = grown;
    r->runs[r->nruns] = *run;
    r->runs[r->nruns++].trace = NULL; /* the report opens its own (xd_report_open_trace) */
    return XD_OK;
}

xd_status xd_report_open_trace(xd_report *r, size_t i, xd_error *err)
{
    if (!r || i >= r->nruns) return xd_error_return(err, XD_INVALID_ARGUMENT);
    xd_run_record *run = &r->runs[i];
    xd_trace_close(run->trace);
    run->trace = NULL;
    xd_status st = xd_trace_open(run->trace_dir, &run->trace, err);
    if (st != XD_OK) return st;
    if (!run->device_id[0]) snprintf(run->device_id, sizeof run->device_id, "%s", run->trace->device_id);
    if (!run->mode[0]) snprintf(run->mode, sizeof run->mode, "%s", run->trace->mode);
    return XD_OK;
}

void xd_report_destroy(xd_report *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->npairs; ++i) xd_pair_free(&r->pairs[i]);
    free(r->pairs);
    xd_report_classes_free(r);
    for (size_t i = 0; i < r->nruns; ++i) xd_trace_close(r->runs[i].trace);
    free(r->runs);
    free(r);
}

int xd_report_exit_code(const xd_report *r)
{
    int failed = 0, diverged = 0;
    for (size_t i = 0; i < r->nruns; ++i) failed |= r->runs[i].failed;
    for (size_t i = 0; i < r->npairs; ++i) {
        const xd_pair *p = &r->pairs[i];
        failed |= p->verdict == XD_VERDICT_FAILED || p->verdict == XD_VERDICT_INCOMPARABLE;
        diverged |= p->verdict == XD_VERDICT_DIVERGED || p->guarantee_broken;
    }
    return failed ? 2 : diverged ? 1 : 0;
}

/* ---- JSON -------------------------------------------------------------------------- */
static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }
static json_t *ulp_or_null(uint64_t u) { return u == UINT64_MAX ? json_null() : json_integer((json_int_t)u); }

static json_t *run_json(const xd_run_record *run)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:b, s:s}", "label", run->label, "device", run->device_id, "mode",
                          run->mode, "repeat", run->repeat, "failed", run->failed, "trace", run->trace_dir);
    json_object_set_new(o, "exit_status", json_integer(run->exit_status));
    json_object_set_new(o, "signal", json_integer(run->term_signal));
    json_object_set_new(o, "timed_out", json_boolean(run->timed_out));
    json_object_set_new(o, "error", json_string(run->error));
    json_object_set_new(o, "seconds", num(run->seconds));
    if (run->trace) {
        json_object_set_new(o, "steps", json_integer(run->trace->steps));
        json_object_set_new(o, "test_accuracy", num(run->trace->test_accuracy));
        json_object_set_new(o, "test_loss", num(run->trace->test_loss));
        json_object_set_new(o, "driver", json_string(run->trace->driver));
        json_object_set_new(o, "build_options", json_string(run->trace->build_options));
        json_object_set_new(o, "guarantee", json_string(run->trace->guarantee));
        json_t *prod = xd_trace_section(run->trace, "producer");
        json_object_set_new(o, "producer", json_is_object(prod) ? json_incref(prod) : json_null());
        json_object_set_new(o, "synthetic_data", json_boolean(run->trace->synthetic));
        json_t *dev = xd_trace_section(run->trace, "device");
        if (dev) json_object_set(o, "device_info", dev);
        json_t *loss = json_array();
        for (int64_t k = 0; k < run->trace->steps; ++k) json_array_append_new(loss, num(run->trace->loss[k]));
        json_object_set_new(o, "loss", loss);
    }
    return o;
}

static json_t *diff_json(const xd_tensor_diff *d, const char *key)
{
    json_t *h = json_array();
    for (int b = 0; b < XD_ULP_BINS; ++b) json_array_append_new(h, json_integer((json_int_t)d->ulp_hist[b]));
    json_t *o = json_pack("{s:s, s:I, s:b, s:I, s:I, s:o, s:o, s:o, s:I, s:I, s:o, s:o}", key, d->name, "step",
                          (json_int_t)d->step, "bitwise_equal", d->ndiff == 0, "elements", (json_int_t)d->n,
                          "differing", (json_int_t)d->ndiff, "max_rel", num(d->max_rel), "max_abs", num(d->max_abs),
                          "max_ulp", ulp_or_null(d->max_ulp), "sign_flips", (json_int_t)d->sign_flips, "nan",
                          (json_int_t)d->nan, "nmse", num(d->nmse), "ulp_histogram", h);
    json_object_set_new(o, "layer_rel", num(d->layer_rel));
    json_object_set_new(o, "scale", d->ref_max < 0 ? json_null() : num(d->scale));
    json_object_set_new(o, "role", json_string(xd_tensor_role_string(d->role)));
    return o;
}

/* A run of a pair: its label, device, mode and trace; null when failed. */
static json_t *side_json(const xd_report *r, const xd_trace *t)
{
    if (!t) return json_null();
    const char *label = "";
    for (size_t i = 0; i < r->nruns; ++i)
        if (r->runs[i].trace == t) label = r->runs[i].label;
    return json_pack("{s:s, s:s, s:s, s:s}", "label", label, "device", t->device_id, "mode", t->mode, "trace", t->dir);
}

static json_t *settings_json(const xd_pair *p)
{
    static const char *const kinds[3] = {"training", "computation", "info"};
    json_t *arr = json_array();
    for (size_t i = 0; i < p->nsettings; ++i) {
        const xd_setting_diff *d = &p->settings[i];
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "key", d->key, "reference", d->ref, "other",
                                             d->other, "kind", kinds[d->kind]));
    }
    return json_pack("{s:b, s:o, s:I}", "same", !xd_settings_differ(p, XD_SETTING_TRAINING), "differences", arr, "more",
                     (json_int_t)p->settings_more);
}

/* Where the runs part and by how much, and how that grew to the end. */
static void pair_numbers_json(json_t *o, const xd_pair *p)
{
    json_t *ops = json_array();
    for (size_t k = 0; k < p->nop_diffs; ++k) json_array_append_new(ops, diff_json(&p->op_diffs[k], "op"));
    json_object_set_new(o, "first_difference",
                        json_pack("{s:o, s:o, s:o, s:s, s:o, s:o}", "step",
                                  p->first_divergent_step >= 0 ? json_integer(p->first_divergent_step) : json_null(),
                                  "measured_at",
                                  p->first_measured_step >= 0 ? json_integer(p->first_measured_step) : json_null(),
                                  "max_rel", num(p->first_max_rel), "tensor", p->first_max_tensor, "loss_rel",
                                  num(p->first_loss_rel), "ops", ops));
    json_object_set_new(o, "end",
                        json_pack("{s:o, s:o, s:s, s:o, s:b, s:b, s:b}", "step",
                                  p->end_step >= 0 ? json_integer(p->end_step) : json_null(), "max_rel",
                                  num(p->end_max_rel), "tensor", p->end_max_tensor, "loss_rel_last_10",
                                  num(p->end_loss_rel), "final_compared", p->final_compared, "amplified", p->amplified,
                                  "loss_flat", p->loss_flat));
    double factor =
        p->first_max_rel > 0 && p->end_step > p->first_measured_step ? p->end_max_rel / p->first_max_rel : NAN;
    json_object_set_new(o, "amplification", num(factor));
}

static json_t *pair_json(const xd_report *r, const xd_pair *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "reference", side_json(r, p->ref));
    json_object_set_new(o, "other", side_json(r, p->other));
    json_object_set_new(o, "verdict", json_string(xd_verdict_string(p->verdict)));
    json_object_set_new(o, "rule", json_string(xd_rule_string(p->rule)));
    json_object_set_new(o, "rule_text", json_string(p->rule_text));
    json_object_set_new(o, "guarantee_judged", json_boolean(p->guarantee_judged));
    json_object_set_new(o, "guarantee_broken", json_boolean(p->guarantee_broken));
    json_object_set_new(o, "amplified", json_boolean(p->amplified));
    json_object_set_new(o, "mechanism", json_string(p->mechanism));
    json_object_set_new(o, "not_judged", json_string(p->not_judged));
    json_object_set_new(o, "forward_differs", json_boolean(p->forward_differs));
    json_object_set_new(o, "batch_order_unknown", json_boolean(p->batch_order_unknown));
    json_object_set_new(o, "hint", json_string(p->hint));
    json_object_set_new(o, "note", json_string(p->note));
    json_object_set_new(o, "same_trace", json_boolean(p->same_trace));
    json_object_set_new(o, "settings", settings_json(p));
    json_object_set_new(o, "steps_compared", json_integer(p->common_steps));
    json_object_set_new(o, "init_identical", json_boolean(p->init_identical));
    json_object_set_new(o, "first_divergent_step",
                        p->first_divergent_step >= 0 ? json_integer(p->first_divergent_step) : json_null());
    json_object_set_new(o, "first_divergent_tensor", json_string(p->first_divergent_tensor));
    json_object_set_new(o, "first_divergent_op",
                        p->first_divergent_op[0] ? json_string(p->first_divergent_op) : json_null());
    pair_numbers_json(o, p);
    json_object_set_new(o, "loss",
                        json_pack("{s:o, s:o, s:I}", "max_abs", num(p->loss_max_abs), "max_rel", num(p->loss_max_rel),
                                  "peak_step", (json_int_t)p->loss_peak_step));
    json_object_set_new(o, "max_rel", num(p->max_rel));
    json_object_set_new(o, "max_abs", num(p->max_abs));
    json_object_set_new(o, "max_ulp", ulp_or_null(p->max_ulp));
    json_object_set_new(o, "sign_flips", json_integer((json_int_t)p->sign_flips));
    json_t *ts = json_array();
    for (size_t k = 0; k < p->ndiffs; ++k) json_array_append_new(ts, diff_json(&p->diffs[k], "tensor"));
    json_object_set_new(o, "tensors", ts);
    return o;
}

/* The thresholds every pair was judged by; null: not applied. */
static json_t *rules_json(const xd_tolerance *t)
{
    json_t *ignore = json_array();
    for (size_t i = 0; t->ignore && i < t->nignore; ++i) json_array_append_new(ignore, json_string(t->ignore[i]));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "rounding_rel", num(t->rounding_rel), "final_accuracy_abs",
                     num(t->acc_abs), "final_loss_rel", num(t->final_loss_rel), "tol_rel",
                     t->rel > 0 ? json_real(t->rel) : json_null(), "tol_loss",
                     t->loss_rel > 0 ? json_real(t->loss_rel) : json_null(), "amplified_rel", num(t->amplified_rel),
                     "ignore", ignore);
}

/* "classes" and "class_pairs": runs as their 1-based numbers, classes by label. */
static void classes_json(const xd_report *r, json_t *root)
{
    json_t *classes = json_array(), *pairs = json_array();
    for (size_t i = 0; i < r->nclasses; ++i) {
        const xd_run_class *c = &r->classes[i];
        json_t *members = json_array();
        for (size_t k = 0; k < c->nmembers; ++k)
            json_array_append_new(members, json_integer((json_int_t)c->members[k] + 1));
        json_array_append_new(classes,
                              json_pack("{s:s, s:s, s:o}", "label", c->label, "mode", c->mode, "runs", members));
    }
    for (size_t i = 0; i < r->nclass_pairs; ++i) {
        const xd_class_pair *cp = &r->class_pairs[i];
        json_array_append_new(pairs, json_pack("{s:s, s:s, s:o}", "a", r->classes[cp->a].label, "b",
                                               r->classes[cp->b].label, "pair", pair_json(r, cp->pair)));
    }
    json_object_set_new(root, "classes", classes);
    json_object_set_new(root, "class_pairs", pairs);
}

static xd_status write_json(const xd_report *r, const char *path, xd_error *err)
{
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string("crossdev-report"));
    json_object_set_new(root, "version", json_integer(3));
    json_object_set_new(root, "title", json_string(r->title));
    json_object_set_new(root, "partial", json_boolean(r->partial));
    json_object_set_new(root, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(root, "seed_random", json_boolean(r->seed_random));
    json_object_set_new(root, "rules", rules_json(&r->tol));
    json_object_set_new(root, "notes", json_string(r->notes));
    json_t *bins = json_array();
    for (int b = 0; b < XD_ULP_BINS; ++b) json_array_append_new(bins, json_string(xd_ulp_bin_label(b)));
    json_object_set_new(root, "ulp_bins", bins);
    json_t *runs = json_array(), *pairs = json_array();
    for (size_t i = 0; i < r->nruns; ++i) json_array_append_new(runs, run_json(&r->runs[i]));
    for (size_t i = 0; i < r->npairs; ++i) json_array_append_new(pairs, pair_json(r, &r->pairs[i]));
    json_object_set_new(root, "runs", runs);
    json_object_set_new(root, "pairs", pairs);
    classes_json(r, root);
    json_object_set_new(root, "exit_code", json_integer(xd_report_exit_code(r)));
    xd_status st = xd_json_write_user(root, path, err);
    json_decref(root);
    return st;
}
