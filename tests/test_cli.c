/* The CLI as a user runs it: list (table, --json, --ids), --version, --help,
 * bad input, and no OpenCL at all (an empty vendors folder). */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#ifndef XD_EXPECT_MIN_DEVICES
#define XD_EXPECT_MIN_DEVICES 1
#endif

static const char *cli;

/* Runs "cli ARGS" through the shell; captures stdout+stderr, returns exit status. */
static int run(const char *env, const char *args, char *out, size_t cap)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s '%s' %s 2>&1", env ? env : "", cli, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
    xdt t = {.name = "test_cli"};
    if (argc != 2) {
        fprintf(stderr, "usage: test_cli PATH-TO-crossdev-compare\n");
        return 2;
    }
    cli = argv[1];
    static char out[1 << 20];

    int rc = run(NULL, "list --json", out, sizeof out);
    xdt_check(&t, rc == 0, "list --json exits %d: %s", rc, out);
    json_error_t jerr;
    json_t *root = json_loads(out, 0, &jerr);
    xdt_check(&t, root != NULL, "list --json parses: %s", jerr.text);
    json_t *devs = root ? json_object_get(root, "devices") : NULL;
    size_t n = json_array_size(devs);
    printf("list found %zu devices (expected at least %d)\n", n, XD_EXPECT_MIN_DEVICES);
    xdt_check(&t, n >= XD_EXPECT_MIN_DEVICES, "at least %d devices, found %zu", XD_EXPECT_MIN_DEVICES, n);
    static const char *const fields[] = {"id",
                                         "index",
                                         "platform",
                                         "platform_vendor",
                                         "platform_version",
                                         "name",
                                         "vendor",
                                         "driver",
                                         "opencl",
                                         "opencl_c",
                                         "type",
                                         "compute_units",
                                         "max_work_group_size",
                                         "local_mem_bytes",
                                         "global_mem_bytes",
                                         "fp",
                                         "reproducible"};
    static const char *const fp_fields[] = {
        "fp32_denorm", "fp32_fma", "fp32_correctly_rounded_div_sqrt", "fp64", "fp32_round_to_nearest", "fp32_inf_nan"};
    for (size_t i = 0; i < n; ++i) {
        json_t *d = json_array_get(devs, i);
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; ++f)
            xdt_check(&t, json_object_get(d, fields[f]) != NULL, "device %zu lacks '%s'", i, fields[f]);
        json_t *fp = json_object_get(d, "fp");
        for (size_t f = 0; f < sizeof fp_fields / sizeof fp_fields[0]; ++f)
            xdt_check(&t, json_is_boolean(json_object_get(fp, fp_fields[f])), "device %zu fp.%s not a boolean", i,
                      fp_fields[f]);
        const char *id = json_string_value(json_object_get(d, "id"));
        xdt_check(&t, id && strchr(id, '/') != NULL, "id '%s' is platform/device", id ? id : "(null)");
        for (size_t j = 0; j < i; ++j) {
            const char *other = json_string_value(json_object_get(json_array_get(devs, j), "id"));
            xdt_check(&t, !id || !other || strcmp(id, other) != 0, "duplicate id %s", id ? id : "");
        }
    }

    rc = run(NULL, "list", out, sizeof out);
    xdt_check(&t, rc == 0 && strstr(out, "device(s)"), "list table: %s", out);
    if (XD_EXPECT_MIN_DEVICES >= 3) {
        xdt_check(&t, strstr(out, "pocl/pthread") && strstr(out, "pocl/basic") && strstr(out, "oclgrind/"),
                  "table lists PoCL pthread, PoCL basic and Oclgrind");
    }
    if (XD_EXPECT_MIN_DEVICES >= 4)
        xdt_check(&t, strstr(out, "intel-opencl/") != NULL, "table lists Intel's OpenCL CPU runtime (tools/setup)");

    /* list --probe: every device's self-test in its own process.  One that
     * crashes (XD_FAULT=abort:ID) costs only its row: the others are listed
     * with their results, and the exit status says a device failed. */
    rc = run(NULL, "list --probe", out, sizeof out);
    xdt_check(&t, rc == 0 && strstr(out, "pass") && !strstr(out, "FAIL") && !strstr(out, "crashed"),
              "list --probe passes on every device: %d %s", rc, out);
    if (n >= 2) {
        const char *victim = json_string_value(json_object_get(json_array_get(devs, 0), "id"));
        char env[512], line[512];
        snprintf(env, sizeof env, "XD_FAULT='abort:%s'", victim ? victim : "?");
        rc = run(env, "list --probe", out, sizeof out);
        size_t rows = 0;
        for (const char *p = out; (p = strstr(p, " pass\n")) != NULL; ++p) ++rows;
        snprintf(line, sizeof line, "%s: the driver crashed during the self-test (signal 6)", victim ? victim : "?");
        xdt_check(&t, rc == 1 && strstr(out, "crashed") && strstr(out, line) && rows == n - 1,
                  "a crashing self-test costs one row (%zu of %zu others pass), exit %d: %s", rows, n - 1, rc, out);
        rc = run("XD_PROBE_PLANT=reassoc", "list --probe", out, sizeof out);
        xdt_check(&t,
                  rc == 1 && strstr(out, "FAIL") && strstr(out, "reorders floating-point additions") &&
                      !strstr(out, " pass\n"),
                  "a reordering compiler FAILs the probe on every device: %d %s", rc, out);
    }
    json_decref(root);

    rc = run(NULL, "--version", out, sizeof out);
    xdt_check(&t, rc == 0 && strstr(out, xd_version_string()), "--version: %s", out);
    rc = run(NULL, "--help", out, sizeof out);
    xdt_check(&t, rc == 0 && strstr(out, "list"), "--help");

    /* Bad input: clear message, exit 2. */
    rc = run(NULL, "frobnicate", out, sizeof out);
    xdt_check(&t, rc == 2 && strstr(out, "unknown command 'frobnicate'"), "unknown command: %d %s", rc, out);
    rc = run(NULL, "list --bogus", out, sizeof out);
    xdt_check(&t, rc == 2 && strstr(out, "unknown option '--bogus'"), "unknown option: %d %s", rc, out);
    xdt_check(&t, !strstr(out, "unrecognized") && strchr(out, '\n') == out + strlen(out) - 1,
              "unknown option: one message, ours, not getopt's too: %s", out);
    rc = run(NULL, "list --json --ids", out, sizeof out);
    xdt_check(&t, rc == 2 && strstr(out, "--json and --ids exclude each other"), "list --json --ids refused: %d %s", rc,
              out);
    rc = run(NULL, "compare --help", out, sizeof out);
    xdt_check(&t, rc == 0 && strstr(out, "default command"), "compare --help names the default command");
    xdt_check(&t,
              strstr(out, "the run with the most steps") && strstr(out, "first in --devices") &&
                  strstr(out, "--slow SUBSTR") && strstr(out, "case-insensitive substring") && !strstr(out, "REGEX"),
              "compare --help: the reference is the longest run, first in --devices order; --slow a substring: %s",
              out);
    rc = run(NULL, "diff a b --json - --html -", out, sizeof out);
    xdt_check(&t, rc == 2 && strstr(out, "cannot both go to standard output"), "--json - --html - refused: %d %s", rc,
              out);
    rc = run(NULL, "compare --modes turbo", out, sizeof out);
    xdt_check(&t, rc == 2 && strstr(out, "--modes"), "bad --modes named: %d %s", rc, out);
    rc = run(NULL, "compare --devices amd-nonexistent", out, sizeof out);
    xdt_check(&t, rc == 2 && strstr(out, "matches no device"), "unknown device named: %d %s", rc, out);
    rc = run(NULL, "diff", out, sizeof out);
    xdt_check(&t, rc == 2 && strstr(out, "at least two traces"), "diff without traces: %d", rc);

    /* No OpenCL at all: an empty vendors folder. */
    char dir[] = "/tmp/xd-empty-vendors-XXXXXX";
    if (xdt_check(&t, mkdtemp(dir) != NULL, "mkdtemp")) {
        char env[256];
        snprintf(env, sizeof env, "OCL_ICD_VENDORS='%s'", dir);
        rc = run(env, "list", out, sizeof out);
        xdt_check(&t, rc == 2 && strstr(out, "no OpenCL device found"), "no OpenCL: exit %d: %s", rc, out);
        rc = run(env, "list --json", out, sizeof out);
        xdt_check(&t, rc == 2, "no OpenCL, --json: exit %d", rc);
        rc = run(env, "", out, sizeof out);
        xdt_check(&t, rc == 2 && strstr(out, "no OpenCL device found"), "default command without OpenCL: %d %s", rc,
                  out);
        rmdir(dir);
    }
    printf("test_cli: %d passed, %d failed\n", t.passed, t.failed);
    return t.failed ? 1 : 0;
}
