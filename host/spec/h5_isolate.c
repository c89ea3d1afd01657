/* HDF5 behind a process boundary.  HDF5 1.10.8 (Debian 12) is not robust
 * against hostile files: fuzz_h5 finds NULL reads in its metadata
 * accumulator (H5F__accum_read under H5Lexists), leaks on error paths and
 * allocations of whatever size a corrupt header claims.  A .keras file is
 * user input, so its weights are parsed in a child process: the child
 * runs xd_keras_h5_parse_here and sends the status, the message and the
 * weights' floats (in the order the parent computed from the spec) down a
 * pipe; a child that dies is a refused file, never a crashed crossdev.
 * The parent trusts nothing but the float bits: names, shapes and counts
 * are its own. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spec/keras.h"

static int put(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return 0;
        b += w, n -= (size_t)w;
    }
    return 1;
}

static int get(int fd, void *p, size_t n)
{
    unsigned char *b = p;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        b += r, n -= (size_t)r;
    }
    return 1;
}

/* The child: parse, answer, and leave without running the parent's
 * atexit handlers or flushing its stdio buffers (_exit).  A fault ends it
 * at once: the application's crash handlers are not run for a helper. */
static void child(int fd, const void *buf, size_t len, const char *file, const xd_model_spec *spec)
{
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) signal(faults[i], SIG_DFL);
    xd_weights w;
    xd_error e;
    xd_error_clear(&e);
    int32_t st = (int32_t)xd_keras_h5_parse_here(buf, len, file, spec, &w, &e);
    int ok = put(fd, &st, sizeof st) && put(fd, e.message, sizeof e.message);
    for (size_t i = 0; ok && st == XD_OK && i < w.n; i++)
        ok = put(fd, w.items[i].data, w.items[i].count * sizeof(float));
    _exit(ok ? 0 : 3);
}

/* out's items for vs, their floats read from fd. */
static int receive(int fd, const xd_keras_vars *vs, xd_weights *out)
{
    out->items = calloc(vs->n ? vs->n : 1, sizeof *out->items);
    if (!out->items) return 0;
    for (size_t i = 0; i < vs->n; i++) {
        const xd_keras_var *v = &vs->v[i];
        xd_weight *x = &out->items[i];
        x->data = malloc(v->count * sizeof(float));
        out->n = i + 1;
        if (!x->data || !get(fd, x->data, v->count * sizeof(float))) return 0;
        snprintf(x->name, sizeof x->name, "%s", v->name);
        x->ndim = v->ndim;
        memcpy(x->shape, v->shape, sizeof x->shape);
        x->count = v->count;
    }
    return 1;
}

/* How the child ended, for the message ("" when it exited 0). */
static void child_end(pid_t pid, char *why, size_t cap)
{
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR) continue;
    why[0] = '\0';
    if (r < 0) return; /* SIGCHLD ignored by the application: the answer alone decides */
    if (WIFSIGNALED(status)) snprintf(why, cap, "HDF5 crashed reading it (signal %d)", WTERMSIG(status));
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        snprintf(why, cap, "HDF5's reader failed (exit status %d)", WEXITSTATUS(status));
}

static xd_status run_child(const void *buf, size_t len, const char *file, const xd_model_spec *spec,
                           const xd_keras_vars *vs, xd_weights *out, xd_error *err)
{
    int fds[2];
    if (pipe(fds) != 0) return xd_error_set(err, XD_IO, 0, "%s: pipe: %s", file, strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child(fds[1], buf, len, file, spec);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return xd_error_set(err, XD_IO, 0, "%s: fork: %s", file, strerror(errno));
    }
    int32_t st = -1;
    static char msg[XD_ERROR_MESSAGE_LEN]; /* not on the stack: 4 KiB */
    int got = get(fds[0], &st, sizeof st) && get(fds[0], msg, sizeof msg);
    if (got && st == XD_OK) got = receive(fds[0], vs, out);
    close(fds[0]);
    char why[96];
    child_end(pid, why, sizeof why);
    if (why[0] || !got)
        return xd_error_set(err, XD_FORMAT, 0, "%s: %s: a corrupt HDF5 file", file, why[0] ? why : "no answer");
    msg[sizeof msg - 1] = '\0';
    if (st != XD_OK)
        return xd_error_set(err, st >= 0 && st < XD_STATUS_COUNT_ ? (xd_status)st : XD_FORMAT, 0, "%s", msg);
    return XD_OK;
}

xd_status xd_keras_h5_parse(const void *buf, size_t len, const char *file, const xd_model_spec *spec, xd_weights *out,
                            xd_error *err)
{
    memset(out, 0, sizeof *out);
    xd_keras_vars *vs = malloc(sizeof *vs);
    if (!vs) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory", file);
    xd_status st = xd_keras_vars_of(spec, vs, err);
    if (st == XD_OK) st = run_child(buf, len, file, spec, vs, out, err);
    free(vs);
    if (st != XD_OK) xd_weights_free(out);
    return st;
}
