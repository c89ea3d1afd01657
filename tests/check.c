/* The checks every test shares (check.h): no device, no library. */
#include "check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int xdt_check(xdt *t, int cond, const char *fmt, ...)
{
    if (cond) {
        t->passed++;
        return 1;
    }
    t->failed++;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    return 0;
}

int xdt_finish(xdt *t)
{
    printf("%s: %d passed, %d failed\n", t->name, t->passed, t->failed);
    if (t->release) t->release(t);
    return t->failed ? 1 : 0;
}

void xdt_fill(float *v, size_t n, uint32_t seed, float lo, float hi)
{
    uint32_t s = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        v[i] = lo + (hi - lo) * (float)(s >> 8) * (1.0f / 16777216.0f);
    }
}

int xdt_bitwise(xdt *t, const char *what, const float *a, const float *b, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) {
        if (memcmp(&a[i], &b[i], 4) != 0) {
            if (bad < 10) printf("  %s[%zu]: %a vs %a\n", what, i, (double)a[i], (double)b[i]);
            ++bad;
        }
    }
    return xdt_check(t, bad == 0, "%s: %zu of %zu elements differ bitwise", what, bad, n);
}

int xdt_close(xdt *t, const char *what, const float *got, const double *ref, size_t n, double abs_tol, double rel_tol)
{
    size_t bad = 0;
    double worst = 0;
    for (size_t i = 0; i < n; ++i) {
        double err = fabs((double)got[i] - ref[i]);
        double lim = abs_tol + rel_tol * fabs(ref[i]);
        if (!(err <= lim)) {
            if (bad < 10)
                printf("  %s[%zu]: got %.9g, reference %.9g, error %.3g > %.3g\n", what, i, (double)got[i], ref[i], err,
                       lim);
            ++bad;
        }
        if (err > worst) worst = err;
    }
    return xdt_check(t, bad == 0, "%s: %zu of %zu elements beyond abs %.1e + rel %.1e (max error %.3g)", what, bad, n,
                     abs_tol, rel_tol, worst);
}
