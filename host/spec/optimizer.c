/* Training settings beside the model they train: the optimizer kinds,
 * their names, their defaults (the only defaults: Keras's config without
 * an optimizer, the CLI and a trace from before a field existed all take
 * them from here) and the comparators a resumed run and a comparison use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/keras.h"

const char *xd_optimizer_kind_name(xd_optimizer_kind k)
{
    switch (k) {
    case XD_OPT_ADAM_PYTORCH: return "adam-pytorch";
    case XD_OPT_ADAM_KERAS: return "adam-keras";
    case XD_OPT_SGD_PYTORCH: return "sgd-pytorch";
    case XD_OPT_SGD_KERAS: return "sgd-keras";
    }
    return "unknown";
}

xd_status xd_optimizer_kind_parse(const char *name, xd_optimizer_kind *out)
{
    static const xd_optimizer_kind kinds[] = {XD_OPT_ADAM_PYTORCH, XD_OPT_ADAM_KERAS, XD_OPT_SGD_PYTORCH,
                                              XD_OPT_SGD_KERAS};
    for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; ++i)
        if (strcmp(name, xd_optimizer_kind_name(kinds[i])) == 0) {
            *out = kinds[i];
            return XD_OK;
        }
    return XD_INVALID_ARGUMENT;
}

xd_optimizer_spec xd_optimizer_defaults(xd_optimizer_kind kind)
{
    xd_optimizer_spec o;
    memset(&o, 0, sizeof o); /* padding too: specs are compared byte for byte (test_keras) */
    o.kind = kind;
    o.lr = 1e-3;
    o.beta1 = 0.9;
    o.beta2 = 0.999;
    o.eps = 1e-7;
    if (kind == XD_OPT_SGD_KERAS || kind == XD_OPT_SGD_PYTORCH) o.lr = 0.01;
    return o;
}

static int is_adam(xd_optimizer_kind k) { return k == XD_OPT_ADAM_KERAS || k == XD_OPT_ADAM_PYTORCH; }

static int differs(xd_setting_difference *d, const char *field, const char *a, const char *b)
{
    if (d) {
        snprintf(d->field, sizeof d->field, "%s", field);
        snprintf(d->a, sizeof d->a, "%s", a);
        snprintf(d->b, sizeof d->b, "%s", b);
    }
    return 1;
}

/* The learning-rate schedules: the same when their JSON texts are (the
 * trace's own form of them, every field in a fixed order). */
static int schedule_differs(const xd_lr_schedule *a, const xd_lr_schedule *b, xd_setting_difference *d)
{
    if (a->kind == XD_LR_CONSTANT && b->kind == XD_LR_CONSTANT) return 0;
    char ta[512], tb[512];
    xd_lr_schedule_describe(a, ta, sizeof ta);
    xd_lr_schedule_describe(b, tb, sizeof tb);
    return strcmp(ta, tb) != 0 ? differs(d, "optimizer.schedule", ta, tb) : 0;
}

int xd_optimizer_differs(const xd_optimizer_spec *a, const xd_optimizer_spec *b, xd_setting_difference *d)
{
    if (a->kind != b->kind)
        return differs(d, "optimizer", xd_optimizer_kind_name(a->kind), xd_optimizer_kind_name(b->kind));
    /* the kind's own hyper-parameters: Adam's four, SGD's learning rate and momentum */
    static const char *const key[5] = {"optimizer.lr", "optimizer.beta1", "optimizer.beta2", "optimizer.eps",
                                       "optimizer.momentum"};
    const double va[5] = {a->lr, a->beta1, a->beta2, a->eps, a->momentum};
    const double vb[5] = {b->lr, b->beta1, b->beta2, b->eps, b->momentum};
    const int adam = is_adam(a->kind), used[5] = {1, adam, adam, adam, !adam};
    char ta[32], tb[32];
    for (int i = 0; i < 5; ++i)
        if (used[i] && va[i] != vb[i]) {
            snprintf(ta, sizeof ta, "%.17g", va[i]);
            snprintf(tb, sizeof tb, "%.17g", vb[i]);
            return differs(d, key[i], ta, tb);
        }
    if (!adam && a->nesterov != b->nesterov)
        return differs(d, "optimizer.nesterov", a->nesterov ? "true" : "false", b->nesterov ? "true" : "false");
    return schedule_differs(&a->schedule, &b->schedule, d);
}

int xd_model_spec_differs(const xd_model_spec *a, const xd_model_spec *b)
{
    xd_model_spec *ca = malloc(sizeof *ca), *cb = malloc(sizeof *cb);
    int same = 0;
    if (ca && cb) {
        *ca = *a; /* the same model, wherever its file is */
        *cb = *b;
        ca->source[0] = cb->source[0] = '\0';
        char *ja = xd_model_spec_json(ca), *jb = xd_model_spec_json(cb);
        same = ja && jb && strcmp(ja, jb) == 0;
        free(ja); /* xd_model_spec_json: malloc-ed (xd_free) */
        free(jb);
    }
    free(ca);
    free(cb);
    return !same;
}
