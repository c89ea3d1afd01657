/* compare (also the default command): the same seeded training on each
 * selected device and mode, each run in its own process (scheduler.c),
 * then every run compared and reported.  In phases: options, devices,
 * work folder, plan (the run list), jobs, finish (the report). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/common.h"

static void usage_compare(void)
{
    printf("usage: %s compare [options]   (also the default command)\n"
           "Runs the same seeded training on each selected device and mode, each in its\n"
           "own process with a timeout, then compares the runs.  Within each mode the\n"
           "reference is the run with the most steps (among equals the first in --devices\n"
           "order); every other run of the mode is compared with it, and the reproducible\n"
           "reference with the fast run on its device.  Verdicts: docs/compare.md.\n"
           "  --devices SEL         devices, in the order given (default all, in 'list' order)\n"
           "  --drivers LIST|all    also the devices of these driver versions ('drivers add'), each\n"
           "                        run in a process of its own with that version alone\n"
           "  --modes LIST          reproducible,fast (default both)\n"
           "  --steps N             steps per run (default 100)\n"
           "  --slow-steps N        steps on slow devices (default 1)\n"
           "  --slow SUBSTR         case-insensitive substring of the id marking slow devices\n"
           "                        (default oclgrind; '' for none); they start first\n"
           "  --repeat R            run each device R times (run-to-run check)\n"
           "  --seed S|random       seed (default 42); random draws one and reports it\n"
           "  --batch B, --data DIR|FILE.npz, --synthetic   as for run\n"
           "  --model, --weights, --optimizer, --lr, --beta1, --beta2, --eps, --momentum,\n"
           "  --nesterov            the model and its training, as for run\n"
           "  --no-hash-ops         do not record per-op hashes (first divergent op)\n"
           "  --op-outputs-at LIST  store every op's output at these steps (default 1, with op\n"
           "                        hashes): the per-op sizes of a first difference there\n"
           "  --timeout SEC         per run (default 900)\n"
           "  --jobs J              runs at once (default 2)\n"
           "  --work DIR            where traces and logs go (default crossdev-work/DATE-PID)\n"
           "  --tol-rel X, --tol-loss X   optional end-state tolerances (off by default)\n"
           "  --rounding-rel X, --amplified-rel X, --ignore GLOB   how pairs are judged (see diff --help)\n"
           "  --json FILE, --html FILE    also write the report there ('-': standard output;\n"
           "                        default: in --work)\n"
           "Ctrl-C stops the runs, reports those that finished (marked partial) and says\n"
           "how to run the rest again.\n",
           prog);
}

/* One option of compare; 0 when it is bad (said). */
static int compare_option(int c, void *user, char **argv)
{
    compare_opts *o = user;
    switch (c) {
    case 'd': o->sel = optarg; return 1;
    case 'V': o->drivers = optarg; return 1;
    case 'm': o->modes_arg = optarg; return 1;
    case 'n': return parse_i64("--steps", optarg, 1, INT64_C(1) << 31, &o->steps);
    case 'N': return parse_i64("--slow-steps", optarg, 1, INT64_C(1) << 31, &o->slow_steps);
    case 'S': o->slow = optarg; return 1;
    case 'r': return parse_i64("--repeat", optarg, 1, 100, &o->repeat);
    case 's':
        if (strcmp(optarg, "random") != 0) return parse_i64("--seed", optarg, 0, INT64_MAX, &o->seed);
        o->seed_random = 1;
        return 1;
    case 'b': return parse_i64("--batch", optarg, 1, 1 << 20, &o->batch);
    case 'D': o->data_dir = optarg; return 1;
    case 'Y': o->synthetic = 1; return 1;
    case 'H': o->hash_ops = 0; return 1;
    case 'O':
        o->op_outputs = optarg;
        return strcmp(optarg, "none") == 0 || parse_step_list("--op-outputs-at", optarg, NULL, NULL);
    case 't': return parse_i64("--timeout", optarg, 1, 86400 * 7, &o->timeout);
    case 'j': return parse_i64("--jobs", optarg, 1, 64, &o->jobs);
    case 'w': o->work = optarg; return 1;
    default: break;
    }
    int r = model_option(c, &o->mo);
    if (r < 0) r = report_option(c, &o->ro);
    if (r < 0)
        fprintf(stderr, "%s compare: %s '%s'; see '%s compare --help'\n", prog,
                c == ':' ? "missing value for" : "unknown option", argv[optind - 1], prog);
    return r > 0;
}

/* --modes: every item reproducible or fast (items are not trimmed). */
static int compare_modes(const char *s, int want[2])
{
    size_t n = 0;
    char **items = xd_split_commas(s, 0, &n);
    int ok = 1;
    for (size_t i = 0; ok && items && i < n; ++i) {
        xd_mode m;
        if (xd_mode_parse(items[i], &m) != XD_OK) {
            fprintf(stderr, "%s compare: --modes: '%s' is not reproducible or fast\n", prog, items[i]);
            ok = 0;
        } else {
            want[m] = 1;
        }
    }
    free(items);
    return ok;
}

/* The model and optimizer options, checked here once (every run would
 * refuse them alike), and the loss warning said once. */
static int compare_model(const model_opts *mo, char *name, size_t cap)
{
    xd_model_spec spec;
    xd_weights w;
    xd_optimizer_spec opt;
    char warning[1024];
    if (!model_opts_resolve(mo, &spec, &w, &opt)) return 0;
    if (xd_model_spec_loss_warning(&spec, warning, sizeof warning))
        fprintf(stderr, "%s: WARNING: model '%s': %s\n", prog, spec.name, warning);
    const char *file = strrchr(spec.source, '/');
    if (strcmp(spec.source, "built-in") == 0) snprintf(name, cap, "%s", spec.name);
    else snprintf(name, cap, "%s (%s)", spec.name, file ? file + 1 : spec.source);
    xd_weights_free(&w);
    return 1;
}

static int compare_options(int argc, char **argv, compare_opts *o)
{
    static const struct option opts[] = {REPORT_LONG_OPTS,
                                         MODEL_LONG_OPTS,
                                         {"devices", required_argument, NULL, 'd'},
                                         {"drivers", required_argument, NULL, 'V'},
                                         {"modes", required_argument, NULL, 'm'},
                                         {"steps", required_argument, NULL, 'n'},
                                         {"slow-steps", required_argument, NULL, 'N'},
                                         {"slow", required_argument, NULL, 'S'},
                                         {"repeat", required_argument, NULL, 'r'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"data", required_argument, NULL, 'D'},
                                         {"synthetic", no_argument, NULL, 'Y'},
                                         {"no-hash-ops", no_argument, NULL, 'H'},
                                         {"op-outputs-at", required_argument, NULL, 'O'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"jobs", required_argument, NULL, 'j'},
                                         {"work", required_argument, NULL, 'w'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int rc = parse_options(argc, argv, opts, compare_option, o, usage_compare);
    if (rc != CLI_GO_ON) return rc;
    if (optind < argc) {
        fprintf(stderr, "%s compare: unexpected argument '%s'\n", prog, argv[optind]);
        return EXIT_USAGE;
    }
    if (!compare_modes(o->modes_arg, o->want_modes)) return EXIT_USAGE;
    if (!compare_model(&o->mo, o->model_name, sizeof o->model_name)) return EXIT_USAGE;
    if (o->ro.json && o->ro.html && strcmp(o->ro.json, "-") == 0 && strcmp(o->ro.html, "-") == 0) {
        fprintf(stderr, "%s compare: --json and --html cannot both go to standard output\n", prog);
        return EXIT_USAGE;
    }
    if (o->seed_random) o->seed = (int64_t)(proc_random_u64() >> 1);
    return CLI_GO_ON;
}

/* The devices --devices selects (indices into *list), in the order its
 * items are given: the first is the reference among runs of one length. */
static int select_in_order(xd_device_list *list, const char *sel, size_t *idx, size_t *nsel)
{
    size_t nitems = 0, ndev = xd_device_list_count(list), n = 0;
    char **items = xd_split_commas(sel, 1, &nitems);
    size_t *one = calloc(ndev ? ndev : 1, sizeof *one);
    xd_error err;
    int ok = items && one;
    if (!ok) fprintf(stderr, "%s: out of memory\n", prog);
    /* the whole selector first: its own messages (empty items, no match) */
    if (ok && xd_device_select(list, sel, one, &n, &err) != XD_OK) {
        fprintf(stderr, "%s: --devices: %s\n", prog, err.message);
        ok = 0;
    }
    *nsel = 0;
    for (size_t k = 0; ok && k < nitems; ++k) {
        if (xd_device_select(list, items[k], one, &n, &err) != XD_OK) continue;
        for (size_t j = 0; j < n; ++j) {
            int seen = 0;
            for (size_t i = 0; i < *nsel; ++i) seen |= idx[i] == one[j];
            if (!seen) idx[(*nsel)++] = one[j];
        }
    }
    free(items);
    free(one);
    return ok;
}

static int compare_devices(const char *sel, xd_device_list **list, size_t **idx, size_t *nsel)
{
    *list = load_devices();
    if (!*list) return EXIT_USAGE;
    size_t ndev = xd_device_list_count(*list);
    if (ndev == 0) {
        fprintf(stderr, "%s: no OpenCL device found; nothing to compare (see '%s list')\n", prog, prog);
        return EXIT_USAGE;
    }
    *idx = calloc(ndev, sizeof **idx);
    if (!*idx) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return EXIT_USAGE;
    }
    return select_in_order(*list, sel, *idx, nsel) ? CLI_GO_ON : EXIT_USAGE;
}

/* --work DIR, or crossdev-work/DATE-PID; it must not exist yet. */
static int compare_work_folder(const char *work, char *workdir, size_t cap)
{
    if (work) {
        snprintf(workdir, cap, "%s", work);
    } else {
        char stamp[64];
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
        mkdir("crossdev-work", 0777);
        snprintf(workdir, cap, "crossdev-work/%s-%ld", stamp, (long)getpid());
    }
    if (mkdir(workdir, 0777) != 0) {
        fprintf(stderr, "%s: --work %s: cannot create: %s\n", prog, workdir, strerror(errno));
        return EXIT_USAGE;
    }
    return CLI_GO_ON;
}

int is_slow(const compare_opts *o, const char *id)
{
    size_t n = strlen(o->slow);
    for (const char *h = id; n && *h; ++h)
        if (strncasecmp(h, o->slow, n) == 0) return 1;
    return 0;
}

static int plan_run(xd_report *rep, const xd_device_info *d, int mode, int64_t k, int64_t steps, const char *workdir)
{
    xd_run_record run = {0};
    snprintf(run.device_id, sizeof run.device_id, "%s", d->id);
    snprintf(run.mode, sizeof run.mode, "%s", mode ? "fast" : "reproducible");
    run.repeat = (int)k;
    run.steps_asked = steps;
    char slug[128];
    xd_slugify(d->id, slug, sizeof slug);
    snprintf(run.trace_dir, sizeof run.trace_dir, "%s/%s-%s-r%lld", workdir, slug, run.mode, (long long)k);
    xd_error err;
    if (xd_report_add_run(rep, &run, &err) == XD_OK) return 1;
    fprintf(stderr, "%s: out of memory planning %zu runs\n", prog, rep->nruns + 1);
    return 0;
}

static int first_mode(const compare_opts *o) { return o->want_modes[0] ? 0 : 1; }

/* The run list: by mode, then device (in --devices order), then repeat;
 * the scheduler starts slow devices first so that they overlap with the
 * rest.  The report's title and notes.  0 when out of memory. */
static int compare_plan(xd_report *rep, const compare_opts *o, const xd_device_list *list, const size_t *idx,
                        size_t nsel, const char *workdir)
{
    rep->tol = o->ro.tol;
    rep->seed = (uint64_t)o->seed;
    rep->seed_random = o->seed_random;
    nsel += o->nextra; /* the driver versions' devices are planned after the others */
    for (int m = 0; m < 2; ++m) {
        if (!o->want_modes[m]) continue;
        for (size_t i = 0; i < nsel - o->nextra; ++i) {
            const xd_device_info *d = xd_device_list_get(list, idx[i]);
            /* a simulator's runs take minutes each: once, said (--slow '' repeats them too) */
            int64_t repeats = is_slow(o, d->id) ? 1 : o->repeat;
            if (repeats < o->repeat && m == first_mode(o))
                fprintf(stderr,
                        "%s: %s is slow (--slow '%s'): run once, not --repeat %lld times (--slow '' repeats it)\n",
                        prog, d->id, o->slow, (long long)o->repeat);
            for (int64_t k = 0; k < repeats; ++k)
                if (!plan_run(rep, d, m, k, is_slow(o, d->id) ? o->slow_steps : o->steps, workdir)) return 0;
        }
        for (size_t i = 0; i < o->nextra; ++i)
            for (int64_t k = 0; k < o->repeat; ++k)
                if (!plan_run(rep, &o->extra[i], m, k, o->steps, workdir)) return 0;
    }
    snprintf(rep->title, sizeof rep->title, "crossdev compare: %s, %zu device(s), %s", o->model_name, nsel,
             o->modes_arg);
    snprintf(rep->notes, sizeof rep->notes,
             "Steps: %lld per run (%lld on slow devices matching '%s'); traces and logs in %s. "
             "Fast mode: vendor exp/log/div/sqrt, -cl-mad-enable, and CLBlast SGEMM for dense/conv "
             "shapes where it measured faster (docs/performance.md).",
             (long long)o->steps, (long long)o->slow_steps, o->slow, workdir);
    fprintf(stderr, "%s: %zu runs on %zu device(s), up to %lld at a time; work in %s\n", prog, rep->nruns, nsel,
            (long long)o->jobs, workdir);
    return 1;
}

/* An interrupted comparison keeps the runs that finished: the others go
 * (never started, or stopped half-way), the report says it is partial. */
static void keep_finished(xd_report *rep, const unsigned char *started)
{
    size_t kept = 0, total = rep->nruns, stopped = 0;
    for (size_t i = 0; i < rep->nruns; ++i) {
        int finished = started[i] == RUN_FINISHED;
        stopped += started[i] == RUN_STOPPED;
        if (finished) rep->runs[kept++] = rep->runs[i];
    }
    rep->nruns = kept;
    rep->partial = 1;
    size_t len = strlen(rep->notes);
    if (len < sizeof rep->notes)
        snprintf(rep->notes + len, sizeof rep->notes - len,
                 " INTERRUPTED: %zu of %zu runs finished; %zu stopped, %zu never started.", kept, total, stopped,
                 total - kept - stopped);
}

/* The command line again, for "run it again with": without --work, whose
 * folder now exists (a new run gets a new one). */
static void command_line(int argc, char **argv, char *out, size_t cap)
{
    size_t len = (size_t)snprintf(out, cap, "%s compare", prog);
    for (int i = 1; i < argc && len < cap; ++i) {
        if (strcmp(argv[i], "--work") == 0) {
            ++i;
            continue;
        }
        if (strncmp(argv[i], "--work=", 7) == 0) continue;
        len += (size_t)snprintf(out + len, cap - len, strpbrk(argv[i], " '\"$") ? " '%s'" : " %s", argv[i]);
    }
}

/* The report (into the work folder unless --json/--html say where); after
 * an interruption, the report of the runs that finished and how to go on. */
static int compare_finish(xd_report *rep, const compare_opts *o, const char *workdir, const unsigned char *started,
                          int interrupted, int argc, char **argv)
{
    report_opts ro = o->ro;
    char jp[1200], hp[1200], again[2048];
    snprintf(jp, sizeof jp, "%s/report.json", workdir);
    snprintf(hp, sizeof hp, "%s/report.html", workdir);
    if (!ro.json) ro.json = jp;
    if (!ro.html) ro.html = hp;
    if (interrupted) keep_finished(rep, started);
    int rc = finish_report(rep, &ro);
    if (!interrupted) return rc;
    command_line(argc, argv, again, sizeof again);
    fprintf(stderr, "%s: interrupted: the report above covers the %zu runs that finished (marked partial).\n", prog,
            rep->nruns);
    if (rep->nruns >= 2)
        fprintf(stderr, "  their traces stay in %s; report on them again: %s diff %s\n", workdir, prog, workdir);
    else fprintf(stderr, "  %s: too few runs finished to compare (diff needs two traces)\n", workdir);
    fprintf(stderr, "  run the whole comparison again (in a new work folder): %s\n", again);
    return proc_interrupt_status();
}

int cmd_compare(int argc, char **argv)
{
    compare_opts o = {.ro = {.tol = xd_tolerance_defaults()},
                      .sel = "all",
                      .modes_arg = "reproducible,fast",
                      .slow = "oclgrind",
                      .steps = 100,
                      .slow_steps = 1,
                      .repeat = 1,
                      .batch = 32,
                      .timeout = 900,
                      .jobs = 2,
                      .seed = 42,
                      .hash_ops = 1,
                      .op_outputs = "1"};
    int rc = compare_options(argc, argv, &o);
    if (rc != CLI_GO_ON) return rc;
    xd_device_list *list = NULL;
    size_t *idx = NULL, nsel = 0;
    unsigned char *started = NULL;
    char workdir[1024];
    xd_report *rep = xd_report_create();
    rc = rep ? compare_devices(o.sel, &list, &idx, &nsel) : EXIT_USAGE;
    if (rc == CLI_GO_ON && o.drivers && !drivers_devices(o.drivers, &o.extra, &o.nextra)) rc = EXIT_USAGE;
    if (rc == CLI_GO_ON) rc = compare_work_folder(o.work, workdir, sizeof workdir);
    if (rc == CLI_GO_ON) rc = compare_plan(rep, &o, list, idx, nsel, workdir) ? CLI_GO_ON : EXIT_USAGE;
    if (rc == CLI_GO_ON && !(started = calloc(rep->nruns ? rep->nruns : 1, 1))) rc = EXIT_USAGE;
    if (rc == CLI_GO_ON) {
        int interrupted = schedule_runs(rep, &o, list, idx, nsel, started);
        rc = compare_finish(rep, &o, workdir, started, interrupted, argc, argv);
    }
    xd_report_destroy(rep);
    free(started);
    free(idx);
    free(o.extra);
    xd_device_list_destroy(list);
    return rc;
}
