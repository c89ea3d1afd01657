/* crossdev — comparing traces and reporting (docs/compare.md).
 *
 * A pair is judged in this order: settings first (a pair asked to compute
 * different things is DIFFERENT SETTINGS, each difference named); then the
 * hashes (no difference anywhere: IDENTICAL); then where the runs part: the
 * size of the first difference decides ROUNDING-LEVEL or DIVERGED, a final
 * metric beyond its tolerance (or a user's end-state tolerance) makes
 * DIVERGED too.  The rule that decided is recorded with the figures. */
#ifndef CROSSDEV_COMPARE_H
#define CROSSDEV_COMPARE_H

#include <stdio.h>

#include "crossdev/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The thresholds a pair is judged by (docs/compare.md gives the
 * measurements behind the defaults). */
typedef struct xd_tolerance {
    double rounding_rel;   /* first difference at the rounding level: every judged tensor's max |a-b| against
                              its layer's scale at the first divergent step, and the loss's relative difference
                              there, <= this (1e-3; --rounding-rel) */
    double acc_abs;        /* final test accuracies within this, absolute (0.01) ... */
    double final_loss_rel; /* ... and the final loss within this, relative (0.01) */
    double rel;      /* --tol-rel: optional end-state tolerance on every tensor at the last common snapshot; 0: off */
    double loss_rel; /* --tol-loss: optional tolerance on every step's loss, relative; 0: off */
    double amplified_rel;      /* a ROUNDING-LEVEL pair whose judged tensors end further apart than this (against
                             their layer's scale) is reported as amplified (1e-2; --amplified-rel) */
    const char *const *ignore; /* --ignore: fnmatch globs of tensors never judged (borrowed; NULL: none) */
    size_t nignore;
} xd_tolerance;
XD_API xd_tolerance xd_tolerance_defaults(void);
/* The first loss (computed before any update, from the same initial
 * weights) agrees to rounding within this, relative: beyond it the forward
 * pass itself differs (batch, dropout masks, loss formula), never rounding
 * (a framework's GPU run that may use TF32: the rounding level instead).
 * Measured rounding of a step-1 loss: 0 (crossdev vs PyTorch), 1.2e-7 (the
 * two modes), 3.7e-7 (crossdev vs Keras on TensorFlow); other dropout masks
 * moved it by 4.2e-4 (docs/compare.md). */
#define XD_FORWARD_LOSS_REL 1e-5

typedef enum xd_verdict {
    XD_VERDICT_IDENTICAL,
    XD_VERDICT_ROUNDING_LEVEL,     /* parted at the rounding level; later growth is amplification */
    XD_VERDICT_DIVERGED,           /* parted by more, or ended apart */
    XD_VERDICT_DIFFERENT_SETTINGS, /* asked to compute different things: nothing judged */
    XD_VERDICT_INCOMPARABLE,       /* the same settings but other tensors or shapes: refused */
    XD_VERDICT_FAILED              /* a run failed: nothing to compare */
} xd_verdict;
#define XD_VERDICT_COUNT 6
XD_API const char *xd_verdict_string(xd_verdict v); /* "IDENTICAL", "ROUNDING-LEVEL", ... */

/* The rule that decided a verdict. */
typedef enum xd_rule {
    XD_RULE_NONE,             /* FAILED, INCOMPARABLE: nothing judged */
    XD_RULE_SETTINGS,         /* DIFFERENT SETTINGS */
    XD_RULE_HASHES,           /* IDENTICAL: every hash equal */
    XD_RULE_FIRST_DIFFERENCE, /* the size of the difference where the runs part */
    XD_RULE_FINAL_METRIC,     /* final accuracy or loss beyond its tolerance */
    XD_RULE_END_TOLERANCE     /* --tol-rel / --tol-loss */
} xd_rule;
XD_API const char *xd_rule_string(xd_rule r); /* "settings", "hashes", "first-difference", ... */

/* ULP histogram bins: 0, 1, 2-3, 4-15, 16-255, 256-65535, >65535 (values of
 * one sign), then sign flips (the values are on either side of zero: their
 * ULP distance measures nothing) and NaN in exactly one of the two. */
#define XD_ULP_BINS 9
#define XD_ULP_BIN_SIGN 7
#define XD_ULP_BIN_NAN 8
XD_API const char *xd_ulp_bin_label(int bin);
/* Distance in representable floats between a and b (0 when bitwise equal;
 * UINT64_MAX when exactly one is NaN).  Across zero it counts every float
 * in between: see xd_tensor_diff.sign_flips. */
XD_API uint64_t xd_ulp_distance(float a, float b);

/* What a tensor's difference counts for in the verdict. */
typedef enum xd_tensor_role {
    XD_ROLE_JUDGED,    /* decides the verdict */
    XD_ROLE_NO_EFFECT, /* its true gradient is zero (a bias feeding BatchNormalization): rounding noise against
                          rounding noise, no effect on the outputs; shown, never judged */
    XD_ROLE_IGNORED    /* --ignore: shown, never judged */
} xd_tensor_role;
XD_API const char *xd_tensor_role_string(xd_tensor_role r); /* "judged", "no effect", "ignored" */

typedef struct xd_tensor_diff {
    char name[XD_TRACE_NAME_LEN]; /* a tensor, or an op's output */
    int64_t step;
    size_t n, ndiff;         /* elements, elements not bitwise equal */
    double max_abs, max_rel; /* max_rel: max |a-b| / max |ref| over the tensor itself */
    double ref_max;          /* max |ref| of the tensor (-1: not read, its hash was equal) */
    double scale;            /* its layer's scale: the largest ref_max of its group (docs/compare.md) */
    double layer_rel;        /* max_abs / scale: the figure the verdict judges (op outputs: max_rel) */
    xd_tensor_role role;
    int near_zero_gradient; /* at the first difference: an Adam parameter whose gradients (.m) agree to rounding
                               and whose few differing elements had gradients near zero (Adam's normalisation
                               divides them by themselves): shown, not judged there */
    double nmse;            /* sum (a-b)^2 / sum ref^2 (0 when ref is all zero and equal) */
    uint64_t max_ulp;       /* over the differing elements of one sign (sign flips and NaNs excluded) */
    size_t sign_flips;      /* elements whose sign differs */
    size_t nan;             /* elements NaN in exactly one */
    size_t ulp_hist[XD_ULP_BINS];
} xd_tensor_diff;

/* One setting in which two traces differ. */
typedef enum xd_setting_kind {
    XD_SETTING_TRAINING, /* what was trained (model, seed, batch, optimizer, data, batch order): DIFFERENT SETTINGS */
    XD_SETTING_COMPUTATION, /* how it was computed (mode, crossdev version, build options): judged, named as mechanism */
    XD_SETTING_INFO         /* said for the reader, changes no number (data name, lengths, evaluation size) */
} xd_setting_kind;

typedef struct xd_setting_diff {
    char key[64];              /* "optimizer.lr", "data.checksum", "batch order", "build options", ... */
    char ref[160], other[160]; /* the values as text ("absent" when one trace lacks the field) */
    xd_setting_kind kind;
} xd_setting_diff;
#define XD_MAX_SETTING_DIFFS 24

typedef struct xd_pair {
    const xd_trace *ref, *other; /* borrowed */
    int same_trace;              /* the same trace given twice */
    int64_t common_steps;
    int init_identical;
    /* settings, compared before any number */
    size_t nsettings, settings_more; /* differences listed, and how many more were found */
    xd_setting_diff settings[XD_MAX_SETTING_DIFFS];
    /* where the runs part */
    int64_t first_divergent_step; /* -1: none over the common steps; 0: initial weights */
    char first_divergent_tensor[XD_TRACE_NAME_LEN];
    char first_divergent_op[XD_TRACE_NAME_LEN]; /* "" unless both traces have op hashes */
    xd_tensor_role *roles;                      /* [ref->ntensors]: what each tensor's difference counts for */
    char not_judged[512];    /* the tensors not judged and why, in words ("" when every tensor is judged) */
    char near_zero[384];     /* parameters not judged at the first difference for near-zero gradients, and why */
    int batch_order_unknown; /* a trace recorded no batch indices (-1): the order was not compared */
    int forward_differs;     /* the loss differs beyond rounding at step 1, before any update */
    size_t common_ops;       /* when the traces' op lists differ: the ops both record, by name (0: the same lists) */
    int64_t first_measured_step; /* the snapshot the first difference is measured at (the divergent step itself,
                                    or the next snapshot both hold); -1: none */
    double first_max_rel;        /* the worst judged tensor there (layer_rel) */
    char first_max_tensor[XD_TRACE_NAME_LEN];
    double first_loss_rel; /* the loss's relative difference at the first divergent step */
    size_t nop_diffs;      /* op outputs that differ at the first divergent step (stored with --op-outputs-at) */
    xd_tensor_diff *op_diffs;
    char hint[256]; /* how to get what is missing (op hashes, op outputs, a snapshot) */
    /* the whole run */
    double loss_max_abs, loss_max_rel;
    int64_t loss_peak_step; /* step where the loss difference peaks (0: none) */
    size_t ndiffs;
    xd_tensor_diff *diffs; /* every common snapshot x tensor */
    double max_abs, max_rel;
    uint64_t max_ulp;                 /* one-sign elements only */
    size_t sign_flips;                /* over every diff */
    int64_t end_step;                 /* the last common snapshot; -1: none */
    double end_max_rel, end_loss_rel; /* there (loss: mean of the last 10 common steps, relative) */
    char end_max_tensor[XD_TRACE_NAME_LEN];
    int amplified;      /* ROUNDING-LEVEL, but the end state is further apart than tol->amplified_rel */
    int loss_flat;      /* both runs' training loss constant over the last 10 common steps (not learning) */
    int final_compared; /* test metrics compared: same length, both evaluated on the same samples */
    /* the judgement */
    xd_verdict verdict;
    xd_rule rule;
    char rule_text[1024]; /* the rule with its figures and thresholds */
    char mechanism[1024]; /* the likely mechanism, where the traces tell it; "unknown" said as such */
    int guarantee_judged; /* both reproducible, identical settings and version, conforming devices */
    int guarantee_broken; /* judged, and not IDENTICAL */
    char note[512];       /* why incomparable; remarks (lengths, the same trace twice) */
    size_t failed_run;    /* FAILED: the number (1-based) of the report's run that failed; 0 otherwise */
} xd_pair;

/* Compares other against ref over their common steps.  A pair of other
 * settings is XD_VERDICT_DIFFERENT_SETTINGS (status XD_OK); traces with
 * other tensors or snapshot shapes are XD_VERDICT_INCOMPARABLE with the
 * reason in note (status XD_MISMATCH); I/O problems reading snapshots are
 * errors.  xd_pair_free releases what it holds. */
XD_API xd_status xd_compare_pair(const xd_trace *ref, const xd_trace *other, const xd_tolerance *tol, xd_pair *out,
                                 xd_error *err);
XD_API void xd_pair_free(xd_pair *p);

#ifdef __cplusplus
}
#endif
#endif
