/* compare's jobs: each planned run is this program's `run` in a child
 * process (proc.c), up to --jobs at once (slow devices first), each with a
 * timeout.  A child that ends is judged by its exit status and its trace;
 * a failed one keeps the tail of its log as the reason.  While they run,
 * each child's progress (the `progress:` lines `run --progress` writes to
 * its log) is shown on one status line per child. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/common.h"

/* A child run of compare. */
typedef struct child {
    pid_t pid;
    double start;
    size_t run;
    char status[160]; /* its last progress line, "" before the first */
    double shown;     /* when its status was last printed (not on a terminal) */
} child;

typedef struct scheduler {
    xd_report *rep;
    const compare_opts *o;
    const xd_device_list *list;
    const size_t *idx;
    size_t nsel;
    unsigned char *started;
    child *kids;
    size_t running;
    char seed_s[32], batch_s[32];
    int tty;       /* stderr is a terminal: status lines are redrawn in place */
    int drawn;     /* status lines on the screen now */
    double polled; /* when the logs were last read */
} scheduler;

/* Seconds a child gets to clean up after SIGTERM before SIGKILL. */
#define STOP_GRACE_S 5

/* The last `cap - 1` bytes of a file, NUL-terminated ("" when unreadable). */
static void file_tail(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)cap - 1 ? size - (long)cap + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
}

/* The last non-empty lines of a child's log, on one line, without its
 * progress lines. */
static void tail_of(const char *path, char *out, size_t cap)
{
    char buf[4096];
    file_tail(path, buf, sizeof buf);
    size_t len = 0;
    out[0] = '\0';
    for (char *save = NULL, *line = strtok_r(buf, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
        if (*line && strncmp(line, "progress: ", 10) != 0 && len < cap)
            len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? " " : "", line);
}

static const char *run_name(const xd_run_record *run)
{
    const char *slash = strrchr(run->trace_dir, '/');
    return slash ? slash + 1 : run->trace_dir;
}

/* Clears the status lines (terminal only), so that an event line can be
 * printed above them; draw_status puts them back. */
static void clear_status(scheduler *s)
{
    for (; s->tty && s->drawn > 0; --s->drawn) fputs("\033[1A\033[2K", stderr);
}

static void draw_status(scheduler *s)
{
    if (!s->tty || s->drawn) return;
    for (size_t k = 0; k < (size_t)s->o->jobs; ++k) {
        const child *c = &s->kids[k];
        if (!c->pid) continue;
        fprintf(stderr, "  %.60s: %s (%.0f s)\n", run_name(&s->rep->runs[c->run]),
                c->status[0] ? c->status : "starting", proc_wall() - c->start);
        ++s->drawn;
    }
}

/* An event line (started, finished, FAILED) above the status lines. */
static void say(scheduler *s, const char *fmt, ...)
{
    va_list ap;
    clear_status(s);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* Every second: each child's last progress line from its log; redrawn on a
 * terminal, else printed every 30 s per child. */
static void show_progress(scheduler *s)
{
    if (proc_wall() - s->polled < 1.0) return;
    s->polled = proc_wall();
    clear_status(s);
    for (size_t k = 0; k < (size_t)s->o->jobs; ++k) {
        child *c = &s->kids[k];
        if (!c->pid) continue;
        char log[1100], buf[1024], status[sizeof c->status] = "";
        snprintf(log, sizeof log, "%s.log", s->rep->runs[c->run].trace_dir);
        file_tail(log, buf, sizeof buf);
        for (char *p = strstr(buf, "progress: "); p; p = strstr(p + 1, "progress: "))
            snprintf(status, sizeof status, "%.*s", (int)strcspn(p + 10, "\r\n"), p + 10);
        if (status[0]) snprintf(c->status, sizeof c->status, "%s", status);
        /* off a terminal: every 30 s, so that a slow device never goes silent */
        if (!s->tty && proc_wall() - c->shown >= 30) {
            fprintf(stderr, "  %s: %s (%.0f s)\n", run_name(&s->rep->runs[c->run]),
                    c->status[0] ? c->status : "starting", proc_wall() - c->start);
            c->shown = proc_wall();
        }
    }
    draw_status(s);
}

/* The next run to start: slow devices first, so that they overlap with
 * the rest; SIZE_MAX when every run has started. */
static size_t next_run(const scheduler *s)
{
    for (int pass = 0; pass < 2; ++pass)
        for (size_t i = 0; i < s->rep->nruns; ++i)
            if (s->started[i] == RUN_NOT_STARTED && (pass || is_slow(s->o, s->rep->runs[i].device_id))) return i;
    return SIZE_MAX;
}

static const xd_device_info *selected_device(const scheduler *s, const char *id)
{
    const xd_device_info *d = NULL;
    for (size_t i = 0; i < s->nsel; ++i)
        if (strcmp(xd_device_list_get(s->list, s->idx[i])->id, id) == 0) d = xd_device_list_get(s->list, s->idx[i]);
    for (size_t i = 0; i < s->o->nextra; ++i) /* a driver version's device: chosen in the child by its id */
        if (strcmp(s->o->extra[i].id, id) == 0) d = &s->o->extra[i];
    return d;
}

/* The child's command line: `run` on its device with compare's options. */
static void child_args(const scheduler *s, const xd_run_record *run, const xd_device_info *d, char *pd, char *steps_s,
                       const char *args[48])
{
    const compare_opts *o = s->o;
    int na = 0;
    if (d->platform_index == UINT_MAX) snprintf(pd, 384, "%s", d->id); /* ID@VERSION: the child loads that driver */
    else snprintf(pd, 384, "%u:%u", d->platform_index, d->device_index);
    snprintf(steps_s, 32, "%lld", (long long)run->steps_asked);
    const char *base[] = {prog,      "run",   "--device", pd,        "--mode",  run->mode,  "--out",     run->trace_dir,
                          "--steps", steps_s, "--seed",   s->seed_s, "--batch", s->batch_s, "--progress"};
    for (size_t i = 0; i < sizeof base / sizeof *base; ++i) args[na++] = base[i];
    if (o->hash_ops) args[na++] = "--hash-ops";
    if (o->hash_ops && strcmp(o->op_outputs, "none") != 0) args[na++] = "--op-outputs-at", args[na++] = o->op_outputs;
    if (is_slow(o, d->id)) args[na++] = "--eval-limit", args[na++] = "0";
    if (o->synthetic) args[na++] = "--synthetic";
    if (o->data_dir) args[na++] = "--data", args[na++] = o->data_dir;
    na = (int)model_opts_args(&o->mo, args, (size_t)na);
    args[na] = NULL;
}

/* Starts run i in a free slot, its output in TRACE.log; a child that
 * cannot be made is that run's failure, and takes no slot. */
static void start_child(scheduler *s, size_t i)
{
    xd_run_record *run = &s->rep->runs[i];
    const xd_device_info *d = selected_device(s, run->device_id);
    char pd[384], log[1100], steps_s[32];
    const char *args[48];
    s->started[i] = RUN_FINISHED; /* until it is stopped */
    snprintf(log, sizeof log, "%s.log", run->trace_dir);
    if (d) child_args(s, run, d, pd, steps_s, args);
    pid_t pid = d ? proc_spawn_logged(args, log) : -1;
    if (pid < 0) {
        run->failed = 1;
        snprintf(run->error, sizeof run->error, "could not start the run: %s",
                 d ? strerror(errno) : "its device is not in the selection");
        say(s, "  FAILED %s [%s] #%d: %s\n", run->device_id, run->mode, run->repeat, run->error);
        return;
    }
    size_t slot = 0;
    while (s->kids[slot].pid) ++slot;
    s->kids[slot] = (child){.pid = pid, .start = proc_wall(), .run = i, .shown = proc_wall()};
    ++s->running;
    say(s, "  started %s [%s] #%d (%lld steps)\n", run->device_id, run->mode, run->repeat, (long long)run->steps_asked);
}

/* A child's outcome into its run record: a usable trace, or the reason it
 * failed. */
static void record_result(scheduler *s, xd_run_record *run, const proc_result *r)
{
    char log[1100];
    xd_error err;
    snprintf(log, sizeof log, "%s.log", run->trace_dir);
    run->term_signal = r->term_signal;
    run->exit_status = r->exit_status;
    /* exit 1 = a NaN/Inf was recorded: the trace exists and is compared */
    int usable = !run->timed_out && !run->term_signal && (run->exit_status == 0 || run->exit_status == 1);
    if (usable && xd_report_open_trace(s->rep, (size_t)(run - s->rep->runs), &err) != XD_OK) {
        snprintf(run->error, sizeof run->error, "%s", err.message);
        usable = 0;
    }
    if (!usable) {
        char tail[sizeof run->error];
        run->failed = 1;
        tail_of(log, tail, sizeof tail);
        if (run->timed_out)
            snprintf(run->error, sizeof run->error, "timed out after %lld s%s%.900s", (long long)s->o->timeout,
                     tail[0] ? "; " : "", tail);
        else if (!run->error[0]) snprintf(run->error, sizeof run->error, "%s", tail);
    }
    say(s, "  %s %s [%s] #%d in %.1f s\n", usable ? "finished" : "FAILED", run->device_id, run->mode, run->repeat,
        run->seconds);
}

/* SIGTERM (the child removes its unfinished trace), SIGKILL after the
 * grace period; whatever it left under TRACE.tmp-PID goes too. */
static void stop_child(const child *k, const xd_run_record *run, proc_result *r)
{
    proc_stop(k->pid, STOP_GRACE_S, r);
    char tmp[XD_PATH_MAX];
    if (xd_path(tmp, sizeof tmp, NULL, "%s.tmp-%ld", run->trace_dir, (long)k->pid) == XD_OK && xd_path_exists(tmp))
        xd_remove_tree(tmp);
}

/* Collects the child in slot k if it ended, stopping it past --timeout. */
static void reap_child(scheduler *s, child *k)
{
    xd_run_record *run = &s->rep->runs[k->run];
    proc_result r = {0, 0};
    int ended = proc_poll(k->pid, &r);
    if (ended == 0 && proc_wall() - k->start > (double)s->o->timeout) {
        stop_child(k, run, &r);
        run->timed_out = 1;
        ended = 1;
    }
    if (ended == 0) return;
    if (ended < 0) r = (proc_result){-1, 0};
    run->seconds = proc_wall() - k->start;
    k->pid = 0;
    --s->running;
    record_result(s, run, &r);
}

/* After an interrupt: every running child stopped, its run marked so. */
static void stop_all(scheduler *s)
{
    clear_status(s);
    for (size_t k = 0; k < (size_t)s->o->jobs; ++k) {
        child *c = &s->kids[k];
        if (!c->pid) continue;
        stop_child(c, &s->rep->runs[c->run], NULL);
        s->started[c->run] = RUN_STOPPED;
        c->pid = 0;
    }
}

int schedule_runs(xd_report *rep, const compare_opts *o, const xd_device_list *list, const size_t *idx, size_t nsel,
                  unsigned char *started)
{
    scheduler s = {rep, o, list, idx, nsel, started, NULL, 0, "", "", isatty(STDERR_FILENO), 0, 0};
    volatile sig_atomic_t *stop = proc_catch_interrupts();
    s.kids = calloc((size_t)o->jobs, sizeof *s.kids);
    if (!s.kids) {
        fprintf(stderr, "%s: out of memory\n", prog);
        for (size_t i = 0; i < rep->nruns; ++i) rep->runs[i].failed = 1, started[i] = RUN_FINISHED;
        return 0;
    }
    snprintf(s.seed_s, sizeof s.seed_s, "%lld", (long long)o->seed);
    snprintf(s.batch_s, sizeof s.batch_s, "%lld", (long long)o->batch);
    size_t next;
    while (((next = next_run(&s)) != SIZE_MAX || s.running) && !*stop) {
        for (; next != SIZE_MAX && s.running < (size_t)o->jobs && !*stop; next = next_run(&s)) start_child(&s, next);
        proc_sleep_ms(50);
        for (size_t k = 0; k < (size_t)o->jobs; ++k)
            if (s.kids[k].pid) reap_child(&s, &s.kids[k]);
        show_progress(&s);
    }
    clear_status(&s);
    int interrupted = *stop != 0;
    if (interrupted) stop_all(&s);
    free(s.kids);
    return interrupted;
}
