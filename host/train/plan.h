/* The plan: what a training step and an evaluation run, as lists of steps
 * made once from the spec (ggml's build, then compute).  Each step is
 * {kind, inputs, outputs, params, name}: one op call, the tensors it reads
 * and writes named by reference (a layer's output, a parameter's
 * gradient), and the names under which the op hook sees its outputs.
 * Fusions are rewrites of the lists, applied in a fixed order; the
 * executor (host/train/net_run.c) walks a list, one op call per step, the
 * hook after each.  The plan is a function of the spec, the optimizer and
 * whether ops are hooked: no device is needed to make or read one. */
#ifndef XD_HOST_PLAN_H
#define XD_HOST_PLAN_H

#include <stddef.h>

#include "crossdev/error.h"
#include "crossdev/model.h"
#include "crossdev/ops.h"

/* A tensor a step reads or writes: none, the network's own, or a field of
 * layer i (XD_REF(i, field)).  A parameter's four fields follow each other:
 * the tensor, its gradient, then the optimizer's m and v. */
enum { XD_REF_NONE, XD_REF_INPUT, XD_REF_LABELS, XD_REF_LOSS, XD_REF_ROW_LOSS, XD_REF_LAYER0 };
typedef enum xd_field {
    XD_FIELD_OUT,
    XD_FIELD_DOUT,
    XD_FIELD_PRE, /* Conv2D/Dense with an activation: before it, and its gradient */
    XD_FIELD_DPRE,
    XD_FIELD_BN_MEAN, /* BatchNormalization: the batch's statistics */
    XD_FIELD_BN_VAR,
    XD_FIELD_WEIGHT,                     /* Conv2D/Dense weight, BatchNormalization gamma: +1 gradient, +2 m, +3 v */
    XD_FIELD_BIAS = XD_FIELD_WEIGHT + 4, /* bias, beta */
    XD_FIELD_MOVING_MEAN = XD_FIELD_BIAS + 4,
    XD_FIELD_MOVING_VAR,
    XD_FIELD_DIN, /* the gradient of its input before it is added to another layer's (a tensor read twice) */
    XD_NFIELDS
} xd_field;
#define XD_REF(layer, field) (XD_REF_LAYER0 + (layer)*XD_NFIELDS + (field))
#define XD_NREFS XD_REF(XD_MAX_LAYERS, 0)
typedef int xd_ref;

/* The kinds of step, one op each (those after XD_STEP_CONV_RELU are
 * fusions' results). */
/* clang-format off: one kind per line */
#define XD_STEP_KIND_LIST(X)                                            \
    X(CONV, "conv2d")                                                   \
    X(DENSE, "dense")                                                   \
    X(RELU, "relu")                                                     \
    X(SOFTMAX, "softmax")                                               \
    X(MAXPOOL, "maxpool2d")                                             \
    X(AVGPOOL, "avgpool2d")                                             \
    X(DROPOUT, "dropout")                                               \
    X(BN_TRAIN, "batchnorm_train")                                      \
    X(BN_MOVING, "batchnorm_moving")                                    \
    X(BN_INFERENCE, "batchnorm_inference")                              \
    X(XENT, "softmax_xent")                                             \
    X(XENT_PROBS, "sparse_xent_probs")                                  \
    X(RELU_BACKWARD, "relu_backward")                                   \
    X(SOFTMAX_BACKWARD, "softmax_backward")                             \
    X(CONV_BACKWARD_WEIGHTS, "conv2d_backward_weights")                 \
    X(CONV_BACKWARD_BIAS, "conv2d_backward_bias")                       \
    X(CONV_BACKWARD_DATA, "conv2d_backward_data")                       \
    X(DENSE_BACKWARD_WEIGHTS, "dense_backward_weights")                 \
    X(DENSE_BACKWARD_BIAS, "dense_backward_bias")                       \
    X(DENSE_BACKWARD_DATA, "dense_backward_data")                       \
    X(BN_BACKWARD, "batchnorm_backward")                                \
    X(MAXPOOL_BACKWARD, "maxpool2d_backward")                           \
    X(AVGPOOL_BACKWARD, "avgpool2d_backward")                           \
    X(DROPOUT_BACKWARD, "dropout_backward")                             \
    X(COPY, "copy")                                                     \
    X(ADD, "add")                                                       \
    X(CONCAT, "concatenate")                                            \
    X(CONCAT_BACKWARD, "concatenate_backward")                          \
    X(GLOBAL_AVGPOOL, "global_avgpool2d")                               \
    X(GLOBAL_AVGPOOL_BACKWARD, "global_avgpool2d_backward")             \
    X(ADAM, "adam")                                                     \
    X(ADAM_KERAS, "adam_keras")                                         \
    X(SGD, "sgd")                                                       \
    X(L2_PENALTY, "l2_penalty")                                         \
    X(L2_GRADIENT, "l2_gradient")                                       \
    X(ACTIVATION, "activation")                                         \
    X(ACTIVATION_BACKWARD, "activation_backward")                       \
    X(GLOBAL_MAXPOOL, "global_maxpool2d")                               \
    X(GLOBAL_MAXPOOL_BACKWARD, "global_maxpool2d_backward")             \
    X(ZEROPAD, "zeropad2d")                                             \
    X(ZEROPAD_BACKWARD, "zeropad2d_backward")                           \
    X(CONV_RELU, "conv2d_relu")                                         \
    X(CONV_BACKWARD_WEIGHTS_BIAS, "conv2d_backward_weights_bias")       \
    X(DENSE_BACKWARD_DATA_RELU, "dense_backward_data_relu")             \
    X(BN_TRAIN_RELU, "batchnorm_train_relu")                            \
    X(ADD_RELU, "add_relu")                                             \
    X(CONV_BACKWARD_DATA_ACCUMULATE, "conv2d_backward_data_accumulate") \
    X(BN_RUNNING, "batchnorm_running_pytorch")
/* clang-format on */
#define XD_STEP_ENUM(id, name) XD_STEP_##id,
typedef enum xd_step_kind { XD_STEP_KIND_LIST(XD_STEP_ENUM) XD_STEP_NKINDS } xd_step_kind;
#undef XD_STEP_ENUM
const char *xd_step_kind_name(xd_step_kind k);

/* What an op needs besides its tensors. */
typedef union xd_step_params {
    xd_conv2d_params conv;
    xd_pool2d_params pool;
    struct {
        double rate;
        int layer; /* keys the mask with the step */
    } dropout;
    struct {
        double epsilon, momentum;
    } bn;
    struct {
        int64_t offset; /* the input's first channel in the output */
        int accumulate; /* backward: added to the gradient there */
    } concat;
    xd_xent_form form;
    struct {
        xd_act_op op;
        double alpha;
    } act;
    xd_pad2d_params pad;
    xd_adam_params adam;
    xd_sgd_params sgd;
    double l2; /* Keras's L2 regularizer's factor */
} xd_step_params;

#define XD_OP_NAME_LEN (XD_LAYER_NAME_LEN + 56)
#define XD_STEP_INS 5
#define XD_STEP_OUTS 3

/* Outputs out[first .. first + count) as the op hook sees them, under
 * the op's name ("conv1.forward"; an update's parameter, m and v as one). */
typedef struct xd_step_op {
    char name[XD_OP_NAME_LEN];
    int first, count;
} xd_step_op;

typedef struct xd_step {
    xd_step_kind kind;
    int layer; /* the layer it computes for (an update: its parameter's); -1 the loss */
    xd_ref in[XD_STEP_INS], out[XD_STEP_OUTS];
    xd_step_params p;
    char name[2 * XD_OP_NAME_LEN]; /* "conv1.forward"; a fusion's "conv1.forward+relu1.forward" */
    /* the ops the hook sees after the step: one for most, two for the loss
     * (its value, its gradient), none for a fusion's or an unhooked op's */
    int nops;
    xd_step_op ops[2];
} xd_step;

#define XD_PLAN_MAX_STEPS ((XD_MAX_INPUTS + 2) * XD_MAX_LAYERS + 2)
typedef struct xd_steps {
    int n;
    xd_step v[XD_PLAN_MAX_STEPS];
} xd_steps;

/* A list holds at most XD_MAX_INPUTS steps a layer, plus, in a training
 * step's forward and in the backward pass, one step per L2-regularized
 * parameter (two a layer) after the loss and after the layers. */
typedef struct xd_plan {
    int hooked;           /* made for op hooks: nothing fused, every op's output hashed */
    xd_steps train, eval; /* a training step's forward and loss; an evaluation's */
    xd_steps backward;
    xd_steps update;
} xd_plan;

/* How many tensors of optimizer state a trainable parameter has: Adam m
 * and v, SGD with momentum m, plain SGD none. */
int xd_plan_optimizer_state(const xd_optimizer_spec *opt);
/* A parameter's name after its layer's ("weight", "gamma", "moving_mean",
 * ...): field XD_FIELD_WEIGHT, XD_FIELD_BIAS or a moving statistic. */
const char *xd_plan_param_what(const xd_layer_spec *s, xd_field f);

/* The spec's plan: the lists, then (unless hooked) the fusions.  Refuses an
 * optimizer it does not know. */
xd_status xd_plan_build(const xd_model_spec *spec, const xd_optimizer_spec *opt, int hooked, xd_plan *out,
                        xd_error *err);
/* Calls fn with the name of each op the hook sees in one training step, in
 * order (forward, backward, update): the trace's op names. */
void xd_plan_each_op(const xd_plan *p, void (*fn)(void *user, const char *op), void *user);
/* The plan as text, one step a line ("train conv2d_relu conv1.forward+...:
 * input conv1.weight conv1.bias -> relu1.out"); fused_only: the steps
 * fusions made.  Returns the length it needed (snprintf's way). */
size_t xd_plan_text(const xd_plan *p, const xd_model_spec *spec, int fused_only, char *buf, size_t cap);

#endif
