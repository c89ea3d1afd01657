/* crossdev model files (crossdev.torch.export; docs/models.md): a zip
 * archive holding `crossdev-model.json` ({"format": "crossdev-model",
 * "version": 1, "framework": "pytorch", "producer": {...}, "model_spec":
 * {...}}, the spec as a trace's model_spec) and `<parameter>.npy` for every
 * parameter and running statistic of the spec, float32 in crossdev's
 * layout (which is PyTorch's state_dict's), named as the module names them
 * (`features.0.weight`, `bn1.running_var`).  Every array is required, its
 * shape checked against the spec; other entries are ignored.  The
 * archive's directory is checked by spec's zip reader before anything is
 * read; refusals are XD_FORMAT naming the file and the entry or field. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "spec/archive.h"
#include "spec/keras.h" /* XD_TRY */

#define MANIFEST "crossdev-model.json"
#define MANIFEST_MAX (UINT64_C(16) << 20)
#define ENTRY_MAX (UINT64_C(4) << 30)

/* ---- the parameters the spec has --------------------------------------------------- */
typedef struct want {
    char name[XD_LAYER_NAME_LEN + 24];
    int ndim;
    int64_t shape[4];
} want;

static void want_add(want *w, int *n, const char *layer, const char *what, int ndim, const int64_t *shape)
{
    snprintf(w[*n].name, sizeof w[*n].name, "%s.%s", layer, what);
    w[*n].ndim = ndim;
    memcpy(w[*n].shape, shape, (size_t)ndim * sizeof *shape);
    (*n)++;
}

/* Layer i's arrays in PyTorch's names; XD_FORMAT for a BatchNormalization
 * that is not in PyTorch's form (this file's names are PyTorch's). */
static xd_status layer_wants(const char *file, const xd_layer_spec *l, int i, const xd_layer_shape *in, want *w, int *n,
                             xd_error *err)
{
    const int64_t c[1] = {in->c}, conv[4] = {l->filters, in->c, l->kh, l->kw}, dense[2] = {l->units, in->c};
    const int64_t fb[1] = {l->filters}, ub[1] = {l->units};
    switch (l->type) {
    case XD_LAYER_CONV2D:
        want_add(w, n, l->name, "weight", 4, conv);
        if (l->use_bias) want_add(w, n, l->name, "bias", 1, fb);
        return XD_OK;
    case XD_LAYER_DENSE:
        want_add(w, n, l->name, "weight", 2, dense);
        if (l->use_bias) want_add(w, n, l->name, "bias", 1, ub);
        return XD_OK;
    case XD_LAYER_BATCHNORM:
        if (l->bn_form != XD_BN_PYTORCH)
            return xd_error_set(err, XD_FORMAT, 0,
                                "%s: " MANIFEST ": model_spec.layers[%d] '%s': BatchNormalization without "
                                "\"batchnorm\": \"pytorch\" (a crossdev-model file holds PyTorch's form)",
                                file, i, l->name);
        if (l->scale) want_add(w, n, l->name, "weight", 1, c);
        if (l->center) want_add(w, n, l->name, "bias", 1, c);
        want_add(w, n, l->name, "running_mean", 1, c);
        want_add(w, n, l->name, "running_var", 1, c);
        return XD_OK;
    default: return XD_OK;
    }
}

/* ---- reading ------------------------------------------------------------------------- */
static int same_shape(const xd_npy_array *a, const want *w)
{
    if (a->ndim != w->ndim) return 0;
    for (int d = 0; d < w->ndim; d++)
        if (a->shape[d] != w->shape[d]) return 0;
    return 1;
}

/* `<name>.npy` into out: float32 of the wanted shape. */
static xd_status read_array(xd_zip *z, const char *file, const want *w, xd_weight *out, xd_error *err)
{
    char entry[XD_LAYER_NAME_LEN + 32], label[XD_PATH_MAX];
    snprintf(entry, sizeof entry, "%s.npy", w->name);
    XD_TRY(xd_path(label, sizeof label, err, "%s: %s", file, entry));
    unsigned char *data = NULL;
    size_t len = 0;
    xd_npy_array a = {0};
    XD_TRY(xd_zip_read(z, entry, entry, ENTRY_MAX, &data, &len, err));
    xd_status st = xd_npy_parse_owned(data, len, label, 1u << XD_DTYPE_F32, "parameters are float32", &a, err);
    if (st != XD_OK) return st;
    if (!same_shape(&a, w)) {
        char got[96], shape[96] = "";
        xd_npy_describe(&a, got, sizeof got);
        xd_npy_free(&a);
        for (int d = 0, at = 0; d < w->ndim && at < (int)sizeof shape; d++)
            at += snprintf(shape + at, sizeof shape - (size_t)at, "%s%lld", d ? ", " : "", (long long)w->shape[d]);
        return xd_error_set(err, XD_FORMAT, 0, "%s: holds %s; the model_spec's %s is float32 [%s]", label, got, w->name,
                            shape);
    }
    snprintf(out->name, sizeof out->name, "%s", w->name);
    out->ndim = w->ndim;
    memcpy(out->shape, w->shape, sizeof out->shape);
    out->count = a.count;
    out->data = a.data; /* the array's, now the weight's */
    return XD_OK;
}

/* The manifest's fixed fields, then its model_spec through the trace's
 * reader (every field checked, the shapes inferred). */
static xd_status read_manifest(xd_zip *z, const char *file, xd_model_spec *out, xd_error *err)
{
    unsigned char *text = NULL;
    size_t len = 0;
    XD_TRY(xd_zip_read(z, MANIFEST, MANIFEST, MANIFEST_MAX, &text, &len, err));
    json_error_t je;
    json_t *root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!root)
        return xd_error_set(err, XD_FORMAT, 0, "%s: " MANIFEST ": not JSON (line %d: %s)", file, je.line, je.text);
    const char *format = json_string_value(json_object_get(root, "format"));
    const char *fw = json_string_value(json_object_get(root, "framework"));
    json_t *version = json_object_get(root, "version"), *spec = json_object_get(root, "model_spec");
    xd_status st = XD_OK;
    if (!format || strcmp(format, "crossdev-model") != 0)
        st = xd_error_set(err, XD_FORMAT, 0, "%s: " MANIFEST ": format: not \"crossdev-model\"", file);
    else if (!json_is_integer(version) || json_integer_value(version) != 1)
        st = xd_error_set(err, XD_FORMAT, 0, "%s: " MANIFEST ": version: not 1 (this crossdev reads version 1)", file);
    else if (!fw || strcmp(fw, "pytorch") != 0)
        st = xd_error_set(err, XD_FORMAT, 0, "%s: " MANIFEST ": framework: not \"pytorch\"", file);
    else if (!json_is_object(spec))
        st = xd_error_set(err, XD_FORMAT, 0, "%s: " MANIFEST ": model_spec: not an object", file);
    char *spec_text = st == XD_OK ? json_dumps(spec, JSON_REAL_PRECISION(17)) : NULL;
    json_decref(root);
    if (st != XD_OK) return st;
    if (!spec_text) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory", file);
    st = xd_model_spec_from_json(spec_text, out, err);
    free(spec_text);
    if (st != XD_OK) xd_error_prefix(err, "%s: " MANIFEST, file);
    return st;
}

static xd_status read_weights(xd_zip *z, const char *file, const xd_model_spec *spec, xd_weights *out, xd_error *err)
{
    xd_layer_shape shapes[XD_MAX_LAYERS + 1];
    want w[XD_MAX_LAYERS * 4];
    int n = 0;
    XD_TRY(xd_model_spec_shapes(spec, shapes, err));
    for (int i = 0; i < spec->nlayers; i++)
        XD_TRY(layer_wants(file, &spec->layers[i], i, &shapes[xd_layer_input(spec, i, 0) + 1], w, &n, err));
    out->items = calloc((size_t)n + 1, sizeof *out->items);
    if (!out->items) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory", file);
    for (int k = 0; k < n; k++) {
        XD_TRY(read_array(z, file, &w[k], &out->items[k], err));
        out->n++;
    }
    return XD_OK;
}

static xd_status load_model(xd_zip *z, const char *path, xd_model_spec *spec, xd_weights *weights, xd_error *err)
{
    xd_weights w = {0};
    xd_status st = read_manifest(z, path, spec, err);
    if (st == XD_OK) st = read_weights(z, path, spec, &w, err);
    if (st == XD_OK && weights) *weights = w;
    else xd_weights_free(&w);
    if (st == XD_OK) snprintf(spec->source, sizeof spec->source, "%s", path);
    else memset(spec, 0, sizeof *spec);
    return st;
}

xd_status xd_crossdev_model_parse(const void *buf, size_t len, const char *file, xd_model_spec *spec,
                                  xd_weights *weights, xd_error *err)
{
    if (weights) memset(weights, 0, sizeof *weights);
    if (!file || !spec) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_crossdev_model_parse: NULL argument");
    xd_zip *z = NULL;
    xd_status st = xd_zip_open(buf ? buf : "", len, file, &z, err);
    if (st == XD_OK) st = load_model(z, file, spec, weights, err);
    xd_zip_close(z);
    return xd_error_return(err, st);
}

/* A zip archive with a crossdev-model.json: 1; anything else (not a file,
 * not a zip, a .keras) 0. */
static int is_crossdev_model(const char *path)
{
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(magic, 1, sizeof magic, f) : 0;
    if (f) fclose(f);
    if (got != 4 || memcmp(magic, "PK\x03\x04", 4) != 0) return 0;
    xd_zip *z = NULL;
    xd_error ignored;
    int yes = xd_zip_open_file(path, &z, &ignored) == XD_OK && xd_zip_has(z, MANIFEST);
    xd_zip_close(z);
    return yes;
}

xd_status xd_model_file_load(const char *path, xd_model_spec *spec, xd_weights *weights, xd_error *err)
{
    if (!path || !spec || !is_crossdev_model(path)) return xd_model_spec_load(path, spec, weights, err);
    if (weights) memset(weights, 0, sizeof *weights);
    memset(spec, 0, sizeof *spec);
    if (strlen(path) >= sizeof spec->source)
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "%.200s...: the path is longer than %zu bytes", path,
                            sizeof spec->source - 1);
    xd_zip *z = NULL;
    xd_status st = xd_zip_open_file(path, &z, err);
    if (st == XD_OK) st = load_model(z, path, spec, weights, err);
    xd_zip_close(z);
    return xd_error_return(err, st);
}
