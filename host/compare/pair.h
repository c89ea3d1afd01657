/* The compare stage's internals: what compare.c (the pair's driver and
 * judgement), settings.c (settings and the likely mechanism) and diffs.c
 * (element-wise differences) share.  Never installed. */
#ifndef XD_HOST_COMPARE_PAIR_H
#define XD_HOST_COMPARE_PAIR_H

#include <jansson.h>

#include "crossdev/compare.h"
#include "crossdev/report.h"
#include "io/trace.h"

/* ---- settings.c (mechanism.c: xd_pair_mechanism) ---------------------------------------------------------------- */
/* Every setting in which the two traces differ, into p->settings: what
 * was trained (generically from trace.json: model, model_spec, seed,
 * batch, every optimizer field, layout, training; data by its checksum;
 * the batch order over p->common_steps), how it was computed (mode,
 * crossdev version, build options) and, for the reader, what changes no
 * number (data name, lengths, evaluation size). */
void xd_settings_compare(const xd_trace *ref, const xd_trace *o, xd_pair *p);
/* 1 when some listed difference is of this kind. */
int xd_settings_differ(const xd_pair *p, xd_setting_kind kind);
/* The difference listed under key, or NULL. */
const xd_setting_diff *xd_settings_find(const xd_pair *p, const char *key);
/* A JSON value as a reader writes it ("absent" for none), and equality
 * of values with numbers by value. */
void xd_json_value_text(json_t *v, char *out, size_t cap);
int xd_json_same_value(json_t *a, json_t *b);
/* p->mechanism: the likely cause of the pair's differences in plain words,
 * from its settings, the evidence in the traces and its verdict: a cause
 * is named only where the traces support it, "unknown" said as such. */
void xd_pair_mechanism(xd_pair *p, const xd_tolerance *tol);
/* How far the first loss (before any update) may differ by rounding alone:
 * XD_FORWARD_LOSS_REL, or the rounding level where a framework's GPU run
 * may have used TF32. */
double xd_forward_loss_tolerance(const xd_pair *p, const xd_tolerance *tol);

/* ---- classes.c (report.c) ------------------------------------------------------ */
/* A mode's reference run: its successful run with the most steps, the
 * first in run order among equals; NULL when none of the mode succeeded. */
const xd_run_record *xd_report_mode_reference(const xd_report *r, const char *mode);

/* ---- roles.c ------------------------------------------------------------------- */
/* p->roles and p->not_judged for p->ref's tensors: --ignore's globs, and
 * biases with no effect on the outputs (from the model_spec). */
xd_status xd_pair_roles(xd_pair *p, const xd_tolerance *tol, xd_error *err);
/* The scale and layer_rel of every differing diff of one snapshot's block
 * (n diffs, one per tensor, of the same step), reading the reference's
 * tensors whose hashes were equal where a group needs them. */
xd_status xd_pair_scale_step(const xd_trace *ref, xd_tensor_diff *block, size_t n, xd_error *err);
/* At the first measured step of two Adam runs: each judged parameter
 * beyond the rounding level whose first moment (.m, the gradients) agrees
 * to it, and whose elements beyond it are at most max(1, 1%) -- gradients
 * near zero, which Adam's normalisation divides by themselves -- is marked
 * near_zero_gradient and said in p->near_zero; *marked counts them. */
xd_status xd_pair_near_zero_gradients(xd_pair *p, const xd_tolerance *tol, size_t *marked, xd_error *err);

/* "ROUNDING-LEVEL, AMPLIFIED" for an amplified pair, else its verdict's name. */
const char *xd_pair_verdict_label(const xd_pair *p);

/* ---- diffs.c ------------------------------------------------------------------- */
/* d := the element-wise differences of b against ref (n floats each). */
void xd_diff_arrays(const float *ref, const float *b, size_t n, xd_tensor_diff *d);
/* d := the differences of two .npy arrays (float32, the same element
 * count), named `what` in the message of XD_MISMATCH when they are not. */
xd_status xd_diff_npy(const xd_npy_array *a, const xd_npy_array *b, const char *what, xd_tensor_diff *d, xd_error *err);

#endif
