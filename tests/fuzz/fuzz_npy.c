/* libFuzzer entry point for the .npy parser: any input must yield XD_OK with
 * a consistent array, or an error with a zeroed one; never a crash or leak. */
#include "crossdev/io.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xd_npy_array a;
    xd_error err;
    if (xd_npy_parse(data, size, "fuzz", &a, &err) == XD_OK) {
        /* Touch every element so ASan checks the allocation matches count. */
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < a.count * 4; i++) sink ^= ((const uint8_t *)a.data)[i];
        (void)sink;
        if (a.ndim < 0 || a.ndim > XD_NPY_MAX_DIMS || !a.data) abort();
    } else if (a.data || a.count) {
        abort();
    }
    xd_npy_free(&a);
    return 0;
}
