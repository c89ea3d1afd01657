/* The embedded reproducible math runs on the device and matches the host
 * build bitwise, on every division/sqrt path the library can choose. */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

int main(int argc, char **argv)
{
    xdt t;
    int rc = xdt_init(&t, "test_probe", argc, argv);
    if (rc) return rc;
    size_t bad = 0;
    xdt_ok(&t, xd_context_probe(t.ctx, &bad), "probe (default path)");
    printf("default path: %s, %zu mismatches\n", xd_context_guarantee(t.ctx), bad);

    /* Each forced path: 0 needs the CR capability, 1 needs fp64. */
    static const char *const modes[] = {"0", "1", "2"};
    for (int m = 0; m < 3; ++m) {
        if (m == 0 && t.dev->fp32_correctly_rounded_div_sqrt != XD_CAP_YES) continue;
        if (m == 1 && t.dev->fp64 != XD_CAP_YES) continue;
        setenv("XD_FORCE_DIV_MODE", modes[m], 1);
        xd_context *ctx = NULL;
        xd_status st = xd_context_create(t.dev, XD_MODE_REPRODUCIBLE, &ctx);
        if (xdt_check(&t, st == XD_OK, "context with XD_DIV_MODE=%s: %s", modes[m], xd_context_last_error(ctx))) {
            st = xd_context_probe(ctx, &bad);
            xdt_check(&t, st == XD_OK, "probe with XD_DIV_MODE=%s: %s", modes[m], xd_context_last_error(ctx));
            printf("XD_DIV_MODE=%s (%s): %zu mismatches\n", modes[m], xd_context_guarantee(ctx), bad);
        }
        xd_context_destroy(ctx);
    }
    unsetenv("XD_FORCE_DIV_MODE");

    /* Fast mode builds and runs too (its results may differ: no check of bits). */
    xd_context *fast = NULL;
    xd_status st = xd_context_create(t.dev, XD_MODE_FAST, &fast);
    xdt_check(&t, st == XD_OK, "fast-mode context: %s", xd_context_last_error(fast));
    xd_context_destroy(fast);
    return xdt_finish(&t);
}
