/* crossdev-compare: the command-line face of libcrossdev.  It parses
 * arguments, calls the library and prints; all the work is in host/. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
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
            "  diff       compare traces (from any machine) against the first\n"
            "  compare    run on every selected device and mode, each in its own process,\n"
            "             then diff and report (the default command)\n"
            "\n"
            "Device selectors: 'all', 'P:D' (platform and device index) or a\n"
            "case-insensitive substring of the id; several separated by commas.\n"
            "\n"
            "Environment: OCL_ICD_VENDORS (defaults to crossdev's vendors folder, which\n"
            "adds Oclgrind), POCL_DEVICES (defaults to \"%s\").\n"
            "\n"
            "exit status: 0 all pairs within tolerance and reproducible pairs identical,\n"
            "1 some pair beyond tolerance or a reproducible pair not identical, 2 usage\n"
            "or run errors (a device that failed is reported, the others still compared).\n"
            "With no command, runs 'compare' with its defaults.\n",
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
    xd_error err;
    xd_device_list *list = NULL;
    xd_status st = xd_device_list_create(&list, &err);
    if (st != XD_OK) {
        fprintf(stderr, "%s: listing OpenCL devices failed: %s\n", prog, err.message);
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

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Test hook (docs/compare.md): XD_FAULT=abort:SUBSTR|hang:SUBSTR|exit:SUBSTR
 * makes a run or self-test on a device whose id contains SUBSTR crash, hang
 * or fail (returns 1 for "exit": the caller fails). */
static int injected_fault(const xd_device_info *dev)
{
    const char *fault = getenv("XD_FAULT");
    const char *colon = fault ? strchr(fault, ':') : NULL;
    if (!colon || !strstr(dev->id, colon + 1)) return 0;
    if (strncmp(fault, "abort:", 6) == 0) abort();
    if (strncmp(fault, "hang:", 5) == 0)
        for (;;) pause();
    if (strncmp(fault, "exit:", 5) != 0) return 0;
    fprintf(stderr, "%s: injected failure on %s (XD_FAULT)\n", prog, dev->id);
    return 1;
}

/* ---- list ---------------------------------------------------------------------- */
/* The internal subcommand behind `list --probe`: creates a reproducible-mode
 * context on device P:D (which runs the self-test) and prints one line,
 * "pass" or "<STATUS> <message>".  Output is flushed before the context is
 * destroyed: a driver that aborts at teardown cannot lose the result. */
static int cmd_probe_one(int argc, char **argv)
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
            else printf("%s %s\n", xd_status_name(st), xd_context_last_error(ctx));
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

/* Runs the self-test of device d in a child process (cmd_probe_one), so a
 * driver that crashes or hangs costs only its own row.  Returns the column
 * text; msg gets the reason of anything but a pass. */
static const char *probe_isolated(const xd_device_info *d, int timeout_s, char *msg, size_t cap)
{
    char pd[32];
    snprintf(pd, sizeof pd, "%u:%u", d->platform_index, d->device_index);
    msg[0] = '\0';
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(msg, cap, "pipe: %s", strerror(errno));
        return "error";
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        char *const args[] = {(char *)prog, "__probe", pd, NULL};
        execv("/proc/self/exe", args);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        snprintf(msg, cap, "fork: %s", strerror(errno));
        return "error";
    }
    char line[2048] = "";
    size_t len = 0;
    int status = 0, timed_out = 0;
    double deadline = wall() + timeout_s;
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    for (;;) {
        ssize_t r = read(fds[0], line + len, sizeof line - 1 - len);
        if (r > 0) len += (size_t)r;
        if (r == 0) break; /* the child closed its end */
        if (wall() > deadline) {
            kill(pid, SIGKILL);
            timed_out = 1;
            break;
        }
        if (r < 0) nanosleep(&(struct timespec){0, 20000000L}, NULL);
    }
    close(fds[0]);
    waitpid(pid, &status, 0);
    line[len] = '\0';
    line[strcspn(line, "\n")] = '\0';
    if (strcmp(line, "pass") == 0) return "pass";
    if (timed_out) snprintf(msg, cap, "%s: the self-test did not finish within %d s", d->id, timeout_s);
    else if (!line[0] && WIFSIGNALED(status))
        snprintf(msg, cap, "%s: the driver crashed during the self-test (signal %d)", d->id, WTERMSIG(status));
    else if (!line[0]) snprintf(msg, cap, "%s: the self-test exited with status %d", d->id, WEXITSTATUS(status));
    else snprintf(msg, cap, "%s", strchr(line, ' ') ? strchr(line, ' ') + 1 : line);
    if (timed_out) return "timeout";
    if (!line[0]) return "crashed";
    if (strncmp(line, "XD_SELF_TEST_FAILED ", 20) == 0) return "FAIL";
    if (strncmp(line, "XD_UNSUPPORTED ", 15) == 0) return "refused";
    return "error";
}

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
                   "  --probe  also run the self-test on each device, each in its own process: the\n"
                   "           reproducible math and the loop shapes of the kernels, compared bitwise\n"
                   "           with the host (pass; FAIL: the compiler changes the arithmetic, the device\n"
                   "           is refused; refused: a missing capability; crashed/timeout/error)\n"
                   "exit status: 0, or 1 when --probe found a device that FAILs, crashed or hung\n",
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
            char msg[2048];
            probe_result[i] = probe_isolated(xd_device_list_get(list, i), 300, msg, sizeof msg);
            if (msg[0]) fprintf(stderr, "%s: probe: %s\n", prog, msg);
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
            if (o && probe)
                json_object_set_new(o, "probe", json_string(probe_result && probe_result[i] ? probe_result[i] : "error"));
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
                   local, ok ? "yes" : "REFUSED", probe_result && probe_result[i] ? probe_result[i] : "");
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
    int rc = 0;
    for (size_t i = 0; probe && probe_result && i < n; ++i)
        if (strcmp(probe_result[i], "pass") != 0 && strcmp(probe_result[i], "refused") != 0) rc = 1;
    free(probe_result);
    fflush(stdout); /* before any driver's teardown */
    xd_device_list_destroy(list);
    return rc;
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

/* "1,2,3,5": steps for --snapshot-at, in the order given (malloc'ed).  Items
 * are not trimmed: parse_i64 takes the whole item, as ever. */
static int parse_list(const char *opt, const char *s, int64_t **out, size_t *n)
{
    size_t count = 0;
    char **items = xd_split_commas(s, 0, &count);
    int64_t *v = items ? calloc(count, sizeof *v) : NULL;
    int ok = v != NULL;
    for (size_t k = 0; ok && k < count; ++k) ok = parse_i64(opt, items[k], 0, INT64_C(1) << 40, &v[k]);
    free(items);
    if (!ok) {
        free(v);
        return 0;
    }
    *out = v;
    *n = count;
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
    xd_error err;
    const char *path = dir ? dir : XD_FASHION_MNIST_DIR;
    struct stat sb;
    int fallback = !synthetic && !dir && stat(path, &sb) != 0;
    if (synthetic || fallback) {
        /* the real data being absent is always said, even with --quiet */
        if (fallback)
            fprintf(stderr, "%s: %s not found (install dataset-fashion-mnist); using a SEEDED SYNTHETIC dataset "
                            "instead — results are NOT from real data\n", prog, path);
        if (xd_dataset_synthetic(seed, 6000, 1000, &d) != XD_OK) fprintf(stderr, "%s: cannot make synthetic data\n", prog);
        else if (!fallback && !quiet) fprintf(stderr, "%s: using a SEEDED SYNTHETIC dataset (not real data)\n", prog);
        return d;
    }
    if (xd_dataset_load_idx(path, &d, &err) != XD_OK) {
        fprintf(stderr, "%s: data: %s\n", prog, err.message);
        return NULL;
    }
    return d;
}

/* Resolves a selector to exactly one device. */
static const xd_device_info *pick_one(xd_device_list *list, const char *sel)
{
    size_t n = xd_device_list_count(list);
    size_t *idx = calloc(n ? n : 1, sizeof *idx), cnt = 0;
    xd_error err;
    const xd_device_info *d = NULL;
    if (!idx) return NULL;
    if (xd_device_select(list, sel, idx, &cnt, &err) != XD_OK) {
        fprintf(stderr, "%s: --device: %s\n", prog, err.message);
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
    int64_t *snap_list = NULL, v = 0;
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
    if (injected_fault(dev)) goto out;
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
    xd_error err;
    xd_train_result res;
    st = xd_train_run(ctx, data, &cfg, &res, &err);
    if (st == XD_OK || st == XD_NOT_FINITE) {
        if (!quiet)
            printf("%s: %lld steps on %s (%s, %s data), final loss %.6f, test accuracy %.4f, %.1f images/s "
                   "(steady), %.2f s total -> %s\n",
                   prog, (long long)res.steps_done, dev->id, xd_mode_string(mode), data->name, (double)res.final_loss,
                   res.test_accuracy, res.seconds_steps > 0 ? (double)(res.steps_done * cfg.batch) / res.seconds_steps : 0.0,
                   res.seconds_total, cfg.out_dir);
        if (st == XD_NOT_FINITE) fprintf(stderr, "%s: %s\n", prog, err.message);
        rc = st == XD_OK ? 0 : 1;
    } else if (st == XD_INTERRUPTED) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        rc = 128 + (g_signal ? g_signal : SIGINT);
    } else {
        fprintf(stderr, "%s: run failed: %s\n", prog, err.message);
    }
out:
    xd_context_destroy(ctx);
    xd_dataset_destroy(data);
    xd_device_list_destroy(list);
    free(snap_list);
    return rc;
}

/* ---- diff and compare --------------------------------------------------------------- */
typedef struct report_opts {
    xd_tolerance tol;
    const char *json, *html;
} report_opts;

static int finish_report(xd_report *rep, const report_opts *ro)
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

/* Options shared by diff and compare: tolerances and outputs. */
static int report_option(int c, report_opts *ro)
{
    switch (c) {
    case 'T': return parse_f64("--tol-rel", optarg, &ro->tol.rel);
    case 'U': return parse_f64("--tol-loss", optarg, &ro->tol.loss_rel);
    case 'J': ro->json = optarg; return 1;
    case 'W': ro->html = optarg; return 1;
    default: return -1;
    }
}

#define REPORT_LONG_OPTS                                                                           \
    {"tol-rel", required_argument, NULL, 'T'}, {"tol-loss", required_argument, NULL, 'U'},          \
        {"json", required_argument, NULL, 'J'}, {"html", required_argument, NULL, 'W'}

static int cmd_diff(int argc, char **argv)
{
    report_opts ro = {xd_tolerance_defaults(), NULL, NULL};
    static const struct option opts[] = {REPORT_LONG_OPTS, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c, ok = 1;
    optind = 1;
    opterr = 0;
    while (ok && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: %s diff TRACE_REF TRACE [TRACE...] [--tol-rel X] [--tol-loss X] [--json FILE] [--html FILE]\n"
                   "Compares each trace against the first (traces may come from other machines).\n",
                   prog);
            return 0;
        }
        int r = report_option(c, &ro);
        if (r == 0) ok = 0;
        if (r < 0) {
            fprintf(stderr, "%s diff: %s '%s'\n", prog, c == ':' ? "missing value for" : "unknown option",
                    argv[optind - 1]);
            ok = 0;
        }
    }
    int n = argc - optind;
    if (ok && n < 2) {
        fprintf(stderr, "%s diff: needs at least two traces\n", prog);
        ok = 0;
    }
    if (!ok) return EXIT_USAGE;
    xd_report rep;
    memset(&rep, 0, sizeof rep);
    rep.tol = ro.tol;
    rep.first_is_reference = 1;
    snprintf(rep.title, sizeof rep.title, "crossdev diff of %d traces (reference: %s)", n, argv[optind]);
    rep.runs = calloc((size_t)n, sizeof *rep.runs);
    if (!rep.runs) return EXIT_USAGE;
    rep.nruns = (size_t)n;
    int rc = 0;
    for (int i = 0; i < n; ++i) {
        xd_run_record *run = &rep.runs[i];
        xd_error err;
        snprintf(run->trace_dir, sizeof run->trace_dir, "%s", argv[optind + i]);
        if (xd_trace_open(argv[optind + i], &run->trace, &err) != XD_OK) {
            fprintf(stderr, "%s: %s\n", prog, err.message);
            rc = EXIT_USAGE;
            continue;
        }
        snprintf(run->device_id, sizeof run->device_id, "%s", run->trace->device_id);
        /* diff compares everything against the first trace, whatever the mode */
        snprintf(run->mode, sizeof run->mode, "%s", i == 0 ? run->trace->mode : rep.runs[0].mode);
        if (i == 0) rep.seed = run->trace->seed;
    }
    if (rc == 0) rc = finish_report(&rep, &ro);
    xd_report_free(&rep);
    free(rep.runs);
    return rc;
}

/* A child run of compare. */
typedef struct child {
    pid_t pid;
    double start;
    size_t run;
} child;

/* The last non-empty lines of a child's log, on one line. */
static void tail_of(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char buf[4096];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (char *p = buf; *p; ++p)
        if (*p == '\n' || *p == '\r') *p = ' ';
    const char *s = buf;
    size_t len = strlen(s);
    if (len > cap - 1) s += len - (cap - 1);
    snprintf(out, cap, "%s", s);
}

static pid_t spawn(char *const args[], const char *log)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    execv("/proc/self/exe", args);
    perror("execv /proc/self/exe");
    _exit(127);
}

static void usage_compare(FILE *out)
{
    fprintf(out,
            "usage: %s compare [options]   (also the default command)\n"
            "Runs the same seeded training on each selected device and mode, each in its\n"
            "own process with a timeout, then compares every run with the first run of its\n"
            "mode, and reproducible with fast mode on the first device.\n"
            "  --devices SEL         devices (default all)\n"
            "  --modes LIST          reproducible,fast (default both)\n"
            "  --steps N             steps per run (default 100)\n"
            "  --slow-steps N        steps on slow devices (default 1)\n"
            "  --slow REGEX          substring marking slow devices (default oclgrind)\n"
            "  --repeat R            run each device R times (run-to-run check)\n"
            "  --seed S|random       seed (default 42); random draws one and reports it\n"
            "  --batch B, --data DIR, --synthetic, --lr X   as for run\n"
            "  --no-hash-ops         do not record per-op hashes (first divergent op)\n"
            "  --timeout SEC         per run (default 900)\n"
            "  --jobs J              runs at once (default 2)\n"
            "  --work DIR            where traces and logs go (default crossdev-work/DATE-PID)\n"
            "  --tol-rel X, --tol-loss X   tolerances (default 5e-2, 1e-2)\n"
            "  --json FILE, --html FILE    also write the report there (default: in --work)\n",
            prog);
}

static int cmd_compare(int argc, char **argv)
{
    report_opts ro = {xd_tolerance_defaults(), NULL, NULL};
    const char *sel = "all", *modes_arg = "reproducible,fast", *slow = "oclgrind", *data_dir = NULL, *work = NULL;
    const char *lr = NULL;
    int64_t steps = 100, slow_steps = 1, repeat = 1, batch = 32, timeout = 900, jobs = 2, seed = 42;
    int seed_random = 0, synthetic = 0, hash_ops = 1;
    static const struct option opts[] = {REPORT_LONG_OPTS,
                                         {"devices", required_argument, NULL, 'd'},
                                         {"modes", required_argument, NULL, 'm'},
                                         {"steps", required_argument, NULL, 'n'},
                                         {"slow-steps", required_argument, NULL, 'N'},
                                         {"slow", required_argument, NULL, 'S'},
                                         {"repeat", required_argument, NULL, 'r'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"lr", required_argument, NULL, 'l'},
                                         {"data", required_argument, NULL, 'D'},
                                         {"synthetic", no_argument, NULL, 'Y'},
                                         {"no-hash-ops", no_argument, NULL, 'H'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"jobs", required_argument, NULL, 'j'},
                                         {"work", required_argument, NULL, 'w'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c, ok = 1;
    double dummy;
    optind = 1;
    opterr = 0;
    while (ok && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'd': sel = optarg; break;
        case 'm': modes_arg = optarg; break;
        case 'n': ok = parse_i64("--steps", optarg, 1, INT64_C(1) << 31, &steps); break;
        case 'N': ok = parse_i64("--slow-steps", optarg, 1, INT64_C(1) << 31, &slow_steps); break;
        case 'S': slow = optarg; break;
        case 'r': ok = parse_i64("--repeat", optarg, 1, 100, &repeat); break;
        case 's':
            if (strcmp(optarg, "random") == 0) seed_random = 1;
            else ok = parse_i64("--seed", optarg, 0, INT64_MAX, &seed);
            break;
        case 'b': ok = parse_i64("--batch", optarg, 1, 1 << 20, &batch); break;
        case 'l': lr = optarg; ok = parse_f64("--lr", optarg, &dummy); break;
        case 'D': data_dir = optarg; break;
        case 'Y': synthetic = 1; break;
        case 'H': hash_ops = 0; break;
        case 't': ok = parse_i64("--timeout", optarg, 1, 86400 * 7, &timeout); break;
        case 'j': ok = parse_i64("--jobs", optarg, 1, 64, &jobs); break;
        case 'w': work = optarg; break;
        case 'h': usage_compare(stdout); return 0;
        default: {
            int r = report_option(c, &ro);
            if (r == 0) ok = 0;
            if (r < 0) {
                fprintf(stderr, "%s compare: %s '%s'; see '%s compare --help'\n", prog,
                        c == ':' ? "missing value for" : "unknown option", argv[optind - 1], prog);
                ok = 0;
            }
        }
        }
    }
    if (ok && optind < argc) {
        fprintf(stderr, "%s compare: unexpected argument '%s'\n", prog, argv[optind]);
        ok = 0;
    }
    int want_modes[2] = {0, 0};
    if (ok) {
        size_t nmodes = 0;
        char **items = xd_split_commas(modes_arg, 0, &nmodes);
        for (size_t i = 0; ok && items && i < nmodes; ++i) {
            xd_mode m;
            if (xd_mode_parse(items[i], &m) != XD_OK) {
                fprintf(stderr, "%s compare: --modes: '%s' is not reproducible or fast\n", prog, items[i]);
                ok = 0;
            } else {
                want_modes[m] = 1;
            }
        }
        free(items);
    }
    if (!ok) return EXIT_USAGE;
    if (seed_random) {
        uint64_t s = 0;
        FILE *f = fopen("/dev/urandom", "rb");
        if (!f || fread(&s, sizeof s, 1, f) != 1) s = (uint64_t)time(NULL) ^ (uint64_t)getpid();
        if (f) fclose(f);
        seed = (int64_t)(s >> 1);
    }

    xd_device_list *list = load_devices();
    if (!list) return EXIT_USAGE;
    size_t ndev = xd_device_list_count(list);
    size_t *idx = calloc(ndev ? ndev : 1, sizeof *idx), nsel = 0;
    xd_error err;
    if (ndev == 0) {
        fprintf(stderr, "%s: no OpenCL device found; nothing to compare (see '%s list')\n", prog, prog);
        xd_device_list_destroy(list);
        free(idx);
        return EXIT_USAGE;
    }
    if (!idx || xd_device_select(list, sel, idx, &nsel, &err) != XD_OK) {
        fprintf(stderr, "%s: --devices: %s\n", prog, err.message);
        xd_device_list_destroy(list);
        free(idx);
        return EXIT_USAGE;
    }

    char workdir[1024];
    if (work) {
        snprintf(workdir, sizeof workdir, "%s", work);
    } else {
        char stamp[64];
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
        mkdir("crossdev-work", 0777);
        snprintf(workdir, sizeof workdir, "crossdev-work/%s-%ld", stamp, (long)getpid());
    }
    if (mkdir(workdir, 0777) != 0) {
        fprintf(stderr, "%s: --work %s: cannot create: %s\n", prog, workdir, strerror(errno));
        xd_device_list_destroy(list);
        free(idx);
        return EXIT_USAGE;
    }

    xd_report rep;
    memset(&rep, 0, sizeof rep);
    rep.tol = ro.tol;
    rep.seed = (uint64_t)seed;
    rep.seed_random = seed_random;
    rep.runs = calloc(nsel * 2 * (size_t)repeat, sizeof *rep.runs);
    /* slow devices first, so they overlap with the rest */
    for (int pass = 0; pass < 2; ++pass)
        for (int m = 0; m < 2; ++m) {
            if (!want_modes[m]) continue;
            for (size_t i = 0; i < nsel; ++i) {
                const xd_device_info *d = xd_device_list_get(list, idx[i]);
                int is_slow = *slow && strstr(d->id, slow) != NULL;
                if (is_slow != (pass == 0)) continue;
                for (int64_t k = 0; k < repeat; ++k) {
                    xd_run_record *run = &rep.runs[rep.nruns++];
                    snprintf(run->device_id, sizeof run->device_id, "%s", d->id);
                    snprintf(run->mode, sizeof run->mode, "%s", m ? "fast" : "reproducible");
                    run->repeat = (int)k;
                    run->steps_asked = is_slow ? slow_steps : steps;
                    char slug[128];
                    xd_slugify(d->id, slug, sizeof slug);
                    snprintf(run->trace_dir, sizeof run->trace_dir, "%s/%s-%s-r%lld", workdir, slug, run->mode,
                             (long long)k);
                }
            }
        }
    /* the report lists runs by mode then device: reorder to list order (stable) */
    snprintf(rep.title, sizeof rep.title, "crossdev compare: seed-cnn, %zu device(s), %s", nsel, modes_arg);
    snprintf(rep.notes, sizeof rep.notes,
             "Steps: %lld per run (%lld on slow devices matching '%s'); traces and logs in %s. "
             "Fast mode: vendor exp/log/div/sqrt, -cl-mad-enable, and CLBlast SGEMM for dense/conv "
             "shapes where it measured faster (docs/performance.md).",
             (long long)steps, (long long)slow_steps, slow, workdir);
    fprintf(stderr, "%s: %zu runs on %zu device(s), up to %lld at a time; work in %s\n", prog, rep.nruns, nsel,
            (long long)jobs, workdir);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    child *kids = calloc((size_t)jobs, sizeof *kids);
    size_t next = 0, running = 0;
    char seed_s[32], steps_s[32], batch_s[32];
    snprintf(seed_s, sizeof seed_s, "%lld", (long long)seed);
    snprintf(batch_s, sizeof batch_s, "%lld", (long long)batch);
    while ((next < rep.nruns || running) && !g_stop) {
        while (next < rep.nruns && running < (size_t)jobs) {
            xd_run_record *run = &rep.runs[next];
            const xd_device_info *d = NULL;
            for (size_t i = 0; i < nsel; ++i)
                if (strcmp(xd_device_list_get(list, idx[i])->id, run->device_id) == 0) d = xd_device_list_get(list, idx[i]);
            char pd[32], log[1100];
            if (!d) break; /* cannot happen: every run was made from the selection */
            snprintf(pd, sizeof pd, "%u:%u", d->platform_index, d->device_index);
            snprintf(steps_s, sizeof steps_s, "%lld", (long long)run->steps_asked);
            snprintf(log, sizeof log, "%s.log", run->trace_dir);
            int slow_dev = *slow && strstr(d->id, slow) != NULL;
            const char *args[32] = {prog, "run", "--device", pd, "--mode", run->mode, "--out", run->trace_dir,
                                    "--steps", steps_s, "--seed", seed_s, "--batch", batch_s};
            int na = 14;
            if (hash_ops) args[na++] = "--hash-ops";
            if (slow_dev) args[na++] = "--eval-limit", args[na++] = "0";
            if (synthetic) args[na++] = "--synthetic";
            if (data_dir) args[na++] = "--data", args[na++] = data_dir;
            if (lr) args[na++] = "--lr", args[na++] = lr;
            args[na] = NULL;
            size_t slot = 0;
            while (kids[slot].pid) ++slot;
            kids[slot].pid = spawn((char *const *)args, log);
            kids[slot].start = wall();
            kids[slot].run = next;
            fprintf(stderr, "  started %s [%s] #%d (%lld steps)\n", run->device_id, run->mode, run->repeat,
                    (long long)run->steps_asked);
            ++next;
            ++running;
        }
        nanosleep(&(struct timespec){0, 50000000L}, NULL);
        for (size_t s = 0; s < (size_t)jobs; ++s) {
            if (!kids[s].pid) continue;
            xd_run_record *run = &rep.runs[kids[s].run];
            int status = 0;
            pid_t w = waitpid(kids[s].pid, &status, WNOHANG);
            if (w == 0 && wall() - kids[s].start > (double)timeout) {
                kill(kids[s].pid, SIGKILL);
                waitpid(kids[s].pid, &status, 0);
                run->timed_out = 1;
                w = kids[s].pid;
            }
            if (w != kids[s].pid) continue;
            run->seconds = wall() - kids[s].start;
            char log[1100];
            snprintf(log, sizeof log, "%s.log", run->trace_dir);
            if (WIFSIGNALED(status)) {
                run->term_signal = WTERMSIG(status);
                run->exit_status = -1;
            } else {
                run->exit_status = WEXITSTATUS(status);
            }
            /* exit 1 = a NaN/Inf was recorded: the trace exists and is compared */
            int usable = !run->timed_out && !run->term_signal && (run->exit_status == 0 || run->exit_status == 1);
            if (usable && xd_trace_open(run->trace_dir, &run->trace, &err) != XD_OK) {
                snprintf(run->error, sizeof run->error, "%s", err.message);
                usable = 0;
            }
            if (!usable) {
                run->failed = 1;
                if (!run->error[0]) tail_of(log, run->error, sizeof run->error);
                if (run->timed_out) {
                    char t[sizeof run->error];
                    snprintf(t, sizeof t, "timed out after %lld s; %s", (long long)timeout, run->error);
                    snprintf(run->error, sizeof run->error, "%s", t);
                }
            }
            fprintf(stderr, "  %s %s [%s] #%d in %.1f s\n", usable ? "finished" : "FAILED", run->device_id, run->mode,
                    run->repeat, run->seconds);
            kids[s].pid = 0;
            --running;
        }
    }
    int rc;
    if (g_stop) {
        for (size_t s = 0; s < (size_t)jobs; ++s)
            if (kids[s].pid) {
                kill(kids[s].pid, SIGTERM);
                waitpid(kids[s].pid, NULL, 0);
            }
        fprintf(stderr, "%s: interrupted; partial traces in %s\n", prog, workdir);
        rc = 128 + (g_signal ? g_signal : SIGINT);
    } else {
        char jp[1200], hp[1200];
        snprintf(jp, sizeof jp, "%s/report.json", workdir);
        snprintf(hp, sizeof hp, "%s/report.html", workdir);
        if (!ro.json) ro.json = jp;
        if (!ro.html) ro.html = hp;
        rc = finish_report(&rep, &ro);
    }
    xd_report_free(&rep);
    free(rep.runs);
    free(kids);
    free(idx);
    xd_device_list_destroy(list);
    return rc;
}

int main(int argc, char **argv)
{
    /* A file-size limit (ulimit -f) must be a write error we report, not a kill. */
    signal(SIGXFSZ, SIG_IGN);
    default_environment();
    if (argc < 2) return cmd_compare(argc, argv); /* the default command */
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
    if (strcmp(cmd, "__probe") == 0) return cmd_probe_one(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "diff") == 0) return cmd_diff(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0) return cmd_compare(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'; see '%s --help'\n", prog, cmd, prog);
    return EXIT_USAGE;
}
