/* Keras's weights in HDF5 (model.weights.h5 inside a .keras, or a
 * .weights.h5 from model.save_weights), read from and written to memory.
 *
 * The structure Keras 3 writes (keras/src/saving/saving_lib.py, H5IOStore):
 *   /layers/<key>/vars            group, attribute "name" = the layer's name
 *   /layers/<key>/vars/<i>        float32 dataset, variable i in Keras's order
 *   /vars                         group, attribute "name" = the model's name
 *   /optimizer/vars/<i>           the optimizer's state (a compiled model's)
 * where <key> is the layer's class in snake case numbered by order within
 * its class (conv2d, conv2d_1, ...; xd_keras_layer_keys), not its name:
 * Keras matches a file to a model by class and order, so a file saved from
 * a model with other layer names loads.  Every layer has its vars group,
 * empty for a layer without variables; the attribute is a scalar
 * variable-length UTF-8 string; datasets are contiguous little-endian IEEE
 * float32.  Keras refuses a vars group whose count differs from the
 * layer's; so do we, plus shapes and types.  The optimizer's state is not
 * read (crossdev's optimizer starts at step 0).
 *
 * HDF5's own error printing is off while these run (and restored after):
 * its innermost message goes into ours. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/keras.h"

/* The name the in-memory files get: HDF5's core driver opens a file of
 * that name when one exists (and then refuses the image), so it is one
 * that cannot exist. */
#define NO_FILE "/dev/null/crossdev-weights.h5"

/* ---- HDF5's error stack ------------------------------------------------------------ */
typedef struct quiet {
    H5E_auto2_t func;
    void *data;
} quiet;

static void quiet_begin(quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet_end(const quiet *q)
{
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

static herr_t innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc) snprintf((char *)data, 256, "%s", e->desc);
    return 0;
}

/* The most specific message on HDF5's stack, then the stack cleared. */
static const char *h5_reason(char buf[256])
{
    snprintf(buf, 256, "unknown HDF5 error");
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, buf);
    H5Eclear2(H5E_DEFAULT);
    return buf;
}

/* ---- reading ------------------------------------------------------------------------ */
/* parent/name exists as a hard link (Keras refuses soft and external links too). */
static int hard_link(hid_t parent, const char *name)
{
    H5L_info_t li;
    return H5Lexists(parent, name, H5P_DEFAULT) > 0 && H5Lget_info(parent, name, &li, H5P_DEFAULT) >= 0 &&
           li.type == H5L_TYPE_HARD;
}

/* layers/<key>/vars, or -1 when absent (not a group: refused). */
static xd_status open_vars(hid_t f, const char *file, const char *lname, hid_t *out, xd_error *err)
{
    *out = -1;
    hid_t layers = hard_link(f, "layers") ? H5Gopen2(f, "layers", H5P_DEFAULT) : -1;
    hid_t layer = layers >= 0 && hard_link(layers, lname) ? H5Gopen2(layers, lname, H5P_DEFAULT) : -1;
    if (layer >= 0 && hard_link(layer, "vars")) *out = H5Gopen2(layer, "vars", H5P_DEFAULT);
    int broken = layer >= 0 && hard_link(layer, "vars") && *out < 0;
    if (layer >= 0) H5Gclose(layer);
    if (layers >= 0) H5Gclose(layers);
    char why[256];
    if (broken)
        return xd_error_set(err, XD_FORMAT, 0, "%s: layers/%s/vars is not a readable group (%s)", file, lname,
                            h5_reason(why));
    H5Eclear2(H5E_DEFAULT);
    return XD_OK;
}

static void shape_text(int ndim, const hsize_t *d, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? ", " : "", (unsigned long long)d[i]);
    if (n < cap) snprintf(buf + n, cap - n, ndim == 1 ? ",)" : ")");
}

/* The dataset's type, shape and storage against what the variable needs. */
static xd_status check_dataset(hid_t ds, const char *file, const char *dname, const xd_keras_var *v, xd_error *err)
{
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds), pl = H5Dget_create_plist(ds);
    int f32 = t >= 0 && (H5Tequal(t, H5T_IEEE_F32LE) > 0 || H5Tequal(t, H5T_IEEE_F32BE) > 0);
    int nd = sp >= 0 && H5Sget_simple_extent_type(sp) == H5S_SIMPLE ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[H5S_MAX_RANK] = {0}, want[4];
    if (nd >= 0 && nd <= H5S_MAX_RANK) H5Sget_simple_extent_dims(sp, dims, NULL);
    int external = pl < 0 || H5Pget_external_count(pl) != 0 || H5Pget_layout(pl) == H5D_VIRTUAL;
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (pl >= 0) H5Pclose(pl);
    H5Eclear2(H5E_DEFAULT);
    if (!f32) return xd_error_set(err, XD_FORMAT, 0, "%s: dataset %s is not float32", file, dname);
    if (external)
        return xd_error_set(err, XD_FORMAT, 0, "%s: dataset %s is external or virtual (not supported)", file, dname);
    int same = nd == v->ndim;
    for (int i = 0; i < v->ndim; i++) {
        want[i] = (hsize_t)v->kshape[i];
        same &= dims[i] == want[i];
    }
    if (same) return XD_OK;
    char got[160], need[160];
    shape_text(nd < 0 ? 0 : nd, dims, got, sizeof got);
    shape_text(v->ndim, want, need, sizeof need);
    return xd_error_set(err, XD_SHAPE_MISMATCH, 0, "%s: dataset %s has shape %s, the model's %s needs %s", file, dname,
                        got, v->name, need);
}

/* vars/<index> of an open vars group into keras (v->count floats). */
static xd_status read_var(hid_t vars, const char *file, const char *lname, const xd_keras_var *v, float *keras,
                          xd_error *err)
{
    char idx[16], dname[XD_LAYER_NAME_LEN + 32], why[256];
    snprintf(idx, sizeof idx, "%d", v->index);
    snprintf(dname, sizeof dname, "layers/%s/vars/%d", lname, v->index);
    if (!hard_link(vars, idx)) {
        H5Eclear2(H5E_DEFAULT);
        return xd_error_set(err, XD_FORMAT, 0, "%s: dataset %s (%s) is missing", file, dname, v->name);
    }
    hid_t ds = H5Dopen2(vars, idx, H5P_DEFAULT);
    if (ds < 0) return xd_error_set(err, XD_FORMAT, 0, "%s: %s is not a dataset (%s)", file, dname, h5_reason(why));
    xd_status st = check_dataset(ds, file, dname, v, err);
    if (st == XD_OK && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, keras) < 0)
        st = xd_error_set(err, XD_FORMAT, 0, "%s: dataset %s cannot be read (%s)", file, dname, h5_reason(why));
    H5Dclose(ds);
    return st;
}

/* The number of entries in a vars group (-1: unreadable). */
static long long group_size(hid_t g)
{
    H5G_info_t gi;
    return H5Gget_info(g, &gi) < 0 ? -1 : (long long)gi.nlinks;
}

/* Layer i's variables, each into out (crossdev's layout) in vars order.
 * Layers without variables are not looked at (an absent group is what
 * Keras reads as empty). */
static xd_status read_layer(hid_t f, const char *file, const xd_model_spec *spec, int i, const char *key,
                            const xd_keras_vars *vs, xd_weights *out, xd_error *err)
{
    const xd_layer_spec *l = &spec->layers[i];
    long long want = 0;
    for (size_t k = 0; k < vs->n; k++) want += vs->v[k].layer == i;
    if (want == 0) return XD_OK;
    hid_t vars;
    XD_TRY(open_vars(f, file, key, &vars, err));
    long long have = vars < 0 ? 0 : group_size(vars);
    xd_status st = XD_OK;
    if (vars < 0)
        st = xd_error_set(err, XD_FORMAT, 0,
                          "%s: layers/%s/vars is missing: the model's %s '%s' has %lld variables "
                          "(a file for another model?)",
                          file, key, xd_layer_type_name(l->type), l->name, want);
    else if (have != want)
        st = xd_error_set(err, XD_FORMAT, 0,
                          "%s: layers/%s/vars holds %lld entries, the model's %s '%s' has %lld "
                          "variables",
                          file, key, have, xd_layer_type_name(l->type), l->name, want);
    for (size_t k = 0; k < vs->n && st == XD_OK; k++) {
        const xd_keras_var *v = &vs->v[k];
        if (v->layer != i) continue;
        float *keras = malloc(v->count * sizeof(float)), *xd = malloc(v->count * sizeof(float));
        xd_weight *w = &out->items[out->n];
        if (!keras || !xd) st = xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory", file);
        if (st == XD_OK) st = read_var(vars, file, key, v, keras, err);
        if (st == XD_OK) {
            xd_keras_to_crossdev(v, keras, xd);
            snprintf(w->name, sizeof w->name, "%s", v->name);
            w->ndim = v->ndim;
            memcpy(w->shape, v->shape, sizeof w->shape);
            w->count = v->count;
            w->data = xd;
            xd = NULL;
            out->n++;
        }
        free(keras);
        free(xd);
    }
    if (vars >= 0) H5Gclose(vars);
    return st;
}

/* The image's first bytes: HDF5's signature at offset 0, where Keras's
 * files have it (HDF5 also looks at 512, 1024, ... for a user block). */
static int looks_like_hdf5(const void *buf, size_t len)
{
    return len >= 96 && memcmp(buf, "\x89HDF\r\n\x1a\n", 8) == 0;
}

static xd_status read_image(const void *buf, size_t len, const char *file, const xd_model_spec *spec,
                            const xd_keras_vars *vs, xd_weights *out, xd_error *err)
{
    char why[256];
    if (!looks_like_hdf5(buf, len)) return xd_error_set(err, XD_FORMAT, 0, "%s: not an HDF5 file", file);
    /* HDF5's core driver on a copy of the image (H5LTopen_file_image does
     * the same, but its clean-up calls clear the error stack we report) */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 && H5Pset_file_image(fapl, (void *)buf, len) >= 0
                  ? H5Fopen(NO_FILE, H5F_ACC_RDONLY, fapl)
                  : -1;
    if (f < 0) h5_reason(why);
    if (fapl >= 0) H5Pclose(fapl);
    if (f < 0) return xd_error_set(err, XD_FORMAT, 0, "%s: not a readable HDF5 file (%s)", file, why);
    xd_status st = XD_OK;
    char keys[XD_MAX_LAYERS][XD_KERAS_KEY_LEN];
    xd_keras_layer_keys(spec, keys);
    out->items = calloc(vs->n ? vs->n : 1, sizeof *out->items);
    if (!out->items) st = xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory", file);
    for (int i = 0; i < spec->nlayers && st == XD_OK; i++) st = read_layer(f, file, spec, i, keys[i], vs, out, err);
    H5Fclose(f);
    return st;
}

xd_status xd_keras_h5_parse_here(const void *buf, size_t len, const char *file, const xd_model_spec *spec,
                                 xd_weights *out, xd_error *err)
{
    memset(out, 0, sizeof *out);
    xd_keras_vars *vs = malloc(sizeof *vs);
    if (!vs) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory", file);
    xd_status st = xd_keras_vars_of(spec, vs, err);
    if (st == XD_OK) {
        quiet q;
        quiet_begin(&q);
        st = read_image(buf, len, file, spec, vs, out, err);
        quiet_end(&q);
    }
    free(vs);
    if (st != XD_OK) xd_weights_free(out);
    return st;
}

/* ---- writing ------------------------------------------------------------------------ */
/* The attribute Keras puts on every vars group: name, a scalar
 * variable-length UTF-8 string (what h5py writes for a Python str). */
static int put_name(hid_t g, const char *name)
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    int ok = t >= 0 && sp >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 && H5Tset_cset(t, H5T_CSET_UTF8) >= 0;
    hid_t a = ok ? H5Acreate2(g, "name", t, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = a >= 0 && H5Awrite(a, t, &name) >= 0;
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    return ok;
}

/* A new group <parent>/<name>/vars with its name attribute; the vars group
 * stays open (closed by the caller). */
static hid_t make_vars(hid_t parent, const char *name, const char *attr)
{
    hid_t g = name ? H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    hid_t v = H5Gcreate2(name ? g : parent, "vars", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g >= 0) H5Gclose(g);
    if (v >= 0 && !put_name(v, attr)) {
        H5Gclose(v);
        return -1;
    }
    return v;
}

static int put_dataset(hid_t vars, const xd_keras_var *v, const float *keras)
{
    char idx[16];
    hsize_t dims[4];
    for (int d = 0; d < v->ndim; d++) dims[d] = (hsize_t)v->kshape[d];
    snprintf(idx, sizeof idx, "%d", v->index);
    hid_t sp = H5Screate_simple(v->ndim, dims, NULL);
    hid_t ds = sp >= 0 ? H5Dcreate2(vars, idx, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int ok = ds >= 0 && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, keras) >= 0;
    if (ds >= 0) H5Dclose(ds);
    if (sp >= 0) H5Sclose(sp);
    return ok;
}

/* w's item named v->name, its shape checked against the variable's. */
static xd_status find_weight(const xd_weights *w, const xd_keras_var *v, const xd_weight **out, xd_error *err)
{
    for (size_t i = 0; i < w->n; i++) {
        const xd_weight *x = &w->items[i];
        if (strcmp(x->name, v->name) != 0) continue;
        int same = x->ndim == v->ndim && x->count == v->count && x->data;
        for (int d = 0; d < v->ndim && same; d++) same = x->shape[d] == v->shape[d];
        if (!same)
            return xd_error_set(err, XD_SHAPE_MISMATCH, 0, "weights: %s does not have the model's shape", v->name);
        *out = x;
        return XD_OK;
    }
    return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "weights: %s is missing", v->name);
}

/* Every item of w must be one of the model's variables (a typo or a
 * weight of another model is not silently dropped). */
static xd_status check_names(const xd_weights *w, const xd_keras_vars *vs, const char *model, xd_error *err)
{
    for (size_t i = 0; i < w->n; i++) {
        size_t k = 0;
        while (k < vs->n && strcmp(vs->v[k].name, w->items[i].name) != 0) k++;
        if (k == vs->n)
            return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "weights: %.100s is not a parameter of model '%s'",
                                w->items[i].name, model);
    }
    return XD_OK;
}

/* Layer i's group layers/<key>/vars (named after the layer) and its
 * datasets, in Keras's layout. */
static int write_layer(hid_t layers, const xd_model_spec *spec, int i, const char *key, const xd_keras_vars *vs,
                       const xd_weights *w, xd_status *st, xd_error *err)
{
    hid_t vars = make_vars(layers, key, spec->layers[i].name);
    int ok = vars >= 0;
    for (size_t k = 0; k < vs->n && ok && *st == XD_OK; k++) {
        const xd_keras_var *v = &vs->v[k];
        const xd_weight *x = NULL;
        if (v->layer != i || (*st = find_weight(w, v, &x, err)) != XD_OK || !x) continue;
        float *keras = malloc(v->count * sizeof(float));
        if (!keras) *st = xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory writing %s", v->name);
        if (keras) xd_keras_from_crossdev(v, x->data, keras);
        ok = keras && put_dataset(vars, v, keras);
        free(keras);
    }
    if (vars >= 0) H5Gclose(vars);
    return ok;
}

/* The whole file in memory (HDF5's core driver, no backing store): its
 * bytes in *image, for the one atomic writer. */
static xd_status build_image(const xd_model_spec *spec, const xd_keras_vars *vs, const xd_weights *w,
                             unsigned char **image, size_t *len, xd_error *err)
{
    char why[256];
    xd_status st = XD_OK;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0
                  ? H5Fcreate(NO_FILE, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)
                  : -1;
    hid_t layers = f >= 0 ? H5Gcreate2(f, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int ok = layers >= 0;
    char keys[XD_MAX_LAYERS][XD_KERAS_KEY_LEN];
    xd_keras_layer_keys(spec, keys);
    for (int i = 0; i < spec->nlayers && ok && st == XD_OK; i++)
        ok = write_layer(layers, spec, i, keys[i], vs, w, &st, err);
    hid_t root = ok && st == XD_OK ? make_vars(f, NULL, spec->name) : -1;
    ok = ok && root >= 0 && H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0;
    ssize_t n = ok && st == XD_OK ? H5Fget_file_image(f, NULL, 0) : -1;
    *image = n > 0 ? malloc((size_t)n) : NULL;
    if (*image && H5Fget_file_image(f, *image, (size_t)n) != n) ok = 0;
    if (st == XD_OK && (!ok || !*image))
        st = xd_error_set(err, XD_IO, 0, "cannot build the HDF5 file (%s)", h5_reason(why));
    *len = st == XD_OK ? (size_t)n : 0;
    if (root >= 0) H5Gclose(root);
    if (layers >= 0) H5Gclose(layers);
    if (f >= 0) H5Fclose(f);
    if (fapl >= 0) H5Pclose(fapl);
    return st;
}

xd_status xd_weights_save_h5(const char *path, const xd_model_spec *spec, const xd_weights *w, xd_error *err)
{
    if (!path || !spec || !w) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_weights_save_h5: NULL argument");
    xd_keras_vars *vs = malloc(sizeof *vs);
    if (!vs) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory", path);
    unsigned char *image = NULL;
    size_t len = 0;
    xd_status st = xd_keras_vars_of(spec, vs, err);
    if (st == XD_OK) st = check_names(w, vs, spec->name, err);
    if (st == XD_OK) {
        quiet q;
        quiet_begin(&q);
        st = build_image(spec, vs, w, &image, &len, err);
        quiet_end(&q);
    }
    free(vs);
    if (st != XD_OK) xd_error_prefix(err, "%s", path);
    const void *parts[1] = {image};
    if (st == XD_OK) st = xd_write_file_atomic(path, parts, &len, 1, err);
    free(image);
    return xd_error_return(err, st);
}
