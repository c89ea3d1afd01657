/* crossdev-compare: the command-line face of libcrossdev.  It parses
 * arguments, calls the library and prints; all the work is in host/. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crossdev/crossdev.h"

#define EXIT_USAGE 2

static const char *prog = "crossdev-compare";

static void usage_main(FILE *out)
{
    fprintf(out,
            "usage: %s [--version] [--help] <command> [options]\n"
            "\n"
            "Runs the same seeded training on several OpenCL devices and reports where\n"
            "their numbers part.\n"
            "\n"
            "commands:\n"
            "  list       the OpenCL devices found, with ids and fp capabilities\n"
            "\n"
            "Device selectors: 'all', 'P:D' (platform and device index) or a\n"
            "case-insensitive substring of the id; several separated by commas.\n"
            "\n"
            "Environment: OCL_ICD_VENDORS (defaults to crossdev's vendors folder, which\n"
            "adds Oclgrind), POCL_DEVICES (defaults to \"%s\").\n"
            "\n"
            "exit status: 0 success, 1 differences beyond tolerance, 2 usage or run errors.\n",
            prog, XD_DEFAULT_POCL_DEVICES);
}

/* Make every device reachable without the user editing /etc: the build's
 * (or the installed) vendors folder holds the system ICDs plus Oclgrind.
 * An environment the user set wins. */
static void default_environment(void)
{
    struct stat sb;
    if (!getenv("OCL_ICD_VENDORS")) {
        if (stat(XD_DEFAULT_VENDORS_DIR, &sb) == 0 && S_ISDIR(sb.st_mode))
            setenv("OCL_ICD_VENDORS", XD_DEFAULT_VENDORS_DIR, 0);
        else if (stat(XD_INSTALLED_VENDORS_DIR, &sb) == 0 && S_ISDIR(sb.st_mode))
            setenv("OCL_ICD_VENDORS", XD_INSTALLED_VENDORS_DIR, 0);
    }
    if (!getenv("POCL_DEVICES")) setenv("POCL_DEVICES", XD_DEFAULT_POCL_DEVICES, 0);
}

static xd_device_list *load_devices(void)
{
    char err[512] = "";
    xd_device_list *list = NULL;
    xd_status st = xd_device_list_create(&list, err, sizeof err);
    if (st != XD_OK) {
        fprintf(stderr, "%s: listing OpenCL devices failed: %s\n", prog, err);
        return NULL;
    }
    return list;
}

static const char *yn(xd_cap c) { return c == XD_CAP_YES ? "yes" : c == XD_CAP_NO ? "no" : "?"; }

static void human_bytes(uint64_t b, char *out, size_t cap)
{
    if (b >= (UINT64_C(1) << 30)) snprintf(out, cap, "%.1f GiB", (double)b / (1 << 30));
    else if (b >= (UINT64_C(1) << 20)) snprintf(out, cap, "%.1f MiB", (double)b / (1 << 20));
    else snprintf(out, cap, "%.0f KiB", (double)b / 1024);
}

/* ---- list ---------------------------------------------------------------------- */
static int cmd_list(int argc, char **argv)
{
    int json = 0, ids = 0, probe = 0;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"ids", no_argument, NULL, 'i'},
                                         {"probe", no_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'i': ids = 1; break;
        case 'p': probe = 1; break;
        case 'h':
            printf("usage: %s list [--json | --ids] [--probe]\n"
                   "  --json   one JSON document: {\"devices\": [...]} with every property\n"
                   "  --ids    one device id per line (for scripts)\n"
                   "  --probe  also run the reproducible-math self-test on each device\n",
                   prog);
            return 0;
        default:
            fprintf(stderr, "%s list: unknown option; see '%s list --help'\n", prog, prog);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s list: unexpected argument '%s'\n", prog, argv[optind]);
        return EXIT_USAGE;
    }
    xd_device_list *list = load_devices();
    if (!list) return EXIT_USAGE;
    size_t n = xd_device_list_count(list);
    if (n == 0) {
        fprintf(stderr,
                "%s: no OpenCL device found (OCL_ICD_VENDORS=%s). Install a driver (tools/setup installs "
                "PoCL and Oclgrind) or point OCL_ICD_VENDORS at a folder of .icd files.\n",
                prog, getenv("OCL_ICD_VENDORS") ? getenv("OCL_ICD_VENDORS") : "(unset)");
        if (json) printf("{\"devices\": []}\n");
        xd_device_list_destroy(list);
        return EXIT_USAGE;
    }
    const char **probe_result = calloc(n, sizeof *probe_result);
    if (probe && probe_result) {
        for (size_t i = 0; i < n; ++i) {
            xd_context *ctx = NULL;
            size_t bad = 0;
            xd_status st = xd_context_create(xd_device_list_get(list, i), XD_MODE_REPRODUCIBLE, &ctx);
            if (st == XD_OK) st = xd_context_probe(ctx, &bad);
            probe_result[i] = st == XD_OK ? "pass" : st == XD_MISMATCH ? "FAIL" : "error";
            if (st != XD_OK) fprintf(stderr, "%s: probe: %s\n", prog, xd_context_last_error(ctx));
            xd_context_destroy(ctx);
        }
    }
    if (ids) {
        for (size_t i = 0; i < n; ++i) printf("%s\n", xd_device_list_get(list, i)->id);
    } else if (json) {
        json_t *root = json_object(), *arr = json_array();
        for (size_t i = 0; i < n; ++i) {
            char *text = xd_device_info_json(xd_device_list_get(list, i));
            json_t *o = text ? json_loads(text, 0, NULL) : NULL;
            xd_free(text);
            if (o && probe) json_object_set_new(o, "probe", json_string(probe_result[i] ? probe_result[i] : "error"));
            if (o) json_array_append_new(arr, o);
        }
        json_object_set_new(root, "crossdev_version", json_string(xd_version_string()));
        json_object_set_new(root, "devices", arr);
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s) printf("%s\n", s);
        free(s);
        json_decref(root);
    } else {
        printf("%-5s %-52s %-26s %-5s %-4s %-4s %-7s %-5s %-4s %-9s %s\n", "P:D", "id", "driver", "CUs", "dnrm",
               "fma", "cr-div", "fp64", "wg", "local", probe ? "reproducible  probe" : "reproducible");
        for (size_t i = 0; i < n; ++i) {
            const xd_device_info *d = xd_device_list_get(list, i);
            char idx[16], local[32];
            snprintf(idx, sizeof idx, "%u:%u", d->platform_index, d->device_index);
            human_bytes(d->local_mem_size, local, sizeof local);
            char why[256];
            int ok = xd_device_check_reproducible(d, why, sizeof why) == XD_OK;
            printf("%-5s %-52s %-26.26s %-5u %-4s %-4s %-7s %-5s %-4llu %-9s %-13s %s\n", idx, d->id,
                   d->driver_version, d->compute_units, yn(d->fp32_denorm), yn(d->fp32_fma),
                   yn(d->fp32_correctly_rounded_div_sqrt), yn(d->fp64), (unsigned long long)d->max_work_group_size,
                   local, ok ? "yes" : "REFUSED", probe && probe_result[i] ? probe_result[i] : "");
        }
        printf("\n%zu device(s). Platforms:\n", n);
        const char *last = NULL;
        for (size_t i = 0; i < n; ++i) {
            const xd_device_info *d = xd_device_list_get(list, i);
            if (last && strcmp(last, d->platform_version) == 0) continue;
            last = d->platform_version;
            printf("  %u: %s — %s\n", d->platform_index, d->platform_name, d->platform_version);
        }
    }
    free(probe_result);
    xd_device_list_destroy(list);
    return 0;
}

int main(int argc, char **argv)
{
    default_environment();
    if (argc < 2) {
        usage_main(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("crossdev-compare %s\n", xd_version_string());
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage_main(stdout);
        return 0;
    }
    if (strcmp(cmd, "list") == 0) return cmd_list(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'; see '%s --help'\n", prog, cmd, prog);
    return EXIT_USAGE;
}
