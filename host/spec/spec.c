/* Models as data (include/crossdev/model.h): the built-in models as specs,
 * the shape of every activation, and the names of the enums. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/keras.h"

const char *xd_layer_type_name(xd_layer_type t)
{
    switch (t) {
    case XD_LAYER_CONV2D: return "Conv2D";
    case XD_LAYER_MAXPOOL2D: return "MaxPooling2D";
    case XD_LAYER_AVGPOOL2D: return "AveragePooling2D";
    case XD_LAYER_FLATTEN: return "Flatten";
    case XD_LAYER_DENSE: return "Dense";
    case XD_LAYER_DROPOUT: return "Dropout";
    case XD_LAYER_ACTIVATION: return "Activation";
    case XD_LAYER_BATCHNORM: return "BatchNormalization";
    case XD_LAYER_ADD: return "Add";
    case XD_LAYER_CONCATENATE: return "Concatenate";
    case XD_LAYER_GLOBAL_AVGPOOL2D: return "GlobalAveragePooling2D";
    case XD_LAYER_GLOBAL_MAXPOOL2D: return "GlobalMaxPooling2D";
    case XD_LAYER_ZEROPADDING2D: return "ZeroPadding2D";
    }
    return "unknown";
}

void xd_weights_free(xd_weights *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->items[i].data);
    free(w->items);
    w->n = 0;
    w->items = NULL;
}

/* ---- built-in models --------------------------------------------------------------- */
static xd_layer_spec *add_layer(xd_model_spec *s, xd_layer_type type, const char *name)
{
    xd_layer_spec *l = &s->layers[s->nlayers++];
    l->type = type;
    snprintf(l->name, sizeof l->name, "%s", name);
    return l;
}

/* Conv2D and Dense: Keras's defaults, GlorotUniform kernel and Zeros bias. */
static xd_layer_spec *add_weighted(xd_model_spec *s, xd_layer_type type, const char *name, xd_activation act)
{
    xd_layer_spec *l = add_layer(s, type, name);
    l->activation = act;
    l->use_bias = 1;
    l->kernel_init.kind = XD_INIT_GLOROT_UNIFORM;
    l->bias_init.kind = XD_INIT_ZEROS;
    return l;
}

static void add_conv(xd_model_spec *s, const char *name, int filters, int k, xd_activation act)
{
    xd_layer_spec *l = add_weighted(s, XD_LAYER_CONV2D, name, act);
    l->filters = filters;
    l->kh = l->kw = k;
    l->sh = l->sw = 1;
    l->padding = XD_PADDING_VALID;
}

static void add_maxpool(xd_model_spec *s, const char *name, int k)
{
    xd_layer_spec *l = add_layer(s, XD_LAYER_MAXPOOL2D, name);
    l->kh = l->kw = l->sh = l->sw = k;
    l->padding = XD_PADDING_VALID;
}

static void add_dense(xd_model_spec *s, const char *name, int units, xd_activation act)
{
    add_weighted(s, XD_LAYER_DENSE, name, act)->units = units;
}

static void set_adam(xd_model_spec *s, xd_optimizer_kind kind)
{
    s->has_optimizer = 1;
    s->optimizer.kind = kind;
    s->optimizer.lr = 1e-3;
    s->optimizer.beta1 = 0.9;
    s->optimizer.beta2 = 0.999;
    s->optimizer.eps = 1e-7;
}

/* crossdev's own model since the seed: conv, relu, flatten, dense on
 * logits, with PyTorch's Adam. */
static void builtin_seed_cnn(xd_model_spec *s)
{
    s->in_h = s->in_w = 28;
    s->in_c = 1;
    s->classes = 10;
    add_conv(s, "conv1", 32, 3, XD_ACT_LINEAR);
    add_layer(s, XD_LAYER_ACTIVATION, "relu1")->activation = XD_ACT_RELU;
    add_layer(s, XD_LAYER_FLATTEN, "flatten");
    add_dense(s, "dense1", 10, XD_ACT_LINEAR);
    s->loss.from_logits = 1;
    set_adam(s, XD_OPT_ADAM_PYTORCH);
}

/* Keras's classic MNIST example (keras.io/examples/vision/mnist_convnet),
 * with the names Keras gives its layers in a fresh session. */
static void builtin_mnist_convnet(xd_model_spec *s)
{
    s->in_h = s->in_w = 28;
    s->in_c = 1;
    s->classes = 10;
    add_conv(s, "conv2d", 32, 3, XD_ACT_RELU);
    add_maxpool(s, "max_pooling2d", 2);
    add_conv(s, "conv2d_1", 64, 3, XD_ACT_RELU);
    add_maxpool(s, "max_pooling2d_1", 2);
    add_layer(s, XD_LAYER_FLATTEN, "flatten");
    add_layer(s, XD_LAYER_DROPOUT, "dropout")->rate = 0.5;
    add_dense(s, "dense", 10, XD_ACT_SOFTMAX);
    s->loss.from_logits = 0;
    set_adam(s, XD_OPT_ADAM_KERAS);
}

/* Keras's name for the next layer of a kind in a fresh session: "conv2d",
 * "conv2d_1", ... */
static void keras_name(const xd_model_spec *s, xd_layer_type type, const char *base, char name[XD_LAYER_NAME_LEN])
{
    int n = 0;
    for (int j = 0; j < s->nlayers; j++) n += s->layers[j].type == type;
    if (n) snprintf(name, XD_LAYER_NAME_LEN, "%s_%d", base, n);
    else snprintf(name, XD_LAYER_NAME_LEN, "%s", base);
}

static xd_layer_spec *add_named(xd_model_spec *s, xd_layer_type type, const char *base)
{
    char name[XD_LAYER_NAME_LEN];
    keras_name(s, type, base, name);
    return add_layer(s, type, name);
}

/* A layer reads the one before it unless told (the spec's graph). */
static void read_from(xd_model_spec *s, int i, int input)
{
    if (input != i - 1) s->layers[i].ninputs = 1, s->layers[i].inputs[0] = input;
}

static int add_rconv(xd_model_spec *s, int filters, int k, int stride, int input)
{
    int i = s->nlayers;
    char name[XD_LAYER_NAME_LEN];
    keras_name(s, XD_LAYER_CONV2D, "conv2d", name);
    add_conv(s, name, filters, k, XD_ACT_LINEAR);
    xd_layer_spec *l = &s->layers[i];
    l->sh = l->sw = stride;
    l->padding = XD_PADDING_SAME;
    l->kernel_init.kind = XD_INIT_HE_NORMAL;
    l->kernel_l2 = 1e-4; /* the example's kernel_regularizer=l2(1e-4) */
    read_from(s, i, input);
    return i;
}

static int add_bn(xd_model_spec *s, int input)
{
    int i = s->nlayers;
    xd_layer_spec *l = add_named(s, XD_LAYER_BATCHNORM, "batch_normalization");
    l->momentum = 0.99;
    l->epsilon = 1e-3;
    l->center = l->scale = 1;
    l->gamma_init.kind = l->moving_variance_init.kind = XD_INIT_ONES;
    l->beta_init.kind = l->moving_mean_init.kind = XD_INIT_ZEROS;
    read_from(s, i, input);
    return i;
}

static int add_relu(xd_model_spec *s)
{
    add_named(s, XD_LAYER_ACTIVATION, "activation")->activation = XD_ACT_RELU;
    return s->nlayers - 1;
}

/* One residual block: conv-BN-ReLU-conv-BN, added to x (through a 1x1
 * strided projection when the block downsamples), then ReLU. */
static int add_resblock(xd_model_spec *s, int x, int filters, int stride)
{
    add_rconv(s, filters, 3, stride, x);
    add_bn(s, s->nlayers - 1);
    add_relu(s);
    int y = add_rconv(s, filters, 3, 1, s->nlayers - 1);
    if (stride != 1) x = add_rconv(s, filters, 1, stride, x);
    y = add_bn(s, y);
    xd_layer_spec *a = add_named(s, XD_LAYER_ADD, "add");
    a->ninputs = 2;
    a->inputs[0] = x;
    a->inputs[1] = y;
    return add_relu(s);
}

/* ResNet v1 for small images (keras-team's cifar10_resnet.py, resnet_v1
 * with n = 1: ResNet-8), on Fashion-MNIST's 28x28x1: every conv 3x3 (the
 * projections 1x1), padding "same", HeNormal kernels, zero biases; Keras's
 * layer names in a fresh session and its functional config's layer order
 * (a block's projection after its second conv); every conv with the
 * example's L2 kernel regularizer (1e-4), the Dense without. */
static void builtin_resnet(xd_model_spec *s)
{
    s->in_h = s->in_w = 28;
    s->in_c = 1;
    s->classes = 10;
    add_rconv(s, 16, 3, 1, -1);
    add_bn(s, 0);
    int x = add_relu(s);
    for (int stage = 0; stage < 3; stage++) x = add_resblock(s, x, 16 << stage, stage ? 2 : 1);
    add_named(s, XD_LAYER_GLOBAL_AVGPOOL2D, "global_average_pooling2d");
    add_dense(s, "dense", 10, XD_ACT_SOFTMAX);
    s->layers[s->nlayers - 1].kernel_init.kind = XD_INIT_HE_NORMAL;
    s->loss.from_logits = 0;
    set_adam(s, XD_OPT_ADAM_KERAS);
}

xd_status xd_model_spec_builtin(const char *name, xd_model_spec *out, xd_error *err)
{
    if (!out) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_model_spec_builtin: NULL output");
    memset(out, 0, sizeof *out);
    if (name && strcmp(name, "seed-cnn") == 0) {
        builtin_seed_cnn(out);
    } else if (name && strcmp(name, "mnist-convnet") == 0) {
        builtin_mnist_convnet(out);
    } else if (name && strcmp(name, "resnet") == 0) {
        builtin_resnet(out);
    } else {
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0,
                            "unknown built-in model '%s' (known: seed-cnn, mnist-convnet, resnet; or a .keras or "
                            "model.to_json() file)",
                            name ? name : "(null)");
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->source, sizeof out->source, "built-in");
    return xd_error_return(err, XD_OK);
}

/* ---- shapes ------------------------------------------------------------------------ */
/* One spatial side: Keras's "valid" floor((in - k) / s) + 1 (0 when the
 * window does not fit), "same" ceil(in / s); explicit padding lo, hi as
 * "valid" on the padded side (PyTorch's floor mode). */
static int64_t out_side(int64_t in, int k, int s, xd_padding p, int lo, int hi)
{
    if (p == XD_PADDING_SAME) return (in + s - 1) / s;
    if (p == XD_PADDING_EXPLICIT) in += (int64_t)lo + hi;
    return in < k ? 0 : (in - k) / s + 1;
}

/* Explicit padding: each side 0 .. k-1 (the ops' limit); none otherwise. */
static int pads_ok(const xd_layer_spec *l)
{
    if (l->padding != XD_PADDING_EXPLICIT) return !l->pad_top && !l->pad_bottom && !l->pad_left && !l->pad_right;
    return l->pad_top >= 0 && l->pad_bottom >= 0 && l->pad_left >= 0 && l->pad_right >= 0 && l->pad_top < l->kh &&
           l->pad_bottom < l->kh && l->pad_left < l->kw && l->pad_right < l->kw;
}

static xd_status shape_fail(xd_error *err, xd_status st, int i, const xd_layer_spec *l, const char *what)
{
    return xd_error_set(err, st, 0, "layer %d '%s' (%s): %s", i, l->name, xd_layer_type_name(l->type), what);
}

/* The windowed layers (Conv2D and the poolings) on an image. */
static xd_status window_shape(int i, const xd_layer_spec *l, int flat, const xd_layer_shape *in, xd_layer_shape *o,
                              xd_error *err)
{
    if (flat) return shape_fail(err, XD_SHAPE_MISMATCH, i, l, "needs an image (H, W, C) input, not flat features");
    if (l->kh < 1 || l->kw < 1 || l->sh < 1 || l->sw < 1 || l->kh > XD_KERAS_MAX_KERNEL ||
        l->kw > XD_KERAS_MAX_KERNEL || l->sh > XD_KERAS_MAX_KERNEL || l->sw > XD_KERAS_MAX_KERNEL)
        return shape_fail(err, XD_INVALID_ARGUMENT, i, l, "kernel and strides must be 1..1024");
    if (!pads_ok(l))
        return shape_fail(err, XD_INVALID_ARGUMENT, i, l,
                          "explicit padding must be 0 .. kernel-1 on each side (and given only with padding "
                          "\"explicit\")");
    o->h = out_side(in->h, l->kh, l->sh, l->padding, l->pad_top, l->pad_bottom);
    o->w = out_side(in->w, l->kw, l->sw, l->padding, l->pad_left, l->pad_right);
    o->c = in->c;
    if (l->type == XD_LAYER_CONV2D) {
        if (l->filters < 1 || l->filters > XD_KERAS_MAX_DIM)
            return shape_fail(err, XD_INVALID_ARGUMENT, i, l, "filters must be 1..1048576");
        o->c = l->filters;
        if (in->c * l->kh * l->kw * (int64_t)l->filters > XD_KERAS_MAX_COUNT)
            return shape_fail(err, XD_SHAPE_MISMATCH, i, l, "kernel has more than 2^31 elements");
    }
    if (o->h >= 1 && o->w >= 1 && o->c * o->h * o->w > XD_KERAS_MAX_COUNT)
        return shape_fail(err, XD_SHAPE_MISMATCH, i, l, "output has more than 2^31 elements per example");
    if (o->h < 1 || o->w < 1) {
        char msg[160];
        snprintf(msg, sizeof msg, "input %lldx%lld is smaller than the %dx%d window (output would be empty)",
                 (long long)in->h, (long long)in->w, l->kh, l->kw);
        return shape_fail(err, XD_SHAPE_MISMATCH, i, l, msg);
    }
    return XD_OK;
}

/* ZeroPadding2D: an image, taller and wider by its padding. */
static xd_status padded_shape(int i, const xd_layer_spec *l, int flat, xd_layer_shape *o, xd_error *err)
{
    if (flat) return shape_fail(err, XD_SHAPE_MISMATCH, i, l, "needs an image (H, W, C) input, not flat features");
    for (int k = 0; k < 4; k++)
        if (l->pad[k] < 0 || l->pad[k] > XD_KERAS_MAX_KERNEL)
            return shape_fail(err, XD_INVALID_ARGUMENT, i, l, "padding must be 0..1024 on each side");
    o->h += l->pad[0] + l->pad[1];
    o->w += l->pad[2] + l->pad[3];
    if (o->c * o->h * o->w > XD_KERAS_MAX_COUNT)
        return shape_fail(err, XD_SHAPE_MISMATCH, i, l, "output has more than 2^31 elements per example");
    return XD_OK;
}

/* The layers that keep their input's shape. */
static xd_status same_shape(int i, const xd_layer_spec *l, int flat, xd_error *err)
{
    if (l->type == XD_LAYER_ACTIVATION && l->activation == XD_ACT_SOFTMAX && !flat)
        return shape_fail(err, XD_SHAPE_MISMATCH, i, l,
                          "softmax over the channels of an image is not supported (only on flat features)");
    if (l->type == XD_LAYER_DROPOUT && !(l->rate >= 0 && l->rate < 1))
        return shape_fail(err, XD_INVALID_ARGUMENT, i, l, "rate must be in [0, 1)");
    return XD_OK;
}

/* Layer i's output shape from its input; *flat says whether the tensor is
 * rank 2 (features) rather than an image, and is updated. */
static xd_status layer_shape(int i, const xd_layer_spec *l, int *flat, const xd_layer_shape *in, xd_layer_shape *o,
                             xd_error *err)
{
    *o = *in;
    switch (l->type) {
    case XD_LAYER_CONV2D:
    case XD_LAYER_MAXPOOL2D:
    case XD_LAYER_AVGPOOL2D: return window_shape(i, l, *flat, in, o, err);
    case XD_LAYER_FLATTEN:
        if (!*flat) { /* an image becomes features; flattening features again changes nothing */
            o->fc = in->c, o->fh = in->h, o->fw = in->w;
            o->c = in->c * in->h * in->w;
            o->h = o->w = 1;
            *flat = 1;
        }
        return XD_OK;
    case XD_LAYER_DENSE:
        if (!*flat) return shape_fail(err, XD_SHAPE_MISMATCH, i, l, "needs flat features (put a Flatten before it)");
        if (l->units < 1 || l->units > XD_KERAS_MAX_DIM)
            return shape_fail(err, XD_INVALID_ARGUMENT, i, l, "units must be 1..1048576");
        if (in->c * (int64_t)l->units > XD_KERAS_MAX_COUNT)
            return shape_fail(err, XD_SHAPE_MISMATCH, i, l, "kernel has more than 2^31 elements");
        o->c = l->units;
        o->fc = o->fh = o->fw = 0;
        return XD_OK;
    case XD_LAYER_DROPOUT:
    case XD_LAYER_ACTIVATION:
    case XD_LAYER_BATCHNORM: return same_shape(i, l, *flat, err);
    case XD_LAYER_GLOBAL_AVGPOOL2D: /* an image's channels become features */
    case XD_LAYER_GLOBAL_MAXPOOL2D:
        if (*flat) return shape_fail(err, XD_SHAPE_MISMATCH, i, l, "needs an image (H, W, C) input, not flat features");
        o->h = o->w = 1;
        o->fc = o->fh = o->fw = 0;
        *flat = 1;
        return XD_OK;
    case XD_LAYER_ADD:
    case XD_LAYER_CONCATENATE: break; /* merge_shape */
    case XD_LAYER_ZEROPADDING2D: return padded_shape(i, l, *flat, o, err);
    }
    return shape_fail(err, XD_INVALID_ARGUMENT, i, l, "unknown layer type");
}

/* Add: inputs of one shape (features flattened alike: a Dense after it
 * permutes them once); Concatenate: images of one height and width, their
 * channels added up, or features none of which a Flatten of a wider image
 * numbered (Keras's (H, W, C) order and crossdev's (C, H, W) would then
 * interleave). */
static xd_status merge_shape(const xd_model_spec *spec, int i, const xd_layer_shape *shapes, const int *flats,
                             xd_layer_shape *o, xd_error *err)
{
    const xd_layer_spec *l = &spec->layers[i];
    const int add = l->type == XD_LAYER_ADD, n = xd_layer_input_count(spec, i);
    const int first = xd_layer_input(spec, i, 0) + 1;
    *o = shapes[first];
    if (!add) o->c = 0, o->fc = o->fh = o->fw = 0;
    for (int k = 0; k < n; k++) {
        const int j = xd_layer_input(spec, i, k) + 1;
        const xd_layer_shape *in = &shapes[j];
        int same = in->h == o->h && in->w == o->w && flats[j] == flats[first];
        if (add) same = same && in->c == o->c && in->fc == o->fc && in->fh == o->fh && in->fw == o->fw;
        if (!same)
            return shape_fail(err, XD_SHAPE_MISMATCH, i, l,
                              add ? "its inputs differ in shape (Add needs one shape)"
                                  : "its inputs differ in height or width, or are not all images or all features");
        if (!add && in->fh * in->fw > 1)
            return shape_fail(err, XD_SHAPE_MISMATCH, i, l,
                              "concatenating features flattened from an image is not supported (concatenate the "
                              "images, or features from a Dense or a global pooling)");
        if (!add) o->c += in->c;
    }
    if (o->c * o->h * o->w > XD_KERAS_MAX_COUNT)
        return shape_fail(err, XD_SHAPE_MISMATCH, i, l, "output has more than 2^31 elements per example");
    return XD_OK;
}

/* ---- the graph ---------------------------------------------------------------------- */
int xd_layer_input_count(const xd_model_spec *spec, int i)
{
    const int n = spec->layers[i].ninputs;
    return n > 0 && n <= XD_MAX_INPUTS ? n : 1;
}

int xd_layer_input(const xd_model_spec *spec, int i, int k)
{
    return spec->layers[i].ninputs > 0 ? spec->layers[i].inputs[k] : i - 1;
}

void xd_layer_set_inputs(xd_layer_spec *l, int i, const int *in, int n)
{
    memset(l->inputs, 0, sizeof l->inputs);
    l->ninputs = n == 1 && in[0] == i - 1 ? 0 : n;
    for (int k = 0; k < l->ninputs; k++) l->inputs[k] = in[k];
}

/* How many inputs a layer type takes: exactly one, or (merging layers) two
 * or more. */
static int takes_many(xd_layer_type t) { return t == XD_LAYER_ADD || t == XD_LAYER_CONCATENATE; }

/* Layer i reads layers before it (or the model's input), as many as its
 * type takes; every layer but the last is read by a later one. */
static xd_status check_graph(const xd_model_spec *spec, xd_error *err)
{
    int used[XD_MAX_LAYERS] = {0};
    for (int i = 0; i < spec->nlayers; i++) {
        const xd_layer_spec *l = &spec->layers[i];
        const int n = xd_layer_input_count(spec, i), many = takes_many(l->type);
        if (l->ninputs < 0 || l->ninputs > XD_MAX_INPUTS || (many ? n < 2 : n != 1))
            return shape_fail(err, XD_INVALID_ARGUMENT, i, l,
                              many ? "takes 2 to 8 inputs" : "takes one input (a layer's output or the model's)");
        for (int k = 0; k < n; k++) {
            const int src = xd_layer_input(spec, i, k);
            if (src < -1 || src >= i)
                return shape_fail(err, XD_INVALID_ARGUMENT, i, l,
                                  "reads a layer that does not come before it (layers must be in graph order)");
            if (src >= 0) used[src] = 1;
        }
    }
    for (int i = 0; i + 1 < spec->nlayers; i++)
        if (!used[i])
            return shape_fail(err, XD_INVALID_ARGUMENT, i, &spec->layers[i],
                              "its output is not read by any layer (the model's output is its last layer)");
    return XD_OK;
}

xd_status xd_model_spec_shapes(const xd_model_spec *spec, xd_layer_shape *out, xd_error *err)
{
    if (!spec || !out) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_model_spec_shapes: NULL argument");
    if (spec->nlayers < 1 || spec->nlayers > XD_MAX_LAYERS)
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "model '%s': %d layers (1..%d supported)", spec->name,
                            spec->nlayers, XD_MAX_LAYERS);
    if (spec->in_h < 1 || spec->in_w < 1 || spec->in_c < 1 || spec->in_h > XD_KERAS_MAX_DIM ||
        spec->in_w > XD_KERAS_MAX_DIM || spec->in_c > XD_KERAS_MAX_DIM ||
        spec->in_h * spec->in_w * spec->in_c > XD_KERAS_MAX_COUNT)
        return xd_error_set(err, XD_SHAPE_MISMATCH, 0, "model '%s': input shape (%lld, %lld, %lld) is not supported",
                            spec->name, (long long)spec->in_h, (long long)spec->in_w, (long long)spec->in_c);
    xd_status st = check_graph(spec, err);
    if (st != XD_OK) return xd_error_return(err, st);
    memset(out, 0, sizeof *out * (size_t)(spec->nlayers + 1));
    out[0].c = spec->in_c, out[0].h = spec->in_h, out[0].w = spec->in_w;
    int flat[XD_MAX_LAYERS + 1] = {0}; /* out[j] is features rather than an image */
    for (int i = 0; i < spec->nlayers; i++) {
        const int src = xd_layer_input(spec, i, 0) + 1;
        flat[i + 1] = flat[src];
        if (takes_many(spec->layers[i].type)) st = merge_shape(spec, i, out, flat, &out[i + 1], err);
        else st = layer_shape(i, &spec->layers[i], &flat[i + 1], &out[src], &out[i + 1], err);
        if (st != XD_OK) return xd_error_return(err, st);
    }
    return xd_error_return(err, XD_OK);
}
