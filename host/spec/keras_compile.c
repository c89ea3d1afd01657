/* A Keras config's compile_config: the loss and the optimizer.
 *
 * Loss: sparse categorical cross-entropy, by name or as the
 * SparseCategoricalCrossentropy object with from_logits (absent: false,
 * Keras's default).  Optimizer: Adam (learning_rate, beta_1, beta_2,
 * epsilon) as adam-keras, SGD (learning_rate, momentum, nesterov) as
 * sgd-keras; the learning rate is kept exactly as the file gives it (Keras
 * writes its float32 value, 0.0010000000474974513), or is a schedule
 * (lr_schedule.c; lr then its starting rate). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/keras.h"

#define LOSS_LIST "only sparse_categorical_crossentropy or SparseCategoricalCrossentropy"

static int is_sparse_cce(const char *s)
{
    return s && (strcmp(s, "sparse_categorical_crossentropy") == 0 || strcmp(s, "SparseCategoricalCrossentropy") == 0);
}

/* The SparseCategoricalCrossentropy object's options. */
static xd_status loss_options(const xd_kopts *o, xd_loss_spec *out)
{
    static const char *const known[] = {"name", "reduction", "from_logits", "ignore_class", "dtype", NULL};
    static const char *const extras[] = {"ignore_class", NULL};
    XD_TRY(xd_kopt_bool(o, "from_logits", 0, &out->from_logits));
    const char *red = json_string_value(json_object_get(o->cfg, "reduction"));
    if (json_object_get(o->cfg, "reduction") &&
        !(red && (strcmp(red, "sum_over_batch_size") == 0 || strcmp(red, "auto") == 0)))
        return xd_kopt_unsupported(o, "reduction", "only \"sum_over_batch_size\", the mean over the batch");
    char dt[96];
    if (!xd_keras_dtype_is_float32(json_object_get(o->cfg, "dtype"), dt, sizeof dt))
        return xd_kopt_refuse(o, "dtype '%s' is not supported (only float32)", dt);
    XD_TRY(xd_kopt_null(o, extras));
    return xd_kopt_unknown(o, known);
}

static xd_status parse_loss(const char *file, json_t *v, xd_loss_spec *out, xd_error *err)
{
    out->from_logits = 0;
    if (!v || json_is_null(v) || is_sparse_cce(json_string_value(v))) return XD_OK;
    const char *cls = json_string_value(json_object_get(v, "class_name"));
    json_t *cfg = json_object_get(v, "config");
    /* keras.losses.sparse_categorical_crossentropy, the function */
    if (cls && strcmp(cls, "function") == 0 && is_sparse_cce(json_string_value(cfg))) return XD_OK;
    if (!cls || strcmp(cls, "SparseCategoricalCrossentropy") != 0 || (cfg && !json_is_object(cfg))) {
        char t[256];
        if (cls && strcmp(cls, "function") == 0) xd_keras_json_text(cfg, t, sizeof t);
        else if (cls) snprintf(t, sizeof t, "%s", cls);
        else xd_keras_json_text(v, t, sizeof t);
        return xd_error_set(err, XD_FORMAT, 0, "%s: compile_config: loss %s is not supported (%s)", file, t, LOSS_LIST);
    }
    xd_kopts o = {file, "compile_config: loss SparseCategoricalCrossentropy", cfg, err};
    return cfg ? loss_options(&o, out) : XD_OK;
}

/* The options all Keras optimizers share, each supported only when off. */
static xd_status optimizer_common(const xd_kopts *o)
{
    static const char *const extras[] = {"weight_decay",
                                         "clipnorm",
                                         "global_clipnorm",
                                         "clipvalue",
                                         "loss_scale_factor",
                                         "gradient_accumulation_steps",
                                         NULL};
    XD_TRY(xd_kopt_null(o, extras));
    XD_TRY(xd_kopt_false(o, "use_ema"));
    return XD_OK;
}

/* learning_rate: a number (def when absent), or a schedule object whose
 * starting rate becomes lr. */
static xd_status learning_rate(const xd_kopts *o, double def, xd_optimizer_spec *out)
{
    json_t *lr = json_object_get(o->cfg, "learning_rate");
    if (!json_is_object(lr)) return xd_kopt_number(o, "learning_rate", def, 0, 1e30, 1, &out->lr);
    XD_TRY(xd_keras_lr_schedule(o, lr, &out->schedule));
    out->lr = out->schedule.initial;
    return XD_OK;
}

/* The value a user wrote for a hyperparameter that Keras holds in float32:
 * a saved file carries the variable's value (learning_rate=0.001 is saved
 * as 0.0010000000474974513); the shortest decimal that is the same float32
 * is what was asked, and what --lr 0.001 and the built-in models record, so
 * the same request is the same setting however it reached crossdev.  A
 * value that is not a float32 (a hand-written 0.001) is kept as written. */
static double asked(double v)
{
    if ((double)(float)v != v) return v;
    char text[32];
    xd_format_shortest(v, 1, text, sizeof text);
    return strtod(text, NULL);
}

static void asked_values(xd_optimizer_spec *o)
{
    o->lr = asked(o->lr);
    o->beta1 = asked(o->beta1);
    o->beta2 = asked(o->beta2);
    o->eps = asked(o->eps);
    o->momentum = asked(o->momentum);
}

static xd_status parse_adam(const xd_kopts *o, xd_optimizer_spec *out)
{
    static const char *const known[] = {
        "name",         "learning_rate",           "beta_1", "beta_2", "epsilon", "amsgrad", "use_ema",
        "ema_momentum", "ema_overwrite_frequency", NULL};
    out->kind = XD_OPT_ADAM_KERAS;
    XD_TRY(optimizer_common(o));
    XD_TRY(learning_rate(o, 0.001, out));
    XD_TRY(xd_kopt_number(o, "beta_1", 0.9, 0, 1, 0, &out->beta1));
    XD_TRY(xd_kopt_number(o, "beta_2", 0.999, 0, 1, 0, &out->beta2));
    XD_TRY(xd_kopt_number(o, "epsilon", 1e-7, 0, 1e30, 1, &out->eps));
    XD_TRY(xd_kopt_false(o, "amsgrad"));
    asked_values(out);
    return xd_kopt_unknown(o, known);
}

static xd_status parse_sgd(const xd_kopts *o, xd_optimizer_spec *out)
{
    static const char *const known[] = {"name",         "learning_rate",           "momentum", "nesterov", "use_ema",
                                        "ema_momentum", "ema_overwrite_frequency", NULL};
    out->kind = XD_OPT_SGD_KERAS;
    XD_TRY(optimizer_common(o));
    XD_TRY(learning_rate(o, 0.01, out));
    XD_TRY(xd_kopt_number(o, "momentum", 0, 0, 1, 0, &out->momentum));
    XD_TRY(xd_kopt_bool(o, "nesterov", 0, &out->nesterov));
    asked_values(out);
    return xd_kopt_unknown(o, known);
}

static xd_status parse_optimizer(const char *file, json_t *v, xd_model_spec *out, xd_error *err)
{
    out->optimizer = xd_optimizer_defaults(XD_OPT_ADAM_KERAS); /* Keras's Adam: a file without an optimizer */
    out->has_optimizer = 0;
    if (!v || json_is_null(v)) return XD_OK;
    const char *s = json_string_value(v); /* compile(optimizer="adam") as a hand-written config may say */
    const char *cls = s ? s : json_string_value(json_object_get(v, "class_name"));
    json_t *cfg = s ? NULL : json_object_get(v, "config");
    int adam = cls && (strcmp(cls, "Adam") == 0 || strcmp(cls, "adam") == 0);
    int sgd = cls && (strcmp(cls, "SGD") == 0 || strcmp(cls, "sgd") == 0);
    if ((!adam && !sgd) || (cfg && !json_is_object(cfg)))
        return xd_error_set(err, XD_FORMAT, 0, "%s: compile_config: optimizer %s is not supported (only Adam, SGD)",
                            file, cls ? cls : "(unnamed)");
    xd_kopts o = {file, "", cfg ? cfg : json_object(), err};
    snprintf(o.where, sizeof o.where, "compile_config: optimizer %s", adam ? "Adam" : "SGD");
    xd_status st = adam ? parse_adam(&o, &out->optimizer) : parse_sgd(&o, &out->optimizer);
    if (!cfg) json_decref(o.cfg);
    if (st == XD_OK && sgd) out->optimizer.beta1 = out->optimizer.beta2 = out->optimizer.eps = 0;
    out->has_optimizer = st == XD_OK;
    return st;
}

/* compile_config: absent, null or {} (an uncompiled model) leave Keras's
 * defaults (from_logits false, has_optimizer 0 with Keras's Adam). */
xd_status xd_keras_compile_parse(const char *file, json_t *cc, xd_model_spec *out, xd_error *err)
{
    out->loss.from_logits = 0;
    out->optimizer = xd_optimizer_defaults(XD_OPT_ADAM_KERAS);
    out->has_optimizer = 0;
    if (!cc || json_is_null(cc)) return XD_OK;
    if (!json_is_object(cc)) return xd_error_set(err, XD_FORMAT, 0, "%s: compile_config is not an object", file);
    json_t *lw = json_object_get(cc, "loss_weights");
    if (lw && !json_is_null(lw))
        return xd_error_set(err, XD_FORMAT, 0, "%s: compile_config: loss_weights is not supported (only null)", file);
    XD_TRY(parse_loss(file, json_object_get(cc, "loss"), &out->loss, err));
    return parse_optimizer(file, json_object_get(cc, "optimizer"), out, err);
}
