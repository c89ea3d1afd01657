/* The report as terminal text, in the order a reader judges: the runs
 * (each named by its label), then per pair the settings, where the runs
 * part and by how much, how that grew (amplification), the end of the run,
 * the likely mechanism and the verdict with the rule that decided; one
 * summary table at the end. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "compare/pair.h"
#include "crossdev/report.h"

/* Bold/plain and verdict colours: ANSI escapes on a terminal, nothing
 * otherwise. */
typedef struct term_style {
    int color;
    const char *off, *bold;
} term_style;

static const char *color_of(const term_style *ts, xd_verdict v, int broken)
{
    if (!ts->color) return "";
    if (broken) return "\033[1;31m";
    switch (v) {
    case XD_VERDICT_IDENTICAL: return "\033[1;32m";
    case XD_VERDICT_ROUNDING_LEVEL: return "\033[1;36m";
    case XD_VERDICT_DIFFERENT_SETTINGS: return "\033[1;33m";
    default: return "\033[1;31m";
    }
}

/* The run record holding trace t, or NULL. */
static const xd_run_record *run_of(const xd_report *r, const xd_trace *t)
{
    for (size_t i = 0; t && i < r->nruns; ++i)
        if (r->runs[i].trace == t) return &r->runs[i];
    return NULL;
}

static size_t run_number(const xd_report *r, const xd_trace *t)
{
    const xd_run_record *run = run_of(r, t);
    return run ? (size_t)(run - r->runs) + 1 : 0;
}

static const char *label_of(const xd_report *r, const xd_trace *t)
{
    const xd_run_record *run = run_of(r, t);
    return run ? run->label : t ? t->dir : "(failed run)";
}

static void print_header(const xd_report *r, FILE *out, const term_style *ts)
{
    fprintf(out, "%s%s%s\n", ts->bold, r->title, ts->off);
    if (r->partial) fprintf(out, "PARTIAL REPORT: the comparison was interrupted; only finished runs are compared\n");
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

/* "0.8452", or "not evaluated" */
static const char *accuracy_text(const xd_trace *t, char *buf, size_t cap)
{
    if (!t) return "-";
    if (isnan(t->test_accuracy)) return "not evaluated";
    snprintf(buf, cap, "%.4f", t->test_accuracy);
    return buf;
}

static int width_of(const xd_report *r, int label)
{
    size_t w = label ? 5 : 6;
    for (size_t i = 0; i < r->nruns; ++i) {
        size_t n = strlen(label ? r->runs[i].label : r->runs[i].device_id);
        if (n > w) w = n;
    }
    return (int)(w < 60 ? w : 60);
}

/* One row per run, numbered (the pairs and the summary name runs by
 * number and label), its error and a synthetic-data warning below it. */
static void print_runs(const xd_report *r, FILE *out, const term_style *ts)
{
    int wl = width_of(r, 1), wd = width_of(r, 0);
    fprintf(out, "\n%sRuns%s\n", ts->bold, ts->off);
    fprintf(out, "  %-3s %-*s %-*s %-13s %-6s %-13s %-10s %s\n", "#", wl, "trace", wd, "device", "mode", "steps",
            "test acc", "status", "driver");
    for (size_t i = 0; i < r->nruns; ++i) {
        const xd_run_record *run = &r->runs[i];
        char acc[32], steps[32] = "-", status[64];
        if (run->trace) snprintf(steps, sizeof steps, "%lld", (long long)run->trace->steps);
        run_status(run, status, sizeof status);
        fprintf(out, "  %-3zu %-*s %-*s %-13s %-6s %-13s %-10s %s\n", i + 1, wl, run->label, wd, run->device_id,
                run->mode, steps, accuracy_text(run->trace, acc, sizeof acc), status,
                run->trace ? run->trace->driver : "");
        if (run->failed && run->error[0]) fprintf(out, "      error: %s\n", run->error);
        if (run->trace && run->trace->synthetic) fprintf(out, "      data: SYNTHETIC (not real data)\n");
        if (run->trace && run->trace->producer[0])
            fprintf(out, "      a framework's run: %s (its settings: producer in its trace.json)\n",
                    run->trace->producer);
    }
}

/* "model seed-cnn, seed 42, batch 32, optimizer adam (lr 0.001, ...),
 * data fashion-mnist xxh3:..." from the reference trace. */
static void settings_summary(const xd_trace *t, char *out, size_t cap)
{
    json_t *opt = xd_trace_section(t, "optimizer");
    size_t len = (size_t)snprintf(out, cap, "model %s, seed %llu, batch %lld, optimizer %s (", t->model,
                                  (unsigned long long)t->seed, (long long)t->batch,
                                  t->optimizer.name[0] ? t->optimizer.name : "?");
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach(opt, k, v)
    {
        if (strcmp(k, "name") == 0 || len >= cap) continue;
        if (json_is_number(v))
            len += (size_t)snprintf(out + len, cap - len, "%s%s %g", first ? "" : ", ", k, json_number_value(v));
        else if (json_is_string(v))
            len += (size_t)snprintf(out + len, cap - len, "%s%s %s", first ? "" : ", ", k, json_string_value(v));
        first = 0;
    }
    char sum[24] = "no checksum";
    if (t->has_data_checksum) xd_hash_hex(t->data_checksum, sum);
    if (len < cap)
        snprintf(out + len, cap - len, "), data %s %s%s", t->data_name, sum, t->synthetic ? " (SYNTHETIC)" : "");
}

static void print_settings(const xd_pair *p, FILE *out)
{
    static const char *const heads[3] = {"settings differ (what was trained)", "computation differs (how)",
                                         "for information"};
    char sum[512];
    settings_summary(p->ref, sum, sizeof sum);
    if (!xd_settings_differ(p, XD_SETTING_TRAINING)) fprintf(out, "  settings: the same: %s\n", sum);
    for (int kind = 0; kind < 3; ++kind) {
        if (!xd_settings_differ(p, (xd_setting_kind)kind)) continue;
        fprintf(out, "  %s:\n", heads[kind]);
        for (size_t i = 0; i < p->nsettings; ++i)
            if ((int)p->settings[i].kind == kind)
                fprintf(out, "    %-22s %s vs %s\n", p->settings[i].key, p->settings[i].ref, p->settings[i].other);
    }
    if (p->settings_more) fprintf(out, "    (%zu more differences not listed)\n", p->settings_more);
}

static void print_diff_row(const xd_tensor_diff *d, FILE *out)
{
    char ulp[32] = "-";
    if (d->ndiff > d->sign_flips + d->nan) snprintf(ulp, sizeof ulp, "%llu", (unsigned long long)d->max_ulp);
    fprintf(out, "    %-26s %-10zu %-10.3g %-10.3g %-10.3g %-11zu %-10s %.3g%s%s\n", d->name, d->ndiff, d->layer_rel,
            d->max_rel, d->max_abs, d->sign_flips, ulp, d->nmse, d->role != XD_ROLE_JUDGED ? " not judged: " : "",
            d->role != XD_ROLE_JUDGED ? xd_tensor_role_string(d->role) : "");
}

/* Every tensor (or op output) of one step: relative difference first,
 * sign flips apart, ULP among values of one sign; then the histogram. */
static void print_diff_table(const xd_tensor_diff *diffs, size_t n, int64_t step, const char *what, FILE *out)
{
    fprintf(out, "  %s at step %lld:\n    %-26s %-10s %-10s %-10s %-10s %-11s %-10s %s\n", what, (long long)step,
            "name", "differ", "max rel", "(own max)", "max abs", "sign flips", "max ULP", "NMSE");
    size_t hist[XD_ULP_BINS] = {0};
    for (size_t k = 0; k < n; ++k) {
        if (diffs[k].step != step) continue;
        print_diff_row(&diffs[k], out);
        for (int b = 0; b < XD_ULP_BINS; ++b) hist[b] += diffs[k].ulp_hist[b];
    }
    fprintf(out, "    ULP histogram:");
    for (int b = 0; b < XD_ULP_BINS; ++b)
        if (hist[b]) fprintf(out, "  [%s] %zu", xd_ulp_bin_label(b), hist[b]);
    fprintf(out, "%s\n", hist[XD_ULP_BIN_SIGN] ? "  (sign: values on either side of zero, no ULP distance)" : "");
}

/* Per snapshot, the worst tensor (diffs come grouped by step). */
static void print_snapshot_worst(const xd_pair *p, FILE *out)
{
    fprintf(out, "  per snapshot (worst tensor):  step    max rel     sign flips  max ULP (one sign)\n");
    for (size_t k = 0; k < p->ndiffs;) {
        int64_t s = p->diffs[k].step;
        double mr = 0;
        uint64_t mu = 0;
        size_t flips = 0;
        for (; k < p->ndiffs && p->diffs[k].step == s; ++k) {
            if (p->diffs[k].role == XD_ROLE_JUDGED && !(p->diffs[k].layer_rel <= mr)) mr = p->diffs[k].layer_rel;
            if (p->diffs[k].max_ulp > mu) mu = p->diffs[k].max_ulp;
            flips += p->diffs[k].sign_flips;
        }
        fprintf(out, "                               %6lld  %-10.3g  %-10zu  %llu\n", (long long)s, mr, flips,
                (unsigned long long)mu);
    }
}

/* Where the runs part, and by how much there. */
static void print_first_difference(const xd_pair *p, FILE *out)
{
    if (p->first_divergent_step < 0) {
        fprintf(out, "  first divergence: none (every per-step hash equal)\n");
        return;
    }
    fprintf(out, "  first divergence: step %lld, %s%s%s\n", (long long)p->first_divergent_step,
            p->first_divergent_tensor, p->first_divergent_op[0] ? ", first op: " : "", p->first_divergent_op);
    if (p->first_measured_step >= 0)
        fprintf(out, "    its size (at step %lld): max rel %.3g in %s (of its layer's scale); loss rel %.3g\n",
                (long long)p->first_measured_step, p->first_max_rel,
                p->first_max_tensor[0] ? p->first_max_tensor : "no judged tensor", p->first_loss_rel);
    if (p->not_judged[0]) fprintf(out, "    not judged: %s\n", p->not_judged);
    if (p->nop_diffs)
        print_diff_table(p->op_diffs, p->nop_diffs, p->first_divergent_step, "op outputs that differ", out);
    if (p->first_measured_step >= 0 && p->first_measured_step != p->end_step)
        print_diff_table(p->diffs, p->ndiffs, p->first_measured_step, "tensors", out);
}

/* How the first difference grew, and the end of the run side by side. */
static void print_growth(const xd_pair *p, FILE *out)
{
    char aa[32], ab[32];
    if (p->end_step > p->first_measured_step && p->first_measured_step >= 0) {
        int grew = !(p->end_max_rel <= p->first_max_rel);
        fprintf(out, "  %s: max rel %.3g at step %lld -> %.3g at step %lld (%s)", grew ? "amplification" : "no growth",
                p->first_max_rel, (long long)p->first_measured_step, p->end_max_rel, (long long)p->end_step,
                p->end_max_tensor[0] ? p->end_max_tensor : "-");
        if (grew && p->first_max_rel > 0 && isfinite(p->end_max_rel))
            fprintf(out, " x%.3g", p->end_max_rel / p->first_max_rel);
        fprintf(out, "%s\n", p->amplified ? ": AMPLIFIED beyond the end-state threshold" : "");
    }
    fprintf(out, "  loss: max abs diff %.3g, max rel diff %.3g (peak at step %lld)\n", p->loss_max_abs, p->loss_max_rel,
            (long long)p->loss_peak_step);
    if (p->ndiffs) {
        print_snapshot_worst(p, out);
        print_diff_table(p->diffs, p->ndiffs, p->end_step, "tensors (end of run)", out);
    }
    fprintf(out, "  end of run: test accuracy %s vs %s", accuracy_text(p->ref, aa, sizeof aa),
            accuracy_text(p->other, ab, sizeof ab));
    if (!isnan(p->ref->test_loss) && !isnan(p->other->test_loss))
        fprintf(out, "; test loss %.5g vs %.5g", p->ref->test_loss, p->other->test_loss);
    fprintf(out, "%s\n", p->final_compared ? "" : " (final metrics not compared: other lengths or evaluations)");
}

/* Pair n's block: who against whom, then either why nothing was compared or
 * settings, numbers and the verdict. */
static void print_pair(const xd_report *r, size_t n, const xd_pair *p, FILE *out, const term_style *ts)
{
    if (p->verdict == XD_VERDICT_FAILED && p->failed_run && !p->ref) { /* no reference: the run alone */
        fprintf(out, "\n%sPair %zu%s: #%zu %s\n  %s%s%s: nothing compared: %s\n", ts->bold, n, ts->off, p->failed_run,
                r->runs[p->failed_run - 1].label, color_of(ts, p->verdict, 1), xd_verdict_string(p->verdict), ts->off,
                p->note);
        return;
    }
    size_t on = p->other ? run_number(r, p->other) : p->failed_run;
    fprintf(out, "\n%sPair %zu%s: #%zu %s\n     vs #%zu %s\n", ts->bold, n, ts->off, run_number(r, p->ref),
            label_of(r, p->ref), on,
            p->other ? label_of(r, p->other)
            : on     ? r->runs[on - 1].label
                     : "(failed run)");
    if (p->verdict == XD_VERDICT_FAILED || p->verdict == XD_VERDICT_INCOMPARABLE || !p->ref || !p->other) {
        fprintf(out, "  %s%s%s: %s\n", color_of(ts, p->verdict, 1), xd_verdict_string(p->verdict), ts->off, p->note);
        return;
    }
    fprintf(out, "  runs: %s [%s] vs %s [%s]\n", p->ref->device_id, p->ref->mode, p->other->device_id, p->other->mode);
    print_settings(p, out);
    if (p->verdict != XD_VERDICT_DIFFERENT_SETTINGS) {
        fprintf(out, "  steps compared %lld (%lld vs %lld run); initial weights %s\n", (long long)p->common_steps,
                (long long)p->ref->steps, (long long)p->other->steps, p->init_identical ? "identical" : "DIFFER");
        print_first_difference(p, out);
    }
    if (p->verdict == XD_VERDICT_ROUNDING_LEVEL || p->verdict == XD_VERDICT_DIVERGED) print_growth(p, out);
    else {
        char aa[32], ab[32];
        fprintf(out, "  test accuracy: %s vs %s\n", accuracy_text(p->ref, aa, sizeof aa),
                accuracy_text(p->other, ab, sizeof ab));
    }
    if (p->hint[0]) fprintf(out, "  hint: %s\n", p->hint);
    if (p->note[0]) fprintf(out, "  note: %s\n", p->note);
    if (p->mechanism[0]) fprintf(out, "  likely mechanism: %s\n", p->mechanism);
    fprintf(out, "  verdict: %s%s%s  (rule %s: %s)%s\n", color_of(ts, p->verdict, p->guarantee_broken),
            xd_pair_verdict_label(p), ts->off, xd_rule_string(p->rule), p->rule_text,
            p->guarantee_broken ? "\n  ** REPRODUCIBLE-MODE GUARANTEE BROKEN **" : "");
}

/* One line per pair: who, verdict, where they part, final accuracies. */
static void print_summary_table(const xd_report *r, FILE *out, const term_style *ts)
{
    fprintf(out, "\n%sSummary%s\n  %-5s %-12s %-25s %-30s %s\n", ts->bold, ts->off, "pair", "runs", "verdict",
            "first divergence", "test accuracy");
    for (size_t i = 0; i < r->npairs; ++i) {
        const xd_pair *p = &r->pairs[i];
        char runs[48], first[96] = "-", aa[32], ab[32], acc[80] = "-";
        if (p->verdict == XD_VERDICT_FAILED && p->failed_run && !p->ref)
            snprintf(runs, sizeof runs, "#%zu alone", p->failed_run);
        else
            snprintf(runs, sizeof runs, "#%zu vs #%zu", run_number(r, p->ref),
                     p->other ? run_number(r, p->other) : p->failed_run);
        if (p->first_divergent_step >= 0)
            snprintf(first, sizeof first, "step %lld %.60s", (long long)p->first_divergent_step,
                     p->first_divergent_tensor);
        else if (p->verdict == XD_VERDICT_IDENTICAL) snprintf(first, sizeof first, "none");
        if (p->ref && p->other)
            snprintf(acc, sizeof acc, "%s vs %s", accuracy_text(p->ref, aa, sizeof aa),
                     accuracy_text(p->other, ab, sizeof ab));
        fprintf(out, "  %-5zu %-12s %s%-25s%s %-30s %s%s\n", i + 1, runs, color_of(ts, p->verdict, p->guarantee_broken),
                xd_pair_verdict_label(p), ts->off, first, acc, p->guarantee_broken ? "  GUARANTEE BROKEN" : "");
    }
}

/* "#2 a, #3 b, #5 c" (with a run's steps where it ran fewer than the
 * class's first). */
static void members_text(const xd_report *r, const xd_run_class *c, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    const int64_t steps0 = r->runs[c->members[0]].trace->steps;
    for (size_t k = 0; k < c->nmembers && len + 24 < cap; ++k) {
        const xd_trace *t = r->runs[c->members[k]].trace;
        len += (size_t)snprintf(out + len, cap - len, "%s#%zu %.60s", k ? ", " : "", c->members[k] + 1,
                                r->runs[c->members[k]].label);
        if (t->steps < steps0) len += (size_t)snprintf(out + len, cap - len, " (%lld steps)", (long long)t->steps);
    }
    if (len + 24 >= cap) snprintf(out + cap - 8, 8, ", ...");
}

/* Each mode with three runs or more: its classes of bitwise-equal runs and
 * where each two classes part (their first members compared). */
static void print_classes(const xd_report *r, FILE *out, const term_style *ts)
{
    static const char *const modes[2] = {"reproducible", "fast"};
    for (int m = 0; m < 2; ++m) {
        size_t nruns = xd_report_mode_runs(r, modes[m]), ncl = 0;
        for (size_t i = 0; i < r->nclasses; ++i) ncl += strcmp(r->classes[i].mode, modes[m]) == 0;
        if (nruns < 3) continue;
        fprintf(out, "\n%sClasses of bitwise-equal runs, %s mode%s: %zu runs, %zu class%s%s\n", ts->bold, modes[m],
                ts->off, nruns, ncl, ncl == 1 ? "" : "es", ncl == 1 ? " (every run the same, bit for bit)" : "");
        for (size_t i = 0; i < r->nclasses; ++i) {
            const xd_run_class *c = &r->classes[i];
            if (strcmp(c->mode, modes[m]) != 0) continue;
            char members[1024];
            members_text(r, c, members, sizeof members);
            fprintf(out, "  %-4s %s\n", c->label, members);
        }
        for (size_t i = 0; i < r->nclass_pairs; ++i) {
            const xd_class_pair *cp = &r->class_pairs[i];
            const xd_pair *p = cp->pair;
            if (strcmp(r->classes[cp->a].mode, modes[m]) != 0) continue;
            char where[192] = "no divergence over the common steps";
            if (p->first_divergent_step >= 0)
                snprintf(where, sizeof where, "part at step %lld in %.60s%s%.60s, max rel %.2g",
                         (long long)p->first_divergent_step, p->first_divergent_tensor,
                         p->first_divergent_op[0] ? ", first op " : "", p->first_divergent_op, p->first_max_rel);
            fprintf(out, "  %s vs %s: %s%s%s, %s\n", r->classes[cp->a].label, r->classes[cp->b].label,
                    color_of(ts, p->verdict, 0), xd_pair_verdict_label(p), ts->off, where);
        }
    }
}

/* The exit code and what it means. */
static void print_exit(const xd_report *r, FILE *out)
{
    int code = xd_report_exit_code(r);
    if (r->partial) { /* the process's own status is the signal's (130, 143): never say 0 */
        fprintf(out, "\ninterrupted: the process exits 130 (SIGINT) or 143 (SIGTERM); of the runs that finished, %s\n",
                code == 0   ? "no pair diverged and no reproducible-mode guarantee broke"
                : code == 1 ? "some pair DIVERGED or a reproducible-mode guarantee broke"
                            : "a run failed or traces were not comparable");
        return;
    }
    fprintf(out, "\nexit %d: %s\n", code,
            code == 0   ? "no pair diverged and no reproducible-mode guarantee broken"
            : code == 1 ? "some pair DIVERGED or a reproducible-mode guarantee broke"
                        : "a run failed or traces were not comparable");
}

void xd_report_print(const xd_report *r, FILE *out, int color)
{
    const term_style ts = {color, color ? "\033[0m" : "", color ? "\033[1m" : ""};
    print_header(r, out, &ts);
    print_runs(r, out, &ts);
    for (size_t i = 0; i < r->npairs; ++i) print_pair(r, i + 1, &r->pairs[i], out, &ts);
    if (r->npairs) print_summary_table(r, out, &ts);
    print_classes(r, out, &ts);
    print_exit(r, out);
}
