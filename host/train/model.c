/* The model: layers run through the op interfaces, so more layers (pooling,
 * a second conv) fit without touching training. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static xd_status tensor(xd_model *m, int ndim, const int64_t *shape, xd_tensor **out)
{
    return xd_tensor_create(m->ctx, XD_DTYPE_F32, ndim, shape, out);
}

static xd_status add_param(xd_model *m, const char *layer, const char *what, int ndim, const int64_t *shape,
                           xd_init_kind init, int64_t fan_in, int64_t fan_out, xd_param **out)
{
    if (m->nparams >= XD_MAX_PARAMS) return xd_fail(m->ctx, XD_INVALID_ARGUMENT, 0, "model: too many parameters");
    xd_param *p = &m->params[m->nparams];
    snprintf(p->name, sizeof p->name, "%s.%s", layer, what);
    p->init = init;
    p->fan_in = fan_in;
    p->fan_out = fan_out;
    p->stream = (uint64_t)m->nparams + 1; /* one Philox stream per tensor */
    m->nparams++;
    xd_status st;
    if ((st = tensor(m, ndim, shape, &p->w)) != XD_OK || (st = tensor(m, ndim, shape, &p->g)) != XD_OK ||
        (st = tensor(m, ndim, shape, &p->m)) != XD_OK || (st = tensor(m, ndim, shape, &p->v)) != XD_OK)
        return st;
    *out = p;
    return XD_OK;
}

static xd_layer *add_layer(xd_model *m, xd_layer_kind kind, const char *name)
{
    if (m->nlayers >= XD_MAX_LAYERS) return NULL;
    xd_layer *l = &m->layers[m->nlayers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->owns_out = 1;
    return l;
}

/* Output and gradient tensors of a layer. */
static xd_status layer_io(xd_model *m, xd_layer *l, int ndim, const int64_t *shape)
{
    xd_status st = tensor(m, ndim, shape, &l->out);
    if (st == XD_OK) st = tensor(m, ndim, shape, &l->dout);
    return st;
}

/* seed-cnn: Conv2D(32, 3x3, valid) -> ReLU -> Flatten(C,H,W) -> Dense(classes). */
static xd_status build_seed_cnn(xd_model *m)
{
    const int64_t N = m->batch, O = 32, K = 3;
    const int64_t OH = m->height - K + 1, OW = m->width - K + 1;
    xd_status st;
    xd_layer *conv = add_layer(m, XD_LAYER_CONV2D, "conv1");
    conv->conv = xd_conv2d_valid(1, 1);
    int64_t ws[4] = {O, m->channels, K, K}, bs[1] = {O};
    /* Keras/Glorot fans for a conv kernel: channels x kh x kw */
    if ((st = add_param(m, "conv1", "weight", 4, ws, XD_INIT_GLOROT_UNIFORM, m->channels * K * K, O * K * K,
                        &conv->weight)) != XD_OK)
        return st;
    if ((st = add_param(m, "conv1", "bias", 1, bs, XD_INIT_ZEROS, 0, 0, &conv->bias)) != XD_OK) return st;
    int64_t cs[4] = {N, O, OH, OW};
    if ((st = layer_io(m, conv, 4, cs)) != XD_OK) return st;

    xd_layer *relu = add_layer(m, XD_LAYER_RELU, "relu1");
    if ((st = layer_io(m, relu, 4, cs)) != XD_OK) return st;

    xd_layer *flat = add_layer(m, XD_LAYER_FLATTEN, "flatten");
    flat->out = relu->out;
    flat->dout = relu->dout;
    flat->owns_out = 0;

    xd_layer *dense = add_layer(m, XD_LAYER_DENSE, "dense1");
    const int64_t I = O * OH * OW;
    int64_t dw[2] = {m->classes, I}, db[1] = {m->classes};
    if ((st = add_param(m, "dense1", "weight", 2, dw, XD_INIT_GLOROT_UNIFORM, I, m->classes, &dense->weight)) != XD_OK)
        return st;
    if ((st = add_param(m, "dense1", "bias", 1, db, XD_INIT_ZEROS, 0, 0, &dense->bias)) != XD_OK) return st;
    int64_t ds[2] = {N, m->classes};
    return layer_io(m, dense, 2, ds);
}

xd_status xd_model_create(xd_context *ctx, const char *kind, int64_t batch, int64_t height, int64_t width,
                          int64_t classes, xd_model **out)
{
    if (!ctx || !kind || !out) return XD_INVALID_ARGUMENT;
    *out = NULL;
    if (strcmp(kind, "seed-cnn") != 0)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "model '%s' is unknown (known: seed-cnn)", kind);
    if (height != 28 || width != 28 || classes != 10)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0,
                       "seed-cnn takes 28x28 images in 10 classes; the data has %lldx%lld images in %lld classes",
                       (long long)height, (long long)width, (long long)classes);
    if (batch < 1) return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "batch %lld must be >= 1", (long long)batch);
    xd_model *m = calloc(1, sizeof *m);
    if (!m) return xd_fail(ctx, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory");
    m->ctx = ctx;
    snprintf(m->kind, sizeof m->kind, "%s", kind);
    m->batch = batch;
    m->channels = 1;
    m->height = height;
    m->width = width;
    m->classes = classes;
    int64_t xs[4] = {batch, 1, height, width}, ys[1] = {batch}, one[1] = {1}, ls[2] = {batch, classes};
    xd_status st = xd_tensor_create(ctx, XD_DTYPE_F32, 4, xs, &m->input);
    if (st == XD_OK) st = xd_tensor_create(ctx, XD_DTYPE_I32, 1, ys, &m->labels);
    if (st == XD_OK) st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, one, &m->loss);
    if (st == XD_OK) st = xd_tensor_create(ctx, XD_DTYPE_F32, 1, ys, &m->row_loss);
    if (st == XD_OK) st = xd_tensor_create(ctx, XD_DTYPE_F32, 2, ls, &m->dlogits);
    if (st == XD_OK) st = build_seed_cnn(m);
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
        if (m->layers[i].owns_out) {
            xd_tensor_destroy(m->layers[i].out);
            xd_tensor_destroy(m->layers[i].dout);
        }
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
    xd_tensor_destroy(m->dlogits);
    free(m);
}

xd_status xd_model_init(xd_model *m, uint64_t seed)
{
    xd_status st = XD_OK;
    for (int i = 0; i < m->nparams && st == XD_OK; ++i) {
        xd_param *p = &m->params[i];
        if (p->init == XD_INIT_GLOROT_UNIFORM)
            st = xd_init_glorot_uniform(m->ctx, p->w, seed, p->stream, p->fan_in, p->fan_out);
        else st = xd_init_zeros(m->ctx, p->w);
        if (st == XD_OK) st = xd_init_zeros(m->ctx, p->m);
        if (st == XD_OK) st = xd_init_zeros(m->ctx, p->v);
    }
    return st;
}

size_t xd_model_state_count(const xd_model *m) { return 3 * (size_t)m->nparams; }

xd_tensor *xd_model_state(const xd_model *m, size_t k, char *name, size_t cap)
{
    static const char *const suffix[3] = {"", ".m", ".v"};
    const xd_param *p = &m->params[k / 3];
    if (name) snprintf(name, cap, "%s%s", p->name, suffix[k % 3]);
    return k % 3 == 0 ? p->w : k % 3 == 1 ? p->m : p->v;
}

const xd_tensor *xd_model_logits(const xd_model *m) { return m->layers[m->nlayers - 1].out; }

static void hook_op(xd_op_hook hook, void *user, const char *layer, const char *what, const xd_tensor *t)
{
    if (!hook) return;
    char name[96];
    snprintf(name, sizeof name, "%s.%s", layer, what);
    hook(user, name, t);
}

xd_status xd_model_forward(xd_model *m, xd_op_hook hook, void *user)
{
    const xd_tensor *in = m->input;
    xd_status st = XD_OK;
    for (int i = 0; i < m->nlayers && st == XD_OK; ++i) {
        xd_layer *l = &m->layers[i];
        xd_layer *next = i + 1 < m->nlayers ? &m->layers[i + 1] : NULL;
        if (!hook && l->kind == XD_LAYER_CONV2D && next && next->kind == XD_LAYER_RELU) {
            /* conv + bias + ReLU in one kernel, straight into the ReLU's
             * output: the same roundings (ReLU is exact), one pass over
             * memory less.  The conv's own output is then not written; only
             * an op hook would look at it, and with a hook nothing is fused. */
            st = xd_conv2d_forward_relu(m->ctx, &l->conv, in, l->weight->w, l->bias->w, next->out);
            in = next->out;
            ++i;
            continue;
        }
        switch (l->kind) {
        case XD_LAYER_CONV2D: st = xd_conv2d_forward(m->ctx, &l->conv, in, l->weight->w, l->bias->w, l->out); break;
        case XD_LAYER_RELU: st = xd_relu_forward(m->ctx, in, l->out); break;
        case XD_LAYER_DENSE: st = xd_dense_forward(m->ctx, in, l->weight->w, l->bias->w, l->out); break;
        case XD_LAYER_FLATTEN: break; /* a view: NCHW memory is already (C,H,W)-flattened */
        }
        if (st == XD_OK && l->kind != XD_LAYER_FLATTEN) hook_op(hook, user, l->name, "forward", l->out);
        in = l->out;
    }
    if (st == XD_OK) st = xd_softmax_xent(m->ctx, in, m->labels, m->loss, m->dlogits, m->row_loss);
    if (st == XD_OK) {
        hook_op(hook, user, "loss", "forward", m->loss);
        hook_op(hook, user, "loss", "backward", m->dlogits);
    }
    return st;
}

xd_status xd_model_backward(xd_model *m, xd_op_hook hook, void *user)
{
    const xd_tensor *g = m->dlogits;
    xd_status st = XD_OK;
    for (int i = m->nlayers - 1; i >= 0 && st == XD_OK; --i) {
        xd_layer *l = &m->layers[i];
        const xd_tensor *in = i > 0 ? m->layers[i - 1].out : m->input;
        xd_tensor *din = i > 0 ? m->layers[i - 1].dout : NULL; /* no gradient for the input */
        switch (l->kind) {
        case XD_LAYER_CONV2D:
            st = xd_conv2d_backward_weights(m->ctx, &l->conv, in, g, l->weight->g);
            if (st == XD_OK) hook_op(hook, user, l->name, "backward_weights", l->weight->g);
            if (st == XD_OK) st = xd_conv2d_backward_bias(m->ctx, g, l->bias->g);
            if (st == XD_OK) hook_op(hook, user, l->name, "backward_bias", l->bias->g);
            if (st == XD_OK && din) st = xd_conv2d_backward_data(m->ctx, &l->conv, g, l->weight->w, din);
            if (st == XD_OK && din) hook_op(hook, user, l->name, "backward_data", din);
            break;
        case XD_LAYER_DENSE:
            st = xd_dense_backward_weights(m->ctx, in, g, l->weight->g);
            if (st == XD_OK) hook_op(hook, user, l->name, "backward_weights", l->weight->g);
            if (st == XD_OK) st = xd_dense_backward_bias(m->ctx, g, l->bias->g);
            if (st == XD_OK) hook_op(hook, user, l->name, "backward_bias", l->bias->g);
            {
                /* Without a hook, a ReLU below (through flatten views) is
                 * applied inside the dense backward-data kernel, straight
                 * into the gradient of the ReLU's input: the same select
                 * as xd_relu_bwd, one pass over memory less. */
                int r = i - 1;
                while (r >= 0 && m->layers[r].kind == XD_LAYER_FLATTEN) --r;
                if (st == XD_OK && din && !hook && r > 0 && m->layers[r].kind == XD_LAYER_RELU) {
                    xd_tensor *rdin = m->layers[r - 1].dout;
                    st = xd_dense_backward_data_relu(m->ctx, g, l->weight->w, m->layers[r].out, rdin);
                    g = rdin;
                    i = r; /* the loop's --i goes on below the ReLU */
                    continue;
                }
            }
            if (st == XD_OK && din) st = xd_dense_backward_data(m->ctx, g, l->weight->w, din);
            if (st == XD_OK && din) hook_op(hook, user, l->name, "backward_data", din);
            break;
        case XD_LAYER_RELU:
            if (din) st = xd_relu_backward(m->ctx, l->out, g, din);
            if (st == XD_OK && din) hook_op(hook, user, l->name, "backward", din);
            break;
        case XD_LAYER_FLATTEN: break;
        }
        if (din) g = din;
    }
    return st;
}

xd_status xd_model_update(xd_model *m, const xd_adam_params *p, int64_t t, xd_op_hook hook, void *user)
{
    xd_status st = XD_OK;
    /* One launch per tensor: a single launch over all four (pointer chosen
     * per work-item) measured 2.5x slower on PoCL, whose vectoriser the
     * selection defeats (docs/performance.md). */
    for (int i = 0; i < m->nparams && st == XD_OK; ++i) {
        xd_param *q = &m->params[i];
        st = xd_adam_step(m->ctx, p, t, q->w, q->g, q->m, q->v);
        if (st == XD_OK) hook_op(hook, user, q->name, "update", q->w);
    }
    return st;
}
