/* Keras's learning-rate schedules as settings: read from a Keras
 * optimizer's learning_rate object, written into and read from the trace
 * (the optimizer objects of model_spec and of trace.json, additive: only
 * a schedule is written), named, described and compared.  Their values
 * step by step are the training stage's (xd_lr_at, host/train/lr.c). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/keras.h"

#define SCHEDULES "only ExponentialDecay, PiecewiseConstantDecay, CosineDecay"

const char *xd_lr_schedule_name(xd_lr_schedule_kind k)
{
    switch (k) {
    case XD_LR_CONSTANT: return "constant";
    case XD_LR_EXPONENTIAL_DECAY: return "ExponentialDecay";
    case XD_LR_PIECEWISE_CONSTANT: return "PiecewiseConstantDecay";
    case XD_LR_COSINE_DECAY: return "CosineDecay";
    }
    return "unknown";
}

/* ---- from a Keras config ------------------------------------------------------------ */

/* A list of numbers o->cfg[key] into v (1..cap entries); whole numbers only when whole. */
static xd_status number_list(const xd_kopts *o, const char *key, int whole, double *v, int cap, int *n)
{
    json_t *a = json_object_get(o->cfg, key);
    size_t len = json_array_size(a);
    int ok = json_is_array(a) && len >= 1 && len <= (size_t)cap;
    for (size_t i = 0; ok && i < len; ++i) {
        json_t *e = json_array_get(a, i);
        v[i] = json_number_value(e);
        ok = json_is_number(e) && isfinite(v[i]) && (!whole || (v[i] == floor(v[i]) && fabs(v[i]) < 1e15));
    }
    if (!ok) {
        char what[96];
        snprintf(what, sizeof what, "only a list of 1..%d %s", cap, whole ? "whole numbers (steps)" : "finite numbers");
        return xd_kopt_unsupported(o, key, what);
    }
    *n = (int)len;
    return XD_OK;
}

static xd_status keras_piecewise(const xd_kopts *o, xd_lr_schedule *s)
{
    int nb = 0, nv = 0;
    XD_TRY(number_list(o, "boundaries", 1, s->boundaries, XD_LR_MAX_BOUNDARIES, &nb));
    XD_TRY(number_list(o, "values", 0, s->values, XD_LR_MAX_BOUNDARIES + 1, &nv));
    if (nv != nb + 1)
        return xd_kopt_refuse(o, "values has %d entries, boundaries %d (Keras needs one more value)", nv, nb);
    s->nboundaries = nb;
    return XD_OK;
}

static xd_status keras_cosine(const xd_kopts *o, xd_lr_schedule *s)
{
    XD_TRY(xd_kopt_number(o, "alpha", 0, -1e30, 1e30, 1, &s->alpha));
    json_t *wt = json_object_get(o->cfg, "warmup_target");
    s->has_warmup = wt && !json_is_null(wt);
    if (s->has_warmup) XD_TRY(xd_kopt_number(o, "warmup_target", 0, 0, 1e30, 1, &s->warmup_target));
    return xd_kopt_number(o, "warmup_steps", 0, 0, 1e15, 1, &s->warmup_steps);
}

/* The schedule object of a Keras optimizer's learning_rate. */
xd_status xd_keras_lr_schedule(const xd_kopts *opt, json_t *lr, xd_lr_schedule *out)
{
    static const char *const known[] = {
        "name",  "initial_learning_rate", "decay_steps",  "decay_rate", "staircase", "boundaries", "values",
        "alpha", "warmup_target",         "warmup_steps", NULL};
    const char *cls = json_string_value(json_object_get(lr, "class_name"));
    json_t *cfg = json_object_get(lr, "config");
    memset(out, 0, sizeof *out);
    if (cls && strcmp(cls, "ExponentialDecay") == 0) out->kind = XD_LR_EXPONENTIAL_DECAY;
    else if (cls && strcmp(cls, "PiecewiseConstantDecay") == 0) out->kind = XD_LR_PIECEWISE_CONSTANT;
    else if (cls && strcmp(cls, "CosineDecay") == 0) out->kind = XD_LR_COSINE_DECAY;
    if (out->kind == XD_LR_CONSTANT || !json_is_object(cfg))
        return xd_kopt_refuse(opt, "learning_rate schedule %s is not supported (%s)", cls ? cls : "(unnamed)",
                              SCHEDULES);
    xd_kopts o = {opt->file, "", cfg, opt->err};
    snprintf(o.where, sizeof o.where, "%s: learning_rate %s", opt->where, cls);
    if (out->kind == XD_LR_PIECEWISE_CONSTANT) {
        XD_TRY(keras_piecewise(&o, out));
        out->initial = out->values[0];
    } else {
        XD_TRY(xd_kopt_number(&o, "initial_learning_rate", 0, 0, 1e30, 1, &out->initial));
        XD_TRY(xd_kopt_number(&o, "decay_steps", 0, 0, 1e15, 1, &out->decay_steps));
        if (!(out->decay_steps > 0))
            return xd_kopt_unsupported(&o, "decay_steps", "only a number above 0 (Keras's rule)");
    }
    if (out->kind == XD_LR_EXPONENTIAL_DECAY) {
        XD_TRY(xd_kopt_number(&o, "decay_rate", 0, 0, 1e30, 1, &out->decay_rate));
        if (!(out->decay_rate > 0)) return xd_kopt_unsupported(&o, "decay_rate", "only a number above 0");
        XD_TRY(xd_kopt_bool(&o, "staircase", 0, &out->staircase));
    }
    if (out->kind == XD_LR_COSINE_DECAY) XD_TRY(keras_cosine(&o, out));
    return xd_kopt_unknown(&o, known);
}

/* ---- as JSON: {"class": NAME, <Keras's option names>} -------------------------------- */

json_t *xd_lr_schedule_json(const xd_lr_schedule *s)
{
    json_t *o = json_pack("{s:s}", "class", xd_lr_schedule_name(s->kind));
    if (s->kind == XD_LR_PIECEWISE_CONSTANT) {
        json_t *b = json_array(), *v = json_array();
        for (int i = 0; i < s->nboundaries && i < XD_LR_MAX_BOUNDARIES; ++i)
            json_array_append_new(b, json_integer((json_int_t)s->boundaries[i]));
        for (int i = 0; i <= s->nboundaries && i <= XD_LR_MAX_BOUNDARIES; ++i)
            json_array_append_new(v, json_real(s->values[i]));
        json_object_set_new(o, "boundaries", b);
        json_object_set_new(o, "values", v);
        return o;
    }
    json_object_set_new(o, "initial_learning_rate", json_real(s->initial));
    json_object_set_new(o, "decay_steps", json_real(s->decay_steps));
    if (s->kind == XD_LR_EXPONENTIAL_DECAY) {
        json_object_set_new(o, "decay_rate", json_real(s->decay_rate));
        json_object_set_new(o, "staircase", json_boolean(s->staircase));
        return o;
    }
    json_object_set_new(o, "alpha", json_real(s->alpha));
    json_object_set_new(o, "warmup_target", s->has_warmup ? json_real(s->warmup_target) : json_null());
    json_object_set_new(o, "warmup_steps", json_real(s->warmup_steps));
    return o;
}

/* The trace's object back: the same keys the writer writes, each checked,
 * read with the Keras reader's checks (what gets past one gets past both). */
xd_status xd_lr_schedule_from_json(json_t *v, const char *file, const char *where, xd_lr_schedule *out, xd_error *err)
{
    const char *cls = json_string_value(json_object_get(v, "class"));
    char name[64];
    snprintf(name, sizeof name, "%s", cls ? cls : "");
    json_t *cfg = json_deep_copy(v), *wrap = NULL;
    if (cfg) json_object_del(cfg, "class");
    wrap = json_pack("{s:s, s:o}", "class_name", name, "config", cfg ? cfg : json_null());
    xd_kopts o = {file, "", NULL, err};
    snprintf(o.where, sizeof o.where, "%s", where);
    xd_status st = json_is_object(v) && wrap
                       ? xd_keras_lr_schedule(&o, wrap, out)
                       : xd_error_set(err, XD_FORMAT, 0, "%s: %s: not a schedule object", file, where);
    json_decref(wrap);
    return st;
}

void xd_lr_schedule_describe(const xd_lr_schedule *s, char *buf, size_t cap)
{
    char *text = NULL;
    json_t *o = s->kind == XD_LR_CONSTANT ? NULL : xd_lr_schedule_json(s);
    if (o) text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    snprintf(buf, cap, "%s", text ? text : "constant");
    free(text);
    json_decref(o);
}
