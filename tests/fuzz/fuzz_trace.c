/* libFuzzer entry point for the trace.json reader: any input must yield a
 * validated trace whose arrays match its counts, or an error; never a crash
 * or a leak. */
#include <stdlib.h>

#include "io/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xd_trace *t = NULL;
    xd_error err;
    if (xd_trace_parse((const char *)data, size, "fuzz", &t, &err) == XD_OK) {
        volatile double sink = 0;
        /* touch every array to the length the counts promise (ASan checks) */
        for (int64_t k = 0; k < t->steps; ++k) sink += t->loss[k];
        for (size_t i = 0; i < (size_t)t->steps * t->ntensors; ++i) sink += (double)t->hashes[i];
        for (size_t i = 0; i < (size_t)t->steps * t->nops; ++i) sink += (double)t->op_hashes[i];
        for (size_t i = 0; i < t->nsnapshots; ++i)
            if (t->snapshots[i] < 0 || t->snapshots[i] > t->steps) abort();
        (void)sink;
        xd_trace_close(t);
    } else if (t) {
        abort();
    }
    return 0;
}
