/* libFuzzer entry point for the IDX parser: any input must yield XD_OK with
 * a consistent array, or an error with a zeroed one; never a crash or leak. */
#include "crossdev/io.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xd_idx_array a;
    xd_error err;
    if (xd_idx_parse(data, size, "fuzz", &a, &err) == XD_OK) {
        size_t count = 1;
        for (int i = 0; i < a.ndim; i++) count *= a.dims[i];
        if (a.ndim < 1 || a.ndim > XD_IDX_MAX_DIMS || !a.data || count != a.count) abort();
        /* Touch every element so ASan checks the allocation matches count. */
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < a.count; i++) sink ^= a.data[i];
        (void)sink;
    } else if (a.data || a.count) {
        abort();
    }
    xd_idx_free(&a);
    return 0;
}
