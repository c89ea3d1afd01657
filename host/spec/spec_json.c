/* The spec as JSON: the trace's `model_spec` (docs/trace-format.md), and
 * back.  Every field of the structs, in their order, for every layer (a
 * field a layer type does not use is 0), so that two specs are the same
 * exactly when their JSON texts are, and a round trip gives the same spec.
 * Reals are written with 17 significant digits (exact); the reader refuses
 * a missing or unknown key, a wrong type or a value out of range, naming
 * the field.  A layer's `inputs` (a functional model's graph: layer
 * indices, -1 the model's input) are written only where the layer does not
 * read the one before it, so that a chain's JSON is the same however the
 * model was built (and as before functional models).  Likewise written
 * only where present, so that every spec without them reads as before:
 * a layer's L2 factors (`kernel_l2`, `bias_l2`, non-zero), the
 * optimizer's learning-rate `schedule`, an activation's `alpha` (where
 * it is not 0) and a ZeroPadding2D's `pad` (top, bottom, left, right). */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/keras.h"

typedef enum ftype { F_INT, F_I64, F_BOOL, F_REAL, F_INIT, F_PADDING, F_ACTIVATION } ftype;

typedef struct field {
    const char *key;
    ftype type;
    size_t off;
} field;

/* A field of struct T: its key, type and place. */
#define FIELD(T, key, type, member)    \
    {                                  \
        key, type, offsetof(T, member) \
    }
#define L_(key, type, member) FIELD(xd_layer_spec, key, type, member)
static const field LAYER_FIELDS[] = {
    L_("filters", F_INT, filters),
    L_("units", F_INT, units),
    L_("kh", F_INT, kh),
    L_("kw", F_INT, kw),
    L_("sh", F_INT, sh),
    L_("sw", F_INT, sw),
    L_("padding", F_PADDING, padding),
    L_("activation", F_ACTIVATION, activation),
    L_("use_bias", F_BOOL, use_bias),
    L_("kernel_init", F_INIT, kernel_init),
    L_("bias_init", F_INIT, bias_init),
    L_("rate", F_REAL, rate),
    L_("momentum", F_REAL, momentum),
    L_("epsilon", F_REAL, epsilon),
    L_("center", F_BOOL, center),
    L_("scale", F_BOOL, scale),
    L_("gamma_init", F_INIT, gamma_init),
    L_("beta_init", F_INIT, beta_init),
    L_("moving_mean_init", F_INIT, moving_mean_init),
    L_("moving_variance_init", F_INIT, moving_variance_init),
};
#undef L_
#define O_(key, type, member) FIELD(xd_optimizer_spec, key, type, member)
static const field OPT_FIELDS[] = {
    O_("lr", F_REAL, lr),   O_("beta1", F_REAL, beta1),       O_("beta2", F_REAL, beta2),
    O_("eps", F_REAL, eps), O_("momentum", F_REAL, momentum), O_("nesterov", F_BOOL, nesterov),
};
#undef O_
#define M_(key, type, member) FIELD(xd_model_spec, key, type, member)
static const field MODEL_FIELDS[] = {
    M_("in_h", F_I64, in_h),
    M_("in_w", F_I64, in_w),
    M_("in_c", F_I64, in_c),
    M_("classes", F_I64, classes),
};
#undef M_
#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const PADDINGS[] = {"valid", "same", "explicit", NULL};
static const char *const ACTIVATIONS[] = {"linear", "relu",  "softmax", "sigmoid", "tanh", "leaky_relu",
                                          "elu",    "relu6", "silu",    "gelu",    NULL};
static const char *const INIT_KINDS[] = {"GlorotUniform", "GlorotNormal",  "HeUniform",    "HeNormal", "Zeros",
                                         "Ones",          "RandomUniform", "RandomNormal", NULL};
static const char *const LAYER_TYPES[] = {"Conv2D",
                                          "MaxPooling2D",
                                          "AveragePooling2D",
                                          "Flatten",
                                          "Dense",
                                          "Dropout",
                                          "Activation",
                                          "BatchNormalization",
                                          "Add",
                                          "Concatenate",
                                          "GlobalAveragePooling2D",
                                          "GlobalMaxPooling2D",
                                          "ZeroPadding2D",
                                          NULL};
static const char *const OPT_KINDS[] = {"adam-pytorch", "adam-keras", "sgd-pytorch", "sgd-keras", NULL};

/* names[v], or "unknown" for a value off the list. */
static const char *enum_name(const char *const *names, int v)
{
    for (int i = 0; names[i]; i++)
        if (i == v) return names[i];
    return "unknown";
}

/* ---- writing ------------------------------------------------------------------------ */
/* s as a JSON string; JSON text is UTF-8, so a path that is not has its
 * other bytes written as '?'. */
static json_t *text_json(const char *s)
{
    json_t *v = json_string(s);
    if (v) return v;
    char *copy = xd_strdup(s);
    for (char *p = copy; p && *p; p++)
        if ((unsigned char)*p >= 0x80) *p = '?';
    v = json_string(copy ? copy : "");
    free(copy);
    return v;
}

static json_t *field_json(const field *f, const void *base)
{
    const void *p = (const char *)base + f->off;
    switch (f->type) {
    case F_INT: return json_integer(*(const int *)p);
    case F_I64: return json_integer(*(const int64_t *)p);
    case F_BOOL: return json_boolean(*(const int *)p);
    case F_REAL: return json_real(*(const double *)p);
    case F_PADDING: return json_string(enum_name(PADDINGS, (int)*(const xd_padding *)p));
    case F_ACTIVATION: return json_string(enum_name(ACTIVATIONS, (int)*(const xd_activation *)p));
    case F_INIT: {
        const xd_init_spec *i = (const xd_init_spec *)p;
        return json_pack("{s:s, s:f, s:f}", "kind", enum_name(INIT_KINDS, (int)i->kind), "a", i->a, "b", i->b);
    }
    }
    return json_null();
}

static void put_fields(json_t *o, const field *fs, size_t n, const void *base)
{
    for (size_t i = 0; i < n; i++) json_object_set_new(o, fs[i].key, field_json(&fs[i], base));
}

/* The fields written only where used, so that every spec without them
 * reads as before: explicit padding's "pads" [top, bottom, left, right]
 * and "batchnorm": "pytorch". */
static void put_layer_extras(json_t *o, const xd_layer_spec *l)
{
    if (l->padding == XD_PADDING_EXPLICIT)
        json_object_set_new(o, "pads", json_pack("[i, i, i, i]", l->pad_top, l->pad_bottom, l->pad_left, l->pad_right));
    if (l->bn_form == XD_BN_PYTORCH) json_object_set_new(o, "batchnorm", json_string("pytorch"));
}

char *xd_model_spec_json(const xd_model_spec *spec)
{
    if (!spec) return NULL;
    json_t *root = json_object(), *layers = json_array(), *opt = json_object();
    json_object_set_new(root, "name", json_string(spec->name));
    json_object_set_new(root, "source", text_json(spec->source));
    put_fields(root, MODEL_FIELDS, NFIELDS(MODEL_FIELDS), spec);
    for (int i = 0; i < spec->nlayers && i < XD_MAX_LAYERS; i++) {
        const xd_layer_spec *l = &spec->layers[i];
        json_t *o = json_object();
        json_object_set_new(o, "type", json_string(enum_name(LAYER_TYPES, (int)l->type)));
        json_object_set_new(o, "name", json_string(l->name));
        put_fields(o, LAYER_FIELDS, NFIELDS(LAYER_FIELDS), l);
        put_layer_extras(o, l);
        if (l->alpha != 0.0) json_object_set_new(o, "alpha", json_real(l->alpha));
        if (l->type == XD_LAYER_ZEROPADDING2D)
            json_object_set_new(o, "pad", json_pack("[i, i, i, i]", l->pad[0], l->pad[1], l->pad[2], l->pad[3]));
        if (l->ninputs > 0) {
            json_t *in = json_array();
            for (int k = 0; k < l->ninputs && k < XD_MAX_INPUTS; k++)
                json_array_append_new(in, json_integer(l->inputs[k]));
            json_object_set_new(o, "inputs", in);
        }
        if (l->kernel_l2 != 0) json_object_set_new(o, "kernel_l2", json_real(l->kernel_l2));
        if (l->bias_l2 != 0) json_object_set_new(o, "bias_l2", json_real(l->bias_l2));
        json_array_append_new(layers, o);
    }
    json_object_set_new(root, "layers", layers);
    json_t *loss = json_pack("{s:b}", "from_logits", spec->loss.from_logits);
    /* TensorFlow's formula only: written where chosen, so every other spec reads as before */
    if (!spec->loss.from_logits && spec->loss.form == XD_XENT_CLIP_RENORMALISE)
        json_object_set_new(loss, "form", json_string("keras-tensorflow"));
    json_object_set_new(root, "loss", loss);
    json_object_set_new(root, "has_optimizer", json_boolean(spec->has_optimizer));
    json_object_set_new(opt, "kind", json_string(enum_name(OPT_KINDS, (int)spec->optimizer.kind)));
    put_fields(opt, OPT_FIELDS, NFIELDS(OPT_FIELDS), &spec->optimizer);
    if (spec->optimizer.schedule.kind != XD_LR_CONSTANT)
        json_object_set_new(opt, "schedule", xd_lr_schedule_json(&spec->optimizer.schedule));
    json_object_set_new(root, "optimizer", opt);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(root);
    return text;
}

/* ---- reading ------------------------------------------------------------------------ */
/* In the readers: the field being read, for the message. */
typedef struct jctx {
    const char *where; /* "layers[2]", "optimizer", "" */
    xd_error *err;
} jctx;

static xd_status bad(const jctx *c, const char *key, const char *what)
{
    return xd_error_set(c->err, XD_FORMAT, 0, "model_spec: %s%s%s: %s", c->where, *c->where ? "." : "", key, what);
}

static int enum_value(const char *const *names, const char *s)
{
    for (int i = 0; s && names[i]; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

static xd_status read_init(const jctx *c, const char *key, json_t *v, xd_init_spec *out)
{
    json_t *a = json_object_get(v, "a"), *b = json_object_get(v, "b");
    int k = enum_value(INIT_KINDS, json_string_value(json_object_get(v, "kind")));
    if (!json_is_object(v) || json_object_size(v) != 3 || k < 0 || !json_is_number(a) || !json_is_number(b) ||
        !isfinite(json_number_value(a)) || !isfinite(json_number_value(b)))
        return bad(c, key, "not an initializer {\"kind\", \"a\", \"b\"}");
    out->kind = (xd_init_kind)k;
    out->a = json_number_value(a);
    out->b = json_number_value(b);
    return XD_OK;
}

static xd_status read_field(const jctx *c, const field *f, json_t *v, void *base)
{
    void *p = (char *)base + f->off;
    json_int_t i = json_integer_value(v);
    int e;
    switch (f->type) {
    case F_INT:
    case F_I64:
        if (!json_is_integer(v) || i < 0 || i > (f->type == F_INT ? INT32_MAX : XD_KERAS_MAX_COUNT))
            return bad(c, f->key, "not a non-negative integer in range");
        if (f->type == F_INT) *(int *)p = (int)i;
        else *(int64_t *)p = i;
        return XD_OK;
    case F_BOOL:
        if (!json_is_boolean(v)) return bad(c, f->key, "not true or false");
        *(int *)p = json_is_true(v);
        return XD_OK;
    case F_REAL:
        if (!json_is_number(v) || !isfinite(json_number_value(v))) return bad(c, f->key, "not a finite number");
        *(double *)p = json_number_value(v);
        return XD_OK;
    case F_PADDING:
    case F_ACTIVATION:
        e = enum_value(f->type == F_PADDING ? PADDINGS : ACTIVATIONS, json_string_value(v));
        if (e < 0)
            return bad(c, f->key,
                       f->type == F_PADDING ? "not \"valid\", \"same\" or \"explicit\"" : "not an activation");
        if (f->type == F_PADDING) *(xd_padding *)p = (xd_padding)e;
        else *(xd_activation *)p = (xd_activation)e;
        return XD_OK;
    case F_INIT: return read_init(c, f->key, v, (xd_init_spec *)p);
    }
    return bad(c, f->key, "unknown field");
}

/* Every field of the table from o, which must hold exactly those keys and
 * the nextra others the caller reads. */
static xd_status read_fields(const jctx *c, json_t *o, const field *fs, size_t n, size_t nextra, void *base)
{
    if (!json_is_object(o)) return bad(c, "", "not an object");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(o, fs[i].key);
        if (!v) return bad(c, fs[i].key, "missing");
        XD_TRY(read_field(c, &fs[i], v, base));
    }
    if (json_object_size(o) != n + nextra) return bad(c, "", "has keys that are not spec fields");
    return XD_OK;
}

/* A name field into dst (cap bytes, with its NUL): a string that fits,
 * and for names of models and layers one crossdev can use in file names. */
static xd_status read_name(const jctx *c, json_t *o, const char *key, char *dst, size_t cap, int as_name)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s || strlen(s) >= cap || (as_name && !xd_keras_name_ok(s)))
        return bad(c, key, as_name ? "not a name of 1..63 characters of A-Z a-z 0-9 _ - ." : "not a string that fits");
    snprintf(dst, cap, "%s", s);
    return XD_OK;
}

/* A layer's inputs, when given: 1..8 integers from -1 (the model's input);
 * one that is the layer before is the chain's (ninputs 0).  Whether they
 * name earlier layers is xd_model_spec_shapes's check. */
static xd_status read_inputs(const jctx *c, json_t *v, int i, xd_layer_spec *l)
{
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n < 1 || n > XD_MAX_INPUTS) return bad(c, "inputs", "not an array of 1..8 layer indices");
    int in[XD_MAX_INPUTS];
    for (size_t k = 0; k < n; k++) {
        json_t *e = json_array_get(v, k);
        if (!json_is_integer(e) || json_integer_value(e) < -1 || json_integer_value(e) >= XD_MAX_LAYERS)
            return bad(c, "inputs", "not an array of layer indices (-1: the model's input)");
        in[k] = (int)json_integer_value(e);
    }
    xd_layer_set_inputs(l, i, in, (int)n);
    return XD_OK;
}

/* "pads" (with padding "explicit" only, which needs them) and
 * "batchnorm"; *n counts the keys read. */
static xd_status read_layer_extras(const jctx *c, json_t *o, xd_layer_spec *l, size_t *n)
{
    json_t *pads = json_object_get(o, "pads"), *bn = json_object_get(o, "batchnorm");
    const int explicit_padding = json_is_string(json_object_get(o, "padding")) &&
                                 strcmp(json_string_value(json_object_get(o, "padding")), "explicit") == 0;
    if (pads || explicit_padding) {
        int v[4];
        for (size_t k = 0; k < 4; k++) {
            json_t *e = json_array_get(pads, k);
            if (!json_is_array(pads) || json_array_size(pads) != 4 || !json_is_integer(e) ||
                json_integer_value(e) < 0 || json_integer_value(e) > XD_KERAS_MAX_KERNEL || !explicit_padding)
                return bad(c, "pads", "not [top, bottom, left, right] of 0..1024 beside padding \"explicit\"");
            v[k] = (int)json_integer_value(e);
        }
        l->pad_top = v[0], l->pad_bottom = v[1], l->pad_left = v[2], l->pad_right = v[3];
        (*n)++;
    }
    if (bn) {
        if (!json_is_string(bn) || strcmp(json_string_value(bn), "pytorch") != 0)
            return bad(c, "batchnorm", "not \"pytorch\" (absent: Keras's form)");
        l->bn_form = XD_BN_PYTORCH;
        (*n)++;
    }
    return XD_OK;
}

/* A Conv2D's or Dense's L2 factors, present only where above 0. */
static xd_status read_layer_l2(const jctx *c, json_t *o, xd_layer_spec *l, size_t *n)
{
    static const field l2s[] = {FIELD(xd_layer_spec, "kernel_l2", F_REAL, kernel_l2),
                                FIELD(xd_layer_spec, "bias_l2", F_REAL, bias_l2)};
    for (size_t k = 0; k < NFIELDS(l2s); k++) {
        json_t *v = json_object_get(o, l2s[k].key);
        if (!v) continue;
        XD_TRY(read_field(c, &l2s[k], v, l));
        if (!((k == 0 ? l->kernel_l2 : l->bias_l2) > 0)) return bad(c, l2s[k].key, "not a number above 0");
        (*n)++;
    }
    return XD_OK;
}

/* The optional fields: alpha (a finite number, not 0: 0 is not written)
 * and a ZeroPadding2D's pad (four integers 0..1024, there only); how many
 * of them o holds. */
static xd_status read_optional(const jctx *c, json_t *o, xd_layer_spec *l, size_t *n)
{
    json_t *a = json_object_get(o, "alpha"), *pad = json_object_get(o, "pad");
    *n = (a != NULL) + (pad != NULL);
    if (a) {
        if (!json_is_number(a) || !isfinite(json_number_value(a)) || json_number_value(a) == 0.0)
            return bad(c, "alpha", "not a finite number other than 0");
        l->alpha = json_number_value(a);
    }
    if ((pad != NULL) != (l->type == XD_LAYER_ZEROPADDING2D))
        return bad(c, "pad", "given where the layer is not ZeroPadding2D, or missing there");
    for (size_t k = 0; pad && k < 4; k++) {
        json_t *e = json_array_get(pad, k);
        if (!json_is_array(pad) || json_array_size(pad) != 4 || !json_is_integer(e) || json_integer_value(e) < 0 ||
            json_integer_value(e) > XD_KERAS_MAX_KERNEL)
            return bad(c, "pad", "not four integers 0..1024 (top, bottom, left, right)");
        l->pad[k] = (int)json_integer_value(e);
    }
    return XD_OK;
}

static xd_status read_layer(json_t *o, int i, xd_layer_spec *l, xd_error *err)
{
    char where[32];
    snprintf(where, sizeof where, "layers[%d]", i);
    jctx c = {where, err};
    int t = enum_value(LAYER_TYPES, json_string_value(json_object_get(o, "type")));
    if (t < 0) return bad(&c, "type", "not a layer type crossdev knows");
    l->type = (xd_layer_type)t;
    XD_TRY(read_name(&c, o, "name", l->name, sizeof l->name, 1));
    json_t *in = json_object_get(o, "inputs");
    if (in) XD_TRY(read_inputs(&c, in, i, l));
    size_t extras = 2 + (in != NULL), nopt = 0;
    XD_TRY(read_layer_extras(&c, o, l, &extras));
    XD_TRY(read_layer_l2(&c, o, l, &extras));
    XD_TRY(read_optional(&c, o, l, &nopt));
    return read_fields(&c, o, LAYER_FIELDS, NFIELDS(LAYER_FIELDS), extras + nopt, l);
}

_Static_assert(XD_MAX_LAYERS == 128, "the message on \"layers\" names crossdev's limit");

static xd_status read_spec(json_t *root, xd_model_spec *out, xd_error *err)
{
    jctx c = {"", err}, co = {"optimizer", err};
    json_t *layers = json_object_get(root, "layers"), *loss = json_object_get(root, "loss"),
           *opt = json_object_get(root, "optimizer");
    XD_TRY(read_fields(&c, root, MODEL_FIELDS, NFIELDS(MODEL_FIELDS), 6, out));
    XD_TRY(read_name(&c, root, "name", out->name, sizeof out->name, 1));
    XD_TRY(read_name(&c, root, "source", out->source, sizeof out->source, 0));
    if (!json_is_array(layers) || json_array_size(layers) < 1 || json_array_size(layers) > XD_MAX_LAYERS)
        return bad(&c, "layers", "not an array of 1..128 layers");
    for (size_t i = 0; i < json_array_size(layers); i++)
        XD_TRY(read_layer(json_array_get(layers, i), (int)i, &out->layers[i], err));
    out->nlayers = (int)json_array_size(layers);
    json_t *fl = json_object_get(loss, "from_logits"), *ho = json_object_get(root, "has_optimizer");
    json_t *form = json_object_get(loss, "form");
    if (!json_is_object(loss) || json_object_size(loss) != 1 + (form != NULL) || !json_is_boolean(fl))
        return bad(&c, "loss", "not {\"from_logits\": true|false} (with \"form\": \"keras-tensorflow\" optionally)");
    if (form && (json_is_true(fl) || !json_is_string(form) || strcmp(json_string_value(form), "keras-tensorflow") != 0))
        return bad(&c, "loss.form", "not \"keras-tensorflow\" beside from_logits false");
    out->loss.from_logits = json_is_true(fl);
    out->loss.form = form ? XD_XENT_CLIP_RENORMALISE : XD_XENT_RENORMALISE_CLIP;
    if (!json_is_boolean(ho)) return bad(&c, "has_optimizer", "not true or false");
    out->has_optimizer = json_is_true(ho);
    int k = enum_value(OPT_KINDS, json_string_value(json_object_get(opt, "kind")));
    if (k < 0) return bad(&co, "kind", "not adam-pytorch, adam-keras, sgd-pytorch or sgd-keras");
    out->optimizer.kind = (xd_optimizer_kind)k;
    json_t *sched = json_object_get(opt, "schedule");
    if (sched)
        XD_TRY(xd_lr_schedule_from_json(sched, "model_spec", "optimizer.schedule", &out->optimizer.schedule, err));
    return read_fields(&co, opt, OPT_FIELDS, NFIELDS(OPT_FIELDS), 1 + (sched != NULL), &out->optimizer);
}

xd_status xd_model_spec_from_json(const char *text, xd_model_spec *out, xd_error *err)
{
    if (!text || !out) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_model_spec_from_json: NULL argument");
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root) return xd_error_set(err, XD_FORMAT, 0, "model_spec: not JSON (line %d: %s)", je.line, je.text);
    xd_status st = read_spec(root, out, err);
    json_decref(root);
    xd_layer_shape shapes[XD_MAX_LAYERS + 1];
    if (st == XD_OK) st = xd_model_spec_shapes(out, shapes, err);
    if (st != XD_OK) memset(out, 0, sizeof *out);
    return xd_error_return(err, st);
}
