/* What a trace says of its run besides the records, asked by the stages
 * that judge or continue it: the accessors of include/crossdev/trace.h and
 * host/io/trace.h.  The document was parsed and validated once, by
 * xd_trace_open; here each setting is read with its backward
 * compatibility (a trace from before the field existed) in one place. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "io/trace.h"

const char *xd_trace_dir(const xd_trace *t) { return t->dir; }
const char *xd_trace_device_id(const xd_trace *t) { return t->device_id; }
const char *xd_trace_mode(const xd_trace *t) { return t->mode; }
uint64_t xd_trace_seed(const xd_trace *t) { return t->seed; }
int64_t xd_trace_steps(const xd_trace *t) { return t->steps; }
const char *xd_trace_model(const xd_trace *t) { return t->model; }
const char *xd_trace_data_source(const xd_trace *t) { return t->data_source; }
int xd_trace_synthetic(const xd_trace *t) { return t->synthetic; }

json_t *xd_trace_section(const xd_trace *t, const char *key) { return json_object_get(t->doc, key); }

static const char *text_or_empty(json_t *v)
{
    const char *s = json_string_value(v);
    return s ? s : "";
}

const char *xd_trace_producer_text(const xd_trace *t, const char *key)
{
    return text_or_empty(json_object_get(json_object_get(t->doc, "producer"), key));
}

int xd_trace_producer_flag(const xd_trace *t, const char *key)
{
    json_t *v = json_object_get(json_object_get(t->doc, "producer"), key);
    return json_is_boolean(v) ? json_is_true(v) : -1;
}

const char *xd_trace_device_type(const xd_trace *t)
{
    return text_or_empty(json_object_get(json_object_get(t->doc, "device"), "type"));
}

int xd_trace_conforming(const xd_trace *t)
{
    return !json_is_false(json_object_get(json_object_get(t->doc, "device"), "reproducible"));
}

char *xd_trace_device_json(const xd_trace *t)
{
    json_t *d = t ? json_object_get(t->doc, "device") : NULL;
    return d ? json_dumps(d, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
}

/* ---- the model ------------------------------------------------------------------------ */

static json_t *spec_of(const xd_trace *t) { return json_object_get(t->doc, "model_spec"); }

static json_t *layers_of(const xd_trace *t)
{
    json_t *layers = json_object_get(spec_of(t), "layers");
    return json_is_array(layers) ? layers : NULL;
}

size_t xd_trace_layer_count(const xd_trace *t) { return json_array_size(layers_of(t)); }

xd_trace_layer xd_trace_layer_at(const xd_trace *t, size_t i)
{
    json_t *l = json_array_get(layers_of(t), i);
    json_t *rate = json_object_get(l, "rate");
    return (xd_trace_layer){.type = text_or_empty(json_object_get(l, "type")),
                            .name = text_or_empty(json_object_get(l, "name")),
                            .activation = text_or_empty(json_object_get(l, "activation")),
                            .rate = json_is_number(rate) ? json_number_value(rate) : 0.0,
                            .use_bias = json_is_true(json_object_get(l, "use_bias"))};
}

int xd_trace_layer_reads(const xd_trace *t, size_t j, size_t i)
{
    json_t *in = json_object_get(json_array_get(layers_of(t), j), "inputs");
    if (!json_is_array(in)) return j == i + 1;
    for (size_t k = 0; k < json_array_size(in); ++k) {
        json_t *v = json_array_get(in, k);
        if (json_is_integer(v) && json_integer_value(v) == (json_int_t)i) return 1;
    }
    return 0;
}

const char *xd_trace_loss_form(const xd_trace *t)
{
    return text_or_empty(json_object_get(json_object_get(spec_of(t), "loss"), "form"));
}

int xd_trace_loss_from_logits(const xd_trace *t)
{
    json_t *v = json_object_get(json_object_get(spec_of(t), "loss"), "from_logits");
    return json_is_boolean(v) ? json_is_true(v) : -1;
}

const char *xd_trace_spec_repr(const xd_trace *t) { return text_or_empty(json_object_get(spec_of(t), "repr")); }

xd_status xd_trace_model_spec(const xd_trace *t, xd_model_spec *out, xd_error *err)
{
    json_t *js = spec_of(t);
    xd_error e;
    xd_status st = XD_OUT_OF_HOST_MEMORY;
    if (json_is_object(js)) {
        char *text = json_dumps(js, JSON_COMPACT);
        if (text) st = xd_model_spec_from_json(text, out, &e);
        free(text);
    } else {
        st = xd_model_spec_builtin(t->model, out, &e); /* a trace from before models were data */
    }
    if (st == XD_OUT_OF_HOST_MEMORY) return xd_error_set(err, st, 0, "%s: out of host memory", t->dir);
    if (st != XD_OK) return xd_error_set(err, st, 0, "%s: model_spec: %s", t->dir, e.message);
    return XD_OK;
}

/* ---- the optimizer ---------------------------------------------------------------------- */

xd_status xd_trace_optimizer(const xd_trace *t, xd_optimizer_spec *out, xd_error *err)
{
    char kind[64];
    xd_optimizer_kind k;
    /* a trace from before the optimizer forms trained with PyTorch's Adam */
    snprintf(kind, sizeof kind, "%s-%s", t->optimizer.name[0] ? t->optimizer.name : "adam",
             t->optimizer.variant[0] ? t->optimizer.variant : "pytorch");
    if (xd_optimizer_kind_parse(kind, &k) != XD_OK)
        return xd_error_set(err, XD_FORMAT, 0, "%s: its optimizer %s is not one crossdev knows", t->dir, kind);
    *out = xd_optimizer_defaults(k);
    const double v[5] = {t->optimizer.lr, t->optimizer.beta1, t->optimizer.beta2, t->optimizer.eps,
                         t->optimizer.momentum};
    double *dst[5] = {&out->lr, &out->beta1, &out->beta2, &out->eps, &out->momentum};
    for (int i = 0; i < 5; ++i)
        if (!isnan(v[i])) *dst[i] = v[i];
    if (t->optimizer.nesterov >= 0) out->nesterov = t->optimizer.nesterov;
    out->schedule = t->optimizer.schedule;
    return XD_OK;
}
