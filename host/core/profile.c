/* Per-kernel profiling for XD_PROFILE=1: the device's own event times
 * (CL_PROFILING_COMMAND_START/END) summed per kernel, printed to stderr
 * when the context goes.  Events are drained every XD_PROFILE_BATCH
 * launches so a long run holds a bounded number of them.  CLBlast calls
 * are timed by the host around a clFinish (its returned event covers only
 * its last kernel), under the row "clblast_sgemm". */
#include <stdio.h>
#include <stdlib.h>

#include "core.h"

#define XD_PROFILE_BATCH 1024
#define XD_PROFILE_ROWS (XD_K_COUNT_ + 1) /* + the CLBlast row */

typedef struct xd_profile {
    cl_event ev[XD_PROFILE_BATCH];
    int kernel[XD_PROFILE_BATCH];
    size_t pending;
    double ns[XD_PROFILE_ROWS];
    unsigned long long launches[XD_PROFILE_ROWS];
} xd_profile;

xd_profile *xd_profile_create(void) { return calloc(1, sizeof(xd_profile)); }

static void drain(xd_profile *p)
{
    for (size_t i = 0; i < p->pending; ++i) {
        cl_ulong t0 = 0, t1 = 0;
        if (clWaitForEvents(1, &p->ev[i]) == CL_SUCCESS &&
            clGetEventProfilingInfo(p->ev[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL) == CL_SUCCESS &&
            clGetEventProfilingInfo(p->ev[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL) == CL_SUCCESS && t1 >= t0)
            p->ns[p->kernel[i]] += (double)(t1 - t0);
        p->launches[p->kernel[i]]++;
        clReleaseEvent(p->ev[i]);
    }
    p->pending = 0;
}

void xd_profile_record(xd_context *ctx, int kernel, cl_event ev)
{
    xd_profile *p = ctx->profile;
    if (kernel < 0 || kernel >= XD_PROFILE_ROWS) {
        if (ev) clReleaseEvent(ev);
        return;
    }
    if (p->pending == XD_PROFILE_BATCH) drain(p);
    p->ev[p->pending] = ev;
    p->kernel[p->pending] = kernel;
    p->pending++;
}

void xd_profile_add_host(xd_context *ctx, double ns)
{
    xd_profile *p = ctx->profile;
    p->ns[XD_K_COUNT_] += ns;
    p->launches[XD_K_COUNT_]++;
}

void xd_profile_report(xd_context *ctx)
{
    xd_profile *p = ctx->profile;
    static const char *const names[XD_PROFILE_ROWS] = {
#define XD_PROFILE_NAME_(name) #name,
        XD_KERNEL_LIST(XD_PROFILE_NAME_)
#undef XD_PROFILE_NAME_
            "clblast_sgemm (host-timed)"};
    drain(p);
    int order[XD_PROFILE_ROWS];
    double total = 0;
    for (int i = 0; i < XD_PROFILE_ROWS; ++i) {
        order[i] = i;
        total += p->ns[i];
    }
    for (int i = 1; i < XD_PROFILE_ROWS; ++i) /* insertion sort, by time descending */
        for (int j = i; j > 0 && p->ns[order[j]] > p->ns[order[j - 1]]; --j) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    fprintf(stderr, "crossdev profile (%s, %s mode, tunables row '%s'): kernel time from OpenCL events\n",
            ctx->device.id, ctx->mode == XD_MODE_FAST ? "fast" : "reproducible", ctx->params.source);
    fprintf(stderr, "  %-32s %10s %12s %10s %6s\n", "kernel", "launches", "total ms", "us/launch", "share");
    for (int j = 0; j < XD_PROFILE_ROWS; ++j) {
        int i = order[j];
        if (!p->launches[i]) continue;
        fprintf(stderr, "  %-32s %10llu %12.2f %10.1f %5.1f%%\n", names[i], p->launches[i], p->ns[i] / 1e6,
                p->ns[i] / 1e3 / (double)p->launches[i], total > 0 ? 100.0 * p->ns[i] / total : 0.0);
    }
    fprintf(stderr, "  %-32s %10s %12.2f\n", "total", "", total / 1e6);
}

void xd_profile_destroy(xd_profile *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->pending; ++i) clReleaseEvent(p->ev[i]);
    free(p);
}
