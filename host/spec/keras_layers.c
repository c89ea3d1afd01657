/* The layers of a Keras 3 config: one parser per supported class, each
 * checking every option Keras writes (host/spec/keras_options.c).  What
 * crossdev does not implement is refused naming the file, the layer, the
 * option and what is supported ("my.keras: layer 'conv2d_1' (Conv2D):
 * dilation_rate [2, 2] is not supported (only 1)"); an option crossdev does
 * not know is refused too unless it is null (a newer Keras adding an option
 * that is off). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "spec/keras.h"

/* The layer being parsed: its options and the model around it. */
typedef struct lctx {
    xd_kopts o;
    xd_keras_layer_ctx *c;
    const char *cls;
} lctx;

static xd_status padding_of(const xd_kopts *o, xd_padding *out)
{
    json_t *v = json_object_get(o->cfg, "padding");
    const char *s = v ? json_string_value(v) : "valid";
    if (s && strcmp(s, "valid") == 0) *out = XD_PADDING_VALID;
    else if (s && strcmp(s, "same") == 0) *out = XD_PADDING_SAME;
    else return xd_kopt_unsupported(o, "padding", "only \"valid\", \"same\"");
    return XD_OK;
}

/* data_format: channels_last (null is Keras's default, channels_last). */
static xd_status channels_last(const xd_kopts *o)
{
    json_t *v = json_object_get(o->cfg, "data_format");
    const char *s = json_string_value(v);
    return !v || json_is_null(v) || (s && strcmp(s, "channels_last") == 0)
               ? XD_OK
               : xd_kopt_unsupported(o, "data_format", "only \"channels_last\"");
}

/* Keras's activation names crossdev computes, with the parameter Keras's
 * function gives by default ("swish" is Keras's other name of silu). */
static const struct act_name {
    const char *name;
    xd_activation act;
    double alpha;
} ACTS[] = {
    {"linear", XD_ACT_LINEAR, 0},   {"relu", XD_ACT_RELU, 0},   {"softmax", XD_ACT_SOFTMAX, 0},
    {"sigmoid", XD_ACT_SIGMOID, 0}, {"tanh", XD_ACT_TANH, 0},   {"leaky_relu", XD_ACT_LEAKY_RELU, 0.2},
    {"elu", XD_ACT_ELU, 1.0},       {"relu6", XD_ACT_RELU6, 0}, {"silu", XD_ACT_SILU, 0},
    {"swish", XD_ACT_SILU, 0},      {"gelu", XD_ACT_GELU, 0},
};
#define ACT_LIST \
    "\"linear\", \"relu\", \"sigmoid\", \"tanh\", \"leaky_relu\", \"elu\", \"relu6\", \"silu\"/\"swish\", \"gelu\""

/* An activation by name (null is Keras's linear), and softmax where
 * allowed (not over a conv's channels).  "gelu" is Keras's gelu with its
 * default approximate=False (the erfc form); the string is all a config
 * can name. */
static xd_status activation_of(const xd_kopts *o, int softmax_ok, xd_activation *out, double *alpha)
{
    json_t *v = json_object_get(o->cfg, "activation");
    const char *s = json_is_null(v) || !v ? "linear" : json_string_value(v);
    size_t i = 0, n = sizeof ACTS / sizeof ACTS[0];
    while (s && i < n && strcmp(s, ACTS[i].name) != 0) i++;
    if (!s || i == n || (ACTS[i].act == XD_ACT_SOFTMAX && !softmax_ok))
        return xd_kopt_unsupported(o, "activation",
                                   softmax_ok ? "only " ACT_LIST ", \"softmax\""
                                              : "only " ACT_LIST " (softmax over a conv's channels "
                                                "is not supported)");
    *out = ACTS[i].act;
    *alpha = ACTS[i].alpha;
    return XD_OK;
}

/* ---- initializers ------------------------------------------------------------------ */
static const struct init_name {
    const char *cls, *alias;
    xd_init_kind kind;
} INITS[] = {
    {"GlorotUniform", "glorot_uniform", XD_INIT_GLOROT_UNIFORM},
    {"GlorotNormal", "glorot_normal", XD_INIT_GLOROT_NORMAL},
    {"HeUniform", "he_uniform", XD_INIT_HE_UNIFORM},
    {"HeNormal", "he_normal", XD_INIT_HE_NORMAL},
    {"Zeros", "zeros", XD_INIT_ZEROS},
    {"Ones", "ones", XD_INIT_ONES},
    {"RandomUniform", "random_uniform", XD_INIT_RANDOM_UNIFORM},
    {"RandomNormal", "random_normal", XD_INIT_RANDOM_NORMAL},
};
#define INIT_LIST "GlorotUniform, GlorotNormal, HeUniform, HeNormal, Zeros, Ones, RandomUniform, RandomNormal"

/* An initializer's own options: RandomUniform's minval/maxval and
 * RandomNormal's mean/stddev (Keras's defaults when absent), a seed
 * (accepted, unused: crossdev draws from its own streams); anything else
 * must be null. */
static xd_status init_options(const xd_kopts *io, xd_init_spec *out)
{
    static const char *const uniform[] = {"minval", "maxval", "seed", NULL};
    static const char *const normal[] = {"mean", "stddev", "seed", NULL};
    static const char *const plain[] = {"seed", NULL};
    if (out->kind == XD_INIT_RANDOM_UNIFORM) {
        XD_TRY(xd_kopt_number(io, "minval", -0.05, -1e30, 1e30, 1, &out->a));
        XD_TRY(xd_kopt_number(io, "maxval", 0.05, -1e30, 1e30, 1, &out->b));
        return xd_kopt_unknown(io, uniform);
    }
    if (out->kind == XD_INIT_RANDOM_NORMAL) {
        XD_TRY(xd_kopt_number(io, "mean", 0, -1e30, 1e30, 1, &out->a));
        XD_TRY(xd_kopt_number(io, "stddev", 0.05, 0, 1e30, 1, &out->b));
        return xd_kopt_unknown(io, normal);
    }
    return xd_kopt_unknown(io, plain);
}

/* A Keras initializer: {"class_name": "GlorotUniform", "config": {...}} or
 * its string name; absent or null: def. */
static xd_status init_of(const lctx *L, const char *key, xd_init_kind def, xd_init_spec *out)
{
    json_t *v = json_object_get(L->o.cfg, key);
    memset(out, 0, sizeof *out);
    out->kind = def;
    if (!v || json_is_null(v)) return XD_OK;
    const char *cls = json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "class_name"));
    json_t *cfg = json_is_object(v) ? json_object_get(v, "config") : NULL;
    size_t i = 0, n = sizeof INITS / sizeof INITS[0];
    while (cls && i < n && strcmp(cls, INITS[i].cls) != 0 && strcmp(cls, INITS[i].alias) != 0) i++;
    if (!cls || i == n || (cfg && !json_is_object(cfg) && !json_is_null(cfg)))
        return xd_kopt_refuse(&L->o, "%s %s is not supported (supported: " INIT_LIST ")", key,
                              cls ? cls : "(not an initializer)");
    out->kind = INITS[i].kind;
    xd_kopts io = {L->o.file, "", json_is_object(cfg) ? cfg : json_object(), L->o.err};
    snprintf(io.where, sizeof io.where, "%s: %s %s", L->o.where, key, INITS[i].cls);
    xd_status st = init_options(&io, out);
    if (!json_is_object(cfg)) json_decref(io.cfg);
    return st;
}

/* ---- InputLayer ------------------------------------------------------------------- */
/* A Keras shape: the batch dimension first when batch (null or a size,
 * either accepted) then positive sizes, at most 4; XD_FORMAT otherwise. */
xd_status xd_keras_shape_of(const xd_kopts *o, const char *key, int batch, int64_t dims[4], int *rank)
{
    json_t *v = json_object_get(o->cfg, key);
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n < (size_t)batch + 1 || n > (size_t)batch + 4)
        return xd_kopt_unsupported(o, key, "only a shape (height, width, channels)");
    *rank = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (batch && i == 0 && (json_is_null(e) || json_is_integer(e))) continue;
        if (!json_is_integer(e) || json_integer_value(e) < 1 || json_integer_value(e) > XD_KERAS_MAX_DIM)
            return xd_kopt_unsupported(o, key, "only fixed sizes 1..1048576 after the batch");
        dims[(*rank)++] = json_integer_value(e);
    }
    return XD_OK;
}

xd_status xd_keras_input_layer(const char *file, json_t *layer, int64_t dims[4], int *rank, xd_error *err)
{
    static const char *const known[] = {"name",   "dtype",    "batch_shape", "batch_input_shape", "shape", "sparse",
                                        "ragged", "optional", NULL};
    json_t *cfg = json_object_get(layer, "config");
    const char *name = json_string_value(json_object_get(cfg, "name"));
    xd_kopts o = {file, "", cfg, err};
    snprintf(o.where, sizeof o.where, "layer '%.63s' (InputLayer)", name ? name : "?");
    if (!json_is_object(cfg)) return xd_kopt_refuse(&o, "no config");
    char dt[96];
    if (!xd_keras_dtype_is_float32(json_object_get(cfg, "dtype"), dt, sizeof dt))
        return xd_kopt_refuse(&o, "dtype '%s' is not supported (only float32)", dt);
    XD_TRY(xd_kopt_false(&o, "sparse"));
    XD_TRY(xd_kopt_false(&o, "ragged"));
    XD_TRY(xd_kopt_false(&o, "optional"));
    XD_TRY(xd_kopt_unknown(&o, known));
    if (json_object_get(cfg, "batch_shape")) return xd_keras_shape_of(&o, "batch_shape", 1, dims, rank);
    if (json_object_get(cfg, "batch_input_shape")) return xd_keras_shape_of(&o, "batch_input_shape", 1, dims, rank);
    return xd_keras_shape_of(&o, "shape", 0, dims, rank);
}

/* ---- the layer classes ------------------------------------------------------------- */
static const char *const WEIGHT_EXTRAS[] = {"activity_regularizer", "kernel_constraint", "bias_constraint",
                                            "quantization_config", NULL};

/* What Conv2D and Dense share: activation, bias, initializers, L2
 * regularizers (keras_regularize.c), no activity regularizer or
 * constraints. */
static xd_status weighted_options(const lctx *L, int softmax_ok, xd_layer_spec *s)
{
    XD_TRY(activation_of(&L->o, softmax_ok, &s->activation, &s->alpha));
    XD_TRY(xd_kopt_bool(&L->o, "use_bias", 1, &s->use_bias));
    XD_TRY(init_of(L, "kernel_initializer", XD_INIT_GLOROT_UNIFORM, &s->kernel_init));
    XD_TRY(init_of(L, "bias_initializer", XD_INIT_ZEROS, &s->bias_init));
    XD_TRY(xd_keras_regularizers(&L->o, s));
    return xd_kopt_null(&L->o, WEIGHT_EXTRAS);
}

static xd_status parse_conv2d(const lctx *L, xd_layer_spec *s)
{
    const xd_kopts *o = &L->o;
    int k[2], st[2];
    s->type = XD_LAYER_CONV2D;
    XD_TRY(xd_kopt_int(o, "filters", 1, XD_KERAS_MAX_DIM, &s->filters));
    XD_TRY(xd_kopt_int_pair(o, "kernel_size", -1, 1, XD_KERAS_MAX_KERNEL, k));
    XD_TRY(xd_kopt_int_pair(o, "strides", 1, 1, XD_KERAS_MAX_KERNEL, st));
    s->kh = k[0], s->kw = k[1], s->sh = st[0], s->sw = st[1];
    XD_TRY(padding_of(o, &s->padding));
    XD_TRY(channels_last(o));
    XD_TRY(xd_kopt_ones(o, "dilation_rate"));
    XD_TRY(xd_kopt_ones(o, "groups"));
    return weighted_options(L, 0, s); /* no softmax over a conv's channels */
}

static xd_status parse_pooling(const lctx *L, xd_layer_spec *s)
{
    const xd_kopts *o = &L->o;
    int k[2], st[2];
    s->type = strcmp(L->cls, "MaxPooling2D") == 0 ? XD_LAYER_MAXPOOL2D : XD_LAYER_AVGPOOL2D;
    XD_TRY(xd_kopt_int_pair(o, "pool_size", 2, 1, XD_KERAS_MAX_KERNEL, k));
    json_t *sv = json_object_get(o->cfg, "strides");
    if (!sv || json_is_null(sv)) st[0] = k[0], st[1] = k[1]; /* Keras: strides default to pool_size */
    else XD_TRY(xd_kopt_int_pair(o, "strides", -1, 1, XD_KERAS_MAX_KERNEL, st));
    s->kh = k[0], s->kw = k[1], s->sh = st[0], s->sw = st[1];
    XD_TRY(padding_of(o, &s->padding));
    return channels_last(o);
}

static xd_status parse_flatten(const lctx *L, xd_layer_spec *s)
{
    s->type = XD_LAYER_FLATTEN;
    L->c->flat = 1;
    return channels_last(&L->o);
}

static xd_status parse_dense(const lctx *L, xd_layer_spec *s)
{
    s->type = XD_LAYER_DENSE;
    L->c->flat = 1;
    XD_TRY(xd_kopt_int(&L->o, "units", 1, XD_KERAS_MAX_DIM, &s->units));
    return weighted_options(L, 1, s);
}

/* The mask is crossdev's (Philox, keyed by seed, layer and step): Keras's
 * own seed is accepted and not used. */
static xd_status parse_dropout(const lctx *L, xd_layer_spec *s)
{
    static const char *const extras[] = {"noise_shape", NULL};
    s->type = XD_LAYER_DROPOUT;
    if (!json_is_number(json_object_get(L->o.cfg, "rate")))
        return xd_kopt_unsupported(&L->o, "rate", "only a number in [0, 1)");
    XD_TRY(xd_kopt_number(&L->o, "rate", 0, 0, 1, 0, &s->rate));
    return xd_kopt_null(&L->o, extras);
}

static xd_status parse_relu(const lctx *L, xd_layer_spec *s)
{
    static const char *const extras[] = {"max_value", NULL};
    s->type = XD_LAYER_ACTIVATION;
    s->activation = XD_ACT_RELU;
    XD_TRY(xd_kopt_null(&L->o, extras));
    XD_TRY(xd_kopt_value(&L->o, "negative_slope", 0, "only 0"));
    return xd_kopt_value(&L->o, "threshold", 0, "only 0");
}

static xd_status parse_activation(const lctx *L, xd_layer_spec *s)
{
    s->type = XD_LAYER_ACTIVATION;
    return activation_of(&L->o, 1, &s->activation, &s->alpha);
}

/* LeakyReLU(negative_slope=0.3), ELU(alpha=1.0): the activations with the
 * layer's parameter. */
static xd_status parse_leaky_relu(const lctx *L, xd_layer_spec *s)
{
    s->type = XD_LAYER_ACTIVATION;
    s->activation = XD_ACT_LEAKY_RELU;
    return xd_kopt_number(&L->o, "negative_slope", 0.3, 0, 1e30, 1, &s->alpha);
}

static xd_status parse_elu(const lctx *L, xd_layer_spec *s)
{
    s->type = XD_LAYER_ACTIVATION;
    s->activation = XD_ACT_ELU;
    return xd_kopt_number(&L->o, "alpha", 1.0, -1e30, 1e30, 1, &s->alpha);
}

/* Softmax on the last axis (-1, or 1 on features): a softmax Activation. */
static xd_status parse_softmax(const lctx *L, xd_layer_spec *s)
{
    json_t *v = json_object_get(L->o.cfg, "axis");
    if (json_is_array(v) && json_array_size(v) == 1) v = json_array_get(v, 0);
    s->type = XD_LAYER_ACTIVATION;
    s->activation = XD_ACT_SOFTMAX;
    if (!v || (json_is_integer(v) && (json_integer_value(v) == -1 || (L->c->flat && json_integer_value(v) == 1))))
        return XD_OK;
    return xd_kopt_unsupported(&L->o, "axis", "only -1, the features");
}

/* axis: the channels (-1, or the last axis by number: 3 on an image, 1 on
 * features), as an integer or a one-element list. */
static xd_status bn_axis(const lctx *L)
{
    json_t *v = json_object_get(L->o.cfg, "axis");
    if (json_is_array(v) && json_array_size(v) == 1) v = json_array_get(v, 0);
    if (!v || (json_is_integer(v) && (json_integer_value(v) == -1 || json_integer_value(v) == (L->c->flat ? 1 : 3))))
        return XD_OK;
    return xd_kopt_unsupported(&L->o, "axis", L->c->flat ? "only -1 or 1, the features" : "only -1 or 3, the channels");
}

static xd_status parse_batchnorm(const lctx *L, xd_layer_spec *s)
{
    static const char *const extras[] = {"beta_regularizer", "gamma_regularizer", "beta_constraint",
                                         "gamma_constraint", "renorm_clipping",   NULL};
    const xd_kopts *o = &L->o;
    s->type = XD_LAYER_BATCHNORM;
    XD_TRY(bn_axis(L));
    XD_TRY(xd_kopt_number(o, "momentum", 0.99, 0, 1, 1, &s->momentum));
    XD_TRY(xd_kopt_number(o, "epsilon", 1e-3, 1e-30, 1, 0, &s->epsilon));
    XD_TRY(xd_kopt_bool(o, "center", 1, &s->center));
    XD_TRY(xd_kopt_bool(o, "scale", 1, &s->scale));
    XD_TRY(init_of(L, "beta_initializer", XD_INIT_ZEROS, &s->beta_init));
    XD_TRY(init_of(L, "gamma_initializer", XD_INIT_ONES, &s->gamma_init));
    XD_TRY(init_of(L, "moving_mean_initializer", XD_INIT_ZEROS, &s->moving_mean_init));
    XD_TRY(init_of(L, "moving_variance_initializer", XD_INIT_ONES, &s->moving_variance_init));
    XD_TRY(xd_kopt_false(o, "synchronized"));
    XD_TRY(xd_kopt_false(o, "renorm"));
    return xd_kopt_null(o, extras);
}

/* Add: no options of its own. */
static xd_status parse_add(const lctx *L, xd_layer_spec *s)
{
    (void)L;
    s->type = XD_LAYER_ADD;
    return XD_OK;
}

/* Concatenate on the channels: axis -1, or the last by number (3 on
 * images, 1 on features). */
static xd_status parse_concatenate(const lctx *L, xd_layer_spec *s)
{
    s->type = XD_LAYER_CONCATENATE;
    json_t *v = json_object_get(L->o.cfg, "axis");
    if (!v || (json_is_integer(v) && (json_integer_value(v) == -1 || json_integer_value(v) == (L->c->flat ? 1 : 3))))
        return XD_OK;
    return xd_kopt_unsupported(&L->o, "axis", L->c->flat ? "only -1 or 1, the features" : "only -1 or 3, the channels");
}

/* GlobalAveragePooling2D: the channels of an image as features
 * (keepdims false). */
static xd_status parse_global_avgpool(const lctx *L, xd_layer_spec *s)
{
    s->type = XD_LAYER_GLOBAL_AVGPOOL2D;
    L->c->flat = 1;
    XD_TRY(xd_kopt_false(&L->o, "keepdims"));
    return channels_last(&L->o);
}

/* GlobalMaxPooling2D (keepdims false), as the average's. */
static xd_status parse_global_maxpool(const lctx *L, xd_layer_spec *s)
{
    XD_TRY(parse_global_avgpool(L, s));
    s->type = XD_LAYER_GLOBAL_MAXPOOL2D;
    return XD_OK;
}

/* ZeroPadding2D's padding: an integer, a pair (rows, columns), or
 * ((top, bottom), (left, right)); each 0..1024. */
static xd_status parse_zeropadding(const lctx *L, xd_layer_spec *s)
{
    json_t *v = json_object_get(L->o.cfg, "padding");
    int ok = 1;
    s->type = XD_LAYER_ZEROPADDING2D;
    for (int k = 0; k < 4; k++) {
        json_t *axis = json_is_array(v) ? json_array_get(v, (size_t)(k / 2)) : v;
        json_t *e = json_is_array(axis) ? json_array_get(axis, (size_t)(k % 2)) : axis;
        ok = ok && (!json_is_array(v) || json_array_size(v) == 2) &&
             (!json_is_array(axis) || json_array_size(axis) == 2);
        ok = ok && json_is_integer(e) && json_integer_value(e) >= 0 && json_integer_value(e) <= XD_KERAS_MAX_KERNEL;
        s->pad[k] = ok ? (int)json_integer_value(e) : 0;
    }
    if (!ok && v)
        return xd_kopt_unsupported(&L->o, "padding",
                                   "only an integer, a pair, or ((top, bottom), (left, right)) of integers 0..1024");
    if (!v) s->pad[0] = s->pad[1] = s->pad[2] = s->pad[3] = 1; /* Keras's default padding=(1, 1) */
    return channels_last(&L->o);
}

/* Each class with the options its parser reads; any other option must be
 * null (checked after the parser, whose messages are the more precise).
 * renorm_momentum has no effect while renorm is false. */
static const struct layer_class {
    const char *cls;
    xd_status (*parse)(const lctx *, xd_layer_spec *);
    const char *const keys[24];
} CLASSES[] = {
    {"Conv2D",
     parse_conv2d,
     {"name", "trainable", "dtype", "filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
      "groups", "activation", "use_bias", "kernel_initializer", "bias_initializer", "kernel_regularizer",
      "bias_regularizer"}},
    {"MaxPooling2D", parse_pooling, {"name", "trainable", "dtype", "pool_size", "strides", "padding", "data_format"}},
    {"AveragePooling2D",
     parse_pooling,
     {"name", "trainable", "dtype", "pool_size", "strides", "padding", "data_format"}},
    {"Flatten", parse_flatten, {"name", "trainable", "dtype", "data_format"}},
    {"Dense",
     parse_dense,
     {"name", "trainable", "dtype", "units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
      "kernel_regularizer", "bias_regularizer"}},
    {"Dropout", parse_dropout, {"name", "trainable", "dtype", "rate", "seed"}},
    {"ReLU", parse_relu, {"name", "trainable", "dtype", "negative_slope", "threshold"}},
    {"Activation", parse_activation, {"name", "trainable", "dtype", "activation"}},
    {"BatchNormalization",
     parse_batchnorm,
     {"name", "trainable", "dtype", "axis", "momentum", "epsilon", "center", "scale", "beta_initializer",
      "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer", "synchronized", "renorm",
      "renorm_momentum"}},
    {"Add", parse_add, {"name", "trainable", "dtype"}},
    {"Concatenate", parse_concatenate, {"name", "trainable", "dtype", "axis"}},
    {"GlobalAveragePooling2D", parse_global_avgpool, {"name", "trainable", "dtype", "data_format", "keepdims"}},
    {"GlobalMaxPooling2D", parse_global_maxpool, {"name", "trainable", "dtype", "data_format", "keepdims"}},
    {"ZeroPadding2D", parse_zeropadding, {"name", "trainable", "dtype", "padding", "data_format"}},
    {"LeakyReLU", parse_leaky_relu, {"name", "trainable", "dtype", "negative_slope"}},
    {"ELU", parse_elu, {"name", "trainable", "dtype", "alpha"}},
    {"Softmax", parse_softmax, {"name", "trainable", "dtype", "axis"}},
};
#define CLASS_LIST                                                                                                 \
    "InputLayer (first), Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dense, Dropout, ReLU, Activation, "      \
    "BatchNormalization, GlobalAveragePooling2D, GlobalMaxPooling2D, ZeroPadding2D, LeakyReLU, ELU, Softmax, and " \
    "in functional models Add, Concatenate"

/* The options every layer has: trained, float32. */
static xd_status common_options(const xd_kopts *o)
{
    char dt[96];
    json_t *tr = json_object_get(o->cfg, "trainable");
    if (tr && !json_is_true(tr)) return xd_kopt_unsupported(o, "trainable", "only true: crossdev trains every layer");
    if (!xd_keras_dtype_is_float32(json_object_get(o->cfg, "dtype"), dt, sizeof dt))
        return xd_kopt_refuse(o, "dtype policy '%s' is not supported (only float32)", dt);
    return XD_OK;
}

xd_status xd_keras_layer_parse(xd_keras_layer_ctx *c, json_t *layer, xd_layer_spec *out, xd_error *err)
{
    memset(out, 0, sizeof *out);
    lctx L = {{c->file, "", json_object_get(layer, "config"), err},
              c,
              json_string_value(json_object_get(layer, "class_name"))};
    if (!L.cls || !json_is_object(L.o.cfg))
        return xd_error_set(err, XD_FORMAT, 0, "%s: a layer without class_name and config", c->file);
    const char *name = json_string_value(json_object_get(L.o.cfg, "name"));
    snprintf(L.o.where, sizeof L.o.where, "layer '%.63s%s' (%.64s)", name ? name : "?",
             name && strlen(name) > 63 ? "..." : "", L.cls);
    if (!name || !xd_keras_name_ok(name))
        return xd_kopt_refuse(&L.o, "the name must be 1..63 characters of A-Z a-z 0-9 _ - . (crossdev names "
                                    "parameters and files after it)");
    const char *reg = json_string_value(json_object_get(layer, "registered_name"));
    size_t i = 0, n = sizeof CLASSES / sizeof CLASSES[0];
    while (i < n && strcmp(CLASSES[i].cls, L.cls) != 0) i++;
    if (i == n || (reg && strcmp(reg, L.cls) != 0))
        return xd_kopt_refuse(&L.o, "layer class %s%s%s is not supported (supported: " CLASS_LIST ")", L.cls,
                              reg ? " registered as " : "", reg ? reg : "");
    XD_TRY(common_options(&L.o));
    XD_TRY(CLASSES[i].parse(&L, out));
    XD_TRY(xd_kopt_unknown(&L.o, CLASSES[i].keys));
    snprintf(out->name, sizeof out->name, "%s", name);
    return XD_OK;
}
