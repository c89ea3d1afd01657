/* Comparing two traces, in the order a reader needs: settings first
 * (settings.c), then the hashes find where the runs part (the first
 * divergent step and op), the snapshot tensors and op outputs say by how
 * much (diffs.c), and the pair is judged where it parts: a first
 * difference at the rounding level is ROUNDING-LEVEL however much it grows
 * later (that growth is reported as amplification), unless the runs end
 * apart in a final metric. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "compare/pair.h"
#include "crossdev/report.h"

xd_tolerance xd_tolerance_defaults(void)
{
    /* docs/compare.md: measured here, reproducible vs fast mode differ at
     * their first step by at most 5.9e-6 of a tensor's max (Adam's
     * normalisation amplifies near-zero gradients), crossdev vs PyTorch CPU
     * by 7.8e-5 (the same, with another framework's summation orders), the
     * loss by 1.2e-7; a different formula (Keras's Adam vs PyTorch's) by
     * 4e-2.  1e-3 sits 13x above the largest rounding and 40x below the
     * convention.  After 300 steps the two modes end 0.04 points of
     * accuracy and 5e-5 of test loss apart.  Amplified: an end state more
     * than 1% of its layer's scale apart (docs/compare.md). */
    xd_tolerance t = {1e-3, 0.01, 0.01, 0, 0, 1e-2, NULL, 0};
    return t;
}

const char *xd_verdict_string(xd_verdict v)
{
    switch (v) {
    case XD_VERDICT_IDENTICAL: return "IDENTICAL";
    case XD_VERDICT_ROUNDING_LEVEL: return "ROUNDING-LEVEL";
    case XD_VERDICT_DIVERGED: return "DIVERGED";
    case XD_VERDICT_DIFFERENT_SETTINGS: return "DIFFERENT SETTINGS";
    case XD_VERDICT_INCOMPARABLE: return "INCOMPARABLE";
    default: return "FAILED";
    }
}

const char *xd_pair_verdict_label(const xd_pair *p)
{
    return p->amplified ? "ROUNDING-LEVEL, AMPLIFIED" : xd_verdict_string(p->verdict);
}

const char *xd_rule_string(xd_rule r)
{
    switch (r) {
    case XD_RULE_SETTINGS: return "settings";
    case XD_RULE_HASHES: return "hashes";
    case XD_RULE_FIRST_DIFFERENCE: return "first-difference";
    case XD_RULE_FINAL_METRIC: return "final-metric";
    case XD_RULE_END_TOLERANCE: return "end-tolerance";
    default: return "none";
    }
}

/* The tensor sets must match for any number to mean something. */
static int same_tensors(const xd_trace *ref, const xd_trace *o)
{
    if (ref->ntensors != o->ntensors) return 0;
    for (size_t i = 0; i < ref->ntensors; ++i)
        if (strcmp(ref->tensor_names[i], o->tensor_names[i]) != 0) return 0;
    return 1;
}

/* Nothing was compared: the pair is INCOMPARABLE for the reason given. */
static xd_status incomparable(xd_pair *p, xd_error *err, const char *why)
{
    p->verdict = XD_VERDICT_INCOMPARABLE;
    p->rule = XD_RULE_NONE;
    snprintf(p->note, sizeof p->note, "refused: %s (%.150s vs %.150s)", why, p->ref->dir, p->other->dir);
    xd_error_msg(err, "%s", p->note);
    return XD_MISMATCH;
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

/* Relative difference of two losses (two NaNs are equal). */
static double loss_rel(float a, float b)
{
    if (memcmp(&a, &b, 4) == 0 || (isnan(a) && isnan(b))) return 0;
    double e = fabs((double)a - (double)b);
    return a != 0 ? e / fabs((double)a) : INFINITY;
}

/* The first tensor whose hash differs at step k, a judged one before one
 * that is not (a bias with no effect differs at every step of two runs
 * that round differently); -1 when none differs. */
static int first_differing_tensor(const xd_trace *ref, const xd_trace *o, const xd_pair *p, int64_t k)
{
    int first = -1;
    for (size_t i = 0; i < ref->ntensors; ++i) {
        if (xd_trace_tensor_hash(ref, k, i) == xd_trace_tensor_hash(o, k, i)) continue;
        if (p->roles[i] == XD_ROLE_JUDGED) return (int)i;
        if (first < 0) first = (int)i;
    }
    return first;
}

/* The first step whose loss or tensor hashes differ.  The loss is checked
 * first because it is computed before that step's update. */
static void first_divergent_step(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    for (int64_t k = 1; p->first_divergent_step < 0 && k <= p->common_steps; ++k) {
        int i = first_differing_tensor(ref, o, p, k), loss_differs = loss_rel(ref->loss[k - 1], o->loss[k - 1]) != 0;
        if (!loss_differs && i < 0) continue;
        p->first_divergent_step = k;
        snprintf(p->first_divergent_tensor, sizeof p->first_divergent_tensor, "%s",
                 loss_differs ? "loss" : ref->tensor_names[i]);
    }
    if (p->first_divergent_step > 0)
        p->first_loss_rel = loss_rel(ref->loss[p->first_divergent_step - 1], o->loss[p->first_divergent_step - 1]);
}

/* 1 when both traces hashed the same ops. */
static int same_ops(const xd_trace *ref, const xd_trace *o)
{
    if (!ref->nops || ref->nops != o->nops) return 0;
    for (size_t i = 0; i < ref->nops; ++i)
        if (strcmp(ref->op_names[i], o->op_names[i]) != 0) return 0;
    return 1;
}

static int op_differs(const xd_trace *ref, const xd_trace *o, int64_t k, size_t i)
{
    return ref->op_hashes[(size_t)(k - 1) * ref->nops + i] != o->op_hashes[(size_t)(k - 1) * o->nops + i];
}

/* An update op's hash covers the parameter alone in older traces and the
 * parameter with its optimizer state in newer ones: between the two it
 * says nothing, and is skipped. */
static int comparable_op(const xd_trace *ref, const xd_trace *o, const char *op)
{
    size_t n = strlen(op), u = strlen(".update");
    int update = n > u && strcmp(op + n - u, ".update") == 0;
    return !update || ref->op_updates_state == o->op_updates_state;
}

/* The first op whose output hash differs at the first divergent step, in
 * the reference's execution order.  Traces with other op lists (crossdev
 * and a framework's replay: flatten.forward on one side, loss.backward on
 * the other) are compared on the ops both record, by name; *common counts
 * them (0 when the lists are the same). */
static void first_divergent_op(const xd_trace *ref, const xd_trace *o, xd_pair *p, size_t *common)
{
    int64_t k = p->first_divergent_step;
    *common = 0;
    if (k < 1 || !ref->nops || !o->nops) return;
    int same = same_ops(ref, o);
    for (size_t i = 0; i < ref->nops; ++i) {
        int oj = same ? (int)i : xd_trace_op_index(o, ref->op_names[i]);
        if (oj < 0 || !comparable_op(ref, o, ref->op_names[i])) continue;
        size_t j = (size_t)oj;
        if (!same) ++*common;
        if (!p->first_divergent_op[0] &&
            ref->op_hashes[(size_t)(k - 1) * ref->nops + i] != o->op_hashes[(size_t)(k - 1) * o->nops + j])
            snprintf(p->first_divergent_op, sizeof p->first_divergent_op, "%s", ref->op_names[i]);
    }
}

/* The size of each op output that differs at the first divergent step,
 * when both runs stored them there (--op-outputs-at); otherwise a hint
 * saying how to get them. */
static xd_status op_output_diffs(const xd_trace *ref, const xd_trace *o, xd_pair *p, xd_error *err)
{
    int64_t k = p->first_divergent_step;
    if (k < 1) return XD_OK;
    if (!same_ops(ref, o)) {
        const xd_trace *bare = ref->nops ? o : ref; /* a trace without op hashes */
        if (ref->nops && o->nops)
            snprintf(p->hint, sizeof p->hint,
                     "the traces record different ops: the first op is the first of the %zu they both record "
                     "(by name) whose output differs",
                     p->common_ops);
        else if (bare->producer[0])
            snprintf(p->hint, sizeof p->hint,
                     "no first op: the %s trace has no op hashes (recorders write them unless told not to: "
                     "crossdev.torch.Recorder hash_ops, crossdev.keras.TraceCallback ops, crossdev.record --no-ops)",
                     bare->producer);
        else
            snprintf(p->hint, sizeof p->hint,
                     "no first op: %s no op hashes (run --hash-ops; compare records them by default)",
                     ref->nops || o->nops ? "one trace has" : "the traces have");
        return XD_OK;
    }
    if (ref->producer[0] || o->producer[0]) {
        snprintf(p->hint, sizeof p->hint,
                 "per-op sizes: a framework trace stores no op outputs, only their hashes (the first op above)");
        return XD_OK;
    }
    if (!xd_trace_has_op_outputs(ref, k) || !xd_trace_has_op_outputs(o, k)) {
        snprintf(p->hint, sizeof p->hint,
                 "per-op sizes at step %lld: run both again with --hash-ops --op-outputs-at %lld", (long long)k,
                 (long long)k);
        return XD_OK;
    }
    p->op_diffs = calloc(ref->nops, sizeof *p->op_diffs);
    if (!p->op_diffs) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory");
    for (size_t i = 0; i < ref->nops; ++i) {
        if (!op_differs(ref, o, k, i)) continue;
        xd_tensor_diff *d = &p->op_diffs[p->nop_diffs++];
        xd_npy_array a = {0}, b = {0};
        snprintf(d->name, sizeof d->name, "%s", ref->op_names[i]);
        d->step = k;
        xd_status st = xd_trace_load_op_output(ref, k, d->name, &a, err);
        if (st == XD_OK) st = xd_trace_load_op_output(o, k, d->name, &b, err);
        if (st == XD_OK) st = xd_diff_npy(&a, &b, d->name, d, err);
        xd_npy_free(&a);
        xd_npy_free(&b);
        if (st != XD_OK) return st;
    }
    return XD_OK;
}

/* The largest loss difference over the common steps, where it peaks, and
 * the mean loss of the last ten common steps (the end of the run). */
static void loss_trajectory(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    double sa = 0, sb = 0;
    for (int64_t s = 1; s <= p->common_steps; ++s) {
        double a = ref->loss[s - 1], b = o->loss[s - 1];
        if (s > p->common_steps - 10) sa += a, sb += b;
        if (isnan(a) && isnan(b)) continue;
        double e = fabs(a - b), rel = loss_rel(ref->loss[s - 1], o->loss[s - 1]);
        if (!(e <= p->loss_max_abs)) {
            p->loss_max_abs = e;
            p->loss_peak_step = s;
        }
        if (!(rel <= p->loss_max_rel)) p->loss_max_rel = rel;
    }
    p->end_loss_rel = sa == sb ? 0 : sa != 0 ? fabs(sa - sb) / fabs(sa) : INFINITY;
}

/* Diffs tensor d->name at a common snapshot into d, reading both .npy
 * files, and folds it into the pair's maxima. */
static xd_status diff_snapshot_tensor(const xd_trace *ref, const xd_trace *o, int64_t step, xd_tensor_diff *d,
                                      xd_pair *p, xd_error *err)
{
    xd_npy_array a = {0}, b = {0};
    char what[XD_TRACE_NAME_LEN + 32];
    snprintf(what, sizeof what, "%s at step %lld", d->name, (long long)step);
    xd_status st = xd_trace_load_tensor(ref, step, d->name, &a, err);
    if (st == XD_OK) st = xd_trace_load_tensor(o, step, d->name, &b, err);
    if (st == XD_OK) st = xd_diff_npy(&a, &b, what, d, err);
    xd_npy_free(&a);
    xd_npy_free(&b);
    if (st != XD_OK) return st;
    if (!(d->max_abs <= p->max_abs)) p->max_abs = d->max_abs;
    if (!(d->max_rel <= p->max_rel)) p->max_rel = d->max_rel;
    if (d->max_ulp > p->max_ulp) p->max_ulp = d->max_ulp;
    p->sign_flips += d->sign_flips;
    return XD_OK;
}

/* One diff per tensor at every snapshot both traces hold within the common
 * steps; tensors are read only where the hashes differ (equal hashes leave
 * the diff at zero). */
static xd_status snapshot_diffs(const xd_trace *ref, const xd_trace *o, xd_pair *p, xd_error *err)
{
    size_t cap = ref->nsnapshots * ref->ntensors;
    p->diffs = calloc(cap ? cap : 1, sizeof *p->diffs);
    if (!p->diffs) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory");
    for (size_t si = 0; si < ref->nsnapshots; ++si) {
        int64_t step = ref->snapshots[si];
        if (step > p->common_steps || !xd_trace_has_snapshot(o, step)) continue;
        xd_tensor_diff *block = &p->diffs[p->ndiffs];
        for (size_t i = 0; i < ref->ntensors; ++i) {
            xd_tensor_diff *d = &p->diffs[p->ndiffs++];
            snprintf(d->name, sizeof d->name, "%s", ref->tensor_names[i]);
            d->step = step;
            d->ref_max = -1; /* not read */
            d->role = p->roles[i];
            int oi = xd_trace_tensor_index(o, ref->tensor_names[i]);
            if (oi >= 0 && xd_trace_tensor_hash(ref, step, i) == xd_trace_tensor_hash(o, step, (size_t)oi)) continue;
            xd_status st = diff_snapshot_tensor(ref, o, step, d, p, err);
            if (st != XD_OK) return st;
        }
        xd_status st = xd_pair_scale_step(ref, block, ref->ntensors, err);
        if (st != XD_OK) return st;
    }
    return XD_OK;
}

/* The worst judged tensor at snapshot `step`, against its layer's scale
 * (NaN wins). */
static double worst_at(const xd_pair *p, int64_t step, char *name, size_t cap)
{
    double worst = 0;
    for (size_t k = 0; k < p->ndiffs && !isnan(worst); ++k) {
        const xd_tensor_diff *d = &p->diffs[k];
        if (d->step != step || d->role != XD_ROLE_JUDGED || d->near_zero_gradient || d->layer_rel <= worst) continue;
        worst = d->layer_rel;
        snprintf(name, cap, "%s", d->name);
    }
    return worst;
}

/* The first difference's size: at the first divergent step's snapshot, or
 * the next one both hold (the growth in between included: said); and the
 * end of the run, the last common snapshot. */
static void measure_ends(xd_pair *p)
{
    p->first_measured_step = p->end_step = -1;
    for (size_t k = 0; k < p->ndiffs; ++k) {
        int64_t s = p->diffs[k].step;
        if (p->first_divergent_step >= 0 && s >= p->first_divergent_step && p->first_measured_step < 0)
            p->first_measured_step = s;
        p->end_step = s;
    }
    if (p->first_measured_step >= 0)
        p->first_max_rel = worst_at(p, p->first_measured_step, p->first_max_tensor, sizeof p->first_max_tensor);
    if (p->end_step >= 0) p->end_max_rel = worst_at(p, p->end_step, p->end_max_tensor, sizeof p->end_max_tensor);
    if (p->first_measured_step > p->first_divergent_step && !p->hint[0])
        snprintf(p->hint, sizeof p->hint,
                 "the first difference is measured at step %lld, the first snapshot after step %lld: for its size "
                 "at step %lld itself, run both again with --snapshot-at %lld",
                 (long long)p->first_measured_step, (long long)p->first_divergent_step,
                 (long long)p->first_divergent_step, (long long)p->first_divergent_step);
}

/* Final metrics are comparable when the runs are of one length and were
 * evaluated on the same test samples. */
static int final_comparable(const xd_trace *a, const xd_trace *b)
{
    return a->steps == b->steps && !isnan(a->test_accuracy) && !isnan(b->test_accuracy) && a->eval_n == b->eval_n;
}

/* "test accuracy 0.8452 vs 0.8451 (|d| 0.0001 <= 0.01)" etc.: 1 when every
 * final metric is within its tolerance. */
static int final_metrics_within(const xd_pair *p, const xd_tolerance *tol, char *out, size_t cap)
{
    const xd_trace *a = p->ref, *b = p->other;
    size_t len = 0;
    int ok = 1;
    if (p->final_compared) {
        double da = fabs(a->test_accuracy - b->test_accuracy);
        double dl = a->test_loss == b->test_loss ? 0 : fabs(a->test_loss - b->test_loss) / fabs(a->test_loss);
        ok = da <= tol->acc_abs && dl <= tol->final_loss_rel;
        len = (size_t)snprintf(out, cap, "; final test accuracy |%.4f - %.4f| = %.4f %s %g, test loss rel %.2g %s %g",
                               a->test_accuracy, b->test_accuracy, da, da <= tol->acc_abs ? "<=" : ">", tol->acc_abs,
                               dl, dl <= tol->final_loss_rel ? "<=" : ">", tol->final_loss_rel);
    }
    int lok = p->end_loss_rel <= tol->final_loss_rel;
    if (len < cap)
        snprintf(out + len, cap - len, "; training loss over the last 10 common steps rel %.2g %s %g", p->end_loss_rel,
                 lok ? "<=" : ">", tol->final_loss_rel);
    return ok && lok;
}

/* The optional end-state tolerances (--tol-rel, --tol-loss): 1 when they
 * hold or none was given. */
static int end_tolerance_within(const xd_pair *p, const xd_tolerance *tol, char *out, size_t cap)
{
    int ok = 1;
    size_t len = 0;
    out[0] = '\0';
    if (tol->rel > 0) {
        ok &= p->end_max_rel <= tol->rel;
        len = (size_t)snprintf(out, cap, "; --tol-rel: max rel at step %lld %.2g %s %g", (long long)p->end_step,
                               p->end_max_rel, p->end_max_rel <= tol->rel ? "<=" : ">", tol->rel);
    }
    if (tol->loss_rel > 0 && len < cap) {
        ok &= p->loss_max_rel <= tol->loss_rel;
        snprintf(out + len, cap - len, "; --tol-loss: loss rel %.2g %s %g", p->loss_max_rel,
                 p->loss_max_rel <= tol->loss_rel ? "<=" : ">", tol->loss_rel);
    }
    return ok;
}

/* 1 when the loss of the last (up to) 10 common steps is constant to
 * 1e-6 of its size in t: a model that is not learning (a loss pinned at
 * ln 10), whose loss cannot show how far apart two runs are. */
static int loss_flat(const xd_trace *t, int64_t common)
{
    if (common < 5) return 0;
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t s = common > 10 ? common - 10 : 0; s < common; ++s) {
        double v = t->loss[s];
        if (!isfinite(v)) return 0;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    return hi - lo <= 1e-6 * fabs(hi);
}

/* The end state beside a rounding-level first difference: tensors that
 * end further apart than tol->amplified_rel make the pair amplified,
 * said with the figures (and that nothing shows the runs interchangeable
 * where no test evaluation was compared). */
static void judge_end_state(xd_pair *p, const xd_tolerance *tol, char *out, size_t cap)
{
    out[0] = '\0';
    p->loss_flat = loss_flat(p->ref, p->common_steps) && loss_flat(p->other, p->common_steps);
    if (p->end_step < 0) return;
    int apart = !(p->end_max_rel <= tol->amplified_rel);
    p->amplified = p->verdict == XD_VERDICT_ROUNDING_LEVEL && apart;
    size_t len = (size_t)snprintf(
        out, cap, "; end state (step %lld): max rel %.2g (%s) %s %g, %s", (long long)p->end_step, p->end_max_rel,
        p->end_max_tensor[0] ? p->end_max_tensor : "-", apart ? ">" : "<=", tol->amplified_rel,
        !apart         ? "together"
        : p->amplified ? "AMPLIFIED"
                       : "apart");
    if (p->amplified && !p->final_compared && len < cap)
        len += (size_t)snprintf(out + len, cap - len,
                                ": no test evaluation was compared, so nothing shows the runs end interchangeable");
    if (p->loss_flat && len < cap)
        snprintf(out + len, cap - len,
                 "; the training loss is flat over the last common steps in both runs (%.5g vs %.5g: the model is "
                 "not learning), so it cannot show how far apart they are",
                 (double)p->ref->loss[p->common_steps - 1], (double)p->other->loss[p->common_steps - 1]);
}

/* Where the runs part decides: the first difference's size, then the
 * final metrics, then a user's end-state tolerance; the end state is said
 * beside (amplified or together); the rule that decided and every figure
 * it used go into rule_text. */
static void judge_numbers(xd_pair *p, const xd_tolerance *tol)
{
    char fin[256], end[200], state[400];
    double first =
        p->first_max_rel > p->first_loss_rel || isnan(p->first_max_rel) ? p->first_max_rel : p->first_loss_rel;
    int first_ok = first <= tol->rounding_rel;
    int fin_ok = final_metrics_within(p, tol, fin, sizeof fin);
    int end_ok = end_tolerance_within(p, tol, end, sizeof end);
    p->verdict = first_ok && fin_ok && end_ok ? XD_VERDICT_ROUNDING_LEVEL : XD_VERDICT_DIVERGED;
    p->rule = !first_ok ? XD_RULE_FIRST_DIFFERENCE
              : !fin_ok ? XD_RULE_FINAL_METRIC
              : !end_ok ? XD_RULE_END_TOLERANCE
                        : XD_RULE_FIRST_DIFFERENCE;
    judge_end_state(p, tol, state, sizeof state);
    if (p->first_measured_step < 0)
        snprintf(p->rule_text, sizeof p->rule_text,
                 "first difference at step %lld: no common snapshot from there on to measure it, loss rel %.2g %s "
                 "%g%s%s%s",
                 (long long)p->first_divergent_step, p->first_loss_rel, first_ok ? "<=" : ">", tol->rounding_rel, fin,
                 end, state);
    else
        snprintf(p->rule_text, sizeof p->rule_text,
                 "first difference (step %lld, measured at step %lld): max rel %.2g (%s), loss rel %.2g: %s %g, "
                 "the rounding level%s%s%s%s%s",
                 (long long)p->first_divergent_step, (long long)p->first_measured_step, p->first_max_rel,
                 p->first_max_tensor[0] ? p->first_max_tensor : "no judged tensor differs", p->first_loss_rel,
                 first_ok ? "<=" : ">", tol->rounding_rel,
                 p->near_zero[0] ? "; not judged there, Adam's first steps on gradients near zero: " : "", p->near_zero,
                 fin, end, state);
}

/* The numbers of a pair of identical settings: where they part, by how
 * much, and the verdict. */
static xd_status compare_numbers(const xd_trace *ref, const xd_trace *o, const xd_tolerance *tol, xd_pair *p,
                                 xd_error *err)
{
    first_divergence_at_init(ref, o, p);
    first_divergent_step(ref, o, p);
    /* the first loss is computed before any update: beyond rounding, the
     * forward pass itself differs (xd_pair_mechanism says what may) */
    p->forward_differs = p->init_identical && p->common_steps >= 1 &&
                         !(loss_rel(ref->loss[0], o->loss[0]) <= xd_forward_loss_tolerance(p, tol));
    first_divergent_op(ref, o, p, &p->common_ops);
    loss_trajectory(ref, o, p);
    xd_error e;
    xd_status st = snapshot_diffs(ref, o, p, &e);
    if (st == XD_OK) st = op_output_diffs(ref, o, p, &e);
    if (st == XD_MISMATCH) return incomparable(p, err, e.message); /* shapes differ: never IDENTICAL */
    if (st != XD_OK) return xd_error_set(err, st, e.cl_code, "%s", e.message);
    measure_ends(p);
    size_t near_zero = 0;
    if ((st = xd_pair_near_zero_gradients(p, tol, &near_zero, &e)) != XD_OK)
        return xd_error_set(err, st, e.cl_code, "%s", e.message);
    if (near_zero) /* measured again without them */
        p->first_max_rel = worst_at(p, p->first_measured_step, p->first_max_tensor, sizeof p->first_max_tensor);
    p->final_compared = final_comparable(ref, o);
    if (p->first_divergent_step < 0 && p->init_identical) {
        p->verdict = XD_VERDICT_IDENTICAL;
        p->rule = XD_RULE_HASHES;
        snprintf(p->rule_text, sizeof p->rule_text, "every hash equal over %lld common steps",
                 (long long)p->common_steps);
    } else {
        judge_numbers(p, tol);
    }
    return XD_OK;
}

/* The same trace twice (two spellings of one folder included). */
static int same_folder(const xd_trace *a, const xd_trace *b)
{
    if (a == b) return 1;
    if (!a->dir[0] || !b->dir[0]) return 0;
    char *ra = realpath(a->dir, NULL), *rb = realpath(b->dir, NULL);
    int same = ra && rb ? strcmp(ra, rb) == 0 : strcmp(a->dir, b->dir) == 0;
    free(ra);
    free(rb);
    return same;
}

/* Remarks a reader needs beside the verdict. */
static void write_notes(const xd_trace *ref, const xd_trace *o, xd_pair *p)
{
    size_t nl = 0;
    if (p->same_trace)
        nl += (size_t)snprintf(p->note, sizeof p->note, "the same trace was given twice: identical by construction");
    if (nl < sizeof p->note && ref->steps != o->steps)
        snprintf(p->note + nl, sizeof p->note - nl, "%scompared over %lld common steps (%lld vs %lld run)",
                 nl ? "; " : "", (long long)p->common_steps, (long long)ref->steps, (long long)o->steps);
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
    p->first_divergent_step = p->first_measured_step = p->end_step = -1;
    p->common_steps = ref->steps < o->steps ? ref->steps : o->steps;
    p->same_trace = same_folder(ref, o);
    write_notes(ref, o, p);
    xd_status st = xd_pair_roles(p, tol, err);
    if (st != XD_OK) return st;
    xd_settings_compare(ref, o, p);
    if (xd_settings_differ(p, XD_SETTING_TRAINING)) {
        p->verdict = XD_VERDICT_DIFFERENT_SETTINGS;
        p->rule = XD_RULE_SETTINGS;
        snprintf(p->rule_text, sizeof p->rule_text,
                 "the runs were asked to compute different things: differences are expected, nothing is judged");
    } else if (!same_tensors(ref, o)) {
        return incomparable(p, err, "the tensor sets differ");
    } else if ((st = compare_numbers(ref, o, tol, p, err)) != XD_OK) {
        return st;
    }
    /* build options may differ (tunables, division through fp64): in
     * reproducible mode they must not change a bit; another crossdev
     * version may compute differently by design */
    p->guarantee_judged = strcmp(ref->mode, "reproducible") == 0 && strcmp(o->mode, "reproducible") == 0 &&
                          p->verdict != XD_VERDICT_DIFFERENT_SETTINGS && !xd_settings_find(p, "crossdev_version") &&
                          xd_trace_conforming(ref) && xd_trace_conforming(o);
    p->guarantee_broken = p->guarantee_judged && p->verdict != XD_VERDICT_IDENTICAL;
    xd_pair_mechanism(p, tol);
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
    free(p->op_diffs);
    free(p->roles);
    p->roles = NULL;
    p->diffs = p->op_diffs = NULL;
    p->ndiffs = p->nop_diffs = 0;
}
