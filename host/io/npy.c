/* .npy reading and writing (format 1.0 written; 1.0, 2.0, 3.0 read).
 *
 * Layout: "\x93NUMPY", major, minor, header length (uint16 LE for 1.x,
 * uint32 LE for 2.x/3.x), an ASCII Python dict literal padded with spaces and
 * a newline, then the raw elements.  The dict is parsed with a small
 * hand-written recursive-descent reader that accepts exactly the subset numpy
 * can produce for our dtypes, because the input is untrusted.
 *
 * The public reader takes '<f4' and '<i4' (what tensors hold); the data
 * sets' reader (xd_npy_parse_owned, for .npz) also '|u1', '<i8' and '<f8',
 * each caller naming the dtypes it takes and why. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "common/common.h"
#include "crossdev/io.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The element conversion copies IEEE-754 binary32 bit patterns. */
_Static_assert(sizeof(float) == 4, "float must be 32-bit");

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* Real headers are < 1 KiB (8 dims at most); anything far beyond is junk
 * that should not make us scan megabytes. */
#define NPY_MAX_HEADER_LEN (1u << 20)
#define NPY_MAX_FILE_SIZE (UINT64_C(4) << 30)
/* numpy >= 1.24 leaves room for the growing axis to reach 21 digits, so a
 * file can be appended to in place; we copy it to write identical headers. */
#define NPY_GROWTH_AXIS_MAX_DIGITS 21

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- header dict parsing ------------------------------------------------ */

typedef struct cursor {
    const char *p, *end;
} cursor;

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static void skip_ws(cursor *c)
{
    while (c->p < c->end && is_ws(*c->p)) c->p++;
}

/* Skips whitespace, then consumes ch if it is next. */
static int eat(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes, printable ASCII only (so that it can be
 * echoed in messages safely).  Returns 0, or -1 when malformed or longer than
 * cap-1. */
static int parse_str(cursor *c, char *dst, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        char ch = *c->p++;
        if (ch < 0x20 || ch > 0x7e || ch == '\\' || n + 1 >= cap) return -1;
        dst[n++] = ch;
    }
    if (c->p >= c->end) return -1;
    c->p++; /* closing quote */
    dst[n] = '\0';
    return 0;
}

/* In the header parsers: name the file and the problem, return XD_FORMAT. */
#define BAD(...) return (xd_error_file(err, name, __VA_ARGS__), XD_FORMAT)

/* The dtypes read, as numpy writes them: '|u1' for bytes (no byte order),
 * the others little-endian. */
static const struct {
    const char *descr;
    xd_dtype dtype;
} DESCRS[] = {
    {"<f4", XD_DTYPE_F32}, {"<i4", XD_DTYPE_I32}, {"|u1", XD_DTYPE_U8}, {"<i8", XD_DTYPE_I64}, {"<f8", XD_DTYPE_F64}};

/* What the caller takes (the public reader: float32 and int32). */
typedef struct npy_accept {
    unsigned dtypes;   /* 1u << xd_dtype */
    const char *which; /* the refusal's reason: "only '<f4' and '<i4' are supported" */
} npy_accept;
static const npy_accept ACCEPT_TENSORS = {1u << XD_DTYPE_F32 | 1u << XD_DTYPE_I32,
                                          "only '<f4' and '<i4' are supported"};

/* numpy's name of a descr (the common ones), for messages. */
static const char *descr_name(const char *descr)
{
    static const char *const names[][2] = {{"f2", "float16"},  {"f4", "float32"}, {"f8", "float64"}, {"i1", "int8"},
                                           {"i2", "int16"},    {"i4", "int32"},   {"i8", "int64"},   {"u1", "uint8"},
                                           {"u2", "uint16"},   {"u4", "uint32"},  {"u8", "uint64"},  {"b1", "bool"},
                                           {"c8", "complex64"}};
    if (strlen(descr) != 3 || (descr[0] != '<' && descr[0] != '|' && descr[0] != '>')) return NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i)
        if (strcmp(descr + 1, names[i][0]) == 0) return names[i][1];
    return NULL;
}

/* 'descr': a plain dtype string of one the caller takes. */
static xd_status parse_descr(cursor *c, const char *name, const npy_accept *acc, xd_npy_array *out, xd_error *err)
{
    char descr[32];
    /* A list here is a structured dtype; we only take plain ones. */
    if (parse_str(c, descr, sizeof descr) != 0) BAD("header: 'descr' is not a simple dtype string");
    for (size_t i = 0; i < sizeof DESCRS / sizeof DESCRS[0]; ++i)
        if (strcmp(descr, DESCRS[i].descr) == 0 && (acc->dtypes & 1u << DESCRS[i].dtype)) {
            out->dtype = DESCRS[i].dtype;
            return XD_OK;
        }
    const char *known = acc == &ACCEPT_TENSORS ? NULL : descr_name(descr);
    if (known) BAD("unsupported dtype '%s' (%s%s; %s)", descr, descr[0] == '>' ? "big-endian " : "", known, acc->which);
    BAD("unsupported dtype '%s' (%s)", descr, acc->which);
}

/* Bytes per element of a dtype. */
static size_t dtype_size(xd_dtype dtype)
{
    return dtype == XD_DTYPE_U8 ? 1 : dtype == XD_DTYPE_I64 || dtype == XD_DTYPE_F64 ? 8 : 4;
}

/* 'fortran_order': False (C order) is all we read. */
static xd_status parse_fortran(cursor *c, const char *name, const npy_accept *acc, xd_error *err)
{
    skip_ws(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
        c->p += 5;
        return XD_OK;
    }
    if (left >= 4 && memcmp(c->p, "True", 4) == 0)
        BAD("Fortran order not supported%s", acc == &ACCEPT_TENSORS ? "" : " (np.ascontiguousarray gives C order)");
    BAD("header: 'fortran_order' is not True or False");
}

/* 'shape': a tuple of non-negative integers, "()" or "(n,)" or "(a, b, ...)". */
static xd_status parse_shape(cursor *c, const char *name, xd_npy_array *out, xd_error *err)
{
    if (!eat(c, '(')) BAD("header: 'shape' is not a tuple");
    int n = 0;
    for (;;) {
        if (eat(c, ')')) break;
        if (c->p < c->end && *c->p == '-') BAD("negative dimension in shape");
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') BAD("header: 'shape' is not a tuple of integers");
        if (n == XD_NPY_MAX_DIMS) BAD("too many dimensions (at most %d)", XD_NPY_MAX_DIMS);
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            int d = *c->p++ - '0';
            if (v > (INT64_MAX - d) / 10) BAD("dimension %d is too large", n);
            v = v * 10 + d;
        }
        out->shape[n++] = v;
        if (eat(c, ',')) continue;
        if (!eat(c, ')')) BAD("header: malformed 'shape' tuple");
        if (n == 1) BAD("header: 'shape' is not a tuple"); /* "(5)" is an int in Python, not a 1-tuple */
        break;
    }
    out->ndim = n;
    return XD_OK;
}

/* The header dict: keys descr, fortran_order, shape, each once, any order. */
static xd_status parse_dict(cursor *c, const char *name, const npy_accept *acc, xd_npy_array *out, xd_error *err)
{
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (!eat(c, '{')) BAD("header is not a dict literal");
    while (!eat(c, '}')) {
        char key[32];
        if (parse_str(c, key, sizeof key) != 0) BAD("header: expected a quoted key");
        if (!eat(c, ':')) BAD("header: expected ':' after '%s'", key);
        xd_status st;
        if (strcmp(key, "descr") == 0) {
            if (have_descr++) BAD("header: duplicate key 'descr'");
            st = parse_descr(c, name, acc, out, err);
        } else if (strcmp(key, "fortran_order") == 0) {
            if (have_fortran++) BAD("header: duplicate key 'fortran_order'");
            st = parse_fortran(c, name, acc, err);
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape++) BAD("header: duplicate key 'shape'");
            st = parse_shape(c, name, out, err);
        } else {
            BAD("header: unexpected key '%s'", key);
        }
        if (st != XD_OK) return st;
        if (eat(c, ',')) continue;
        if (eat(c, '}')) break;
        BAD("header: expected ',' or '}' after the value of '%s'", key);
    }
    skip_ws(c);
    if (c->p != c->end) BAD("header: unexpected characters after the dict");
    const char *missing = !have_descr ? "descr" : !have_fortran ? "fortran_order" : !have_shape ? "shape" : NULL;
    if (missing) BAD("header: missing key '%s'", missing);
    return XD_OK;
}

/* The preamble: magic, version, header length; *off gets where the dict
 * starts and *hlen its length. */
static xd_status parse_preamble(const unsigned char *buf, size_t len, const char *name, size_t *off, uint32_t *hlen,
                                xd_error *err)
{
    if (len < NPY_MAGIC_LEN || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0) BAD("not a .npy file (bad magic)");
    if (len < NPY_MAGIC_LEN + 2) BAD("truncated: file ends inside the preamble");
    unsigned major = buf[6], minor = buf[7];
    if (minor != 0 || major < 1 || major > 3) BAD("unsupported npy version %u.%u", major, minor);
    *off = major == 1 ? 10 : 12;
    if (len < *off) BAD("truncated: file ends inside the preamble");
    *hlen = major == 1 ? (uint32_t)buf[8] | (uint32_t)buf[9] << 8 : load_le32(buf + 8);
    if (*hlen > NPY_MAX_HEADER_LEN) BAD("header length %" PRIu32 " is absurd (limit %u)", *hlen, NPY_MAX_HEADER_LEN);
    if (*hlen > len - *off)
        BAD("truncated: header length %" PRIu32 " goes past the end of the file (%zu bytes)", *hlen, len);
    return XD_OK;
}

/* The product of the dims.  Zero-size arrays are legal, but the other dims
 * must still multiply without overflow so that nobody computing strides
 * from shape overflows either. */
static xd_status element_count(const xd_npy_array *a, const char *name, size_t *count, xd_error *err)
{
    size_t n = 1;
    int zero = 0;
    for (int i = 0; i < a->ndim; i++) {
        uint64_t d = (uint64_t)a->shape[i];
        if (d == 0) {
            zero = 1;
            continue;
        }
        if (d > SIZE_MAX / dtype_size(a->dtype) / n) BAD("element count overflows");
        n *= (size_t)d;
    }
    *count = zero ? 0 : n;
    return XD_OK;
}

/* Little-endian elements at src into dst as float / int32_t (or, for the
 * data sets, bytes, int64_t, double): through an unsigned integer and
 * memcpy, so the stored objects really are of that type (no aliasing
 * games), whatever the host byte order.  src may be dst. */
static void load_elements(const unsigned char *src, unsigned char *dst, size_t count, xd_dtype dtype)
{
    if (dtype == XD_DTYPE_U8) {
        if (src != dst) memcpy(dst, src, count);
        return;
    }
    if (dtype == XD_DTYPE_I64 || dtype == XD_DTYPE_F64) {
        for (size_t i = 0; i < count; i++) {
            uint64_t v = (uint64_t)load_le32(src + 8 * i) | (uint64_t)load_le32(src + 8 * i + 4) << 32;
            memcpy(dst + 8 * i, &v, 8); /* int64_t and double: the same 8 bytes in host order */
        }
        return;
    }
    for (size_t i = 0; i < count; i++) {
        uint32_t v = load_le32(src + 4 * i);
        if (dtype == XD_DTYPE_F32) {
            float f;
            memcpy(&f, &v, 4);
            ((float *)(void *)dst)[i] = f;
        } else {
            int32_t s;
            memcpy(&s, &v, 4);
            ((int32_t *)(void *)dst)[i] = s;
        }
    }
}

/* Parses buf; when own is non-NULL it is buf itself, heap-allocated and
 * handed over, so the data can be converted in place instead of copied (a
 * read of a multi-GiB file then needs no second buffer).  own is always
 * consumed. */
static xd_status npy_parse(const unsigned char *buf, size_t len, unsigned char *own, const char *name,
                           const npy_accept *acc, xd_npy_array *out, xd_error *err)
{
    size_t off = 0, count = 0;
    uint32_t hlen = 0;
    xd_status st = parse_preamble(buf, len, name, &off, &hlen, err);
    if (st == XD_OK) {
        cursor c = {(const char *)buf + off, (const char *)buf + off + hlen};
        st = parse_dict(&c, name, acc, out, err);
        off += hlen;
    }
    if (st == XD_OK) st = element_count(out, name, &count, err);
    size_t bytes = count * dtype_size(out->dtype), found = len - off;
    if (st == XD_OK && found != bytes) {
        xd_error_file(err, name, "%s: expected %zu bytes of data, found %zu",
                      found < bytes ? "truncated" : "trailing bytes", bytes, found);
        st = XD_FORMAT;
    }
    unsigned char *dst = NULL;
    if (st == XD_OK && own) { /* in place: the data moves down over the header */
        memmove(own, buf + off, bytes);
        dst = own;
        own = NULL;
        load_elements(dst, dst, count, out->dtype);
        /* Give back the header-sized tail; failing to shrink is harmless. */
        unsigned char *shrunk = realloc(dst, bytes ? bytes : 1);
        if (shrunk) dst = shrunk;
    } else if (st == XD_OK) {
        /* malloc(0) may return NULL; callers get a valid pointer either way. */
        if (!(dst = malloc(bytes ? bytes : 1))) {
            xd_error_file(err, name, "out of memory for %zu bytes", bytes);
            st = XD_OUT_OF_HOST_MEMORY;
        } else {
            load_elements(buf + off, dst, count, out->dtype);
        }
    }
    free(own);
    if (st != XD_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    out->count = count;
    out->data = dst;
    return XD_OK;
}

static xd_status npy_parse_buffer(const void *buf, size_t len, const char *name, xd_npy_array *out, xd_error *err)
{
    xd_status st = xd_check_parse_args("xd_npy_parse", buf, len, &name, out, sizeof *out, err);
    return st != XD_OK ? st : npy_parse(buf ? buf : "", len, NULL, name, &ACCEPT_TENSORS, out, err);
}

static xd_status npy_read_file(const char *path, xd_npy_array *out, xd_error *err)
{
    if (!path || !out) {
        xd_error_file(err, path ? path : "(null)", "xd_npy_read: NULL %s", path ? "output" : "path");
        if (out) memset(out, 0, sizeof *out);
        return XD_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        xd_error_file(err, path, "cannot open: %s", strerror(errno));
        return XD_IO;
    }
    xd_status st = XD_IO;
    unsigned char *buf = NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        xd_error_file(err, path, "cannot stat: %s", strerror(errno));
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        xd_error_file(err, path, "not a regular file");
        goto done;
    }
    if ((uint64_t)sb.st_size > NPY_MAX_FILE_SIZE || (uint64_t)sb.st_size > SIZE_MAX) {
        xd_error_file(err, path, "file too large (%jd bytes; the limit is 4 GiB)", (intmax_t)sb.st_size);
        goto done;
    }
    size_t size = (size_t)sb.st_size, got = 0;
    if (!(buf = malloc(size ? size : 1))) {
        xd_error_file(err, path, "out of memory for %zu bytes", size);
        st = XD_OUT_OF_HOST_MEMORY;
        goto done;
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            xd_error_file(err, path, "read error: %s", strerror(errno));
            goto done;
        }
        if (r == 0) {
            xd_error_file(err, path, "file shrank while being read");
            goto done;
        }
        got += (size_t)r;
    }
    close(fd);
    fd = -1;
    st = npy_parse(buf, size, buf, path, &ACCEPT_TENSORS, out, err);
    buf = NULL; /* consumed by npy_parse */
done:
    if (fd >= 0) close(fd);
    free(buf);
    return st;
}

void xd_npy_free(xd_npy_array *a)
{
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- writing ------------------------------------------------------------- */

/* The writer's arguments; *count gets the element count. */
static xd_status check_write_args(const char *path, xd_dtype dtype, int ndim, const int64_t *shape, const void *data,
                                  size_t *count, xd_error *err)
{
    const char *name = path ? path : "(null)";
    if (!path || !*path) return (xd_error_file(err, name, "xd_npy_write: empty path"), XD_INVALID_ARGUMENT);
    if (dtype != XD_DTYPE_F32 && dtype != XD_DTYPE_I32)
        return (xd_error_file(err, name, "xd_npy_write: invalid dtype %d", (int)dtype), XD_INVALID_ARGUMENT);
    if (ndim < 0 || ndim > XD_NPY_MAX_DIMS || (ndim > 0 && !shape))
        return (xd_error_file(err, name, "xd_npy_write: invalid ndim %d or NULL shape", ndim), XD_INVALID_ARGUMENT);
    size_t n = 1;
    int zero = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return (xd_error_file(err, name, "xd_npy_write: negative dimension %" PRId64, shape[i]),
                    XD_INVALID_ARGUMENT);
        if (shape[i] == 0) {
            zero = 1;
            continue;
        }
        if ((uint64_t)shape[i] > SIZE_MAX / 4 / n)
            return (xd_error_file(err, name, "xd_npy_write: element count overflows"), XD_INVALID_ARGUMENT);
        n *= (size_t)shape[i];
    }
    *count = zero ? 0 : n;
    if (*count > 0 && !data) return (xd_error_file(err, name, "xd_npy_write: NULL data"), XD_INVALID_ARGUMENT);
    return XD_OK;
}

/* Preamble and dict into hdr (at least 512 bytes), formatted exactly as
 * numpy's _write_array_header; returns the bytes written.  Worst case is
 * ~60 + 8 * 21 + 21 + 64 bytes, well inside. */
static size_t format_header(unsigned char *hdr, xd_dtype dtype, int ndim, const int64_t *shape)
{
    char *h = (char *)hdr + 10;
    size_t cap = 512 - 10, n;
    n = (size_t)snprintf(h, cap, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                         dtype == XD_DTYPE_F32 ? "<f4" : "<i4");
    for (int i = 0; i < ndim; i++) n += (size_t)snprintf(h + n, cap - n, i ? ", %" PRId64 : "%" PRId64, shape[i]);
    n += (size_t)snprintf(h + n, cap - n, "%s), }", ndim == 1 ? "," : "");
    if (ndim > 0) {
        int digits = snprintf(NULL, 0, "%" PRId64, shape[0]);
        for (int i = digits; i < NPY_GROWTH_AXIS_MAX_DIGITS; i++) h[n++] = ' ';
    }
    while ((10 + n + 1) % 64 != 0) h[n++] = ' ';
    h[n++] = '\n';
    static const unsigned char preamble[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}; /* magic, version 1.0 */
    memcpy(hdr, preamble, sizeof preamble);
    hdr[8] = (unsigned char)(n & 0xff);
    hdr[9] = (unsigned char)(n >> 8);
    return 10 + n;
}

static xd_status npy_write_file(const char *path, xd_dtype dtype, int ndim, const int64_t *shape, const void *data,
                                int staged, xd_error *err)
{
    const char *name = path;
    size_t count = 0;
    xd_status st0 = check_write_args(path, dtype, ndim, shape, data, &count, err);
    if (st0 != XD_OK) return st0;
    unsigned char hdr[512];
    size_t hbytes = format_header(hdr, dtype, ndim, shape);
    /* The elements little-endian: as they are on a little-endian host,
     * else converted into a copy. */
    const void *body = data;
    void *swapped = NULL;
    const uint32_t probe = 1;
    if (count > 0 && *(const unsigned char *)&probe != 1) {
        unsigned char *b = malloc(count * 4);
        if (!b) {
            xd_error_file(err, name, "out of memory");
            return XD_OUT_OF_HOST_MEMORY;
        }
        for (size_t i = 0; i < count; i++) {
            uint32_t v;
            memcpy(&v, (const unsigned char *)data + 4 * i, 4);
            xd_put_le(b + 4 * i, v, 4);
        }
        body = swapped = b;
    }
    const void *parts[2] = {hdr, body};
    const size_t sizes[2] = {hbytes, count * 4};
    xd_status st =
        staged ? xd_write_file_staged(path, parts, sizes, 2, err) : xd_write_file_atomic(path, parts, sizes, 2, err);
    free(swapped);
    return st;
}

xd_status xd_npy_parse(const void *buf, size_t len, const char *name, xd_npy_array *out, xd_error *err)
{
    return xd_error_return(err, npy_parse_buffer(buf, len, name, out, err));
}

xd_status xd_npy_read(const char *path, xd_npy_array *out, xd_error *err)
{
    return xd_error_return(err, npy_read_file(path, out, err));
}

xd_status xd_npy_parse_owned(unsigned char *own, size_t len, const char *name, unsigned dtypes, const char *why,
                             xd_npy_array *out, xd_error *err)
{
    const npy_accept acc = {dtypes, why};
    memset(out, 0, sizeof *out);
    return npy_parse(own, len, own, name, &acc, out, err);
}

xd_status xd_npy_write(const char *path, xd_dtype dtype, int ndim, const int64_t *shape, const void *data,
                       xd_error *err)
{
    return xd_error_return(err, npy_write_file(path, dtype, ndim, shape, data, 0, err));
}

xd_status xd_npy_write_staged(const char *path, xd_dtype dtype, int ndim, const int64_t *shape, const void *data,
                              xd_error *err)
{
    return xd_error_return(err, npy_write_file(path, dtype, ndim, shape, data, 1, err));
}

const char *xd_dtype_name(xd_dtype dtype)
{
    switch (dtype) {
    case XD_DTYPE_F32: return "float32";
    case XD_DTYPE_I32: return "int32";
    case XD_DTYPE_U8: return "uint8";
    case XD_DTYPE_I64: return "int64";
    case XD_DTYPE_F64: return "float64";
    }
    return "?";
}

/* "float32 [10, 21632]": what an .npy holds, for messages. */
void xd_npy_describe(const xd_npy_array *a, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "%s [", xd_dtype_name(a->dtype));
    for (int i = 0; i < a->ndim && n < cap; ++i)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)a->shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}
