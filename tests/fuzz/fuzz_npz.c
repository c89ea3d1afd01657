/* libFuzzer entry point for the .npz data-set reader (spec's zip reader,
 * the data-set .npy parser, the conversions and checks of io/npz.c): any
 * input must yield four consistent arrays (every image finite, every
 * label in 0..max_label, the sizes the shapes promise) or an error with
 * nothing allocated; never a crash, a leak or an allocation beyond the
 * limits.
 *
 * An input that starts with "PK" is an archive as it is.  Any other is
 * four .npy files (x_train, y_train, x_test, y_test: the first six bytes
 * give the lengths of the first three as 16-bit little-endian numbers, the
 * fourth takes the rest) wrapped here into a valid archive: a mutation of
 * an entry would otherwise break its CRC, and never reach the .npy parser
 * and npz.c's checks behind it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "io/io.h"
#include "zip_bytes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_split(const xd_npz_data *d, const xd_npz_split *s)
{
    const size_t px = (size_t)(d->height * d->width * d->channels);
    if (s->n < 1 || !s->x || !s->y) abort();
    for (size_t i = 0; i < (size_t)s->n * px; i++)
        if (!isfinite(s->x[i])) abort();
    for (int64_t i = 0; i < s->n; i++)
        if (s->y[i] < 0 || s->y[i] > d->max_label) abort();
}

/* The four .npy files of data (after the six length bytes), stored. */
static unsigned char *wrap(const uint8_t *data, size_t size, size_t *len)
{
    static const char *const names[4] = {"x_train.npy", "y_train.npy", "x_test.npy", "y_test.npy"};
    if (size < 6) return NULL;
    zip_source_t *src = NULL;
    zip_t *z = archive_new(&src);
    size_t at = 6;
    for (int i = 0; z && i < 4; ++i) {
        size_t left = size - at, n = i < 3 ? (size_t)(data[2 * i] | data[2 * i + 1] << 8) : left;
        if (n > left) n = left;
        zip_source_t *e = zip_source_buffer(z, data + at, n, 0);
        if (!e || zip_file_add(z, names[i], e, ZIP_FL_ENC_UTF_8) < 0) zip_source_free(e);
        else zip_set_file_compression(z, (zip_uint64_t)i, ZIP_CM_STORE, 0);
        at += n;
    }
    return archive_bytes(z, src, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = size;
    unsigned char *wrapped = size >= 2 && data[0] == 'P' && data[1] == 'K' ? NULL : wrap(data, size, &len);
    if (!wrapped && !(size >= 2 && data[0] == 'P' && data[1] == 'K')) return 0;
    xd_npz_data d;
    xd_error err;
    if (xd_npz_parse(wrapped ? wrapped : data, len, "fuzz.npz", &d, &err) == XD_OK) {
        if (d.height < 1 || d.width < 1 || d.channels < 1) abort();
        check_split(&d, &d.train);
        check_split(&d, &d.test);
    } else if (d.train.x || d.train.y || d.test.x || d.test.y) {
        abort();
    }
    xd_npz_data_free(&d);
    free(wrapped);
    return 0;
}
