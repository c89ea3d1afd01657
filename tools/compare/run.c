/* run: one seeded training on one device, written as a trace. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

typedef struct run_opts {
    xd_train_config cfg;
    const char *sel, *data_dir;
    int synthetic, quiet;
    xd_mode mode;
    int64_t *snap_list;
    size_t nsnap;
    model_opts mo;
    xd_model_spec spec;
    xd_weights weights;
} run_opts;

static void usage_run(void)
{
    printf("usage: %s run --device SEL --out TRACE [options]\n"
           "  --device SEL          one device (see 'list'); required\n"
           "  --out DIR             trace directory to create (must not exist); required\n"
           "  --mode M              reproducible (default) or fast\n"
           "  --seed S              0..2^63-1 (default 42)\n"
           "  --steps N | --epochs E  training length (default: 1 epoch)\n"
           "  --batch B             batch size (default 32; the final partial batch is dropped)\n" MODEL_USAGE
           "  --export-weights FILE  write the final weights as a Keras .weights.h5\n"
           "  --data DIR            MNIST-format IDX files (default %s)\n"
           "  --synthetic           a seeded synthetic dataset of the model's input shape,\n"
           "                        labelled as such everywhere\n"
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

/* One option of run; 0 when it is bad (said). */
static int run_option(int c, void *user, char **argv)
{
    run_opts *o = user;
    xd_train_config *cfg = &o->cfg;
    int64_t v = 0;
    int ok = 1;
    switch (c) {
    case 'd': o->sel = optarg; break;
    case 'o': cfg->out_dir = optarg; break;
    case 'm':
        if (xd_mode_parse(optarg, &o->mode) != XD_OK) {
            fprintf(stderr, "%s: --mode: '%s' is not reproducible or fast\n", prog, optarg);
            ok = 0;
        }
        break;
    case 's':
        ok = parse_i64("--seed", optarg, 0, INT64_MAX, &v);
        cfg->seed = (uint64_t)v;
        break;
    case 'n': ok = parse_i64("--steps", optarg, 1, INT64_C(1) << 31, &cfg->steps); break;
    case 'e': ok = parse_i64("--epochs", optarg, 1, 100000, &cfg->epochs); break;
    case 'b': ok = parse_i64("--batch", optarg, 1, 1 << 20, &cfg->batch); break;
    case 'X': cfg->export_weights = optarg; break;
    case 'D': o->data_dir = optarg; break;
    case 'S': o->synthetic = 1; break;
    case 'k': ok = parse_i64("--snapshot-every", optarg, 1, INT64_C(1) << 31, &cfg->snapshot_every); break;
    case 'a': ok = parse_step_list("--snapshot-at", optarg, &o->snap_list, &o->nsnap); break;
    case 'r': cfg->resume = optarg; break;
    case 'H': cfg->hash_ops = 1; break;
    case 'E': ok = parse_i64("--eval-every", optarg, 1, INT64_C(1) << 31, &cfg->eval_every); break;
    case 'K': cfg->stop_on_nonfinite = 0; break;
    case 'L':
        ok = parse_i64("--eval-limit", optarg, 0, INT64_C(1) << 40, &cfg->eval_limit);
        if (ok && cfg->eval_limit == 0) cfg->eval_limit = -1;
        break;
    case 'q': o->quiet = 1; break;
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

/* What the options say together: required ones, exclusions. */
static int run_check(int argc, char **argv, run_opts *o)
{
    if (optind < argc) {
        fprintf(stderr, "%s run: unexpected argument '%s'\n", prog, argv[optind]);
        return 0;
    }
    if (!o->sel) {
        fprintf(stderr, "%s run: --device is required\n", prog);
        return 0;
    }
    if (!o->cfg.out_dir) {
        fprintf(stderr, "%s run: --out is required\n", prog);
        return 0;
    }
    if (o->cfg.steps) o->cfg.epochs = 0;
    if (o->synthetic && o->data_dir) {
        fprintf(stderr, "%s run: --data and --synthetic exclude each other\n", prog);
        return 0;
    }
    o->cfg.snapshot_at = o->snap_list;
    o->cfg.n_snapshot_at = o->nsnap;
    if (!model_opts_resolve(&o->mo, &o->spec, &o->weights, &o->cfg.optimizer)) return 0;
    o->cfg.spec = &o->spec;
    o->cfg.weights = o->weights.n ? &o->weights : NULL;
    return 1;
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
                                         {"resume", required_argument, NULL, 'r'},
                                         {"hash-ops", no_argument, NULL, 'H'},
                                         {"eval-every", required_argument, NULL, 'E'},
                                         {"keep-going", no_argument, NULL, 'K'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"eval-limit", required_argument, NULL, 'L'},
                                         {NULL, 0, NULL, 0}};
    int rc = parse_options(argc, argv, opts, run_option, o, usage_run);
    if (rc != CLI_GO_ON) return rc;
    return run_check(argc, argv, o) ? CLI_GO_ON : EXIT_USAGE;
}

static void progress(void *user, int64_t step, int64_t steps, float loss, double seconds)
{
    (void)user;
    if (step % 25 != 0 && step != steps) return;
    fprintf(stderr, "\r  step %lld/%lld  loss %.4f  %.1f steps/s   ", (long long)step, (long long)steps, (double)loss,
            seconds > 0 ? (double)step / seconds : 0.0);
    if (step == steps) fputc('\n', stderr);
}

/* Loads --data DIR (or Fashion-MNIST), or the labelled synthetic set in
 * the model's input shape. */
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
        if (xd_dataset_synthetic_shaped(seed, 6000, 1000, spec->in_h, spec->in_w, spec->in_c, spec->classes, &d) !=
            XD_OK)
            fprintf(stderr, "%s: cannot make synthetic data\n", prog);
        else if (!fallback && !quiet) fprintf(stderr, "%s: using a SEEDED SYNTHETIC dataset (not real data)\n", prog);
        return d;
    }
    if (xd_dataset_load_idx(path, &d, &err) != XD_OK) {
        fprintf(stderr, "%s: data: %s\n", prog, err.message);
        return NULL;
    }
    return d;
}

/* The training's outcome in words and as the exit status. */
static int run_outcome(xd_status st, const run_opts *o, const xd_device_info *dev, const xd_dataset *data,
                       const xd_train_result *res, const xd_error *err)
{
    if (st == XD_INTERRUPTED) {
        fprintf(stderr, "%s: %s\n", prog, err->message);
        return proc_interrupt_status();
    }
    if (st != XD_OK && st != XD_NOT_FINITE) {
        fprintf(stderr, "%s: run failed: %s\n", prog, err->message);
        return EXIT_USAGE;
    }
    if (!o->quiet)
        printf("%s: %lld steps on %s (%s, %s data), final loss %.6f, test accuracy %.4f, %.1f images/s "
               "(steady), %.2f s total -> %s\n",
               prog, (long long)res->steps_done, dev->id, xd_mode_string(o->mode), data->name, (double)res->final_loss,
               res->test_accuracy,
               res->seconds_steps > 0 ? (double)(res->steps_done * o->cfg.batch) / res->seconds_steps : 0.0,
               res->seconds_total, o->cfg.out_dir);
    if (st == XD_NOT_FINITE) fprintf(stderr, "%s: %s\n", prog, err->message);
    return st == XD_OK ? 0 : 1;
}

/* The device, the data, the context, then the training. */
static int run_training(run_opts *o)
{
    int rc = EXIT_USAGE;
    xd_dataset *data = NULL;
    xd_context *ctx = NULL;
    xd_device_list *list = load_devices();
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
    if (!o->quiet && isatty(STDERR_FILENO)) o->cfg.progress = progress;
    xd_error err;
    xd_train_result res;
    st = xd_train_run(ctx, data, &o->cfg, &res, &err);
    rc = run_outcome(st, o, dev, data, &res, &err);
out:
    xd_context_destroy(ctx);
    xd_dataset_destroy(data);
    xd_device_list_destroy(list);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    run_opts o = {.cfg = xd_train_defaults(), .mode = XD_MODE_REPRODUCIBLE};
    int rc = run_options(argc, argv, &o);
    if (rc == CLI_GO_ON) rc = run_training(&o);
    free(o.snap_list);
    xd_weights_free(&o.weights);
    return rc;
}
