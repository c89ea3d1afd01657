/* The checks every test shares, device or not: "NAME: N passed, M failed",
 * the first mismatches of two arrays.  The device-free tests (NPY, IDX,
 * traces, Keras models, verdicts, reports) link this and crossdev_trace
 * alone; the device tests add harness.h's context and tensors. */
#ifndef XD_TEST_CHECK_H
#define XD_TEST_CHECK_H

#include <stddef.h>
#include <stdint.h>

struct xd_device_list;
struct xd_device_info;
struct xd_context;

typedef struct xdt {
    const char *name;
    struct xd_device_list *list;
    const struct xd_device_info *dev;
    struct xd_context *ctx;
    int small; /* --small: simulator-sized shapes */
    int passed, failed;
    void (*release)(struct xdt *t); /* set by xdt_init: destroys the context and the device list */
} xdt;

/* Records one check; prints "FAIL: ..." with the message when cond is 0. */
int xdt_check(xdt *t, int cond, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints the tally, releases what xdt_init made; the exit code (1 when a
 * check failed). */
int xdt_finish(xdt *t);

/* Deterministic test data: uniform in [lo, hi) from a simple LCG. */
void xdt_fill(float *v, size_t n, uint32_t seed, float lo, float hi);

/* Bitwise equality of two float arrays; prints the first mismatches. */
int xdt_bitwise(xdt *t, const char *what, const float *a, const float *b, size_t n);
/* Closeness |a-ref| <= abs + rel*|ref| against a double reference; prints the
 * first ten mismatches with their indices; returns 1 when all pass. */
int xdt_close(xdt *t, const char *what, const float *got, const double *ref, size_t n, double abs_tol, double rel_tol);

#endif
