/* crossdev-compare's shared declarations: the subcommands (one file each),
 * the option parsing and device helpers they share, compare's scheduler,
 * and the platform calls (proc.c), which no subcommand makes itself. */
#ifndef XD_CLI_H
#define XD_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crossdev/crossdev.h"

#define EXIT_USAGE 2
/* What an option parser returns to say "go on"; anything else is the
 * status to exit with now (0 after --help). */
#define CLI_GO_ON (-1)

extern const char *const prog;

/* ---- the subcommands: list.c, probe.c (the internal __probe), run.c, diff.c, compare.c ---- */
int cmd_list(int argc, char **argv);
int cmd_probe_one(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_compare(int argc, char **argv);

/* ---- options.c ------------------------------------------------------------------------------ */
/* Strict numbers: the whole string; on failure a message naming the option
 * is printed and 0 returned. */
int parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out);
int parse_f64(const char *opt, const char *s, double *out);
/* "1,2,3,5": steps for --snapshot-at, in the order given (malloc'ed; out
 * NULL: only checked). */
int parse_step_list(const char *opt, const char *s, int64_t **out, size_t *n);

/* getopt_long over argv (getopt's own messages off): --help ('h') prints
 * usage and returns 0; every other option, ':' (no value) and '?'
 * (unknown) included, goes to take, which says what is wrong and returns 0,
 * and then EXIT_USAGE is returned.  CLI_GO_ON when all were taken. */
struct option;
typedef int (*option_fn)(int c, void *user, char **argv);
int parse_options(int argc, char **argv, const struct option *opts, option_fn take, void *user, void (*usage)(void));

/* The options diff and compare share: tolerances and report files. */
#define XD_MAX_IGNORE 16
typedef struct report_opts {
    xd_tolerance tol;
    const char *json, *html;
    const char *ignore[XD_MAX_IGNORE]; /* --ignore's globs: tol.ignore points here */
} report_opts;
#define REPORT_LONG_OPTS                                                                                 \
    {"tol-rel", required_argument, NULL, 'T'}, {"tol-loss", required_argument, NULL, 'U'},               \
        {"rounding-rel", required_argument, NULL, 'R'}, {"amplified-rel", required_argument, NULL, 'A'}, \
        {"ignore", required_argument, NULL, 'I'}, {"json", required_argument, NULL, 'J'},                \
    {                                                                                                    \
        "html", required_argument, NULL, 'W'                                                             \
    }
/* 1 taken, 0 a bad value (said), -1 not a report option. */
int report_option(int c, report_opts *ro);
/* diff.c: builds and prints the report, writes --json/--html; the exit status. */
int finish_report(xd_report *rep, const report_opts *ro);

/* ---- model_opts.c: what is trained (run resolves these, compare passes them on) ---------------- */
typedef struct model_opts {
    const char *model, *weights, *optimizer;         /* as given */
    const char *lr, *beta1, *beta2, *eps, *momentum; /* checked numbers, kept as text */
    int nesterov;
    const char *keras_backend; /* "jax" / "tensorflow": whose formula of the loss from probabilities */
} model_opts;
enum {
    MO_MODEL = 0x100,
    MO_WEIGHTS,
    MO_OPTIMIZER,
    MO_LR,
    MO_BETA1,
    MO_BETA2,
    MO_EPS,
    MO_MOMENTUM,
    MO_NESTEROV,
    MO_KERAS_BACKEND
};
#define MODEL_LONG_OPTS                                                                               \
    {"model", required_argument, NULL, MO_MODEL}, {"weights", required_argument, NULL, MO_WEIGHTS},   \
        {"optimizer", required_argument, NULL, MO_OPTIMIZER}, {"lr", required_argument, NULL, MO_LR}, \
        {"beta1", required_argument, NULL, MO_BETA1}, {"beta2", required_argument, NULL, MO_BETA2},   \
        {"eps", required_argument, NULL, MO_EPS}, {"momentum", required_argument, NULL, MO_MOMENTUM}, \
        {"keras-backend", required_argument, NULL, MO_KERAS_BACKEND},                                 \
    {                                                                                                 \
        "nesterov", no_argument, NULL, MO_NESTEROV                                                    \
    }
#define MODEL_USAGE                                                                                \
    "  --model NAME|FILE     seed-cnn (default), mnist-convnet, resnet, a Keras .keras file\n"     \
    "                        a model.to_json() file, or a PyTorch module's file from\n"            \
    "                        crossdev.torch.export (docs/models.md)\n"                             \
    "  --weights FILE        initial weights from a Keras .weights.h5 (default: the .keras\n"      \
    "                        file's own, else the initializers its config names)\n"                \
    "  --optimizer NAME      adam or sgd in the model's form (Keras's for a Keras model,\n"        \
    "                        PyTorch's for seed-cnn), or adam-keras, adam-pytorch,\n"              \
    "                        sgd-keras, sgd-pytorch (default: the file's compile_config)\n"        \
    "  --lr X --beta1 X --beta2 X --eps X   Adam's hyper-parameters\n"                             \
    "  --lr X --momentum X --nesterov       SGD's\n"                                               \
    "  --keras-backend jax|tensorflow   whose formula of a loss from probabilities (from_logits\n" \
    "                        false) to follow: JAX's and torch's (default) or TensorFlow's\n"
/* 1 taken, 0 a bad value (said), -1 not a model option. */
int model_option(int c, model_opts *t);
/* Loads the model (and its file's weights, or --weights) and settles the
 * optimizer: its file's, or --optimizer's defaults, then each
 * hyper-parameter given.  0 when something is wrong (said); w is then
 * empty, else the caller frees it (xd_weights_free). */
int model_opts_resolve(const model_opts *t, xd_model_spec *spec, xd_weights *w, xd_optimizer_spec *opt);
/* --optimizer and the hyper-parameters given, onto *opt (the model's or a
 * trace's optimizer); 0 when one is wrong (said). */
int model_opts_optimizer(const model_opts *t, const xd_model_spec *spec, xd_optimizer_spec *opt);
/* 1 when any model option was given. */
int model_opts_given(const model_opts *t);
/* 1 when --optimizer or one of its hyper-parameters was given. */
int model_opts_optimizer_given(const model_opts *t);
/* Appends the options given to args[na..] (at most 19 entries); the new count. */
size_t model_opts_args(const model_opts *t, const char **args, size_t na);

/* ---- devices.c ------------------------------------------------------------------------------ */
xd_device_list *load_devices(void);
/* The one device a selector names, or NULL (said). */
const xd_device_info *pick_one(xd_device_list *list, const char *sel);
/* The XD_FAULT test hook (docs/compare.md); 1: fail this device. */
int injected_fault(const xd_device_info *dev);

/* ---- probe.c: the self-test of one device in a child process (list --probe) ------------------- */
const char *probe_isolated(const xd_device_info *d, int timeout_s, char *msg, size_t cap);

/* ---- compare.c and its scheduler (scheduler.c) ---------------------------------------------- */
typedef struct compare_opts {
    report_opts ro;
    const char *sel, *modes_arg, *slow, *data_dir, *work;
    model_opts mo;
    char model_name[256]; /* for the title: "seed-cnn", "all_layers (all-layers.keras)" */
    int64_t steps, slow_steps, repeat, batch, timeout, jobs, seed;
    const char *op_outputs; /* --op-outputs-at, passed on with op hashes ("none": not) */
    int seed_random, synthetic, hash_ops;
    int want_modes[2];     /* indexed by xd_mode */
    const char *drivers;   /* --drivers: versions added with `drivers add` ("all"), or NULL */
    xd_device_info *extra; /* their devices (id only; platform_index UINT_MAX): each run in a process of its own */
    size_t nextra;
} compare_opts;
/* A device --slow marks (a case-insensitive substring of its id). */
int is_slow(const compare_opts *o, const char *id);
/* What became of each planned run (schedule_runs' started[]). */
enum { RUN_NOT_STARTED, RUN_FINISHED, RUN_STOPPED };
/* Runs every planned run of rep in its own process, o->jobs at once (slow
 * devices first), showing each running child's progress on one status
 * line, and records each outcome (trace, or the failure) and in started[i]
 * what became of it.  1 when interrupted (the running children are
 * stopped and their unfinished traces removed). */
int schedule_runs(xd_report *rep, const compare_opts *o, const xd_device_list *list, const size_t *idx, size_t nsel,
                  unsigned char *started);

/* ---- proc.c: the platform calls ---------------------------------------------------------------- */
typedef struct proc_result {
    int exit_status; /* -1 when ended by a signal */
    int term_signal; /* 0 when it exited */
} proc_result;
double proc_wall(void); /* monotonic seconds */
void proc_sleep_ms(long ms);
uint64_t proc_random_u64(void);
/* A file-size limit (ulimit -f) becomes a write error, not a kill. */
void proc_ignore_file_size_limit(void);
/* SIGINT and SIGTERM set the returned flag (which xd_train_config.stop
 * takes); proc_interrupt_status() is then 128 + that signal. */
volatile sig_atomic_t *proc_catch_interrupts(void);
int proc_interrupt_status(void);
/* This program (/proc/self/exe) run again with args, its stdout and stderr
 * into the file log; fork's result. */
pid_t proc_spawn_logged(const char *const args[], const char *log);
/* 1 ended (r filled), 0 still running, -1 waitpid failed. */
int proc_poll(pid_t pid, proc_result *r);
/* SIGTERM, so that the child can clean up; SIGKILL when it has not ended
 * after grace_s seconds; r may be NULL. */
void proc_stop(pid_t pid, int grace_s, proc_result *r);
/* This program run again with args, its stdout read into out (up to cap - 1
 * bytes, NUL-terminated) until it closes it or timeout_s passes (then it is
 * killed and *timed_out set).  -1 with msg when no child could start. */
int proc_capture(const char *const args[], int timeout_s, char *out, size_t cap, proc_result *r, int *timed_out,
                 char *msg, size_t msgcap);
/* The same for another program, args[0] (PATH searched). */
int proc_capture_program(const char *const args[], int timeout_s, char *out, size_t cap, proc_result *r, int *timed_out,
                         char *msg, size_t msgcap);
/* args[0] (PATH searched) run to its end, stdout and stderr appended to log
 * (NULL: this process's); 0 when it ran (r filled), -1 when it could not start. */
int proc_exec(const char *const args[], const char *log, proc_result *r);
/* 1 while process pid exists. */
int proc_alive(pid_t pid);

/* ---- drivers.c: vendor runtimes by version ------------------------------------------------------ */
int cmd_drivers(int argc, char **argv);
const char *drivers_dir(void);
/* --device SEL@VER: that driver's vendors folder and package into the
 * environment, SEL left in argv; CLI_GO_ON, or EXIT_USAGE (said). */
int drivers_select(int argc, char **argv);
/* list's section: each added driver's devices (children with its vendors). */
void drivers_print_added(FILE *out);
/* compare --drivers: the devices of the added drivers whose versions `which`
 * lists ("all": every one), with their ids (ID@VERSION) into a new array
 * *out; 0 with a message when a version was not added or gives no device. */
int drivers_devices(const char *which, xd_device_info **out, size_t *n);

#endif
