/* .npz data sets (io/io.h): x_train, y_train, x_test, y_test as
 * keras.datasets.*.load_data() gives them, saved with np.savez or
 * np.savez_compressed.  The archive is read with spec's zip reader (its
 * directory checked first), one array at a time: each is parsed in the
 * buffer it was read into, converted, and freed before the next, so the
 * largest extra memory is one entry.
 *
 * What each dtype becomes (docs/models.md, "The data"):
 *   images  uint8 x/255.0f, as crossdev scales IDX files (the same bytes
 *           in either file give the same floats, checksum and training);
 *           float32 as stored; float64 rounded to float32, as Keras's fit
 *           casts it; anything else refused.  NaN and infinities are
 *           refused (they can only make the loss NaN).
 *   labels  uint8, int32 or int64 class indices from 0, (count,) or
 *           (count, 1); one-hot (count, K) and float labels refused,
 *           naming the fix. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "spec/archive.h"

/* An entry's limit, as an .npy file's (npy.c). */
#define NPZ_MAX_ENTRY (UINT64_C(4) << 30)
#define ALL_DTYPES \
    (1u << XD_DTYPE_U8 | 1u << XD_DTYPE_I32 | 1u << XD_DTYPE_I64 | 1u << XD_DTYPE_F32 | 1u << XD_DTYPE_F64)

int64_t xd_images_to_nchw(const void *src, xd_dtype dtype, int64_t n, int64_t h, int64_t w, int64_t c, float *x,
                          int *overflow)
{
    const size_t hw = (size_t)(h * w), C = (size_t)c, px = hw * C;
    *overflow = 0;
    for (size_t i = 0; i < (size_t)n; ++i) {
        int finite = 1;
        for (size_t p = 0; p < hw; ++p)
            for (size_t ch = 0; ch < C; ++ch) {
                size_t from = i * px + p * C + ch;
                float *to = &x[(i * C + ch) * hw + p];
                if (dtype == XD_DTYPE_U8) { /* x/255.0f: one correctly rounded float division on the host. */
                    *to = (float)((const uint8_t *)src)[from] / 255.0f;
                } else if (dtype == XD_DTYPE_F32) {
                    *to = ((const float *)src)[from];
                    finite &= isfinite(*to) != 0;
                } else {
                    double d = ((const double *)src)[from];
                    *to = (float)d;
                    finite &= isfinite(*to) != 0;
                    if (isfinite(d) && !isfinite(*to)) *overflow = 1;
                }
            }
        if (!finite) return (int64_t)i;
    }
    return -1;
}

/* One array, "x_train", parsed from its entry "x_train.npy". */
static xd_status read_array(xd_zip *z, const char *file, const char *array, xd_npy_array *out, xd_error *err)
{
    char entry[32], name[XD_PATH_MAX + 32], why[128];
    snprintf(entry, sizeof entry, "%s.npy", array);
    snprintf(name, sizeof name, "%s: %s", file, array);
    if (array[0] == 'x')
        snprintf(why, sizeof why, "images are uint8, float32 or float64: %s.astype(\"float32\")", array);
    else snprintf(why, sizeof why, "labels are uint8, int32 or int64: %s.astype(\"int64\")", array);
    unsigned char *buf = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    xd_status st = xd_zip_read(z, entry, array, NPZ_MAX_ENTRY, &buf, &len, err);
    return st != XD_OK ? st : xd_npy_parse_owned(buf, len, name, ALL_DTYPES, why, out, err);
}

/* "float32 [60000, 784]" for messages. */
static const char *described(const xd_npy_array *a, char *buf, size_t cap)
{
    xd_npy_describe(a, buf, cap);
    return buf;
}

/* The images' dtype and shape; the test set's must be the training set's
 * (ref: what x_train held, NULL for x_train itself). */
static xd_status check_images(const char *file, const char *array, const xd_npy_array *a, const xd_npz_data *ref,
                              xd_error *err)
{
    char what[160];
    if (a->dtype != XD_DTYPE_U8 && a->dtype != XD_DTYPE_F32 && a->dtype != XD_DTYPE_F64)
        return xd_error_set(err, XD_FORMAT, 0,
                            "%s: %s is %s: images are uint8 (scaled x/255), float32 or float64 (taken as they are): "
                            "%s.astype(\"uint8\") or %s.astype(\"float32\")",
                            file, array, xd_dtype_name(a->dtype), array, array);
    if (a->ndim != 3 && a->ndim != 4)
        return xd_error_set(err, XD_FORMAT, 0,
                            "%s: %s is %s: images are (count, rows, cols) or, channels last, (count, rows, cols, "
                            "channels)",
                            file, array, described(a, what, sizeof what));
    for (int i = 0; i < a->ndim; ++i)
        if (a->shape[i] == 0)
            return xd_error_set(err, XD_FORMAT, 0, "%s: %s is %s: no images, or images of zero size", file, array,
                                described(a, what, sizeof what));
    if (a->shape[0] > INT32_MAX)
        return xd_error_set(err, XD_FORMAT, 0, "%s: %s holds %lld images (at most %d)", file, array,
                            (long long)a->shape[0], INT32_MAX);
    int64_t c = a->ndim == 4 ? a->shape[3] : 1;
    if (ref && a->dtype != ref->x_dtype)
        return xd_error_set(err, XD_FORMAT, 0, "%s: %s is %s but x_train %s: give both the same dtype", file, array,
                            xd_dtype_name(a->dtype), xd_dtype_name(ref->x_dtype));
    if (ref && (a->shape[1] != ref->height || a->shape[2] != ref->width || c != ref->channels))
        return xd_error_set(err, XD_FORMAT, 0, "%s: %s holds %lldx%lldx%lld images, x_train %lldx%lldx%lld", file,
                            array, (long long)a->shape[1], (long long)a->shape[2], (long long)c, (long long)ref->height,
                            (long long)ref->width, (long long)ref->channels);
    return XD_OK;
}

/* The images of one set into s->x (float32 NCHW). */
static xd_status load_images(xd_zip *z, const char *file, const char *array, xd_npz_data *d, xd_npz_split *s,
                             xd_error *err)
{
    xd_npy_array a;
    const int first = s == &d->train;
    xd_status st = read_array(z, file, array, &a, err);
    if (st == XD_OK) st = check_images(file, array, &a, first ? NULL : d, err);
    if (st == XD_OK && first) {
        d->height = a.shape[1];
        d->width = a.shape[2];
        d->channels = a.ndim == 4 ? a.shape[3] : 1;
        d->x_dtype = a.dtype;
    }
    if (st == XD_OK && !(s->x = malloc(a.count * sizeof *s->x))) {
        xd_npy_free(&a);
        return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory for %s as float32", file, array);
    }
    if (st == XD_OK) {
        s->n = a.shape[0];
        int overflow = 0;
        int64_t bad = xd_images_to_nchw(a.data, a.dtype, s->n, d->height, d->width, d->channels, s->x, &overflow);
        if (bad >= 0)
            st = xd_error_set(err, XD_FORMAT, 0, "%s: %s[%lld] holds %s: images must be finite", file, array,
                              (long long)bad, overflow ? "a value beyond float32's range" : "a NaN or an infinity");
    }
    xd_npy_free(&a);
    return st;
}

/* Class indices of any integer dtype into int32, from 0; d->max_label the largest. */
static xd_status convert_labels(const char *file, const char *array, const xd_npy_array *a, xd_npz_data *d, int32_t *y,
                                xd_error *err)
{
    for (size_t i = 0; i < a->count; ++i) {
        int64_t v = a->dtype == XD_DTYPE_U8    ? ((const uint8_t *)a->data)[i]
                    : a->dtype == XD_DTYPE_I32 ? ((const int32_t *)a->data)[i]
                                               : ((const int64_t *)a->data)[i];
        if (v < 0 || v >= INT32_MAX)
            return xd_error_set(err, XD_FORMAT, 0, "%s: %s[%zu] is %lld: labels are class indices from 0%s", file,
                                array, i, (long long)v, v < 0 ? "" : " (below 2^31 - 1)");
        y[i] = (int32_t)v;
        if (y[i] > d->max_label) d->max_label = y[i];
    }
    return XD_OK;
}

/* The labels' shape and dtype, as many as the images. */
static xd_status check_labels(const char *file, const char *array, const char *images, const xd_npy_array *a, int64_t n,
                              xd_error *err)
{
    char what[160];
    if (a->ndim == 2 && a->shape[1] > 1)
        return xd_error_set(err, XD_FORMAT, 0,
                            "%s: %s is %s, one-hot: labels are class indices, (count,) or (count, 1): "
                            "%s.argmax(axis=1)",
                            file, array, described(a, what, sizeof what), array);
    if (a->ndim != 1 && !(a->ndim == 2 && a->shape[1] == 1))
        return xd_error_set(err, XD_FORMAT, 0, "%s: %s is %s: labels are (count,) or (count, 1)", file, array,
                            described(a, what, sizeof what));
    if (a->dtype == XD_DTYPE_F32 || a->dtype == XD_DTYPE_F64)
        return xd_error_set(err, XD_FORMAT, 0,
                            "%s: %s is %s: labels are integer class indices (uint8, int32 or int64): "
                            "%s.astype(\"int64\")",
                            file, array, xd_dtype_name(a->dtype), array);
    if (a->shape[0] != n)
        return xd_error_set(err, XD_FORMAT, 0, "%s: %s holds %lld labels but %s %lld images", file, array,
                            (long long)a->shape[0], images, (long long)n);
    return XD_OK;
}

static xd_status load_labels(xd_zip *z, const char *file, const char *array, const char *images, xd_npz_data *d,
                             xd_npz_split *s, xd_error *err)
{
    xd_npy_array a;
    xd_status st = read_array(z, file, array, &a, err);
    if (st == XD_OK) st = check_labels(file, array, images, &a, s->n, err);
    if (st == XD_OK) {
        s->y = malloc((size_t)s->n * sizeof *s->y + 1);
        st = s->y ? convert_labels(file, array, &a, d, s->y, err)
                  : xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory for %s", file, array);
    }
    xd_npy_free(&a);
    return st;
}

/* The four arrays, each present (else say what the archive holds). */
static xd_status load_all(xd_zip *z, const char *file, xd_npz_data *out, xd_error *err)
{
    static const char *const arrays[4] = {"x_train", "y_train", "x_test", "y_test"};
    for (int i = 0; i < 4; ++i) {
        char entry[32], names[512];
        snprintf(entry, sizeof entry, "%s.npy", arrays[i]);
        if (xd_zip_has(z, entry)) continue;
        xd_zip_names(z, names, sizeof names);
        return xd_error_set(err, XD_FORMAT, 0,
                            "%s: no array %s (an .npz data set holds x_train, y_train, x_test and y_test: "
                            "np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)); it holds: %s",
                            file, arrays[i], names[0] ? names : "nothing");
    }
    xd_status st = load_images(z, file, "x_train", out, &out->train, err);
    if (st == XD_OK) st = load_labels(z, file, "y_train", "x_train", out, &out->train, err);
    if (st == XD_OK) st = load_images(z, file, "x_test", out, &out->test, err);
    if (st == XD_OK) st = load_labels(z, file, "y_test", "x_test", out, &out->test, err);
    return st;
}

void xd_npz_data_free(xd_npz_data *d)
{
    if (!d) return;
    free(d->train.x);
    free(d->train.y);
    free(d->test.x);
    free(d->test.y);
    memset(d, 0, sizeof *d);
}

/* z (opened, or NULL when opening it failed: st) decoded into out; z closed. */
static xd_status decode(xd_status st, xd_zip *z, const char *file, xd_npz_data *out, xd_error *err)
{
    if (st == XD_OK) st = load_all(z, file, out, err);
    xd_zip_close(z);
    if (st != XD_OK) xd_npz_data_free(out);
    return st;
}

xd_status xd_npz_parse(const void *buf, size_t len, const char *file, xd_npz_data *out, xd_error *err)
{
    xd_status st = xd_check_parse_args("xd_npz_parse", buf, len, &file, out, sizeof *out, err);
    if (st != XD_OK) return st;
    xd_zip *z = NULL;
    st = xd_zip_open(buf ? buf : "", len, file, &z, err);
    return decode(st, z, file, out, err);
}

xd_status xd_npz_read(const char *path, xd_npz_data *out, xd_error *err)
{
    if (!path || !out) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_npz_read: a NULL path or output");
    memset(out, 0, sizeof *out);
    xd_zip *z = NULL;
    xd_status st = xd_zip_open_file(path, &z, err);
    return decode(st, z, path, out, err);
}
