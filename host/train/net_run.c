/* The model at work: the initial state, then the executor, which runs
 * the plan's lists (host/train/plan.c) one op call per step, the op hook
 * after each: a training step's forward and loss, the backward pass and
 * the updates, or an evaluation's forward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crossdev/train.h"
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

/* ---- the steps ----------------------------------------------------------------------------- */

/* An update: the plan's hyper-parameters, with this step's learning rate
 * where the optimizer has a schedule (m->lr_now, set by xd_model_update). */
static xd_status update_op(xd_model *m, const xd_step *s, int64_t t, const xd_tensor *g, xd_tensor *w, xd_tensor *s1,
                           xd_tensor *s2)
{
    xd_step_params p = s->p;
    const int scheduled = m->opt.schedule.kind != XD_LR_CONSTANT;
    if (s->kind == XD_STEP_SGD) {
        if (scheduled) p.sgd.lr = m->lr_now;
        return xd_sgd_step(m->ctx, &p.sgd, t, w, g, s1);
    }
    if (scheduled) p.adam.lr = m->lr_now;
    if (s->kind == XD_STEP_ADAM) return xd_adam_step(m->ctx, &p.adam, t, w, g, s1, s2);
    return xd_adam_keras_step(m->ctx, &p.adam, t, w, g, s1, s2);
}

/* One step's op: its tensors are those its references name; `step` keys
 * dropout's mask and is the update's t. */
static xd_status run_op(xd_model *m, const xd_step *s, int64_t step)
{
    xd_context *ctx = m->ctx;
    xd_tensor *const *t = m->tensors;
    const xd_tensor *a = t[s->in[0]], *b = t[s->in[1]], *c = t[s->in[2]], *d = t[s->in[3]], *e = t[s->in[4]];
    xd_tensor *y = t[s->out[0]], *y1 = t[s->out[1]], *y2 = t[s->out[2]];
    const xd_step_params *p = &s->p;
    const uint64_t drop = XD_DROPOUT_STREAM(p->dropout.layer, step);
    switch (s->kind) {
    case XD_STEP_CONV: return xd_conv2d_forward(ctx, &p->conv, a, b, c, y);
    case XD_STEP_CONV_RELU: return xd_conv2d_forward_relu(ctx, &p->conv, a, b, c, y);
    case XD_STEP_DENSE: return xd_dense_forward(ctx, a, b, c, y);
    case XD_STEP_RELU: return xd_relu_forward(ctx, a, y);
    case XD_STEP_SOFTMAX: return xd_softmax_forward(ctx, a, y);
    case XD_STEP_MAXPOOL: return xd_maxpool2d_forward(ctx, &p->pool, a, y);
    case XD_STEP_AVGPOOL: return xd_avgpool2d_forward(ctx, &p->pool, a, y);
    case XD_STEP_DROPOUT: return xd_dropout_forward(ctx, a, p->dropout.rate, m->seed, drop, y);
    case XD_STEP_BN_TRAIN: return xd_batchnorm_train_forward(ctx, a, b, c, p->bn.epsilon, y, y1, y2);
    case XD_STEP_BN_MOVING: return xd_batchnorm_update_moving(ctx, p->bn.momentum, a, b, y, y1);
    case XD_STEP_BN_TRAIN_RELU: return xd_batchnorm_train_forward_relu(ctx, a, b, c, p->bn.epsilon, y, y1, y2);
    case XD_STEP_ADD_RELU: return xd_add_relu_forward(ctx, a, b, y);
    case XD_STEP_CONV_BACKWARD_DATA_ACCUMULATE: return xd_conv2d_backward_data_accumulate(ctx, &p->conv, a, b, y1, y);
    case XD_STEP_BN_RUNNING: return xd_batchnorm_update_running_pytorch(ctx, p->bn.momentum, c, a, b, y, y1);
    case XD_STEP_BN_INFERENCE: return xd_batchnorm_inference_forward(ctx, a, b, c, d, e, p->bn.epsilon, y);
    case XD_STEP_XENT: return xd_softmax_xent(ctx, a, b, y, y1, y2);
    case XD_STEP_XENT_PROBS: return xd_sparse_xent_probs_form(ctx, p->form, a, b, y, y1, y2);
    case XD_STEP_RELU_BACKWARD: return xd_relu_backward(ctx, a, b, y);
    case XD_STEP_SOFTMAX_BACKWARD: return xd_softmax_backward(ctx, a, b, y);
    case XD_STEP_CONV_BACKWARD_WEIGHTS: return xd_conv2d_backward_weights(ctx, &p->conv, a, b, y);
    case XD_STEP_CONV_BACKWARD_BIAS: return xd_conv2d_backward_bias(ctx, a, y);
    case XD_STEP_CONV_BACKWARD_WEIGHTS_BIAS: return xd_conv2d_backward_weights_bias(ctx, &p->conv, a, b, y, y1);
    case XD_STEP_CONV_BACKWARD_DATA: return xd_conv2d_backward_data(ctx, &p->conv, a, b, y);
    case XD_STEP_DENSE_BACKWARD_WEIGHTS: return xd_dense_backward_weights(ctx, a, b, y);
    case XD_STEP_DENSE_BACKWARD_BIAS: return xd_dense_backward_bias(ctx, a, y);
    case XD_STEP_DENSE_BACKWARD_DATA: return xd_dense_backward_data(ctx, a, b, y);
    case XD_STEP_DENSE_BACKWARD_DATA_RELU: return xd_dense_backward_data_relu(ctx, a, b, c, y);
    case XD_STEP_BN_BACKWARD: return xd_batchnorm_train_backward(ctx, a, b, c, d, e, p->bn.epsilon, y, y1, y2);
    case XD_STEP_MAXPOOL_BACKWARD: return xd_maxpool2d_backward(ctx, &p->pool, a, b, y);
    case XD_STEP_AVGPOOL_BACKWARD: return xd_avgpool2d_backward(ctx, &p->pool, a, y);
    case XD_STEP_DROPOUT_BACKWARD: return xd_dropout_backward(ctx, a, p->dropout.rate, m->seed, drop, y);
    case XD_STEP_COPY: return xd_tensor_copy(y, a);
    case XD_STEP_ADD: return xd_add_forward(ctx, a, b, y);
    case XD_STEP_CONCAT: return xd_concat_forward(ctx, a, p->concat.offset, y);
    case XD_STEP_CONCAT_BACKWARD: return xd_concat_backward(ctx, a, p->concat.offset, p->concat.accumulate, y);
    case XD_STEP_GLOBAL_AVGPOOL: return xd_global_avgpool2d_forward(ctx, a, y);
    case XD_STEP_GLOBAL_AVGPOOL_BACKWARD: return xd_global_avgpool2d_backward(ctx, a, y);
    case XD_STEP_ADAM:
    case XD_STEP_ADAM_KERAS:
    case XD_STEP_SGD: return update_op(m, s, step, a, y, y1, y2);
    case XD_STEP_L2_PENALTY: return xd_l2_penalty(ctx, a, p->l2, y);
    case XD_STEP_L2_GRADIENT: return xd_l2_gradient(ctx, a, p->l2, y);
    case XD_STEP_ACTIVATION: return xd_activation_forward(ctx, p->act.op, p->act.alpha, a, y);
    case XD_STEP_ACTIVATION_BACKWARD: return xd_activation_backward(ctx, p->act.op, p->act.alpha, a, b, c, y);
    case XD_STEP_GLOBAL_MAXPOOL: return xd_global_maxpool2d_forward(ctx, a, y);
    case XD_STEP_GLOBAL_MAXPOOL_BACKWARD: return xd_global_maxpool2d_backward(ctx, a, b, y);
    case XD_STEP_ZEROPAD: return xd_zeropad2d_forward(ctx, &p->pad, a, y);
    case XD_STEP_ZEROPAD_BACKWARD: return xd_zeropad2d_backward(ctx, &p->pad, a, y);
    case XD_STEP_NKINDS: break;
    }
    return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "model: step %s has an unknown kind %d", s->name, (int)s->kind);
}

/* The hook after a step: each op it names, with that op's outputs. */
static void hook_step(const xd_model *m, const xd_step *s, xd_op_hook hook, void *user)
{
    for (int k = 0; k < s->nops; ++k) {
        const xd_step_op *op = &s->ops[k];
        const xd_tensor *outs[XD_STEP_OUTS];
        for (int j = 0; j < op->count; ++j) outs[j] = m->tensors[s->out[op->first + j]];
        hook(user, op->name, outs, op->count);
    }
}

/* The executor: the list's steps in order, the hook after each. */
static xd_status run_steps(xd_model *m, const xd_steps *l, int64_t step, xd_op_hook hook, void *user)
{
    xd_status st = XD_OK;
    for (int i = 0; i < l->n && st == XD_OK; ++i) {
        st = run_op(m, &l->v[i], step);
        if (st == XD_OK && hook) hook_step(m, &l->v[i], hook, user);
    }
    return st;
}

xd_status xd_model_forward(xd_model *m, int training, int64_t step, xd_op_hook hook, void *user)
{
    return run_steps(m, training ? &m->plan.train : &m->plan.eval, step, hook, user);
}

xd_status xd_model_backward(xd_model *m, int64_t step, xd_op_hook hook, void *user)
{
    return run_steps(m, &m->plan.backward, step, hook, user);
}

/* One launch per tensor: a single launch over all of them (pointer chosen
 * per work-item) measured 2.5x slower on PoCL, whose vectoriser the
 * selection defeats (docs/performance.md). */
xd_status xd_model_update(xd_model *m, int64_t t, xd_op_hook hook, void *user)
{
    m->lr_now = (double)xd_lr_at(&m->opt, t - 1); /* Keras: the iterations done before this update */
    return run_steps(m, &m->plan.update, t, hook, user);
}

xd_status xd_model_penalty(xd_model *m, float *out)
{
    const xd_steps *l = &m->plan.train;
    float zero = 0.0f;
    int any = 0;
    xd_status st = XD_OK;
    *out = 0.0f;
    for (int i = 0; i < l->n && st == XD_OK; ++i) {
        if (l->v[i].kind != XD_STEP_L2_PENALTY) continue;
        if (!any) st = xd_tensor_write(m->loss, &zero, sizeof zero);
        any = 1;
        if (st == XD_OK) st = run_op(m, &l->v[i], 0);
    }
    if (st == XD_OK && any) st = xd_tensor_read(m->loss, out, sizeof *out);
    return st;
}
