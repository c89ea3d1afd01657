/* The model: one builder reads the spec's table of layers (Keras
 * semantics, crossdev's NCHW) into layers with their tensors, and makes
 * the plan (host/train/plan.c: the steps, which fuse, what each op is
 * called) before the first step, its references bound to those tensors;
 * host/train/net_run.c runs it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/net.h"

/* ---- building ------------------------------------------------------------------------ */

static xd_status tensor4(xd_model *m, int64_t n, const xd_layer_shape *s, xd_tensor **out)
{
    const int64_t shape4[4] = {n, s->c, s->h, s->w}, shape2[2] = {n, s->c};
    int flat = s->h == 1 && s->w == 1;
    return xd_tensor_create(m->ctx, XD_DTYPE_F32, flat ? 2 : 4, flat ? shape2 : shape4, out);
}

/* A parameter (trainable: with its gradient and the optimizer's state) or
 * a non-trainable state tensor. */
static xd_status add_param(xd_model *m, const xd_layer_spec *layer, xd_field what, int ndim, const int64_t *shape,
                           const xd_init_spec *init, int64_t fan_in, int64_t fan_out, int trainable, xd_param **out)
{
    if (m->nparams >= XD_MAX_PARAMS) return xd_fail(m->ctx, XD_INVALID_ARGUMENT, 0, "model: too many parameters");
    xd_param *p = &m->params[m->nparams];
    snprintf(p->name, sizeof p->name, "%s.%s", layer->name, xd_plan_param_what(layer, what));
    p->init = *init;
    p->fan_in = fan_in;
    p->fan_out = fan_out;
    p->stream = (uint64_t)m->nparams + 1; /* one Philox stream per tensor */
    m->nparams++;
    const int state = xd_plan_optimizer_state(&m->opt); /* m, then v */
    xd_status st = xd_tensor_create(m->ctx, XD_DTYPE_F32, ndim, shape, &p->w);
    if (st == XD_OK && trainable) st = xd_tensor_create(m->ctx, XD_DTYPE_F32, ndim, shape, &p->g);
    if (st == XD_OK && trainable && state > 0) st = xd_tensor_create(m->ctx, XD_DTYPE_F32, ndim, shape, &p->m);
    if (st == XD_OK && trainable && state > 1) st = xd_tensor_create(m->ctx, XD_DTYPE_F32, ndim, shape, &p->v);
    *out = p;
    return st;
}

/* The output (and its gradient) of a layer that computes one. */
static xd_status layer_io(xd_model *m, xd_layer *l)
{
    l->owns_out = 1;
    xd_status st = tensor4(m, m->batch, &l->out_shape, &l->out);
    if (st == XD_OK) st = tensor4(m, m->batch, &l->out_shape, &l->dout);
    return st;
}

/* The layer whose output layer l reads (its first input), or NULL: the model's input. */
static const xd_layer *input_layer(const xd_model *m, const xd_layer *l)
{
    const int j = xd_layer_input(&m->spec, l->index, 0);
    return j >= 0 ? &m->layers[j] : NULL;
}

/* A layer whose output is its input (a linear activation). */
static void layer_view(xd_model *m, xd_layer *l)
{
    const xd_layer *prev = input_layer(m, l);
    l->owns_out = 0;
    l->out = prev ? prev->out : m->input;
    l->dout = prev ? prev->dout : NULL;
}

/* Flatten: NCHW memory is already flattened (C, H, W); its output and
 * gradient are [N, C*H*W] views of its input's (owned: views are freed). */
static xd_status build_flatten(xd_model *m, xd_layer *l)
{
    const xd_layer *prev = input_layer(m, l);
    const int64_t shape[2] = {m->batch, l->out_shape.c};
    l->owns_out = 1;
    xd_status st = xd_tensor_view(prev ? prev->out : m->input, 2, shape, &l->out);
    if (st == XD_OK && prev && prev->dout) st = xd_tensor_view(prev->dout, 2, shape, &l->dout);
    return st;
}

static xd_status build_conv(xd_model *m, xd_layer *l)
{
    const xd_layer_spec *s = l->spec;
    const int64_t C = l->in_shape.c, O = s->filters;
    const int64_t ws[4] = {O, C, s->kh, s->kw}, bs[1] = {O};
    /* Keras/Glorot fans for a conv kernel: channels x kh x kw */
    xd_status st =
        add_param(m, s, XD_FIELD_WEIGHT, 4, ws, &s->kernel_init, C * s->kh * s->kw, O * s->kh * s->kw, 1, &l->weight);
    if (st == XD_OK && s->use_bias) st = add_param(m, s, XD_FIELD_BIAS, 1, bs, &s->bias_init, 0, 0, 1, &l->bias);
    if (st == XD_OK && s->activation != XD_ACT_LINEAR) st = tensor4(m, m->batch, &l->out_shape, &l->pre);
    if (st == XD_OK && s->activation != XD_ACT_LINEAR) st = tensor4(m, m->batch, &l->out_shape, &l->dpre);
    return st == XD_OK ? layer_io(m, l) : st;
}

static xd_status build_dense(xd_model *m, xd_layer *l)
{
    const xd_layer_spec *s = l->spec;
    const int64_t I = l->in_shape.c * l->in_shape.h * l->in_shape.w, O = s->units;
    const int64_t ws[2] = {O, I}, bs[1] = {O};
    xd_status st = add_param(m, s, XD_FIELD_WEIGHT, 2, ws, &s->kernel_init, I, O, 1, &l->weight);
    if (st == XD_OK && s->use_bias) st = add_param(m, s, XD_FIELD_BIAS, 1, bs, &s->bias_init, 0, 0, 1, &l->bias);
    if (st == XD_OK && s->activation != XD_ACT_LINEAR) st = tensor4(m, m->batch, &l->out_shape, &l->pre);
    if (st == XD_OK && s->activation != XD_ACT_LINEAR) st = tensor4(m, m->batch, &l->out_shape, &l->dpre);
    return st == XD_OK ? layer_io(m, l) : st;
}

static xd_status build_batchnorm(xd_model *m, xd_layer *l)
{
    const xd_layer_spec *s = l->spec;
    const int64_t cs[1] = {l->in_shape.c};
    xd_status st = XD_OK;
    if (s->scale) st = add_param(m, s, XD_FIELD_WEIGHT, 1, cs, &s->gamma_init, 0, 0, 1, &l->weight);
    if (st == XD_OK && s->center) st = add_param(m, s, XD_FIELD_BIAS, 1, cs, &s->beta_init, 0, 0, 1, &l->bias);
    if (st == XD_OK) st = add_param(m, s, XD_FIELD_MOVING_MEAN, 1, cs, &s->moving_mean_init, 0, 0, 0, &l->moving_mean);
    if (st == XD_OK)
        st = add_param(m, s, XD_FIELD_MOVING_VAR, 1, cs, &s->moving_variance_init, 0, 0, 0, &l->moving_var);
    if (st == XD_OK) st = xd_tensor_create(m->ctx, XD_DTYPE_F32, 1, cs, &l->bn_mean);
    if (st == XD_OK) st = xd_tensor_create(m->ctx, XD_DTYPE_F32, 1, cs, &l->bn_var);
    return st == XD_OK ? layer_io(m, l) : st;
}

static xd_status build_layer(xd_model *m, xd_layer *l)
{
    switch (l->spec->type) {
    case XD_LAYER_CONV2D: return build_conv(m, l);
    case XD_LAYER_DENSE: return build_dense(m, l);
    case XD_LAYER_BATCHNORM: return build_batchnorm(m, l);
    case XD_LAYER_MAXPOOL2D:
    case XD_LAYER_AVGPOOL2D:
    case XD_LAYER_GLOBAL_AVGPOOL2D:
    case XD_LAYER_GLOBAL_MAXPOOL2D:
    case XD_LAYER_ZEROPADDING2D:
    case XD_LAYER_ADD:
    case XD_LAYER_CONCATENATE:
    case XD_LAYER_DROPOUT: return layer_io(m, l);
    case XD_LAYER_FLATTEN: return build_flatten(m, l);
    case XD_LAYER_ACTIVATION:
        if (l->spec->activation == XD_ACT_LINEAR) {
            layer_view(m, l);
            return XD_OK;
        }
        return layer_io(m, l);
    }
    return xd_fail(m->ctx, XD_INVALID_ARGUMENT, 0, "model: layer '%s' has an unknown type", l->spec->name);
}

/* The spec's layers with their shapes, tensors and parameters. */
static xd_status build_layers(xd_model *m, xd_error *err)
{
    xd_layer_shape shapes[XD_MAX_LAYERS + 1];
    xd_status st = xd_model_spec_shapes(&m->spec, shapes, err);
    if (st != XD_OK) return st;
    for (int i = 0; i < m->spec.nlayers && st == XD_OK; ++i) {
        xd_layer *l = &m->layers[m->nlayers++];
        l->spec = &m->spec.layers[i];
        l->index = i;
        l->in_shape = shapes[xd_layer_input(&m->spec, i, 0) + 1];
        l->out_shape = shapes[i + 1];
        st = build_layer(m, l);
        if (st != XD_OK) xd_error_from_context(err, st, m->ctx);
    }
    return st;
}

/* Where a parameter's references point: it, its gradient, m and v. */
static void bind_param(xd_tensor **slot, const xd_param *p)
{
    slot[0] = p ? p->w : NULL;
    slot[1] = p ? p->g : NULL;
    slot[2] = p ? p->m : NULL;
    slot[3] = p ? p->v : NULL;
}

/* A step's reference to a tensor the network lacks: the plan and the
 * builder disagree (never, unless one of them is wrong). */
static xd_status check_steps(const xd_model *m, const xd_steps *l)
{
    for (int i = 0; i < l->n; ++i)
        for (int k = 0; k < XD_STEP_INS + XD_STEP_OUTS; ++k) {
            xd_ref r = k < XD_STEP_INS ? l->v[i].in[k] : l->v[i].out[k - XD_STEP_INS];
            if (r != XD_REF_NONE && !m->tensors[r])
                return xd_fail(m->ctx, XD_INVALID_ARGUMENT, 0, "model '%s': step %s uses tensor %d, which it lacks",
                               m->kind, l->v[i].name, r);
        }
    return XD_OK;
}

/* The din of each layer whose backward the plan sums into another's
 * gradient: its input's shape. */
static xd_status plan_scratch(xd_model *m)
{
    const xd_steps *l = &m->plan.backward;
    xd_status st = XD_OK;
    for (int i = 0; i < l->n && st == XD_OK; ++i)
        for (int k = 0; k < XD_STEP_INS + XD_STEP_OUTS && st == XD_OK; ++k) {
            const xd_ref r = k < XD_STEP_INS ? l->v[i].in[k] : l->v[i].out[k - XD_STEP_INS];
            xd_layer *ly = r >= XD_REF_LAYER0 ? &m->layers[(r - XD_REF_LAYER0) / XD_NFIELDS] : NULL;
            if (ly && (r - XD_REF_LAYER0) % XD_NFIELDS == XD_FIELD_DIN && !ly->din)
                st = tensor4(m, m->batch, &ly->in_shape, &ly->din);
        }
    return st;
}

/* The plan's references bound to the tensors they name. */
static xd_status bind_plan(xd_model *m)
{
    xd_tensor **t = m->tensors;
    t[XD_REF_INPUT] = m->input;
    t[XD_REF_LABELS] = m->labels;
    t[XD_REF_LOSS] = m->loss;
    t[XD_REF_ROW_LOSS] = m->row_loss;
    for (int i = 0; i < m->nlayers; ++i) {
        const xd_layer *l = &m->layers[i];
        xd_tensor **f = &t[XD_REF(i, 0)];
        f[XD_FIELD_OUT] = l->out;
        f[XD_FIELD_DOUT] = l->dout;
        f[XD_FIELD_PRE] = l->pre;
        f[XD_FIELD_DPRE] = l->dpre;
        f[XD_FIELD_BN_MEAN] = l->bn_mean;
        f[XD_FIELD_BN_VAR] = l->bn_var;
        bind_param(f + XD_FIELD_WEIGHT, l->weight);
        bind_param(f + XD_FIELD_BIAS, l->bias);
        f[XD_FIELD_MOVING_MEAN] = l->moving_mean ? l->moving_mean->w : NULL;
        f[XD_FIELD_MOVING_VAR] = l->moving_var ? l->moving_var->w : NULL;
        f[XD_FIELD_DIN] = l->din;
    }
    const xd_steps *lists[4] = {&m->plan.train, &m->plan.eval, &m->plan.backward, &m->plan.update};
    xd_status st = XD_OK;
    for (int k = 0; k < 4 && st == XD_OK; ++k) st = check_steps(m, lists[k]);
    return st;
}

xd_status xd_model_create(xd_context *ctx, const xd_model_spec *spec, const xd_optimizer_spec *opt, int64_t batch,
                          int hooks, xd_model **out)
{
    if (!ctx || !spec || !opt || !out) return XD_INVALID_ARGUMENT;
    *out = NULL;
    if (batch < 1) return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "batch %lld must be >= 1", (long long)batch);
    xd_model *m = calloc(1, sizeof *m);
    if (!m) return xd_fail(ctx, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory");
    m->ctx = ctx;
    m->spec = *spec;
    m->opt = *opt;
    snprintf(m->kind, sizeof m->kind, "%s", spec->name);
    m->batch = batch;
    m->channels = spec->in_c;
    m->height = spec->in_h;
    m->width = spec->in_w;
    m->classes = spec->classes;
    const int64_t xs[4] = {batch, spec->in_c, spec->in_h, spec->in_w}, ys[1] = {batch}, one[1] = {1};
    xd_error e;
    xd_status st = xd_tensor_create(ctx, XD_DTYPE_F32, 4, xs, &m->input);
    if (st == XD_OK) st = xd_tensor_create(ctx, XD_DTYPE_I32, 1, ys, &m->labels);
    if (st == XD_OK) st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, one, &m->loss);
    if (st == XD_OK) st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, ys, &m->row_loss);
    if (st == XD_OK && (st = build_layers(m, &e)) != XD_OK) xd_fail(ctx, st, 0, "%s", e.message);
    if (st == XD_OK && (st = xd_plan_build(&m->spec, opt, hooks, &m->plan, &e)) != XD_OK)
        xd_fail(ctx, st, 0, "%s", e.message);
    if (st == XD_OK) st = plan_scratch(m);
    if (st == XD_OK) st = bind_plan(m);
    if (st != XD_OK) {
        xd_model_destroy(m);
        return st;
    }
    *out = m;
    return XD_OK;
}

void xd_model_destroy(xd_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->nlayers; ++i) {
        xd_layer *l = &m->layers[i];
        if (l->owns_out) {
            xd_tensor_destroy(l->out);
            xd_tensor_destroy(l->dout);
        }
        xd_tensor_destroy(l->pre);
        xd_tensor_destroy(l->dpre);
        xd_tensor_destroy(l->bn_mean);
        xd_tensor_destroy(l->bn_var);
        xd_tensor_destroy(l->din);
    }
    for (int i = 0; i < m->nparams; ++i) {
        xd_tensor_destroy(m->params[i].w);
        xd_tensor_destroy(m->params[i].g);
        xd_tensor_destroy(m->params[i].m);
        xd_tensor_destroy(m->params[i].v);
    }
    xd_tensor_destroy(m->input);
    xd_tensor_destroy(m->labels);
    xd_tensor_destroy(m->loss);
    xd_tensor_destroy(m->row_loss);
    free(m);
}

/* ---- the training state ------------------------------------------------------------------ */

/* Tensors a parameter contributes to the state: itself, then .m and .v. */
static int param_slots(const xd_param *p) { return 1 + (p->m != NULL) + (p->v != NULL); }

size_t xd_model_state_count(const xd_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->nparams; ++i) n += (size_t)param_slots(&m->params[i]);
    return n;
}

xd_tensor *xd_model_state(const xd_model *m, size_t k, char *name, size_t cap)
{
    for (int i = 0; i < m->nparams; ++i) {
        const xd_param *p = &m->params[i];
        size_t n = (size_t)param_slots(p);
        if (k >= n) {
            k -= n;
            continue;
        }
        if (name) snprintf(name, cap, "%s%s", p->name, k == 0 ? "" : k == 1 ? ".m" : ".v");
        return k == 0 ? p->w : k == 1 ? p->m : p->v;
    }
    return NULL;
}

const xd_tensor *xd_model_logits(const xd_model *m) { return m->layers[m->nlayers - 1].out; }

xd_status xd_model_weights_from_state(const xd_model *m, const float *state, xd_weights *out, xd_error *err)
{
    memset(out, 0, sizeof *out);
    out->items = calloc((size_t)m->nparams, sizeof *out->items);
    if (!out->items) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory (weights)");
    size_t off = 0;
    for (int i = 0; i < m->nparams; ++i) {
        const xd_param *p = &m->params[i];
        xd_weight *w = &out->items[out->n++];
        snprintf(w->name, sizeof w->name, "%s", p->name);
        w->ndim = xd_tensor_ndim(p->w);
        memcpy(w->shape, xd_tensor_shape(p->w), (size_t)w->ndim * sizeof *w->shape);
        w->count = xd_tensor_count(p->w);
        w->data = malloc(w->count * sizeof *w->data);
        if (!w->data) {
            xd_weights_free(out);
            return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory (weights)");
        }
        memcpy(w->data, state + off, w->count * sizeof *w->data);
        off += w->count * (size_t)param_slots(p);
    }
    return XD_OK;
}

/* ---- defaults and warnings --------------------------------------------------------------- */

/* A Keras model without a compile_config trains with Keras's Adam (Keras's
 * own default optimizer is none: compile() must name one, so a file without
 * one has never been trained); seed-cnn with PyTorch's, as ever. */
xd_optimizer_spec xd_train_optimizer(const xd_model_spec *spec)
{
    if (spec && spec->has_optimizer) return spec->optimizer;
    int keras = spec && !(strcmp(spec->source, "built-in") == 0 && strcmp(spec->name, "seed-cnn") == 0);
    return xd_optimizer_defaults(keras ? XD_OPT_ADAM_KERAS : XD_OPT_ADAM_PYTORCH);
}

/* The last layer that computes (views pass their input on), and its
 * activation: a Conv2D/Dense's own, or an Activation layer's. */
static const xd_layer_spec *output_layer(const xd_model_spec *spec)
{
    for (int i = spec->nlayers - 1; i >= 0; i = xd_layer_input(spec, i, 0)) {
        const xd_layer_spec *l = &spec->layers[i];
        int view = l->type == XD_LAYER_FLATTEN || l->type == XD_LAYER_DROPOUT ||
                   (l->type == XD_LAYER_ACTIVATION && l->activation == XD_ACT_LINEAR);
        if (!view) return l;
    }
    return NULL;
}

int xd_model_spec_loss_warning(const xd_model_spec *spec, char *buf, size_t cap)
{
    const xd_layer_spec *out = output_layer(spec);
    if (!out) return 0;
    int softmax =
        out->activation == XD_ACT_SOFTMAX && (out->type == XD_LAYER_DENSE || out->type == XD_LAYER_ACTIVATION);
    if (!spec->loss.from_logits && !softmax) {
        snprintf(buf, cap,
                 "the loss is SparseCategoricalCrossentropy(from_logits=False) but the last layer '%s' (%s) has no "
                 "softmax: its outputs are not probabilities, yet they are treated as probabilities (normalised by "
                 "their sum, clipped to [1e-7, 1-1e-7]), as Keras does; training will barely learn.  Give the layer "
                 "activation=\"softmax\" or the loss from_logits=True",
                 out->name, xd_layer_type_name(out->type));
        return 1;
    }
    if (spec->loss.from_logits && softmax) {
        snprintf(buf, cap,
                 "the loss is SparseCategoricalCrossentropy(from_logits=True) but the last layer '%s' (%s) already "
                 "applies a softmax: its probabilities are treated as logits (a second softmax), as Keras does.  "
                 "Drop the softmax or use from_logits=False",
                 out->name, xd_layer_type_name(out->type));
        return 1;
    }
    return 0;
}
