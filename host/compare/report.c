/* Reports: pairs from runs, the terminal table and the JSON document
 * (schema in docs/compare.md).  The HTML page is host/compare/report_html.c. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "crossdev/crossdev.h"
#include "io/io.h"

static int same_mode(const xd_run_record *r, const char *mode) { return strcmp(r->mode, mode) == 0; }

static xd_status report_build(xd_report *r, xd_error *err);
static xd_status write_json(const xd_report *r, const char *path, xd_error *err);

xd_status xd_report_build(xd_report *r, xd_error *err) { return xd_error_return(err, report_build(r, err)); }

xd_status xd_report_write_json(const xd_report *r, const char *path, xd_error *err)
{
    return xd_error_return(err, write_json(r, path, err));
}

/* Reference of a mode: its successful run with the most steps (the first
 * in run order among equals), so slow devices that ran fewer steps never
 * shorten the other comparisons.  NULL: no run of the mode succeeded. */
static const xd_run_record *mode_reference(const xd_report *r, const char *mode)
{
    const xd_run_record *ref = NULL;
    for (size_t i = 0; i < r->nruns; ++i) {
        const xd_run_record *run = &r->runs[i];
        if (same_mode(run, mode) && !run->failed &&
            (!ref || (!r->first_is_reference && run->trace->steps > ref->trace->steps)))
            ref = run;
    }
    return ref;
}

/* A pair whose run failed (or whose mode has no reference): FAILED, with the
 * run's error as the note. */
static void pair_failed(xd_pair *p, const xd_run_record *ref, const xd_run_record *run)
{
    memset(p, 0, sizeof *p);
    p->ref = ref ? ref->trace : NULL;
    p->verdict = XD_VERDICT_FAILED;
    p->first_divergent_step = -1;
    snprintf(p->note, sizeof p->note, "%.120s (%s) failed: %.300s", run->device_id, run->mode, run->error);
}

/* Every other run of a mode against the mode's reference.  Incomparable
 * traces are a verdict of their pair, not an error of the report. */
static xd_status compare_mode(xd_report *r, const char *mode, const xd_run_record *ref, xd_error *err)
{
    for (size_t i = 0; i < r->nruns; ++i) {
        const xd_run_record *run = &r->runs[i];
        if (!same_mode(run, mode) || run == ref) continue;
        xd_pair *p = &r->pairs[r->npairs++];
        if (run->failed || !ref) {
            pair_failed(p, ref, run);
            continue;
        }
        xd_error e;
        xd_status st = xd_compare_pair(ref->trace, run->trace, &r->tol, p, &e);
        if (st != XD_OK && st != XD_MISMATCH) {
            xd_error_msg(err, "comparing %s with %s: %s", ref->trace_dir, run->trace_dir, e.message);
            return st;
        }
    }
    return XD_OK;
}

static xd_status report_build(xd_report *r, xd_error *err)
{
    static const char *const modes[2] = {"reproducible", "fast"};
    free(r->pairs);
    r->pairs = calloc(r->nruns + 2, sizeof *r->pairs);
    r->npairs = 0;
    if (!r->pairs) return XD_OUT_OF_HOST_MEMORY;
    const xd_run_record *refs[2] = {mode_reference(r, modes[0]), mode_reference(r, modes[1])};
    for (int m = 0; m < 2; ++m) {
        xd_status st = compare_mode(r, modes[m], refs[m], err);
        if (st != XD_OK) return st;
    }
    /* fast against reproducible on the reference device: what fast mode costs */
    if (refs[0] && refs[1]) {
        xd_pair *p = &r->pairs[r->npairs++];
        xd_error e;
        xd_status st = xd_compare_pair(refs[0]->trace, refs[1]->trace, &r->tol, p, &e);
        if (st != XD_OK && st != XD_MISMATCH) {
            xd_error_msg(err, "comparing modes: %s", e.message);
            return st;
        }
    }
    return XD_OK;
}

void xd_report_free(xd_report *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->npairs; ++i) xd_pair_free(&r->pairs[i]);
    free(r->pairs);
    r->pairs = NULL;
    r->npairs = 0;
    for (size_t i = 0; i < r->nruns; ++i) {
        xd_trace_close(r->runs[i].trace);
        r->runs[i].trace = NULL;
    }
}

int xd_report_exit_code(const xd_report *r)
{
    int failed = 0, beyond = 0;
    for (size_t i = 0; i < r->nruns; ++i) failed |= r->runs[i].failed;
    for (size_t i = 0; i < r->npairs; ++i) {
        const xd_pair *p = &r->pairs[i];
        failed |= p->verdict == XD_VERDICT_FAILED || p->verdict == XD_VERDICT_INCOMPARABLE;
        beyond |= p->verdict == XD_VERDICT_DIVERGED || p->guarantee_broken;
    }
    return failed ? 2 : beyond ? 1 : 0;
}

/* ---- terminal ---------------------------------------------------------------------- */
static const char *color_of(xd_verdict v, int broken)
{
    if (broken) return "\033[1;31m";
    switch (v) {
    case XD_VERDICT_IDENTICAL: return "\033[1;32m";
    case XD_VERDICT_WITHIN_TOLERANCE: return "\033[1;33m";
    default: return "\033[1;31m";
    }
}

static void label(const xd_trace *t, char *out, size_t cap)
{
    if (!t) snprintf(out, cap, "(none)");
    else snprintf(out, cap, "%s [%s]", t->device_id, t->mode);
}

/* fp capabilities of a trace's device, "denorm fma cr-div fp64" as yes/no */
static void fp_caps(const xd_trace *t, char *out, size_t cap)
{
    json_t *fp = json_object_get(json_object_get((json_t *)t->json, "device"), "fp");
    snprintf(out, cap, "denorm %s, fma %s, cr-div/sqrt %s, fp64 %s",
             json_is_true(json_object_get(fp, "fp32_denorm")) ? "yes" : "no",
             json_is_true(json_object_get(fp, "fp32_fma")) ? "yes" : "no",
             json_is_true(json_object_get(fp, "fp32_correctly_rounded_div_sqrt")) ? "yes" : "no",
             json_is_true(json_object_get(fp, "fp64")) ? "yes" : "no");
}

/* Bold/plain and verdict colours: ANSI escapes on a terminal, nothing
 * otherwise. */
typedef struct term_style {
    int color;
    const char *off, *bold;
} term_style;

static void print_header(const xd_report *r, FILE *out, const term_style *ts)
{
    fprintf(out, "%s%s%s\n", ts->bold, r->title, ts->off);
    if (r->seed_random) fprintf(out, "seed %llu (random, drawn for this run)\n", (unsigned long long)r->seed);
    else fprintf(out, "seed %llu\n", (unsigned long long)r->seed);
    if (r->notes[0]) fprintf(out, "%s\n", r->notes);
}

static void run_status(const xd_run_record *run, char *out, size_t cap)
{
    if (!run->failed) snprintf(out, cap, "ok");
    else if (run->timed_out) snprintf(out, cap, "FAILED (timeout)");
    else if (run->term_signal) snprintf(out, cap, "FAILED (signal %d)", run->term_signal);
    else snprintf(out, cap, "FAILED (exit %d)", run->exit_status);
}

/* One row per run, its error and a synthetic-data warning below it. */
static void print_runs(const xd_report *r, FILE *out, const term_style *ts)
{
    fprintf(out, "\n%sRuns%s\n", ts->bold, ts->off);
    fprintf(out, "  %-52s %-13s %-4s %-6s %-9s %-10s %s\n", "device", "mode", "rep", "steps", "test acc", "status",
            "driver");
    for (size_t i = 0; i < r->nruns; ++i) {
        const xd_run_record *run = &r->runs[i];
        char acc[32] = "-", steps[32] = "-";
        if (run->trace) {
            snprintf(steps, sizeof steps, "%lld", (long long)run->trace->steps);
            if (!isnan(run->trace->test_accuracy)) snprintf(acc, sizeof acc, "%.4f", run->trace->test_accuracy);
        }
        char status[64];
        run_status(run, status, sizeof status);
        fprintf(out, "  %-52s %-13s %-4d %-6s %-9s %-10s %s\n", run->device_id, run->mode, run->repeat, steps, acc,
                status, run->trace ? run->trace->driver : "");
        if (run->failed && run->error[0]) fprintf(out, "      error: %s\n", run->error);
        if (run->trace && run->trace->synthetic) fprintf(out, "      data: SYNTHETIC (not real data)\n");
    }
}

/* Settings first (driver, fp capabilities, build options), then where the
 * two runs part and how far apart their losses went. */
static void print_pair_facts(const xd_pair *p, FILE *out)
{
    char ca[160], cb[160];
    fp_caps(p->ref, ca, sizeof ca);
    fp_caps(p->other, cb, sizeof cb);
    fprintf(out, "  reference: driver %s; %s; build \"%s\"\n", p->ref->driver, ca, p->ref->build_options);
    fprintf(out, "  other:     driver %s; %s; build \"%s\"\n", p->other->driver, cb, p->other->build_options);
    fprintf(out, "  steps compared %lld (%lld vs %lld run); initial weights %s\n", (long long)p->common_steps,
            (long long)p->ref->steps, (long long)p->other->steps, p->init_identical ? "identical" : "DIFFER");
    if (p->first_divergent_step < 0) fprintf(out, "  first divergence: none (every per-step hash equal)\n");
    else
        fprintf(out, "  first divergence: step %lld, %s%s%s\n", (long long)p->first_divergent_step,
                p->first_divergent_tensor, p->first_divergent_op[0] ? ", first op: " : "", p->first_divergent_op);
    fprintf(out, "  loss: max abs diff %.3g, max rel diff %.3g (peak at step %lld)\n", p->loss_max_abs, p->loss_max_rel,
            (long long)p->loss_peak_step);
}

/* Per snapshot, the worst tensor (diffs come grouped by step). */
static void print_snapshot_worst(const xd_pair *p, FILE *out)
{
    fprintf(out, "  per snapshot (worst tensor):  step  max rel     max ULP\n");
    for (size_t k = 0; k < p->ndiffs;) {
        int64_t s = p->diffs[k].step;
        double mr = 0;
        uint64_t mu = 0;
        for (; k < p->ndiffs && p->diffs[k].step == s; ++k) {
            if (p->diffs[k].max_rel > mr) mr = p->diffs[k].max_rel;
            if (p->diffs[k].max_ulp > mu && p->diffs[k].max_ulp != UINT64_MAX) mu = p->diffs[k].max_ulp;
        }
        fprintf(out, "                               %5lld  %-10.3g  %llu\n", (long long)s, mr, (unsigned long long)mu);
    }
}

/* Every tensor at the last snapshot, then their ULP histogram. */
static void print_last_snapshot(const xd_pair *p, FILE *out)
{
    int64_t last = -1;
    for (size_t k = 0; k < p->ndiffs; ++k) last = p->diffs[k].step;
    fprintf(out, "  tensors at step %lld:\n    %-20s %-8s %-10s %-10s %-10s %-10s %-10s\n", (long long)last, "tensor",
            "equal", "differ", "max abs", "max rel", "max ULP", "NMSE");
    size_t hist[XD_ULP_BINS] = {0};
    for (size_t k = 0; k < p->ndiffs; ++k) {
        const xd_tensor_diff *d = &p->diffs[k];
        if (d->step != last) continue;
        char frac[32];
        snprintf(frac, sizeof frac, "%zu", d->ndiff);
        fprintf(out, "    %-20s %-8s %-10s %-10.3g %-10.3g %-10llu %-10.3g\n", d->name, d->ndiff ? "no" : "yes", frac,
                d->max_abs, d->max_rel, (unsigned long long)(d->max_ulp == UINT64_MAX ? 0 : d->max_ulp), d->nmse);
        for (int b2 = 0; b2 < XD_ULP_BINS; ++b2) hist[b2] += d->ulp_hist[b2];
    }
    fprintf(out, "  ULP histogram at step %lld:", (long long)last);
    for (int b2 = 0; b2 < XD_ULP_BINS; ++b2)
        if (hist[b2]) fprintf(out, "  [%s] %zu", xd_ulp_bin_label(b2), hist[b2]);
    fputc('\n', out);
}

/* Pair n's block: who against whom, then either why nothing was compared or
 * the facts, the tensor differences (unless identical) and the verdict. */
static void print_pair(const xd_report *r, size_t n, const xd_pair *p, FILE *out, const term_style *ts)
{
    char a[400], b[400];
    label(p->ref, a, sizeof a);
    label(p->other, b, sizeof b);
    fprintf(out, "\n%sPair %zu%s: %s\n     vs %s\n", ts->bold, n, ts->off, a, p->other ? b : "(failed run)");
    if (p->verdict == XD_VERDICT_FAILED || p->verdict == XD_VERDICT_INCOMPARABLE) {
        fprintf(out, "  %s%s%s: %s\n", ts->color ? color_of(p->verdict, 1) : "", xd_verdict_string(p->verdict), ts->off,
                p->note);
        return;
    }
    print_pair_facts(p, out);
    if (p->verdict != XD_VERDICT_IDENTICAL) {
        print_snapshot_worst(p, out);
        print_last_snapshot(p, out);
    }
    if (p->note[0]) fprintf(out, "  note: %s\n", p->note);
    fprintf(out, "  test accuracy: %.4f vs %.4f\n", p->ref->test_accuracy, p->other->test_accuracy);
    fprintf(out, "  verdict: %s%s%s (tolerance: rel %.1e of each tensor's max |value|, loss rel %.1e)%s\n",
            ts->color ? color_of(p->verdict, p->guarantee_broken) : "", xd_verdict_string(p->verdict), ts->off,
            r->tol.rel, r->tol.loss_rel, p->guarantee_broken ? "  ** REPRODUCIBLE-MODE GUARANTEE BROKEN **" : "");
}

/* The exit code and what it means. */
static void print_summary(const xd_report *r, FILE *out)
{
    int code = xd_report_exit_code(r);
    fprintf(out, "\nexit %d: %s\n", code,
            code == 0   ? "all pairs within tolerance, reproducible pairs identical"
            : code == 1 ? "some pair beyond tolerance or a reproducible pair not identical"
                        : "a run failed or traces were not comparable");
}

void xd_report_print(const xd_report *r, FILE *out, int color)
{
    const term_style ts = {color, color ? "\033[0m" : "", color ? "\033[1m" : ""};
    print_header(r, out, &ts);
    print_runs(r, out, &ts);
    for (size_t i = 0; i < r->npairs; ++i) print_pair(r, i + 1, &r->pairs[i], out, &ts);
    print_summary(r, out);
}

/* ---- JSON -------------------------------------------------------------------------- */
static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *run_json(const xd_run_record *run)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:b, s:s}", "device", run->device_id, "mode", run->mode, "repeat",
                          run->repeat, "failed", run->failed, "trace", run->trace_dir);
    json_object_set_new(o, "exit_status", json_integer(run->exit_status));
    json_object_set_new(o, "signal", json_integer(run->term_signal));
    json_object_set_new(o, "timed_out", json_boolean(run->timed_out));
    json_object_set_new(o, "error", json_string(run->error));
    json_object_set_new(o, "seconds", num(run->seconds));
    if (run->trace) {
        json_object_set_new(o, "steps", json_integer(run->trace->steps));
        json_object_set_new(o, "test_accuracy", num(run->trace->test_accuracy));
        json_object_set_new(o, "driver", json_string(run->trace->driver));
        json_object_set_new(o, "build_options", json_string(run->trace->build_options));
        json_object_set_new(o, "guarantee", json_string(run->trace->guarantee));
        json_object_set_new(o, "synthetic_data", json_boolean(run->trace->synthetic));
        json_t *dev = json_object_get((json_t *)run->trace->json, "device");
        if (dev) json_object_set(o, "device_info", dev);
        json_t *loss = json_array();
        for (int64_t k = 0; k < run->trace->steps; ++k) json_array_append_new(loss, num(run->trace->loss[k]));
        json_object_set_new(o, "loss", loss);
    }
    return o;
}

static json_t *pair_json(const xd_pair *p)
{
    json_t *o = json_object();
    json_object_set_new(
        o, "reference",
        p->ref ? json_pack("{s:s, s:s, s:s}", "device", p->ref->device_id, "mode", p->ref->mode, "trace", p->ref->dir)
               : json_null());
    json_object_set_new(o, "other",
                        p->other ? json_pack("{s:s, s:s, s:s}", "device", p->other->device_id, "mode", p->other->mode,
                                             "trace", p->other->dir)
                                 : json_null());
    json_object_set_new(o, "verdict", json_string(xd_verdict_string(p->verdict)));
    json_object_set_new(o, "guarantee_broken", json_boolean(p->guarantee_broken));
    json_object_set_new(o, "note", json_string(p->note));
    json_object_set_new(o, "steps_compared", json_integer(p->common_steps));
    json_object_set_new(o, "init_identical", json_boolean(p->init_identical));
    json_object_set_new(o, "first_divergent_step",
                        p->first_divergent_step >= 0 ? json_integer(p->first_divergent_step) : json_null());
    json_object_set_new(o, "first_divergent_tensor", json_string(p->first_divergent_tensor));
    json_object_set_new(o, "first_divergent_op",
                        p->first_divergent_op[0] ? json_string(p->first_divergent_op) : json_null());
    json_object_set_new(o, "loss",
                        json_pack("{s:o, s:o, s:I}", "max_abs", num(p->loss_max_abs), "max_rel", num(p->loss_max_rel),
                                  "peak_step", (json_int_t)p->loss_peak_step));
    json_object_set_new(o, "max_abs", num(p->max_abs));
    json_object_set_new(o, "max_rel", num(p->max_rel));
    json_object_set_new(o, "max_ulp", p->max_ulp == UINT64_MAX ? json_null() : json_integer((json_int_t)p->max_ulp));
    json_t *ts = json_array();
    for (size_t k = 0; k < p->ndiffs; ++k) {
        const xd_tensor_diff *d = &p->diffs[k];
        json_t *h = json_array();
        for (int b = 0; b < XD_ULP_BINS; ++b) json_array_append_new(h, json_integer((json_int_t)d->ulp_hist[b]));
        json_array_append_new(
            ts, json_pack("{s:s, s:I, s:b, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "tensor", d->name, "step",
                          (json_int_t)d->step, "bitwise_equal", d->ndiff == 0, "elements", (json_int_t)d->n,
                          "differing", (json_int_t)d->ndiff, "max_abs", num(d->max_abs), "max_rel", num(d->max_rel),
                          "max_ulp", d->max_ulp == UINT64_MAX ? json_null() : json_integer((json_int_t)d->max_ulp),
                          "nmse", num(d->nmse), "ulp_histogram", h));
    }
    json_object_set_new(o, "tensors", ts);
    return o;
}

static xd_status write_json(const xd_report *r, const char *path, xd_error *err)
{
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string("crossdev-report"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "title", json_string(r->title));
    json_object_set_new(root, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(root, "seed_random", json_boolean(r->seed_random));
    json_object_set_new(root, "tolerance", json_pack("{s:f, s:f}", "rel", r->tol.rel, "loss_rel", r->tol.loss_rel));
    json_object_set_new(root, "notes", json_string(r->notes));
    json_t *bins = json_array();
    for (int b = 0; b < XD_ULP_BINS; ++b) json_array_append_new(bins, json_string(xd_ulp_bin_label(b)));
    json_object_set_new(root, "ulp_bins", bins);
    json_t *runs = json_array(), *pairs = json_array();
    for (size_t i = 0; i < r->nruns; ++i) json_array_append_new(runs, run_json(&r->runs[i]));
    for (size_t i = 0; i < r->npairs; ++i) json_array_append_new(pairs, pair_json(&r->pairs[i]));
    json_object_set_new(root, "runs", runs);
    json_object_set_new(root, "pairs", pairs);
    json_object_set_new(root, "exit_code", json_integer(xd_report_exit_code(r)));
    xd_status st = xd_json_write_file(root, path, err);
    json_decref(root);
    return st;
}
