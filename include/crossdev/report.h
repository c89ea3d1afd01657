/* crossdev — reports over compared runs: the terminal text, the JSON
 * document (docs/report.schema.json) and the HTML page (docs/compare.md). */
#ifndef CROSSDEV_REPORT_H
#define CROSSDEV_REPORT_H

#include <stdio.h>

#include "crossdev/compare.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xd_run_record {
    char label[128]; /* a short unique name from trace_dir (xd_report_build fills it when empty) */
    char device_id[320];
    char mode[16];
    int repeat;      /* 0-based */
    int failed;      /* 1: no usable trace */
    int exit_status; /* child exit status, -1 when killed by a signal */
    int term_signal; /* signal that ended it, 0 when none */
    int timed_out;
    char error[1024]; /* the child's last error lines */
    char trace_dir[1024];
    int64_t steps_asked;
    double seconds;
    xd_trace *trace; /* NULL when failed (opened and closed by the report: xd_report_open_trace) */
} xd_run_record;

/* Runs of one mode whose traces are bitwise equal over their common steps
 * (every loss, every tensor hash, the initial state): one class.  Labels
 * "R1", "R2", ... for reproducible runs, "F1", ... for fast ones; the
 * mode's reference run is the first member of its first class. */
typedef struct xd_run_class {
    char label[8];
    char mode[16];
    size_t nmembers;
    size_t *members; /* run indices (0-based), in run order but the reference first */
} xd_run_class;

/* Two classes of one mode: the comparison of their first members (where the
 * classes part, how far, the verdict): the report's own pair of those runs
 * where it has one (a class against the reference's), else `own`. */
typedef struct xd_class_pair {
    size_t a, b; /* class indices */
    const xd_pair *pair;
    xd_pair own;
} xd_class_pair;

typedef struct xd_report {
    char title[256];
    uint64_t seed;
    int seed_random;
    xd_tolerance tol;
    size_t nruns;
    xd_run_record *runs;
    size_t npairs;
    xd_pair *pairs;
    char notes[1024];       /* e.g. fast mode's state */
    int first_is_reference; /* diff: every run against the first, whatever its mode and length */
    int partial;            /* an interrupted comparison: only the runs that finished */
    size_t nclasses;        /* xd_report_build: each mode's runs in classes of bitwise-equal traces */
    xd_run_class *classes;
    size_t nclass_pairs; /* every two classes of one mode */
    xd_class_pair *class_pairs;
} xd_report;

/* A report owns its runs and their traces: create it, add each run
 * (copied; xd_report_open_trace opens the trace at its trace_dir, filling
 * device_id and mode from the trace where the record left them empty),
 * build, print or write, destroy.  NULL when out of host memory. */
XD_API xd_report *xd_report_create(void);
XD_API xd_status xd_report_add_run(xd_report *r, const xd_run_record *run, xd_error *err);
XD_API xd_status xd_report_open_trace(xd_report *r, size_t i, xd_error *err);
/* Frees the pairs, the classes, every run's trace, the runs and r. */
XD_API void xd_report_destroy(xd_report *r);
/* Builds the pairs and labels the runs.  With first_is_reference every
 * other run is compared with the first; otherwise (compare) within each
 * mode the successful run with the most steps (the first in run order
 * among equals) is the reference for every other run of that mode, plus
 * reproducible vs fast on the reproducible reference's device.  A run's
 * mode is its own: pairing never rewrites it.  Runs must be filled in. */
XD_API xd_status xd_report_build(xd_report *r, xd_error *err);
/* The classes of bitwise-equal runs and their pairs (xd_report_build makes
 * them after the pairs); freed by xd_report_free.  Runs of a mode that
 * belong to some class: xd_report_mode_runs. */
XD_API xd_status xd_report_classes(xd_report *r, xd_error *err);
XD_API void xd_report_classes_free(xd_report *r);
XD_API size_t xd_report_mode_runs(const xd_report *r, const char *mode);
/* 0 no pair DIVERGED and no reproducible-mode guarantee broken (IDENTICAL,
 * ROUNDING-LEVEL and DIFFERENT SETTINGS pairs); 1 some pair DIVERGED or a
 * guarantee broke; 2 a run failed or a pair was incomparable. */
XD_API int xd_report_exit_code(const xd_report *r);
XD_API void xd_report_print(const xd_report *r, FILE *out, int color);
/* The JSON document and the HTML page: path "-" is standard output; an
 * existing target that is not a regular file (a FIFO, /dev/stdout) is
 * written through; otherwise the file is replaced atomically (a symlink to
 * a regular file stays a symlink). */
XD_API xd_status xd_report_write_json(const xd_report *r, const char *path, xd_error *err);
XD_API xd_status xd_report_write_html(const xd_report *r, const char *path, xd_error *err);

#ifdef __cplusplus
}
#endif
#endif
