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

void xd_tensor_group(const char *name, char *out, size_t cap)
{
    char param[XD_TRACE_NAME_LEN];
    parameter_of(name, param, sizeof param);
    const char *dot = strrchr(param, '.');
    if (!dot || running_statistic(dot + 1)) snprintf(out, cap, "%s", name);
    else snprintf(out, cap, "%.*s%s", (int)(dot - param), param, state_suffix(name));
}

/* The model's layers, from the reference's model_spec (NULL when the trace
 * has none, or a framework's {name, source, repr}). */
static json_t *spec_layers(const xd_trace *t)
{
    json_t *layers = json_object_get(json_object_get((json_t *)t->json, "model_spec"), "layers");
    return json_is_array(layers) ? layers : NULL;
}

static const char *field_text(json_t *layer, const char *key)
{
    const char *s = json_string_value(json_object_get(layer, key));
    return s ? s : "";
}

/* 1 when parameter `param` is the bias of a layer without activation whose
 * output goes straight into BatchNormalization: in training BN subtracts
 * each channel's batch mean, so a per-channel constant has no effect on
 * the outputs and its true gradient is zero. */
static int bias_before_batchnorm(json_t *layers, const char *param)
{
    size_t n = json_array_size(layers);
    for (size_t i = 0; i + 1 < n; ++i) {
        json_t *l = json_array_get(layers, i), *next = json_array_get(layers, i + 1);
        char bias[XD_TRACE_NAME_LEN + 8];
        snprintf(bias, sizeof bias, "%s.bias", field_text(l, "name"));
        if (strcmp(bias, param) != 0) continue;
        const char *type = field_text(l, "type"), *act = field_text(l, "activation");
        return (strcmp(type, "Conv2D") == 0 || strcmp(type, "Dense") == 0) &&
               json_is_true(json_object_get(l, "use_bias")) && (strcmp(act, "linear") == 0 || !act[0]) &&
               strcmp(field_text(next, "type"), "BatchNormalization") == 0;
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
    json_t *layers = spec_layers(ref);
    char no_effect[256] = "", skipped[256] = "", param[XD_TRACE_NAME_LEN];
    for (size_t i = 0; i < ref->ntensors; ++i) {
        const char *name = ref->tensor_names[i];
        parameter_of(name, param, sizeof param);
        if (ignored(tol, name, param)) {
            p->roles[i] = XD_ROLE_IGNORED;
            list_name(skipped, sizeof skipped, name);
        } else if (layers && bias_before_batchnorm(layers, param)) {
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

xd_tensor_role xd_pair_role(const xd_pair *p, const char *name)
{
    int i = p->roles ? xd_trace_tensor_index(p->ref, name) : -1;
    return i < 0 ? XD_ROLE_JUDGED : p->roles[i];
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
        xd_tensor_group(d->name, gi, sizeof gi);
        double scale = 0;
        for (size_t j = 0; j < n; ++j) {
            xd_tensor_group(block[j].name, gj, sizeof gj);
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
