/* list --probe: the self-test of each device runs in a child process (the
 * internal subcommand __probe), so a driver that crashes or hangs costs
 * only its own row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* "STATUS message" on one line: the message's own lines (a build log's)
 * joined with " | ", so that the parent reads all of it. */
static void print_one_line(const char *status, const char *message)
{
    printf("%s ", status);
    for (const char *c = message; *c; ++c) {
        if (*c == '\n') {
            if (c[1]) fputs(" | ", stdout);
        } else {
            putchar(*c);
        }
    }
    putchar('\n');
}

/* A build that failed: the first line of its log that says "error", into
 * out ("" when the log has none). */
static void first_build_error(const char *line, char *out, size_t cap)
{
    const char *log = strstr(line, "build log:"), *e = log ? strstr(log, "error") : NULL;
    out[0] = '\0';
    if (!e) return;
    const char *start = log + strlen("build log:");
    while (e > start && e[-1] != '|') --e; /* the start of its line */
    while (*e == ' ') ++e;
    snprintf(out, cap, "%.*s", (int)strcspn(e, "|"), e);
}

/* __probe P:D: creates a reproducible-mode context on device P:D (which
 * runs the self-test) and prints one line, "pass" or "<STATUS> <message>".
 * Output is flushed before the context is destroyed: a driver that aborts
 * at teardown cannot lose the result. */
int cmd_probe_one(int argc, char **argv)
{
    if (argc != 2) return EXIT_USAGE;
    xd_device_list *list = load_devices();
    if (!list) return EXIT_USAGE;
    size_t n = xd_device_list_count(list), *idx = calloc(n ? n : 1, sizeof *idx), cnt = 0;
    xd_error err;
    int rc = EXIT_USAGE;
    if (idx && xd_device_select(list, argv[1], idx, &cnt, &err) == XD_OK && cnt == 1) {
        rc = 0;
        if (injected_fault(xd_device_list_get(list, idx[0]))) {
            printf("XD_OPENCL injected failure (XD_FAULT)\n");
        } else {
            xd_context *ctx = NULL;
            xd_status st = xd_context_create(xd_device_list_get(list, idx[0]), XD_MODE_REPRODUCIBLE, &ctx);
            if (st == XD_OK) printf("pass\n");
            else print_one_line(xd_status_name(st), xd_context_last_error(ctx));
            fflush(stdout);
            xd_context_destroy(ctx);
        }
    } else {
        printf("XD_NO_DEVICE %s\n", err.message);
    }
    free(idx);
    xd_device_list_destroy(list);
    return rc;
}

/* The column text for the child's answer; msg gets the reason of anything
 * but a pass. */
static const char *probe_verdict(const xd_device_info *d, const char *line, const proc_result *r, int timed_out,
                                 int timeout_s, char *msg, size_t cap)
{
    if (strcmp(line, "pass") == 0) return "pass";
    if (strstr(line, "CL_BUILD_PROGRAM_FAILURE")) { /* the device cannot compile crossdev: refused, saying why */
        char first[512];
        first_build_error(line, first, sizeof first);
        snprintf(msg, cap, "%s cannot compile crossdev's kernels: %s", d->id,
                 first[0] ? first : "CL_BUILD_PROGRAM_FAILURE (its build log says nothing)");
        return "refused";
    }
    if (timed_out) snprintf(msg, cap, "%s: the self-test did not finish within %d s", d->id, timeout_s);
    else if (!line[0] && r->term_signal)
        snprintf(msg, cap, "%s: the driver crashed during the self-test (signal %d)", d->id, r->term_signal);
    else if (!line[0]) snprintf(msg, cap, "%s: the self-test exited with status %d", d->id, r->exit_status);
    else snprintf(msg, cap, "%s", strchr(line, ' ') ? strchr(line, ' ') + 1 : line);
    if (timed_out) return "timeout";
    if (!line[0]) return "crashed";
    if (strncmp(line, "XD_SELF_TEST_FAILED ", 20) == 0) return "FAIL";
    if (strncmp(line, "XD_UNSUPPORTED ", 15) == 0) return "refused";
    return "error";
}

const char *probe_isolated(const xd_device_info *d, int timeout_s, char *msg, size_t cap)
{
    char pd[32], line[2048];
    snprintf(pd, sizeof pd, "%u:%u", d->platform_index, d->device_index);
    msg[0] = '\0';
    const char *const args[] = {prog, "__probe", pd, NULL};
    proc_result r = {0, 0};
    int timed_out = 0;
    if (proc_capture(args, timeout_s, line, sizeof line, &r, &timed_out, msg, cap) != 0) return "error";
    line[strcspn(line, "\n")] = '\0';
    return probe_verdict(d, line, &r, timed_out, timeout_s, msg, cap);
}
