#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void release(xdt *t)
{
    xd_context_destroy(t->ctx);
    xd_device_list_destroy(t->list);
}

int xdt_init(xdt *t, const char *name, int argc, char **argv)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->release = release; /* also after a failed init, as the list may exist */
    const char *want = NULL;
    xd_mode mode = XD_MODE_REPRODUCIBLE;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) want = argv[++i];
        else if (strcmp(argv[i], "--small") == 0) t->small = 1;
        else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            if (xd_mode_parse(argv[++i], &mode) != XD_OK) {
                fprintf(stderr, "%s: unknown mode '%s'\n", name, argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: %s --device ID [--small] [--mode reproducible|fast]\n", name);
            return 2;
        }
    }
    if (!want) {
        fprintf(stderr, "%s: --device ID is required\n", name);
        return 2;
    }
    xd_error err;
    if (xd_device_list_create(&t->list, &err) != XD_OK) {
        fprintf(stderr, "%s: %s\n", name, err.message);
        return 1;
    }
    for (size_t i = 0; i < xd_device_list_count(t->list); ++i)
        if (strcmp(xd_device_list_get(t->list, i)->id, want) == 0) t->dev = xd_device_list_get(t->list, i);
    if (!t->dev) {
        fprintf(stderr, "%s: FAIL: device '%s' is not present (%zu devices found)\n", name, want,
                xd_device_list_count(t->list));
        return 1;
    }
    xd_status st = xd_context_create(t->dev, mode, &t->ctx);
    if (st != XD_OK) {
        fprintf(stderr, "%s: FAIL: context on %s: %s: %s\n", name, want, xd_status_name(st),
                xd_context_last_error(t->ctx));
        return 1;
    }
    printf("%s on %s (%s, %s)\n", name, t->dev->id, xd_mode_string(mode), xd_context_build_options(t->ctx));
    return 0;
}

int xdt_ok(xdt *t, xd_status st, const char *what)
{
    return xdt_check(t, st == XD_OK, "%s: %s: %s", what, xd_status_name(st), xd_context_last_error(t->ctx));
}

xd_tensor *xdt_upload(xdt *t, xd_dtype dtype, int ndim, const int64_t *shape, const void *data)
{
    xd_tensor *x = NULL;
    if (!xdt_ok(t, xd_tensor_create(t->ctx, dtype, ndim, shape, &x), "tensor_create")) return NULL;
    if (data && !xdt_ok(t, xd_tensor_write(x, data, xd_tensor_count(x) * 4), "tensor_write")) {
        xd_tensor_destroy(x);
        return NULL;
    }
    return x;
}

xd_tensor *xdt_empty(xdt *t, int ndim, const int64_t *shape)
{
    xd_tensor *x = xdt_upload(t, XD_DTYPE_F32, ndim, shape, NULL);
    if (x) xd_tensor_fill_zero(x);
    return x;
}

float *xdt_download(xdt *t, const xd_tensor *x)
{
    if (!x) return NULL;
    float *h = malloc(xd_tensor_count(x) * 4);
    if (!h) {
        xdt_check(t, 0, "out of memory");
        return NULL;
    }
    if (!xdt_ok(t, xd_tensor_read(x, h, xd_tensor_count(x) * 4), "tensor_read")) {
        free(h);
        return NULL;
    }
    return h;
}
