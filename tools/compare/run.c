/* run: one seeded training on one device, written as a trace.  With
 * --resume, the trace's own settings are taken unless given, and a given
 * value that conflicts with the trace is refused naming both. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/common.h"

typedef struct run_opts {
    xd_train_config cfg;
    const char *sel, *data_dir;
    int synthetic, quiet, progress_lines, seed_random;
    xd_mode mode;
    int64_t *snap_list, *op_list;
    size_t nsnap, nop;
    model_opts mo;
    xd_model_spec spec;
    xd_weights weights;
    /* which settings were given (a resumed run takes the others from its trace) */
    int given_seed, given_mode, given_batch, given_hash_ops, given_length;
} run_opts;

static void usage_run(void)
{
    printf("usage: %s run --device SEL --out TRACE [options]\n"
           "  --device SEL          one device (see 'list'; a type such as gpu works when it\n"
           "                        matches one device); required\n"
           "  --out DIR             trace directory to create (must not exist; its folder must);\n"
           "                        required\n"
           "  --mode M              reproducible (default) or fast\n"
           "  --seed S|random       0..2^63-1 (default 42); random draws one and says it\n"
           "  --steps N | --epochs E  training length in steps, or whole epochs (default: 1 epoch)\n"
           "  --batch B             batch size (default 32; the final partial batch is dropped)\n" MODEL_USAGE
           "  --export-weights FILE  write the final weights as a Keras .weights.h5\n"
           "  --data DIR|FILE.npz   a folder holding the four MNIST-format IDX files\n"
           "                        train-images-idx3-ubyte, train-labels-idx1-ubyte,\n"
           "                        t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each may be .gz;\n"
           "                        images (count, rows, cols) or (count, rows, cols, channels)),\n"
           "                        or an .npz holding x_train, y_train, x_test, y_test as\n"
           "                        keras.datasets give them (np.savez; images channels last,\n"
           "                        uint8 scaled x/255 or float32/float64 as they are; integer\n"
           "                        labels) (default %s)\n"
           "  --synthetic           a seeded synthetic dataset of the model's input shape,\n"
           "                        labelled as such everywhere\n"
           "  --snapshot-every K    also snapshot every K steps\n"
           "  --snapshot-at LIST    snapshot exactly at these steps (plus 0 and the end)\n"
           "  --resume TRACE        continue TRACE from its last snapshot to --steps; its seed,\n"
           "                        mode, batch, optimizer, data and op hashing are taken unless\n"
           "                        given, and a given value that differs is refused\n"
           "  --hash-ops            hash every op's output at every step (the first divergent\n"
           "                        op; costs ~40-60%% more time per step on PoCL and Intel's CPU runtime)\n"
           "  --op-outputs-at LIST  with --hash-ops: also store every op's output at these\n"
           "                        steps (ops-XXXXXX/), so diff can size each op's difference\n"
           "  --eval-every K        evaluate on the test set every K steps (always at the end)\n"
           "  --eval-limit N        evaluate on the first N test samples only; 0: no evaluation\n"
           "  --keep-going          record a NaN/Inf and keep training (default: stop there)\n"
           "  --progress            progress lines (step, rate, ETA) even when not on a terminal\n"
           "exit status: 0 trained, 1 a NaN/Inf appeared (recorded), 2 usage or run error,\n"
           "130/143 interrupted (no trace left behind)\n",
           prog, XD_FASHION_MNIST_DIR);
}

/* The options that set something, recording that they were given. */
static int run_setting_option(int c, run_opts *o)
{
    xd_train_config *cfg = &o->cfg;
    int64_t v = 0;
    switch (c) {
    case 'm':
        o->given_mode = 1;
        if (xd_mode_parse(optarg, &o->mode) == XD_OK) return 1;
        fprintf(stderr, "%s: --mode: '%s' is not reproducible or fast\n", prog, optarg);
        return 0;
    case 's':
        o->given_seed = 1;
        o->seed_random = strcmp(optarg, "random") == 0;
        if (o->seed_random) return 1;
        if (!parse_i64("--seed", optarg, 0, INT64_MAX, &v)) return 0;
        cfg->seed = (uint64_t)v;
        return 1;
    case 'n': o->given_length |= 1; return parse_i64("--steps", optarg, 1, INT64_C(1) << 31, &cfg->steps);
    case 'e': o->given_length |= 2; return parse_i64("--epochs", optarg, 1, 100000, &cfg->epochs);
    case 'b': o->given_batch = 1; return parse_i64("--batch", optarg, 1, 1 << 20, &cfg->batch);
    case 'H': o->given_hash_ops = cfg->hash_ops = 1; return 1;
    default: return -1;
    }
}

/* One option of run; 0 when it is bad (said). */
static int run_option(int c, void *user, char **argv)
{
    run_opts *o = user;
    xd_train_config *cfg = &o->cfg;
    int ok = run_setting_option(c, o);
    if (ok >= 0) return ok;
    ok = 1;
    switch (c) {
    case 'd': o->sel = optarg; break;
    case 'o': cfg->out_dir = optarg; break;
    case 'X': cfg->export_weights = optarg; break;
    case 'D': o->data_dir = optarg; break;
    case 'S': o->synthetic = 1; break;
    case 'k': ok = parse_i64("--snapshot-every", optarg, 1, INT64_C(1) << 31, &cfg->snapshot_every); break;
    case 'a': ok = parse_step_list("--snapshot-at", optarg, &o->snap_list, &o->nsnap); break;
    case 'A': ok = parse_step_list("--op-outputs-at", optarg, &o->op_list, &o->nop); break;
    case 'r': cfg->resume = optarg; break;
    case 'E': ok = parse_i64("--eval-every", optarg, 1, INT64_C(1) << 31, &cfg->eval_every); break;
    case 'K': cfg->stop_on_nonfinite = 0; break;
    case 'L':
        ok = parse_i64("--eval-limit", optarg, 0, INT64_C(1) << 40, &cfg->eval_limit);
        if (ok && cfg->eval_limit == 0) cfg->eval_limit = -1;
        break;
    case 'q': o->quiet = 1; break;
    case 'P': o->progress_lines = 1; break;
    case ':':
        fprintf(stderr, "%s run: option '%s' needs a value\n", prog, argv[optind - 1]);
        ok = 0;
        break;
    default:
        ok = model_option(c, &o->mo);
        if (ok < 0) fprintf(stderr, "%s run: unknown option '%s'; see '%s run --help'\n", prog, argv[optind - 1], prog);
        ok = ok > 0;
    }
    return ok;
}

/* The folder --out is made in ("." for a bare name); its own name after
 * the last '/' is returned. */
static const char *out_parent(const char *out, char *parent, size_t cap)
{
    const char *slash = strrchr(out, '/');
    snprintf(parent, cap, "%.*s", !slash ? 1 : slash == out ? 1 : (int)(slash - out), slash ? out : ".");
    return slash ? slash + 1 : out;
}

/* --out: its folder must exist (said before any work, and never under a
 * temporary name). */
static int out_parent_exists(const char *out)
{
    char parent[XD_PATH_MAX];
    if (!strchr(out, '/')) return 1;
    out_parent(out, parent, sizeof parent);
    struct stat sb;
    if (stat(parent, &sb) == 0 && S_ISDIR(sb.st_mode)) return 1;
    fprintf(stderr, "%s run: --out %s: the folder %s %s\n", prog, out, parent,
            stat(parent, &sb) == 0 ? "is not a folder"
                                   : "does not exist (crossdev makes the trace folder, not its parents)");
    return 0;
}

/* OUT.tmp-PID folders of earlier runs of this OUT whose process is gone (a
 * driver that crashed took it down before it could clean up): removed,
 * and said.  A running one is left alone. */
static void remove_stale_temps(const char *out)
{
    char parent[XD_PATH_MAX], prefix[XD_PATH_MAX];
    snprintf(prefix, sizeof prefix, "%s.tmp-", out_parent(out, parent, sizeof parent));
    DIR *d = opendir(parent);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(prefix);
        char *end = NULL;
        if (strncmp(e->d_name, prefix, n) != 0 || !e->d_name[n]) continue;
        long pid = strtol(e->d_name + n, &end, 10);
        if (*end || pid <= 0 || proc_alive((pid_t)pid)) continue;
        char path[XD_PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
        const char *rm[] = {"rm", "-rf", path, NULL};
        proc_result r;
        if (proc_exec(rm, NULL, &r) == 0 && r.exit_status == 0)
            fprintf(stderr, "%s run: removed %s, left by a run of --out %s whose process (%ld) died\n", prog, path, out,
                    pid);
    }
    if (d) closedir(d);
}

/* --export-weights writes Keras's file: refused for a PyTorch module's
 * BatchNorm2d, whose names and statistics Keras's layer does not have. */
static int export_weights_ok(const run_opts *o)
{
    for (int i = 0; o->cfg.export_weights && i < o->spec.nlayers; i++)
        if (o->spec.layers[i].bn_form == XD_BN_PYTORCH) {
            fprintf(stderr,
                    "%s run: --export-weights writes a Keras .weights.h5; layer '%s' is PyTorch's BatchNorm2d (the "
                    "trained weights are in the trace's snapshots under the module's names: --snapshot-every)\n",
                    prog, o->spec.layers[i].name);
            return 0;
        }
    return 1;
}

/* What the options say together: required ones, exclusions. */
static int run_check(int argc, char **argv, run_opts *o)
{
    if (optind < argc) {
        fprintf(stderr, "%s run: unexpected argument '%s'\n", prog, argv[optind]);
        return 0;
    }
    if (!o->sel || !o->cfg.out_dir) {
        fprintf(stderr, "%s run: --%s is required\n", prog, !o->sel ? "device" : "out");
        return 0;
    }
    if (o->given_length == 3) {
        fprintf(stderr, "%s run: --steps and --epochs exclude each other: give one\n", prog);
        return 0;
    }
    if (o->cfg.steps) o->cfg.epochs = 0;
    if (o->synthetic && o->data_dir) {
        fprintf(stderr, "%s run: --data and --synthetic exclude each other\n", prog);
        return 0;
    }
    if (o->nop && !o->cfg.hash_ops && !o->cfg.resume) {
        fprintf(stderr, "%s run: --op-outputs-at needs --hash-ops (the op outputs are those it hashes)\n", prog);
        return 0;
    }
    if (!out_parent_exists(o->cfg.out_dir)) return 0;
    remove_stale_temps(o->cfg.out_dir);
    o->cfg.snapshot_at = o->snap_list;
    o->cfg.n_snapshot_at = o->nsnap;
    o->cfg.op_outputs_at = o->op_list;
    o->cfg.n_op_outputs_at = o->nop;
    if (o->cfg.resume) return 1; /* the model and optimizer: the trace's (resume_settings) */
    if (!model_opts_resolve(&o->mo, &o->spec, &o->weights, &o->cfg.optimizer)) return 0;
    o->cfg.spec = &o->spec;
    o->cfg.weights = o->weights.n ? &o->weights : NULL;
    return export_weights_ok(o);
}

static int run_options(int argc, char **argv, run_opts *o)
{
    static const struct option opts[] = {MODEL_LONG_OPTS,
                                         {"export-weights", required_argument, NULL, 'X'},
                                         {"device", required_argument, NULL, 'd'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"mode", required_argument, NULL, 'm'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"steps", required_argument, NULL, 'n'},
                                         {"epochs", required_argument, NULL, 'e'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"data", required_argument, NULL, 'D'},
                                         {"synthetic", no_argument, NULL, 'S'},
                                         {"snapshot-every", required_argument, NULL, 'k'},
                                         {"snapshot-at", required_argument, NULL, 'a'},
                                         {"op-outputs-at", required_argument, NULL, 'A'},
                                         {"resume", required_argument, NULL, 'r'},
                                         {"hash-ops", no_argument, NULL, 'H'},
                                         {"eval-every", required_argument, NULL, 'E'},
                                         {"keep-going", no_argument, NULL, 'K'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"progress", no_argument, NULL, 'P'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"eval-limit", required_argument, NULL, 'L'},
                                         {NULL, 0, NULL, 0}};
    int rc = parse_options(argc, argv, opts, run_option, o, usage_run);
    if (rc != CLI_GO_ON) return rc;
    return run_check(argc, argv, o) ? CLI_GO_ON : EXIT_USAGE;
}

/* On a terminal: one line redrawn in place. */
static void progress(void *user, int64_t step, int64_t steps, float loss, double seconds)
{
    (void)user;
    if (step % 25 != 0 && step != steps) return;
    fprintf(stderr, "\r  step %lld/%lld  loss %.4f  %.1f steps/s   ", (long long)step, (long long)steps, (double)loss,
            seconds > 0 ? (double)step / seconds : 0.0);
    if (step == steps) fputc('\n', stderr);
}

/* --progress: a line at most every second (and at the end), which compare
 * reads from the child's log and shows on the child's status line. */
static void progress_lines(void *user, int64_t step, int64_t steps, float loss, double seconds)
{
    static double last = -1;
    (void)user;
    if (step != steps && step != 1 && seconds - last < 1.0) return;
    last = seconds;
    double rate = seconds > 0 ? (double)step / seconds : 0;
    fprintf(stderr, "progress: step %lld/%lld, %.3g steps/s, ETA %.0f s, loss %.4f\n", (long long)step,
            (long long)steps, rate, rate > 0 ? (double)(steps - step) / rate : 0.0, (double)loss);
}

#define DATA_WHAT                                                                                                    \
    "--data is an .npz file holding x_train, y_train, x_test and y_test, or a folder holding the four MNIST-format " \
    "IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte " \
    "(each may be .gz)"

/* --data FILE: a zip archive (an .npz), else said.  0 when refused. */
static int data_file_ok(const char *path)
{
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    const char *why = f ? NULL : strerror(errno);
    size_t n = f ? fread(magic, 1, sizeof magic, f) : 0;
    if (f) fclose(f);
    if (n == 4 && magic[0] == 'P' && magic[1] == 'K' && (magic[2] == 3 || magic[2] == 5)) return 1;
    if (!why)
        why = n == 4 && memcmp(magic, "\x93NUM", 4) == 0 ? "an .npy file holds one array, not a data set (not an .npz)"
                                                         : "not an .npz file (a zip archive) nor a folder";
    fprintf(stderr, "%s: --data %s: %s.  " DATA_WHAT "\n", prog, path, why);
    return 0;
}

/* --data DIR: a folder with the four IDX files; otherwise say which are
 * missing.  0 when refused (said). */
static int data_folder_ok(const char *dir)
{
    static const char *const files[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                         "t10k-labels-idx1-ubyte"};
    struct stat sb;
    char missing[2048] = "", p[XD_PATH_MAX];
    size_t len = 0;
    int is_dir = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
    size_t dl = strlen(dir);
    int npz_named = !is_dir && dl > 4 && strcmp(dir + dl - 4, ".npz") == 0; /* meant a file: no IDX names */
    for (int i = 0; i < 4; ++i) {
        int found = 0;
        for (int gz = 0; gz < 2 && !found; ++gz)
            found = xd_path(p, sizeof p, NULL, "%s/%s%s", dir, files[i], gz ? ".gz" : "") == XD_OK && stat(p, &sb) == 0;
        if (!found && !npz_named && len < sizeof missing)
            len +=
                (size_t)snprintf(missing + len, sizeof missing - len, "%s%s/%s(.gz)", len ? ", " : "", dir, files[i]);
    }
    if (is_dir && !missing[0]) return 1;
    fprintf(stderr, "%s: --data %s: %s.  " DATA_WHAT "%s%s\n", prog, dir,
            !xd_path_exists(dir) ? "no such file or folder"
            : !is_dir            ? "not a folder"
                                 : "files missing",
            missing[0] ? "; missing: " : "", missing);
    return 0;
}

/* Loads --data DIR or FILE.npz (or Fashion-MNIST), or the labelled
 * synthetic set in the model's input shape. */
static xd_dataset *load_data(const char *dir, int synthetic, uint64_t seed, int quiet, const xd_model_spec *spec)
{
    xd_dataset *d = NULL;
    xd_error err;
    const char *path = dir ? dir : XD_FASHION_MNIST_DIR;
    struct stat sb;
    int fallback = !synthetic && !dir && stat(path, &sb) != 0;
    if (synthetic || fallback) {
        /* the real data being absent is always said, even with --quiet */
        if (fallback)
            fprintf(stderr,
                    "%s: %s not found (install dataset-fashion-mnist); using a SEEDED SYNTHETIC dataset "
                    "instead — results are NOT from real data\n",
                    prog, path);
        if (xd_dataset_synthetic_shaped(seed, 6000, 1000, spec->in_h, spec->in_w, spec->in_c, spec->classes, &d,
                                        NULL) != XD_OK)
            fprintf(stderr, "%s: cannot make synthetic data\n", prog);
        else if (!fallback && !quiet) fprintf(stderr, "%s: using a SEEDED SYNTHETIC dataset (not real data)\n", prog);
        return d;
    }
    int npz = dir && stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode);
    if (dir && !(npz ? data_file_ok(dir) : data_folder_ok(dir))) return NULL;
    if ((npz ? xd_dataset_load_npz(path, &d, &err) : xd_dataset_load_idx(path, &d, &err)) != XD_OK) {
        fprintf(stderr, "%s: data: %s\n", prog, err.message);
        return NULL;
    }
    return d;
}

/* A message from the library may name the trace's temporary folder
 * (OUT.tmp-PID): the user knows it as OUT. */
static void scrub_temp_name(char *msg, const char *out)
{
    char tmp[XD_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid());
    size_t n = strlen(tmp), m = strlen(out);
    for (char *p = strstr(msg, tmp); p; p = strstr(p + m, tmp)) {
        memcpy(p, out, m);
        memmove(p + m, p + n, strlen(p + n) + 1);
    }
}

/* The training's outcome in words and as the exit status. */
static int run_outcome(xd_status st, const run_opts *o, const xd_device_info *dev, const xd_dataset *data,
                       const xd_train_result *res, xd_error *err)
{
    scrub_temp_name(err->message, o->cfg.out_dir);
    if (st == XD_INTERRUPTED) {
        fprintf(stderr, "%s: %s\n", prog, err->message);
        return proc_interrupt_status();
    }
    if (st != XD_OK && st != XD_NOT_FINITE) {
        fprintf(stderr, "%s: run failed: %s\n", prog, err->message);
        return EXIT_USAGE;
    }
    char acc[32] = "not evaluated";
    if (!isnan(res->test_accuracy)) snprintf(acc, sizeof acc, "%.4f", res->test_accuracy);
    if (!o->quiet)
        printf("%s: %lld steps on %s (%s, %s data), final loss %.6f, test accuracy %s, %.1f images/s "
               "(steady), %.2f s total -> %s\n",
               prog, (long long)res->steps_done, dev->id, xd_mode_string(o->mode), data->name, (double)res->final_loss,
               acc, res->seconds_steady > 0 ? (double)(res->steps_steady * o->cfg.batch) / res->seconds_steady : 0.0,
               res->seconds_total, o->cfg.out_dir);
    if (st == XD_NOT_FINITE) fprintf(stderr, "%s: %s\n", prog, err->message);
    return st == XD_OK ? 0 : 1;
}

/* ---- --resume: the trace's settings unless given (xd_train_config_from_trace) ---------- */

/* The option that sets a trace field, for the library's conflict. */
static const char *option_of(const char *field)
{
    static const struct {
        const char *field, *opt;
    } map[] = {{"seed", "--seed"},
               {"batch", "--batch"},
               {"mode", "--mode"},
               {"op_hashes", "--hash-ops"},
               {"model_spec", "--model"},
               {"optimizer", "--optimizer"},
               {"optimizer.lr", "--lr"},
               {"optimizer.beta1", "--beta1"},
               {"optimizer.beta2", "--beta2"},
               {"optimizer.eps", "--eps"},
               {"optimizer.momentum", "--momentum"},
               {"optimizer.nesterov", "--nesterov"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; ++i)
        if (strcmp(map[i].field, field) == 0) return map[i].opt;
    return field;
}

/* A given value that differs from the trace's: refused, naming both. */
static void say_conflict(const run_opts *o, const xd_train_resume *r, const char *trace)
{
    const xd_setting_difference *d = &r->conflict;
    const char *opt = option_of(d->field), *given = d->a;
    if (r->conflict_given == XD_GIVEN_MODEL) given = o->mo.model; /* the file the user named */
    else if (strcmp(opt, "--hash-ops") == 0 || strcmp(opt, "--nesterov") == 0) given = "(on)";
    fprintf(stderr,
            "%s run: %s %s conflicts with the trace's '%s' %s (%s): a resumed run continues the trace's settings; "
            "leave %s out to take them\n",
            prog, opt, given, d->field, d->b, trace, opt);
}

/* The optimizer options given, over the trace's optimizer in its model's
 * form ("adam" is the trace model's Adam). */
static int given_optimizer(run_opts *o, const xd_trace *t)
{
    xd_error err;
    xd_model_spec *spec = malloc(sizeof *spec);
    xd_status st = spec ? xd_trace_model_spec(t, spec, &err) : XD_OUT_OF_HOST_MEMORY;
    if (st == XD_OK) st = xd_trace_optimizer(t, &o->cfg.optimizer, &err);
    if (st != XD_OK) fprintf(stderr, "%s: %s\n", prog, spec ? err.message : "out of host memory");
    int ok = st == XD_OK && model_opts_optimizer(&o->mo, spec, &o->cfg.optimizer);
    free(spec);
    return ok;
}

/* What was given, loaded where the library compares it with the trace. */
static int resume_given(run_opts *o, const xd_trace *t, xd_train_resume *r, unsigned *given)
{
    *given = (o->given_seed ? XD_GIVEN_SEED : 0) | (o->given_batch ? XD_GIVEN_BATCH : 0) |
             (o->given_mode ? XD_GIVEN_MODE : 0) | (o->given_hash_ops ? XD_GIVEN_HASH_OPS : 0) |
             (o->data_dir || o->synthetic ? XD_GIVEN_DATA : 0);
    r->mode = o->mode;
    if (o->mo.weights) {
        fprintf(stderr, "%s run: --weights with --resume: a resumed run continues from %s's last snapshot\n", prog,
                xd_trace_dir(t));
        return 0;
    }
    if (o->mo.model) {
        xd_weights w;
        xd_optimizer_spec ignored;
        if (!model_opts_resolve(&o->mo, &r->spec, &w, &ignored)) return 0;
        xd_weights_free(&w);
        *given |= XD_GIVEN_MODEL;
    }
    if (model_opts_optimizer_given(&o->mo)) {
        if (!given_optimizer(o, t)) return 0;
        *given |= XD_GIVEN_OPTIMIZER;
    }
    return 1;
}

/* Opens the trace to continue (once: the library trains from it) and takes
 * every setting not given from it. */
static int resume_settings(run_opts *o, xd_trace **t)
{
    xd_error err;
    if (xd_trace_open(o->cfg.resume, t, &err) != XD_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        return 0;
    }
    xd_train_resume *r = calloc(1, sizeof *r);
    unsigned given = 0;
    if (!r) fprintf(stderr, "%s: out of host memory\n", prog);
    int ok = r && resume_given(o, *t, r, &given);
    xd_status st = ok ? xd_train_config_from_trace(&o->cfg, r, *t, given, &err) : XD_OUT_OF_HOST_MEMORY;
    if (ok && st == XD_MISMATCH && r->conflict_given) say_conflict(o, r, xd_trace_dir(*t));
    else if (ok && st != XD_OK) fprintf(stderr, "%s: %s\n", prog, err.message);
    if (ok && st == XD_OK) {
        o->mode = r->mode;
        o->spec = r->spec;
        o->cfg.spec = &o->spec;
        if (!(given & XD_GIVEN_DATA)) o->synthetic = r->synthetic, o->data_dir = r->data_dir;
    }
    free(r);
    if (!ok || st != XD_OK) return 0;
    if (o->nop && !o->cfg.hash_ops) {
        fprintf(stderr, "%s run: --op-outputs-at needs op hashes, which %s does not record\n", prog, o->cfg.resume);
        return 0;
    }
    return 1;
}

/* The device, the data, the context, then the training. */
/* A simulator (Oclgrind: ~2,000x slower than a CPU runtime) evaluating
 * the whole test set takes an hour and shows no progress meanwhile: said
 * before training, with the option that bounds it. */
static void simulator_hint(const run_opts *o, const xd_device_info *dev)
{
    if (o->cfg.eval_limit != 0 || !strstr(dev->id, "oclgrind")) return;
    fprintf(stderr,
            "%s: %s is a simulator (about 2,000x slower than a CPU runtime): the evaluation at the end covers every "
            "test sample and takes long, without progress lines; --eval-limit N evaluates the first N, "
            "--eval-limit 0 none\n",
            prog, dev->id);
}

static int run_training(run_opts *o)
{
    int rc = EXIT_USAGE;
    xd_dataset *data = NULL;
    xd_context *ctx = NULL;
    xd_trace *old = NULL;
    xd_device_list *list = NULL;
    if (o->cfg.resume && !resume_settings(o, &old)) goto out;
    list = load_devices();
    const xd_device_info *dev = list ? pick_one(list, o->sel) : NULL;
    if (!dev || injected_fault(dev)) goto out;
    data = load_data(o->data_dir, o->synthetic, o->cfg.seed, o->quiet, &o->spec);
    if (!data) goto out;
    char warning[1024];
    if (xd_model_spec_loss_warning(&o->spec, warning, sizeof warning))
        fprintf(stderr, "%s: WARNING: model '%s': %s\n", prog, o->spec.name, warning);
    xd_status st = xd_context_create(dev, o->mode, &ctx);
    if (st != XD_OK) {
        fprintf(stderr, "%s: %s mode on %s: %s\n", prog, xd_mode_string(o->mode), dev->id, xd_context_last_error(ctx));
        goto out;
    }
    o->cfg.stop = proc_catch_interrupts();
    simulator_hint(o, dev);
    if (o->progress_lines) fprintf(stderr, "progress: kernels built, training (step 1 under way)\n");
    if (o->progress_lines) o->cfg.progress = progress_lines;
    else if (!o->quiet && isatty(STDERR_FILENO)) o->cfg.progress = progress;
    xd_error err;
    xd_train_result res;
    st = xd_train_run(ctx, data, &o->cfg, &res, &err);
    rc = run_outcome(st, o, dev, data, &res, &err);
out:
    xd_trace_close(old);
    xd_context_destroy(ctx);
    xd_dataset_destroy(data);
    xd_device_list_destroy(list);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    run_opts o = {.cfg = xd_train_defaults(), .mode = XD_MODE_REPRODUCIBLE};
    int rc = run_options(argc, argv, &o);
    if (rc == CLI_GO_ON && o.seed_random) {
        o.cfg.seed = proc_random_u64() >> 1;
        fprintf(stderr, "%s: --seed random: drew seed %llu (recorded in the trace)\n", prog,
                (unsigned long long)o.cfg.seed);
    }
    if (rc == CLI_GO_ON) rc = run_training(&o);
    free(o.snap_list);
    xd_weights_free(&o.weights);
    free(o.op_list);
    return rc;
}
