/* libFuzzer entry point for crossdev model files (io/torch_model.c:
 * crossdev.torch.export's zip of crossdev-model.json and .npy weights;
 * behind it the spec's JSON reader with its PyTorch fields, "pads" and
 * "batchnorm", the shapes, spec's zip reader and the .npy parser): any
 * input must give a spec with 1..32 layers and weights each of the count
 * its shape promises, or an error with nothing allocated; never a crash, a
 * leak or an allocation beyond the limits.
 *
 * An input that starts with "PK" is an archive as it is.  Any other is
 * wrapped here into a valid archive, so that a mutation reaches the
 * readers behind the CRCs: the manifest up to the first NUL byte, then
 * entries, each a name up to a NUL, a 16-bit little-endian length and that
 * many bytes (or what is left). */
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "crossdev/io.h"
#include "zip_bytes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next field of the input: bytes up to a NUL (or the end). */
static size_t field(const uint8_t *data, size_t size, size_t at)
{
    const uint8_t *nul = memchr(data + at, 0, size - at);
    return nul ? (size_t)(nul - data) : size;
}

static void add(zip_t *z, const char *name, const uint8_t *p, size_t n)
{
    zip_source_t *e = zip_source_buffer(z, p, n, 0);
    zip_int64_t i = e ? zip_file_add(z, name, e, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE) : -1;
    if (i < 0) zip_source_free(e);
    else zip_set_file_compression(z, (zip_uint64_t)i, ZIP_CM_STORE, 0);
}

static unsigned char *wrap(const uint8_t *data, size_t size, size_t *len)
{
    zip_source_t *src = NULL;
    zip_t *z = archive_new(&src);
    size_t end = field(data, size, 0), at = end + 1;
    if (z) add(z, "crossdev-model.json", data, end);
    while (z && at < size) {
        char name[128];
        size_t nend = field(data, size, at), nlen = nend - at;
        snprintf(name, sizeof name, "%.*s", (int)(nlen < 100 ? nlen : 100), (const char *)data + at);
        at = nend + 1;
        size_t n = at + 2 <= size ? (size_t)(data[at] | data[at + 1] << 8) : 0;
        at += 2;
        if (at > size) break;
        if (n > size - at) n = size - at;
        if (name[0]) add(z, name, data + at, n);
        at += n;
    }
    return archive_bytes(z, src, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const int raw = size >= 2 && data[0] == 'P' && data[1] == 'K';
    size_t len = size;
    unsigned char *wrapped = raw ? NULL : wrap(data, size, &len);
    if (!raw && !wrapped) return 0;
    xd_model_spec spec;
    xd_weights w;
    xd_error err;
    if (xd_crossdev_model_parse(wrapped ? wrapped : data, len, "fuzz.xdmodel", &spec, &w, &err) == XD_OK) {
        if (spec.nlayers < 1 || spec.nlayers > XD_MAX_LAYERS) abort();
        for (size_t i = 0; i < w.n; i++) {
            size_t count = 1;
            for (int d = 0; d < w.items[i].ndim; d++) count *= (size_t)w.items[i].shape[d];
            if (count != w.items[i].count || !w.items[i].data) abort();
        }
    } else if (w.n || w.items) {
        abort();
    }
    xd_weights_free(&w);
    free(wrapped);
    return 0;
}
