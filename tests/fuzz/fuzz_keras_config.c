/* libFuzzer entry point for the Keras config parser (config.json or
 * model.to_json()): any input must yield a spec whose shapes infer, whose
 * variables are listed and whose JSON round trip gives the same spec and
 * text, or an error with a zeroed spec; never a crash or a leak. */
#include <stdlib.h>
#include <string.h>

#include "spec/keras.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_spec(const xd_model_spec *s)
{
    xd_layer_shape shapes[XD_MAX_LAYERS + 1];
    static xd_keras_vars vars;
    xd_model_spec back;
    if (s->nlayers < 1 || s->nlayers > XD_MAX_LAYERS || s->classes < 1) abort();
    if (xd_model_spec_shapes(s, shapes, NULL) != XD_OK || xd_keras_vars_of(s, &vars, NULL) != XD_OK) abort();
    char *text = xd_model_spec_json(s);
    if (!text || xd_model_spec_from_json(text, &back, NULL) != XD_OK) abort();
    char *again = xd_model_spec_json(&back);
    /* the text, not the bytes: "source" is not part of a config's spec */
    if (!again || strcmp(text, again) != 0) abort();
    free(text);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xd_model_spec s;
    xd_error err;
    if (xd_keras_config_parse((const char *)data, size, "fuzz.json", &s, &err) == XD_OK) {
        check_spec(&s);
    } else {
        static const xd_model_spec zero;
        if (memcmp(&s, &zero, sizeof s) != 0 || err.message[0] == '\0') abort();
    }
    return 0;
}
