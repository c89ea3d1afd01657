/* IDX (the MNIST container) reading, plain or gzip-compressed.
 *
 * Layout: 00 00 <type> <ndim>, ndim big-endian uint32 dims, then the
 * elements in C order.  Only type 0x08 (unsigned byte) is accepted: that is
 * what the image and label files of MNIST-like data sets use. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "common/common.h"
#include "crossdev/io.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_TYPE_UBYTE 0x08
/* Data sets beyond 2 GiB are out of scope, and the cap keeps a hostile
 * header from announcing sizes whose products overflow in callers. */
#define IDX_MAX_COUNT (UINT64_C(1) << 31)
/* A gzip bomb must not exhaust memory: stop decompressing past this. */
#define IDX_MAX_DECOMPRESSED ((size_t)1 << 30)

/* Parses buf; when own is non-NULL it is buf itself, heap-allocated and
 * handed over, so the body is moved down in place rather than copied (the
 * training images are ~47 MB).  own is always consumed. */
static xd_status idx_parse(const unsigned char *buf, size_t len, unsigned char *own, const char *name,
                           xd_idx_array *out, xd_error *err)
{
    memset(out, 0, sizeof *out);
    if (len < 4) {
        xd_error_file(err, name, "truncated header: %zu bytes, need at least 4", len);
        goto fail;
    }
    if (buf[0] != 0 || buf[1] != 0) {
        xd_error_file(err, name, "not an IDX file (bad magic %02x %02x)", buf[0], buf[1]);
        goto fail;
    }
    if (buf[2] != IDX_TYPE_UBYTE) {
        xd_error_file(err, name, "unsupported IDX type code 0x%02x (only 0x08, unsigned byte, is supported)", buf[2]);
        goto fail;
    }
    int ndim = buf[3];
    if (ndim < 1 || ndim > XD_IDX_MAX_DIMS) {
        xd_error_file(err, name, "unsupported number of dimensions %d (must be 1..%d)", ndim, XD_IDX_MAX_DIMS);
        goto fail;
    }
    size_t off = 4 + 4 * (size_t)ndim;
    if (len < off) {
        xd_error_file(err, name, "truncated header: %zu bytes, need %zu for %d dimensions", len, off, ndim);
        goto fail;
    }
    /* Each dim is < 2^32, so the running product stays below 2^63 as long
     * as it is checked against the 2^31 cap after every step. */
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        const unsigned char *p = buf + 4 + 4 * i;
        uint32_t d = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        out->dims[i] = d;
        count *= d;
        if (count > IDX_MAX_COUNT) {
            xd_error_file(err, name, "dimension overflow (more than 2^31 elements)");
            goto fail;
        }
    }
    size_t found = len - off;
    if (found != count) {
        xd_error_file(err, name, "%s: expected %zu bytes of data, found %zu",
                      found < count ? "truncated" : "trailing bytes", (size_t)count, found);
        goto fail;
    }
    uint8_t *data;
    if (own) {
        memmove(own, own + off, found);
        data = own;
        own = NULL;
        /* Give back the header-sized tail; failing to shrink is harmless. */
        uint8_t *shrunk = realloc(data, found ? found : 1);
        if (shrunk) data = shrunk;
    } else {
        /* malloc(0) may return NULL; callers get a valid pointer either way. */
        if (!(data = malloc(found ? found : 1))) {
            xd_error_file(err, name, "out of memory for %zu bytes", found);
            memset(out, 0, sizeof *out);
            return XD_OUT_OF_HOST_MEMORY;
        }
        memcpy(data, buf + off, found);
    }
    out->ndim = ndim;
    out->count = (size_t)count;
    out->data = data;
    return XD_OK;

fail:
    free(own);
    memset(out, 0, sizeof *out);
    return XD_FORMAT;
}

static xd_status idx_parse_buffer(const void *buf, size_t len, const char *name, xd_idx_array *out, xd_error *err)
{
    xd_status st = xd_check_parse_args("xd_idx_parse", buf, len, &name, out, sizeof *out, err);
    return st != XD_OK ? st : idx_parse(buf ? buf : "", len, NULL, name, out, err);
}

/* zlib prefixes its messages with "<path>: "; drop that, we add our own. */
static const char *zmsg(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (msg && strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') return msg + n + 2;
    return msg ? msg : "unknown error";
}

/* The end of a gzip stream: a stream cut short reads as a clean EOF from
 * gzread, and zlib only reports it through gzerror (Z_BUF_ERROR,
 * "unexpected end of file").  Closes gz. */
static xd_status gz_finish(gzFile gz, const char *path, xd_error *err)
{
    int errnum;
    const char *msg = gzerror(gz, &errnum);
    if (errnum != Z_OK) {
        xd_error_file(err, path, "gzip: %s", zmsg(msg, path));
        gzclose(gz);
        return XD_FORMAT;
    }
    int rc = gzclose(gz);
    if (rc == Z_OK) return XD_OK;
    xd_error_file(err, path, "gzip: %s", rc == Z_BUF_ERROR ? "unexpected end of file" : "error closing file");
    return rc == Z_BUF_ERROR ? XD_FORMAT : XD_IO;
}

/* The whole of a plain or gzip file, decompressed (at most 1 GiB: a gzip
 * bomb must not exhaust memory).  gzopen reads plain files transparently,
 * so one path serves both. */
static xd_status gz_slurp(const char *path, unsigned char **data, size_t *size, xd_error *err)
{
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz) return (xd_error_file(err, path, "cannot open: %s", errno ? strerror(errno) : "out of memory"), XD_IO);
    xd_status st = XD_IO;
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    int errnum;
    for (;;) {
        if (len == cap) {
            /* Room for one byte past the limit, to tell "exactly 1 GiB" from
             * "more than 1 GiB". */
            size_t ncap = cap ? 2 * cap : (size_t)1 << 16;
            if (ncap > IDX_MAX_DECOMPRESSED + 1) ncap = IDX_MAX_DECOMPRESSED + 1;
            unsigned char *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                xd_error_file(err, path, "out of memory for %zu bytes", ncap);
                st = XD_OUT_OF_HOST_MEMORY;
                goto done;
            }
            buf = nbuf;
            cap = ncap;
        }
        int r = gzread(gz, buf + len, (unsigned)(cap - len > INT_MAX ? INT_MAX : cap - len));
        if (r < 0) {
            int saved = errno;
            const char *msg = gzerror(gz, &errnum);
            if (errnum == Z_ERRNO) {
                xd_error_file(err, path, "read error: %s", strerror(saved));
            } else {
                xd_error_file(err, path, "gzip: %s", zmsg(msg, path));
                st = errnum == Z_MEM_ERROR ? XD_OUT_OF_HOST_MEMORY : XD_FORMAT;
            }
            goto done;
        }
        if (r == 0) break;
        len += (size_t)r;
        if (len > IDX_MAX_DECOMPRESSED) {
            xd_error_file(err, path, "decompressed size exceeds the 1 GiB limit");
            st = XD_FORMAT;
            goto done;
        }
    }
    st = gz_finish(gz, path, err);
    gz = NULL;
    if (st == XD_OK) {
        *data = buf;
        *size = len;
        buf = NULL;
    }
done:
    if (gz) gzclose(gz);
    free(buf);
    return st;
}

static xd_status idx_read_file(const char *path, xd_idx_array *out, xd_error *err)
{
    if (!path || !out) {
        xd_error_file(err, path ? path : "(null)", "xd_idx_read: NULL %s", path ? "output" : "path");
        if (out) memset(out, 0, sizeof *out);
        return XD_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    unsigned char *buf = NULL;
    size_t len = 0;
    xd_status st = gz_slurp(path, &buf, &len, err);
    if (st != XD_OK) return st;
    return idx_parse(buf, len, buf, path, out, err); /* buf is consumed */
}

xd_status xd_idx_parse(const void *buf, size_t len, const char *name, xd_idx_array *out, xd_error *err)
{
    return xd_error_return(err, idx_parse_buffer(buf, len, name, out, err));
}

xd_status xd_idx_read(const char *path, xd_idx_array *out, xd_error *err)
{
    return xd_error_return(err, idx_read_file(path, out, err));
}

void xd_idx_free(xd_idx_array *a)
{
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}
