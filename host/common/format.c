/* Small helpers: message formatting, versions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "crossdev/version.h"

void xd_format(char *buf, size_t cap, const char *fmt, ...)
{
    if (!buf || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

void xd_format_shortest(double v, int as_float, char *out, size_t cap)
{
    for (int prec = 1; prec <= 17; ++prec) {
        snprintf(out, cap, "%.*g", prec, v);
        if (as_float ? strtof(out, NULL) == (float)v : strtod(out, NULL) == v) return;
    }
}

char *xd_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

const char *xd_version_string(void) { return XD_VERSION_STRING; }
int xd_version_number(void) { return XD_VERSION_MAJOR * 10000 + XD_VERSION_MINOR * 100 + XD_VERSION_PATCH; }
