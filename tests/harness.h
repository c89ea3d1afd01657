/* Test harness shared by the device tests: `--device ID` picks the device by
 * its exact id (a test told to use a device that is not there fails), plus
 * check/report helpers printing "NAME: N passed, M failed". */
#ifndef XD_TEST_HARNESS_H
#define XD_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "crossdev/crossdev.h"

typedef struct xdt {
    const char *name;
    xd_device_list *list;
    const xd_device_info *dev;
    xd_context *ctx;
    int small; /* --small: simulator-sized shapes */
    int passed, failed;
} xdt;

/* Parses argv (--device ID [--small] [--mode M]); creates the context.
 * Returns 0, or an exit code to return from main (device missing: 1). */
int xdt_init(xdt *t, const char *name, int argc, char **argv);
/* Records one check; prints "FAIL: ..." with the message when cond is 0. */
int xdt_check(xdt *t, int cond, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Checks an xd_status, printing the context's last error on failure. */
int xdt_ok(xdt *t, xd_status st, const char *what);
int xdt_finish(xdt *t);

/* Device tensor from host data (f32 or i32 by dtype); NULL on failure (recorded). */
xd_tensor *xdt_upload(xdt *t, xd_dtype dtype, int ndim, const int64_t *shape, const void *data);
xd_tensor *xdt_empty(xdt *t, int ndim, const int64_t *shape);
/* Reads a tensor into a new malloc'ed float array (NULL on failure, recorded). */
float *xdt_download(xdt *t, const xd_tensor *x);

/* Deterministic test data: uniform in [lo, hi) from a simple LCG. */
void xdt_fill(float *v, size_t n, uint32_t seed, float lo, float hi);

/* Bitwise equality of two float arrays; prints the first mismatches. */
int xdt_bitwise(xdt *t, const char *what, const float *a, const float *b, size_t n);
/* Closeness |a-ref| <= abs + rel*|ref| against a double reference; prints the
 * first ten mismatches with their indices; returns 1 when all pass. */
int xdt_close(xdt *t, const char *what, const float *got, const double *ref, size_t n, double abs_tol, double rel_tol);

#endif
