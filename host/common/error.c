/* The error object (include/crossdev/error.h). */
#include <stdio.h>
#include <string.h>

#include "common.h"

void xd_error_clear(xd_error *err)
{
    if (!err) return;
    err->status = XD_OK;
    err->cl_code = 0;
    err->message[0] = '\0';
}

const char *xd_error_message(const xd_error *err) { return err ? err->message : ""; }

/* A message cut at the buffer's end says so. */
static void mark_truncated(xd_error *err, int n)
{
    if (n >= (int)sizeof err->message) memcpy(err->message + sizeof err->message - 4, "...", 4);
}

xd_status xd_error_vset(xd_error *err, xd_status st, int cl_code, const char *fmt, va_list ap)
{
    if (!err) return st;
    err->status = st;
    err->cl_code = cl_code;
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    mark_truncated(err, n);
    return st;
}

xd_status xd_error_set(xd_error *err, xd_status st, int cl_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    xd_error_vset(err, st, cl_code, fmt, ap);
    va_end(ap);
    return st;
}

void xd_error_prefix(xd_error *err, const char *fmt, ...)
{
    if (!err) return;
    char prefix[sizeof err->message], rest[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(rest, sizeof rest, "%s", err->message);
    int n = snprintf(err->message, sizeof err->message, "%s: %s", prefix, rest);
    mark_truncated(err, n);
}

void xd_error_msg(xd_error *err, const char *fmt, ...)
{
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    mark_truncated(err, n);
}

void xd_error_file(xd_error *err, const char *file, const char *fmt, ...)
{
    if (!err) return;
    int n = snprintf(err->message, sizeof err->message, "%s: ", file);
    if (n < 0 || (size_t)n >= sizeof err->message) {
        mark_truncated(err, n);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(err->message + n, sizeof err->message - (size_t)n, fmt, ap);
    va_end(ap);
    mark_truncated(err, n + m);
}

xd_status xd_error_return(xd_error *err, xd_status st)
{
    if (!err) return st;
    err->status = st;
    if (st == XD_OK) {
        err->cl_code = 0;
        err->message[0] = '\0';
    }
    return st;
}

xd_status xd_check_parse_args(const char *fn, const void *buf, size_t len, const char **name, void *out,
                              size_t out_size, xd_error *err)
{
    if (!*name) *name = "(buffer)";
    if (out) memset(out, 0, out_size);
    if (out && (buf || !len)) return XD_OK;
    xd_error_file(err, *name, "%s: NULL %s", fn, out ? "buffer" : "output");
    return XD_INVALID_ARGUMENT;
}
