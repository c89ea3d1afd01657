/* Element-wise differences of two float32 arrays (snapshot tensors, op
 * outputs): how many differ, by how much relative to the tensor's scale
 * (the figure a deep-learning reader judges), and in ULPs for the numerics
 * reader, with sign flips and NaNs counted apart: a value that crossed zero
 * is many billions of ULPs from the other, which says nothing about how far
 * apart the two numbers are. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "compare/pair.h"
#include "io/io.h"

const char *xd_ulp_bin_label(int bin)
{
    static const char *const labels[XD_ULP_BINS] = {"0",         "1",      "2-3",  "4-15", "16-255",
                                                    "256-65535", ">65535", "sign", "NaN"};
    return (bin >= 0 && bin < XD_ULP_BINS) ? labels[bin] : "?";
}

uint64_t xd_ulp_distance(float a, float b)
{
    uint32_t ua, ub;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    if (ua == ub) return 0;
    if (isnan(a) != isnan(b)) return UINT64_MAX;
    if (isnan(a)) return 0;
    /* Map to a monotonic integer line: negatives mirrored below zero. */
    int64_t ia = (ua & 0x80000000u) ? -(int64_t)(ua & 0x7fffffffu) : (int64_t)ua;
    int64_t ib = (ub & 0x80000000u) ? -(int64_t)(ub & 0x7fffffffu) : (int64_t)ub;
    return (uint64_t)(ia > ib ? ia - ib : ib - ia);
}

/* The bin of a ULP distance between two values of one sign. */
static int ulp_bin(uint64_t u)
{
    if (u == 0) return 0;
    if (u == 1) return 1;
    if (u < 4) return 2;
    if (u < 16) return 3;
    if (u < 256) return 4;
    if (u < 65536) return 5;
    return 6;
}

/* One element that is not bitwise equal (both NaN counts as equal). */
static void diff_element(float r, float b, xd_tensor_diff *d, double *se)
{
    d->ndiff++;
    double e = fabs((double)r - (double)b);
    if (!(e <= d->max_abs)) d->max_abs = e; /* NaN propagates */
    *se += e * e;
    if (isnan(r) != isnan(b)) {
        d->nan++;
        d->ulp_hist[XD_ULP_BIN_NAN]++;
    } else if (signbit(r) != signbit(b)) {
        d->sign_flips++;
        d->ulp_hist[XD_ULP_BIN_SIGN]++;
    } else {
        uint64_t u = xd_ulp_distance(r, b);
        d->ulp_hist[ulp_bin(u)]++;
        if (u > d->max_ulp) d->max_ulp = u;
    }
}

void xd_diff_arrays(const float *ref, const float *b, size_t n, xd_tensor_diff *d)
{
    double maxref = 0, se = 0, sr = 0;
    d->n = n;
    for (size_t i = 0; i < n; ++i)
        if (isfinite(ref[i]) && fabs((double)ref[i]) > maxref) maxref = fabs((double)ref[i]);
    for (size_t i = 0; i < n; ++i) {
        if (isfinite(ref[i])) sr += (double)ref[i] * (double)ref[i];
        if (memcmp(&ref[i], &b[i], 4) == 0 || (isnan(ref[i]) && isnan(b[i]))) {
            d->ulp_hist[0]++;
            continue;
        }
        diff_element(ref[i], b[i], d, &se);
    }
    if (d->ndiff == 0 || d->max_abs == 0) d->max_rel = 0; /* nothing, or only the sign of a zero, differs */
    else d->max_rel = maxref > 0 ? d->max_abs / maxref : INFINITY;
    d->ref_max = d->scale = maxref; /* its own scale until its group's is known (xd_pair_scale_step) */
    d->layer_rel = d->max_rel;
    d->nmse = d->ndiff == 0 ? 0 : (sr > 0 ? se / sr : INFINITY);
}

xd_status xd_diff_npy(const xd_npy_array *a, const xd_npy_array *b, const char *what, xd_tensor_diff *d, xd_error *err)
{
    int same = a->dtype == XD_DTYPE_F32 && b->dtype == XD_DTYPE_F32 && a->ndim == b->ndim && a->count == b->count;
    for (int i = 0; same && i < a->ndim; ++i) same = a->shape[i] == b->shape[i];
    if (!same) {
        char sa[160], sb[160];
        xd_npy_describe(a, sa, sizeof sa);
        xd_npy_describe(b, sb, sizeof sb);
        return xd_error_set(err, XD_MISMATCH, 0, "%s: %s vs %s", what, sa, sb);
    }
    xd_diff_arrays(a->data, b->data, a->count, d);
    return XD_OK;
}
