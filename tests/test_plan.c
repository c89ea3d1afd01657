/* The plan as data (host/train/plan.c), no device: which fusions apply to
 * each built-in model and each valid Keras fixture (a table: every valid
 * fixture of tests/fixtures/keras/manifest.json must have its row), that
 * the plan made for op hooks fuses nothing and differs from the fused one
 * by exactly those rewrites, that no step reads a tensor nothing wrote
 * (views followed; a Dropout that is off before a view), that its op names
 * are unique, seed-cnn's op names in order, and the update ops' outputs per
 * optimizer. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "train/plan.h"

static xdt T = {.name = "test_plan"};
static const char *fixtures;

/* The steps the fusions make, as xd_plan_text lists them. */
typedef struct row {
    const char *model; /* a built-in name or a fixture file */
    const char *fused;
} row;

/* mnist-convnet: the built-in and Keras's own, the conv's own ReLU fused. */
static const char mnist_convnet[] =
    "train conv2d_relu conv2d.forward+conv2d.activation: input conv2d.weight conv2d.bias -> conv2d.out\n"
    "train conv2d_relu conv2d_1.forward+conv2d_1.activation: max_pooling2d.out conv2d_1.weight conv2d_1.bias -> "
    "conv2d_1.out\n"
    "eval conv2d_relu conv2d.forward+conv2d.activation: input conv2d.weight conv2d.bias -> conv2d.out\n"
    "eval conv2d_relu conv2d_1.forward+conv2d_1.activation: max_pooling2d.out conv2d_1.weight conv2d_1.bias -> "
    "conv2d_1.out\n"
    "backward conv2d_backward_weights_bias conv2d_1.backward_weights+conv2d_1.backward_bias: max_pooling2d.out "
    "conv2d_1.dpre -> conv2d_1.weight.grad conv2d_1.bias.grad\n"
    "backward conv2d_backward_weights_bias conv2d.backward_weights+conv2d.backward_bias: input conv2d.dpre -> "
    "conv2d.weight.grad conv2d.bias.grad\n";
/* seed-buggy, dropout-view: the first conv's own ReLU alone. */
static const char first_conv_relu[] =
    "train conv2d_relu conv2d.forward+conv2d.activation: input conv2d.weight conv2d.bias -> conv2d.out\n"
    "eval conv2d_relu conv2d.forward+conv2d.activation: input conv2d.weight conv2d.bias -> conv2d.out\n"
    "backward conv2d_backward_weights_bias conv2d.backward_weights+conv2d.backward_bias: input conv2d.dpre -> "
    "conv2d.weight.grad conv2d.bias.grad\n";
/* residual.keras, and the same block with L2 regularizers and a schedule
 * (residual-l2-schedule.keras): the first conv's ReLU, BatchNormalization
 * + ReLU, Add + ReLU, the 1x1 projection's and the first conv's weight and
 * bias gradients, and the gradient of the first conv's output (read by the
 * second conv and the Add) added in the second conv's backward data. */
static const char residual[] =
    "train conv2d_relu conv2d.forward+conv2d.activation: input conv2d.weight conv2d.bias -> conv2d.out\n"
    "train batchnorm_train_relu batch_normalization.forward+re_lu.forward: conv2d_1.out batch_normalization.gamma "
    "batch_normalization.beta -> re_lu.out batch_normalization.batch_mean batch_normalization.batch_var\n"
    "train add_relu add.forward+re_lu_1.forward: conv2d.out batch_normalization_1.out -> re_lu_1.out\n"
    "eval conv2d_relu conv2d.forward+conv2d.activation: input conv2d.weight conv2d.bias -> conv2d.out\n"
    "backward conv2d_backward_weights_bias conv2d_3.backward_weights+conv2d_3.backward_bias: conv2d.out conv2d_3.dout "
    "-> conv2d_3.weight.grad conv2d_3.bias.grad\n"
    "backward conv2d_backward_data_accumulate conv2d_1.backward_data+conv2d_1.backward_accumulate: conv2d_1.dout "
    "conv2d_1.weight conv2d.dout -> conv2d.dout conv2d_1.din\n"
    "backward conv2d_backward_weights_bias conv2d.backward_weights+conv2d.backward_bias: input conv2d.dpre -> "
    "conv2d.weight.grad conv2d.bias.grad\n";
/* all-layers (.keras, the JSON with its weights, and the same layers built
 * with the functional API): a conv's own ReLU and a ReLU layer after a conv
 * without bias. */
static const char all_layers[] =
    "train conv2d_relu conv2d.forward+conv2d.activation: input conv2d.weight conv2d.bias -> conv2d.out\n"
    "train conv2d_relu conv2d_1.forward+re_lu.forward: max_pooling2d.out conv2d_1.weight -> re_lu.out\n"
    "eval conv2d_relu conv2d.forward+conv2d.activation: input conv2d.weight conv2d.bias -> conv2d.out\n"
    "eval conv2d_relu conv2d_1.forward+re_lu.forward: max_pooling2d.out conv2d_1.weight -> re_lu.out\n"
    "backward conv2d_backward_weights_bias conv2d.backward_weights+conv2d.backward_bias: input conv2d.dpre -> "
    "conv2d.weight.grad conv2d.bias.grad\n";

/* resnet (the built-in and Keras's own): each BatchNormalization + ReLU and
 * Add + ReLU of the forward, each conv's weight and bias gradients in one
 * pass, and each gradient that fans out (a block's input, read by its
 * first conv and its shortcut) added in the first conv's backward data
 * (every conv feeds a BatchNormalization or an Add, so no conv + ReLU). */
static const char resnet[] =
    "train batchnorm_train_relu batch_normalization.forward+activation.forward: conv2d.out batch_normalization.gamma "
    "batch_normalization.beta -> activation.out batch_normalization.batch_mean batch_normalization.batch_var\n"
    "train batchnorm_train_relu batch_normalization_1.forward+activation_1.forward: conv2d_1.out "
    "batch_normalization_1.gamma batch_normalization_1.beta -> activation_1.out batch_normalization_1.batch_mean "
    "batch_normalization_1.batch_var\n"
    "train add_relu add.forward+activation_2.forward: activation.out batch_normalization_2.out -> activation_2.out\n"
    "train batchnorm_train_relu batch_normalization_3.forward+activation_3.forward: conv2d_3.out "
    "batch_normalization_3.gamma batch_normalization_3.beta -> activation_3.out batch_normalization_3.batch_mean "
    "batch_normalization_3.batch_var\n"
    "train add_relu add_1.forward+activation_4.forward: conv2d_5.out batch_normalization_4.out -> activation_4.out\n"
    "train batchnorm_train_relu batch_normalization_5.forward+activation_5.forward: conv2d_6.out "
    "batch_normalization_5.gamma batch_normalization_5.beta -> activation_5.out batch_normalization_5.batch_mean "
    "batch_normalization_5.batch_var\n"
    "train add_relu add_2.forward+activation_6.forward: conv2d_8.out batch_normalization_6.out -> activation_6.out\n"
    "backward conv2d_backward_weights_bias conv2d_8.backward_weights+conv2d_8.backward_bias: activation_4.out "
    "conv2d_8.dout -> conv2d_8.weight.grad conv2d_8.bias.grad\n"
    "backward conv2d_backward_weights_bias conv2d_7.backward_weights+conv2d_7.backward_bias: activation_5.out "
    "conv2d_7.dout -> conv2d_7.weight.grad conv2d_7.bias.grad\n"
    "backward conv2d_backward_weights_bias conv2d_6.backward_weights+conv2d_6.backward_bias: activation_4.out "
    "conv2d_6.dout -> conv2d_6.weight.grad conv2d_6.bias.grad\n"
    "backward conv2d_backward_data_accumulate conv2d_6.backward_data+conv2d_6.backward_accumulate: conv2d_6.dout "
    "conv2d_6.weight activation_4.dout -> activation_4.dout conv2d_6.din\n"
    "backward conv2d_backward_weights_bias conv2d_5.backward_weights+conv2d_5.backward_bias: activation_2.out "
    "conv2d_5.dout -> conv2d_5.weight.grad conv2d_5.bias.grad\n"
    "backward conv2d_backward_weights_bias conv2d_4.backward_weights+conv2d_4.backward_bias: activation_3.out "
    "conv2d_4.dout -> conv2d_4.weight.grad conv2d_4.bias.grad\n"
    "backward conv2d_backward_weights_bias conv2d_3.backward_weights+conv2d_3.backward_bias: activation_2.out "
    "conv2d_3.dout -> conv2d_3.weight.grad conv2d_3.bias.grad\n"
    "backward conv2d_backward_data_accumulate conv2d_3.backward_data+conv2d_3.backward_accumulate: conv2d_3.dout "
    "conv2d_3.weight activation_2.dout -> activation_2.dout conv2d_3.din\n"
    "backward conv2d_backward_weights_bias conv2d_2.backward_weights+conv2d_2.backward_bias: activation_1.out "
    "conv2d_2.dout -> conv2d_2.weight.grad conv2d_2.bias.grad\n"
    "backward conv2d_backward_weights_bias conv2d_1.backward_weights+conv2d_1.backward_bias: activation.out "
    "conv2d_1.dout -> conv2d_1.weight.grad conv2d_1.bias.grad\n"
    "backward conv2d_backward_data_accumulate conv2d_1.backward_data+conv2d_1.backward_accumulate: conv2d_1.dout "
    "conv2d_1.weight activation.dout -> activation.dout conv2d_1.din\n"
    "backward conv2d_backward_weights_bias conv2d.backward_weights+conv2d.backward_bias: input conv2d.dout -> "
    "conv2d.weight.grad conv2d.bias.grad\n";

static const row table[] = {
    {"seed-cnn", "train conv2d_relu conv1.forward+relu1.forward: input conv1.weight conv1.bias -> relu1.out\n"
                 "eval conv2d_relu conv1.forward+relu1.forward: input conv1.weight conv1.bias -> relu1.out\n"
                 "backward dense_backward_data_relu dense1.backward_data+relu1.backward: dense1.dout dense1.weight "
                 "relu1.out -> conv1.dout\n"
                 "backward conv2d_backward_weights_bias conv1.backward_weights+conv1.backward_bias: input conv1.dout "
                 "-> conv1.weight.grad conv1.bias.grad\n"},
    {"mnist-convnet", mnist_convnet},
    {"mnist-convnet.json", mnist_convnet},
    {"seed-buggy.json", first_conv_relu},
    {"all-layers.keras", all_layers},
    {"all-layers.json", all_layers},
    {"all-layers-functional.keras", all_layers},
    {"variants.keras", "backward conv2d_backward_weights_bias c.backward_weights+c.backward_bias: input c.dout -> "
                       "c.weight.grad c.bias.grad\n"},
    {"dropout-view.json", first_conv_relu},
    {"residual.keras", residual},
    {"activations.keras", /* no ReLU: the weights-and-bias fusions, the fan-out gradients added in the backward data */
     "backward conv2d_backward_weights_bias conv2d_5.backward_weights+conv2d_5.backward_bias: activation.out "
     "conv2d_5.dpre -> conv2d_5.weight.grad conv2d_5.bias.grad\n"
     "backward conv2d_backward_weights_bias conv2d_4.backward_weights+conv2d_4.backward_bias: zero_padding2d_1.out "
     "conv2d_4.dpre -> conv2d_4.weight.grad conv2d_4.bias.grad\n"
     "backward conv2d_backward_weights_bias conv2d_3.backward_weights+conv2d_3.backward_bias: conv2d.out conv2d_3.dpre "
     "-> conv2d_3.weight.grad conv2d_3.bias.grad\n"
     "backward conv2d_backward_weights_bias conv2d_1.backward_weights+conv2d_1.backward_bias: conv2d.out conv2d_1.dpre "
     "-> conv2d_1.weight.grad conv2d_1.bias.grad\n"
     "backward conv2d_backward_data_accumulate conv2d_1.backward_data+conv2d_1.backward_accumulate: conv2d_1.dpre "
     "conv2d_1.weight conv2d.dout -> conv2d.dout conv2d_1.din\n"
     "backward conv2d_backward_weights_bias conv2d_2.backward_weights+conv2d_2.backward_bias: conv2d.out conv2d_2.dout "
     "-> conv2d_2.weight.grad conv2d_2.bias.grad\n"
     "backward conv2d_backward_data_accumulate conv2d_2.backward_data+conv2d_2.backward_accumulate: conv2d_2.dout "
     "conv2d_2.weight conv2d.dout -> conv2d.dout conv2d_2.din\n"
     "backward conv2d_backward_weights_bias conv2d.backward_weights+conv2d.backward_bias: zero_padding2d.out "
     "conv2d.dpre -> conv2d.weight.grad conv2d.bias.grad\n"},
    {"tiny.json", "backward conv2d_backward_weights_bias conv2d.backward_weights+conv2d.backward_bias: input "
                  "conv2d.dout -> conv2d.weight.grad conv2d.bias.grad\n"},
    /* a learning-rate schedule changes no step; an L2 regularizer adds its
     * penalty and gradient steps, which no fusion takes */
    {"schedule.json", "backward conv2d_backward_weights_bias conv2d.backward_weights+conv2d.backward_bias: input "
                      "conv2d.dout -> conv2d.weight.grad conv2d.bias.grad\n"},
    {"regularizer.json", "backward conv2d_backward_weights_bias conv2d.backward_weights+conv2d.backward_bias: input "
                         "conv2d.dout -> conv2d.weight.grad conv2d.bias.grad\n"},
    {"residual-l2-schedule.keras", residual},
    {"resnet", resnet},
    {"resnet.keras", resnet},
};

/* The trace's op names of seed-cnn, in the order they run. */
static const char *const seed_cnn_ops[] = {"conv1.forward",          "relu1.forward",        "dense1.forward",
                                           "loss.forward",           "loss.backward",        "dense1.backward_weights",
                                           "dense1.backward_bias",   "dense1.backward_data", "relu1.backward",
                                           "conv1.backward_weights", "conv1.backward_bias",  "conv1.weight.update",
                                           "conv1.bias.update",      "dense1.weight.update", "dense1.bias.update"};

static int load(const char *model, xd_model_spec *spec)
{
    xd_error err = {0};
    char path[4096];
    xd_status st = xd_model_spec_builtin(model, spec, &err);
    if (st != XD_OK) {
        snprintf(path, sizeof path, "%s/%s", fixtures, model);
        st = xd_model_spec_load(path, spec, NULL, &err);
    }
    return xdt_check(&T, st == XD_OK, "%s: %s", model, err.message);
}

static char *text(const xd_plan *p, const xd_model_spec *spec, int fused_only)
{
    size_t n = xd_plan_text(p, spec, fused_only, NULL, 0);
    char *buf = malloc(n + 1);
    if (buf) xd_plan_text(p, spec, fused_only, buf, n + 1);
    return buf;
}

/* How many steps of l a fusion made. */
static int fused_steps(const xd_steps *l)
{
    int n = 0;
    for (int i = 0; i < l->n; ++i) n += l->v[i].kind >= XD_STEP_CONV_RELU;
    return n;
}

typedef struct names {
    const char *v[4 * XD_PLAN_MAX_STEPS];
    int n;
} names;

static void collect(void *user, const char *op)
{
    names *ns = user;
    if (ns->n < (int)(sizeof ns->v / sizeof ns->v[0])) ns->v[ns->n++] = op;
}

/* Op names are trace keys and --op-outputs-at file names: unique. */
static void check_unique(const char *model, const names *ns)
{
    const char *twice = NULL;
    for (int i = 0; i < ns->n && !twice; ++i)
        for (int j = i + 1; j < ns->n && !twice; ++j)
            if (strcmp(ns->v[i], ns->v[j]) == 0) twice = ns->v[i];
    xdt_check(&T, ns->n > 0 && !twice, "%s: %d op names, %s twice", model, ns->n, twice ? twice : "none");
}

/* seed-cnn's hooked plan names its ops as its traces always have. */
static void check_seed_cnn_ops(const names *ns)
{
    const int n = (int)(sizeof seed_cnn_ops / sizeof seed_cnn_ops[0]);
    int same = ns->n == n;
    for (int i = 0; same && i < n; ++i) same = strcmp(ns->v[i], seed_cnn_ops[i]) == 0;
    xdt_check(&T, same, "seed-cnn: %d op names, not the %d expected (or in another order)", ns->n, n);
    for (int i = 0; !same && i < ns->n; ++i) printf("  %s\n", ns->v[i]);
}

/* regularizer.json (L2 on the conv's kernel alone): the penalty is added
 * to the loss right after the loss, its gradient after the backward pass,
 * before the updates; nothing for the bias or the Dense. */
static void check_regularizer_ops(const names *ns)
{
    int loss = -1, pen = -1, grad = -1, upd = -1, others = 0;
    for (int i = 0; i < ns->n; ++i) {
        const char *o = ns->v[i];
        if (strcmp(o, "loss.backward") == 0) loss = i;
        if (strcmp(o, "conv2d.weight.l2_penalty") == 0) pen = i;
        if (strcmp(o, "conv2d.weight.l2_gradient") == 0) grad = i;
        if (upd < 0 && strstr(o, ".update")) upd = i;
        others += strstr(o, "l2_") != NULL;
    }
    xdt_check(&T, loss >= 0 && pen == loss + 1 && grad >= 0 && grad == upd - 1 && others == 2,
              "regularizer.json: the penalty after the loss (%d, %d), its gradient before the updates (%d, %d), "
              "%d regularizer ops",
              loss, pen, grad, upd, others);
}

/* The tensor a reference names once views are followed: a Flatten's or a
 * linear Activation's output (and gradient) is its input's memory
 * (host/train/net.c builds them so). */
static xd_ref storage(const xd_model_spec *spec, xd_ref r)
{
    while (r >= XD_REF_LAYER0) {
        const int i = (r - XD_REF_LAYER0) / XD_NFIELDS, f = (r - XD_REF_LAYER0) % XD_NFIELDS;
        const xd_layer_spec *s = &spec->layers[i];
        const int view =
            s->type == XD_LAYER_FLATTEN || (s->type == XD_LAYER_ACTIVATION && s->activation == XD_ACT_LINEAR);
        if (!view || (f != XD_FIELD_OUT && f != XD_FIELD_DOUT)) return r;
        if (i == 0) return f == XD_FIELD_OUT ? XD_REF_INPUT : XD_REF_NONE;
        r = XD_REF(i - 1, f);
    }
    return r;
}

/* What holds its value when a training step or an evaluation starts: the
 * batch, the parameters, their optimizer state, the moving statistics
 * (not a gradient). */
static int is_state(xd_ref r)
{
    if (r == XD_REF_INPUT || r == XD_REF_LABELS) return 1;
    const int f = r >= XD_REF_LAYER0 ? (r - XD_REF_LAYER0) % XD_NFIELDS : -1;
    return f >= XD_FIELD_MOVING_MEAN || (f >= XD_FIELD_WEIGHT && (f - XD_FIELD_WEIGHT) % 4 != 1);
}

/* Every tensor a step of the lists reads (views followed) is state or was
 * written by a step before it: else it reads what an earlier call left
 * there, or nothing (a Dropout that is off before a Flatten once fed the
 * Flatten its own unwritten output). */
static void check_reads(const char *model, const xd_model_spec *spec, const xd_steps *const *lists, int n)
{
    static char written[XD_NREFS];
    const xd_step *bad = NULL;
    int input = 0;
    memset(written, 0, sizeof written);
    for (int k = 0; k < n && !bad; ++k)
        for (int i = 0; i < lists[k]->n && !bad; ++i) {
            const xd_step *s = &lists[k]->v[i];
            for (int j = 0; j < XD_STEP_INS && !bad; ++j) {
                const xd_ref r = storage(spec, s->in[j]);
                if (s->in[j] && !is_state(r) && !written[r]) bad = s, input = j;
            }
            for (int j = 0; j < XD_STEP_OUTS; ++j) written[storage(spec, s->out[j])] = 1;
        }
    xdt_check(&T, !bad, "%s: step %s reads its input %d before any step of the %s writes it", model,
              bad ? bad->name : "", input, n > 1 ? "training step" : "evaluation");
}

/* A training step (forward, backward, update) and an evaluation read
 * nothing unwritten. */
static void check_plan_reads(const char *model, const xd_model_spec *spec, const xd_plan *p)
{
    const xd_steps *step[3] = {&p->train, &p->backward, &p->update}, *eval[1] = {&p->eval};
    check_reads(model, spec, step, 3);
    check_reads(model, spec, eval, 1);
}

/* The plan for op hooks fuses nothing, and each fusion replaced two steps
 * of the unfused lists by one. */
static void check_against_hooked(const char *model, const xd_model_spec *spec, const xd_plan *hooked,
                                 const xd_plan *fused)
{
    char *none = text(hooked, spec, 1);
    xdt_check(&T, none && !none[0], "%s: the plan for op hooks fuses:\n%s", model, none ? none : "");
    free(none);
    const xd_steps *h[4] = {&hooked->train, &hooked->eval, &hooked->backward, &hooked->update};
    const xd_steps *f[4] = {&fused->train, &fused->eval, &fused->backward, &fused->update};
    for (int k = 0; k < 4; ++k)
        xdt_check(&T, h[k]->n - f[k]->n == fused_steps(f[k]), "%s: list %d: %d steps hooked, %d fused, %d fusions",
                  model, k, h[k]->n, f[k]->n, fused_steps(f[k]));
}

/* The spec's plans with and without op hooks; the fusions must be `want`. */
static void check_plans(const char *model, const xd_model_spec *spec, const char *want)
{
    const xd_optimizer_spec opt = xd_train_optimizer(spec);
    xd_plan *hooked = malloc(sizeof *hooked), *fused = malloc(sizeof *fused);
    xd_error err = {0};
    if (!hooked || !fused) {
        xdt_check(&T, 0, "out of memory");
    } else if (xdt_check(&T, xd_plan_build(spec, &opt, 1, hooked, &err) == XD_OK, "%s: %s", model, err.message) &&
               xdt_check(&T, xd_plan_build(spec, &opt, 0, fused, &err) == XD_OK, "%s: %s", model, err.message)) {
        char *got = text(fused, spec, 1);
        if (!xdt_check(&T, got && strcmp(got, want) == 0, "%s: the fusions differ from the table", model))
            printf("  got:\n%s  wanted:\n%s", got ? got : "", want);
        free(got);
        check_against_hooked(model, spec, hooked, fused);
        check_plan_reads(model, spec, hooked);
        check_plan_reads(model, spec, fused);
        names ns = {{0}, 0};
        xd_plan_each_op(hooked, collect, &ns);
        check_unique(model, &ns);
        if (strcmp(model, "seed-cnn") == 0) check_seed_cnn_ops(&ns);
        if (strcmp(model, "regularizer.json") == 0) check_regularizer_ops(&ns);
    }
    free(hooked);
    free(fused);
}

static void check_model(const row *r)
{
    xd_model_spec spec;
    if (load(r->model, &spec)) check_plans(r->model, &spec, r->fused);
}

/* Every valid fixture of the manifest has its row in the table. */
static void check_manifest(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", fixtures);
    json_error_t je;
    json_t *manifest = json_load_file(path, 0, &je);
    json_t *valid = json_object_get(manifest, "valid");
    xdt_check(&T, json_array_size(valid) > 0, "%s: no valid fixtures (%s)", path, je.text);
    for (size_t i = 0; i < json_array_size(valid); ++i) {
        const char *file = json_string_value(json_object_get(json_array_get(valid, i), "file"));
        int found = 0;
        for (size_t k = 0; file && k < sizeof table / sizeof table[0]; ++k) found |= strcmp(table[k].model, file) == 0;
        xdt_check(&T, found, "%s: fixture %s has no row in test_plan's table", path, file ? file : "(no file)");
    }
    json_decref(manifest);
}

/* seed-cnn with layer `l` inserted before layer `at`. */
static void insert_layer(xd_model_spec *s, int at, const xd_layer_spec *l)
{
    memmove(&s->layers[at + 1], &s->layers[at], (size_t)(s->nlayers - at) * sizeof *l);
    s->layers[at] = *l;
    s->nlayers++;
}

/* Where the rules stop: a Dropout between the conv and its ReLU (no
 * forward fusion, even in evaluation where the dropout passes its input
 * on; the ReLU's backward still fuses through Flatten), a Dense with an
 * activation of its own (no backward fusion). */
static void check_edges(void)
{
    xd_model_spec s;
    if (!load("seed-cnn", &s)) return;
    xd_layer_spec drop = {.type = XD_LAYER_DROPOUT, .name = "drop", .rate = 0.25};
    insert_layer(&s, 1, &drop);
    check_plans("seed-cnn + dropout", &s,
                "backward dense_backward_data_relu dense1.backward_data+relu1.backward: dense1.dout dense1.weight "
                "relu1.out -> drop.dout\n"
                "backward conv2d_backward_weights_bias conv1.backward_weights+conv1.backward_bias: input conv1.dout "
                "-> conv1.weight.grad conv1.bias.grad\n");
    if (!load("seed-cnn", &s)) return;
    s.layers[3].activation = XD_ACT_SOFTMAX;
    check_plans("seed-cnn, softmax dense", &s,
                "train conv2d_relu conv1.forward+relu1.forward: input conv1.weight conv1.bias -> relu1.out\n"
                "eval conv2d_relu conv1.forward+relu1.forward: input conv1.weight conv1.bias -> relu1.out\n"
                "backward conv2d_backward_weights_bias conv1.backward_weights+conv1.backward_bias: input conv1.dout "
                "-> conv1.weight.grad conv1.bias.grad\n");
}

/* seed-cnn with a Dropout at `rate` before its Flatten (and a linear
 * Activation between them when `linear`). */
static int dropout_before_view(xd_model_spec *s, double rate, int linear)
{
    if (!load("seed-cnn", s)) return 0;
    const xd_layer_spec drop = {.type = XD_LAYER_DROPOUT, .name = "drop", .rate = rate};
    const xd_layer_spec lin = {.type = XD_LAYER_ACTIVATION, .name = "lin", .activation = XD_ACT_LINEAR};
    if (linear) insert_layer(s, 2, &lin);
    insert_layer(s, 2, &drop);
    return 1;
}

/* The same steps: kinds, references, names and hooked ops. */
static int same_steps(const xd_steps *a, const xd_steps *b)
{
    int same = a->n == b->n;
    for (int i = 0; same && i < a->n; ++i) {
        const xd_step *x = &a->v[i], *y = &b->v[i];
        same = x->kind == y->kind && x->layer == y->layer && memcmp(x->in, y->in, sizeof x->in) == 0 &&
               memcmp(x->out, y->out, sizeof x->out) == 0 && strcmp(x->name, y->name) == 0 && x->nops == y->nops;
    }
    return same;
}

/* A Dropout before a view of its output, on and off (rate 0): nothing is
 * read unwritten, hooked or fused, and an evaluation runs the same steps
 * whatever the rate. */
static void check_dropout_views(void)
{
    static const double rates[2] = {0.5, 0.0};
    xd_plan *p = malloc(2 * sizeof *p);
    for (int linear = 0; p && linear < 2; ++linear)
        for (int hooked = 0; hooked < 2; ++hooked) {
            for (int r = 0; r < 2; ++r) {
                xd_model_spec s;
                char model[96];
                xd_error err = {0};
                snprintf(model, sizeof model, "seed-cnn, dropout %g before a %sflatten%s", rates[r],
                         linear ? "linear activation and a " : "", hooked ? " (hooked)" : "");
                memset(&p[r], 0, sizeof p[r]);
                if (!dropout_before_view(&s, rates[r], linear)) continue;
                const xd_optimizer_spec opt = xd_train_optimizer(&s);
                if (xdt_check(&T, xd_plan_build(&s, &opt, hooked, &p[r], &err) == XD_OK, "%s: %s", model, err.message))
                    check_plan_reads(model, &s, &p[r]);
            }
            xdt_check(&T, p[0].eval.n > 0 && same_steps(&p[0].eval, &p[1].eval),
                      "seed-cnn, dropout before a view: the evaluation's steps depend on the rate");
        }
    free(p);
}

/* The steps of model's hooked plan whose line contains `key`, against want. */
static void check_lines(const char *model, const char *key, const char *want)
{
    xd_model_spec s;
    if (!load(model, &s)) return;
    const xd_optimizer_spec opt = xd_train_optimizer(&s);
    xd_plan *p = malloc(sizeof *p);
    xd_error err = {0};
    if (!p || !xdt_check(&T, xd_plan_build(&s, &opt, 1, p, &err) == XD_OK, "%s: %s", model, err.message)) {
        free(p);
        return;
    }
    char *all = text(p, &s, 0), got[2048] = "";
    size_t len = 0;
    for (char *line = all ? strtok(all, "\n") : NULL; line; line = strtok(NULL, "\n"))
        if (strstr(line, key) && len < sizeof got) len += (size_t)snprintf(got + len, sizeof got - len, "%s\n", line);
    if (!xdt_check(&T, strcmp(got, want) == 0, "%s: the steps with '%s'", model, key))
        printf("  got:\n%s  wanted:\n%s", got, want);
    free(all);
    free(p);
}

/* A gradient that fans out is summed in the order the backward pass
 * reaches its readers, the last layer first: in residual.keras the first
 * conv's output feeds the block (conv2d_1), the Add and the 1x1
 * projection (conv2d_3); the projection writes its gradient, the Add's
 * and the block's are added to it, each an op of its own. */
static void check_fan_out(void)
{
    check_lines("residual.keras", "-> conv2d.dout",
                "backward conv2d_backward_data conv2d_3.backward_data: conv2d_3.dout conv2d_3.weight -> conv2d.dout\n"
                "backward add add.backward_0: conv2d.dout add.dout -> conv2d.dout\n"
                "backward add conv2d_1.backward_accumulate: conv2d.dout conv2d_1.din -> conv2d.dout\n");
}

/* The activations other than ReLU and softmax are one op kind with the
 * activation's parameter; their backward reads the forward's input, its
 * output and the gradient (a conv's own: pre, out, dout); global max
 * pooling's backward reads its input; zero padding a copy each way. */
static void check_activation_steps(void)
{
    check_lines(
        "activations.keras", "activation_backward",
        "backward activation_backward dense_1.backward_activation: dense_1.pre dense_1.out dense_1.dout -> "
        "dense_1.dpre\n"
        "backward activation_backward activation_2.backward: activation_1.out activation_2.out activation_2.dout -> "
        "activation_1.dout\n"
        "backward activation_backward activation_1.backward: dense.out activation_1.out activation_1.dout -> "
        "dense.dout\n"
        "backward activation_backward dense.backward_activation: dense.pre dense.out dense.dout -> dense.dpre\n"
        "backward activation_backward conv2d_5.backward_activation: conv2d_5.pre conv2d_5.out conv2d_5.dout -> "
        "conv2d_5.dpre\n"
        "backward activation_backward activation.backward: conv2d_4.out activation.out activation.dout -> "
        "conv2d_4.dout\n"
        "backward activation_backward conv2d_4.backward_activation: conv2d_4.pre conv2d_4.out conv2d_4.dout -> "
        "conv2d_4.dpre\n"
        "backward activation_backward elu.backward: add.out elu.out elu.dout -> add.dout\n"
        "backward activation_backward conv2d_3.backward_activation: conv2d_3.pre conv2d_3.out conv2d_3.dout -> "
        "conv2d_3.dpre\n"
        "backward activation_backward leaky_re_lu.backward: conv2d_2.out leaky_re_lu.out leaky_re_lu.dout -> "
        "conv2d_2.dout\n"
        "backward activation_backward conv2d_1.backward_activation: conv2d_1.pre conv2d_1.out conv2d_1.dout -> "
        "conv2d_1.dpre\n"
        "backward activation_backward conv2d.backward_activation: conv2d.pre conv2d.out conv2d.dout -> conv2d.dpre\n");
    check_lines("activations.keras", "pooling2d.backward:",
                "backward global_avgpool2d_backward global_average_pooling2d.backward: global_average_pooling2d.dout "
                "-> conv2d_5.dout\n"
                "backward global_maxpool2d_backward global_max_pooling2d.backward: conv2d_5.out "
                "global_max_pooling2d.dout -> global_max_pooling2d.din\n");
}

/* A layer's padding is computed from what it reads, not from the layer
 * before it: conv b reads the 8x8 input after conv a made 7x7, conv c
 * reads a; both "same" with stride 2 (Keras pads 8 as 0 + 1, 7 as 1 + 1). */
static void check_input_shapes(void)
{
    xd_model_spec s = {.name = "graph", .in_h = 8, .in_w = 8, .in_c = 1, .nlayers = 6};
    const xd_layer_type types[6] = {XD_LAYER_CONV2D, XD_LAYER_CONV2D,           XD_LAYER_CONV2D,
                                    XD_LAYER_ADD,    XD_LAYER_GLOBAL_AVGPOOL2D, XD_LAYER_DENSE};
    for (int i = 0; i < 6; ++i) {
        xd_layer_spec *l = &s.layers[i];
        l->type = types[i];
        snprintf(l->name, sizeof l->name, "%c", 'a' + i);
        l->filters = 2, l->units = 3, l->kh = l->kw = i == 0 ? 2 : 3, l->sh = l->sw = i == 0 ? 1 : 2;
        l->padding = i == 0 ? XD_PADDING_VALID : XD_PADDING_SAME;
    }
    s.layers[1].ninputs = 1, s.layers[1].inputs[0] = -1;
    s.layers[2].ninputs = 1, s.layers[2].inputs[0] = 0;
    s.layers[3].ninputs = 2, s.layers[3].inputs[0] = 1, s.layers[3].inputs[1] = 2;
    const xd_optimizer_spec opt = xd_optimizer_defaults(XD_OPT_SGD_KERAS);
    xd_plan *p = malloc(sizeof *p);
    xd_error err = {0};
    if (!p || !xdt_check(&T, xd_plan_build(&s, &opt, 1, p, &err) == XD_OK, "a graph of convs: %s", err.message)) {
        free(p);
        return;
    }
    const xd_conv2d_params *b = &p->train.v[1].p.conv, *c = &p->train.v[2].p.conv;
    xdt_check(&T,
              p->train.v[1].layer == 1 && b->pad_top == 0 && b->pad_bottom == 1 && p->train.v[2].layer == 2 &&
                  c->pad_top == 1 && c->pad_bottom == 1,
              "a conv's padding from its own input: b %d + %d (want 0 + 1), c %d + %d (want 1 + 1)", b->pad_top,
              b->pad_bottom, c->pad_top, c->pad_bottom);
    free(p);
}

/* An update op hashes the parameter and the optimizer's state: Adam m and
 * v, SGD with momentum m, plain SGD nothing more. */
static void check_update_outputs(void)
{
    xd_model_spec s;
    if (!load("seed-cnn", &s)) return;
    static const struct {
        double momentum;
        xd_optimizer_kind kind;
        int outputs;
    } cases[] = {
        {0, XD_OPT_ADAM_PYTORCH, 3}, {0, XD_OPT_ADAM_KERAS, 3}, {0.9, XD_OPT_SGD_KERAS, 2}, {0, XD_OPT_SGD_PYTORCH, 1}};
    xd_plan *p = malloc(sizeof *p);
    for (size_t i = 0; p && i < sizeof cases / sizeof cases[0]; ++i) {
        xd_optimizer_spec o = xd_optimizer_defaults(cases[i].kind);
        o.momentum = cases[i].momentum;
        xd_error err = {0};
        xd_status st = xd_plan_build(&s, &o, 1, p, &err);
        int ok = st == XD_OK && p->update.n == 4;
        for (int k = 0; ok && k < p->update.n; ++k) ok = p->update.v[k].ops[0].count == cases[i].outputs;
        xdt_check(&T, ok, "%s momentum %g: update ops do not hash %d outputs each (%s)",
                  xd_optimizer_kind_name(cases[i].kind), cases[i].momentum, cases[i].outputs, err.message);
    }
    free(p);
}

/* A model as deep as crossdev takes (XD_MAX_LAYERS: a ResNet-20 has 70
 * layers): conv-BN-ReLU triples, global pooling and a Dense; its plan
 * builds fused and hooked, its spec survives JSON, and one layer more is
 * refused. */
static void check_deep(void)
{
    xd_model_spec *s = calloc(1, sizeof *s), *back = calloc(1, sizeof *back);
    xd_plan *p = malloc(sizeof *p);
    if (!s || !back || !p) {
        xdt_check(&T, 0, "out of memory");
        goto done;
    }
    snprintf(s->name, sizeof s->name, "deep");
    s->in_h = s->in_w = 8, s->in_c = 1, s->classes = 10, s->nlayers = XD_MAX_LAYERS;
    for (int i = 0; i < XD_MAX_LAYERS; ++i) {
        xd_layer_spec *l = &s->layers[i];
        int last = i == XD_MAX_LAYERS - 1, pool = i == XD_MAX_LAYERS - 2;
        l->type = last   ? XD_LAYER_DENSE
                  : pool ? XD_LAYER_GLOBAL_AVGPOOL2D
                         : (xd_layer_type[]){XD_LAYER_CONV2D, XD_LAYER_BATCHNORM, XD_LAYER_ACTIVATION}[i % 3];
        snprintf(l->name, sizeof l->name, "layer%d", i);
        l->filters = 4, l->kh = l->kw = 3, l->sh = l->sw = 1, l->padding = XD_PADDING_SAME, l->use_bias = 1;
        l->units = 10, l->activation = last ? XD_ACT_SOFTMAX : l->type == XD_LAYER_ACTIVATION ? XD_ACT_RELU : 0;
        l->momentum = 0.99, l->epsilon = 1e-3, l->center = l->scale = 1;
    }
    const xd_optimizer_spec opt = xd_optimizer_defaults(XD_OPT_ADAM_KERAS);
    xd_error err = {0};
    for (int hooked = 0; hooked < 2; ++hooked)
        xdt_check(&T, xd_plan_build(s, &opt, hooked, p, &err) == XD_OK && p->update.n == 42 * 4 + 2,
                  "%d layers (hooked %d): %s (%d updates, want 170)", XD_MAX_LAYERS, hooked, err.message, p->update.n);
    char *text = xd_model_spec_json(s);
    xdt_check(&T, text && xd_model_spec_from_json(text, back, &err) == XD_OK && back->nlayers == XD_MAX_LAYERS,
              "%d layers: the spec does not come back from its JSON: %s", XD_MAX_LAYERS, err.message);
    s->nlayers = XD_MAX_LAYERS + 1;
    xdt_check(&T, xd_plan_build(s, &opt, 1, p, &err) != XD_OK, "%d layers were taken", XD_MAX_LAYERS + 1);
    xd_free(text);
done:
    free(s), free(back), free(p);
}

int main(int argc, char **argv)
{
    if (argc < 2) return fprintf(stderr, "usage: test_plan KERAS-FIXTURES-DIR\n"), 2;
    fixtures = argv[1];
    for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i) check_model(&table[i]);
    check_manifest();
    check_edges();
    check_dropout_views();
    check_fan_out();
    check_activation_steps();
    check_input_shapes();
    check_update_outputs();
    check_deep();
    return xdt_finish(&T);
}
