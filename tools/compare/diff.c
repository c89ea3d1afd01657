/* diff: traces from any machine compared against the first (or, given one
 * compare work folder, paired as compare pairs them); and the end that
 * diff and compare share (build, print and write the report). */
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/common.h"

/* --json/--html "-" is standard output: then the text report goes to
 * standard error, so that standard output holds the document alone. */
static int to_stdout(const report_opts *ro)
{
    return (ro->json && strcmp(ro->json, "-") == 0) || (ro->html && strcmp(ro->html, "-") == 0);
}

/* Writes one report file; 0 when it failed (said). */
static int write_one(xd_report *rep, const char *opt, const char *path, FILE *text,
                     xd_status (*write)(const xd_report *, const char *, xd_error *))
{
    xd_error err;
    if (write(rep, path, &err) != XD_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, opt, err.message);
        return 0;
    }
    if (strcmp(path, "-") != 0) fprintf(text, "%s report: %s\n", strcmp(opt, "--json") == 0 ? "JSON" : "HTML", path);
    return 1;
}

int finish_report(xd_report *rep, const report_opts *ro)
{
    xd_error err;
    xd_status st = xd_report_build(rep, &err);
    if (st != XD_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        return EXIT_USAGE;
    }
    FILE *text = to_stdout(ro) ? stderr : stdout;
    xd_report_print(rep, text, isatty(fileno(text)));
    fflush(text);
    int rc = xd_report_exit_code(rep);
    if (ro->json && !write_one(rep, "--json", ro->json, text, xd_report_write_json)) rc = EXIT_USAGE;
    if (ro->html && !write_one(rep, "--html", ro->html, text, xd_report_write_html)) rc = EXIT_USAGE;
    return rc;
}

static void usage_diff(void)
{
    printf("usage: %s diff TRACE_REF TRACE [TRACE...] [options]\n"
           "       %s diff WORK          (a compare work folder: its traces, paired as compare pairs them)\n"
           "Compares each trace against the first (traces may come from other machines):\n"
           "settings first (a pair that differs in one is DIFFERENT SETTINGS), then where\n"
           "the runs part; docs/compare.md explains the verdicts and their rules.\n"
           "  --tol-rel X           also require every tensor's max rel <= X at the last common\n"
           "                        snapshot (an end-state tolerance; off by default)\n"
           "  --tol-loss X          also require every step's loss rel diff <= X (off by default)\n"
           "  --rounding-rel X      the rounding level a first difference is judged against (1e-3)\n"
           "  --amplified-rel X     end-state distance beyond which a rounding-level pair is AMPLIFIED (1e-2)\n"
           "  --ignore GLOB         never judge tensors matching GLOB (e.g. 'conv2d.bias*'; shown, named\n"
           "                        as ignored; repeatable)\n"
           "  --json FILE           the JSON report (docs/report.schema.json); '-': standard output\n"
           "  --html FILE           the HTML report; '-': standard output\n"
           "Arguments that are compare's own files (.log, report.json, report.html) or\n"
           "unfinished traces (NAME.tmp-PID) are skipped, so 'diff WORK/*' works.\n",
           prog, prog);
}

static int diff_option(int c, void *user, char **argv)
{
    int r = report_option(c, user);
    if (r < 0)
        fprintf(stderr, "%s diff: %s '%s'\n", prog, c == ':' ? "missing value for" : "unknown option",
                argv[optind - 1]);
    return r > 0;
}

static int diff_options(int argc, char **argv, report_opts *ro)
{
    static const struct option opts[] = {REPORT_LONG_OPTS, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int rc = parse_options(argc, argv, opts, diff_option, ro, usage_diff);
    if (rc == CLI_GO_ON && ro->json && ro->html && strcmp(ro->json, "-") == 0 && strcmp(ro->html, "-") == 0) {
        fprintf(stderr, "%s diff: --json and --html cannot both go to standard output\n", prog);
        rc = EXIT_USAGE;
    }
    return rc;
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int has_trace_json(const char *dir)
{
    char p[XD_PATH_MAX];
    return xd_path(p, sizeof p, NULL, "%s/trace.json", dir) == XD_OK && xd_path_exists(p);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* compare's own files and unfinished traces: skipped, with a word. */
static int skipped(const char *path)
{
    int own = !is_dir(path) && (ends_with(path, ".log") || ends_with(path, "report.json") ||
                                ends_with(path, "report.html") || ends_with(path, ".png"));
    int unfinished = strstr(path, ".tmp-") != NULL && !has_trace_json(path);
    if (own || unfinished)
        fprintf(stderr, "%s diff: skipping %s (%s)\n", prog, path,
                own ? "not a trace: a file compare writes beside its traces" : "an unfinished trace");
    return own || unfinished;
}

/* A path list that grows: the traces to compare. */
typedef struct path_list {
    char **v;
    size_t n, cap;
} path_list;

static int push_path(path_list *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **g = realloc(l->v, cap * sizeof *g);
        if (!g) return 0;
        l->v = g;
        l->cap = cap;
    }
    return (l->v[l->n++] = xd_strdup(path)) != NULL;
}

static void free_paths(path_list *l)
{
    for (size_t i = 0; i < l->n; ++i) free(l->v[i]);
    free(l->v);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The position of a trace in WORK/report.json's runs (where compare put
 * it), or a large number when absent. */
static size_t report_position(json_t *runs, const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (size_t i = 0; i < json_array_size(runs); ++i) {
        const char *t = json_string_value(json_object_get(json_array_get(runs, i), "trace"));
        const char *tb = t && strrchr(t, '/') ? strrchr(t, '/') + 1 : t;
        if (tb && strcmp(tb, base) == 0) return i;
    }
    return (size_t)-1;
}

/* The traces inside a compare work folder, in compare's order when its
 * report.json says it, else by name.  0 when none (said) or out of memory. */
static int work_folder_traces(const char *dir, path_list *out)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t first = out->n;
    int ok = 1;
    for (struct dirent *e; ok && (e = readdir(d));) {
        char p[XD_PATH_MAX];
        if (e->d_name[0] == '.' || xd_path(p, sizeof p, NULL, "%s/%s", dir, e->d_name) != XD_OK) continue;
        if (is_dir(p) && has_trace_json(p) && !strstr(e->d_name, ".tmp-")) ok = push_path(out, p);
    }
    closedir(d);
    if (out->n > first) qsort(out->v + first, out->n - first, sizeof *out->v, by_name);
    char rp[XD_PATH_MAX];
    json_t *report = xd_path(rp, sizeof rp, NULL, "%s/report.json", dir) == XD_OK ? json_load_file(rp, 0, NULL) : NULL;
    json_t *runs = json_object_get(report, "runs");
    for (size_t i = first; runs && i < out->n; ++i) /* insertion sort by compare's order: a few dozen traces */
        for (size_t j = i; j > first && report_position(runs, out->v[j]) < report_position(runs, out->v[j - 1]); --j) {
            char *t = out->v[j];
            out->v[j] = out->v[j - 1];
            out->v[j - 1] = t;
        }
    json_decref(report);
    if (out->n == first)
        fprintf(stderr, "%s diff: %s holds no trace (no trace.json, nor folders with one)\n", prog, dir);
    return ok && out->n > first;
}

/* A trace named by its folder, or by the trace.json inside it (what a
 * shell's completion or `find -name trace.json` gives): the folder. */
static int push_path_of_trace(path_list *l, const char *arg)
{
    size_t n = strlen(arg);
    int file = ends_with(arg, "trace.json") && !is_dir(arg) && (n == 10 || arg[n - 11] == '/');
    if (!file) return push_path(l, arg);
    char dir[XD_PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", n == 10 ? 1 : (int)(n - 11), n == 10 ? "." : arg);
    return push_path(l, dir[0] ? dir : "/");
}

/* The traces named by the arguments: a work folder stands for the traces
 * inside it; compare's own files are skipped.  *by_mode: one work folder
 * was given, so pair as compare does. */
static int collect_traces(int n, char **args, path_list *out, int *by_mode)
{
    int folders = 0;
    for (int i = 0; i < n; ++i) {
        if (skipped(args[i])) continue;
        if (is_dir(args[i]) && !has_trace_json(args[i])) {
            DIR *d = opendir(args[i]);
            int traces = 0;
            for (struct dirent *e; d && (e = readdir(d));) {
                char p[XD_PATH_MAX];
                traces |= e->d_name[0] != '.' && xd_path(p, sizeof p, NULL, "%s/%s", args[i], e->d_name) == XD_OK &&
                          has_trace_json(p);
            }
            if (d) closedir(d);
            if (traces) {
                if (!work_folder_traces(args[i], out)) return 0;
                ++folders;
                continue;
            }
        }
        if (!push_path_of_trace(out, args[i])) return 0;
    }
    *by_mode = folders == 1 && n == 1;
    if (out->n < 2) fprintf(stderr, "%s diff: needs at least two traces (found %zu)\n", prog, out->n);
    return out->n >= 2;
}

/* Opens every trace (each failure said); EXIT_USAGE when one failed.  Each
 * run keeps the mode its trace says: pairing never rewrites a run. */
static int diff_open(xd_report *rep, char **paths, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n; ++i) {
        xd_run_record run = {0};
        xd_error err;
        snprintf(run.trace_dir, sizeof run.trace_dir, "%s", paths[i]);
        if (xd_report_add_run(rep, &run, &err) != XD_OK) return EXIT_USAGE;
        if (xd_report_open_trace(rep, i, &err) != XD_OK) {
            fprintf(stderr, "%s: %s\n", prog, err.message);
            rc = EXIT_USAGE;
            continue;
        }
        if (i == 0) rep->seed = xd_trace_seed(rep->runs[0].trace);
    }
    return rc;
}

int cmd_diff(int argc, char **argv)
{
    report_opts ro = {.tol = xd_tolerance_defaults()};
    int rc = diff_options(argc, argv, &ro), by_mode = 0;
    if (rc != CLI_GO_ON) return rc;
    path_list paths = {0};
    if (!collect_traces(argc - optind, argv + optind, &paths, &by_mode)) {
        free_paths(&paths);
        return EXIT_USAGE;
    }
    xd_report *rep = xd_report_create();
    rc = rep ? 0 : EXIT_USAGE;
    if (rep) {
        rep->tol = ro.tol;
        rep->first_is_reference = !by_mode;
        if (by_mode)
            snprintf(rep->title, sizeof rep->title,
                     "crossdev diff of %zu traces in %.200s (paired by mode, as compare does)", paths.n, argv[optind]);
        else
            snprintf(rep->title, sizeof rep->title, "crossdev diff of %zu traces (reference: %.200s)", paths.n,
                     paths.v[0]);
        rc = diff_open(rep, paths.v, paths.n);
    }
    if (rc == 0) rc = finish_report(rep, &ro);
    xd_report_destroy(rep);
    free_paths(&paths);
    return rc;
}
