/* .npy reading and writing (format 1.0 written; 1.0, 2.0, 3.0 read).
 *
 * Layout: "\x93NUMPY", major, minor, header length (uint16 LE for 1.x,
 * uint32 LE for 2.x/3.x), an ASCII Python dict literal padded with spaces and
 * a newline, then the raw elements.  The dict is parsed with a small
 * hand-written recursive-descent reader that accepts exactly the subset numpy
 * can produce for our dtypes, because the input is untrusted. */
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

static void store_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* ---- header dict parsing ------------------------------------------------ */

typedef struct cursor {
    const char *p, *end;
} cursor;

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void skip_ws(cursor *c)
{
    while (c->p < c->end && is_ws(*c->p))
        c->p++;
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
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return -1;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        char ch = *c->p++;
        if (ch < 0x20 || ch > 0x7e || ch == '\\' || n + 1 >= cap)
            return -1;
        dst[n++] = ch;
    }
    if (c->p >= c->end)
        return -1;
    c->p++; /* closing quote */
    dst[n] = '\0';
    return 0;
}

/* The header dict: keys descr, fortran_order, shape, each once, any order. */
static xd_status parse_dict(cursor *c, const char *name, xd_npy_array *out, xd_error *err)
{
    int have_descr = 0, have_fortran = 0, have_shape = 0;

    if (!eat(c, '{')) {
        xd_error_file(err, name, "header is not a dict literal");
        return XD_FORMAT;
    }
    for (;;) {
        if (eat(c, '}'))
            break;
        char key[32];
        if (parse_str(c, key, sizeof key) != 0) {
            xd_error_file(err, name, "header: expected a quoted key");
            return XD_FORMAT;
        }
        if (!eat(c, ':')) {
            xd_error_file(err, name, "header: expected ':' after '%s'", key);
            return XD_FORMAT;
        }
        if (strcmp(key, "descr") == 0) {
            char descr[32];
            if (have_descr++) {
                xd_error_file(err, name, "header: duplicate key 'descr'");
                return XD_FORMAT;
            }
            /* A list here is a structured dtype; we only take plain ones. */
            if (parse_str(c, descr, sizeof descr) != 0) {
                xd_error_file(err, name, "header: 'descr' is not a simple dtype string");
                return XD_FORMAT;
            }
            if (strcmp(descr, "<f4") == 0) {
                out->dtype = XD_DTYPE_F32;
            } else if (strcmp(descr, "<i4") == 0) {
                out->dtype = XD_DTYPE_I32;
            } else {
                xd_error_file(err, name,
                        "unsupported dtype '%s' (only '<f4' and '<i4' are supported)", descr);
                return XD_FORMAT;
            }
        } else if (strcmp(key, "fortran_order") == 0) {
            if (have_fortran++) {
                xd_error_file(err, name, "header: duplicate key 'fortran_order'");
                return XD_FORMAT;
            }
            skip_ws(c);
            size_t left = (size_t)(c->end - c->p);
            if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
                c->p += 5;
            } else if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
                xd_error_file(err, name, "Fortran order not supported");
                return XD_FORMAT;
            } else {
                xd_error_file(err, name, "header: 'fortran_order' is not True or False");
                return XD_FORMAT;
            }
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape++) {
                xd_error_file(err, name, "header: duplicate key 'shape'");
                return XD_FORMAT;
            }
            if (!eat(c, '(')) {
                xd_error_file(err, name, "header: 'shape' is not a tuple");
                return XD_FORMAT;
            }
            int n = 0;
            for (;;) {
                if (eat(c, ')'))
                    break;
                if (c->p < c->end && *c->p == '-') {
                    xd_error_file(err, name, "negative dimension in shape");
                    return XD_FORMAT;
                }
                if (c->p >= c->end || *c->p < '0' || *c->p > '9') {
                    xd_error_file(err, name, "header: 'shape' is not a tuple of integers");
                    return XD_FORMAT;
                }
                if (n == XD_NPY_MAX_DIMS) {
                    xd_error_file(err, name, "too many dimensions (at most %d)",
                            XD_NPY_MAX_DIMS);
                    return XD_FORMAT;
                }
                int64_t v = 0;
                while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
                    int d = *c->p++ - '0';
                    if (v > (INT64_MAX - d) / 10) {
                        xd_error_file(err, name, "dimension %d is too large", n);
                        return XD_FORMAT;
                    }
                    v = v * 10 + d;
                }
                out->shape[n++] = v;
                if (eat(c, ','))
                    continue;
                if (eat(c, ')')) {
                    /* "(5)" is an int in Python, not a 1-tuple. */
                    if (n == 1) {
                        xd_error_file(err, name, "header: 'shape' is not a tuple");
                        return XD_FORMAT;
                    }
                    break;
                }
                xd_error_file(err, name, "header: malformed 'shape' tuple");
                return XD_FORMAT;
            }
            out->ndim = n;
        } else {
            xd_error_file(err, name, "header: unexpected key '%s'", key);
            return XD_FORMAT;
        }
        if (eat(c, ','))
            continue;
        if (eat(c, '}'))
            break;
        xd_error_file(err, name, "header: expected ',' or '}' after the value of '%s'", key);
        return XD_FORMAT;
    }
    skip_ws(c);
    if (c->p != c->end) {
        xd_error_file(err, name, "header: unexpected characters after the dict");
        return XD_FORMAT;
    }
    const char *missing = !have_descr ? "descr" : !have_fortran ? "fortran_order"
                        : !have_shape ? "shape" : NULL;
    if (missing) {
        xd_error_file(err, name, "header: missing key '%s'", missing);
        return XD_FORMAT;
    }
    return XD_OK;
}

/* Parses buf; when own is non-NULL it is buf itself, heap-allocated and
 * handed over, so the data can be converted in place instead of copied (a
 * read of a multi-GiB file then needs no second buffer).  own is always
 * consumed. */
static xd_status npy_parse(const unsigned char *buf, size_t len, unsigned char *own,
                           const char *name, xd_npy_array *out, xd_error *err)
{
    xd_status st = XD_FORMAT;

    if (len < NPY_MAGIC_LEN || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        xd_error_file(err, name, "not a .npy file (bad magic)");
        goto fail;
    }
    if (len < NPY_MAGIC_LEN + 2) {
        xd_error_file(err, name, "truncated: file ends inside the preamble");
        goto fail;
    }
    unsigned major = buf[6], minor = buf[7];
    if (minor != 0 || major < 1 || major > 3) {
        xd_error_file(err, name, "unsupported npy version %u.%u", major, minor);
        goto fail;
    }
    size_t off = major == 1 ? 10 : 12;
    if (len < off) {
        xd_error_file(err, name, "truncated: file ends inside the preamble");
        goto fail;
    }
    uint32_t hlen = major == 1 ? (uint32_t)buf[8] | (uint32_t)buf[9] << 8 : load_le32(buf + 8);
    if (hlen > NPY_MAX_HEADER_LEN) {
        xd_error_file(err, name, "header length %" PRIu32 " is absurd (limit %u)", hlen,
                NPY_MAX_HEADER_LEN);
        goto fail;
    }
    if (hlen > len - off) {
        xd_error_file(err, name, "truncated: header length %" PRIu32
                " goes past the end of the file (%zu bytes)", hlen, len);
        goto fail;
    }
    cursor c = {(const char *)buf + off, (const char *)buf + off + hlen};
    if ((st = parse_dict(&c, name, out, err)) != XD_OK)
        goto fail;
    st = XD_FORMAT;
    off += hlen;

    /* Product of the dims.  Zero-size arrays are legal, but the other dims
     * must still multiply without overflow so that nobody computing strides
     * from shape overflows either. */
    size_t count = 1;
    int zero = 0;
    for (int i = 0; i < out->ndim; i++) {
        uint64_t d = (uint64_t)out->shape[i];
        if (d == 0) {
            zero = 1;
            continue;
        }
        if (d > SIZE_MAX / 4 / count) {
            xd_error_file(err, name, "element count overflows");
            goto fail;
        }
        count *= (size_t)d;
    }
    if (zero)
        count = 0;
    size_t bytes = count * 4, found = len - off;
    if (found != bytes) {
        xd_error_file(err, name, "%s: expected %zu bytes of data, found %zu",
                found < bytes ? "truncated" : "trailing bytes", bytes, found);
        goto fail;
    }

    const unsigned char *src = buf + off;
    unsigned char *dst;
    int in_place = own != NULL;
    if (in_place) {
        memmove(own, src, bytes);
        src = dst = own;
        own = NULL;
    } else {
        /* malloc(0) may return NULL; callers get a valid pointer either way. */
        if (!(dst = malloc(bytes ? bytes : 1))) {
            xd_error_file(err, name, "out of memory for %zu bytes", bytes);
            st = XD_OUT_OF_HOST_MEMORY;
            goto fail;
        }
    }
    /* Convert through a uint32 and memcpy so the stored objects really are
     * float / int32_t (no aliasing games), whatever the host byte order. */
    for (size_t i = 0; i < count; i++) {
        uint32_t v = load_le32(src + 4 * i);
        if (out->dtype == XD_DTYPE_F32) {
            float f;
            memcpy(&f, &v, 4);
            ((float *)(void *)dst)[i] = f;
        } else {
            int32_t s;
            memcpy(&s, &v, 4);
            ((int32_t *)(void *)dst)[i] = s;
        }
    }
    if (in_place) {
        /* Give back the header-sized tail; failing to shrink is harmless. */
        unsigned char *shrunk = realloc(dst, bytes ? bytes : 1);
        if (shrunk)
            dst = shrunk;
    }
    out->count = count;
    out->data = dst;
    return XD_OK;

fail:
    free(own);
    memset(out, 0, sizeof *out);
    return st;
}

static xd_status npy_parse_buffer(const void *buf, size_t len, const char *name, xd_npy_array *out,
                                  xd_error *err)
{
    if (!name)
        name = "(buffer)";
    if (!out || (!buf && len)) {
        xd_error_file(err, name, "xd_npy_parse: NULL %s", out ? "buffer" : "output");
        if (out)
            memset(out, 0, sizeof *out);
        return XD_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    return npy_parse(buf ? buf : "", len, NULL, name, out, err);
}

static xd_status npy_read_file(const char *path, xd_npy_array *out, xd_error *err)
{
    if (!path || !out) {
        xd_error_file(err, path ? path : "(null)", "xd_npy_read: NULL %s",
                path ? "output" : "path");
        if (out)
            memset(out, 0, sizeof *out);
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
        xd_error_file(err, path, "file too large (%jd bytes; the limit is 4 GiB)",
                (intmax_t)sb.st_size);
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
        if (r < 0 && errno == EINTR)
            continue;
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
    st = npy_parse(buf, size, buf, path, out, err);
    buf = NULL; /* consumed by npy_parse */
done:
    if (fd >= 0)
        close(fd);
    free(buf);
    return st;
}

void xd_npy_free(xd_npy_array *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- writing ------------------------------------------------------------- */

static xd_status npy_write_file(const char *path, xd_dtype dtype, int ndim, const int64_t *shape,
                       const void *data, xd_error *err)
{
    const char *name = path ? path : "(null)";
    if (!path || !*path) {
        xd_error_file(err, name, "xd_npy_write: empty path");
        return XD_INVALID_ARGUMENT;
    }
    if (dtype != XD_DTYPE_F32 && dtype != XD_DTYPE_I32) {
        xd_error_file(err, name, "xd_npy_write: invalid dtype %d", (int)dtype);
        return XD_INVALID_ARGUMENT;
    }
    if (ndim < 0 || ndim > XD_NPY_MAX_DIMS || (ndim > 0 && !shape)) {
        xd_error_file(err, name, "xd_npy_write: invalid ndim %d or NULL shape", ndim);
        return XD_INVALID_ARGUMENT;
    }
    size_t count = 1;
    int zero = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            xd_error_file(err, name, "xd_npy_write: negative dimension %" PRId64, shape[i]);
            return XD_INVALID_ARGUMENT;
        }
        if (shape[i] == 0) {
            zero = 1;
            continue;
        }
        if ((uint64_t)shape[i] > SIZE_MAX / 4 / count) {
            xd_error_file(err, name, "xd_npy_write: element count overflows");
            return XD_INVALID_ARGUMENT;
        }
        count *= (size_t)shape[i];
    }
    if (zero)
        count = 0;
    if (count > 0 && !data) {
        xd_error_file(err, name, "xd_npy_write: NULL data");
        return XD_INVALID_ARGUMENT;
    }

    /* Preamble and dict, formatted exactly as numpy's _write_array_header.
     * Worst case is ~60 + 8 * 21 + 21 + 64 bytes, well inside hdr. */
    unsigned char hdr[512];
    char *h = (char *)hdr + 10;
    size_t cap = sizeof hdr - 10, n;
    n = (size_t)snprintf(h, cap, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                         dtype == XD_DTYPE_F32 ? "<f4" : "<i4");
    for (int i = 0; i < ndim; i++)
        n += (size_t)snprintf(h + n, cap - n, i ? ", %" PRId64 : "%" PRId64, shape[i]);
    n += (size_t)snprintf(h + n, cap - n, "%s), }", ndim == 1 ? "," : "");
    if (ndim > 0) {
        int digits = snprintf(NULL, 0, "%" PRId64, shape[0]);
        for (int i = digits; i < NPY_GROWTH_AXIS_MAX_DIGITS; i++)
            h[n++] = ' ';
    }
    while ((10 + n + 1) % 64 != 0)
        h[n++] = ' ';
    h[n++] = '\n';
    memcpy(hdr, NPY_MAGIC "\x01\x00", 8);
    hdr[8] = (unsigned char)(n & 0xff);
    hdr[9] = (unsigned char)(n >> 8);

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
            store_le32(b + 4 * i, v);
        }
        body = swapped = b;
    }
    const void *parts[2] = {hdr, body};
    const size_t sizes[2] = {10 + n, count * 4};
    xd_status st = xd_write_file_atomic(path, parts, sizes, 2, err);
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

xd_status xd_npy_write(const char *path, xd_dtype dtype, int ndim, const int64_t *shape, const void *data,
                       xd_error *err)
{
    return xd_error_return(err, npy_write_file(path, dtype, ndim, shape, data, err));
}

/* "float32 [10, 21632]": what an .npy holds, for messages. */
void xd_npy_describe(const xd_npy_array *a, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "%s [", a->dtype == XD_DTYPE_F32   ? "float32"
                                                  : a->dtype == XD_DTYPE_I32 ? "int32"
                                                                             : "?");
    for (int i = 0; i < a->ndim && n < cap; ++i)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)a->shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}
