/* The model at work: the initial state, then each step's forward pass,
 * loss, backward pass and optimizer update through the op interfaces, in
 * the order and with the op names the plan fixed (host/train/net.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/net.h"

/* Keras's truncated normal: stddev / 0.87962566103423978 (the stddev of a
 * unit normal truncated at 2) keeps the variance the scale asks for. */
#define XD_TRUNCATED_STDDEV_CORRECTION 0.87962566103423978

/* ---- the initial state ------------------------------------------------------------------ */

/* Fans for Keras's variance scaling; a vector's fans are its length. */
static void fans(const xd_param *p, double *fan_in, double *fan_out)
{
    size_t n = xd_tensor_count(p->w);
    *fan_in = p->fan_in > 0 ? (double)p->fan_in : (double)n;
    *fan_out = p->fan_out > 0 ? (double)p->fan_out : (double)n;
}

/* The initializer's values for p, computed by the host build of the
 * reproducible math (the same bits as the init kernels). */
static void draw_init(const xd_param *p, uint64_t seed, float *v)
{
    const size_t n = xd_tensor_count(p->w);
    double fi, fo;
    fans(p, &fi, &fo);
    switch (p->init.kind) {
    case XD_INIT_GLOROT_UNIFORM: xd_host_init_uniform(v, n, seed, p->stream, sqrt(6.0 / (fi + fo))); return;
    case XD_INIT_HE_UNIFORM: xd_host_init_uniform(v, n, seed, p->stream, sqrt(6.0 / fi)); return;
    case XD_INIT_GLOROT_NORMAL:
        xd_host_init_truncated_normal(v, n, seed, p->stream, sqrt(2.0 / (fi + fo)) / XD_TRUNCATED_STDDEV_CORRECTION);
        return;
    case XD_INIT_HE_NORMAL:
        xd_host_init_truncated_normal(v, n, seed, p->stream, sqrt(2.0 / fi) / XD_TRUNCATED_STDDEV_CORRECTION);
        return;
    case XD_INIT_RANDOM_UNIFORM: xd_host_init_uniform_range(v, n, seed, p->stream, p->init.a, p->init.b); return;
    case XD_INIT_RANDOM_NORMAL:
        xd_host_init_normal(v, n, seed, p->stream, p->init.b);
        for (size_t j = 0; j < n; ++j) v[j] = v[j] + (float)p->init.a;
        return;
    case XD_INIT_ONES:
        for (size_t j = 0; j < n; ++j) v[j] = 1.0f;
        return;
    case XD_INIT_ZEROS: memset(v, 0, n * sizeof *v); return;
    }
}

static const xd_weight *find_weight(const xd_weights *w, const char *name)
{
    for (size_t i = 0; w && i < w->n; ++i)
        if (strcmp(w->items[i].name, name) == 0) return &w->items[i];
    return NULL;
}

/* One parameter: the file's values when it has them (exactly those bits),
 * else its initializer; optimizer state zero. */
static xd_status init_param(xd_model *m, const xd_param *p, uint64_t seed, const xd_weights *weights, float *buf,
                            xd_error *err)
{
    const size_t n = xd_tensor_count(p->w);
    const xd_weight *given = find_weight(weights, p->name);
    if (given && given->count != n)
        return xd_error_set(err, XD_SHAPE_MISMATCH, 0, "weights: '%s' holds %zu values, the model's has %zu", p->name,
                            given->count, n);
    if (given) memcpy(buf, given->data, n * sizeof *buf);
    else draw_init(p, seed, buf);
    xd_status st = xd_tensor_write(p->w, buf, n * sizeof *buf);
    if (st == XD_OK && p->m) st = xd_tensor_fill_zero(p->m);
    if (st == XD_OK && p->v) st = xd_tensor_fill_zero(p->v);
    if (st != XD_OK) {
        xd_error_from_context(err, st, m->ctx);
        xd_error_prefix(err, "init of %s", p->name);
    }
    return st;
}

xd_status xd_model_init(xd_model *m, uint64_t seed, const xd_weights *weights, xd_error *err)
{
    m->seed = seed;
    size_t most = 1;
    for (int i = 0; i < m->nparams; ++i)
        if (xd_tensor_count(m->params[i].w) > most) most = xd_tensor_count(m->params[i].w);
    float *buf = malloc(most * sizeof *buf);
    if (!buf) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory (init)");
    xd_status st = XD_OK;
    for (int i = 0; i < m->nparams && st == XD_OK; ++i) st = init_param(m, &m->params[i], seed, weights, buf, err);
    free(buf);
    for (size_t i = 0; st == XD_OK && weights && i < weights->n; ++i) {
        int used = 0;
        for (int k = 0; k < m->nparams; ++k) used |= strcmp(m->params[k].name, weights->items[i].name) == 0;
        if (!used)
            st = xd_error_set(err, XD_SHAPE_MISMATCH, 0, "weights: '%s' names no tensor of the model '%s'",
                              weights->items[i].name, m->kind);
    }
    return st;
}

/* ---- forward ------------------------------------------------------------------------------ */

static void hook_op(xd_op_hook hook, void *user, const char *layer, const char *what, const xd_tensor *t)
{
    if (!hook) return;
    char name[XD_PARAM_NAME_LEN + 32];
    snprintf(name, sizeof name, "%s.%s", layer, what);
    hook(user, name, &t, 1);
}

/* The activation of a Conv2D/Dense from pre into out (pre is out when linear). */
static xd_status activate(xd_model *m, const xd_layer *l, const xd_tensor *pre, xd_op_hook hook, void *user)
{
    xd_status st = XD_OK;
    if (l->spec->activation == XD_ACT_RELU) st = xd_relu_forward(m->ctx, pre, l->out);
    else if (l->spec->activation == XD_ACT_SOFTMAX) st = xd_softmax_forward(m->ctx, pre, l->out);
    if (st == XD_OK && l->spec->activation != XD_ACT_LINEAR) hook_op(hook, user, l->spec->name, "activation", l->out);
    return st;
}

static xd_status forward_conv(xd_model *m, xd_layer *l, const xd_tensor *in, xd_op_hook hook, void *user)
{
    const xd_tensor *b = l->bias ? l->bias->w : NULL;
    if (l->plan.fuse_relu_forward) {
        /* into this layer's output, or the next layer's (a separate ReLU) */
        xd_tensor *dst = l->spec->activation == XD_ACT_RELU ? l->out : m->layers[l->index + 1].out;
        return xd_conv2d_forward_relu(m->ctx, &l->conv, in, l->weight->w, b, dst);
    }
    xd_tensor *pre = l->pre ? l->pre : l->out;
    xd_status st = xd_conv2d_forward(m->ctx, &l->conv, in, l->weight->w, b, pre);
    if (st == XD_OK) hook_op(hook, user, l->spec->name, "forward", pre);
    return st == XD_OK ? activate(m, l, pre, hook, user) : st;
}

static xd_status forward_dense(xd_model *m, xd_layer *l, const xd_tensor *in, xd_op_hook hook, void *user)
{
    xd_tensor *pre = l->pre ? l->pre : l->out;
    xd_status st = xd_dense_forward(m->ctx, in, l->weight->w, l->bias ? l->bias->w : NULL, pre);
    if (st == XD_OK) hook_op(hook, user, l->spec->name, "forward", pre);
    return st == XD_OK ? activate(m, l, pre, hook, user) : st;
}

static xd_status forward_batchnorm(xd_model *m, xd_layer *l, const xd_tensor *in, int training, xd_op_hook hook,
                                   void *user)
{
    const xd_layer_spec *s = l->spec;
    const xd_tensor *gamma = l->weight ? l->weight->w : NULL, *beta = l->bias ? l->bias->w : NULL;
    if (!training)
        return xd_batchnorm_inference_forward(m->ctx, in, gamma, beta, l->moving_mean->w, l->moving_var->w, s->epsilon,
                                              l->out);
    xd_status st = xd_batchnorm_train_forward(m->ctx, in, gamma, beta, s->epsilon, l->out, l->bn_mean, l->bn_var);
    if (st == XD_OK) hook_op(hook, user, s->name, "forward", l->out);
    /* Keras updates the moving statistics in the training call */
    if (st == XD_OK)
        st =
            xd_batchnorm_update_moving(m->ctx, s->momentum, l->bn_mean, l->bn_var, l->moving_mean->w, l->moving_var->w);
    return st;
}

/* Layer l on input in; returns the tensor the next layer reads. */
static xd_status forward_layer(xd_model *m, xd_layer *l, const xd_tensor *in, int training, int64_t step,
                               xd_op_hook hook, void *user, const xd_tensor **next)
{
    xd_status st = XD_OK;
    const xd_layer_spec *s = l->spec;
    l->in = in;
    *next = l->out;
    switch (s->type) {
    case XD_LAYER_CONV2D: return forward_conv(m, l, in, hook, user);
    case XD_LAYER_DENSE: return forward_dense(m, l, in, hook, user);
    case XD_LAYER_BATCHNORM: return forward_batchnorm(m, l, in, training, hook, user);
    case XD_LAYER_MAXPOOL2D: st = xd_maxpool2d_forward(m->ctx, &l->pool, in, l->out); break;
    case XD_LAYER_AVGPOOL2D: st = xd_avgpool2d_forward(m->ctx, &l->pool, in, l->out); break;
    case XD_LAYER_FLATTEN: return XD_OK; /* a view */
    case XD_LAYER_DROPOUT:
        if (!training || s->rate == 0.0) {
            *next = in; /* off at evaluation */
            return XD_OK;
        }
        st = xd_dropout_forward(m->ctx, in, s->rate, m->seed, XD_DROPOUT_STREAM(l->index, step), l->out);
        break;
    case XD_LAYER_ACTIVATION:
        if (l->plan.skip || s->activation == XD_ACT_LINEAR) return XD_OK;
        st =
            s->activation == XD_ACT_RELU ? xd_relu_forward(m->ctx, in, l->out) : xd_softmax_forward(m->ctx, in, l->out);
        break;
    }
    if (st == XD_OK) hook_op(hook, user, s->name, "forward", l->out);
    return st;
}

/* The loss of the last layer's output: softmax cross-entropy from logits,
 * or Keras's cross-entropy from probabilities (from_logits=False); its
 * gradient lands in the last layer's dout. */
static xd_status loss_forward(xd_model *m, const xd_tensor *out, xd_op_hook hook, void *user)
{
    xd_tensor *grad = m->layers[m->nlayers - 1].dout;
    xd_status st = m->spec.loss.from_logits ? xd_softmax_xent(m->ctx, out, m->labels, m->loss, grad, m->row_loss)
                                            : xd_sparse_xent_probs_form(m->ctx, m->spec.loss.form, out, m->labels,
                                                                        m->loss, grad, m->row_loss);
    if (st == XD_OK) {
        hook_op(hook, user, "loss", "forward", m->loss);
        hook_op(hook, user, "loss", "backward", grad);
    }
    return st;
}

xd_status xd_model_forward(xd_model *m, int training, int64_t step, xd_op_hook hook, void *user)
{
    const xd_tensor *x = m->input;
    xd_status st = XD_OK;
    for (int i = 0; i < m->nlayers && st == XD_OK; ++i)
        st = forward_layer(m, &m->layers[i], x, training, step, hook, user, &x);
    return st == XD_OK ? loss_forward(m, x, hook, user) : st;
}

/* ---- backward ----------------------------------------------------------------------------- */

/* The gradient before a Conv2D/Dense's activation, from its dout. */
static xd_status deactivate(xd_model *m, xd_layer *l, const xd_tensor **g, xd_op_hook hook, void *user)
{
    xd_status st = XD_OK;
    if (l->spec->activation == XD_ACT_LINEAR) return XD_OK;
    if (l->spec->activation == XD_ACT_RELU) st = xd_relu_backward(m->ctx, l->out, l->dout, l->dpre);
    else st = xd_softmax_backward(m->ctx, l->out, l->dout, l->dpre);
    if (st == XD_OK) hook_op(hook, user, l->spec->name, "backward_activation", l->dpre);
    *g = l->dpre;
    return st;
}

static xd_status backward_conv(xd_model *m, xd_layer *l, xd_tensor *din, xd_op_hook hook, void *user)
{
    const xd_tensor *g = l->dout;
    const char *name = l->spec->name;
    xd_status st = deactivate(m, l, &g, hook, user);
    if (st == XD_OK && l->plan.fuse_bias_backward) {
        st = xd_conv2d_backward_weights_bias(m->ctx, &l->conv, l->in, g, l->weight->g, l->bias->g);
    } else {
        if (st == XD_OK) st = xd_conv2d_backward_weights(m->ctx, &l->conv, l->in, g, l->weight->g);
        if (st == XD_OK) hook_op(hook, user, name, "backward_weights", l->weight->g);
        if (st == XD_OK && l->bias) st = xd_conv2d_backward_bias(m->ctx, g, l->bias->g);
        if (st == XD_OK && l->bias) hook_op(hook, user, name, "backward_bias", l->bias->g);
    }
    if (st == XD_OK && din) st = xd_conv2d_backward_data(m->ctx, &l->conv, g, l->weight->w, din);
    if (st == XD_OK && din) hook_op(hook, user, name, "backward_data", din);
    return st;
}

static xd_status backward_dense(xd_model *m, xd_layer *l, xd_tensor *din, xd_op_hook hook, void *user)
{
    const xd_tensor *g = l->dout;
    const char *name = l->spec->name;
    xd_status st = deactivate(m, l, &g, hook, user);
    if (st == XD_OK) st = xd_dense_backward_weights(m->ctx, l->in, g, l->weight->g);
    if (st == XD_OK) hook_op(hook, user, name, "backward_weights", l->weight->g);
    if (st == XD_OK && l->bias) st = xd_dense_backward_bias(m->ctx, g, l->bias->g);
    if (st == XD_OK && l->bias) hook_op(hook, user, name, "backward_bias", l->bias->g);
    if (st != XD_OK || !din) return st;
    if (l->plan.fuse_relu_backward) {
        /* the ReLU below (through views) applied on the way out, straight
         * into the gradient of that ReLU's input */
        const xd_layer *r = &m->layers[l->plan.relu_layer];
        return xd_dense_backward_data_relu(m->ctx, g, l->weight->w, r->out, m->layers[r->index - 1].dout);
    }
    st = xd_dense_backward_data(m->ctx, g, l->weight->w, din);
    if (st == XD_OK) hook_op(hook, user, name, "backward_data", din);
    return st;
}

/* Layer l's backward from its dout into din (the gradient of its input;
 * NULL for the first layer, whose input needs none). */
static xd_status backward_layer(xd_model *m, xd_layer *l, xd_tensor *din, int64_t step, xd_op_hook hook, void *user)
{
    const xd_layer_spec *s = l->spec;
    xd_status st = XD_OK;
    switch (s->type) {
    case XD_LAYER_CONV2D: return backward_conv(m, l, din, hook, user);
    case XD_LAYER_DENSE: return backward_dense(m, l, din, hook, user);
    case XD_LAYER_FLATTEN: return XD_OK; /* views: the gradient is already where the layer below wants it */
    case XD_LAYER_BATCHNORM:
        st = xd_batchnorm_train_backward(m->ctx, l->in, l->dout, l->weight ? l->weight->w : NULL, l->bn_mean, l->bn_var,
                                         s->epsilon, din, l->weight ? l->weight->g : NULL, l->bias ? l->bias->g : NULL);
        break;
    case XD_LAYER_MAXPOOL2D:
        if (din) st = xd_maxpool2d_backward(m->ctx, &l->pool, l->in, l->dout, din);
        break;
    case XD_LAYER_AVGPOOL2D:
        if (din) st = xd_avgpool2d_backward(m->ctx, &l->pool, l->dout, din);
        break;
    case XD_LAYER_DROPOUT:
        if (din && s->rate == 0.0) st = xd_tensor_copy(din, l->dout);
        else if (din)
            st = xd_dropout_backward(m->ctx, l->dout, s->rate, m->seed, XD_DROPOUT_STREAM(l->index, step), din);
        break;
    case XD_LAYER_ACTIVATION: /* (a ReLU fused into the conv before it still runs its backward) */
        if (s->activation == XD_ACT_LINEAR || !din) return XD_OK;
        st = s->activation == XD_ACT_RELU ? xd_relu_backward(m->ctx, l->out, l->dout, din)
                                          : xd_softmax_backward(m->ctx, l->out, l->dout, din);
        break;
    }
    if (st == XD_OK && din) hook_op(hook, user, s->name, "backward", din);
    return st;
}

xd_status xd_model_backward(xd_model *m, int64_t step, xd_op_hook hook, void *user)
{
    xd_status st = XD_OK;
    for (int i = m->nlayers - 1; i >= 0 && st == XD_OK; --i) {
        xd_layer *l = &m->layers[i];
        /* the gradient of this layer's input: the dout of the layer below (through views) */
        int below = i - 1;
        while (below >= 0 && !m->layers[below].owns_out) --below;
        xd_tensor *din = below >= 0 ? m->layers[below].dout : NULL;
        if (!l->owns_out && l->spec->type != XD_LAYER_ACTIVATION) continue;
        st = backward_layer(m, l, din, step, hook, user);
        if (st == XD_OK && l->plan.fuse_relu_backward) i = l->plan.relu_layer; /* the ReLU was applied */
    }
    return st;
}

/* ---- the optimizer -------------------------------------------------------------------------- */

static xd_status update_param(xd_model *m, xd_param *q, int64_t t)
{
    const xd_optimizer_spec *o = &m->opt;
    xd_adam_params ap = {o->lr, o->beta1, o->beta2, o->eps};
    xd_sgd_params sp = {o->lr, o->momentum, o->nesterov, o->kind == XD_OPT_SGD_KERAS ? XD_SGD_KERAS : XD_SGD_TORCH};
    switch (o->kind) {
    case XD_OPT_ADAM_PYTORCH: return xd_adam_step(m->ctx, &ap, t, q->w, q->g, q->m, q->v);
    case XD_OPT_ADAM_KERAS: return xd_adam_keras_step(m->ctx, &ap, t, q->w, q->g, q->m, q->v);
    case XD_OPT_SGD_PYTORCH:
    case XD_OPT_SGD_KERAS: return xd_sgd_step(m->ctx, &sp, t, q->w, q->g, q->m);
    }
    return xd_fail(m->ctx, XD_INVALID_ARGUMENT, 0, "optimizer %d unknown", (int)o->kind);
}

xd_status xd_model_update(xd_model *m, int64_t t, xd_op_hook hook, void *user)
{
    xd_status st = XD_OK;
    /* One launch per tensor: a single launch over all of them (pointer
     * chosen per work-item) measured 2.5x slower on PoCL, whose vectoriser
     * the selection defeats (docs/performance.md). */
    for (int i = 0; i < m->nparams && st == XD_OK; ++i) {
        xd_param *q = &m->params[i];
        if (!q->g) continue; /* not trainable */
        st = update_param(m, q, t);
        if (st == XD_OK && hook) {
            char name[XD_PARAM_NAME_LEN + 16];
            const xd_tensor *written[3] = {q->w, q->m, q->v};
            snprintf(name, sizeof name, "%s.update", q->name);
            hook(user, name, written, q->v ? 3 : q->m ? 2 : 1);
        }
    }
    return st;
}
