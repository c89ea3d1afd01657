/* What each tensor's difference counts for, and the scale it is measured
 * against (docs/compare.md, "Scales and roles").
 *
 * A difference means something only against the size of what it changes.
 * A tensor's own max is the wrong scale for a tensor that holds rounding
 * noise: the bias of a Conv2D that feeds BatchNormalization has a true
 * gradient of zero (the normalisation subtracts each channel's mean), so
 * its values are noise and noise against noise is O(1).  So:
 * - each tensor is measured against its layer's scale: the largest |value|
 *   over the tensors of its group at that step (a layer's parameters
 *   together, their optimizer state suffix by suffix, each running
 *   statistic alone);
 * - a parameter with no effect on the outputs (that bias), its optimizer
 *   state with it, is named and never judged; so is what --ignore names. */
#include <fnmatch.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "compare/pair.h"

const char *xd_tensor_role_string(xd_tensor_role r)
{
    switch (r) {
    case XD_ROLE_NO_EFFECT: return "no effect";
    case XD_ROLE_IGNORED: return "ignored";
    default: return "judged";
    }
}

/* Optimizer state suffixes: the state of parameter P is P.m, P.v. */
static const char *state_suffix(const char *name)
{
    size_t n = strlen(name);
    if (n > 2 && name[n - 2] == '.' && (name[n - 1] == 'm' || name[n - 1] == 'v')) return name + n - 2;
    return "";
}

/* The parameter a tensor belongs to: the name without its state suffix. */
static void parameter_of(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s", (int)(strlen(name) - strlen(state_suffix(name))), name);
}

/* Statistics that are no parameter of their layer: each its own scale. */
static int running_statistic(const char *leaf)
{
    return strcmp(leaf, "moving_mean") == 0 || strcmp(leaf, "moving_variance") == 0 ||
           strcmp(leaf, "running_mean") == 0 || strcmp(leaf, "running_var") == 0;
}

/* The group whose largest |value| is a tensor's scale: its layer's
 * parameters together ("conv2d.weight", "conv2d.bias" -> "conv2d"), their
 * optimizer state suffix by suffix ("conv2d.m"), a running statistic or a
 * name without a layer alone. */
static void tensor_group(const char *name, char *out, size_t cap)
{
    char param[XD_TRACE_NAME_LEN];
    parameter_of(name, param, sizeof param);
    const char *dot = strrchr(param, '.');
    if (!dot || running_statistic(dot + 1)) snprintf(out, cap, "%s", name);
    else snprintf(out, cap, "%.*s%s", (int)(dot - param), param, state_suffix(name));
}

/* 1 when every layer that reads layer i's output is BatchNormalization
 * (and one does): a functional model's branch may read it too. */
static int read_only_by_batchnorm(const xd_trace *t, size_t i)
{
    size_t readers = 0, n = xd_trace_layer_count(t);
    for (size_t j = i + 1; j < n; ++j) {
        if (!xd_trace_layer_reads(t, j, i)) continue;
        if (strcmp(xd_trace_layer_at(t, j).type, "BatchNormalization") != 0) return 0;
        ++readers;
    }
    return readers > 0;
}

/* 1 when parameter `param` is the bias of a layer without activation whose
 * output goes straight into BatchNormalization and nowhere else (the layers
 * of t's model_spec): in training BN subtracts each channel's batch mean,
 * so a per-channel constant has no effect on the outputs and its true
 * gradient is zero. */
static int bias_before_batchnorm(const xd_trace *t, const char *param)
{
    size_t n = xd_trace_layer_count(t);
    for (size_t i = 0; i + 1 < n; ++i) {
        xd_trace_layer l = xd_trace_layer_at(t, i);
        char bias[XD_TRACE_NAME_LEN + 8];
        snprintf(bias, sizeof bias, "%s.bias", l.name);
        if (strcmp(bias, param) != 0) continue;
        return (strcmp(l.type, "Conv2D") == 0 || strcmp(l.type, "Dense") == 0) && l.use_bias &&
               (strcmp(l.activation, "linear") == 0 || !l.activation[0]) && read_only_by_batchnorm(t, i);
    }
    return 0;
}

static int ignored(const xd_tolerance *tol, const char *name, const char *param)
{
    for (size_t i = 0; tol && i < tol->nignore; ++i)
        if (fnmatch(tol->ignore[i], name, 0) == 0 || fnmatch(tol->ignore[i], param, 0) == 0) return 1;
    return 0;
}

/* Appends a tensor to the words for its role ("conv2d.bias, conv2d.bias.m"). */
static void list_name(char *list, size_t cap, const char *name)
{
    size_t len = strlen(list);
    if (len + strlen(name) + 8 >= cap) {
        if (len + 5 < cap && !strstr(list, ", ...")) snprintf(list + len, cap - len, ", ...");
        return;
    }
    snprintf(list + len, cap - len, "%s%s", len ? ", " : "", name);
}

xd_status xd_pair_roles(xd_pair *p, const xd_tolerance *tol, xd_error *err)
{
    const xd_trace *ref = p->ref;
    p->roles = calloc(ref->ntensors ? ref->ntensors : 1, sizeof *p->roles);
    if (!p->roles) return xd_error_set(err, XD_OUT_OF_HOST_MEMORY, 0, "out of host memory");
    char no_effect[256] = "", skipped[256] = "", param[XD_TRACE_NAME_LEN];
    for (size_t i = 0; i < ref->ntensors; ++i) {
        const char *name = ref->tensor_names[i];
        parameter_of(name, param, sizeof param);
        if (ignored(tol, name, param)) {
            p->roles[i] = XD_ROLE_IGNORED;
            list_name(skipped, sizeof skipped, name);
        } else if (bias_before_batchnorm(ref, param)) {
            p->roles[i] = XD_ROLE_NO_EFFECT;
            list_name(no_effect, sizeof no_effect, name);
        }
    }
    size_t len = 0;
    if (no_effect[0])
        len = (size_t)snprintf(p->not_judged, sizeof p->not_judged,
                               "no effect on the outputs: %s (a bias feeding BatchNormalization, which subtracts the "
                               "channel mean: its true gradient is zero, its values rounding noise)",
                               no_effect);
    if (skipped[0] && len < sizeof p->not_judged)
        snprintf(p->not_judged + len, sizeof p->not_judged - len, "%signored (--ignore): %s", len ? "; " : "", skipped);
    return XD_OK;
}

/* max |x| of the reference's tensor at a snapshot (read for a group whose
 * member's hash was equal, so it was never read). */
static xd_status reference_max(const xd_trace *ref, int64_t step, xd_tensor_diff *d, xd_error *err)
{
    xd_npy_array a = {0};
    xd_status st = xd_trace_load_tensor(ref, step, d->name, &a, err);
    if (st == XD_OK && a.dtype != XD_DTYPE_F32)
        st = xd_error_set(err, XD_MISMATCH, 0, "%s at step %lld: not float32", d->name, (long long)step);
    double m = 0;
    for (size_t k = 0; st == XD_OK && k < a.count; ++k) {
        double v = fabs((double)((const float *)a.data)[k]);
        if (isfinite(v) && v > m) m = v;
    }
    d->ref_max = m;
    xd_npy_free(&a);
    return st;
}

xd_status xd_pair_scale_step(const xd_trace *ref, xd_tensor_diff *block, size_t n, xd_error *err)
{
    char gi[XD_TRACE_NAME_LEN], gj[XD_TRACE_NAME_LEN];
    for (size_t i = 0; i < n; ++i) {
        xd_tensor_diff *d = &block[i];
        if (d->ndiff == 0) continue;
        tensor_group(d->name, gi, sizeof gi);
        double scale = 0;
        for (size_t j = 0; j < n; ++j) {
            tensor_group(block[j].name, gj, sizeof gj);
            if (strcmp(gi, gj) != 0) continue;
            if (block[j].ref_max < 0) {
                xd_status st = reference_max(ref, d->step, &block[j], err);
                if (st != XD_OK) return st;
            }
            if (block[j].ref_max > scale) scale = block[j].ref_max;
        }
        d->scale = scale;
        d->layer_rel = d->max_abs == 0 ? 0 : scale > 0 ? d->max_abs / scale : INFINITY; /* NaN stays NaN */
    }
    return XD_OK;
}

/* ---- Adam's first steps on near-zero gradients --------------------------------------- */

/* The diff of tensor `name` at `step`, or NULL. */
static xd_tensor_diff *diff_of(xd_pair *p, const char *name, int64_t step)
{
    for (size_t k = 0; k < p->ndiffs; ++k)
        if (p->diffs[k].step == step && strcmp(p->diffs[k].name, name) == 0) return &p->diffs[k];
    return NULL;
}

/* How near zero a gradient must be, against its layer's largest, for
 * Adam's normalisation to turn its rounding into a step of another size or
 * sign (a gradient's rounding is ~1e-7 of the layer's scale: 1e-4 leaves a
 * 1000x margin, and a gradient of ordinary size never qualifies). */
#define XD_NEAR_ZERO_GRADIENT 1e-4

/* The elements of parameter d beyond `limit` (NaN counts), and those of
 * them whose gradient (.m, in either run) is not near zero. */
static xd_status count_beyond(const xd_pair *p, const xd_tensor_diff *d, const xd_tensor_diff *m, double limit,
                              size_t *beyond, size_t *ordinary, xd_error *err)
{
    xd_npy_array a = {0}, b = {0}, ma = {0}, mb = {0};
    xd_status st = xd_trace_load_tensor(p->ref, d->step, d->name, &a, err);
    if (st == XD_OK) st = xd_trace_load_tensor(p->other, d->step, d->name, &b, err);
    if (st == XD_OK) st = xd_trace_load_tensor(p->ref, m->step, m->name, &ma, err);
    if (st == XD_OK) st = xd_trace_load_tensor(p->other, m->step, m->name, &mb, err);
    *beyond = *ordinary = 0;
    int ok = st == XD_OK && a.count == b.count && ma.count == a.count && mb.count == a.count;
    const float *fa = a.data, *fb = b.data, *ga = ma.data, *gb = mb.data;
    /* the gradients' scale: their layer's where .m differs (known), else .m's own largest (bitwise equal
       gradients; never larger than the layer's, so the test is only stricter) */
    double gscale = m->scale;
    for (size_t k = 0; ok && m->ndiff == 0 && k < ma.count; ++k)
        gscale = fabs((double)ga[k]) > gscale ? fabs((double)ga[k]) : gscale;
    for (size_t k = 0; ok && k < a.count; ++k) {
        if (fabs((double)fa[k] - (double)fb[k]) <= limit) continue;
        ++*beyond;
        double g = fabs((double)ga[k]) > fabs((double)gb[k]) ? fabs((double)ga[k]) : fabs((double)gb[k]);
        *ordinary += !(g <= XD_NEAR_ZERO_GRADIENT * gscale);
    }
    if (st == XD_OK && !ok) *ordinary = 1; /* shapes that do not line up: not this case */
    xd_npy_free(&a);
    xd_npy_free(&b);
    xd_npy_free(&ma);
    xd_npy_free(&mb);
    return st;
}

/* Adam divides each gradient by the root of its own square (plus eps): on
 * its first steps an element whose gradient is near zero -- rounding noise
 * around a cancellation -- takes a step of up to a learning rate whose sign
 * and size that noise decides.  Two runs whose gradients agree to rounding
 * at their layer's scale then differ by a good part of a learning rate in
 * those elements: rounding, amplified by the optimizer, which does not
 * decide the first difference (it still counts at the end).  Every element
 * beyond the rounding level must have a gradient near zero in both runs;
 * one of ordinary size (a planted change, a wrong update) is judged. */
xd_status xd_pair_near_zero_gradients(xd_pair *p, const xd_tolerance *tol, size_t *marked, xd_error *err)
{
    *marked = 0;
    int64_t step = p->first_measured_step;
    if (step < 0 || strcmp(p->ref->optimizer.name, "adam") != 0 || strcmp(p->other->optimizer.name, "adam") != 0)
        return XD_OK;
    for (size_t k = 0; k < p->ndiffs; ++k) {
        xd_tensor_diff *d = &p->diffs[k];
        if (d->step != step || d->role != XD_ROLE_JUDGED || state_suffix(d->name)[0] ||
            d->layer_rel <= tol->rounding_rel || !isfinite(d->layer_rel))
            continue;
        char mname[XD_TRACE_NAME_LEN + 4];
        snprintf(mname, sizeof mname, "%s.m", d->name);
        const xd_tensor_diff *m = diff_of(p, mname, step);
        if (!m || !(m->layer_rel <= tol->rounding_rel)) continue; /* the gradients themselves differ */
        size_t beyond, ordinary;
        xd_status st = count_beyond(p, d, m, tol->rounding_rel * d->scale, &beyond, &ordinary, err);
        if (st != XD_OK) return st;
        if (ordinary || !beyond) continue;
        d->near_zero_gradient = 1;
        ++*marked;
        size_t len = strlen(p->near_zero);
        if (len < sizeof p->near_zero)
            snprintf(p->near_zero + len, sizeof p->near_zero - len,
                     "%s%s (%zu of %zu elements, max rel %.2g, each with a gradient under %g of its layer's; the "
                     "gradients, .m, agree to %.2g)",
                     len ? "; " : "", d->name, beyond, d->n, d->layer_rel, XD_NEAR_ZERO_GRADIENT, m->layer_rel);
    }
    return XD_OK;
}
