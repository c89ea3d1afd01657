/* Comparing two traces: hashes find the first divergent step and op;
 * snapshot tensors give the size of the differences (abs, rel, ULP, NMSE). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "crossdev/crossdev.h"

xd_tolerance xd_tolerance_defaults(void)
{
    /* docs/compare.md: after 200 steps fast mode differs from reproducible
     * mode by up to 2.7e-2 (Adam's m, near zero crossings), 7e-3 in the
     * weights and 5e-4 in the loss; a real bug shows at the 1e-1 level. */
    xd_tolerance t = {5e-2, 1e-2};
    return t;
}

const char *xd_verdict_string(xd_verdict v)
{
    switch (v) {
    case XD_VERDICT_IDENTICAL: return "IDENTICAL";
    case XD_VERDICT_WITHIN_TOLERANCE: return "WITHIN TOLERANCE";
    case XD_VERDICT_DIVERGED: return "DIVERGED";
    case XD_VERDICT_INCOMPARABLE: return "INCOMPARABLE";
    default: return "FAILED";
    }
}

const char *xd_ulp_bin_label(int bin)
{
    static const char *const labels[XD_ULP_BINS] = {"0",      "1",         "2-3",    "4-15",
                                                    "16-255", "256-65535", ">65535", "NaN/sign"};
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

static int ulp_bin(uint64_t u)
{
    if (u == UINT64_MAX) return 7;
    if (u == 0) return 0;
    if (u == 1) return 1;
    if (u < 4) return 2;
    if (u < 16) return 3;
    if (u < 256) return 4;
    if (u < 65536) return 5;
    return 6;
}

static void diff_arrays(const float *ref, const float *b, size_t n, xd_tensor_diff *d)
{
    double maxref = 0, se = 0, sr = 0;
    d->n = n;
    for (size_t i = 0; i < n; ++i)
        if (isfinite(ref[i]) && fabs((double)ref[i]) > maxref) maxref = fabs((double)ref[i]);
    for (size_t i = 0; i < n; ++i) {
        uint64_t u = xd_ulp_distance(ref[i], b[i]);
        d->ulp_hist[ulp_bin(u)]++;
        if (u == 0) {
            sr += (double)ref[i] * (double)ref[i];
            continue;
        }
        d->ndiff++;
        if (u > d->max_ulp) d->max_ulp = u;
        double e = fabs((double)ref[i] - (double)b[i]);
        if (!(e <= d->max_abs)) d->max_abs = e; /* NaN propagates */
        se += e * e;
        sr += (double)ref[i] * (double)ref[i];
    }
    d->max_rel = d->ndiff == 0 ? 0 : (maxref > 0 ? d->max_abs / maxref : INFINITY);
    d->nmse = d->ndiff == 0 ? 0 : (sr > 0 ? se / sr : INFINITY);
}

static int tensor_index(const xd_trace *t, const char *name)
{
    for (size_t i = 0; i < t->ntensors; ++i)
        if (strcmp(t->tensor_names[i], name) == 0) return (int)i;
    return -1;
}

/* Hash of tensor i after `step` (0: initial). */
static uint64_t hash_at(const xd_trace *t, int64_t step, size_t i)
{
    return step == 0 ? t->init_hashes[i] : t->hashes[(size_t)(step - 1) * t->ntensors + i];
}

/* The settings that make two traces comparable at all: the name of the
 * first one that differs, NULL when they all match. */
static const char *differing_setting(const xd_trace *ref, const xd_trace *o)
{
    if (ref->version != o->version) return "version";
    if (strcmp(ref->model, o->model) != 0) return "model";
    if (ref->batch != o->batch) return "batch";
    if (ref->ntensors != o->ntensors) return "tensors";
    for (size_t i = 0; i < ref->ntensors; ++i)
        if (strcmp(ref->tensor_names[i], o->tensor_names[i]) != 0) return "tensors";
    return NULL;
}

/* Refuses traces whose settings differ: their numbers say nothing about the
 * devices, so the pair is INCOMPARABLE and no number is computed. */
static xd_status refuse_incomparable(const xd_trace *ref, const xd_trace *o, xd_pair *p, xd_error *err)
{
    const char *field = differing_setting(ref, o);
    if (!field) return XD_OK;
    p->verdict = XD_VERDICT_INCOMPARABLE;
    snprintf(p->note, sizeof p->note, "refused: field '%s' differs (%.200s vs %.200s)", field, ref->dir, o->dir);
    xd_error_msg(err, "%s", p->note);
    return XD_MISMATCH;
}

/* What a reader must know before reading the numbers: other seeds or data
 * make differences expected; runs of other lengths are compared over the
 * steps both ran. */
static void write_notes(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    size_t nl = 0;
    if (ref->seed != o->seed)
        nl += (size_t)snprintf(p->note + nl, sizeof p->note - nl,
                               "different seeds (%llu vs %llu): differences expected. ", (unsigned long long)ref->seed,
                               (unsigned long long)o->seed);
    if (nl < sizeof p->note && (strcmp(ref->data_name, o->data_name) != 0 || ref->synthetic != o->synthetic))
        nl += (size_t)snprintf(p->note + nl, sizeof p->note - nl, "different data (%s vs %s). ", ref->data_name,
                               o->data_name);
    if (nl < sizeof p->note && ref->steps != o->steps)
        snprintf(p->note + nl, sizeof p->note - nl, "compared over %lld common steps (%lld vs %lld run)",
                 (long long)p->common_steps, (long long)ref->steps, (long long)o->steps);
}

/* Divergence already in the initial weights: step 0, op "init". */
static void first_divergence_at_init(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    p->init_identical = memcmp(ref->init_hashes, o->init_hashes, ref->ntensors * sizeof(uint64_t)) == 0;
    if (p->init_identical) return;
    p->first_divergent_step = 0;
    for (size_t i = 0; i < ref->ntensors; ++i)
        if (ref->init_hashes[i] != o->init_hashes[i]) {
            snprintf(p->first_divergent_tensor, sizeof p->first_divergent_tensor, "%s", ref->tensor_names[i]);
            break;
        }
    snprintf(p->first_divergent_op, sizeof p->first_divergent_op, "init");
}

/* The first step whose loss or tensor hashes differ.  The loss is checked
 * first because it is computed before that step's update (two NaN losses
 * count as equal). */
static void first_divergent_step(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    for (int64_t k = 1; p->first_divergent_step < 0 && k <= p->common_steps; ++k) {
        if (memcmp(&ref->loss[k - 1], &o->loss[k - 1], 4) != 0 && !(isnan(ref->loss[k - 1]) && isnan(o->loss[k - 1]))) {
            p->first_divergent_step = k;
            snprintf(p->first_divergent_tensor, sizeof p->first_divergent_tensor, "loss");
        }
        for (size_t i = 0; i < ref->ntensors; ++i)
            if (hash_at(ref, k, i) != hash_at(o, k, i)) {
                if (p->first_divergent_step < 0) {
                    p->first_divergent_step = k;
                    snprintf(p->first_divergent_tensor, sizeof p->first_divergent_tensor, "%s", ref->tensor_names[i]);
                }
                break;
            }
    }
}

/* The first op whose output hash differs at the first divergent step; only
 * when both traces hashed the same ops (--hash-ops). */
static void first_divergent_op(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    int64_t k = p->first_divergent_step;
    if (k < 1 || !ref->nops || ref->nops != o->nops) return;
    int same_names = 1;
    for (size_t i = 0; i < ref->nops; ++i) same_names &= strcmp(ref->op_names[i], o->op_names[i]) == 0;
    for (size_t i = 0; same_names && i < ref->nops; ++i)
        if (ref->op_hashes[(size_t)(k - 1) * ref->nops + i] != o->op_hashes[(size_t)(k - 1) * o->nops + i]) {
            snprintf(p->first_divergent_op, sizeof p->first_divergent_op, "%s", ref->op_names[i]);
            break;
        }
}

/* The largest loss difference over the common steps, and where it peaks. */
static void loss_trajectory(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    for (int64_t s = 1; s <= p->common_steps; ++s) {
        double a = ref->loss[s - 1], b = o->loss[s - 1];
        if (isnan(a) && isnan(b)) continue;
        double e = fabs(a - b), rel = a != 0 ? e / fabs(a) : (e == 0 ? 0 : INFINITY);
        if (!(e <= p->loss_max_abs)) {
            p->loss_max_abs = e;
            p->loss_peak_step = s;
        }
        if (!(rel <= p->loss_max_rel)) p->loss_max_rel = rel;
    }
}

/* Diffs tensor d->name at a common snapshot into d, reading both .npy
 * files, and folds it into the pair's maxima. */
static xd_status diff_snapshot_tensor(const xd_trace *ref, const xd_trace *o, int64_t step, xd_tensor_diff *d,
                                      xd_pair *p, xd_error *err)
{
    xd_npy_array a = {0}, b = {0};
    xd_status st = xd_trace_load_tensor(ref, step, d->name, &a, err);
    if (st == XD_OK) st = xd_trace_load_tensor(o, step, d->name, &b, err);
    if (st == XD_OK && (a.dtype != XD_DTYPE_F32 || b.dtype != XD_DTYPE_F32 || a.count != b.count)) {
        xd_error_msg(err, "%s at step %lld: shapes differ between %s and %s", d->name, (long long)step, ref->dir,
                     o->dir);
        st = XD_MISMATCH;
    }
    if (st == XD_OK) diff_arrays(a.data, b.data, a.count, d);
    xd_npy_free(&a);
    xd_npy_free(&b);
    if (st != XD_OK) return st;
    if (!(d->max_abs <= p->max_abs)) p->max_abs = d->max_abs;
    if (!(d->max_rel <= p->max_rel)) p->max_rel = d->max_rel;
    if (d->max_ulp > p->max_ulp) p->max_ulp = d->max_ulp;
    return XD_OK;
}

/* One diff per tensor at every snapshot both traces hold within the common
 * steps; tensors are read only where the hashes differ (equal hashes leave
 * the diff at zero). */
static xd_status snapshot_diffs(const xd_trace *ref, const xd_trace *o, xd_pair *p, xd_error *err)
{
    size_t cap = ref->nsnapshots * ref->ntensors;
    p->diffs = calloc(cap ? cap : 1, sizeof *p->diffs);
    if (!p->diffs) {
        xd_error_msg(err, "out of host memory");
        return XD_OUT_OF_HOST_MEMORY;
    }
    for (size_t si = 0; si < ref->nsnapshots; ++si) {
        int64_t step = ref->snapshots[si];
        if (step > p->common_steps || !xd_trace_has_snapshot(o, step)) continue;
        for (size_t i = 0; i < ref->ntensors; ++i) {
            xd_tensor_diff *d = &p->diffs[p->ndiffs++];
            snprintf(d->name, sizeof d->name, "%s", ref->tensor_names[i]);
            d->step = step;
            int oi = tensor_index(o, ref->tensor_names[i]);
            if (oi >= 0 && hash_at(ref, step, i) == hash_at(o, step, (size_t)oi)) continue;
            xd_status st = diff_snapshot_tensor(ref, o, step, d, p, err);
            if (st != XD_OK) return st;
        }
    }
    return XD_OK;
}

/* IDENTICAL when no hash differs anywhere; otherwise the tolerances decide.
 * Any difference between reproducible runs of one seed breaks the
 * guarantee, whatever the tolerance says. */
static void judge(const xd_trace *ref, const xd_trace *o, const xd_tolerance *tol, xd_pair *p)
{
    if (p->first_divergent_step < 0 && p->init_identical) p->verdict = XD_VERDICT_IDENTICAL;
    else if (p->max_rel <= tol->rel && p->loss_max_rel <= tol->loss_rel) p->verdict = XD_VERDICT_WITHIN_TOLERANCE;
    else p->verdict = XD_VERDICT_DIVERGED;
    p->guarantee_broken = p->verdict != XD_VERDICT_IDENTICAL && strcmp(ref->mode, "reproducible") == 0 &&
                          strcmp(o->mode, "reproducible") == 0 && ref->seed == o->seed;
}

static xd_status compare_pair(const xd_trace *ref, const xd_trace *o, const xd_tolerance *tol, xd_pair *p,
                              xd_error *err)
{
    if (!ref || !o || !p) return XD_INVALID_ARGUMENT;
    xd_tolerance dt = xd_tolerance_defaults();
    if (!tol) tol = &dt;
    memset(p, 0, sizeof *p);
    p->ref = ref;
    p->other = o;
    p->first_divergent_step = -1;
    xd_status st = refuse_incomparable(ref, o, p, err);
    if (st != XD_OK) return st;
    p->common_steps = ref->steps < o->steps ? ref->steps : o->steps;
    write_notes(ref, o, p);
    first_divergence_at_init(ref, o, p);
    first_divergent_step(ref, o, p);
    first_divergent_op(ref, o, p);
    loss_trajectory(ref, o, p);
    st = snapshot_diffs(ref, o, p, err);
    if (st != XD_OK) return st;
    judge(ref, o, tol, p);
    return XD_OK;
}

xd_status xd_compare_pair(const xd_trace *ref, const xd_trace *o, const xd_tolerance *tol, xd_pair *p, xd_error *err)
{
    return xd_error_return(err, compare_pair(ref, o, tol, p, err));
}

void xd_pair_free(xd_pair *p)
{
    if (!p) return;
    free(p->diffs);
    p->diffs = NULL;
    p->ndiffs = 0;
}
