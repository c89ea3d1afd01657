/* The platform calls of crossdev-compare, in one place (libuv's src/unix):
 * running this program again as a child (/proc/self/exe), waiting for it,
 * killing it, its pipes, the signals, the clock.  The subcommands call these
 * and never fork, exec or read /proc themselves. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define SELF_EXE "/proc/self/exe"

static volatile sig_atomic_t g_stop = 0;
static volatile sig_atomic_t g_signal = 0;

static void on_signal(int sig)
{
    g_stop = 1;
    g_signal = sig;
}

double proc_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void proc_sleep_ms(long ms) { nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL); }

/* /dev/urandom, or the time and pid where it cannot be read. */
uint64_t proc_random_u64(void)
{
    uint64_t s = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&s, sizeof s, 1, f) != 1) s = (uint64_t)time(NULL) ^ (uint64_t)getpid();
    if (f) fclose(f);
    return s;
}

void proc_ignore_file_size_limit(void) { signal(SIGXFSZ, SIG_IGN); }

volatile sig_atomic_t *proc_catch_interrupts(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &g_stop;
}

int proc_interrupt_status(void) { return 128 + (g_signal ? g_signal : SIGINT); }

static void decode(int status, proc_result *r)
{
    if (WIFSIGNALED(status)) {
        r->term_signal = WTERMSIG(status);
        r->exit_status = -1;
    } else {
        r->term_signal = 0;
        r->exit_status = WEXITSTATUS(status);
    }
}

pid_t proc_spawn_logged(const char *const args[], const char *log)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    execv(SELF_EXE, (char *const *)args);
    perror("execv " SELF_EXE);
    _exit(127);
}

int proc_poll(pid_t pid, proc_result *r)
{
    int status = 0;
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == 0) return 0;
    if (w != pid) return -1;
    decode(status, r);
    return 1;
}

void proc_stop(pid_t pid, int grace_s, proc_result *r)
{
    int status = 0;
    kill(pid, SIGTERM);
    double end = proc_wall() + grace_s;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && proc_wall() < end) proc_sleep_ms(20);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    if (r) decode(status, r);
}

/* Reads the child's stdout until it closes it (or out is full) or the
 * deadline passes: 1 when the deadline passed. */
static int read_until(int fd, double deadline, char *out, size_t cap)
{
    size_t len = 0;
    int timed_out = 0;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    for (;;) {
        ssize_t got = read(fd, out + len, cap - 1 - len);
        if (got > 0) len += (size_t)got;
        if (got == 0) break; /* the child closed its end */
        if (proc_wall() > deadline) {
            timed_out = 1;
            break;
        }
        if (got < 0) proc_sleep_ms(20);
    }
    out[len] = '\0';
    return timed_out;
}

static int capture(const char *const args[], int self, int timeout_s, char *out, size_t cap, proc_result *r,
                   int *timed_out, char *msg, size_t msgcap);

int proc_capture(const char *const args[], int timeout_s, char *out, size_t cap, proc_result *r, int *timed_out,
                 char *msg, size_t msgcap)
{
    return capture(args, 1, timeout_s, out, cap, r, timed_out, msg, msgcap);
}

int proc_capture_program(const char *const args[], int timeout_s, char *out, size_t cap, proc_result *r, int *timed_out,
                         char *msg, size_t msgcap)
{
    return capture(args, 0, timeout_s, out, cap, r, timed_out, msg, msgcap);
}

int proc_alive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

int proc_exec(const char *const args[], const char *log, proc_result *r)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0666) : -1;
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execvp(args[0], (char *const *)args);
        _exit(127);
    }
    if (pid < 0) return -1;
    int status = 0;
    waitpid(pid, &status, 0);
    decode(status, r);
    return 0;
}

/* This program (self) or args[0] from PATH, its stdout read into out. */
static int capture(const char *const args[], int self, int timeout_s, char *out, size_t cap, proc_result *r,
                   int *timed_out, char *msg, size_t msgcap)
{
    int fds[2];
    out[0] = '\0';
    if (pipe(fds) != 0) {
        snprintf(msg, msgcap, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (self) execv(SELF_EXE, (char *const *)args);
        else execvp(args[0], (char *const *)args);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        snprintf(msg, msgcap, "fork: %s", strerror(errno));
        return -1;
    }
    double deadline = proc_wall() + timeout_s;
    *timed_out = read_until(fds[0], deadline, out, cap);
    if (*timed_out) kill(pid, SIGKILL);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    decode(status, r);
    return 0;
}
