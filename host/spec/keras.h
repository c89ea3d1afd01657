/* Keras files inside the io stage (internal): the pieces of
 * xd_model_spec_load and the .weights.h5 functions, each on bytes in
 * memory so that the fuzz targets reach them without files.
 *
 *   spec.c          built-in models, shape inference, names, xd_weights_free
 *   spec_json.c     the spec as JSON (the trace's model_spec) and back
 *   keras.c         xd_model_spec_load: sniffing the file, the model and compile_config
 *   keras_graph.c   a functional model's graph: each layer's inputs
 *   keras_layers.c  one parser per Keras layer class
 *   keras_options.c the option checks they share with the compile_config parser
 *   lr_schedule.c   Keras's learning-rate schedules: from a config, as JSON, described
 *   keras_regularize.c Conv2D's and Dense's kernel/bias regularizers
 *   zip.c           zip archives (spec/archive.h: .keras here, .npz in io), refusing bombs and odd names
 *   weights.c       Keras's variables <-> crossdev's names and layouts (the permutations)
 *   h5.c            HDF5 reading and writing of those variables
 *
 * Refusals of a file's content are XD_FORMAT with "FILE: ..." messages;
 * shapes that do not fit are XD_SHAPE_MISMATCH. */
#ifndef XD_HOST_SPEC_KERAS_H
#define XD_HOST_SPEC_KERAS_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "crossdev/model.h"

/* Sizes crossdev accepts in a model: any larger is refused before
 * anything is allocated. */
#define XD_KERAS_MAX_DIM (1 << 20)               /* an image side, channels, filters, units */
#define XD_KERAS_MAX_KERNEL 1024                 /* a kernel or pool side, a stride */
#define XD_KERAS_MAX_COUNT (INT64_C(1) << 31)    /* elements in one activation or weight */
#define XD_KERAS_MAX_CONFIG (16u << 20)          /* config.json */
#define XD_KERAS_MAX_WEIGHTS (UINT64_C(2) << 30) /* model.weights.h5 or a .weights.h5 */

/* ---- spec.c ------------------------------------------------------------------------ */
/* Layer i reads in[0 .. n) (1 <= n <= XD_MAX_INPUTS; layer indices, -1 the
 * model's input), kept in the spec's one form: ninputs 0 when it reads the
 * layer before it alone. */
void xd_layer_set_inputs(xd_layer_spec *l, int i, const int *in, int n);

/* ---- keras.c / keras_layers.c: config.json or model.to_json() text ---------------- */
/* text (len bytes, not necessarily NUL-terminated) into *out; file names
 * the file in messages.  The spec's shapes are checked
 * (xd_model_spec_shapes) and its classes set. */
xd_status xd_keras_config_parse(const char *text, size_t len, const char *file, xd_model_spec *out, xd_error *err);

/* compile_config (absent, null or {}: Keras's defaults) into out's loss and optimizer. */
struct json_t;
/* A Functional model's config.layers, input_layers and output_layers into
 * out's layers (with their inputs) and the input's shape. */
xd_status xd_keras_graph_parse(const char *file, struct json_t *cfg, xd_model_spec *out, int64_t dims[4], int *rank,
                               xd_error *err);
xd_status xd_keras_compile_parse(const char *file, struct json_t *cc, xd_model_spec *out, xd_error *err);

/* The per-layer parser's view of the file: its name for messages, and the
 * rank of the tensor reaching the layer (flat: features, else an image),
 * which BatchNormalization's axis is checked against. */
typedef struct xd_keras_layer_ctx {
    const char *file;
    int flat;
} xd_keras_layer_ctx;
/* One entry of config.layers (not InputLayer) into *out. */
struct json_t;
xd_status xd_keras_layer_parse(xd_keras_layer_ctx *c, struct json_t *layer, xd_layer_spec *out, xd_error *err);

/* ---- keras_options.c: checking the options of a config object ------------------------ */
typedef struct xd_kopts {
    const char *file;
    char where[192]; /* "layer 'conv2d_1' (Conv2D)", "compile_config: optimizer Adam" */
    struct json_t *cfg;
    xd_error *err;
} xd_kopts;
/* XD_FORMAT with "FILE: WHERE: message". */
xd_status xd_kopt_refuse(const xd_kopts *o, const char *fmt, ...) XD_PRINTF(2, 3);
/* "FILE: WHERE: KEY VALUE is not supported (WHAT)". */
xd_status xd_kopt_unsupported(const xd_kopts *o, const char *key, const char *what);
/* An integer or a pair of integers in [lo, hi] (Keras turns an integer into
 * a pair); absent: def, or refused when def < 0. */
xd_status xd_kopt_int_pair(const xd_kopts *o, const char *key, int def, int lo, int hi, int out[2]);
xd_status xd_kopt_int(const xd_kopts *o, const char *key, int lo, int hi, int *out); /* required */
xd_status xd_kopt_bool(const xd_kopts *o, const char *key, int def, int *out);
/* A number in [lo, hi), or [lo, hi] with hi_closed; absent: def. */
xd_status xd_kopt_number(const xd_kopts *o, const char *key, double def, double lo, double hi, int hi_closed,
                         double *out);
/* Options supported only in their off state: each key absent or null;
 * absent or false; absent or the number want; absent, 1 or all ones. */
xd_status xd_kopt_null(const xd_kopts *o, const char *const *keys);
xd_status xd_kopt_false(const xd_kopts *o, const char *key);
xd_status xd_kopt_value(const xd_kopts *o, const char *key, double want, const char *what);
xd_status xd_kopt_ones(const xd_kopts *o, const char *key);
/* Any key off the NULL-terminated known list must be null (an option a
 * newer Keras adds is accepted while it is off). */
xd_status xd_kopt_unknown(const xd_kopts *o, const char *const *known);
/* A Keras dtype (a string or a DTypePolicy object; null or absent is
 * Keras's default float32): 1 when it is float32, else 0 with its name in
 * buf for the message. */
int xd_keras_dtype_is_float32(struct json_t *dtype, char *buf, size_t cap);
/* A layer or model name crossdev can use in parameter and file names: 1..63
 * characters of [A-Za-z0-9_.-], not "." or "..". */
int xd_keras_name_ok(const char *name);
/* A JSON value as text for messages ("[2, 2]", "\"same\""), at most cap bytes. */
void xd_keras_json_text(struct json_t *v, char *buf, size_t cap);

/* keras_layers.c: a Keras shape o->cfg[key] (the batch first when batch,
 * then 1..4 sizes); an InputLayer entry of config.layers and its shape. */
xd_status xd_keras_shape_of(const xd_kopts *o, const char *key, int batch, int64_t dims[4], int *rank);
xd_status xd_keras_input_layer(const char *file, struct json_t *layer, int64_t dims[4], int *rank, xd_error *err);

/* ---- lr_schedule.c: Keras's learning-rate schedules ---------------------------------- */
/* A Keras optimizer's learning_rate object (opt: the optimizer's options,
 * for messages) into out; classes and options crossdev lacks refused. */
xd_status xd_keras_lr_schedule(const xd_kopts *opt, struct json_t *lr, xd_lr_schedule *out);
/* The schedule as the traces write it ({"class": ..., Keras's option
 * names}; never called for CONSTANT) and back (file, where: for messages). */
struct json_t *xd_lr_schedule_json(const xd_lr_schedule *s);
xd_status xd_lr_schedule_from_json(struct json_t *v, const char *file, const char *where, xd_lr_schedule *out,
                                   xd_error *err);
/* "constant", or the JSON text in one line (settings differences). */
void xd_lr_schedule_describe(const xd_lr_schedule *s, char *buf, size_t cap);

/* ---- keras_regularize.c: a Conv2D's or Dense's kernel_regularizer and
 * bias_regularizer (after use_bias is known) into s->kernel_l2, bias_l2. */
xd_status xd_keras_regularizers(const xd_kopts *o, xd_layer_spec *s);

#define XD_TRY(x)                     \
    do {                              \
        xd_status st_ = (x);          \
        if (st_ != XD_OK) return st_; \
    } while (0)

/* ---- keras.c: the .keras archive (spec/archive.h) -------------------------------------- */
typedef struct xd_keras_archive {
    char *config; /* config.json, NUL-terminated */
    size_t config_len;
    unsigned char *weights; /* model.weights.h5 */
    size_t weights_len;
} xd_keras_archive;
/* Reads config.json and model.weights.h5 from a zip archive in memory.
 * Refused (XD_FORMAT): not a zip, an entry named with "..", an absolute
 * path or a backslash, duplicate names, encrypted entries, methods other
 * than stored and deflate, an entry larger than its limit or expanding more
 * than 100 times beyond 64 MiB, a missing entry. */
xd_status xd_keras_zip_read(const void *buf, size_t len, const char *file, xd_keras_archive *out, xd_error *err);
void xd_keras_archive_free(xd_keras_archive *a);

/* ---- weights.c: variables and layouts ---------------------------------------------- */
typedef enum xd_keras_var_kind {
    XD_KVAR_CONV_KERNEL,  /* Keras HWIO, crossdev OIHW */
    XD_KVAR_DENSE_KERNEL, /* Keras (in, out) in (H, W, C) flatten order, crossdev [out, in] in (C, H, W) */
    XD_KVAR_FEATURES      /* a bias or a BatchNormalization vector: per channel, or per feature in flatten order */
} xd_keras_var_kind;
/* Keras files its layers' variables under layers/<key>/vars/<index>, where
 * the key is NOT the layer's name but its class in snake case, numbered by
 * order among the layers of that class: conv2d, conv2d_1, dense, re_lu, ...
 * (saving_lib._save_container_state); the layer's name is the vars group's
 * "name" attribute.  keys[i] for each layer of spec (ReLU layers, which the
 * spec does not tell from Activation layers, get activation keys: they have
 * no variables, so no file's loading depends on it). */
#define XD_KERAS_KEY_LEN 32
void xd_keras_layer_keys(const xd_model_spec *spec, char (*keys)[XD_KERAS_KEY_LEN]);

/* One Keras variable: layers/<key>/vars/<index> in the file. */
typedef struct xd_keras_var {
    char name[XD_LAYER_NAME_LEN + 24]; /* crossdev's: "conv2d.weight" */
    int layer, index;                  /* spec layer, Keras variable index */
    xd_keras_var_kind kind;
    int ndim;                    /* both layouts have the same rank */
    int64_t shape[4], kshape[4]; /* crossdev's shape, Keras's shape */
    size_t count;
    int64_t fc, fh, fw; /* the flatten that produced the features (0: none) */
} xd_keras_var;
#define XD_KERAS_MAX_VARS (XD_MAX_LAYERS * 4)
typedef struct xd_keras_vars {
    size_t n;
    xd_keras_var v[XD_KERAS_MAX_VARS];
} xd_keras_vars;
/* Every variable of the spec's layers, in Keras's order (kernel, bias;
 * BatchNormalization: gamma if scale, beta if center, moving mean and
 * variance).  Fails as xd_model_spec_shapes does. */
xd_status xd_keras_vars_of(const xd_model_spec *spec, xd_keras_vars *out, xd_error *err);
/* Keras's layout -> crossdev's, and back (count floats each way). */
void xd_keras_to_crossdev(const xd_keras_var *v, const float *keras, float *xd);
void xd_keras_from_crossdev(const xd_keras_var *v, const float *xd, float *keras);
/* The Keras index (h * W + w) * C + c of crossdev's feature j = (c * H + h) * W + w
 * (j itself when fc is 0: features that did not come from a flatten). */
int64_t xd_keras_feature_index(int64_t j, int64_t fc, int64_t fh, int64_t fw);

/* ---- h5.c, h5_isolate.c: HDF5 images ------------------------------------------------- */
/* The weights of spec from an HDF5 image in memory (Keras's layout, in
 * layers/<key>/vars/<i>), into crossdev's names and layouts.  file names
 * the image in messages ("my.keras: model.weights.h5").
 * HDF5 1.10 crashes on some corrupt files (fuzz_h5 finds NULL reads in its
 * metadata cache): xd_keras_h5_parse runs xd_keras_h5_parse_here in a
 * child process, so that such a file is refused (XD_FORMAT) instead of
 * ending crossdev. */
xd_status xd_keras_h5_parse(const void *buf, size_t len, const char *file, const xd_model_spec *spec, xd_weights *out,
                            xd_error *err);
xd_status xd_keras_h5_parse_here(const void *buf, size_t len, const char *file, const xd_model_spec *spec,
                                 xd_weights *out, xd_error *err);

#endif
