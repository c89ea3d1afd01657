/* list: the OpenCL devices found, as a table for people, JSON for
 * machines or bare ids for scripts; --probe adds each one's self-test. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct list_opts {
    int json, ids, probe;
} list_opts;

static void usage_list(void)
{
    printf("usage: %s list [--json | --ids] [--probe]\n"
           "The OpenCL devices found, with the id and P:D index a selector takes.\n"
           "  --json   one JSON document: {\"devices\": [...]} with every property\n"
           "  --ids    one device id per line (for scripts)\n"
           "  --probe  also run the self-test on each device, each in its own process: the\n"
           "           reproducible math and the loop shapes of the kernels, compared bitwise\n"
           "           with the host (pass; FAIL: the compiler changes the arithmetic, the device\n"
           "           is refused; refused: a missing capability; crashed/timeout/error)\n"
           "exit status: 0, or 1 when --probe found a device that FAILs, crashed or hung\n",
           prog);
}

static int list_option(int c, void *user, char **argv)
{
    list_opts *o = user;
    switch (c) {
    case 'j': o->json = 1; return 1;
    case 'i': o->ids = 1; return 1;
    case 'p': o->probe = 1; return 1;
    default:
        fprintf(stderr, "%s list: unknown option '%s'; see '%s list --help'\n", prog, argv[optind - 1], prog);
        return 0;
    }
}

/* Our own message for a bad option, never getopt's as well (parse_options). */
static int list_options(int argc, char **argv, list_opts *o)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"ids", no_argument, NULL, 'i'},
                                         {"probe", no_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int rc = parse_options(argc, argv, opts, list_option, o, usage_list);
    if (rc != CLI_GO_ON) return rc;
    if (optind < argc) {
        fprintf(stderr, "%s list: unexpected argument '%s'\n", prog, argv[optind]);
        return EXIT_USAGE;
    }
    if (o->json && o->ids) {
        fprintf(stderr, "%s list: --json and --ids exclude each other: give one\n", prog);
        return EXIT_USAGE;
    }
    return CLI_GO_ON;
}

static void no_devices(int json)
{
    fprintf(stderr,
            "%s: no OpenCL device found (OCL_ICD_VENDORS=%s). Install a driver (tools/setup installs "
            "PoCL and Oclgrind) or point OCL_ICD_VENDORS at a folder of .icd files.\n",
            prog, getenv("OCL_ICD_VENDORS") ? getenv("OCL_ICD_VENDORS") : "(unset)");
    if (json) printf("{\"devices\": []}\n");
}

/* Each device's self-test, each in its own process: 1 when one FAILed,
 * crashed or hung (refused is an answer, not a failure). */
static int probe_all(const xd_device_list *list, const char **result)
{
    int rc = 0;
    for (size_t i = 0; i < xd_device_list_count(list); ++i) {
        char msg[2048];
        result[i] = probe_isolated(xd_device_list_get(list, i), 300, msg, sizeof msg);
        if (msg[0]) fprintf(stderr, "%s: probe: %s\n", prog, msg);
        if (strcmp(result[i], "pass") != 0 && strcmp(result[i], "refused") != 0) rc = 1;
    }
    return rc;
}

static void print_ids(const xd_device_list *list)
{
    for (size_t i = 0; i < xd_device_list_count(list); ++i) printf("%s\n", xd_device_list_get(list, i)->id);
}

/* Each device's own JSON (the library's), plus "probe" when asked. */
static void print_json(const xd_device_list *list, int probe, const char **result)
{
    json_t *root = json_object(), *arr = json_array();
    for (size_t i = 0; i < xd_device_list_count(list); ++i) {
        char *text = xd_device_info_json(xd_device_list_get(list, i));
        json_t *o = text ? json_loads(text, 0, NULL) : NULL;
        xd_free(text);
        if (o && probe) json_object_set_new(o, "probe", json_string(result && result[i] ? result[i] : "error"));
        if (o) json_array_append_new(arr, o);
    }
    json_object_set_new(root, "crossdev_version", json_string(xd_version_string()));
    json_object_set_new(root, "devices", arr);
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) printf("%s\n", s);
    free(s);
    json_decref(root);
}

static const char *yn(xd_cap c) { return c == XD_CAP_YES ? "yes" : c == XD_CAP_NO ? "no" : "?"; }

static void human_bytes(uint64_t b, char *out, size_t cap)
{
    if (b >= (UINT64_C(1) << 30)) snprintf(out, cap, "%.1f GiB", (double)b / (1 << 30));
    else if (b >= (UINT64_C(1) << 20)) snprintf(out, cap, "%.1f MiB", (double)b / (1 << 20));
    else snprintf(out, cap, "%.0f KiB", (double)b / 1024);
}

/* The driver column as wide as the longest driver string: never cut
 * (build strings such as 2022.14.10.0.20_160000.xmain-hotfix tell versions
 * apart). */
static int driver_width(const xd_device_list *list)
{
    int w = 6;
    for (size_t i = 0; i < xd_device_list_count(list); ++i) {
        int n = (int)strlen(xd_device_list_get(list, i)->driver_version);
        if (n > w) w = n;
    }
    return w;
}

static void print_row(const xd_device_info *d, int dw, const char *probe_result)
{
    char idx[16], local[32];
    snprintf(idx, sizeof idx, "%u:%u", d->platform_index, d->device_index);
    human_bytes(d->local_mem_size, local, sizeof local);
    int ok = xd_device_check_reproducible(d, NULL) == XD_OK;
    printf("%-5s %-52s %-*s %-5u %-4s %-4s %-7s %-5s %-4llu %-9s %-13s %s\n", idx, d->id, dw, d->driver_version,
           d->compute_units, yn(d->fp32_denorm), yn(d->fp32_fma), yn(d->fp32_correctly_rounded_div_sqrt), yn(d->fp64),
           (unsigned long long)d->max_work_group_size, local, ok ? "yes" : "REFUSED", probe_result);
}

/* One row per device, then each platform once. */
static void print_table(const xd_device_list *list, int probe, const char **result)
{
    size_t n = xd_device_list_count(list);
    const int dw = driver_width(list);
    printf("%-5s %-52s %-*s %-5s %-4s %-4s %-7s %-5s %-4s %-9s %s\n", "P:D", "id", dw, "driver", "CUs", "dnrm", "fma",
           "cr-div", "fp64", "wg", "local", probe ? "reproducible  probe" : "reproducible");
    for (size_t i = 0; i < n; ++i) print_row(xd_device_list_get(list, i), dw, result && result[i] ? result[i] : "");
    printf(
        "\nColumns: P:D, the index pair a selector takes; CUs, compute units; dnrm, fp32 denormals;\n"
        "fma, fp32 fused multiply-add in hardware; cr-div, correctly rounded fp32 divide and sqrt;\n"
        "fp64, double precision; wg, largest work-group; local, local memory; reproducible, whether\n"
        "reproducible mode accepts the device's capabilities (without cr-div it divides through fp64).\n"
        "%s\n",
        probe
            ? "probe: the self-test, each device in its own process: crossdev's reproducible math (exp, log,\n"
              "division, sqrt, Philox) and the summation loops of its kernels run on the device and are\n"
              "compared bit for bit with the host; a device whose compiler changes the arithmetic is refused."
            : "'list --probe' also runs each device's self-test (the arithmetic compared bit for bit with the host).");
    printf("\n%zu device(s). Platforms:\n", n);
    const char *last = NULL;
    for (size_t i = 0; i < n; ++i) {
        const xd_device_info *d = xd_device_list_get(list, i);
        if (last && strcmp(last, d->platform_version) == 0) continue;
        last = d->platform_version;
        printf("  %u: %s — %s\n", d->platform_index, d->platform_name, d->platform_version);
    }
    if (!getenv("XD_DRIVER_PACKAGE")) drivers_print_added(stdout);
}

int cmd_list(int argc, char **argv)
{
    list_opts o = {0, 0, 0};
    int rc = list_options(argc, argv, &o);
    if (rc != CLI_GO_ON) return rc;
    xd_device_list *list = load_devices();
    if (!list) return EXIT_USAGE;
    size_t n = xd_device_list_count(list);
    if (n == 0) {
        no_devices(o.json);
        xd_device_list_destroy(list);
        return EXIT_USAGE;
    }
    const char **result = calloc(n, sizeof *result);
    rc = o.probe && result ? probe_all(list, result) : 0;
    if (o.ids) print_ids(list);
    else if (o.json) print_json(list, o.probe, result);
    else print_table(list, o.probe, result);
    free(result);
    fflush(stdout); /* before any driver's teardown */
    xd_device_list_destroy(list);
    return rc;
}
