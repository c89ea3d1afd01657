/* libFuzzer entry point for the .keras archive reader (libzip on bytes in
 * memory): any input must yield config.json and model.weights.h5 of the
 * sizes reported, or an error with nothing allocated; never a crash, a
 * leak or an allocation beyond the limits. */
#include <stdlib.h>

#include "spec/keras.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xd_keras_archive a;
    xd_error err;
    if (xd_keras_zip_read(data, size, "fuzz.keras", &a, &err) == XD_OK) {
        volatile unsigned char sink = 0;
        /* touch every byte the lengths promise (ASan checks), and the NUL */
        for (size_t i = 0; i <= a.config_len; i++) sink ^= (unsigned char)a.config[i];
        for (size_t i = 0; i < a.weights_len; i++) sink ^= a.weights[i];
        (void)sink;
        if (a.config[a.config_len] != '\0' || a.config_len > XD_KERAS_MAX_CONFIG) abort();
    } else if (a.config || a.weights) {
        abort();
    }
    xd_keras_archive_free(&a);
    return 0;
}
