/* Test harness shared by the device tests: `--device ID` picks the device by
 * its exact id (a test told to use a device that is not there fails), the
 * context, tensors to and from the device; the checks are check.h's. */
#ifndef XD_TEST_HARNESS_H
#define XD_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "crossdev/crossdev.h"

/* Parses argv (--device ID [--small] [--mode M]); creates the context.
 * Returns 0, or an exit code to return from main (device missing: 1). */
int xdt_init(xdt *t, const char *name, int argc, char **argv);
/* Checks an xd_status, printing the context's last error on failure. */
int xdt_ok(xdt *t, xd_status st, const char *what);

/* Device tensor from host data (f32 or i32 by dtype); NULL on failure (recorded). */
xd_tensor *xdt_upload(xdt *t, xd_dtype dtype, int ndim, const int64_t *shape, const void *data);
xd_tensor *xdt_empty(xdt *t, int ndim, const int64_t *shape);
/* Reads a tensor into a new malloc'ed float array (NULL on failure, recorded). */
float *xdt_download(xdt *t, const xd_tensor *x);

#endif
