/* Datasets: MNIST-format IDX files (Fashion-MNIST by default), an .npz as
 * Keras users keep theirs (io/npz.c), or a seeded synthetic set of the
 * same shapes, clearly labelled as such. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crossdev/hostmath.h"
#include "common/common.h"
#include "crossdev/io.h"
#include "crossdev/train.h"
#include "io/io.h"

#define XD_CLASSES 10

void xd_dataset_destroy(xd_dataset *d)
{
    if (!d) return;
    free(d->train_x);
    free(d->train_y);
    free(d->test_x);
    free(d->test_y);
    free(d);
}

/* "<dir>/<base>" or "<dir>/<base>.gz", whichever exists (plain first). */
static int find_file(const char *dir, const char *base, char *path, size_t cap)
{
    struct stat sb;
    snprintf(path, cap, "%s/%s", dir, base);
    if (stat(path, &sb) == 0) return 1;
    snprintf(path, cap, "%s/%s.gz", dir, base);
    return stat(path, &sb) == 0;
}

static uint64_t checksum(const xd_dataset *d)
{
    xd_hasher *h = xd_hasher_create();
    if (!h) return 0;
    const size_t px = (size_t)(d->height * d->width * d->channels);
    xd_hasher_update(h, d->train_x, (size_t)d->n_train * px * 4);
    xd_hasher_update(h, d->train_y, (size_t)d->n_train * 4);
    xd_hasher_update(h, d->test_x, (size_t)d->n_test * px * 4);
    xd_hasher_update(h, d->test_y, (size_t)d->n_test * 4);
    uint64_t sum = xd_hasher_digest(h);
    xd_hasher_destroy(h);
    return sum;
}

/* One training sample's image, as float32 in (H, W, C) order: the order
 * batch hashes are defined in, which every framework can produce. */
static void sample_hwc(const xd_dataset *d, int32_t i, float *out)
{
    const int64_t hw = d->height * d->width, c = d->channels;
    const float *x = d->train_x + (size_t)i * (size_t)(hw * c);
    for (int64_t p = 0; p < hw; ++p)
        for (int64_t ch = 0; ch < c; ++ch) out[p * c + ch] = x[ch * hw + p];
}

xd_status xd_dataset_batch_hashes(const xd_dataset *d, const int32_t *batches, int64_t steps, int64_t batch,
                                  uint64_t *out, xd_error *err)
{
    const size_t px = (size_t)(d->height * d->width * d->channels);
    xd_hasher *h = xd_hasher_create();
    float *hwc = malloc(px * sizeof *hwc + 4);
    int32_t *labels = malloc((size_t)batch * sizeof *labels + 4);
    xd_status st = h && hwc && labels ? XD_OK : XD_OUT_OF_HOST_MEMORY;
    if (st != XD_OK) xd_error_set(err, st, 0, "out of host memory (hashing batches of %lld samples)", (long long)batch);
    for (int64_t k = 0; k < steps && st == XD_OK; ++k) {
        const int32_t *idx = batches + (size_t)(k * batch);
        xd_hasher_reset(h);
        for (int64_t j = 0; j < batch; ++j) {
            sample_hwc(d, idx[j], hwc);
            xd_hasher_update(h, hwc, px * 4);
            labels[j] = d->train_y[idx[j]];
        }
        xd_hasher_update(h, labels, (size_t)batch * 4);
        out[k] = xd_hasher_digest(h);
    }
    xd_hasher_destroy(h);
    free(hwc);
    free(labels);
    return xd_error_return(err, st);
}

/* Loads one images/labels pair and checks they agree. */
/* The shape of one split: what load_pair found. */
typedef struct idx_split {
    int64_t n, h, w, c;
    uint32_t max_label;
} idx_split;

/* Images as float32 x/255.0f in NCHW: channels-last files (count, rows,
 * cols, channels) are transposed; 3-D files have one channel.  The rule of
 * uint8 images in an .npz too (xd_images_to_nchw), so the same bytes give
 * the same data either way. */
static void decode_images(const xd_idx_array *img, const idx_split *s, float *x)
{
    int overflow;
    (void)xd_images_to_nchw(img->data, XD_DTYPE_U8, s->n, s->h, s->w, s->c, x, &overflow); /* bytes: all finite */
}

static xd_status check_pair(const xd_idx_array *img, const xd_idx_array *lbl, const char *ip, const char *lp,
                            xd_error *err)
{
    if (img->ndim != 3 && img->ndim != 4)
        return xd_error_set(err, XD_FORMAT, 0,
                            "%s: images must have 3 dimensions (count, rows, cols) or 4 (count, rows, cols, "
                            "channels), found %d",
                            ip, img->ndim);
    if (lbl->ndim != 1)
        return xd_error_set(err, XD_FORMAT, 0, "%s: labels must have 1 dimension, found %d", lp, lbl->ndim);
    if (img->dims[0] != lbl->dims[0])
        return xd_error_set(err, XD_FORMAT, 0, "%s has %u images but %s has %u labels", ip, img->dims[0], lp,
                            lbl->dims[0]);
    if (img->count == 0 || lbl->count == 0)
        return xd_error_set(err, XD_FORMAT, 0, "%s: no images, or images of zero size", ip);
    return XD_OK;
}

static xd_status load_pair(const char *dir, const char *img_base, const char *lbl_base, idx_split *s, float **x,
                           int32_t **y, xd_error *err)
{
    char ip[1024], lp[1024];
    if (!find_file(dir, img_base, ip, sizeof ip)) {
        xd_error_msg(err, "%s/%s(.gz): no such file", dir, img_base);
        return XD_IO;
    }
    if (!find_file(dir, lbl_base, lp, sizeof lp)) {
        xd_error_msg(err, "%s/%s(.gz): no such file", dir, lbl_base);
        return XD_IO;
    }
    xd_idx_array img = {0}, lbl = {0};
    xd_status st = xd_idx_read(ip, &img, err);
    if (st != XD_OK) return st;
    st = xd_idx_read(lp, &lbl, err);
    if (st != XD_OK) {
        xd_idx_free(&img);
        return st;
    }
    st = check_pair(&img, &lbl, ip, lp, err);
    if (st == XD_OK) {
        s->n = img.dims[0];
        s->h = img.dims[1];
        s->w = img.dims[2];
        s->c = img.ndim == 4 ? img.dims[3] : 1;
        s->max_label = 0;
        *x = malloc(img.count * sizeof **x);
        *y = malloc(lbl.count * sizeof **y);
        if (!*x || !*y) {
            free(*x);
            free(*y);
            *x = NULL;
            *y = NULL;
            st = xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory reading %s", ip);
        } else {
            decode_images(&img, s, *x);
            for (size_t i = 0; i < lbl.count; ++i) {
                (*y)[i] = (int32_t)lbl.data[i];
                if (lbl.data[i] > s->max_label) s->max_label = lbl.data[i];
            }
        }
    }
    xd_idx_free(&img);
    xd_idx_free(&lbl);
    return st;
}

static xd_status load_idx(const char *dir, xd_dataset **out, xd_error *err)
{
    if (!dir || !out) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_dataset_load_idx: a NULL dir or output");
    *out = NULL;
    xd_dataset *d = calloc(1, sizeof *d);
    if (!d) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory", dir);
    idx_split tr = {0}, te = {0};
    xd_status st =
        load_pair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", &tr, &d->train_x, &d->train_y, err);
    if (st == XD_OK)
        st = load_pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", &te, &d->test_x, &d->test_y, err);
    if (st == XD_OK && (te.h != tr.h || te.w != tr.w || te.c != tr.c))
        st = xd_error_set(err, XD_FORMAT, 0, "%s: test images are %lldx%lldx%lld, training images %lldx%lldx%lld", dir,
                          (long long)te.h, (long long)te.w, (long long)te.c, (long long)tr.h, (long long)tr.w,
                          (long long)tr.c);
    if (st != XD_OK) {
        xd_dataset_destroy(d);
        return st;
    }
    d->n_train = tr.n;
    d->n_test = te.n;
    d->height = tr.h;
    d->width = tr.w;
    d->channels = tr.c;
    /* the classes the labels reach (the model must have at least these) */
    d->classes = (int64_t)(tr.max_label > te.max_label ? tr.max_label : te.max_label) + 1;
    snprintf(d->name, sizeof d->name, "%s", strstr(dir, "fashion") ? "fashion-mnist" : "mnist-format");
    snprintf(d->source, sizeof d->source, "%s", dir);
    snprintf(d->scale, sizeof d->scale, "x/255");
    d->checksum = checksum(d);
    *out = d;
    return XD_OK;
}

xd_status xd_dataset_load_idx(const char *dir, xd_dataset **out, xd_error *err)
{
    return xd_error_return(err, load_idx(dir, out, err));
}

/* How an .npz's images became float32 (data.scale). */
static const char *npz_scale(xd_dtype dtype)
{
    return dtype == XD_DTYPE_U8    ? "x/255"
           : dtype == XD_DTYPE_F32 ? "as stored (float32)"
                                   : "float64 rounded to float32";
}

static xd_status load_npz(const char *path, xd_dataset **out, xd_error *err)
{
    if (!path || !out) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "xd_dataset_load_npz: a NULL path or output");
    *out = NULL;
    xd_dataset *d = calloc(1, sizeof *d);
    if (!d) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "%s: out of host memory", path);
    if (strlen(path) >= sizeof d->source) {
        free(d);
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "%.200s...: the path is longer than %zu bytes", path,
                            sizeof d->source - 1);
    }
    xd_npz_data z;
    xd_status st = xd_npz_read(path, &z, err);
    if (st != XD_OK) {
        free(d);
        return st;
    }
    d->train_x = z.train.x; /* the arrays move into d */
    d->train_y = z.train.y;
    d->test_x = z.test.x;
    d->test_y = z.test.y;
    d->n_train = z.train.n;
    d->n_test = z.test.n;
    d->height = z.height;
    d->width = z.width;
    d->channels = z.channels;
    d->classes = (int64_t)z.max_label + 1;
    snprintf(d->name, sizeof d->name, "npz");
    snprintf(d->source, sizeof d->source, "%s", path);
    snprintf(d->scale, sizeof d->scale, "%s", npz_scale(z.x_dtype));
    d->checksum = checksum(d);
    *out = d;
    return XD_OK;
}

xd_status xd_dataset_load_npz(const char *path, xd_dataset **out, xd_error *err)
{
    return xd_error_return(err, load_npz(path, out, err));
}

xd_status xd_dataset_synthetic(uint64_t seed, int64_t n_train, int64_t n_test, xd_dataset **out, xd_error *err)
{
    return xd_dataset_synthetic_shaped(seed, n_train, n_test, 28, 28, 1, XD_CLASSES, out, err);
}

/* What a synthetic set may be: XD_INVALID_ARGUMENT naming the limits and the values. */
static xd_status synthetic_args(int64_t n_train, int64_t n_test, int64_t height, int64_t width, int64_t channels,
                                int64_t classes, xd_dataset **out, xd_error *err)
{
    if (!out) return xd_error_set(err, XD_INVALID_ARGUMENT, 0, "synthetic dataset: NULL output");
    if (n_train < 1 || n_test < 1 || n_train > 10000000 || n_test > 10000000 || height < 1 || width < 1 ||
        channels < 1 || height * width * channels > (1 << 24) || classes < 2 || classes > 100000)
        return xd_error_set(err, XD_INVALID_ARGUMENT, 0,
                            "synthetic dataset: need 1..10000000 training and test samples, images of 1..%d values "
                            "and 2..100000 classes; got %lld and %lld samples of %lldx%lldx%lld in %lld classes",
                            1 << 24, (long long)n_train, (long long)n_test, (long long)height, (long long)width,
                            (long long)channels, (long long)classes);
    *out = NULL;
    return XD_OK;
}

static xd_status synthetic(uint64_t seed, int64_t n_train, int64_t n_test, int64_t height, int64_t width,
                           int64_t channels, int64_t classes, xd_dataset **out, xd_error *err)
{
    xd_status st = synthetic_args(n_train, n_test, height, width, channels, classes, out, err);
    if (st != XD_OK) return st;
    xd_dataset *d = calloc(1, sizeof *d);
    if (!d) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory (synthetic dataset)");
    d->height = height;
    d->width = width;
    d->channels = channels;
    d->classes = classes;
    d->n_train = n_train;
    d->n_test = n_test;
    d->synthetic = 1;
    const size_t px = (size_t)(height * width * channels);
    d->train_x = malloc((size_t)n_train * px * 4);
    d->train_y = malloc((size_t)n_train * 4);
    d->test_x = malloc((size_t)n_test * px * 4);
    d->test_y = malloc((size_t)n_test * 4);
    uint8_t *templ = malloc((size_t)classes * px);
    if (!d->train_x || !d->train_y || !d->test_x || !d->test_y || !templ) {
        free(templ);
        xd_dataset_destroy(d);
        return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0,
                            "out of host memory (synthetic dataset of %lld + %lld images of %zu values)",
                            (long long)n_train, (long long)n_test, px);
    }
    /* Class templates from stream 0x53594e00 + class; each image is its class
     * template half the time per pixel (NCHW order), noise otherwise
     * (streams by index).  28x28x1 in 10 classes gives the same bits as
     * before images had other shapes. */
    for (int64_t c = 0; c < classes; ++c)
        for (size_t p = 0; p < px; ++p)
            templ[(size_t)c * px + p] = (uint8_t)(xd_host_philox_word(seed, 0x53594e00u + (uint64_t)c, p) >> 24);
    for (int part = 0; part < 2; ++part) {
        int64_t n = part ? n_test : n_train;
        float *x = part ? d->test_x : d->train_x;
        int32_t *y = part ? d->test_y : d->train_y;
        uint64_t stream = (part ? UINT64_C(0x5445535400000000) : UINT64_C(0x5452414e00000000));
        for (int64_t i = 0; i < n; ++i) {
            uint64_t base = (uint64_t)i * (px + 1);
            int32_t label = (int32_t)(xd_host_philox_word(seed, stream, base) % (uint32_t)classes);
            y[i] = label;
            for (size_t p = 0; p < px; ++p) {
                uint32_t r = xd_host_philox_word(seed, stream, base + 1 + p);
                uint8_t v = (r & 1u) ? templ[(size_t)label * px + p] : (uint8_t)(r >> 24);
                x[(size_t)i * px + p] = (float)v / 255.0f;
            }
        }
    }
    free(templ);
    snprintf(d->name, sizeof d->name, "synthetic");
    snprintf(d->scale, sizeof d->scale, "x/255");
    snprintf(d->source, sizeof d->source, "seeded synthetic set (seed %llu), NOT real data", (unsigned long long)seed);
    d->checksum = checksum(d);
    *out = d;
    return XD_OK;
}

xd_status xd_dataset_synthetic_shaped(uint64_t seed, int64_t n_train, int64_t n_test, int64_t height, int64_t width,
                                      int64_t channels, int64_t classes, xd_dataset **out, xd_error *err)
{
    return xd_error_return(err, synthetic(seed, n_train, n_test, height, width, channels, classes, out, err));
}
