/* crossdev — comparing traces and reporting (docs/compare.md). */
#ifndef CROSSDEV_COMPARE_H
#define CROSSDEV_COMPARE_H

#include <stdio.h>

#include "crossdev/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tolerances for WITHIN TOLERANCE (docs/compare.md justifies the defaults):
 * every snapshot tensor's max |a-b| / max|ref| <= rel, and every step's
 * |loss_a - loss_b| / |loss_ref| <= loss_rel. */
typedef struct xd_tolerance {
    double rel;
    double loss_rel;
} xd_tolerance;
XD_API xd_tolerance xd_tolerance_defaults(void);

typedef enum xd_verdict {
    XD_VERDICT_IDENTICAL,
    XD_VERDICT_WITHIN_TOLERANCE,
    XD_VERDICT_DIVERGED,
    XD_VERDICT_INCOMPARABLE, /* different model, version or batch: refused */
    XD_VERDICT_FAILED        /* a run failed: nothing to compare */
} xd_verdict;
XD_API const char *xd_verdict_string(xd_verdict v); /* "IDENTICAL", "WITHIN TOLERANCE", ... */

/* ULP histogram bins: 0, 1, 2-3, 4-15, 16-255, 256-65535, >65535, NaN/sign mismatch */
#define XD_ULP_BINS 8
XD_API const char *xd_ulp_bin_label(int bin);
/* Distance in representable floats between a and b (0 when bitwise equal;
 * UINT64_MAX when exactly one is NaN). */
XD_API uint64_t xd_ulp_distance(float a, float b);

typedef struct xd_tensor_diff {
    char name[XD_TRACE_NAME_LEN];
    int64_t step;
    size_t n, ndiff;         /* elements, elements not bitwise equal */
    double max_abs, max_rel; /* max_rel: max |a-b| / max |ref| over the tensor */
    double nmse;             /* sum (a-b)^2 / sum ref^2 (0 when ref is all zero and equal) */
    uint64_t max_ulp;
    size_t ulp_hist[XD_ULP_BINS];
} xd_tensor_diff;

typedef struct xd_pair {
    const xd_trace *ref, *other; /* borrowed */
    int64_t common_steps;
    int init_identical;
    int64_t first_divergent_step; /* -1: none over the common steps; 0: initial weights */
    char first_divergent_tensor[XD_TRACE_NAME_LEN];
    char first_divergent_op[XD_TRACE_NAME_LEN]; /* "" unless both traces have op hashes */
    double loss_max_abs, loss_max_rel;
    int64_t loss_peak_step; /* step where the loss difference peaks (0: none) */
    size_t ndiffs;
    xd_tensor_diff *diffs; /* every common snapshot x tensor */
    double max_abs, max_rel;
    uint64_t max_ulp;
    xd_verdict verdict;
    int guarantee_broken; /* both reproducible and not IDENTICAL */
    char note[512];       /* why incomparable; remarks (seeds, data, lengths) */
} xd_pair;

/* Compares other against ref over their common steps.  Traces of another
 * model, version or batch are XD_VERDICT_INCOMPARABLE with the field named
 * in note (status XD_MISMATCH); I/O problems reading snapshots are errors. */
XD_API xd_status xd_compare_pair(const xd_trace *ref, const xd_trace *other, const xd_tolerance *tol, xd_pair *out,
                                 xd_error *err);
XD_API void xd_pair_free(xd_pair *p);

#ifdef __cplusplus
}
#endif
#endif
