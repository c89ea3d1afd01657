/* The model at run time: the spec's layers with their tensors, the plan
 * (fusions and op names, decided before the first step), the loss and the
 * optimizer (internal; the spec is include/crossdev/model.h). */
#ifndef XD_HOST_NET_H
#define XD_HOST_NET_H

#include "core/core.h"
#include "crossdev/hostmath.h"
#include "crossdev/model.h"
#include "crossdev/ops.h"
#include "train/plan.h"

#define XD_MAX_PARAMS (4 * XD_MAX_LAYERS)
#define XD_PARAM_NAME_LEN (XD_LAYER_NAME_LEN + 24)

/* Dropout masks: Philox keyed by the seed; the stream names the layer and
 * the step ("DROP" << 32 | layer << 24 | step, the step modulo 2^24), so
 * every device draws the same mask and evaluation draws none (here, not in
 * net_run.c, so that tests/test_contracts.c checks the golden masks of
 * tests/fixtures/contracts against it). */
#define XD_DROPOUT_STREAM(layer, step) \
    (UINT64_C(0x44524F5000000000) | ((uint64_t)(layer) << 24) | ((uint64_t)(step)&0xffffffu))

/* A parameter or a non-trainable state tensor (BatchNormalization's moving
 * statistics: no gradient, no optimizer state). */
typedef struct xd_param {
    char name[XD_PARAM_NAME_LEN]; /* "conv1.weight", "batch_normalization.moving_mean" */
    xd_tensor *w, *g;             /* g NULL when not trainable */
    xd_tensor *m, *v;             /* optimizer state, NULL where the optimizer keeps none */
    xd_init_spec init;
    int64_t fan_in, fan_out;
    uint64_t stream; /* Philox stream of its initialisation: parameter index + 1 */
} xd_param;

typedef struct xd_layer {
    const xd_layer_spec *spec; /* into xd_model.spec */
    int index;
    xd_layer_shape in_shape, out_shape;
    xd_param *weight, *bias;            /* Conv2D, Dense; BatchNormalization: gamma, beta */
    xd_param *moving_mean, *moving_var; /* BatchNormalization */
    xd_tensor *pre, *dpre;              /* Conv2D/Dense with an activation: before it, and its gradient */
    xd_tensor *out, *dout;              /* output and its gradient; views of the input's for Flatten and linear */
    xd_tensor *din; /* the gradient of its input before it is added to another's (where the plan says) */
    int owns_out;
    xd_tensor *bn_mean, *bn_var; /* BatchNormalization: the batch's statistics */
} xd_layer;

/* Called after each op when op hashing is on: (user, "dense1.forward",
 * what the op wrote, how many).  One output for every op but an update,
 * which writes the parameter and its optimizer state: `outs` then holds the
 * parameter, then m, then v (those the optimizer has), so that the op's
 * hash changes when any of them does. */
typedef void (*xd_op_hook)(void *user, const char *op, const xd_tensor *const *outs, int nout);

typedef struct xd_model {
    xd_context *ctx;
    xd_model_spec spec;
    char kind[XD_LAYER_NAME_LEN]; /* the spec's name: "seed-cnn", "mnist-convnet", a Keras model's */
    int64_t batch, channels, height, width, classes;
    int nlayers, nparams;
    xd_layer layers[XD_MAX_LAYERS];
    xd_param params[XD_MAX_PARAMS];
    xd_optimizer_spec opt;
    uint64_t seed; /* dropout masks are keyed by it, the layer and the step */
    xd_tensor *input, *labels, *loss, *row_loss;
    xd_plan plan;                 /* the steps, made once (host/train/plan.h) */
    xd_tensor *tensors[XD_NREFS]; /* what the plan's references name (NULL: none) */
    double lr_now;                /* the learning rate of the update being run (a schedule's value) */
} xd_model;

/* Builds the spec's model for a batch size: every tensor allocated once, up
 * front, and the plan made (hooks: op hashing is on, so nothing is fused
 * and every op's output exists to be hashed). */
xd_status xd_model_create(xd_context *ctx, const xd_model_spec *spec, const xd_optimizer_spec *opt, int64_t batch,
                          int hooks, xd_model **out);
void xd_model_destroy(xd_model *m);
/* Initial state: the given weights (a file's) where they name a tensor,
 * else the spec's initializers on crossdev's Philox streams (computed by
 * the host build of the reproducible math and uploaded); optimizer state
 * zero.  Every weight given must be used. */
xd_status xd_model_init(xd_model *m, uint64_t seed, const xd_weights *weights, xd_error *err);
/* input/labels must already hold the batch.  training: dropout on and
 * BatchNormalization on batch statistics (its moving statistics updated);
 * else dropout off and the moving statistics used.  step keys dropout. */
xd_status xd_model_forward(xd_model *m, int training, int64_t step, xd_op_hook hook, void *user);
xd_status xd_model_backward(xd_model *m, int64_t step, xd_op_hook hook, void *user);
xd_status xd_model_update(xd_model *m, int64_t t, xd_op_hook hook, void *user);
/* The sum of the L2 regularizers' penalties on the current weights, in the
 * training step's order (0 + p0) + p1 ..., computed on the device into the
 * loss tensor (which it overwrites) and read back; 0 without regularizers. */
xd_status xd_model_penalty(xd_model *m, float *out);
/* The training state in trace order: each parameter, then its optimizer
 * state (".m", ".v"); a non-trainable tensor alone.  xd_model_state(m, k,
 * name, cap) gives tensor k and writes its trace name. */
size_t xd_model_state_count(const xd_model *m);
xd_tensor *xd_model_state(const xd_model *m, size_t k, char *name, size_t cap);
/* The output of the last layer (logits or probabilities). */
const xd_tensor *xd_model_logits(const xd_model *m);
/* The weights alone (no optimizer state) from a host copy of the state. */
xd_status xd_model_weights_from_state(const xd_model *m, const float *state, xd_weights *out, xd_error *err);

#endif
