/* crossdev — models as data (docs/models.md).
 *
 * A model is a table of layer specs with Keras semantics (channels_last in
 * Keras files; crossdev computes in NCHW and stores parameters in its own
 * layout, see below), read by one builder.  Built-in models (seed-cnn,
 * mnist-convnet, resnet) are specs too; a Keras 3 `.keras` archive or a
 * `model.to_json()` file gives one (host/spec/keras.c), optionally with
 * initial weights from its `model.weights.h5` or a separate
 * `.weights.h5`.  The spec is recorded in every trace as `model_spec`.
 *
 * Parameter names and layouts (the contract): `<layer name>.weight`,
 * `.bias`; BatchNormalization `.gamma`, `.beta`, `.moving_mean`,
 * `.moving_variance`; optimizer state `.m`, `.v` (SGD momentum `.m`).  Conv
 * weights OIHW (Keras: HWIO); dense weights [out, in] (Keras: [in, out])
 * with a Flatten's inputs in (C, H, W) order (Keras flattens (H, W, C));
 * per-feature vectors after a Flatten (BatchNormalization) in (C, H, W)
 * order as well. */
#ifndef CROSSDEV_MODEL_H
#define CROSSDEV_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "crossdev/error.h"
#include "crossdev/export.h"
#include "crossdev/status.h"
#include "crossdev/types.h" /* xd_xent_form */

#ifdef __cplusplus
extern "C" {
#endif

#define XD_MAX_LAYERS 128
#define XD_LAYER_NAME_LEN 64
#define XD_MAX_INPUTS 8 /* inputs of one layer (Add, Concatenate) */

typedef enum xd_layer_type {
    XD_LAYER_CONV2D,
    XD_LAYER_MAXPOOL2D,
    XD_LAYER_AVGPOOL2D,
    XD_LAYER_FLATTEN,
    XD_LAYER_DENSE,
    XD_LAYER_DROPOUT,
    XD_LAYER_ACTIVATION, /* ReLU, Activation("relu"|"softmax"|"linear") */
    XD_LAYER_BATCHNORM,
    XD_LAYER_ADD,         /* functional models: two or more inputs of one shape */
    XD_LAYER_CONCATENATE, /* on the channels (Keras axis -1), two or more inputs */
    XD_LAYER_GLOBAL_AVGPOOL2D,
    XD_LAYER_GLOBAL_MAXPOOL2D,
    XD_LAYER_ZEROPADDING2D /* pad[4]: top, bottom, left, right */
} xd_layer_type;

/* Keras's names: "linear", "relu", "softmax", "sigmoid", "tanh",
 * "leaky_relu" (alpha: negative_slope), "elu" (alpha), "relu6", "silu",
 * "gelu". */
typedef enum xd_activation {
    XD_ACT_LINEAR,
    XD_ACT_RELU,
    XD_ACT_SOFTMAX,
    XD_ACT_SIGMOID,
    XD_ACT_TANH,
    XD_ACT_LEAKY_RELU,
    XD_ACT_ELU,
    XD_ACT_RELU6,
    XD_ACT_SILU,
    XD_ACT_GELU /* approximate=False (Keras's default): the erfc form */
} xd_activation;
/* XD_PADDING_EXPLICIT: the layer's pad_top/bottom/left/right (PyTorch's
 * padding=int|pair; the output side floor((in + lo + hi - k) / s) + 1). */
typedef enum xd_padding { XD_PADDING_VALID, XD_PADDING_SAME, XD_PADDING_EXPLICIT } xd_padding;
/* BatchNormalization's form: Keras's (moving = moving m + batch (1 - m),
 * the biased variance; parameters .gamma .beta .moving_mean
 * .moving_variance) or PyTorch's BatchNorm2d (running = running (1 - m) +
 * batch m, the running variance from the unbiased batch variance;
 * parameters .weight .bias .running_mean .running_var).  Normalisation
 * uses the biased variance in both. */
typedef enum xd_bn_form { XD_BN_KERAS, XD_BN_PYTORCH } xd_bn_form;

/* Initializers for parameters a file does not give: crossdev's Philox
 * streams with Keras's distributions and fans (documented as crossdev's
 * draws, not Keras's RNG). */
typedef enum xd_init_kind {
    XD_INIT_GLOROT_UNIFORM,
    XD_INIT_GLOROT_NORMAL,
    XD_INIT_HE_UNIFORM,
    XD_INIT_HE_NORMAL,
    XD_INIT_ZEROS,
    XD_INIT_ONES,
    XD_INIT_RANDOM_UNIFORM, /* a = minval, b = maxval */
    XD_INIT_RANDOM_NORMAL   /* a = mean, b = stddev */
} xd_init_kind;

typedef struct xd_init_spec {
    xd_init_kind kind;
    double a, b;
} xd_init_spec;

typedef struct xd_layer_spec {
    xd_layer_type type;
    char name[XD_LAYER_NAME_LEN]; /* the Keras layer name; parameter names derive from it */
    /* Conv2D: filters, kernel (kh, kw), strides, padding; Dense: units.
     * Both: activation, use_bias, kernel/bias initializers. */
    int filters, units;
    int kh, kw, sh, sw; /* also the pool size and strides of the pooling layers */
    xd_padding padding;
    xd_activation activation;
    int use_bias;
    xd_init_spec kernel_init, bias_init;
    double rate; /* Dropout */
    /* BatchNormalization (axis -1 of channels_last = crossdev's C) */
    double momentum, epsilon;
    int center, scale;
    xd_init_spec gamma_init, beta_init, moving_mean_init, moving_variance_init;
    /* What the layer reads (a Keras functional model's graph): ninputs 0 is
     * the chain, the layer before it (the model's input for the first);
     * else inputs[0 .. ninputs) are earlier layers' indices, -1 the model's
     * input.  A layer that reads just the layer before it always has
     * ninputs 0, so that a chain has one spec however it was built. */
    int ninputs;
    int inputs[XD_MAX_INPUTS];
    /* padding XD_PADDING_EXPLICIT (Conv2D, the poolings): each 0 .. k-1 */
    int pad_top, pad_bottom, pad_left, pad_right;
    xd_bn_form bn_form; /* BatchNormalization */
    /* Conv2D, Dense: Keras's L2 regularizers' factors (0: none); the loss
     * gains l2 * sum(w^2) per regularized parameter, its gradient 2 l2 w
     * (docs/models.md). */
    double kernel_l2, bias_l2;
    /* The activation's parameter: leaky_relu's negative_slope (Keras's
     * activation 0.2, its LeakyReLU layer 0.3), elu's alpha (1.0); 0 for
     * the others. */
    double alpha;
    int pad[4]; /* ZeroPadding2D: top, bottom, left, right */
} xd_layer_spec;

/* The loss: sparse categorical cross-entropy, Keras's two forms. */
typedef struct xd_loss_spec {
    int from_logits;
    xd_xent_form form; /* from_logits false: JAX's formula (default) or TensorFlow's (--keras-backend) */
} xd_loss_spec;

/* Optimizer forms: crossdev's Adam has always been PyTorch's; Keras's Adam
 * differs (alpha = lr sqrt(1-b2^t)/(1-b1^t), m += (g-m)(1-b1), ...). */
typedef enum xd_optimizer_kind {
    XD_OPT_ADAM_PYTORCH,
    XD_OPT_ADAM_KERAS,
    XD_OPT_SGD_PYTORCH,
    XD_OPT_SGD_KERAS
} xd_optimizer_kind;

/* Keras's learning-rate schedules (keras.optimizers.schedules), evaluated
 * at the optimizer's iteration count before the step (0 at step 1), in
 * float32 as Keras does (xd_lr_at, include/crossdev/train.h).  CONSTANT
 * (zero): the optimizer's lr. */
typedef enum xd_lr_schedule_kind {
    XD_LR_CONSTANT,
    XD_LR_EXPONENTIAL_DECAY, /* initial * rate^(t / steps), floor of t / steps with staircase */
    XD_LR_PIECEWISE_CONSTANT,
    XD_LR_COSINE_DECAY /* with a linear warmup when has_warmup */
} xd_lr_schedule_kind;
#define XD_LR_MAX_BOUNDARIES 16
typedef struct xd_lr_schedule {
    xd_lr_schedule_kind kind;
    double initial, decay_steps, decay_rate; /* Exponential, Cosine (initial_learning_rate, decay_steps) */
    int staircase;                           /* Exponential */
    double alpha;                            /* Cosine */
    int has_warmup;                          /* Cosine: warmup_target given */
    double warmup_target, warmup_steps;      /* Cosine */
    int nboundaries;                         /* Piecewise: values has nboundaries + 1 */
    double boundaries[XD_LR_MAX_BOUNDARIES], values[XD_LR_MAX_BOUNDARIES + 1];
} xd_lr_schedule;

typedef struct xd_optimizer_spec {
    xd_optimizer_kind kind;
    double lr, beta1, beta2, eps; /* Adam */
    double momentum;              /* SGD */
    int nesterov;                 /* SGD */
    xd_lr_schedule schedule;      /* kind CONSTANT: lr throughout; else lr is the schedule's value at step 1 */
} xd_optimizer_spec;

typedef struct xd_model_spec {
    char name[XD_LAYER_NAME_LEN]; /* "seed-cnn", "mnist-convnet", or the Keras model's name */
    char source[1024];            /* "built-in", or the file it came from */
    int64_t in_h, in_w, in_c;     /* input shape, channels_last as in Keras (H, W, C) */
    int64_t classes;              /* the last layer's outputs */
    int nlayers;
    xd_layer_spec layers[XD_MAX_LAYERS];
    xd_loss_spec loss;
    int has_optimizer; /* 1: the file's compile_config named one */
    xd_optimizer_spec optimizer;
} xd_model_spec;

/* The activation shape after each layer, in crossdev's NCHW terms (c, h,
 * w; features after a Flatten or Dense are c = features, h = w = 1).
 * Features that come from a Flatten keep the (C, H, W) they were
 * flattened from in fc, fh, fw (0 otherwise): Keras numbers them
 * (h * W + w) * C + c, crossdev (c * H + h) * W + w. */
typedef struct xd_layer_shape {
    int64_t c, h, w;
    int64_t fc, fh, fw;
} xd_layer_shape;
/* out[0] is the input, out[i + 1] the output of layer i (nlayers + 1
 * entries).  XD_SHAPE_MISMATCH naming the layer when a shape would be
 * empty or a layer cannot take its input (a Conv2D after a Flatten);
 * XD_INVALID_ARGUMENT when a layer reads a later layer or the wrong number
 * of inputs, or when a layer but the last has an output nobody reads. */
XD_API xd_status xd_model_spec_shapes(const xd_model_spec *spec, xd_layer_shape *out, xd_error *err);

/* Layer i's inputs: how many (1 for a layer of the chain), and the k-th:
 * a layer index, or -1 for the model's input. */
XD_API int xd_layer_input_count(const xd_model_spec *spec, int i);
XD_API int xd_layer_input(const xd_model_spec *spec, int i, int k);

/* Initial weights in crossdev's names and layout (a file's, permuted). */
typedef struct xd_weight {
    char name[XD_LAYER_NAME_LEN + 24]; /* "conv2d.weight", "batch_normalization.moving_mean" */
    int ndim;
    int64_t shape[4];
    size_t count;
    float *data;
} xd_weight;
typedef struct xd_weights {
    size_t n;
    xd_weight *items;
} xd_weights;
XD_API void xd_weights_free(xd_weights *w);

/* A built-in model by name ("seed-cnn", "mnist-convnet", "resnet"); XD_INVALID_ARGUMENT
 * naming the known ones. */
XD_API xd_status xd_model_spec_builtin(const char *name, xd_model_spec *out, xd_error *err);
/* A Keras 3 `.keras` archive (config.json + model.weights.h5) or a
 * `model.to_json()` file (no weights); weights (may be NULL) gets the
 * archive's, in crossdev's layout.  Anything crossdev does not support (a
 * layer class, an option, a dtype policy other than float32) is refused
 * naming the layer, the option and what is supported. */
XD_API xd_status xd_model_spec_load(const char *path, xd_model_spec *out, xd_weights *weights, xd_error *err);
/* A `.weights.h5` file for the spec (names and shapes checked). */
XD_API xd_status xd_weights_load_h5(const char *path, const xd_model_spec *spec, xd_weights *out, xd_error *err);
/* Writes weights (crossdev's layout) as a Keras `.weights.h5` that
 * `model.load_weights(path)` loads for the same model. */
XD_API xd_status xd_weights_save_h5(const char *path, const xd_model_spec *spec, const xd_weights *w, xd_error *err);
/* The spec as JSON text (the trace's `model_spec`), caller frees with
 * xd_free; and back. */
XD_API char *xd_model_spec_json(const xd_model_spec *spec);
XD_API xd_status xd_model_spec_from_json(const char *text, xd_model_spec *out, xd_error *err);

XD_API const char *xd_layer_type_name(xd_layer_type t);         /* "Conv2D", ... (Keras class names) */
XD_API const char *xd_optimizer_kind_name(xd_optimizer_kind k); /* "adam-pytorch", "adam-keras", ... */
/* The kind a name gives (as xd_optimizer_kind_name writes it); XD_INVALID_ARGUMENT otherwise. */
XD_API xd_status xd_optimizer_kind_parse(const char *name, xd_optimizer_kind *out);
/* A kind's defaults: Adam lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-7 (Keras's
 * default eps, and crossdev's since the seed; PyTorch's is 1e-8); SGD lr
 * 0.01, momentum 0, no Nesterov. */
XD_API xd_optimizer_spec xd_optimizer_defaults(xd_optimizer_kind kind);
/* A schedule's Keras class name ("ExponentialDecay", ...; "constant"). */
XD_API const char *xd_lr_schedule_name(xd_lr_schedule_kind k);

/* The first setting in which two runs differ: its trace field
 * ("optimizer.lr") and each side's value as the trace writes it. */
typedef struct xd_setting_difference {
    char field[32];
    char a[64], b[64];
} xd_setting_difference;
/* 1 when two optimizers differ in kind or in a hyper-parameter the kind
 * has (Adam: lr, beta1, beta2, eps; SGD: lr, momentum, nesterov) or in
 * the learning-rate schedule ("optimizer.schedule..."), the
 * first such filled into d (may be NULL); 0 when they train alike. */
XD_API int xd_optimizer_differs(const xd_optimizer_spec *a, const xd_optimizer_spec *b, xd_setting_difference *d);
/* 1 when two specs describe different models (layers, options, loss,
 * optimizer), the file each came from aside. */
XD_API int xd_model_spec_differs(const xd_model_spec *a, const xd_model_spec *b);

#ifdef __cplusplus
}
#endif
#endif
