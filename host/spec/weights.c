/* Keras's variables and crossdev's parameters: which variables a layer has,
 * their names and shapes on both sides, and the one place where the
 * layouts are permuted (import and export both come through here).
 *
 *   Conv2D kernel   Keras HWIO [kh][kw][in][out]  -> crossdev OIHW [out][in][kh][kw]
 *   Dense kernel    Keras [in][out]               -> crossdev [out][in]
 *   features        a Flatten numbers its output (h * W + w) * C + c in
 *                   Keras, (c * H + h) * W + w in crossdev: a Dense kernel's
 *                   inputs and a BatchNormalization vector after a Flatten
 *                   are permuted accordingly. */
#include <stdio.h>
#include <string.h>

#include "spec/keras.h"

int64_t xd_keras_feature_index(int64_t j, int64_t fc, int64_t fh, int64_t fw)
{
    if (fc <= 0) return j;
    int64_t c = j / (fh * fw), h = (j / fw) % fh, w = j % fw;
    return (h * fw + w) * fc + c;
}

static const char *key_base(xd_layer_type t)
{
    switch (t) {
    case XD_LAYER_CONV2D: return "conv2d";
    case XD_LAYER_MAXPOOL2D: return "max_pooling2d";
    case XD_LAYER_AVGPOOL2D: return "average_pooling2d";
    case XD_LAYER_FLATTEN: return "flatten";
    case XD_LAYER_DENSE: return "dense";
    case XD_LAYER_DROPOUT: return "dropout";
    case XD_LAYER_ACTIVATION: return "activation";
    case XD_LAYER_BATCHNORM: return "batch_normalization";
    case XD_LAYER_ADD: return "add";
    case XD_LAYER_CONCATENATE: return "concatenate";
    case XD_LAYER_GLOBAL_AVGPOOL2D: return "global_average_pooling2d";
    case XD_LAYER_GLOBAL_MAXPOOL2D: return "global_max_pooling2d";
    case XD_LAYER_ZEROPADDING2D: return "zero_padding2d";
    }
    return "layer";
}

void xd_keras_layer_keys(const xd_model_spec *spec, char (*keys)[XD_KERAS_KEY_LEN])
{
    for (int i = 0; i < spec->nlayers && i < XD_MAX_LAYERS; i++) {
        int before = 0; /* Keras's _get_unique_name: the first is "conv2d", then "conv2d_1", ... */
        for (int j = 0; j < i; j++) before += spec->layers[j].type == spec->layers[i].type;
        if (before) snprintf(keys[i], XD_KERAS_KEY_LEN, "%s_%d", key_base(spec->layers[i].type), before);
        else snprintf(keys[i], XD_KERAS_KEY_LEN, "%s", key_base(spec->layers[i].type));
    }
}

static void add_var(xd_keras_vars *vs, int layer, const char *lname, const char *suffix, xd_keras_var_kind kind,
                    int ndim, const int64_t *shape, const int64_t *kshape, const xd_layer_shape *in)
{
    xd_keras_var *v = &vs->v[vs->n];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s.%s", lname, suffix);
    v->layer = layer;
    v->index = 0;
    for (size_t k = 0; k < vs->n; k++) v->index += vs->v[k].layer == layer; /* Keras numbers a layer's own */
    v->kind = kind;
    v->ndim = ndim;
    v->count = 1;
    for (int d = 0; d < ndim; d++) {
        v->shape[d] = shape[d];
        v->kshape[d] = kshape[d];
        v->count *= (size_t)shape[d];
    }
    if (kind != XD_KVAR_CONV_KERNEL) v->fc = in->fc, v->fh = in->fh, v->fw = in->fw;
    vs->n++;
}

/* A vector of n per-channel or per-feature values (bias, gamma, ...). */
static void add_vector(xd_keras_vars *vs, int layer, const char *lname, const char *suffix, int64_t n,
                       const xd_layer_shape *in)
{
    add_var(vs, layer, lname, suffix, XD_KVAR_FEATURES, 1, &n, &n, in);
}

static void layer_vars(xd_keras_vars *vs, int i, const xd_layer_spec *l, const xd_layer_shape *in)
{
    xd_layer_shape none = {0};
    if (l->type == XD_LAYER_CONV2D) {
        int64_t s[4] = {l->filters, in->c, l->kh, l->kw}, k[4] = {l->kh, l->kw, in->c, l->filters};
        add_var(vs, i, l->name, "weight", XD_KVAR_CONV_KERNEL, 4, s, k, in);
        if (l->use_bias) add_vector(vs, i, l->name, "bias", l->filters, &none);
    } else if (l->type == XD_LAYER_DENSE) {
        int64_t s[2] = {l->units, in->c}, k[2] = {in->c, l->units};
        add_var(vs, i, l->name, "weight", XD_KVAR_DENSE_KERNEL, 2, s, k, in);
        if (l->use_bias) add_vector(vs, i, l->name, "bias", l->units, &none);
    } else if (l->type == XD_LAYER_BATCHNORM) {
        /* Keras creates gamma, beta, then the moving statistics, and saves
         * the trainable ones first: the same order. */
        if (l->scale) add_vector(vs, i, l->name, "gamma", in->c, in);
        if (l->center) add_vector(vs, i, l->name, "beta", in->c, in);
        add_vector(vs, i, l->name, "moving_mean", in->c, in);
        add_vector(vs, i, l->name, "moving_variance", in->c, in);
    }
}

xd_status xd_keras_vars_of(const xd_model_spec *spec, xd_keras_vars *out, xd_error *err)
{
    xd_layer_shape shapes[XD_MAX_LAYERS + 1];
    out->n = 0;
    xd_status st = xd_model_spec_shapes(spec, shapes, err);
    if (st != XD_OK) return st;
    for (int i = 0; i < spec->nlayers; i++)
        layer_vars(out, i, &spec->layers[i], &shapes[xd_layer_input(spec, i, 0) + 1]);
    return XD_OK;
}

/* One loop for both directions: element e of crossdev's layout and element
 * src_index(e) of Keras's are the same value. */
static size_t keras_index(const xd_keras_var *v, size_t e)
{
    if (v->kind == XD_KVAR_CONV_KERNEL) { /* e = ((o * I + i) * KH + h) * KW + w */
        int64_t O = v->shape[0], I = v->shape[1], KH = v->shape[2], KW = v->shape[3];
        int64_t w = (int64_t)e % KW, h = (int64_t)e / KW % KH, i = (int64_t)e / (KW * KH) % I,
                o = (int64_t)e / (KW * KH * I);
        return (size_t)(((h * KW + w) * I + i) * O + o);
    }
    if (v->kind == XD_KVAR_DENSE_KERNEL) { /* e = u * F + j */
        int64_t U = v->shape[0], F = v->shape[1];
        int64_t u = (int64_t)e / F, j = (int64_t)e % F;
        return (size_t)(xd_keras_feature_index(j, v->fc, v->fh, v->fw) * U + u);
    }
    return (size_t)xd_keras_feature_index((int64_t)e, v->fc, v->fh, v->fw);
}

/* Copies are of the 4 bytes, so every bit pattern (a signalling NaN
 * included) arrives as it left. */
void xd_keras_to_crossdev(const xd_keras_var *v, const float *keras, float *xd)
{
    for (size_t e = 0; e < v->count; e++) memcpy(&xd[e], &keras[keras_index(v, e)], sizeof(float));
}

void xd_keras_from_crossdev(const xd_keras_var *v, const float *xd, float *keras)
{
    for (size_t e = 0; e < v->count; e++) memcpy(&keras[keras_index(v, e)], &xd[e], sizeof(float));
}
