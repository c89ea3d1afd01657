/* .npz data sets without a device (host/io/npz.c, spec/zip.c, the data-set
 * side of host/io/npy.c):
 *   - the .npy dtypes a data set may hold ('|u1', '<i8', '<f8'), while the
 *     tensors' reader keeps refusing them with its old message;
 *   - the images' conversion: uint8 x/255.0f, channels last to NCHW, float64
 *     rounded (x/255.0 in float64 rounds to the float32 quotient for every
 *     byte), NaN and overflow found;
 *   - archives made here (stored entries): every refusal named, every
 *     truncation of a valid one refused cleanly, extra entries ignored;
 *   - the seed corpus numpy wrote (tests/python/make_npz_corpus.py):
 *     valid_* decode to the pixels and labels it documents, invalid_* are
 *     refused.
 * usage: test_npz CORPUS-DIR (tests/fuzz/corpus/npz) */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "io/io.h"

static xdt T = {.name = "test_npz"};
static xd_error err;

/* ---- .npy bytes (version 1.0) ---------------------------------------------------------- */
typedef struct bytes {
    unsigned char b[8192];
    size_t n;
} bytes;

/* descr and shape text ("(2, 3)"), then nbytes of data from src. */
static void npy(bytes *o, const char *descr, const char *shape, const void *src, size_t nbytes)
{
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    while ((10 + len + 1) % 64) dict[len++] = ' ';
    dict[len++] = '\n';
    memcpy(o->b, "\x93NUMPY\x01\x00", 8);
    o->b[8] = (unsigned char)(len & 0xff);
    o->b[9] = (unsigned char)(len >> 8);
    memcpy(o->b + 10, dict, (size_t)len);
    memcpy(o->b + 10 + len, src, nbytes);
    o->n = 10 + (size_t)len + nbytes;
}

/* ---- zip archives of stored entries ------------------------------------------------------ */
static void le(unsigned char *p, uint32_t v, int n)
{
    for (int i = 0; i < n; ++i) p[i] = (unsigned char)(v >> (8 * i));
}

typedef struct entry {
    const char *name;
    const bytes *data;
} entry;

/* A local header and the data per entry, the central directory, its end. */
static size_t zip(unsigned char *out, const entry *e, int n)
{
    size_t at = 0, offs[8];
    for (int i = 0; i < n; ++i) {
        uint32_t crc = (uint32_t)crc32(0, e[i].data->b, (uInt)e[i].data->n), size = (uint32_t)e[i].data->n;
        size_t nl = strlen(e[i].name);
        unsigned char *h = out + (offs[i] = at);
        memset(h, 0, 30);
        le(h, 0x04034b50, 4), le(h + 4, 20, 2), le(h + 12, 0x21, 2), le(h + 14, crc, 4);
        le(h + 18, size, 4), le(h + 22, size, 4), le(h + 26, (uint32_t)nl, 2);
        memcpy(h + 30, e[i].name, nl);
        memcpy(h + 30 + nl, e[i].data->b, size);
        at += 30 + nl + size;
    }
    size_t cd = at;
    for (int i = 0; i < n; ++i) {
        size_t nl = strlen(e[i].name);
        unsigned char *h = out + at, *l = out + offs[i];
        memset(h, 0, 46);
        le(h, 0x02014b50, 4), le(h + 4, 20, 2), le(h + 6, 20, 2);
        memcpy(h + 12, l + 10, 16); /* time, date, CRC, sizes */
        le(h + 28, (uint32_t)nl, 2), le(h + 42, (uint32_t)offs[i], 4);
        memcpy(h + 46, e[i].name, nl);
        at += 46 + nl;
    }
    unsigned char *end = out + at;
    memset(end, 0, 22);
    le(end, 0x06054b50, 4), le(end + 8, (uint32_t)n, 2), le(end + 10, (uint32_t)n, 2);
    le(end + 12, (uint32_t)(at - cd), 4), le(end + 16, (uint32_t)cd, 4);
    return at + 22;
}

/* ---- the .npy side ----------------------------------------------------------------------- */
static void test_npy_dtypes(void)
{
    static const unsigned char u8[6] = {0, 1, 127, 128, 254, 255};
    static const int64_t i64[3] = {-5, INT64_C(1) << 40, 7};
    static const double f64[2] = {0.1, -1e300};
    const struct {
        const char *descr, *shape;
        const void *src;
        size_t nbytes, count;
        xd_dtype dtype;
    } cases[] = {{"|u1", "(2, 3)", u8, 6, 6, XD_DTYPE_U8},
                 {"<i8", "(3,)", i64, 24, 3, XD_DTYPE_I64},
                 {"<f8", "(2, 1)", f64, 16, 2, XD_DTYPE_F64}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        bytes b;
        npy(&b, cases[i].descr, cases[i].shape, cases[i].src, cases[i].nbytes);
        xd_npy_array a;
        xd_status st = xd_npy_parse(b.b, b.n, "t.npy", &a, &err);
        char want[128];
        snprintf(want, sizeof want, "t.npy: unsupported dtype '%s' (only '<f4' and '<i4' are supported)",
                 cases[i].descr);
        xdt_check(&T, st == XD_FORMAT && strcmp(err.message, want) == 0 && !a.data,
                  "xd_npy_parse still refuses %s as before: %s", cases[i].descr, err.message);
        unsigned char *own = malloc(b.n);
        memcpy(own, b.b, b.n);
        st = xd_npy_parse_owned(own, b.n, "t.npy", 1u << cases[i].dtype, "why", &a, &err);
        xdt_check(&T,
                  st == XD_OK && a.dtype == cases[i].dtype && a.count == cases[i].count &&
                      memcmp(a.data, cases[i].src, cases[i].nbytes) == 0,
                  "the data-set reader takes %s, values intact: %s", cases[i].descr, err.message);
        xd_npy_free(&a);
        own = malloc(b.n);
        memcpy(own, b.b, b.n);
        st = xd_npy_parse_owned(own, b.n, "t.npy", 1u << XD_DTYPE_F32, "images are float32", &a, &err);
        xdt_check(&T, st == XD_FORMAT && strstr(err.message, "; images are float32)") && !a.data,
                  "a dtype the caller does not take is refused with its reason: %s", err.message);
    }
    bytes b;
    npy(&b, ">f4", "(1,)", "abcd", 4);
    unsigned char *own = malloc(b.n);
    memcpy(own, b.b, b.n);
    xd_npy_array a;
    xd_status st = xd_npy_parse_owned(own, b.n, "t.npy", 1u << XD_DTYPE_F32, "why", &a, &err);
    xdt_check(&T, st == XD_FORMAT && strstr(err.message, "'>f4' (big-endian float32; why)"),
              "big-endian named as such: %s", err.message);
}

/* ---- the images' conversion ------------------------------------------------------------- */
static void test_images(void)
{
    uint8_t u8[256];
    double f64[256];
    float x[256], y[256];
    int overflow = 0;
    for (int v = 0; v < 256; ++v) u8[v] = (uint8_t)v, f64[v] = v / 255.0;
    int64_t bad = xd_images_to_nchw(u8, XD_DTYPE_U8, 1, 16, 16, 1, x, &overflow);
    int64_t bad64 = xd_images_to_nchw(f64, XD_DTYPE_F64, 1, 16, 16, 1, y, &overflow);
    xdt_check(&T, bad < 0 && bad64 < 0 && x[0] == 0.0f && x[255] == 1.0f && x[51] == 0.2f,
              "uint8: 0 -> 0, 51 -> 0.2f, 255 -> 1");
    xdt_check(&T, memcmp(x, y, sizeof x) == 0, "float64 v/255.0 rounds to the float32 quotient for every byte");
    /* (2 images, 2x1, 3 channels) channels last -> NCHW */
    uint8_t hwc[12];
    for (int i = 0; i < 12; ++i) hwc[i] = (uint8_t)i;
    xd_images_to_nchw(hwc, XD_DTYPE_U8, 2, 2, 1, 3, x, &overflow);
    static const int want[12] = {0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11};
    int same = 1;
    for (int i = 0; i < 12; ++i) same &= x[i] == (float)want[i] / 255.0f;
    xdt_check(&T, same, "channels last becomes NCHW");
    float f32[8] = {0, 1, 2, 3, 4, NAN, 6, 7};
    bad = xd_images_to_nchw(f32, XD_DTYPE_F32, 4, 1, 2, 1, x, &overflow);
    xdt_check(&T, bad == 2 && !overflow && x[0] == 0 && x[3] == 3, "float32 as stored; the image with a NaN: %lld",
              (long long)bad);
    double big[4] = {0, 1e39, 0, 0};
    bad = xd_images_to_nchw(big, XD_DTYPE_F64, 2, 1, 2, 1, x, &overflow);
    xdt_check(&T, bad == 0 && overflow, "a float64 beyond float32's range is found as such");
}

/* ---- archives made here ----------------------------------------------------------------- */
typedef struct set {
    bytes xtr, ytr, xte, yte;
} set;

/* 3 training and 2 test images of 2x2 uint8 (pixel i*4+k), labels 0, 2, 1 and 1, 0. */
static void good_set(set *s)
{
    static const unsigned char xtr[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
                               xte[8] = {255, 254, 253, 252, 1, 2, 3, 4};
    static const unsigned char ytr[3] = {0, 2, 1}, yte[2] = {1, 0};
    npy(&s->xtr, "|u1", "(3, 2, 2)", xtr, 12);
    npy(&s->ytr, "|u1", "(3,)", ytr, 3);
    npy(&s->xte, "|u1", "(2, 2, 2)", xte, 8);
    npy(&s->yte, "|u1", "(2,)", yte, 2);
}

static size_t archive(unsigned char *out, const set *s)
{
    const entry e[4] = {
        {"x_train.npy", &s->xtr}, {"y_train.npy", &s->ytr}, {"x_test.npy", &s->xte}, {"y_test.npy", &s->yte}};
    return zip(out, e, 4);
}

static unsigned char zbuf[65536];

static void expect_refused(const char *label, const set *s, const char *needle)
{
    xd_npz_data d;
    size_t n = archive(zbuf, s);
    xd_status st = xd_npz_parse(zbuf, n, "d.npz", &d, &err);
    xdt_check(&T,
              st == XD_FORMAT && strncmp(err.message, "d.npz: ", 7) == 0 && strstr(err.message, needle) && !d.train.x &&
                  !d.train.y && !d.test.x,
              "%s: refused with \"%s\": %s", label, needle, err.message);
}

static void test_made_archives(void)
{
    set s;
    good_set(&s);
    xd_npz_data d;
    size_t n = archive(zbuf, &s);
    xd_status st = xd_npz_parse(zbuf, n, "d.npz", &d, &err);
    xdt_check(&T,
              st == XD_OK && d.train.n == 3 && d.test.n == 2 && d.height == 2 && d.width == 2 && d.channels == 1 &&
                  d.max_label == 2 && d.x_dtype == XD_DTYPE_U8 && d.train.x[5] == 5 / 255.0f && d.test.x[0] == 1.0f &&
                  d.train.y[1] == 2 && d.test.y[0] == 1,
              "a stored archive of uint8 arrays: %s", err.message);
    xd_npz_data_free(&d);
    int clean = 1;
    for (size_t cut = 0; cut < n && clean; ++cut) { /* every truncation refused, nothing kept */
        st = xd_npz_parse(zbuf, cut, "d.npz", &d, &err);
        clean = st == XD_FORMAT && !d.train.x && !d.test.y;
        if (!clean) xdt_check(&T, 0, "cut at %zu of %zu: %s %s", cut, n, xd_status_name(st), err.message);
    }
    xdt_check(&T, clean, "every truncation of a valid archive (%zu) refused cleanly", n);
    zbuf[60] ^= 0x55; /* inside x_train's data: the CRC no longer matches */
    st = xd_npz_parse(zbuf, n, "d.npz", &d, &err);
    xdt_check(&T, st == XD_FORMAT && strstr(err.message, "d.npz: x_train cannot be read"), "a bad CRC: %s",
              err.message);

    static const int64_t ytr64[3] = {0, 2, -1}, yte1[2][1] = {{1}, {0}};
    static const double xnan[8] = {0, 0, 0, 0, 0, 0, 0, NAN};
    static const unsigned char hot[9] = {1, 0, 0, 0, 0, 1, 0, 1, 0}, zeros[96] = {0};
    set t = s;
    npy(&t.yte, "<i8", "(2, 1)", yte1, 16);
    n = archive(zbuf, &t);
    st = xd_npz_parse(zbuf, n, "d.npz", &d, &err);
    xdt_check(&T, st == XD_OK && d.test.y[0] == 1 && d.test.y[1] == 0, "int64 labels of shape (2, 1): %s", err.message);
    xd_npz_data_free(&d);
    /* each case: one array of the good set replaced (0 x_train, 1 y_train, 2 x_test, 3 y_test) */
    const struct {
        int which;
        const char *descr, *shape;
        const void *src;
        size_t nbytes;
        const char *label, *needle;
    } cases[] = {
        {1, "<i8", "(3,)", ytr64, 24, "a negative label", "y_train[2] is -1: labels are class indices from 0"},
        {1, "|u1", "(3, 3)", hot, 9, "one-hot labels", "y_train is uint8 [3, 3], one-hot: labels are class indices"},
        {1, "|u1", "(2,)", zeros, 2, "counts", "y_train holds 2 labels but x_train 3 images"},
        {2, "<f8", "(2, 2, 2)", xnan, 64, "mixed dtypes", "x_test is float64 but x_train uint8"},
        {2, "|u1", "(2, 3, 3)", zeros, 18, "image shapes", "x_test holds 3x3x1 images, x_train 2x2x1"},
        {0, "|u1", "(3, 4)", zeros, 12, "2-D images", "x_train is uint8 [3, 4]: images are (count, rows, cols)"},
        {0, "|u1", "(0, 2, 2)", zeros, 0, "no images", "no images"},
        {0, "<f8", "(3, 2, 2)", xnan, sizeof xnan, "a short array", "x_train: truncated"},
        {0, "<i4", "(3, 2, 2)", zeros, 48, "int32 images", "x_train is int32: images are uint8"},
        {1, "<f4", "(3,)", zeros, 12, "float labels", "y_train is float32: labels are integer class indices"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        t = s;
        bytes *b[4] = {&t.xtr, &t.ytr, &t.xte, &t.yte};
        npy(b[cases[i].which], cases[i].descr, cases[i].shape, cases[i].src, cases[i].nbytes);
        expect_refused(cases[i].label, &t, cases[i].needle);
    }
}

/* The good set's four entries and one more named extra (first or last),
 * the first n of them zipped and parsed. */
static xd_status with_extra(const set *s, const char *extra, int first, int n, xd_npz_data *d)
{
    entry e[5] = {{"x_train.npy", &s->xtr}, {"y_train.npy", &s->ytr}, {"x_test.npy", &s->xte}, {"y_test.npy", &s->yte}};
    if (first) memmove(e + 1, e, 4 * sizeof e[0]);
    e[first ? 0 : 4] = (entry){extra, &s->ytr};
    return xd_npz_parse(zbuf, zip(zbuf, e, n), "d.npz", d, &err);
}

/* The .keras checks hold for an .npz: duplicates, odd names, extra entries ignored. */
static void test_entries(void)
{
    set s;
    good_set(&s);
    xd_npz_data d;
    xd_status st = with_extra(&s, "x_train.npy", 0, 5, &d);
    /* libzip itself refuses duplicate names when it checks the archive (1.7); zip.c's check is the guard */
    xdt_check(&T,
              st == XD_FORMAT &&
                  (strstr(err.message, "'x_train.npy' appears twice") || strstr(err.message, "File already exists")),
              "a duplicate entry: %s", err.message);
    st = with_extra(&s, "../evil.npy", 0, 5, &d);
    xdt_check(&T, st == XD_FORMAT && strstr(err.message, "unsafe path"), "an unsafe name: %s", err.message);
    st = with_extra(&s, "notes.txt", 1, 5, &d);
    xdt_check(&T, st == XD_OK && d.train.n == 3, "an extra entry is ignored: %s", err.message);
    xd_npz_data_free(&d);
    st = with_extra(&s, "notes.txt", 1, 3, &d);
    xdt_check(&T,
              st == XD_FORMAT && strstr(err.message, "no array x_test") &&
                  strstr(err.message, "it holds: notes.txt, x_train.npy, y_train.npy"),
              "a missing array, with what the archive holds: %s", err.message);
    st = xd_npz_parse("PK\x05\x06junk", 10, "d.npz", &d, &err);
    xdt_check(&T, st == XD_FORMAT && strstr(err.message, "d.npz: not a readable zip archive"), "not a zip: %s",
              err.message);
    st = xd_npz_read("/nonexistent/d.npz", &d, &err);
    xdt_check(&T, st == XD_IO && strstr(err.message, "/nonexistent/d.npz: cannot read"), "no such file: %s %s",
              xd_status_name(st), err.message);
}

/* ---- the corpus numpy wrote ------------------------------------------------------------- */
/* Pixel (i, h, w, c) and label i, as make_npz_corpus.py documents them. */
static int corpus_values_ok(const xd_npz_data *d)
{
    const int64_t H = d->height, W = d->width, C = d->channels;
    for (int part = 0; part < 2; ++part) {
        const xd_npz_split *s = part ? &d->test : &d->train;
        for (int64_t i = 0; i < s->n; ++i) {
            if (s->y[i] != i % 3) return 0;
            for (int64_t c = 0; c < C; ++c)
                for (int64_t h = 0; h < H; ++h)
                    for (int64_t w = 0; w < W; ++w) {
                        int v = (int)((37 * (i + (part ? 100 : 0)) + 11 * h + 5 * w + 3 * c) % 256);
                        if (s->x[((i * C + c) * H + h) * W + w] != (float)v / 255.0f) return 0;
                    }
        }
    }
    return 1;
}

static void test_corpus(const char *dir)
{
    DIR *dp = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp))) {
        int valid = strncmp(e->d_name, "valid_", 6) == 0;
        if (!valid && strncmp(e->d_name, "invalid_", 8) != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        xd_npz_data d;
        xd_status st = xd_npz_read(path, &d, &err);
        if (valid)
            xdt_check(&T, st == XD_OK && d.train.n == 3 && d.test.n == 2 && corpus_values_ok(&d),
                      "%s decodes to its documented pixels and labels: %s", e->d_name, err.message);
        else
            xdt_check(&T, st == XD_FORMAT && strstr(err.message, path) && !d.train.x, "%s refused: %s", e->d_name,
                      err.message);
        xd_npz_data_free(&d);
        ++n;
    }
    if (dp) closedir(dp);
    xdt_check(&T, n >= 10, "the corpus %s has its files (%d)", dir, n);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_npz CORPUS-DIR\n");
        return 2;
    }
    test_npy_dtypes();
    test_images();
    test_made_archives();
    test_entries();
    test_corpus(argv[1]);
    return xdt_finish(&T);
}
