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
    xd_trace *trace; /* NULL when failed (owned by the report) */
} xd_run_record;

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
    int first_is_reference; /* diff: the first run is the reference, whatever its length */
} xd_report;

/* Builds the pairs: within each mode the successful run with the most steps
 * (the first among equals; or simply the first when first_is_reference) is
 * the reference for every other run of that mode; plus reproducible vs fast
 * on the reference device.  Runs must be filled in. */
XD_API xd_status xd_report_build(xd_report *r, xd_error *err);
XD_API void xd_report_free(xd_report *r); /* frees runs' traces and pairs; not r itself */
/* 0 all pairs within tolerance and reproducible pairs identical; 1 some pair
 * beyond tolerance or a reproducible pair not identical; 2 a run failed or a
 * pair was incomparable. */
XD_API int xd_report_exit_code(const xd_report *r);
XD_API void xd_report_print(const xd_report *r, FILE *out, int color);
XD_API xd_status xd_report_write_json(const xd_report *r, const char *path, xd_error *err);
XD_API xd_status xd_report_write_html(const xd_report *r, const char *path, xd_error *err);

#ifdef __cplusplus
}
#endif
#endif
