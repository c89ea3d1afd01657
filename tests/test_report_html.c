/* Tests for the HTML report (host/compare/report_html.c) on a report built in memory
 * from fake traces: one identical pair, one diverged pair (guarantee broken,
 * NaN in places), one within tolerance, one failed run, a device id that
 * needs escaping.  Checks the page is self-contained and well-formed enough,
 * and that a failed write leaves nothing behind.  Usage:
 *   test_report_html [KEEP.html]   (KEEP.html: also write the sample page
 *                                   there, for tools/check-html-report) */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "crossdev/report.h"
#include "io/trace.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static xdt T = {.name = "test_report_html"}; /* no device: the harness's counters and report */

static void check(int ok, const char *what) { xdt_check(&T, ok, "%s", what); }

static const char *const TENSORS[] = {"conv1.weight", "conv1.bias",   "conv2.weight",
                                      "conv2.bias",   "dense.weight", "dense.bias"};
#define NBASE 6
#define NTENSORS (3 * NBASE) /* each with its Adam .m and .v */

static void tensor_name(size_t i, char *out, size_t cap)
{
    static const char *const suffix[3] = {"", ".m", ".v"};
    snprintf(out, cap, "%s%s", TENSORS[i % NBASE], suffix[i / NBASE]);
}

/* A trace as xd_trace_open would leave it, for the fields the report uses.
 * wobble: relative perturbation of the loss from step `from` on. */
static xd_trace *fake_trace(const char *device, const char *mode, int64_t steps, double wobble, int64_t from)
{
    xd_trace *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    snprintf(t->device_id, sizeof t->device_id, "%s", device);
    snprintf(t->mode, sizeof t->mode, "%s", mode);
    snprintf(t->model, sizeof t->model, "seed-cnn");
    snprintf(t->driver, sizeof t->driver, "PoCL 5.0 <fake>");
    snprintf(t->build_options, sizeof t->build_options, "-cl-fp32-correctly-rounded-divide-sqrt -DXD_DIV_MODE=1");
    snprintf(t->guarantee, sizeof t->guarantee, "%s", strcmp(mode, "fast") ? "bitwise across devices" : "none");
    t->version = 1;
    t->seed = 42;
    t->batch = 32;
    t->steps = steps;
    t->nonfinite_step = -1;
    t->test_loss = 0.21;
    t->test_accuracy = 0.9412;
    t->loss = malloc((size_t)steps * sizeof *t->loss);
    t->ntensors = NTENSORS;
    t->tensor_names = calloc(NTENSORS, sizeof *t->tensor_names);
    t->nsnapshots = 5;
    t->snapshots = malloc(t->nsnapshots * sizeof *t->snapshots);
    if (!t->loss || !t->tensor_names || !t->snapshots) return t; /* checked by the caller */
    for (int64_t k = 0; k < steps; ++k) {
        double base = 2.3 * exp(-(double)k / 60.0) + 0.12 + 0.05 * sin((double)k * 0.7);
        t->loss[k] = (float)(k + 1 >= from ? base * (1 + wobble * sin((double)k * 1.3)) : base);
    }
    for (size_t i = 0; i < NTENSORS; ++i) tensor_name(i, t->tensor_names[i], sizeof t->tensor_names[i]);
    for (size_t s = 0; s < t->nsnapshots; ++s) t->snapshots[s] = (int64_t)s * steps / 4;
    return t;
}

static void free_trace(xd_trace *t)
{
    if (!t) return;
    free(t->loss);
    free(t->tensor_names);
    free(t->snapshots);
    free(t);
}

/* Diffs over ref's snapshots x tensors; differences grow by `scale` per
 * snapshot from `from` on (0 before: bitwise equal). */
static xd_tensor_diff *fake_diffs(const xd_trace *ref, int64_t from, double scale, size_t *n)
{
    xd_tensor_diff *d = calloc(ref->nsnapshots * ref->ntensors, sizeof *d);
    *n = 0;
    if (!d) return NULL;
    for (size_t s = 0; s < ref->nsnapshots; ++s)
        for (size_t i = 0; i < ref->ntensors; ++i) {
            xd_tensor_diff *x = &d[(*n)++];
            snprintf(x->name, sizeof x->name, "%s", ref->tensor_names[i]);
            x->step = ref->snapshots[s];
            x->n = 100000;
            if (x->step < from) continue;
            double k = (double)(s + 1) * (double)(i % 5 + 1);
            x->ndiff = 100 * (size_t)k;
            x->max_rel = scale * k * k;
            x->max_abs = x->max_rel * 0.5;
            x->max_ulp = (uint64_t)(x->max_rel * 8e6) + 1;
            x->ulp_hist[0] = x->n - x->ndiff;
            x->ulp_hist[1] = x->ndiff / 2;
            x->ulp_hist[2] = x->ndiff / 4;
            x->ulp_hist[3] = x->ndiff - x->ndiff / 2 - x->ndiff / 4;
        }
    return d;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

static size_t count_of(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) ++n;
    return n;
}

/* Removes every occurrence of `needle` from s, in place. */
static void strip(char *s, const char *needle)
{
    size_t len = strlen(needle);
    for (char *p = strstr(s, needle); p; p = strstr(p, needle)) memmove(p, p + len, strlen(p + len) + 1);
}

/* `word` standing alone (not inside an identifier or a longer word). */
static int has_word(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(s, word); p; p = strstr(p + 1, word)) {
        int before = p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.');
        int after = isalnum((unsigned char)p[n]) || p[n] == '_';
        if (!before && !after) return 1;
    }
    return 0;
}

/* No temporaries left beside the page. */
static int no_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int ok = d != NULL;
    for (struct dirent *e; d && (e = readdir(d));) ok &= strstr(e->d_name, ".tmp.") == NULL;
    if (d) closedir(d);
    return ok;
}

/* Writes r to path and runs the checks every page must pass. */
static char *write_and_check(const xd_report *r, const char *path, const char *what)
{
    xd_error err;
    char msg[700];
    xd_status st = xd_report_write_html(r, path, &err);
    snprintf(msg, sizeof msg, "%s: xd_report_write_html returns XD_OK (%s)", what, err.message);
    check(st == XD_OK, msg);
    char *s = slurp(path);
    snprintf(msg, sizeof msg, "%s: the page exists", what);
    check(s != NULL, msg);
    if (!s) return NULL;
    snprintf(msg, sizeof msg, "%s: starts with <!DOCTYPE html>", what);
    check(strncmp(s, "<!DOCTYPE html>", 15) == 0, msg);
    snprintf(msg, sizeof msg, "%s: ends with </html>", what);
    check(strstr(s, "</html>\n") && strcmp(strstr(s, "</html>\n"), "</html>\n") == 0, msg);
    snprintf(msg, sizeof msg, "%s: as many </svg> as <svg", what);
    check(count_of(s, "<svg") == count_of(s, "</svg>"), msg);
    /* self-contained: the SVG namespace is the one URL allowed (it is an
     * identifier, never fetched); nothing else may point anywhere */
    char *copy = malloc(strlen(s) + 1);
    if (copy) {
        memcpy(copy, s, strlen(s) + 1);
        strip(copy, "xmlns=\"http://www.w3.org/2000/svg\"");
        snprintf(msg, sizeof msg, "%s: no URL other than the SVG namespace", what);
        check(strstr(copy, "http") == NULL && strstr(copy, "//www") == NULL, msg);
        snprintf(msg, sizeof msg, "%s: no src=, href=, <link, @import, url(, <script, <img", what);
        check(!strstr(copy, "src=") && !strstr(copy, "href=") && !strstr(copy, "<link") && !strstr(copy, "@import") &&
                  !strstr(copy, "url(") && !strstr(copy, "<script") && !strstr(copy, "<img"),
              msg);
        snprintf(msg, sizeof msg, "%s: no printf nan/inf leaked into the page", what);
        check(!has_word(copy, "nan") && !has_word(copy, "inf"), msg);
        free(copy);
    }
    return s;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/test_report_html.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/report.html", dir);

    /* runs: two identical reproducible runs, a diverging one on a device
     * whose id needs escaping, a failed one, and a shorter fast run */
    xd_trace *t0 = fake_trace("pocl:cpu:pthread:0", "reproducible", 200, 0, 0);
    xd_trace *t1 = fake_trace("pocl:cpu:pthread:0", "reproducible", 200, 0, 0);
    xd_trace *t2 = fake_trace("gpu<script>&amp;\"x\":1", "reproducible", 200, 0.03, 60);
    xd_trace *t4 = fake_trace("pocl:cpu:pthread:0", "fast", 150, 0.002, 1);
    check(t0 && t1 && t2 && t4 && t0->loss && t1->loss && t2->loss && t4->loss, "fake traces allocated");
    if (!(t0 && t1 && t2 && t4 && t0->loss && t1->loss && t2->loss && t4->loss)) return 1;
    t4->loss[70] = t4->loss[71] = NAN; /* a gap in one curve */
    t4->test_accuracy = NAN;           /* not evaluated */
    t2->nonfinite_step = -1;

    xd_run_record runs[5];
    memset(runs, 0, sizeof runs);
    const xd_trace *tr[5] = {t0, t1, t2, NULL, t4};
    const char *modes[5] = {"reproducible", "reproducible", "reproducible", "reproducible", "fast"};
    for (int i = 0; i < 5; ++i) {
        runs[i].trace = (xd_trace *)tr[i];
        snprintf(runs[i].device_id, sizeof runs[i].device_id, "%s", tr[i] ? tr[i]->device_id : "oclgrind:0");
        snprintf(runs[i].mode, sizeof runs[i].mode, "%s", modes[i]);
        runs[i].steps_asked = 200;
        runs[i].seconds = 1.5 + i;
        snprintf(runs[i].label, sizeof runs[i].label, "trace-label-%d", i);
    }
    runs[1].repeat = 1;
    runs[3].failed = 1;
    runs[3].exit_status = 3;
    snprintf(runs[3].error, sizeof runs[3].error, "clBuildProgram: CL_OUT_OF_RESOURCES <b>bold</b>\nsecond line");

    xd_pair pairs[5];
    memset(pairs, 0, sizeof pairs);
    /* identical */
    pairs[0] = (xd_pair){.ref = t0,
                         .other = t1,
                         .common_steps = 200,
                         .init_identical = 1,
                         .first_divergent_step = -1,
                         .verdict = XD_VERDICT_IDENTICAL};
    pairs[0].ndiffs = 0;
    /* diverged: equal until step 50, then growing, one tensor NaN at the end */
    pairs[1] = (xd_pair){.ref = t0,
                         .other = t2,
                         .common_steps = 200,
                         .init_identical = 1,
                         .first_divergent_step = 60,
                         .loss_max_abs = 0.05,
                         .loss_max_rel = 0.03,
                         .loss_peak_step = 180,
                         .verdict = XD_VERDICT_DIVERGED,
                         .guarantee_broken = 1};
    snprintf(pairs[1].first_divergent_tensor, sizeof pairs[1].first_divergent_tensor, "loss");
    snprintf(pairs[1].first_divergent_op, sizeof pairs[1].first_divergent_op, "conv2d_bwd_weights");
    pairs[1].diffs = fake_diffs(t0, 50, 2e-4, &pairs[1].ndiffs);
    check(pairs[1].diffs != NULL, "diffs allocated");
    if (!pairs[1].diffs) return 1;
    xd_tensor_diff *nan_diff = &pairs[1].diffs[pairs[1].ndiffs - 1];
    nan_diff->max_rel = NAN;
    nan_diff->max_ulp = UINT64_MAX;
    nan_diff->ulp_hist[7] = 3;
    for (size_t i = 0; i < pairs[1].ndiffs; ++i) {
        const xd_tensor_diff *d = &pairs[1].diffs[i];
        if (!(d->max_rel <= pairs[1].max_rel)) pairs[1].max_rel = d->max_rel;
        if (!(d->max_abs <= pairs[1].max_abs)) pairs[1].max_abs = d->max_abs;
        if (d->max_ulp > pairs[1].max_ulp) pairs[1].max_ulp = d->max_ulp;
    }
    /* failed: no other trace */
    pairs[2] = (xd_pair){.ref = t0, .first_divergent_step = -1, .verdict = XD_VERDICT_FAILED};
    snprintf(pairs[2].note, sizeof pairs[2].note, "oclgrind:0 (reproducible) failed: CL_OUT_OF_RESOURCES <b>bold</b>");
    /* within tolerance, shorter: reproducible vs fast */
    pairs[3] = (xd_pair){.ref = t0,
                         .other = t4,
                         .common_steps = 150,
                         .init_identical = 1,
                         .first_divergent_step = 1,
                         .loss_max_abs = 4e-3,
                         .loss_max_rel = 2e-3,
                         .loss_peak_step = 90,
                         .verdict = XD_VERDICT_ROUNDING_LEVEL};
    snprintf(pairs[3].first_divergent_tensor, sizeof pairs[3].first_divergent_tensor, "conv1.weight");
    snprintf(pairs[3].note, sizeof pairs[3].note, "compared over 150 common steps (200 vs 150 run); ");
    pairs[3].diffs = fake_diffs(t4, 1, 1e-7, &pairs[3].ndiffs);
    check(pairs[3].diffs != NULL, "diffs allocated");
    if (!pairs[3].diffs) return 1;
    pairs[3].max_rel = 1e-7 * 25 * 25;
    pairs[3].max_ulp = 5000;

    xd_report r;
    memset(&r, 0, sizeof r);
    snprintf(r.title, sizeof r.title, "seed-cnn on 3 devices <test>");
    r.seed = 42;
    r.seed_random = 1;
    r.tol = xd_tolerance_defaults();
    r.runs = runs;
    r.nruns = 5;
    r.pairs = pairs;
    /* different settings: nothing judged, the difference named */
    pairs[4] = (xd_pair){.ref = t0,
                         .other = t1,
                         .common_steps = 200,
                         .first_divergent_step = -1,
                         .verdict = XD_VERDICT_DIFFERENT_SETTINGS,
                         .rule = XD_RULE_SETTINGS,
                         .nsettings = 1};
    pairs[4].settings[0] = (xd_setting_diff){"optimizer.lr", "0.001", "0.01", XD_SETTING_TRAINING};
    snprintf(pairs[3].rule_text, sizeof pairs[3].rule_text, "first difference max rel 2e-07 <= 1e-4");
    snprintf(pairs[3].mechanism, sizeof pairs[3].mechanism, "the modes differ: fast mode <contracts>");
    pairs[3].rule = XD_RULE_FIRST_DIFFERENCE;
    pairs[3].sign_flips = 7;
    r.npairs = 5;
    snprintf(r.notes, sizeof r.notes, "fast mode: contractions allowed & native math");

    char *s = write_and_check(&r, path, "full report");
    if (s) {
        check(count_of(s, "<svg") >= 3, "at least 3 SVG plots");
        check(strstr(s, "gpu&lt;script&gt;&amp;amp;&quot;x&quot;:1") != NULL, "the device id appears escaped");
        check(strstr(s, "<script>&") == NULL && strstr(s, "<script") == NULL, "the raw device id does not");
        check(strstr(s, "&lt;b&gt;bold&lt;/b&gt;") != NULL && strstr(s, "<b>bold") == NULL, "error text escaped");
        check(strstr(s, "seed-cnn on 3 devices &lt;test&gt;") != NULL, "title escaped");
        check(strstr(s, "contractions allowed &amp; native math") != NULL, "notes escaped");
        check(strstr(s, "class=\"banner\"") != NULL, "guarantee-broken banner present");
        check(strstr(s, "exit status 3") != NULL, "failed run's exit status shown");
        check(strstr(s, ">NaN<") != NULL, "NaN values written as NaN");
        check(count_of(s, "<polyline") >= 4, "loss curves and difference lines drawn");
        check(count_of(s, "<tr>") == 2 + 5 + 5, "a header row per table, one row per run and per pair");
        check(strstr(s, "trace-label-2") && strstr(s, "trace-label-4"), "every run named by its label");
        check(strstr(s, "<td>fast</td>") != NULL, "the fast run's own mode in the runs table");
        check(strstr(s, "optimizer.lr") && strstr(s, "0.001 <b>vs</b> 0.01"),
              "a different setting named with both values");
        check(strstr(s, "fast mode &lt;contracts&gt;") != NULL, "the mechanism shown, escaped");
        check(strstr(s, "rule first-difference") != NULL, "the rule that decided shown");
        check(strstr(s, "7 sign flips") != NULL, "sign flips counted apart");
        check(strstr(s, "ROUNDING-LEVEL") && strstr(s, "DIVERGED") && strstr(s, "IDENTICAL") && strstr(s, "FAILED") &&
                  strstr(s, "DIFFERENT SETTINGS"),
              "verdicts named");
    }
    check(no_tmp_files(dir), "no temporary file left after a successful write");
    if (argc > 1) {
        xd_error err;
        check(xd_report_write_html(&r, argv[1], &err) == XD_OK, "sample page written where asked");
    }
    free(s);

    /* a second write replaces the page */
    s = write_and_check(&r, path, "rewrite");
    free(s);

    /* one run, no pairs */
    xd_report one = r;
    one.nruns = 1;
    one.npairs = 0;
    s = write_and_check(&one, path, "one run");
    if (s) check(strstr(s, "No pairs were compared") != NULL, "one run: says no pairs");
    free(s);

    /* nothing at all */
    xd_report none;
    memset(&none, 0, sizeof none);
    s = write_and_check(&none, path, "empty report");
    if (s) check(strstr(s, "No runs.") != NULL && strstr(s, "nothing to plot") != NULL, "empty report: says so");
    free(s);

    /* all identical: a statement instead of empty plots */
    xd_report same = r;
    same.npairs = 1;
    s = write_and_check(&same, path, "all identical");
    if (s)
        check(strstr(s, "Every pair is bitwise identical") != NULL && count_of(s, "<svg") == 1,
              "all identical: only the loss plot, and a statement");
    free(s);

    /* a single-step run and a very long one: markers for the one point, the
     * long curve thinned so the page stays small */
    xd_trace *t5 = fake_trace("short", "reproducible", 1, 0, 0);
    xd_trace *t6 = fake_trace("long", "reproducible", 60000, 0.01, 1);
    check(t5 && t6 && t5->loss && t6->loss, "short and long traces allocated");
    if (t5 && t6 && t5->loss && t6->loss) {
        xd_run_record lr[2];
        memset(lr, 0, sizeof lr);
        lr[0].trace = t5;
        lr[1].trace = t6;
        snprintf(lr[0].device_id, sizeof lr[0].device_id, "short");
        snprintf(lr[1].device_id, sizeof lr[1].device_id, "long");
        xd_pair lp = {.ref = t5,
                      .other = t6,
                      .common_steps = 1,
                      .init_identical = 1,
                      .first_divergent_step = 1,
                      .verdict = XD_VERDICT_DIVERGED}; /* ndiffs == 0: no snapshots in common */
        xd_report lengths = {.tol = {1e-4, 1e-2, 1e-2, 0, 0}, .nruns = 2, .runs = lr, .npairs = 1, .pairs = &lp};
        s = write_and_check(&lengths, path, "different lengths");
        if (s) {
            check(strlen(s) < 400000, "different lengths: a 60000-step run is thinned (page < 400 kB)");
            check(strstr(s, "<circle") != NULL, "different lengths: the single point is marked");
            check(strstr(s, "No common snapshots") != NULL, "different lengths: ndiffs == 0 said");
        }
        free(s);
    }
    free_trace(t5);
    free_trace(t6);

    /* a write into a missing directory fails cleanly */
    char bad[300];
    xd_error err;
    snprintf(bad, sizeof bad, "%s/missing/report.html", dir);
    xd_status st = xd_report_write_html(&r, bad, &err);
    check(st == XD_IO, "missing directory: XD_IO");
    check(strstr(err.message, bad) != NULL, "missing directory: the message names the path");
    struct stat sb;
    check(stat(bad, &sb) != 0, "missing directory: no file");
    check(no_tmp_files(dir), "missing directory: no temporary file");
    check(xd_report_write_html(NULL, path, &err) == XD_INVALID_ARGUMENT, "NULL report refused");

    unlink(path);
    rmdir(dir);
    free(pairs[1].diffs);
    free(pairs[3].diffs);
    free_trace(t0);
    free_trace(t1);
    free_trace(t2);
    free_trace(t4);
    return xdt_finish(&T);
}
