/* libFuzzer entry point for the weights reader (HDF5's core driver on an
 * image in memory, then our checks of groups, types, shapes): any input
 * must yield the model's weights with the shapes it needs, or an error
 * with nothing allocated.  The model is the small one of the seed corpus
 * (tests/fixtures/keras/tiny.json: Conv2D 2x3x3 on 6x6x1, Flatten, Dense 3).
 *
 * By default the target runs what crossdev runs, xd_keras_h5_parse, which
 * parses in a child process: an HDF5 crash must come back as an error.
 * The child's coverage is not seen by libFuzzer, so to fuzz HDF5 and our
 * checks themselves set XD_FUZZ_H5_HERE=1 (xd_keras_h5_parse_here, in
 * process): HDF5 1.10.8 then crashes within minutes (NULL reads in
 * H5F__accum_read; tests/fixtures/keras/hdf5-crash.weights.h5 is one),
 * which is what the child process is for. */
#include <pthread.h>
#include <sanitizer/common_interface_defs.h>
#include <stdlib.h>
#include <string.h>

#include "spec/keras.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void tiny(xd_model_spec *s)
{
    memset(s, 0, sizeof *s);
    s->in_h = s->in_w = 6;
    s->in_c = 1;
    s->nlayers = 3;
    s->layers[0] = (xd_layer_spec){
        .type = XD_LAYER_CONV2D, .name = "conv2d", .filters = 2, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .use_bias = 1};
    s->layers[1] = (xd_layer_spec){.type = XD_LAYER_FLATTEN, .name = "flatten"};
    s->layers[2] = (xd_layer_spec){.type = XD_LAYER_DENSE, .name = "dense", .units = 3, .use_bias = 1};
}

/* In xd_keras_h5_parse's child, a sanitizer report must end the child
 * alone, not run libFuzzer's death callback (which saves the input as a
 * crash of the target). */
static void in_child(void) { __sanitizer_set_death_callback(NULL); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static xd_model_spec spec;
    static int ready, here;
    if (!ready) {
        tiny(&spec);
        here = getenv("XD_FUZZ_H5_HERE") != NULL;
        pthread_atfork(NULL, NULL, in_child);
        ready = 1;
    }
    xd_weights w;
    xd_error err;
    xd_status st = here ? xd_keras_h5_parse_here(data, size, "fuzz.weights.h5", &spec, &w, &err)
                        : xd_keras_h5_parse(data, size, "fuzz.weights.h5", &spec, &w, &err);
    if (st == XD_OK) {
        static const size_t counts[4] = {18, 2, 96, 3};
        volatile float sink = 0;
        if (w.n != 4) abort();
        for (size_t i = 0; i < w.n; i++) {
            if (w.items[i].count != counts[i]) abort();
            for (size_t e = 0; e < w.items[i].count; e++) sink += w.items[i].data[e];
        }
        (void)sink;
    } else if (w.n || w.items) {
        abort();
    }
    xd_weights_free(&w);
    return 0;
}
