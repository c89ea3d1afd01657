/* xd_model_spec_load: a Keras 3 `.keras` archive or a `model.to_json()`
 * file into a spec (and the archive's weights).  The config is Keras's
 * serialisation of a Sequential model: {"class_name": "Sequential",
 * "config": {"name", "dtype", "layers": [InputLayer, ...]},
 * "compile_config": {...}}, or of a functional one ("Functional", its
 * layers with the calls that connect them: keras_graph.c); the layers are
 * parsed in keras_layers.c, the compile_config in keras_compile.c, the
 * archive in zip.c, the weights in h5.c. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spec/archive.h"
#include "spec/keras.h"

/* ---- the input ---------------------------------------------------------------------- */
/* A model built without an InputLayer keeps its input shape in
 * config.build_input_shape or build_config.input_shape. */
static xd_status build_shape(const char *file, json_t *root, json_t *cfg, int64_t dims[4], int *rank, xd_error *err)
{
    xd_kopts o = {file, "model", cfg, err};
    if (json_is_array(json_object_get(cfg, "build_input_shape")))
        return xd_keras_shape_of(&o, "build_input_shape", 1, dims, rank);
    o.cfg = json_object_get(root, "build_config");
    if (json_is_array(json_object_get(o.cfg, "input_shape")))
        return xd_keras_shape_of(&o, "input_shape", 1, dims, rank);
    return xd_error_set(err, XD_FORMAT, 0, "%s: the model has no input shape (start it with keras.Input)", file);
}

static void set_input(xd_model_spec *out, const int64_t dims[4])
{
    out->in_h = dims[0];
    out->in_w = dims[1];
    out->in_c = dims[2];
}

/* ---- the model ---------------------------------------------------------------------- */
static xd_status model_options(const char *file, json_t *root, json_t *cfg, xd_model_spec *out, xd_error *err)
{
    const char *cls = json_string_value(json_object_get(root, "class_name"));
    if (!cls || !json_is_object(cfg))
        return xd_error_set(err, XD_FORMAT, 0, "%s: not a Keras model config (no class_name and config)", file);
    if (strcmp(cls, "Sequential") != 0 && strcmp(cls, "Functional") != 0)
        return xd_error_set(err, XD_FORMAT, 0,
                            "%s: model class %s is not supported (only Sequential and Functional: keras.Model(inputs, "
                            "outputs))",
                            file, cls);
    const char *name = json_string_value(json_object_get(cfg, "name"));
    xd_kopts o = {file, "", cfg, err};
    snprintf(o.where, sizeof o.where, "model '%.63s'", name ? name : "?");
    if (!name || !xd_keras_name_ok(name))
        return xd_kopt_refuse(&o, "the name must be 1..63 characters of A-Z a-z 0-9 _ - .");
    snprintf(out->name, sizeof out->name, "%s", name);
    char dt[96];
    if (!xd_keras_dtype_is_float32(json_object_get(cfg, "dtype"), dt, sizeof dt))
        return xd_kopt_refuse(&o, "dtype policy '%s' is not supported (only float32)", dt);
    json_t *tr = json_object_get(cfg, "trainable");
    if (tr && !json_is_true(tr)) return xd_kopt_unsupported(&o, "trainable", "only true");
    size_t n = json_array_size(json_object_get(cfg, "layers"));
    if (n == 0) return xd_kopt_refuse(&o, "no layers");
    return XD_OK;
}

static int name_taken(const xd_model_spec *s, const char *name)
{
    for (int i = 0; i < s->nlayers; i++)
        if (strcmp(s->layers[i].name, name) == 0) return 1;
    return 0;
}

/* config.layers: an optional InputLayer first, then the layers. */
static xd_status parse_layers(const char *file, json_t *layers, xd_model_spec *out, int64_t dims[4], int *rank,
                              xd_error *err)
{
    xd_keras_layer_ctx c = {file, 0};
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *l = json_array_get(layers, i);
        const char *cls = json_string_value(json_object_get(l, "class_name"));
        if (i == 0 && cls && strcmp(cls, "InputLayer") == 0) {
            XD_TRY(xd_keras_input_layer(file, l, dims, rank, err));
            continue;
        }
        if (out->nlayers == XD_MAX_LAYERS)
            return xd_error_set(err, XD_FORMAT, 0, "%s: more than %d layers (crossdev's limit)", file, XD_MAX_LAYERS);
        xd_layer_spec *s = &out->layers[out->nlayers];
        XD_TRY(xd_keras_layer_parse(&c, l, s, err));
        if (name_taken(out, s->name))
            return xd_error_set(err, XD_FORMAT, 0, "%s: two layers are named '%s'", file, s->name);
        out->nlayers++;
    }
    if (out->nlayers == 0)
        return xd_error_set(err, XD_FORMAT, 0, "%s: the model has no layers besides its input", file);
    return XD_OK;
}

/* The spec's shapes, and its classes: the outputs of the last layer, which
 * must be flat features (a model that never flattens ends in an image). */
static xd_status check_shapes(const char *file, xd_model_spec *out, xd_error *err)
{
    xd_layer_shape shapes[XD_MAX_LAYERS + 1];
    xd_status st = xd_model_spec_shapes(out, shapes, err);
    if (st != XD_OK) {
        xd_error_prefix(err, "%s", file);
        return st;
    }
    int flat = 0;
    for (int i = 0; i < out->nlayers; i++)
        flat |= out->layers[i].type == XD_LAYER_FLATTEN || out->layers[i].type == XD_LAYER_DENSE ||
                out->layers[i].type == XD_LAYER_GLOBAL_AVGPOOL2D || out->layers[i].type == XD_LAYER_GLOBAL_MAXPOOL2D;
    if (!flat)
        return xd_error_set(err, XD_SHAPE_MISMATCH, 0,
                            "%s: the model's output is an image, not class scores (end it with Flatten and Dense)",
                            file);
    out->classes = shapes[out->nlayers].c;
    return XD_OK;
}

xd_status xd_keras_config_parse(const char *text, size_t len, const char *file, xd_model_spec *out, xd_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) return xd_error_set(err, XD_FORMAT, 0, "%s: not JSON (line %d: %s)", file, je.line, je.text);
    json_t *cfg = json_object_get(root, "config");
    int64_t dims[4] = {0};
    int rank = -1;
    xd_status st = model_options(file, root, cfg, out, err);
    const char *cls = json_string_value(json_object_get(root, "class_name"));
    if (st == XD_OK && strcmp(cls, "Functional") == 0) st = xd_keras_graph_parse(file, cfg, out, dims, &rank, err);
    else if (st == XD_OK) st = parse_layers(file, json_object_get(cfg, "layers"), out, dims, &rank, err);
    if (st == XD_OK && rank < 0) st = build_shape(file, root, cfg, dims, &rank, err);
    if (st == XD_OK && rank != 3)
        st =
            xd_error_set(err, XD_FORMAT, 0,
                         "%s: an input of rank %d is not supported (only images: height, width, channels)", file, rank);
    if (st == XD_OK) {
        set_input(out, dims);
        st = xd_keras_compile_parse(file, json_object_get(root, "compile_config"), out, err);
    }
    if (st == XD_OK) st = check_shapes(file, out, err);
    json_decref(root);
    if (st != XD_OK) memset(out, 0, sizeof *out);
    return st;
}

/* ---- files -------------------------------------------------------------------------- */
/* The whole file, refusing one larger than a .keras can sensibly be. */
static xd_status read_model_file(const char *path, char **data, size_t *len, xd_error *err)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && (uint64_t)sb.st_size > XD_KERAS_MAX_WEIGHTS + XD_KERAS_MAX_CONFIG)
        return xd_error_set(err, XD_FORMAT, 0, "%s: %lld bytes is too large for a model file", path,
                            (long long)sb.st_size);
    return xd_read_file(path, data, len, err);
}

static int starts_with(const char *data, size_t len, const char *magic, size_t n)
{
    return len >= n && memcmp(data, magic, n) == 0;
}

void xd_keras_archive_free(xd_keras_archive *a)
{
    if (!a) return;
    free(a->config);
    free(a->weights);
    memset(a, 0, sizeof *a);
}

/* config.json and model.weights.h5, each within its limit. */
static xd_status read_archive(xd_zip *z, const char *file, xd_keras_archive *out, xd_error *err)
{
    if (!xd_zip_has(z, "config.json"))
        return xd_error_set(err, XD_FORMAT, 0, "%s: no config.json (not a Keras 3 .keras archive)", file);
    if (!xd_zip_has(z, "model.weights.h5"))
        return xd_error_set(err, XD_FORMAT, 0, "%s: no model.weights.h5 (only Keras's h5 weights are supported)", file);
    XD_TRY(xd_zip_read(z, "config.json", "config.json", XD_KERAS_MAX_CONFIG, (unsigned char **)&out->config,
                       &out->config_len, err));
    return xd_zip_read(z, "model.weights.h5", "model.weights.h5", XD_KERAS_MAX_WEIGHTS, &out->weights,
                       &out->weights_len, err);
}

xd_status xd_keras_zip_read(const void *buf, size_t len, const char *file, xd_keras_archive *out, xd_error *err)
{
    memset(out, 0, sizeof *out);
    xd_zip *z = NULL;
    XD_TRY(xd_zip_open(buf, len, file, &z, err));
    xd_status st = read_archive(z, file, out, err);
    xd_zip_close(z);
    if (st != XD_OK) xd_keras_archive_free(out);
    return st;
}

static xd_status load_archive(const char *path, const char *data, size_t len, xd_model_spec *out, xd_weights *weights,
                              xd_error *err)
{
    xd_keras_archive a;
    XD_TRY(xd_keras_zip_read(data, len, path, &a, err));
    xd_status st = xd_keras_config_parse(a.config, a.config_len, path, out, err);
    char h5name[XD_PATH_MAX];
    if (st == XD_OK) st = xd_path(h5name, sizeof h5name, err, "%s: model.weights.h5", path);
    xd_weights w = {0};
    if (st == XD_OK) st = xd_keras_h5_parse(a.weights, a.weights_len, h5name, out, &w, err);
    xd_keras_archive_free(&a);
    if (st == XD_OK && weights) *weights = w;
    else xd_weights_free(&w);
    return st;
}

xd_status xd_model_spec_load(const char *path, xd_model_spec *out, xd_weights *weights, xd_error *err)
{
    if (weights) memset(weights, 0, sizeof *weights);
    if (!path || !out) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_model_spec_load: NULL argument");
    memset(out, 0, sizeof *out);
    if (strlen(path) >= sizeof out->source)
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "%.200s...: the path is longer than %zu bytes", path,
                            sizeof out->source - 1);
    char *data = NULL;
    size_t len = 0;
    xd_status st = read_model_file(path, &data, &len, err);
    if (st != XD_OK) return xd_error_return(err, st);
    if (starts_with(data, len, "PK\x03\x04", 4) || starts_with(data, len, "PK\x05\x06", 4))
        st = load_archive(path, data, len, out, weights, err);
    else if (starts_with(data, len, "\x89HDF\r\n\x1a\n", 8))
        st = xd_error_set(err, XD_FORMAT, 0,
                          "%s: an HDF5 file (.weights.h5) holds weights only: give the model (.keras or "
                          "model.to_json()) and this file as its weights",
                          path);
    else st = xd_keras_config_parse(data, len, path, out, err);
    free(data);
    if (st == XD_OK) snprintf(out->source, sizeof out->source, "%s", path);
    else memset(out, 0, sizeof *out);
    return xd_error_return(err, st);
}

xd_status xd_weights_load_h5(const char *path, const xd_model_spec *spec, xd_weights *out, xd_error *err)
{
    if (out) memset(out, 0, sizeof *out);
    if (!path || !spec || !out) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_weights_load_h5: NULL argument");
    char *data = NULL;
    size_t len = 0;
    xd_status st = read_model_file(path, &data, &len, err);
    if (st != XD_OK) return xd_error_return(err, st);
    st = xd_keras_h5_parse(data, len, path, spec, out, err);
    free(data);
    return xd_error_return(err, st);
}
