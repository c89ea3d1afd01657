/* diff: traces from any machine compared against the first; and the end
 * that diff and compare share (build, print and write the report). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int finish_report(xd_report *rep, const report_opts *ro)
{
    xd_error err;
    xd_status st = xd_report_build(rep, &err);
    if (st != XD_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        return EXIT_USAGE;
    }
    xd_report_print(rep, stdout, isatty(STDOUT_FILENO));
    int rc = xd_report_exit_code(rep);
    if (ro->json && xd_report_write_json(rep, ro->json, &err) != XD_OK) {
        fprintf(stderr, "%s: --json: %s\n", prog, err.message);
        rc = EXIT_USAGE;
    } else if (ro->json) {
        printf("JSON report: %s\n", ro->json);
    }
    if (ro->html && xd_report_write_html(rep, ro->html, &err) != XD_OK) {
        fprintf(stderr, "%s: --html: %s\n", prog, err.message);
        rc = EXIT_USAGE;
    } else if (ro->html) {
        printf("HTML report: %s\n", ro->html);
    }
    return rc;
}

static void usage_diff(void)
{
    printf("usage: %s diff TRACE_REF TRACE [TRACE...] [--tol-rel X] [--tol-loss X] [--json FILE] [--html FILE]\n"
           "Compares each trace against the first (traces may come from other machines).\n",
           prog);
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
    if (rc == CLI_GO_ON && argc - optind < 2) {
        fprintf(stderr, "%s diff: needs at least two traces\n", prog);
        rc = EXIT_USAGE;
    }
    return rc;
}

/* Opens every trace (each failure said); EXIT_USAGE when one failed. */
static int diff_open(xd_report *rep, char **paths)
{
    int rc = 0;
    for (size_t i = 0; i < rep->nruns; ++i) {
        xd_run_record *run = &rep->runs[i];
        xd_error err;
        snprintf(run->trace_dir, sizeof run->trace_dir, "%s", paths[i]);
        if (xd_trace_open(paths[i], &run->trace, &err) != XD_OK) {
            fprintf(stderr, "%s: %s\n", prog, err.message);
            rc = EXIT_USAGE;
            continue;
        }
        snprintf(run->device_id, sizeof run->device_id, "%s", run->trace->device_id);
        /* diff compares everything against the first trace, whatever the mode */
        snprintf(run->mode, sizeof run->mode, "%s", i == 0 ? run->trace->mode : rep->runs[0].mode);
        if (i == 0) rep->seed = run->trace->seed;
    }
    return rc;
}

int cmd_diff(int argc, char **argv)
{
    report_opts ro = {xd_tolerance_defaults(), NULL, NULL};
    int rc = diff_options(argc, argv, &ro);
    if (rc != CLI_GO_ON) return rc;
    int n = argc - optind;
    xd_report rep;
    memset(&rep, 0, sizeof rep);
    rep.tol = ro.tol;
    rep.first_is_reference = 1;
    snprintf(rep.title, sizeof rep.title, "crossdev diff of %d traces (reference: %s)", n, argv[optind]);
    rep.runs = calloc((size_t)n, sizeof *rep.runs);
    if (!rep.runs) return EXIT_USAGE;
    rep.nruns = (size_t)n;
    rc = diff_open(&rep, argv + optind);
    if (rc == 0) rc = finish_report(&rep, &ro);
    xd_report_free(&rep);
    free(rep.runs);
    return rc;
}
