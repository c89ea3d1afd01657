/* Conv2D's and Dense's kernel_regularizer and bias_regularizer: Keras's L2
 * (and L1L2 without its L1 part, which Keras computes as the same L2:
 * 0.0 + l2 * sum(square(w))) as the factor l2; anything else refused
 * naming its class.  Keras adds l2 * sum(square(w)) of each regularized
 * variable to the loss; crossdev's training does the same (docs/models.md). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "spec/keras.h"

#define SUPPORTED "only L2, or L1L2 with l1 0"

/* A factor of the regularizer's config: absent or null is Keras's default. */
static xd_status factor(const xd_kopts *o, const char *key, double def, double *out)
{
    json_t *v = json_object_get(o->cfg, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return XD_OK;
    }
    return xd_kopt_number(o, key, def, 0, 1e30, 1, out);
}

/* o->cfg[key] (a regularizer, null or absent) into *l2 (0: none). */
static xd_status regularizer(const xd_kopts *layer, const char *key, double *l2)
{
    json_t *v = json_object_get(layer->cfg, key);
    *l2 = 0;
    if (!v || json_is_null(v)) return XD_OK;
    const char *s = json_string_value(v); /* "l2": Keras's L2() */
    if (s && (strcmp(s, "l2") == 0 || strcmp(s, "L2") == 0)) {
        *l2 = 0.01;
        return XD_OK;
    }
    const char *cls = s ? s : json_string_value(json_object_get(v, "class_name"));
    json_t *cfg = json_object_get(v, "config");
    int is_l2 = cls && strcmp(cls, "L2") == 0, is_l1l2 = cls && strcmp(cls, "L1L2") == 0;
    if ((!is_l2 && !is_l1l2) || !json_is_object(cfg)) {
        char t[128];
        if (cls) snprintf(t, sizeof t, "%s", cls);
        else xd_keras_json_text(v, t, sizeof t);
        return xd_kopt_refuse(layer, "%s %s is not supported (%s)", key, t, SUPPORTED);
    }
    xd_kopts o = {layer->file, "", cfg, layer->err};
    snprintf(o.where, sizeof o.where, "%s: %s %s", layer->where, key, cls);
    double l1 = 0;
    XD_TRY(factor(&o, "l2", is_l2 ? 0.01 : 0.0, l2));
    if (is_l1l2) {
        XD_TRY(factor(&o, "l1", 0.0, &l1));
        if (l1 != 0) return xd_kopt_unsupported(&o, "l1", "only 0: the L1 penalty is not supported");
    }
    static const char *const known_l2[] = {"l2", NULL}, *const known_l1l2[] = {"l1", "l2", NULL};
    return xd_kopt_unknown(&o, is_l2 ? known_l2 : known_l1l2);
}

xd_status xd_keras_regularizers(const xd_kopts *o, xd_layer_spec *s)
{
    XD_TRY(regularizer(o, "kernel_regularizer", &s->kernel_l2));
    XD_TRY(regularizer(o, "bias_regularizer", &s->bias_l2));
    if (!s->use_bias) s->bias_l2 = 0; /* Keras makes no bias to regularize */
    return XD_OK;
}
