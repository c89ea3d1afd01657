/* The comparison report as one self-contained HTML page.
 *
 * Everything is inline: CSS in <style>, plots as SVG, no scripts, fonts,
 * images or links to anything outside the file, so the page can be kept as
 * a CI artefact and opened offline later.  Every chart goes through the
 * plot layer in svg.c (axes with linear / log / category scales, polylines,
 * horizontal bars, reference lines, legend) so all charts look alike.
 * Every string that comes from a trace or a run goes through
 * xd_html_esc(). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "compare/pair.h"
#include "compare/svg.h"
#include "crossdev/report.h"
#include "crossdev/version.h"

/* xd_ulp_distance() says UINT64_MAX for "exactly one is NaN". */
static double ulp_d(uint64_t u) { return u == UINT64_MAX ? NAN : (double)u; }

/* NaN wins, so a step where any tensor went NaN shows as NaN. */
static double max_nan(double a, double b) { return isnan(a) || isnan(b) ? NAN : (b > a ? b : a); }

/* ---- report pieces --------------------------------------------------------------- */
static const char *vclass(xd_verdict v)
{
    switch (v) {
    case XD_VERDICT_IDENTICAL: return "ok";
    case XD_VERDICT_ROUNDING_LEVEL: return "info";
    case XD_VERDICT_DIFFERENT_SETTINGS: return "warn";
    default: return "bad";
    }
}

static void badge(FILE *f, xd_verdict v, const char *label)
{
    fprintf(f, "<span class=\"badge %s\">", vclass(v));
    xd_html_esc(f, label ? label : xd_verdict_string(v));
    fputs("</span>", f);
}

/* "0.8452", or "not evaluated" (as the text report says it). */
static const char *accuracy_html(double acc, char *buf, size_t cap)
{
    if (isnan(acc)) return "not evaluated";
    snprintf(buf, cap, "%.4f", acc);
    return buf;
}

/* Pairs hold trace pointers; the run record (for the repeat) is found by
 * pointer.  NULL: the run failed and left no trace. */
static const xd_run_record *run_of(const xd_report *r, const xd_trace *t)
{
    for (size_t i = 0; t && i < r->nruns; ++i)
        if (r->runs[i].trace == t) return &r->runs[i];
    return NULL;
}

/* "label · device · mode" for legends and headings (UTF-8 middle dots). */
static void label_of(const xd_report *r, const xd_trace *t, char *buf, size_t cap)
{
    const xd_run_record *run = run_of(r, t);
    if (run) snprintf(buf, cap, "%s \xc2\xb7 %s \xc2\xb7 %s", run->label, run->device_id, run->mode);
    else if (t) snprintf(buf, cap, "%s \xc2\xb7 %s \xc2\xb7 %s", t->dir, t->device_id, t->mode);
    else snprintf(buf, cap, "(failed run, no trace)");
}

/* A table cell naming a run: its label, then device, mode and #repeat below. */
static void run_cell(FILE *f, const xd_report *r, const xd_trace *t)
{
    const xd_run_record *run = run_of(r, t);
    if (!run && !t) {
        fputs("<td class=\"run sub\">failed run, no trace</td>", f);
        return;
    }
    fputs("<td class=\"run\"><b class=\"mono\">", f);
    xd_html_esc(f, run ? run->label : t->dir);
    fputs("</b><br><span class=\"mono sub\">", f);
    xd_html_esc(f, run ? run->device_id : t->device_id);
    fputs("</span><br><span class=\"sub\">", f);
    xd_html_esc(f, run ? run->mode : t->mode);
    if (run) fprintf(f, " &middot; #%d", run->repeat);
    fputs("</span></td>", f);
}

static const char CSS[] =
    ":root{--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--fg:#1f2328;--muted:#656d76;--line:#d0d7de}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:#f3f5f8;color:var(--fg);\n"
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue','DejaVu Sans',Arial,sans-serif}\n"
    "main{max-width:1260px;margin:0 auto;padding:24px}h1{font-size:25px;margin:0 0 4px}\n"
    "h2{font-size:18px;margin:0 0 12px}h3{font-size:15px;margin:0 0 6px}\n"
    "header,section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 22px;\n"
    "margin:0 0 18px}.meta{display:flex;flex-wrap:wrap;gap:4px 28px;color:var(--muted);margin:6px 0 14px}\n"
    ".meta b{color:var(--fg);font-weight:600}\n"
    ".notes{background:#f6f8fa;border-left:3px solid #8c959f;padding:6px 12px;margin:0 0 14px;\n"
    "white-space:pre-wrap}.counts{display:flex;flex-wrap:wrap;gap:10px}\n"
    ".count{border:1px solid;border-radius:8px;padding:6px 14px;font-weight:600;font-size:13px}\n"
    ".count b{font-size:20px;margin-right:6px}.count.ok{background:#dafbe1;border-color:#aceebb;color:#116329}\n"
    ".count.warn{background:#fff8c5;border-color:#eed888;color:#7d4e00}\n"
    ".count.info{background:#ddf4ff;border-color:#9cd1fb;color:#0550ae}\n"
    ".count.bad{background:#ffebe9;border-color:#ffcecb;color:#a40e26}\n"
    ".count.zero{background:#f6f8fa;border-color:#e1e4e8;color:#8c959f}\n"
    ".banner{background:var(--bad);color:#fff;border-radius:10px;padding:14px 22px;margin:0 0 18px;\n"
    "box-shadow:0 2px 6px rgba(207,34,46,.35)}.banner h2{margin:0 0 6px;font-size:19px}\n"
    ".banner ul{margin:6px 0 0;padding-left:20px}.scroll{overflow-x:auto}\n"
    "table{border-collapse:collapse;width:100%;font-size:13px}\n"
    "th,td{text-align:left;padding:7px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}\n"
    "th{background:#f6f8fa;font-weight:600;white-space:nowrap;border-bottom:1px solid var(--line)}\n"
    "tbody tr:nth-child(even){background:#fafbfc}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.run{min-width:150px}\n"
    "td.dev{min-width:150px}td.verdict{min-width:150px;max-width:300px}td.lbl{min-width:200px}\n"
    ".mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',monospace;font-size:12px;\n"
    "word-break:break-all}.sub{color:var(--muted);font-size:12px}.st-ok{color:var(--ok);font-weight:600}\n"
    ".st-bad{color:var(--bad);font-weight:700}.st-warn{color:var(--warn);font-weight:600}\n"
    "pre.err{margin:4px 0 0;white-space:pre-wrap;word-break:break-word;font-size:11px;color:#a40e26;\n"
    "background:#fff5f5;padding:4px 6px;border-radius:4px;max-height:9em;overflow:auto}\n"
    ".badge{display:inline-block;padding:2px 9px;border-radius:12px;font-size:12px;font-weight:700;\n"
    "white-space:nowrap}.badge.ok{background:#dafbe1;color:#116329}.badge.warn{background:#fff1a8;color:#7d4e00}\n"
    ".badge.info{background:#ddf4ff;color:#0550ae}.partial{background:#9a6700}\n"
    ".badge.bad{background:#cf222e;color:#fff}\n"
    ".broken{display:block;color:var(--bad);font-size:11px;font-weight:700;margin-top:3px}\n"
    ".plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:14px;align-items:start}\n"
    ".pair{border-top:1px solid var(--line);padding-top:16px;margin-top:16px}\n"
    ".pair:first-of-type{border-top:0;margin-top:0;padding-top:0}.facts{color:var(--muted);margin:0 0 10px}\n"
    ".empty{color:var(--muted);font-style:italic}svg{max-width:100%;height:auto;background:#fff}\n"
    "svg text{font:11px system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;fill:#57606a}\n"
    "svg .title{font-size:13.5px;font-weight:600;fill:#1f2328}svg .axl{font-size:12px;fill:#1f2328}\n"
    "svg .area{fill:#fff;stroke:#8c959f}svg .gl{stroke:#eaeef2}svg .gl0{stroke:#afb8c1;stroke-dasharray:3 3}\n"
    "svg .tx{text-anchor:middle}svg .ty{text-anchor:end}\n"
    "svg polyline{fill:none;stroke-linejoin:round;stroke-linecap:round}\n"
    "svg .nanmark,svg .nanv{fill:#cf222e;font-weight:700}svg .nanmark{text-anchor:middle}\n"
    "svg .ref{stroke:#cf222e;stroke-dasharray:6 4;stroke-width:1.2}\n"
    "svg .reft{fill:#cf222e;font-size:10.5px;paint-order:stroke;stroke:#fff;stroke-width:3px}\n"
    "svg .val{font-size:10px}footer{color:var(--muted);font-size:12px;text-align:center;padding:6px}\n";

static void write_header(FILE *f, const xd_report *r, const size_t *count)
{
    size_t failed = 0;
    for (size_t i = 0; i < r->nruns; ++i) failed += r->runs[i].failed != 0;
    fputs("<header>\n<h1>", f);
    xd_html_esc(f, r->title[0] ? r->title : "crossdev comparison");
    fprintf(f, "</h1>\n<div class=\"meta\"><span>seed <b>%llu</b>%s</span>", (unsigned long long)r->seed,
            r->seed_random ? " (random, drawn for this comparison)" : "");
    fprintf(f,
            "<span>rounding level: first difference <b>max rel &le; %s</b> (of its layer's scale); final accuracy "
            "<b>&plusmn;%s</b>, final loss <b>rel &le; %s</b>; amplified: end state <b>max rel &gt; %s</b></span>",
            XD_NUM(r->tol.rounding_rel, 3), XD_NUM(r->tol.acc_abs, 3), XD_NUM(r->tol.final_loss_rel, 3),
            XD_NUM(r->tol.amplified_rel, 3));
    if (r->tol.nignore) {
        fputs("<span>ignored (--ignore):", f);
        for (size_t i = 0; i < r->tol.nignore; ++i) {
            fputs(" <b>", f);
            xd_html_esc(f, r->tol.ignore[i]);
            fputs("</b>", f);
        }
        fputs("</span>", f);
    }
    if (r->tol.rel > 0 || r->tol.loss_rel > 0)
        fprintf(f, "<span>end-state tolerances: <b>rel &le; %s</b>, <b>loss rel &le; %s</b></span>",
                r->tol.rel > 0 ? XD_NUM(r->tol.rel, 3) : "off",
                r->tol.loss_rel > 0 ? XD_NUM(r->tol.loss_rel, 3) : "off");
    fprintf(f,
            "<span><b>%zu</b> run%s (%zu failed)</span><span><b>%zu</b> pair%s</span>"
            "<span>crossdev %s</span></div>\n",
            r->nruns, r->nruns == 1 ? "" : "s", failed, r->npairs, r->npairs == 1 ? "" : "s", xd_version_string());
    if (r->partial)
        fputs("<p class=\"notes\"><b>Partial report:</b> the comparison was interrupted; only the runs that finished "
              "are compared.</p>\n",
              f);
    if (r->notes[0]) {
        fputs("<p class=\"notes\">", f);
        xd_html_esc(f, r->notes);
        fputs("</p>\n", f);
    }
    /* the order a reader scans for: good to bad */
    static const xd_verdict order[] = {XD_VERDICT_IDENTICAL, XD_VERDICT_ROUNDING_LEVEL, XD_VERDICT_DIFFERENT_SETTINGS,
                                       XD_VERDICT_DIVERGED,  XD_VERDICT_FAILED,         XD_VERDICT_INCOMPARABLE};
    fputs("<div class=\"counts\">", f);
    for (size_t i = 0; i < sizeof order / sizeof *order; ++i) {
        fprintf(f, "<span class=\"count %s\"><b>%zu</b>", count[order[i]] ? vclass(order[i]) : "zero", count[order[i]]);
        xd_html_esc(f, xd_verdict_string(order[i]));
        fputs("</span>", f);
    }
    fputs("</div>\n</header>\n", f);
}

static void write_banner(FILE *f, const xd_report *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->npairs; ++i) n += r->pairs[i].guarantee_broken != 0;
    if (!n) return;
    fprintf(f,
            "<div class=\"banner\" role=\"alert\"><h2>&#9888; Reproducibility guarantee broken</h2>"
            "%zu pair%s of reproducible-mode runs with identical settings on conforming devices %s not bitwise "
            "identical:<ul>\n",
            n, n == 1 ? "" : "s", n == 1 ? "is" : "are");
    for (size_t i = 0; i < r->npairs; ++i) {
        const xd_pair *p = &r->pairs[i];
        char a[512], b[512];
        if (!p->guarantee_broken) continue;
        label_of(r, p->ref, a, sizeof a);
        label_of(r, p->other, b, sizeof b);
        fputs("<li>", f);
        xd_html_esc(f, a);
        fputs(" <b>vs</b> ", f);
        xd_html_esc(f, b);
        if (p->first_divergent_step >= 0) {
            fprintf(f, ": first divergence at %s%lld", p->first_divergent_step ? "step " : "initialisation (step ",
                    (long long)p->first_divergent_step);
            fputs(p->first_divergent_step ? "" : ")", f);
            if (p->first_divergent_tensor[0]) {
                fputs(" in ", f);
                xd_html_esc(f, p->first_divergent_tensor);
            }
        }
        fputs("</li>\n", f);
    }
    fputs("</ul></div>\n", f);
}

/* The status cell of a run: ok or how it failed, what it recorded. */
static void run_status_cell(FILE *f, const xd_run_record *run)
{
    const xd_trace *t = run->trace;
    if (run->failed) {
        fputs("<span class=\"st-bad\">FAILED</span> <span class=\"sub\">", f);
        if (run->timed_out) fputs("timed out", f);
        else if (run->term_signal) fprintf(f, "signal %d", run->term_signal);
        else fprintf(f, "exit status %d", run->exit_status);
        fputs("</span>", f);
    } else {
        fputs(t ? "<span class=\"st-ok\">ok</span>" : "<span class=\"st-warn\">no trace</span>", f);
    }
    if (t && t->nonfinite_step >= 0) {
        fprintf(f, "<br><span class=\"st-warn\">non-finite at step %lld</span> ", (long long)t->nonfinite_step);
        xd_html_esc(f, t->nonfinite_tensor);
    }
    if (t && t->synthetic) fputs("<br><span class=\"st-warn\">synthetic data</span>", f);
    if (run->error[0]) {
        fputs("<pre class=\"err\">", f);
        xd_html_esc(f, run->error);
        fputs("</pre>", f);
    }
}

static void write_run_row(FILE *f, const xd_run_record *run)
{
    const xd_trace *t = run->trace;
    fputs("<tr><td class=\"mono lbl\"><b>", f);
    xd_html_esc(f, run->label);
    fputs("</b></td><td class=\"mono dev\">", f);
    xd_html_esc(f, run->device_id);
    fputs("</td><td>", f);
    xd_html_esc(f, run->mode);
    fprintf(f, "</td><td class=\"n\">%d</td><td class=\"n\">", run->repeat);
    if (t) fprintf(f, "%lld", (long long)t->steps);
    else fputs("&mdash;", f);
    if (t && run->steps_asked > 0 && run->steps_asked != t->steps)
        fprintf(f, "<br><span class=\"sub\">of %lld asked</span>", (long long)run->steps_asked);
    fputs("</td><td>", f);
    run_status_cell(f, run);
    if (t && isfinite(t->test_accuracy)) fprintf(f, "</td><td class=\"n\">%s %%", XD_NUM(100 * t->test_accuracy, 4));
    else fprintf(f, "</td><td class=\"n\">%s", t ? "not evaluated" : "&mdash;");
    fputs("</td><td class=\"n\">", f);
    if (run->seconds > 0) fprintf(f, "%.1f s", run->seconds);
    else fputs("&mdash;", f);
    fputs("</td><td>", f);
    xd_html_esc(f, t ? t->driver : "");
    fputs("</td><td class=\"mono\">", f);
    xd_html_esc(f, t ? t->build_options : "");
    fputs("</td><td>", f);
    xd_html_esc(f, t ? t->guarantee : "");
    fputs("</td></tr>\n", f);
}

static void write_runs(FILE *f, const xd_report *r)
{
    fputs("<section><h2>Runs</h2>\n", f);
    if (!r->nruns) {
        fputs("<p class=\"empty\">No runs.</p></section>\n", f);
        return;
    }
    fputs("<div class=\"scroll\"><table><thead><tr><th>Trace</th><th>Device</th><th>Mode</th><th>Repeat</th>"
          "<th>Steps</th><th>Status</th><th>Test accuracy</th><th>Time</th><th>Driver</th><th>Build options</th>"
          "<th>Guarantee</th></tr></thead><tbody>\n",
          f);
    for (size_t i = 0; i < r->nruns; ++i) write_run_row(f, &r->runs[i]);
    fputs("</tbody></table></div></section>\n", f);
}

/* open, text escaped, close: nothing when text is empty. */
static void tagged(FILE *f, const char *open, const char *text, const char *close)
{
    if (!text[0]) return;
    fputs(open, f);
    xd_html_esc(f, text);
    fputs(close, f);
}

/* The first-divergence cell: where, in which tensor and op, and its size. */
static void first_divergence_cell(FILE *f, const xd_pair *p)
{
    fputs("<td>", f);
    if (p->first_divergent_step < 0) fputs("none", f);
    else if (p->first_divergent_step == 0) fputs("initialisation", f);
    else fprintf(f, "step %lld", (long long)p->first_divergent_step);
    tagged(f, "<br><span class=\"mono\">", p->first_divergent_tensor, "</span>");
    tagged(f, "<br><span class=\"sub\">op ", p->first_divergent_op, "</span>");
    if (p->first_measured_step >= 0 && p->first_divergent_step >= 0)
        fprintf(f, "<br><span class=\"sub\">size: max rel %s at step %lld</span>", XD_NUM(p->first_max_rel, 3),
                (long long)p->first_measured_step);
    fputs("</td>", f);
}

/* The settings in which a pair differs, as a list. */
static void settings_list(FILE *f, const xd_pair *p, int kind)
{
    fputs("<ul class=\"settings\">", f);
    for (size_t i = 0; i < p->nsettings; ++i) {
        const xd_setting_diff *d = &p->settings[i];
        if (kind >= 0 && (int)d->kind != kind) continue;
        tagged(f, "<li><span class=\"mono\">", d->key, "</span> ");
        tagged(f, "", d->ref, " <b>vs</b> ");
        tagged(f, "", d->other, "</li>");
    }
    fputs("</ul>", f);
}

static void write_pair_row(FILE *f, const xd_report *r, const xd_pair *p)
{
    fputs("<tr>", f);
    run_cell(f, r, p->ref);
    run_cell(f, r, p->other);
    if (p->verdict == XD_VERDICT_FAILED || p->verdict == XD_VERDICT_INCOMPARABLE) {
        /* nothing was compared: the numbers would be zeros, not results */
        fputs("<td class=\"n\" colspan=\"6\" style=\"text-align:center\">&mdash;</td><td class=\"verdict\">", f);
    } else if (p->verdict == XD_VERDICT_DIFFERENT_SETTINGS) {
        fputs("<td colspan=\"6\">", f);
        settings_list(f, p, XD_SETTING_TRAINING);
        fputs("</td><td class=\"verdict\">", f);
    } else {
        fprintf(f, "<td class=\"n\">%lld</td><td>%s</td>", (long long)p->common_steps,
                p->init_identical ? "same" : "<span class=\"st-bad\">differs</span>");
        first_divergence_cell(f, p);
        fprintf(f, "<td class=\"n\">%s<br><span class=\"sub\">rel %s", XD_NUM(p->loss_max_abs, 3),
                XD_NUM(p->loss_max_rel, 3));
        if (p->loss_peak_step > 0) fprintf(f, ", peak at step %lld", (long long)p->loss_peak_step);
        fprintf(f,
                "</span></td><td class=\"n\">%s<br><span class=\"sub\">%zu sign flips</span></td>"
                "<td class=\"n\">%s</td><td class=\"verdict\">",
                XD_NUM(p->max_rel, 3), p->sign_flips, XD_NUM(ulp_d(p->max_ulp), 0));
    }
    badge(f, p->verdict, xd_pair_verdict_label(p));
    if (p->guarantee_broken) fputs("<span class=\"broken\">guarantee broken</span>", f);
    char rule[64];
    snprintf(rule, sizeof rule, "<div class=\"sub\">rule %s: ", xd_rule_string(p->rule));
    tagged(f, rule, p->rule_text, "</div>");
    tagged(f, "<div class=\"sub\">", p->note, "</div>");
    fputs("</td></tr>\n", f);
}

static void write_pairs(FILE *f, const xd_report *r)
{
    fputs("<section><h2>Pairs</h2>\n", f);
    if (!r->npairs) {
        fputs("<p class=\"empty\">No pairs were compared (fewer than two runs of a mode).</p></section>\n", f);
        return;
    }
    fputs("<div class=\"scroll\"><table><thead><tr><th>Reference</th><th>Other</th><th>Steps</th><th>Init</th>"
          "<th>First divergence</th><th>Loss max |&Delta;|</th><th>Max rel</th><th>Max ULP (one sign)</th>"
          "<th>Verdict and rule</th></tr></thead><tbody>\n",
          f);
    for (size_t i = 0; i < r->npairs; ++i) write_pair_row(f, r, &r->pairs[i]);
    fputs("</tbody></table></div></section>\n", f);
}

/* Each mode with three runs or more: its classes of bitwise-equal runs and,
 * for every two, where they part (their first runs compared). */
static void write_class_pairs(FILE *f, const xd_report *r)
{
    if (!r->nclass_pairs) return;
    fputs("<div class=\"scroll\"><table><thead><tr><th>Classes</th><th>First divergence</th><th>Verdict</th>"
          "</tr></thead><tbody>\n",
          f);
    for (size_t i = 0; i < r->nclass_pairs; ++i) {
        const xd_class_pair *cp = &r->class_pairs[i];
        if (xd_report_mode_runs(r, r->classes[cp->a].mode) < 3) continue;
        fprintf(f, "<tr><td>%s vs %s</td>", r->classes[cp->a].label, r->classes[cp->b].label);
        first_divergence_cell(f, cp->pair);
        fputs("<td class=\"verdict\">", f);
        badge(f, cp->pair->verdict, xd_pair_verdict_label(cp->pair));
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
}

static void write_classes(FILE *f, const xd_report *r)
{
    int shown = 0;
    for (size_t i = 0; i < r->nclasses; ++i) {
        const xd_run_class *c = &r->classes[i];
        if (xd_report_mode_runs(r, c->mode) < 3) continue;
        if (!shown++)
            fputs("<section><h2>Classes of bitwise-equal runs</h2>\n<p class=\"sub\">Runs of one mode whose losses "
                  "and tensor hashes are equal bit for bit over their common steps.</p>\n<div class=\"scroll\">"
                  "<table><thead><tr><th>Class</th><th>Mode</th><th>Runs</th></tr></thead><tbody>\n",
                  f);
        fprintf(f, "<tr><td>%s</td><td>%s</td><td>", c->label, c->mode);
        for (size_t k = 0; k < c->nmembers; ++k) {
            fprintf(f, "%s#%zu ", k ? "<br>" : "", c->members[k] + 1);
            xd_html_esc(f, r->runs[c->members[k]].label);
        }
        fputs("</td></tr>\n", f);
    }
    if (!shown) return;
    fputs("</tbody></table></div>\n", f);
    write_class_pairs(f, r);
    fputs("</section>\n", f);
}

/* Long runs are thinned to MAXPTS points so a 100k-step trace does not make
 * a megabyte polyline: each bucket of steps keeps its mean (a loss curve) or
 * its largest value (a difference, whose spikes must not be thinned away);
 * a non-finite value anywhere in a bucket makes the bucket NaN/Inf. */
#define MAXPTS 1000
static size_t thin(const double *v, size_t n, int peak, double *ox, double *oy)
{
    size_t per = (n + MAXPTS - 1) / MAXPTS, m = 0;
    for (size_t i = 0; i < n; i += per, ++m) {
        size_t e = i + per < n ? i + per : n;
        double acc = 0;
        for (size_t k = i; k < e; ++k)
            acc = !isfinite(v[k]) ? (isfinite(acc) ? v[k] : acc) : peak ? max_nan(acc, v[k]) : acc + v[k];
        ox[m] = (double)e; /* value after step e (1-based) */
        oy[m] = peak || !isfinite(acc) ? acc : acc / (double)(e - i);
    }
    return m;
}

/* A run whose loss curve is drawn: it succeeded and left a loss per step. */
static int has_losses(const xd_run_record *run)
{
    const xd_trace *t = run->trace;
    return !run->failed && t && t->steps > 0 && t->loss;
}

/* Widens the loss chart's axes to every drawn run; returns how many runs
 * are drawn, and the longest one's steps in *longest. */
static size_t loss_ranges(const xd_report *r, svg_plot *p, size_t *longest)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nruns; ++i) {
        const xd_trace *t = r->runs[i].trace;
        if (!has_losses(&r->runs[i])) continue;
        ++n;
        *longest = (size_t)t->steps > *longest ? (size_t)t->steps : *longest;
        xd_svg_range_add(&p->x, 1);
        xd_svg_range_add(&p->x, (double)t->steps);
        for (int64_t k = 0; k < t->steps; ++k) xd_svg_range_add(&p->y, t->loss[k]);
    }
    return n;
}

/* One series per drawn run (n of them), labelled by its run.  Identical runs
 * draw the very same curve; earlier runs get wider lines so the ones
 * underneath still show at the edges. */
static void loss_series(const xd_report *r, size_t n, svg_series *s, char (*labels)[512])
{
    for (size_t i = 0, j = 0; i < r->nruns; ++i) {
        if (!has_losses(&r->runs[i])) continue;
        label_of(r, r->runs[i].trace, labels[j], sizeof labels[j]);
        s[j] = (svg_series){labels[j], xd_svg_color(j), xd_svg_dash(j),
                            n > 1 ? 1.6 + 3.4 * (double)(n - 1 - j) / (double)(n - 1) : 2};
        ++j;
    }
}

/* Each drawn run's curve, thinned; buf holds longest + 2 * MAXPTS + 2
 * doubles: the losses, then the thinned x and y. */
static void draw_losses(svg_plot *p, const xd_report *r, const svg_series *s, double *buf, size_t longest)
{
    for (size_t i = 0, j = 0; i < r->nruns; ++i) {
        const xd_trace *t = r->runs[i].trace;
        if (!has_losses(&r->runs[i])) continue;
        for (int64_t k = 0; k < t->steps; ++k) buf[k] = t->loss[k];
        double *ox = buf + longest, *oy = ox + MAXPTS + 1;
        size_t m = thin(buf, (size_t)t->steps, 0, ox, oy);
        xd_svg_plot_line(p, &s[j++], m, ox, oy, m <= 40);
    }
}

/* The training loss of every successful run against step, in one chart. */
static void write_losses(FILE *f, const xd_report *r)
{
    fputs("<section><h2>Loss curves</h2>\n", f);
    size_t longest = 0;
    svg_plot p = {.x = {.scale = SVG_LIN, .lo = INFINITY, .hi = -INFINITY, .integer = 1, .label = "step"},
                  .y = {.scale = SVG_LIN, .lo = INFINITY, .hi = -INFINITY, .label = "training loss"}};
    size_t n = loss_ranges(r, &p, &longest);
    svg_series *s = calloc(n ? n : 1, sizeof *s);
    char(*labels)[512] = calloc(n ? n : 1, sizeof *labels);
    double *buf = malloc((longest + 2 * MAXPTS + 2) * sizeof *buf);
    if (!n || !s || !labels || !buf) {
        fputs(n ? "<p class=\"empty\">Not plotted: out of memory.</p>"
                : "<p class=\"empty\">No successful run with a trace: nothing to plot.</p>",
              f);
    } else {
        xd_svg_axis_fit(&p.x);
        xd_svg_axis_fit(&p.y);
        loss_series(r, n, s, labels);
        xd_svg_plot_begin(&p, f, "Training loss per step, every successful run", 1180, 340, 66, 24, n, s);
        draw_losses(&p, r, s, buf, longest);
        xd_svg_plot_legend(&p, n, s);
        xd_svg_plot_end(&p);
        if (n > 1)
            fputs("<p class=\"sub\">Curves that coincide are drawn on top of each other: earlier runs are wider, "
                  "so each one shows at the edges.</p>\n",
                  f);
    }
    free(s);
    free(labels);
    free(buf);
    fputs("</section>\n", f);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* What a pair's charts draw, gathered once from its diffs and losses. */
typedef struct pair_series {
    int64_t *steps; /* the snapshot steps in the diffs, sorted and unique */
    size_t ns;
    double *sx, *srel, *sulp; /* per snapshot: its step, and the worst rel and ULP over its tensors */
    double *ox, *oy;          /* the relative loss difference per step, thinned to m points */
    size_t m;
    double *tv;                   /* room for one value per diff (the bars of one snapshot) */
    const char **names, **colors; /* the same, for their labels and colours */
    double *mem;                  /* sx ... oy live here */
} pair_series;

static void pair_series_free(pair_series *ps)
{
    free(ps->steps);
    free(ps->mem);
    free(ps->names);
    free(ps->colors);
}

/* The snapshot steps present in the diffs, sorted and unique, and the worst
 * tensor at each (NaN wins). */
static void snapshot_maxima(pair_series *ps, const xd_pair *p)
{
    size_t ns = 0;
    for (size_t i = 0; i < p->ndiffs; ++i) ps->steps[i] = p->diffs[i].step;
    qsort(ps->steps, p->ndiffs, sizeof *ps->steps, cmp_i64);
    for (size_t i = 0; i < p->ndiffs; ++i)
        if (!ns || ps->steps[ns - 1] != ps->steps[i]) ps->steps[ns++] = ps->steps[i];
    ps->ns = ns;
    ps->sx = ps->mem;
    ps->srel = ps->sx + ns;
    ps->sulp = ps->srel + ns;
    ps->tv = ps->sulp + ns;
    for (size_t i = 0; i < ns; ++i) ps->sx[i] = (double)ps->steps[i], ps->srel[i] = ps->sulp[i] = 0;
    for (size_t i = 0; i < p->ndiffs; ++i) {
        const xd_tensor_diff *d = &p->diffs[i];
        size_t k = (size_t)((int64_t *)bsearch(&d->step, ps->steps, ns, sizeof *ps->steps, cmp_i64) - ps->steps);
        if (d->role == XD_ROLE_JUDGED) ps->srel[k] = max_nan(ps->srel[k], d->layer_rel);
        ps->sulp[k] = max_nan(ps->sulp[k], ulp_d(d->max_ulp));
    }
}

/* The loss difference at each of the nl common steps, relative like
 * compare.c's, thinned to its peaks. */
static void loss_difference(pair_series *ps, const xd_pair *p, size_t nl)
{
    double *lv = ps->tv + p->ndiffs;
    ps->ox = lv + nl;
    ps->oy = ps->ox + MAXPTS + 1;
    for (size_t k = 0; k < nl; ++k) {
        double x = p->ref->loss[k], y = p->other->loss[k], e = fabs(x - y);
        lv[k] = (isnan(x) && isnan(y)) || e == 0 ? 0 : x != 0 ? e / fabs(x) : INFINITY;
    }
    ps->m = thin(lv, nl, 1, ps->ox, ps->oy);
}

/* Gathers what the pair's charts draw; 0: out of memory. */
static int pair_series_gather(pair_series *ps, const xd_pair *p)
{
    const xd_trace *a = p->ref, *b = p->other;
    size_t nl = a && b && a->loss && b->loss && p->common_steps > 0 ? (size_t)p->common_steps : 0;
    *ps = (pair_series){0};
    ps->steps = malloc((p->ndiffs + 1) * sizeof *ps->steps);
    ps->mem = malloc((4 * (p->ndiffs + 1) + nl + 2 * MAXPTS + 2) * sizeof *ps->mem);
    ps->names = malloc((p->ndiffs + 1) * sizeof *ps->names);
    ps->colors = malloc((p->ndiffs + 1) * sizeof *ps->colors);
    if (!ps->steps || !ps->mem || !ps->names || !ps->colors) return 0;
    snapshot_maxima(ps, p);
    loss_difference(ps, p, nl);
    return 1;
}

/* The step axis of the charts against step: from 0 to the last common step. */
static svg_axis step_axis(const xd_pair *p, const pair_series *ps)
{
    svg_axis x = {.scale = SVG_LIN, .lo = INFINITY, .hi = -INFINITY, .integer = 1, .label = "step"};
    xd_svg_range_add(&x, 0);
    xd_svg_range_add(&x, (double)p->common_steps);
    for (size_t i = 0; i < ps->ns; ++i) xd_svg_range_add(&x, ps->sx[i]);
    xd_svg_axis_fit(&x);
    return x;
}

/* (b) The relative difference against step: the worst tensor at each
 * snapshot and the loss at each step, with the rounding level (where the
 * first difference is judged) and any end-state tolerance. */
static void chart_rel_vs_step(FILE *f, const xd_report *r, const xd_pair *p, const pair_series *ps)
{
    svg_plot pl = {.x = step_axis(p, ps),
                   .y = {.scale = SVG_LOG, .lo = INFINITY, .hi = -INFINITY, .label = "max relative difference"}};
    for (size_t i = 0; i < ps->ns; ++i) xd_svg_range_add(&pl.y, ps->srel[i]);
    for (size_t i = 0; i < ps->m; ++i)
        xd_svg_range_add(&pl.y, ps->oy[i]); // NOLINT(clang-analyzer-core.CallAndMessage): thin() filled m
    xd_svg_range_add(&pl.y, r->tol.rounding_rel);
    if (r->tol.rel > 0) xd_svg_range_add(&pl.y, r->tol.rel);
    if (r->tol.loss_rel > 0) xd_svg_range_add(&pl.y, r->tol.loss_rel);
    xd_svg_axis_fit(&pl.y);
    svg_series rs[2] = {{"weights and optimizer state: max over judged tensors at each snapshot", "#d55e00", "", 2.2},
                        {"loss: |a \xe2\x88\x92 b| / |ref| at each step", "#0072b2", "", 1.4}};
    xd_svg_plot_begin(&pl, f, "Relative difference vs step (log scale)", 580, 260, 62, 22, 2, rs);
    xd_svg_plot_line(&pl, &rs[1], ps->m, ps->ox, ps->oy, ps->m <= 40);
    xd_svg_plot_line(&pl, &rs[0], ps->ns, ps->sx, ps->srel, 1);
    xd_svg_plot_ref(&pl, 0, r->tol.rounding_rel, "rounding level (judged at the first difference)");
    if (r->tol.rel > 0) xd_svg_plot_ref(&pl, 0, r->tol.rel, "--tol-rel");
    if (r->tol.loss_rel > 0) xd_svg_plot_ref(&pl, 0, r->tol.loss_rel, "--tol-loss");
    xd_svg_plot_legend(&pl, 2, rs);
    xd_svg_plot_end(&pl);
}

/* The ULP distance against step: the worst tensor at each snapshot. */
static void chart_ulp_vs_step(FILE *f, const xd_pair *p, const pair_series *ps)
{
    svg_plot pl = {.x = step_axis(p, ps),
                   .y = {.scale = SVG_LOG, .lo = INFINITY, .hi = -INFINITY, .label = "max ULP distance"}};
    for (size_t i = 0; i < ps->ns; ++i) xd_svg_range_add(&pl.y, ps->sulp[i]);
    xd_svg_axis_fit(&pl.y);
    svg_series us = {"max over tensors at each snapshot (0 sits on the floor)", "#cc79a7", "", 2.2};
    xd_svg_plot_begin(&pl, f, "ULP distance vs step (log scale)", 580, 260, 62, 22, 1, &us);
    xd_svg_plot_line(&pl, &us, ps->ns, ps->sx, ps->sulp, 1);
    xd_svg_plot_legend(&pl, 1, &us);
    xd_svg_plot_end(&pl);
}

/* (c) Every tensor's max relative difference at snapshot `last`, a bar
 * each, coloured against the end-state tolerance when one was given. */
static void chart_tensors_at(FILE *f, const xd_report *r, const xd_pair *p, pair_series *ps, int64_t last)
{
    size_t nt = 0, longest = 0;
    /* red above the user's end-state tolerance, or at NaN when none was given */
    const double limit = r->tol.rel > 0 ? r->tol.rel : INFINITY;
    for (size_t i = 0; i < p->ndiffs; ++i) {
        const xd_tensor_diff *d = &p->diffs[i];
        if (d->step != last) continue;
        ps->names[nt] = d->name;
        ps->tv[nt] = d->layer_rel;
        ps->colors[nt++] = d->role != XD_ROLE_JUDGED  ? "#8c959f"
                           : !(d->layer_rel <= limit) ? "#cf222e"
                           : d->layer_rel > 0         ? "#d4a72c"
                                                      : "#2da44e";
        longest = strlen(d->name) > longest ? strlen(d->name) : longest;
    }
    char title[160];
    snprintf(title, sizeof title,
             "Max relative difference per tensor at step %lld (of its layer's scale; grey: not judged)",
             (long long)last);
    svg_plot pl = {
        .x = {.scale = SVG_LOG, .lo = INFINITY, .hi = -INFINITY, .label = "max relative difference (log scale)"},
        .y = {.scale = SVG_CAT, .ncat = nt, .cat = ps->names}};
    for (size_t i = 0; i < nt; ++i) xd_svg_range_add(&pl.x, ps->tv[i]);
    if (r->tol.rel > 0) xd_svg_range_add(&pl.x, r->tol.rel);
    xd_svg_axis_fit(&pl.x);
    double left = 14 + 6.3 * (double)(longest < 30 ? longest : 30);
    svg_series key[3] = {{r->tol.rel > 0 ? "above --tol-rel" : "NaN", "#cf222e", "", 8},
                         {"differs", "#d4a72c", "", 8},
                         {"bitwise equal (0)", "#2da44e", "", 8}};
    xd_svg_plot_begin(&pl, f, title, 580, 20.0 * (double)nt, left < 70 ? 70 : left, 64, 3, key);
    xd_svg_plot_hbars(&pl, nt, ps->tv, ps->colors, NULL, 3);
    if (r->tol.rel > 0) xd_svg_plot_ref(&pl, 1, r->tol.rel, "--tol-rel");
    xd_svg_plot_legend(&pl, 3, key);
    xd_svg_plot_end(&pl);
}

/* (d) The ULP histogram over the tensors at snapshot `last`. */
static void chart_ulp_histogram(FILE *f, const xd_pair *p, int64_t last)
{
    size_t hist[XD_ULP_BINS] = {0};
    for (size_t i = 0; i < p->ndiffs; ++i) {
        const xd_tensor_diff *d = &p->diffs[i];
        if (d->step != last) continue;
        for (int k = 0; k < XD_ULP_BINS; ++k) hist[k] += d->ulp_hist[k];
    }
    const char *bins[XD_ULP_BINS];
    double hv[XD_ULP_BINS];
    svg_plot pl = {.x = {.scale = SVG_LOG, .lo = INFINITY, .hi = -INFINITY, .label = "elements (log scale)"},
                   .y = {.scale = SVG_CAT, .ncat = XD_ULP_BINS, .cat = bins}};
    for (int k = 0; k < XD_ULP_BINS; ++k) {
        bins[k] = xd_ulp_bin_label(k);
        hv[k] = (double)hist[k];
        xd_svg_range_add(&pl.x, hv[k]);
    }
    xd_svg_axis_fit(&pl.x);
    char title[160];
    snprintf(title, sizeof title, "ULP distance histogram at step %lld (sign: values crossing zero)", (long long)last);
    xd_svg_plot_begin(&pl, f, title, 580, 24.0 * XD_ULP_BINS, 86, 64, 0, NULL);
    xd_svg_plot_hbars(&pl, XD_ULP_BINS, hv, NULL, "#8250df", 0);
    xd_svg_plot_end(&pl);
}

/* The charts of one pair that is not IDENTICAL: (b) rel diff and ULP
 * against step, (c) per-tensor rel diff and (d) ULP histogram at the last
 * common snapshot. */
static void write_pair_plots(FILE *f, const xd_report *r, const xd_pair *p)
{
    pair_series ps;
    if (!pair_series_gather(&ps, p)) {
        fputs("<p class=\"empty\">Not plotted: out of memory.</p>\n", f);
    } else {
        fputs("<div class=\"plots\">\n", f);
        chart_rel_vs_step(f, r, p, &ps);
        if (!ps.ns) {
            fputs("<p class=\"empty\">No common snapshots: no tensor differences to plot.</p></div>\n", f);
        } else {
            int64_t last = ps.steps[ps.ns - 1];
            chart_ulp_vs_step(f, p, &ps);
            chart_tensors_at(f, r, p, &ps, last);
            chart_ulp_histogram(f, p, last);
            fputs("</div>\n", f);
        }
    }
    pair_series_free(&ps);
}

/* A labelled paragraph of text from the pair (nothing when empty). */
static void fact(FILE *f, const char *label, const char *text)
{
    char open[96];
    snprintf(open, sizeof open, "<p class=\"facts\"><b>%s</b> ", label);
    tagged(f, open, text, "</p>\n");
}

/* What a pair that is not IDENTICAL says in words: settings, where and by
 * how much the runs part, amplification, the end, mechanism and rule. */
static void pair_facts(FILE *f, const xd_pair *p)
{
    if (xd_settings_differ(p, XD_SETTING_TRAINING) || xd_settings_differ(p, XD_SETTING_COMPUTATION)) {
        fputs("<p class=\"facts\"><b>Settings and computation that differ:</b></p>", f);
        settings_list(f, p, -1);
    }
    if (p->verdict == XD_VERDICT_ROUNDING_LEVEL || p->verdict == XD_VERDICT_DIVERGED) {
        fprintf(f, "<p class=\"facts\">%lld common steps; first difference at step %lld", (long long)p->common_steps,
                (long long)p->first_divergent_step);
        if (p->first_measured_step >= 0)
            fprintf(f, ": max rel %s (measured at step %lld), loss rel %s", XD_NUM(p->first_max_rel, 3),
                    (long long)p->first_measured_step, XD_NUM(p->first_loss_rel, 3));
        if (p->end_step > p->first_measured_step && p->first_measured_step >= 0)
            fprintf(f, "; %s max rel %s at step %lld%s",
                    !(p->end_max_rel <= p->first_max_rel) ? "grown to" : "no growth: ", XD_NUM(p->end_max_rel, 3),
                    (long long)p->end_step, p->amplified ? " (AMPLIFIED beyond the end-state threshold)" : "");
        char aa[32], ab[32];
        fprintf(f,
                "; %zu sign flips summed over the snapshots compared (values crossing zero), max ULP among values of "
                "one sign %s; test accuracy %s vs "
                "%s.</p>\n",
                p->sign_flips, XD_NUM(ulp_d(p->max_ulp), 0), accuracy_html(p->ref->test_accuracy, aa, sizeof aa),
                accuracy_html(p->other->test_accuracy, ab, sizeof ab));
    }
    fact(f, "Not judged:", p->not_judged);
    fact(f, "Likely mechanism:", p->mechanism);
    fact(f, "Rule:", p->rule_text);
    fact(f, "Hint:", p->hint);
}

static void write_details(FILE *f, const xd_report *r, const size_t *count)
{
    fputs("<section><h2>Differences per pair</h2>\n", f);
    if (!r->npairs) fputs("<p class=\"empty\">No pairs were compared.</p>\n", f);
    else if (count[XD_VERDICT_IDENTICAL] == r->npairs)
        fputs("<p class=\"empty\">Every pair is bitwise identical at every compared step: there are no differences to "
              "plot.</p>\n",
              f);
    else if (count[XD_VERDICT_IDENTICAL])
        fprintf(f, "<p class=\"sub\">%zu identical pair%s not shown: nothing differs.</p>\n",
                count[XD_VERDICT_IDENTICAL], count[XD_VERDICT_IDENTICAL] == 1 ? "" : "s");
    for (size_t i = 0; i < r->npairs; ++i) {
        const xd_pair *p = &r->pairs[i];
        if (p->verdict == XD_VERDICT_IDENTICAL) continue;
        char a[512], b[512];
        label_of(r, p->ref, a, sizeof a);
        label_of(r, p->other, b, sizeof b);
        fputs("<div class=\"pair\"><h3>", f);
        xd_html_esc(f, a);
        fputs(" <span class=\"sub\">vs</span> ", f);
        xd_html_esc(f, b);
        fputs(" ", f);
        badge(f, p->verdict, xd_pair_verdict_label(p));
        fputs("</h3>\n", f);
        if (p->verdict == XD_VERDICT_FAILED || p->verdict == XD_VERDICT_INCOMPARABLE || !p->ref || !p->other) {
            fputs("<p class=\"empty\">Nothing compared", f);
            if (p->note[0]) fputs(": ", f);
            xd_html_esc(f, p->note);
            fputs("</p></div>\n", f);
            continue;
        }
        pair_facts(f, p);
        if (p->verdict != XD_VERDICT_DIFFERENT_SETTINGS) write_pair_plots(f, r, p);
        fputs("</div>\n", f);
    }
    fputs("</section>\n", f);
}

static void write_page(FILE *f, const xd_report *r)
{
    size_t count[XD_VERDICT_COUNT] = {0};
    for (size_t i = 0; i < r->npairs; ++i)
        if ((unsigned)r->pairs[i].verdict < XD_VERDICT_COUNT) count[r->pairs[i].verdict]++;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"generator\" content=\"crossdev\">\n<title>",
          f);
    xd_html_esc(f, r->title[0] ? r->title : "crossdev comparison");
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", CSS);
    write_header(f, r, count);
    write_banner(f, r);
    write_runs(f, r);
    write_classes(f, r);
    write_pairs(f, r);
    write_losses(f, r);
    write_details(f, r, count);
    fprintf(f,
            "<footer>crossdev %s &middot; self-contained page: no scripts and nothing loaded from elsewhere"
            "</footer>\n"
            "</main>\n</body>\n</html>\n",
            xd_version_string());
}

static xd_status write_html(const xd_report *r, const char *path, xd_error *err)
{
    if (!r || !path || !*path)
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_report_write_html: no report or no path");
    /* the page in memory, then one atomic write: a reader never sees half a page */
    char *page = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&page, &len);
    if (!f) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory", path);
    write_page(f, r);
    int bad = ferror(f); /* stdio errors are sticky: one check after the whole page is enough */
    if (fclose(f) != 0) bad = 1;
    xd_status st = XD_OUT_OF_HOST_MEMORY;
    if (bad || !page) {
        xd_error_set(err, st, 0, "%s: out of host memory composing the HTML report", path);
    } else {
        const void *parts[1] = {page};
        const size_t sizes[1] = {len};
        st = xd_write_file_user(path, parts, sizes, 1, err);
    }
    free(page);
    return st;
}

xd_status xd_report_write_html(const xd_report *r, const char *path, xd_error *err)
{
    return xd_error_return(err, write_html(r, path, err));
}
