/* Datasets: MNIST-format IDX files (Fashion-MNIST by default) or a seeded
 * synthetic set of the same shapes, clearly labelled as such. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "xd_math.h"
#include "common/common.h"
#include "crossdev/crossdev.h"

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
    XXH3_state_t *s = XXH3_createState();
    if (!s) return 0;
    XXH3_64bits_reset(s);
    XXH3_64bits_update(s, d->train_x, (size_t)d->n_train * (size_t)(d->height * d->width) * 4);
    XXH3_64bits_update(s, d->train_y, (size_t)d->n_train * 4);
    XXH3_64bits_update(s, d->test_x, (size_t)d->n_test * (size_t)(d->height * d->width) * 4);
    XXH3_64bits_update(s, d->test_y, (size_t)d->n_test * 4);
    uint64_t h = XXH3_64bits_digest(s);
    XXH3_freeState(s);
    return h;
}

/* Loads one images/labels pair and checks they agree. */
static xd_status load_pair(const char *dir, const char *img_base, const char *lbl_base, int64_t *n, int64_t *h,
                           int64_t *w, float **x, int32_t **y, xd_error *err)
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
    if (img.ndim != 3) {
        xd_error_msg(err, "%s: images must have 3 dimensions (count, rows, cols), found %d", ip, img.ndim);
        st = XD_FORMAT;
    } else if (lbl.ndim != 1) {
        xd_error_msg(err, "%s: labels must have 1 dimension, found %d", lp, lbl.ndim);
        st = XD_FORMAT;
    } else if (img.dims[0] != lbl.dims[0]) {
        xd_error_msg(err, "%s has %u images but %s has %u labels", ip, img.dims[0], lp, lbl.dims[0]);
        st = XD_FORMAT;
    } else if (img.count == 0 || lbl.count == 0) {
        xd_error_msg(err, "%s: no images, or images of zero size", ip);
        st = XD_FORMAT;
    }
    for (size_t i = 0; st == XD_OK && i < lbl.count; ++i) {
        if (lbl.data[i] >= XD_CLASSES) {
            xd_error_msg(err, "%s: label %u at index %zu is not a class 0..%d", lp, lbl.data[i], i, XD_CLASSES - 1);
            st = XD_FORMAT;
        }
    }
    if (st == XD_OK) {
        *n = img.dims[0];
        *h = img.dims[1];
        *w = img.dims[2];
        *x = malloc(img.count * sizeof **x);
        *y = malloc(lbl.count * sizeof **y);
        if (!*x || !*y) {
            free(*x);
            free(*y);
            *x = NULL;
            *y = NULL;
            xd_error_msg(err, "out of host memory reading %s", ip);
            st = XD_OUT_OF_HOST_MEMORY;
        } else {
            /* x/255.0f: one correctly rounded float division on the host. */
            for (size_t i = 0; i < img.count; ++i) (*x)[i] = (float)img.data[i] / 255.0f;
            for (size_t i = 0; i < lbl.count; ++i) (*y)[i] = lbl.data[i];
        }
    }
    xd_idx_free(&img);
    xd_idx_free(&lbl);
    return st;
}

static xd_status load_idx(const char *dir, xd_dataset **out, xd_error *err)
{
    if (!dir || !out) return XD_INVALID_ARGUMENT;
    *out = NULL;
    xd_dataset *d = calloc(1, sizeof *d);
    if (!d) return XD_OUT_OF_HOST_MEMORY;
    int64_t h2, w2;
    xd_status st = load_pair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", &d->n_train, &d->height,
                             &d->width, &d->train_x, &d->train_y, err);
    if (st == XD_OK)
        st = load_pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", &d->n_test, &h2, &w2, &d->test_x,
                       &d->test_y, err);
    if (st == XD_OK && (h2 != d->height || w2 != d->width)) {
        xd_error_msg(err, "%s: test images are %lldx%lld, training images %lldx%lld", dir, (long long)h2, (long long)w2,
                     (long long)d->height, (long long)d->width);
        st = XD_FORMAT;
    }
    if (st != XD_OK) {
        xd_dataset_destroy(d);
        return st;
    }
    d->classes = XD_CLASSES;
    snprintf(d->name, sizeof d->name, "%s", strstr(dir, "fashion") ? "fashion-mnist" : "mnist-format");
    snprintf(d->source, sizeof d->source, "%s", dir);
    d->checksum = checksum(d);
    *out = d;
    return XD_OK;
}

xd_status xd_dataset_load_idx(const char *dir, xd_dataset **out, xd_error *err)
{
    return xd_error_return(err, load_idx(dir, out, err));
}

xd_status xd_dataset_synthetic(uint64_t seed, int64_t n_train, int64_t n_test, xd_dataset **out)
{
    if (!out || n_train < 1 || n_test < 1 || n_train > 10000000 || n_test > 10000000) return XD_INVALID_ARGUMENT;
    *out = NULL;
    xd_dataset *d = calloc(1, sizeof *d);
    if (!d) return XD_OUT_OF_HOST_MEMORY;
    d->height = d->width = 28;
    d->classes = XD_CLASSES;
    d->n_train = n_train;
    d->n_test = n_test;
    d->synthetic = 1;
    const size_t px = 28 * 28;
    d->train_x = malloc((size_t)n_train * px * 4);
    d->train_y = malloc((size_t)n_train * 4);
    d->test_x = malloc((size_t)n_test * px * 4);
    d->test_y = malloc((size_t)n_test * 4);
    if (!d->train_x || !d->train_y || !d->test_x || !d->test_y) {
        xd_dataset_destroy(d);
        return XD_OUT_OF_HOST_MEMORY;
    }
    /* Class templates from stream 0x53594e00 + class; each image is its class
     * template half the time per pixel, noise otherwise (streams by index). */
    uint8_t templ[XD_CLASSES][28 * 28];
    for (int c = 0; c < XD_CLASSES; ++c)
        for (size_t p = 0; p < px; ++p)
            templ[c][p] = (uint8_t)(xd_philox_word(seed, 0x53594e00u + (unsigned)c, p) >> 24);
    for (int part = 0; part < 2; ++part) {
        int64_t n = part ? n_test : n_train;
        float *x = part ? d->test_x : d->train_x;
        int32_t *y = part ? d->test_y : d->train_y;
        uint64_t stream = (part ? UINT64_C(0x5445535400000000) : UINT64_C(0x5452414e00000000));
        for (int64_t i = 0; i < n; ++i) {
            uint64_t base = (uint64_t)i * (px + 1);
            int32_t label = (int32_t)(xd_philox_word(seed, stream, base) % XD_CLASSES);
            y[i] = label;
            for (size_t p = 0; p < px; ++p) {
                uint32_t r = xd_philox_word(seed, stream, base + 1 + p);
                uint8_t v = (r & 1u) ? templ[label][p] : (uint8_t)(r >> 24);
                x[(size_t)i * px + p] = (float)v / 255.0f;
            }
        }
    }
    snprintf(d->name, sizeof d->name, "synthetic");
    snprintf(d->source, sizeof d->source, "seeded synthetic set (seed %llu), NOT real data", (unsigned long long)seed);
    d->checksum = checksum(d);
    *out = d;
    return XD_OK;
}
