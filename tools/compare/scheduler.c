/* compare's jobs: each planned run is this program's `run` in a child
 * process (proc.c), up to --jobs at once, each with a timeout.  A child that
 * ends is judged by its exit status and its trace; a failed one keeps the
 * tail of its log as the reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A child run of compare. */
typedef struct child {
    pid_t pid;
    double start;
    size_t run;
} child;

typedef struct scheduler {
    xd_report *rep;
    const compare_opts *o;
    const xd_device_list *list;
    const size_t *idx;
    size_t nsel;
    child *kids;
    size_t next, running;
    char seed_s[32], batch_s[32];
} scheduler;

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

static const xd_device_info *selected_device(const scheduler *s, const char *id)
{
    const xd_device_info *d = NULL;
    for (size_t i = 0; i < s->nsel; ++i)
        if (strcmp(xd_device_list_get(s->list, s->idx[i])->id, id) == 0) d = xd_device_list_get(s->list, s->idx[i]);
    return d;
}

/* Starts the next run in a free slot: `run` on its device, its output in
 * TRACE.log.  0 when its device is not in the selection (cannot happen:
 * every run was made from it). */
static int start_child(scheduler *s)
{
    const compare_opts *o = s->o;
    xd_run_record *run = &s->rep->runs[s->next];
    const xd_device_info *d = selected_device(s, run->device_id);
    char pd[32], log[1100], steps_s[32];
    if (!d) return 0;
    snprintf(pd, sizeof pd, "%u:%u", d->platform_index, d->device_index);
    snprintf(steps_s, sizeof steps_s, "%lld", (long long)run->steps_asked);
    snprintf(log, sizeof log, "%s.log", run->trace_dir);
    int slow_dev = *o->slow && strstr(d->id, o->slow) != NULL;
    const char *args[48] = {prog,           "run",     "--device", pd,       "--mode",  run->mode, "--out",
                            run->trace_dir, "--steps", steps_s,    "--seed", s->seed_s, "--batch", s->batch_s};
    int na = 14;
    if (o->hash_ops) args[na++] = "--hash-ops";
    if (slow_dev) args[na++] = "--eval-limit", args[na++] = "0";
    if (o->synthetic) args[na++] = "--synthetic";
    if (o->data_dir) args[na++] = "--data", args[na++] = o->data_dir;
    na = (int)model_opts_args(&o->mo, args, (size_t)na);
    args[na] = NULL;
    size_t slot = 0;
    while (s->kids[slot].pid) ++slot;
    s->kids[slot].pid = proc_spawn_logged(args, log);
    s->kids[slot].start = proc_wall();
    s->kids[slot].run = s->next;
    fprintf(stderr, "  started %s [%s] #%d (%lld steps)\n", run->device_id, run->mode, run->repeat,
            (long long)run->steps_asked);
    ++s->next;
    ++s->running;
    return 1;
}

/* A child's outcome into its run record: a usable trace, or the reason it
 * failed. */
static void record_result(const scheduler *s, xd_run_record *run, const proc_result *r)
{
    char log[1100];
    xd_error err;
    snprintf(log, sizeof log, "%s.log", run->trace_dir);
    run->term_signal = r->term_signal;
    run->exit_status = r->exit_status;
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
            snprintf(t, sizeof t, "timed out after %lld s; %s", (long long)s->o->timeout, run->error);
            snprintf(run->error, sizeof run->error, "%s", t);
        }
    }
    fprintf(stderr, "  %s %s [%s] #%d in %.1f s\n", usable ? "finished" : "FAILED", run->device_id, run->mode,
            run->repeat, run->seconds);
}

/* Collects the child in slot k if it ended, killing it past --timeout. */
static void reap_child(scheduler *s, child *k)
{
    xd_run_record *run = &s->rep->runs[k->run];
    proc_result r = {0, 0};
    int ended = proc_poll(k->pid, &r);
    if (ended == 0 && proc_wall() - k->start > (double)s->o->timeout) {
        proc_kill(k->pid, 1, &r);
        run->timed_out = 1;
        ended = 1;
    }
    if (ended != 1) return;
    run->seconds = proc_wall() - k->start;
    record_result(s, run, &r);
    k->pid = 0;
    --s->running;
}

int schedule_runs(xd_report *rep, const compare_opts *o, const xd_device_list *list, const size_t *idx, size_t nsel)
{
    scheduler s = {rep, o, list, idx, nsel, NULL, 0, 0, "", ""};
    volatile sig_atomic_t *stop = proc_catch_interrupts();
    s.kids = calloc((size_t)o->jobs, sizeof *s.kids);
    snprintf(s.seed_s, sizeof s.seed_s, "%lld", (long long)o->seed);
    snprintf(s.batch_s, sizeof s.batch_s, "%lld", (long long)o->batch);
    while ((s.next < rep->nruns || s.running) && !*stop) {
        while (s.next < rep->nruns && s.running < (size_t)o->jobs)
            if (!start_child(&s)) break;
        proc_sleep_ms(50);
        for (size_t k = 0; k < (size_t)o->jobs; ++k)
            if (s.kids[k].pid) reap_child(&s, &s.kids[k]);
    }
    int interrupted = *stop != 0;
    for (size_t k = 0; interrupted && k < (size_t)o->jobs; ++k)
        if (s.kids[k].pid) proc_kill(s.kids[k].pid, 0, NULL);
    free(s.kids);
    return interrupted;
}
