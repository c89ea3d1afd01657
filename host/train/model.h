/* The model: a list of layers with their tensors (internal). */
#ifndef XD_HOST_MODEL_H
#define XD_HOST_MODEL_H

#include "core/core.h"

#define XD_MAX_LAYERS 16
#define XD_MAX_PARAMS 32

typedef enum xd_layer_kind { XD_LAYER_CONV2D, XD_LAYER_RELU, XD_LAYER_FLATTEN, XD_LAYER_DENSE } xd_layer_kind;
typedef enum xd_init_kind { XD_INIT_GLOROT_UNIFORM, XD_INIT_ZEROS } xd_init_kind;

/* A trainable tensor with its gradient and Adam state. */
typedef struct xd_param {
    char name[64]; /* "conv1.weight" */
    xd_tensor *w, *g, *m, *v;
    xd_init_kind init;
    int64_t fan_in, fan_out;
    uint64_t stream; /* Philox stream of its initialisation */
} xd_param;

typedef struct xd_layer {
    xd_layer_kind kind;
    char name[32]; /* "conv1", "relu1", "flatten", "dense1" */
    xd_conv2d_params conv;
    xd_param *weight, *bias;
    xd_tensor *out, *dout; /* output and its gradient ([N, ...]) */
    int owns_out;          /* 0 for flatten: a view of the previous output */
} xd_layer;

/* Called after each op when op hashing is on: (user, "dense1.forward", output). */
typedef void (*xd_op_hook)(void *user, const char *op, const xd_tensor *out);

typedef struct xd_model {
    xd_context *ctx;
    char kind[32]; /* "seed-cnn" */
    int64_t batch, channels, height, width, classes;
    int nlayers, nparams;
    xd_layer layers[XD_MAX_LAYERS];
    xd_param params[XD_MAX_PARAMS];
    xd_tensor *input, *labels, *loss, *row_loss, *dlogits;
} xd_model;

/* Builds `kind` ("seed-cnn") for a batch size and image size; every tensor
 * allocated once, up front. */
xd_status xd_model_create(xd_context *ctx, const char *kind, int64_t batch, int64_t height, int64_t width,
                          int64_t classes, xd_model **out);
void xd_model_destroy(xd_model *m);
/* Seeded init of every parameter (Glorot-uniform kernels, zero biases), zero Adam state. */
xd_status xd_model_init(xd_model *m, uint64_t seed);
/* input/labels must already hold the batch. */
xd_status xd_model_forward(xd_model *m, xd_op_hook hook, void *user);
xd_status xd_model_backward(xd_model *m, xd_op_hook hook, void *user);
xd_status xd_model_update(xd_model *m, const xd_adam_params *p, int64_t t, xd_op_hook hook, void *user);
/* The training state in trace order: each parameter, then its Adam m and v.
 * xd_model_state(m, k, name, cap) gives tensor k (0 <= k < 3 * nparams)
 * and writes its trace name ("conv1.weight", "conv1.weight.m", ...). */
size_t xd_model_state_count(const xd_model *m);
xd_tensor *xd_model_state(const xd_model *m, size_t k, char *name, size_t cap);
/* The logits tensor (output of the last layer). */
const xd_tensor *xd_model_logits(const xd_model *m);

#endif
