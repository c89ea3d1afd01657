/* The compare stage's internals: what compare.c (the pair's driver and
 * judgement), settings.c (settings and the likely mechanism) and diffs.c
 * (element-wise differences) share.  Never installed. */
#ifndef XD_HOST_COMPARE_PAIR_H
#define XD_HOST_COMPARE_PAIR_H

#include "crossdev/compare.h"

/* ---- settings.c ---------------------------------------------------------------- */
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
/* 1 when the trace's device accepted reproducible mode (a trace without
 * the field made it in reproducible mode, so the device was accepted). */
int xd_trace_conforming(const xd_trace *t);
/* p->mechanism: the likely cause of the pair's differences in plain words,
 * from its settings and verdict ("" when the traces do not tell). */
void xd_pair_mechanism(xd_pair *p);

/* ---- diffs.c ------------------------------------------------------------------- */
/* d := the element-wise differences of b against ref (n floats each). */
void xd_diff_arrays(const float *ref, const float *b, size_t n, xd_tensor_diff *d);
/* d := the differences of two .npy arrays (float32, the same element
 * count), named `what` in the message of XD_MISMATCH when they are not. */
xd_status xd_diff_npy(const xd_npy_array *a, const xd_npy_array *b, const char *what, xd_tensor_diff *d, xd_error *err);

#endif
