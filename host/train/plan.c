/* The plan (host/train/plan.h): the spec's layers read once into lists of
 * steps (a training step's forward and loss, an evaluation's, the backward
 * pass, the updates) with their op names, then the fusions, each a rewrite
 * of a list.  Nothing here touches a device. */
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "train/plan.h"

#define XD_STEP_NAME(id, name) name,
static const char *const kind_names[XD_STEP_NKINDS] = {XD_STEP_KIND_LIST(XD_STEP_NAME)};
#undef XD_STEP_NAME

const char *xd_step_kind_name(xd_step_kind k) { return k >= 0 && k < XD_STEP_NKINDS ? kind_names[k] : "?"; }

int xd_plan_optimizer_state(const xd_optimizer_spec *opt)
{
    int adam = opt->kind == XD_OPT_ADAM_PYTORCH || opt->kind == XD_OPT_ADAM_KERAS;
    return adam ? 2 : opt->momentum != 0.0 ? 1 : 0;
}

const char *xd_plan_param_what(const xd_layer_spec *s, xd_field f)
{
    int bn = s->type == XD_LAYER_BATCHNORM && s->bn_form == XD_BN_KERAS; /* PyTorch's: the module's names */
    switch (f) {
    case XD_FIELD_WEIGHT: return bn ? "gamma" : "weight";
    case XD_FIELD_BIAS: return bn ? "beta" : "bias";
    case XD_FIELD_MOVING_MEAN: return bn ? "moving_mean" : "running_mean";
    case XD_FIELD_MOVING_VAR: return bn ? "moving_variance" : "running_var";
    default: return "?";
    }
}

/* ---- the lists, as the layers give them ---------------------------------------------- */

typedef struct builder {
    const xd_model_spec *spec;
    const xd_optimizer_spec *opt;
    xd_layer_shape shapes[XD_MAX_LAYERS + 1];
    xd_ref x[XD_MAX_LAYERS][XD_MAX_INPUTS]; /* what layer i reads in a training step (input k) */
    int written[XD_MAX_LAYERS];             /* the backward so far has written layer j's gradient */
} builder;

#define REFS(...) ((const xd_ref[]){__VA_ARGS__}), (int)(sizeof((xd_ref[]){__VA_ARGS__}) / sizeof(xd_ref))
#define R(layer, field) XD_REF(layer, field)

/* Appends a step of layer i named "<layer>.<what>", reading in, writing
 * out; the hook sees its first `hashed` outputs as one op of that name.
 * (A list holds at most XD_MAX_INPUTS steps a layer, forward (a merge of
 * that many inputs) or backward (a merge's, or a Conv2D's four and a
 * sum), two updates, and the loss: XD_PLAN_MAX_STEPS.) */
static xd_step *push(const builder *b, xd_steps *l, xd_step_kind kind, int i, const char *what, const xd_ref *in,
                     int nin, const xd_ref *out, int nout, int hashed)
{
    xd_step *s = &l->v[l->n++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->layer = i;
    const char *layer = i >= 0 ? b->spec->layers[i].name : "loss";
    snprintf(s->name, sizeof s->name, "%s.%s", layer, what);
    memcpy(s->in, in, (size_t)nin * sizeof *in);
    memcpy(s->out, out, (size_t)nout * sizeof *out);
    if (hashed) {
        s->nops = 1;
        snprintf(s->ops[0].name, sizeof s->ops[0].name, "%s.%s", layer, what);
        s->ops[0].count = hashed;
    }
    return s;
}

static int has_param(const xd_layer_spec *s, xd_field f)
{
    switch (s->type) {
    case XD_LAYER_CONV2D:
    case XD_LAYER_DENSE: return f == XD_FIELD_WEIGHT || s->use_bias;
    case XD_LAYER_BATCHNORM: return f == XD_FIELD_WEIGHT ? s->scale : s->center;
    default: return 0;
    }
}

/* Layer i's parameter f (its tensor, or + 1: its gradient), or none. */
static xd_ref param(const builder *b, int i, xd_field f, int grad)
{
    return has_param(&b->spec->layers[i], f) ? R(i, f + grad) : XD_REF_NONE;
}

/* The shape layer i reads (its first input's). */
static const xd_layer_shape *input_shape(const builder *b, int i)
{
    return &b->shapes[xd_layer_input(b->spec, i, 0) + 1];
}

static xd_conv2d_params conv_params(const builder *b, int i)
{
    const xd_layer_spec *s = &b->spec->layers[i];
    const xd_layer_shape *in = input_shape(b, i);
    if (s->padding == XD_PADDING_EXPLICIT)
        return (xd_conv2d_params){s->sh, s->sw, s->pad_top, s->pad_bottom, s->pad_left, s->pad_right};
    return s->padding == XD_PADDING_SAME ? xd_conv2d_same((int)in->h, (int)in->w, s->kh, s->kw, s->sh, s->sw)
                                         : xd_conv2d_valid(s->sh, s->sw);
}

static xd_pool2d_params pool_params(const builder *b, int i)
{
    const xd_layer_spec *s = &b->spec->layers[i];
    const xd_layer_shape *in = input_shape(b, i);
    if (s->padding == XD_PADDING_EXPLICIT)
        return (xd_pool2d_params){s->kh, s->kw, s->sh, s->sw, s->pad_top, s->pad_bottom, s->pad_left, s->pad_right};
    return s->padding == XD_PADDING_SAME ? xd_pool2d_same((int)in->h, (int)in->w, s->kh, s->kw, s->sh, s->sw)
                                         : xd_pool2d_valid(s->kh, s->kw, s->sh, s->sw);
}

/* Layer i's activation step (forward: x -> y; backward: x, y, dy -> dx):
 * ReLU and softmax their own ops (which read y alone), the others one op
 * with the activation's kind and parameter. */
static void push_act(const builder *b, xd_steps *l, int i, int backward, const char *what, xd_ref x, xd_ref y,
                     xd_ref dy, xd_ref dx)
{
    const xd_layer_spec *s = &b->spec->layers[i];
    static const xd_act_op ops[] = {[XD_ACT_SIGMOID] = XD_ACT_OP_SIGMOID,
                                    [XD_ACT_TANH] = XD_ACT_OP_TANH,
                                    [XD_ACT_LEAKY_RELU] = XD_ACT_OP_LEAKY_RELU,
                                    [XD_ACT_ELU] = XD_ACT_OP_ELU,
                                    [XD_ACT_RELU6] = XD_ACT_OP_RELU6,
                                    [XD_ACT_SILU] = XD_ACT_OP_SILU,
                                    [XD_ACT_GELU] = XD_ACT_OP_GELU};
    if (s->activation == XD_ACT_RELU || s->activation == XD_ACT_SOFTMAX) {
        const int relu = s->activation == XD_ACT_RELU;
        if (backward)
            push(b, l, relu ? XD_STEP_RELU_BACKWARD : XD_STEP_SOFTMAX_BACKWARD, i, what, REFS(y, dy), REFS(dx), 1);
        else push(b, l, relu ? XD_STEP_RELU : XD_STEP_SOFTMAX, i, what, REFS(x), REFS(y), 1);
        return;
    }
    xd_step *st = backward ? push(b, l, XD_STEP_ACTIVATION_BACKWARD, i, what, REFS(x, y, dy), REFS(dx), 1)
                           : push(b, l, XD_STEP_ACTIVATION, i, what, REFS(x), REFS(y), 1);
    st->p.act.op = ops[s->activation];
    st->p.act.alpha = s->alpha;
}

static xd_pad2d_params pad_params(const xd_layer_spec *s)
{
    xd_pad2d_params p = {s->pad[0], s->pad[1], s->pad[2], s->pad[3]};
    return p;
}

/* Conv2D/Dense: the op into pre (out when linear), then the activation. */
static void weighted_forward(const builder *b, xd_steps *l, int i, xd_ref x)
{
    const xd_layer_spec *s = &b->spec->layers[i];
    const int conv = s->type == XD_LAYER_CONV2D, act = s->activation != XD_ACT_LINEAR;
    const xd_ref pre = R(i, act ? XD_FIELD_PRE : XD_FIELD_OUT);
    xd_step *st = push(b, l, conv ? XD_STEP_CONV : XD_STEP_DENSE, i, "forward",
                       REFS(x, R(i, XD_FIELD_WEIGHT), param(b, i, XD_FIELD_BIAS, 0)), REFS(pre), 1);
    if (conv) st->p.conv = conv_params(b, i);
    if (act) push_act(b, l, i, 0, "activation", pre, R(i, XD_FIELD_OUT), XD_REF_NONE, XD_REF_NONE);
}

/* Layers whose output is their input's memory: Flatten (a view with
 * another shape) and linear activations (the very tensor). */
static int is_view(const xd_layer_spec *s)
{
    return s->type == XD_LAYER_FLATTEN || (s->type == XD_LAYER_ACTIVATION && s->activation == XD_ACT_LINEAR);
}

/* Training: the batch's statistics (hooked), then the moving ones (Keras
 * updates them in the training call); evaluation: the moving ones. */
static void batchnorm_forward(const builder *b, xd_steps *l, int i, xd_ref x, int training)
{
    const double eps = b->spec->layers[i].epsilon, momentum = b->spec->layers[i].momentum;
    const xd_ref gamma = param(b, i, XD_FIELD_WEIGHT, 0), beta = param(b, i, XD_FIELD_BIAS, 0);
    const xd_ref mean = R(i, XD_FIELD_BN_MEAN), var = R(i, XD_FIELD_BN_VAR);
    const xd_ref moving_mean = R(i, XD_FIELD_MOVING_MEAN), moving_var = R(i, XD_FIELD_MOVING_VAR);
    xd_step *st;
    if (!training) {
        st = push(b, l, XD_STEP_BN_INFERENCE, i, "forward", REFS(x, gamma, beta, moving_mean, moving_var),
                  REFS(R(i, XD_FIELD_OUT)), 0);
        st->p.bn.epsilon = eps;
        return;
    }
    st = push(b, l, XD_STEP_BN_TRAIN, i, "forward", REFS(x, gamma, beta), REFS(R(i, XD_FIELD_OUT), mean, var), 1);
    st->p.bn.epsilon = eps;
    if (b->spec->layers[i].bn_form == XD_BN_PYTORCH) /* the unbiased variance needs x's count */
        st = push(b, l, XD_STEP_BN_RUNNING, i, "update_running", REFS(mean, var, x), REFS(moving_mean, moving_var), 0);
    else st = push(b, l, XD_STEP_BN_MOVING, i, "update_moving", REFS(mean, var), REFS(moving_mean, moving_var), 0);
    st->p.bn.momentum = momentum;
}

/* Add: the first two inputs, then each next one added to the sum, in the
 * inputs' order (Keras's); Concatenate: each input copied to its channels.
 * The hook sees the output once, whole. */
static void merge_forward(const builder *b, xd_steps *l, int i, const xd_ref *in)
{
    const int n = xd_layer_input_count(b->spec, i), add = b->spec->layers[i].type == XD_LAYER_ADD;
    const xd_ref out = R(i, XD_FIELD_OUT);
    int64_t offset = 0;
    for (int k = add ? 1 : 0; k < n; ++k) {
        if (add) {
            push(b, l, XD_STEP_ADD, i, "forward", REFS(k == 1 ? in[0] : out, in[k]), REFS(out), k == n - 1);
            continue;
        }
        xd_step *st = push(b, l, XD_STEP_CONCAT, i, "forward", REFS(in[k]), REFS(out), k == n - 1);
        st->p.concat.offset = offset;
        offset += b->shapes[xd_layer_input(b->spec, i, k) + 1].c;
    }
}

/* 1 when a view (Flatten, a linear activation) reads layer i's output:
 * the view's tensor is that output's memory (host/train/net.c). */
static int read_by_view(const xd_model_spec *spec, int i)
{
    for (int j = i + 1; j < spec->nlayers; ++j)
        for (int k = 0; k < xd_layer_input_count(spec, j); ++k)
            if (xd_layer_input(spec, j, k) == i && is_view(&spec->layers[j])) return 1;
    return 0;
}

/* Layer i's forward on its inputs in[]; returns what the layers after it
 * read (its output, or its input where it passes that on: dropout off).
 * A dropout that is off (evaluation, rate 0) and read by a view copies its
 * input into its output (unhooked), which nothing else would write. */
static xd_ref forward_layer(const builder *b, xd_steps *l, int i, const xd_ref *in, int training)
{
    const xd_layer_spec *s = &b->spec->layers[i];
    const xd_ref out = R(i, XD_FIELD_OUT), x = in[0];
    xd_step *st;
    switch (s->type) {
    case XD_LAYER_CONV2D:
    case XD_LAYER_DENSE: weighted_forward(b, l, i, x); break;
    case XD_LAYER_BATCHNORM: batchnorm_forward(b, l, i, x, training); break;
    case XD_LAYER_MAXPOOL2D:
    case XD_LAYER_AVGPOOL2D:
        st = push(b, l, s->type == XD_LAYER_MAXPOOL2D ? XD_STEP_MAXPOOL : XD_STEP_AVGPOOL, i, "forward", REFS(x),
                  REFS(out), 1);
        st->p.pool = pool_params(b, i);
        break;
    case XD_LAYER_FLATTEN: break; /* its output is a view of its input */
    case XD_LAYER_DROPOUT:
        if (!training || s->rate == 0.0) {
            if (!read_by_view(b->spec, i)) return x;
            push(b, l, XD_STEP_COPY, i, "forward", REFS(x), REFS(out), 0);
            break;
        }
        st = push(b, l, XD_STEP_DROPOUT, i, "forward", REFS(x), REFS(out), 1);
        st->p.dropout.rate = s->rate;
        st->p.dropout.layer = i;
        break;
    case XD_LAYER_ACTIVATION:
        if (s->activation != XD_ACT_LINEAR) push_act(b, l, i, 0, "forward", x, out, XD_REF_NONE, XD_REF_NONE);
        break;
    case XD_LAYER_GLOBAL_AVGPOOL2D: push(b, l, XD_STEP_GLOBAL_AVGPOOL, i, "forward", REFS(x), REFS(out), 1); break;
    case XD_LAYER_GLOBAL_MAXPOOL2D: push(b, l, XD_STEP_GLOBAL_MAXPOOL, i, "forward", REFS(x), REFS(out), 1); break;
    case XD_LAYER_ZEROPADDING2D:
        push(b, l, XD_STEP_ZEROPAD, i, "forward", REFS(x), REFS(out), 1)->p.pad = pad_params(s);
        break;
    case XD_LAYER_ADD:
    case XD_LAYER_CONCATENATE: merge_forward(b, l, i, in); break;
    }
    return out;
}

/* The loss of what the last layer gives: its value and its gradient (into
 * the last layer's dout) are two ops to the hook. */
static void loss_step(const builder *b, xd_steps *l, xd_ref x)
{
    const xd_ref grad = R(b->spec->nlayers - 1, XD_FIELD_DOUT);
    int logits = b->spec->loss.from_logits;
    xd_step *st = push(b, l, logits ? XD_STEP_XENT : XD_STEP_XENT_PROBS, -1, "forward", REFS(x, XD_REF_LABELS),
                       REFS(XD_REF_LOSS, grad, XD_REF_ROW_LOSS), 1);
    st->p.form = b->spec->loss.form;
    st->nops = 2;
    snprintf(st->ops[1].name, sizeof st->ops[1].name, "loss.backward");
    st->ops[1].first = 1;
    st->ops[1].count = 1;
}

/* Keras's L2 regularizers, one step per regularized parameter in the
 * order the network holds them (layer by layer, kernel then bias): the
 * penalties added to the training loss after the data loss
 * (((loss + p0) + p1) + ...), or their gradients added to the parameters'
 * once the backward pass has made those. */
static void regularizer_steps(const builder *b, xd_steps *l, xd_step_kind kind)
{
    const int penalty = kind == XD_STEP_L2_PENALTY;
    for (int i = 0; i < b->spec->nlayers; ++i)
        for (int f = XD_FIELD_WEIGHT; f <= XD_FIELD_BIAS; f += 4) {
            const xd_layer_spec *s = &b->spec->layers[i];
            const double l2 = f == XD_FIELD_WEIGHT ? s->kernel_l2 : s->bias_l2;
            if (!(l2 > 0) || !has_param(s, (xd_field)f)) continue;
            char what[XD_OP_NAME_LEN];
            snprintf(what, sizeof what, "%s.%s", xd_plan_param_what(s, (xd_field)f), xd_step_kind_name(kind));
            xd_step *st = penalty ? push(b, l, kind, i, what, REFS(R(i, f)), REFS(XD_REF_LOSS), 1)
                                  : push(b, l, kind, i, what, REFS(R(i, f)), REFS(R(i, f + 1)), 1);
            st->p.l2 = l2;
        }
}

static void forward_list(builder *b, xd_steps *l, int training)
{
    xd_ref val[XD_MAX_LAYERS + 1] = {XD_REF_INPUT}; /* what holds layer j's output: val[j + 1] (j = -1: the input) */
    for (int i = 0; i < b->spec->nlayers; ++i) {
        xd_ref in[XD_MAX_INPUTS] = {0};
        for (int k = 0; k < xd_layer_input_count(b->spec, i); ++k) in[k] = val[xd_layer_input(b->spec, i, k) + 1];
        if (training) memcpy(b->x[i], in, sizeof in);
        val[i + 1] = forward_layer(b, l, i, in, training);
    }
    loss_step(b, l, val[b->spec->nlayers]);
    if (training) regularizer_steps(b, l, XD_STEP_L2_PENALTY);
}

/* Where the gradient of layer j's output is kept: its dout (a linear
 * activation shares its input's; a Flatten's is a view of its input's,
 * when that exists); none for the model's input (j = -1). */
static xd_ref grad_of(const xd_model_spec *spec, int j)
{
    if (j < 0) return XD_REF_NONE;
    const xd_layer_spec *s = &spec->layers[j];
    if (s->type == XD_LAYER_ACTIVATION && s->activation == XD_ACT_LINEAR)
        return grad_of(spec, xd_layer_input(spec, j, 0));
    if (s->type == XD_LAYER_FLATTEN && !grad_of(spec, xd_layer_input(spec, j, 0))) return XD_REF_NONE;
    return R(j, XD_FIELD_DOUT);
}

/* The layer whose memory layer j's output is (through views), or -1. */
static int root_of(const xd_model_spec *spec, int j)
{
    while (j >= 0 && is_view(&spec->layers[j])) j = xd_layer_input(spec, j, 0);
    return j;
}

/* Where the gradient of layer i's input k goes.  A tensor that feeds
 * several layers (a residual branch) gets the sum of their gradients, in
 * the order the backward pass reaches them (the last layer first): the
 * first writes it, each later one writes its own (`to`, its din, or for a
 * merge its dout or a slice of it) and adds that into it (`sum`). */
typedef struct input_grad {
    xd_ref to, sum; /* sum: none, or the gradient `to` is added into */
} input_grad;
static input_grad gradient_to(builder *b, int i, int k, xd_ref own)
{
    const int src = xd_layer_input(b->spec, i, k), r = root_of(b->spec, src);
    input_grad g = {grad_of(b->spec, src), XD_REF_NONE};
    if (!g.to || !b->written[r]) {
        if (g.to) b->written[r] = 1;
        return g;
    }
    g.sum = g.to;
    g.to = own;
    return g;
}

/* The sum's step, where there is one: the hook sees the gradient so far. */
static void add_into(const builder *b, xd_steps *l, int i, input_grad g, const char *what)
{
    if (g.sum) push(b, l, XD_STEP_ADD, i, what, REFS(g.sum, g.to), REFS(g.sum), 1);
}

/* Conv2D/Dense: the activation's gradient, then the weights', the bias's
 * and the input's. */
static void weighted_backward(builder *b, xd_steps *l, int i)
{
    const xd_layer_spec *s = &b->spec->layers[i];
    const int conv = s->type == XD_LAYER_CONV2D;
    const xd_ref bias = param(b, i, XD_FIELD_BIAS, 1);
    xd_ref g = R(i, XD_FIELD_DOUT);
    if (s->activation != XD_ACT_LINEAR) {
        push_act(b, l, i, 1, "backward_activation", R(i, XD_FIELD_PRE), R(i, XD_FIELD_OUT), g, R(i, XD_FIELD_DPRE));
        g = R(i, XD_FIELD_DPRE);
    }
    xd_step *st = push(b, l, conv ? XD_STEP_CONV_BACKWARD_WEIGHTS : XD_STEP_DENSE_BACKWARD_WEIGHTS, i,
                       "backward_weights", REFS(b->x[i][0], g), REFS(R(i, XD_FIELD_WEIGHT + 1)), 1);
    if (conv) st->p.conv = conv_params(b, i);
    if (bias)
        push(b, l, conv ? XD_STEP_CONV_BACKWARD_BIAS : XD_STEP_DENSE_BACKWARD_BIAS, i, "backward_bias", REFS(g),
             REFS(bias), 1);
    const input_grad din = gradient_to(b, i, 0, R(i, XD_FIELD_DIN));
    if (!din.to) return;
    st = push(b, l, conv ? XD_STEP_CONV_BACKWARD_DATA : XD_STEP_DENSE_BACKWARD_DATA, i, "backward_data",
              REFS(g, R(i, XD_FIELD_WEIGHT)), REFS(din.to), 1);
    if (conv) st->p.conv = conv_params(b, i);
    add_into(b, l, i, din, "backward_accumulate");
}

/* Add passes its gradient to each input, Concatenate each input's channels
 * of it: written there, or added to what is there. */
static void merge_backward(builder *b, xd_steps *l, int i)
{
    const int n = xd_layer_input_count(b->spec, i), add = b->spec->layers[i].type == XD_LAYER_ADD;
    const xd_ref dout = R(i, XD_FIELD_DOUT);
    int64_t offset = 0;
    for (int k = 0; k < n; ++k) {
        char what[24];
        snprintf(what, sizeof what, "backward_%d", k);
        const input_grad g = gradient_to(b, i, k, dout);
        const int64_t c = b->shapes[xd_layer_input(b->spec, i, k) + 1].c;
        if (g.to && add && g.sum) {
            push(b, l, XD_STEP_ADD, i, what, REFS(g.sum, dout), REFS(g.sum), 1);
        } else if (g.to && add) {
            push(b, l, XD_STEP_COPY, i, what, REFS(dout), REFS(g.to), 1);
        } else if (g.to) {
            xd_step *st = push(b, l, XD_STEP_CONCAT_BACKWARD, i, what, REFS(dout), REFS(g.sum ? g.sum : g.to), 1);
            st->p.concat.offset = offset;
            st->p.concat.accumulate = g.sum != XD_REF_NONE;
        }
        offset += c;
    }
}

/* The backward of a layer with one input and no parameters, into din
 * (none: nothing before it wants a gradient). */
static void plain_backward(const builder *b, xd_steps *l, int i, xd_ref din)
{
    const xd_layer_spec *s = &b->spec->layers[i];
    const xd_ref dout = R(i, XD_FIELD_DOUT), out = R(i, XD_FIELD_OUT), x = b->x[i][0];
    xd_step *st;
    if (!din) return;
    if (s->type == XD_LAYER_MAXPOOL2D) {
        push(b, l, XD_STEP_MAXPOOL_BACKWARD, i, "backward", REFS(x, dout), REFS(din), 1)->p.pool = pool_params(b, i);
    } else if (s->type == XD_LAYER_AVGPOOL2D) {
        push(b, l, XD_STEP_AVGPOOL_BACKWARD, i, "backward", REFS(dout), REFS(din), 1)->p.pool = pool_params(b, i);
    } else if (s->type == XD_LAYER_GLOBAL_AVGPOOL2D) {
        push(b, l, XD_STEP_GLOBAL_AVGPOOL_BACKWARD, i, "backward", REFS(dout), REFS(din), 1);
    } else if (s->type == XD_LAYER_GLOBAL_MAXPOOL2D) {
        push(b, l, XD_STEP_GLOBAL_MAXPOOL_BACKWARD, i, "backward", REFS(x, dout), REFS(din), 1);
    } else if (s->type == XD_LAYER_ZEROPADDING2D) {
        push(b, l, XD_STEP_ZEROPAD_BACKWARD, i, "backward", REFS(dout), REFS(din), 1)->p.pad = pad_params(s);
    } else if (s->type == XD_LAYER_DROPOUT) {
        st = push(b, l, s->rate == 0.0 ? XD_STEP_COPY : XD_STEP_DROPOUT_BACKWARD, i, "backward", REFS(dout), REFS(din),
                  1);
        st->p.dropout.rate = s->rate;
        st->p.dropout.layer = i;
    } else {
        push_act(b, l, i, 1, "backward", x, out, dout, din);
    }
}

/* Layer i's backward from its dout (views have none: the gradient is
 * already where the layers before want it). */
static void backward_layer(builder *b, xd_steps *l, int i)
{
    const xd_layer_spec *s = &b->spec->layers[i];
    const xd_ref dout = R(i, XD_FIELD_DOUT);
    if (s->type == XD_LAYER_CONV2D || s->type == XD_LAYER_DENSE) {
        weighted_backward(b, l, i);
        return;
    }
    if (s->type == XD_LAYER_ADD || s->type == XD_LAYER_CONCATENATE) {
        merge_backward(b, l, i);
        return;
    }
    if (is_view(s)) return;
    const input_grad din = gradient_to(b, i, 0, R(i, XD_FIELD_DIN));
    if (s->type == XD_LAYER_BATCHNORM) {
        xd_step *st =
            push(b, l, XD_STEP_BN_BACKWARD, i, "backward",
                 REFS(b->x[i][0], dout, param(b, i, XD_FIELD_WEIGHT, 0), R(i, XD_FIELD_BN_MEAN), R(i, XD_FIELD_BN_VAR)),
                 REFS(din.to, param(b, i, XD_FIELD_WEIGHT, 1), param(b, i, XD_FIELD_BIAS, 1)), din.to != XD_REF_NONE);
        st->p.bn.epsilon = s->epsilon;
    } else {
        plain_backward(b, l, i, din.to);
    }
    add_into(b, l, i, din, "backward_accumulate");
}

/* One step per trainable parameter, in the order the network holds them:
 * the parameter and its optimizer state are one op to the hook. */
static void update_list(const builder *b, xd_steps *l)
{
    const xd_optimizer_spec *o = b->opt;
    const int state = xd_plan_optimizer_state(o);
    const xd_step_kind kind = o->kind == XD_OPT_ADAM_PYTORCH ? XD_STEP_ADAM
                              : o->kind == XD_OPT_ADAM_KERAS ? XD_STEP_ADAM_KERAS
                                                             : XD_STEP_SGD;
    for (int i = 0; i < b->spec->nlayers; ++i)
        for (int f = XD_FIELD_WEIGHT; f <= XD_FIELD_BIAS; f += 4) {
            const xd_layer_spec *s = &b->spec->layers[i];
            if (!has_param(s, (xd_field)f)) continue;
            char what[XD_OP_NAME_LEN];
            snprintf(what, sizeof what, "%s.update", xd_plan_param_what(s, (xd_field)f));
            xd_step *st = push(
                b, l, kind, i, what, REFS(R(i, f + 1)),
                REFS(R(i, f), state > 0 ? R(i, f + 2) : XD_REF_NONE, state > 1 ? R(i, f + 3) : XD_REF_NONE), 1 + state);
            if (kind == XD_STEP_SGD) {
                st->p.sgd = (xd_sgd_params){o->lr, o->momentum, o->nesterov,
                                            o->kind == XD_OPT_SGD_KERAS ? XD_SGD_KERAS : XD_SGD_TORCH};
            } else {
                st->p.adam = (xd_adam_params){o->lr, o->beta1, o->beta2, o->eps};
            }
        }
}

/* ---- fusions: rewrites of a list --------------------------------------------------------
 * Each looks at two neighbouring steps and, where they match, puts one
 * step in their place that gives the same bits, hooked by nobody (the
 * output between them no longer exists): they apply only to a plan made
 * without op hooks, so that the hooked plan tests the fused ones. */

/* Steps k and k + 1 of l become one step of `kind`, named after both,
 * with in and out; returns it. */
static xd_step *merge(xd_steps *l, int k, xd_step_kind kind, const xd_ref *in, int nin, const xd_ref *out, int nout)
{
    xd_step *a = &l->v[k];
    const xd_step *b = &l->v[k + 1];
    char name[sizeof a->name];
    snprintf(name, sizeof name, "%.*s+%.*s", XD_OP_NAME_LEN - 1, a->name, XD_OP_NAME_LEN - 1, b->name);
    xd_step fused = *a;
    fused.kind = kind;
    fused.nops = 0;
    memset(fused.in, 0, sizeof fused.in);
    memset(fused.out, 0, sizeof fused.out);
    memcpy(fused.in, in, (size_t)nin * sizeof *in);
    memcpy(fused.out, out, (size_t)nout * sizeof *out);
    memcpy(fused.name, name, sizeof name);
    *a = fused;
    memmove(&l->v[k + 1], &l->v[k + 2], (size_t)(l->n - k - 2) * sizeof *l->v);
    l->n--;
    return a;
}

/* How many inputs of layers read layer j's output. */
static int readers(const xd_model_spec *spec, int j)
{
    int n = 0;
    for (int i = j + 1; i < spec->nlayers; ++i)
        for (int k = 0; k < xd_layer_input_count(spec, i); ++k) n += xd_layer_input(spec, i, k) == j;
    return n;
}

/* conv + bias + ReLU in one kernel, straight into the ReLU's output (the
 * same roundings: ReLU is exact): the conv's own ReLU, or the ReLU layer
 * right after it reading its output, which nothing else reads. */
static int fuse_conv_relu(const xd_model_spec *spec, xd_steps *l, int k)
{
    const xd_step *a = &l->v[k], *b = &l->v[k + 1];
    if (a->kind != XD_STEP_CONV || b->kind != XD_STEP_RELU || b->in[0] != a->out[0]) return 0;
    if (b->layer != a->layer && (b->layer != a->layer + 1 || readers(spec, a->layer) != 1)) return 0;
    merge(l, k, XD_STEP_CONV_RELU, a->in, XD_STEP_INS, b->out, 1);
    return 1;
}

/* A conv's weight and bias gradients from one pass over its dy (the same
 * sums). */
static int fuse_conv_bias_backward(const xd_model_spec *spec, xd_steps *l, int k)
{
    (void)spec;
    const xd_step *a = &l->v[k], *b = &l->v[k + 1];
    if (a->kind != XD_STEP_CONV_BACKWARD_WEIGHTS || b->kind != XD_STEP_CONV_BACKWARD_BIAS || b->layer != a->layer)
        return 0;
    merge(l, k, XD_STEP_CONV_BACKWARD_WEIGHTS_BIAS, a->in, 2, REFS(a->out[0], b->out[0]));
    return 1;
}

/* The backward of a ReLU layer below a linear Dense that reads it (through
 * views: seed-cnn's Flatten) applied inside the Dense's backward-data
 * kernel (the same select), straight into the gradient of the ReLU's
 * input.  Next to each other in the list, the Dense's is the whole of the
 * ReLU's gradient: another reader's would be added in between. */
static int fuse_dense_relu_backward(const xd_model_spec *spec, xd_steps *l, int k)
{
    const xd_step *a = &l->v[k], *b = &l->v[k + 1];
    if (a->kind != XD_STEP_DENSE_BACKWARD_DATA || b->kind != XD_STEP_RELU_BACKWARD || b->layer >= a->layer) return 0;
    if (spec->layers[a->layer].activation != XD_ACT_LINEAR || spec->layers[b->layer].type != XD_LAYER_ACTIVATION)
        return 0;
    if (root_of(spec, xd_layer_input(spec, a->layer, 0)) != b->layer) return 0;
    merge(l, k, XD_STEP_DENSE_BACKWARD_DATA_RELU, REFS(a->in[0], a->in[1], b->in[0]), b->out, 1);
    return 1;
}

/* A ReLU layer reading step a's output, which nothing else reads: the layer
 * right after a's, its only reader. */
static int relu_after(const xd_model_spec *spec, const xd_step *a, const xd_step *b)
{
    return b->kind == XD_STEP_RELU && b->in[0] == a->out[0] && b->layer == a->layer + 1 && readers(spec, a->layer) == 1;
}

/* BatchNormalization's training forward with the ReLU layer after it in
 * its store (the same select), straight into the ReLU's output: nothing
 * reads the normalized values themselves (its backward reads its input
 * and statistics, the ReLU's backward its output).  Its moving averages'
 * update (Keras's, or PyTorch's running statistics), which reads its input
 * and statistics, may stand between the two: it moves after them. */
static int fuse_bn_relu(const xd_model_spec *spec, xd_steps *l, int k)
{
    xd_step *a = &l->v[k];
    if (a->kind != XD_STEP_BN_TRAIN || k + 1 >= l->n) return 0;
    int r = k + 1;
    const xd_step_kind between = l->v[r].kind;
    if ((between == XD_STEP_BN_MOVING || between == XD_STEP_BN_RUNNING) && l->v[r].layer == a->layer && r + 1 < l->n)
        ++r;
    if (!relu_after(spec, a, &l->v[r])) return 0;
    if (r == k + 2) { /* the update after the ReLU (it reads neither's output) */
        const xd_step moving = l->v[k + 1];
        l->v[k + 1] = l->v[k + 2];
        l->v[k + 2] = moving;
    }
    merge(l, k, XD_STEP_BN_TRAIN_RELU, a->in, XD_STEP_INS, REFS(l->v[k + 1].out[0], a->out[1], a->out[2]));
    return 1;
}

/* Add with the ReLU layer after it in its store (the same select). */
static int fuse_add_relu(const xd_model_spec *spec, xd_steps *l, int k)
{
    const xd_step *a = &l->v[k], *b = &l->v[k + 1];
    if (a->kind != XD_STEP_ADD || !relu_after(spec, a, b)) return 0;
    merge(l, k, XD_STEP_ADD_RELU, a->in, 2, b->out, 1);
    return 1;
}

/* A conv's input gradient added in the store of its backward data (the
 * add's operands in its order: the sum so far + this one) where the input
 * has other readers; the conv's own gradient tensor stays as the
 * fallback's scratch (xd_conv2d_backward_data_accumulate). */
static int fuse_conv_accumulate(const xd_model_spec *spec, xd_steps *l, int k)
{
    (void)spec;
    const xd_step *a = &l->v[k], *b = &l->v[k + 1];
    if (a->kind != XD_STEP_CONV_BACKWARD_DATA || b->kind != XD_STEP_ADD || b->layer != a->layer) return 0;
    if (b->in[1] != a->out[0] || b->out[0] != b->in[0] || b->in[0] == a->out[0]) return 0;
    merge(l, k, XD_STEP_CONV_BACKWARD_DATA_ACCUMULATE, REFS(a->in[0], a->in[1], b->in[0]), REFS(b->out[0], a->out[0]));
    return 1;
}

typedef int (*fusion)(const xd_model_spec *spec, xd_steps *l, int k);

/* Applies `rule` wherever it matches in l, front to back. */
static void rewrite(const xd_model_spec *spec, xd_steps *l, fusion rule)
{
    for (int k = 0; k + 1 < l->n; ++k) rule(spec, l, k);
}

/* The fusions, in this order. */
static void fuse(const xd_model_spec *spec, xd_plan *p)
{
    rewrite(spec, &p->train, fuse_conv_relu);
    rewrite(spec, &p->eval, fuse_conv_relu);
    rewrite(spec, &p->backward, fuse_conv_bias_backward);
    rewrite(spec, &p->backward, fuse_dense_relu_backward);
    rewrite(spec, &p->train, fuse_bn_relu);
    rewrite(spec, &p->train, fuse_add_relu);
    rewrite(spec, &p->backward, fuse_conv_accumulate);
}

/* ---- the plan ------------------------------------------------------------------------ */

xd_status xd_plan_build(const xd_model_spec *spec, const xd_optimizer_spec *opt, int hooked, xd_plan *out,
                        xd_error *err)
{
    if (opt->kind != XD_OPT_ADAM_PYTORCH && opt->kind != XD_OPT_ADAM_KERAS && opt->kind != XD_OPT_SGD_PYTORCH &&
        opt->kind != XD_OPT_SGD_KERAS)
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "model: optimizer %d unknown", (int)opt->kind);
    if (spec->nlayers < 1 || spec->nlayers > XD_MAX_LAYERS)
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "model '%s': %d layers (1 to %d)", spec->name, spec->nlayers,
                            XD_MAX_LAYERS);
    builder b = {spec, opt, {{0}}, {{0}}, {0}};
    xd_status st = xd_model_spec_shapes(spec, b.shapes, err);
    if (st != XD_OK) return st;
    memset(out, 0, sizeof *out);
    out->hooked = hooked;
    forward_list(&b, &out->train, 1);
    forward_list(&b, &out->eval, 0);
    const int last = root_of(spec, spec->nlayers - 1);
    if (last >= 0) b.written[last] = 1; /* by the loss */
    for (int i = spec->nlayers - 1; i >= 0; --i) backward_layer(&b, &out->backward, i);
    regularizer_steps(&b, &out->backward, XD_STEP_L2_GRADIENT);
    update_list(&b, &out->update);
    if (!hooked) fuse(spec, out);
    return XD_OK;
}

void xd_plan_each_op(const xd_plan *p, void (*fn)(void *user, const char *op), void *user)
{
    const xd_steps *lists[3] = {&p->train, &p->backward, &p->update};
    for (int k = 0; k < 3; ++k)
        for (int i = 0; i < lists[k]->n; ++i)
            for (int j = 0; j < lists[k]->v[i].nops; ++j) fn(user, lists[k]->v[i].ops[j].name);
}

/* ---- the plan as text ------------------------------------------------------------------- */

static void ref_name(const xd_model_spec *spec, xd_ref r, char *buf, size_t cap)
{
    static const char *const own[] = {"-", "input", "labels", "loss", "row_loss"};
    static const char *const field[] = {"out", "dout", "pre", "dpre", "batch_mean", "batch_var"};
    static const char *const param_part[] = {"", ".grad", ".m", ".v"};
    if (r < XD_REF_LAYER0) {
        snprintf(buf, cap, "%s", own[r]);
        return;
    }
    const xd_layer_spec *s = &spec->layers[(r - XD_REF_LAYER0) / XD_NFIELDS];
    const int f = (r - XD_REF_LAYER0) % XD_NFIELDS;
    if (f < XD_FIELD_WEIGHT) snprintf(buf, cap, "%s.%s", s->name, field[f]);
    else if (f == XD_FIELD_DIN) snprintf(buf, cap, "%s.din", s->name);
    else if (f < XD_FIELD_MOVING_MEAN)
        snprintf(buf, cap, "%s.%s%s", s->name,
                 xd_plan_param_what(s, f < XD_FIELD_BIAS ? XD_FIELD_WEIGHT : XD_FIELD_BIAS),
                 param_part[(f - XD_FIELD_WEIGHT) % 4]);
    else snprintf(buf, cap, "%s.%s", s->name, xd_plan_param_what(s, (xd_field)f));
}

/* Appends to buf at *len what snprintf would (never past cap). */
static void put(char *buf, size_t cap, size_t *len, const char *text)
{
    size_t n = strlen(text);
    if (*len < cap) snprintf(buf + *len, cap - *len, "%s", text);
    *len += n;
}

static void step_text(const xd_model_spec *spec, const char *list, const xd_step *s, char *buf, size_t cap, size_t *len)
{
    char ref[XD_OP_NAME_LEN];
    put(buf, cap, len, list);
    put(buf, cap, len, " ");
    put(buf, cap, len, xd_step_kind_name(s->kind));
    put(buf, cap, len, " ");
    put(buf, cap, len, s->name);
    put(buf, cap, len, ":");
    for (int k = 0; k < XD_STEP_INS + XD_STEP_OUTS; ++k) {
        xd_ref r = k < XD_STEP_INS ? s->in[k] : s->out[k - XD_STEP_INS];
        if (k == XD_STEP_INS) put(buf, cap, len, " ->");
        if (!r) continue;
        ref_name(spec, r, ref, sizeof ref);
        put(buf, cap, len, " ");
        put(buf, cap, len, ref);
    }
    put(buf, cap, len, "\n");
}

size_t xd_plan_text(const xd_plan *p, const xd_model_spec *spec, int fused_only, char *buf, size_t cap)
{
    const xd_steps *lists[4] = {&p->train, &p->eval, &p->backward, &p->update};
    static const char *const names[4] = {"train", "eval", "backward", "update"};
    size_t len = 0;
    if (cap) buf[0] = '\0';
    for (int k = 0; k < 4; ++k)
        for (int i = 0; i < lists[k]->n; ++i)
            if (!fused_only || lists[k]->v[i].kind >= XD_STEP_CONV_RELU)
                step_text(spec, names[k], &lists[k]->v[i], buf, cap, &len);
    return len;
}
