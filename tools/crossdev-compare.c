/* crossdev-compare: the command-line face of libcrossdev.  It parses
 * arguments, calls the library and prints; all the work is in host/. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
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
            "  run        one seeded training on one device, written as a trace\n"
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


/* ---- shared option parsing ------------------------------------------------------ */
/* Strict integer: the whole string, in [lo, hi]; the message names the option. */
static int parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno == ERANGE) {
        fprintf(stderr, "%s: %s: '%s' is not a number\n", prog, opt, s);
        return 0;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "%s: %s: %lld is outside %lld..%lld\n", prog, opt, v, (long long)lo, (long long)hi);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_f64(const char *opt, const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno == ERANGE || !(v > 0) || v > 1e30) {
        fprintf(stderr, "%s: %s: '%s' is not a positive number\n", prog, opt, s);
        return 0;
    }
    *out = v;
    return 1;
}

/* "1,2,3,5" -> sorted list (malloc'ed) */
static int parse_list(const char *opt, const char *s, int64_t **out, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; ++p) cap += *p == ',';
    int64_t *v = calloc(cap, sizeof *v);
    char *copy = strdup(s);
    if (!v || !copy) {
        free(v);
        free(copy);
        return 0;
    }
    size_t k = 0;
    for (char *tok = copy, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = '\0';
        if (!parse_i64(opt, tok, 0, INT64_C(1) << 40, &v[k++])) {
            free(v);
            free(copy);
            return 0;
        }
    }
    free(copy);
    *out = v;
    *n = k;
    return 1;
}

static volatile sig_atomic_t g_stop = 0;
static int g_signal = 0;
static void on_signal(int sig)
{
    g_stop = 1;
    g_signal = sig;
}

static void progress(void *user, int64_t step, int64_t steps, float loss, double seconds)
{
    (void)user;
    if (step % 25 != 0 && step != steps) return;
    fprintf(stderr, "\r  step %lld/%lld  loss %.4f  %.1f steps/s   ", (long long)step, (long long)steps, (double)loss,
            seconds > 0 ? (double)step / seconds : 0.0);
    if (step == steps) fputc('\n', stderr);
}

/* Loads --data DIR (or Fashion-MNIST), or the labelled synthetic set. */
static xd_dataset *load_data(const char *dir, int synthetic, uint64_t seed, int quiet)
{
    xd_dataset *d = NULL;
    char err[1024] = "";
    if (synthetic) {
        if (xd_dataset_synthetic(seed, 6000, 1000, &d) != XD_OK) fprintf(stderr, "%s: cannot make synthetic data\n", prog);
        else if (!quiet) fprintf(stderr, "%s: using a SEEDED SYNTHETIC dataset (not real data)\n", prog);
        return d;
    }
    const char *path = dir ? dir : XD_FASHION_MNIST_DIR;
    struct stat sb;
    if (!dir && stat(path, &sb) != 0) {
        fprintf(stderr,
                "%s: %s not found (install dataset-fashion-mnist); using a SEEDED SYNTHETIC dataset instead — "
                "results are NOT from real data\n",
                prog, path);
        if (xd_dataset_synthetic(seed, 6000, 1000, &d) != XD_OK) fprintf(stderr, "%s: cannot make synthetic data\n", prog);
        return d;
    }
    if (xd_dataset_load_idx(path, &d, err, sizeof err) != XD_OK) {
        fprintf(stderr, "%s: data: %s\n", prog, err);
        return NULL;
    }
    return d;
}

/* Resolves a selector to exactly one device. */
static const xd_device_info *pick_one(xd_device_list *list, const char *sel)
{
    size_t n = xd_device_list_count(list);
    size_t *idx = calloc(n ? n : 1, sizeof *idx), cnt = 0;
    char err[2048];
    const xd_device_info *d = NULL;
    if (!idx) return NULL;
    if (xd_device_select(list, sel, idx, &cnt, err, sizeof err) != XD_OK) {
        fprintf(stderr, "%s: --device: %s\n", prog, err);
    } else if (cnt != 1) {
        fprintf(stderr, "%s: --device '%s' matches %zu devices; pick one (e.g. by P:D):", prog, sel, cnt);
        for (size_t i = 0; i < cnt; ++i) fprintf(stderr, " %s", xd_device_list_get(list, idx[i])->id);
        fputc('\n', stderr);
    } else {
        d = xd_device_list_get(list, idx[0]);
    }
    free(idx);
    return d;
}

/* ---- run -------------------------------------------------------------------------- */
static void usage_run(FILE *out)
{
    fprintf(out,
            "usage: %s run --device SEL --out TRACE [options]\n"
            "  --device SEL          one device (see 'list'); required\n"
            "  --out DIR             trace directory to create (must not exist); required\n"
            "  --mode M              reproducible (default) or fast\n"
            "  --seed S              0..2^63-1 (default 42)\n"
            "  --steps N | --epochs E  training length (default: 1 epoch)\n"
            "  --batch B             batch size (default 32; the final partial batch is dropped)\n"
            "  --lr X                Adam learning rate (default 0.001)\n"
            "  --data DIR            MNIST-format IDX files (default %s)\n"
            "  --synthetic           a seeded synthetic dataset, labelled as such everywhere\n"
            "  --snapshot-every K    also snapshot every K steps\n"
            "  --snapshot-at LIST    snapshot exactly at these steps (plus 0 and the end)\n"
            "  --resume TRACE        continue TRACE from its last snapshot to --steps\n"
            "  --hash-ops            hash every op's output at every step\n"
            "  --eval-every K        evaluate on the test set every K steps (always at the end)\n"
            "  --eval-limit N        evaluate on the first N test samples only; 0: no evaluation\n"
            "  --keep-going          record a NaN/Inf and keep training (default: stop there)\n"
            "exit status: 0 trained, 1 a NaN/Inf appeared (recorded), 2 usage or run error,\n"
            "130/143 interrupted (no trace left behind)\n",
            prog, XD_FASHION_MNIST_DIR);
}

static int cmd_run(int argc, char **argv)
{
    xd_train_config cfg = xd_train_defaults();
    const char *sel = NULL, *data_dir = NULL;
    int synthetic = 0, quiet = 0;
    xd_mode mode = XD_MODE_REPRODUCIBLE;
    int64_t *snap_list = NULL, v;
    size_t nsnap = 0;
    static const struct option opts[] = {
        {"device", required_argument, NULL, 'd'},    {"out", required_argument, NULL, 'o'},
        {"mode", required_argument, NULL, 'm'},      {"seed", required_argument, NULL, 's'},
        {"steps", required_argument, NULL, 'n'},     {"epochs", required_argument, NULL, 'e'},
        {"batch", required_argument, NULL, 'b'},     {"lr", required_argument, NULL, 'l'},
        {"data", required_argument, NULL, 'D'},      {"synthetic", no_argument, NULL, 'S'},
        {"snapshot-every", required_argument, NULL, 'k'}, {"snapshot-at", required_argument, NULL, 'a'},
        {"resume", required_argument, NULL, 'r'},    {"hash-ops", no_argument, NULL, 'H'},
        {"eval-every", required_argument, NULL, 'E'}, {"keep-going", no_argument, NULL, 'K'},
        {"quiet", no_argument, NULL, 'q'},           {"help", no_argument, NULL, 'h'},
        {"eval-limit", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0}};
    int c, ok = 1;
    optind = 1;
    opterr = 0;
    while (ok && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'd': sel = optarg; break;
        case 'o': cfg.out_dir = optarg; break;
        case 'm':
            if (xd_mode_parse(optarg, &mode) != XD_OK) {
                fprintf(stderr, "%s: --mode: '%s' is not reproducible or fast\n", prog, optarg);
                ok = 0;
            }
            break;
        case 's':
            ok = parse_i64("--seed", optarg, 0, INT64_MAX, &v);
            cfg.seed = (uint64_t)v;
            break;
        case 'n': ok = parse_i64("--steps", optarg, 1, INT64_C(1) << 31, &cfg.steps); break;
        case 'e': ok = parse_i64("--epochs", optarg, 1, 100000, &cfg.epochs); break;
        case 'b': ok = parse_i64("--batch", optarg, 1, 1 << 20, &cfg.batch); break;
        case 'l': ok = parse_f64("--lr", optarg, &cfg.adam.lr); break;
        case 'D': data_dir = optarg; break;
        case 'S': synthetic = 1; break;
        case 'k': ok = parse_i64("--snapshot-every", optarg, 1, INT64_C(1) << 31, &cfg.snapshot_every); break;
        case 'a': ok = parse_list("--snapshot-at", optarg, &snap_list, &nsnap); break;
        case 'r': cfg.resume = optarg; break;
        case 'H': cfg.hash_ops = 1; break;
        case 'E': ok = parse_i64("--eval-every", optarg, 1, INT64_C(1) << 31, &cfg.eval_every); break;
        case 'K': cfg.stop_on_nonfinite = 0; break;
        case 'L':
            ok = parse_i64("--eval-limit", optarg, 0, INT64_C(1) << 40, &cfg.eval_limit);
            if (ok && cfg.eval_limit == 0) cfg.eval_limit = -1;
            break;
        case 'q': quiet = 1; break;
        case 'h': usage_run(stdout); free(snap_list); return 0;
        case ':': fprintf(stderr, "%s run: option '%s' needs a value\n", prog, argv[optind - 1]); ok = 0; break;
        default: fprintf(stderr, "%s run: unknown option '%s'; see '%s run --help'\n", prog, argv[optind - 1], prog); ok = 0;
        }
    }
    if (ok && optind < argc) {
        fprintf(stderr, "%s run: unexpected argument '%s'\n", prog, argv[optind]);
        ok = 0;
    }
    if (ok && !sel) {
        fprintf(stderr, "%s run: --device is required\n", prog);
        ok = 0;
    }
    if (ok && !cfg.out_dir) {
        fprintf(stderr, "%s run: --out is required\n", prog);
        ok = 0;
    }
    if (ok && cfg.steps) cfg.epochs = 0;
    if (ok && synthetic && data_dir) {
        fprintf(stderr, "%s run: --data and --synthetic exclude each other\n", prog);
        ok = 0;
    }
    if (!ok) {
        free(snap_list);
        return EXIT_USAGE;
    }
    cfg.snapshot_at = snap_list;
    cfg.n_snapshot_at = nsnap;

    int rc = EXIT_USAGE;
    xd_dataset *data = NULL;
    xd_context *ctx = NULL;
    xd_device_list *list = load_devices();
    const xd_device_info *dev = list ? pick_one(list, sel) : NULL;
    if (!dev) goto out;
    data = load_data(data_dir, synthetic, cfg.seed, quiet);
    if (!data) goto out;
    xd_status st = xd_context_create(dev, mode, &ctx);
    if (st != XD_OK) {
        fprintf(stderr, "%s: %s mode on %s: %s\n", prog, xd_mode_string(mode), dev->id, xd_context_last_error(ctx));
        goto out;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cfg.stop = &g_stop;
    if (!quiet && isatty(STDERR_FILENO)) cfg.progress = progress;
    char err[2048] = "";
    xd_train_result res;
    st = xd_train_run(ctx, data, &cfg, &res, err, sizeof err);
    if (st == XD_OK || st == XD_NOT_FINITE) {
        if (!quiet)
            printf("%s: %lld steps on %s (%s, %s data), final loss %.6f, test accuracy %.4f, %.1f images/s "
                   "(steady), %.2f s total -> %s\n",
                   prog, (long long)res.steps_done, dev->id, xd_mode_string(mode), data->name, (double)res.final_loss,
                   res.test_accuracy, res.seconds_steps > 0 ? (double)(res.steps_done * cfg.batch) / res.seconds_steps : 0.0,
                   res.seconds_total, cfg.out_dir);
        if (st == XD_NOT_FINITE) fprintf(stderr, "%s: %s\n", prog, err);
        rc = st == XD_OK ? 0 : 1;
    } else if (st == XD_INTERRUPTED) {
        fprintf(stderr, "%s: %s\n", prog, err);
        rc = 128 + (g_signal ? g_signal : SIGINT);
    } else {
        fprintf(stderr, "%s: run failed: %s\n", prog, err);
    }
out:
    xd_context_destroy(ctx);
    xd_dataset_destroy(data);
    xd_device_list_destroy(list);
    free(snap_list);
    return rc;
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
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'; see '%s --help'\n", prog, cmd, prog);
    return EXIT_USAGE;
}
