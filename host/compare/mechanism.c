/* The likely mechanism of a pair's differences, in plain words, named
 * only where the traces support it (docs/compare.md, "Likely mechanism"):
 * for DIFFERENT SETTINGS what was asked differently (and, for initial
 * weights that differ, what the producers recorded of their seeding); for
 * a forward pass that differs at step 1 the causes the traces allow, in
 * order (batch, dropout masks, loss formula), else "unknown"; only where
 * the forward pass agrees to rounding, how the computation differed. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "compare/pair.h"

/* ---- evidence for a forward pass that differs -------------------------------------- */

static json_t *producer_of(const xd_trace *t) { return xd_trace_section(t, "producer"); }

/* The Dropout layers of the model ("dropout, dropout_1"), from the spec's
 * layers or a PyTorch module's repr; 0 when it has none. */
static int dropout_layers(const xd_trace *t, char *out, size_t cap)
{
    size_t len = 0;
    int n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < xd_trace_layer_count(t); ++i) {
        xd_trace_layer l = xd_trace_layer_at(t, i);
        if (strcmp(l.type, "Dropout") != 0 || !(l.rate > 0)) continue;
        if (len < cap) len += (size_t)snprintf(out + len, cap - len, "%s%s", n ? ", " : "", l.name[0] ? l.name : "?");
        ++n;
    }
    if (!n && strstr(xd_trace_spec_repr(t), "Dropout(")) {
        snprintf(out, cap, "Dropout in the module");
        n = 1;
    }
    return n;
}

/* Who drew a trace's dropout masks: crossdev's Philox stream (crossdev's
 * own runs and the replays of its traces, crossdev.replay) or the
 * framework's own generator (a recorded run of the user's). */
static int masks_from_crossdev(const xd_trace *t)
{
    return !t->producer[0] || strcmp(xd_trace_producer_text(t, "recorder"), "crossdev.replay") == 0;
}

/* Whose formula of a loss from probabilities a trace's run followed:
 * "TensorFlow's" (Keras on TensorFlow; crossdev with --keras-backend
 * tensorflow, model_spec.loss.form) or "JAX's" (Keras on JAX or torch,
 * crossdev's default, PyTorch replays of crossdev's traces). */
static const char *loss_formula(const xd_trace *t)
{
    int tf = t->producer[0] ? strcmp(xd_trace_producer_text(t, "framework"), "keras") == 0 &&
                                  strcmp(xd_trace_producer_text(t, "backend"), "tensorflow") == 0
                            : strcmp(xd_trace_loss_form(t), "keras-tensorflow") == 0;
    return tf ? "TensorFlow's (clip, then renormalise)" : "JAX's (renormalise, then clip)";
}

/* 1 when the model feeds something other than probabilities to a
 * probabilities loss (from_logits false, no softmax at the end): there
 * the frameworks' formulas differ (Keras on TensorFlow clips, then
 * renormalises; on JAX, and crossdev, renormalises, then clips). */
static int probabilities_loss_on_non_probabilities(const xd_trace *t)
{
    size_t n = xd_trace_layer_count(t);
    if (xd_trace_loss_from_logits(t) != 0 || !n) return 0;
    return strcmp(xd_trace_layer_at(t, n - 1).activation, "softmax") != 0;
}

/* A framework's run on a GPU may compute float32 matmuls and convolutions
 * in TF32 (10-bit mantissas: the default of PyTorch's cuDNN convolutions,
 * TensorFlow's and JAX's on Ampere and later), whose rounding reaches 1e-3
 * of a value: unless the trace says TF32 was off (PyTorch's tf32_matmul and
 * tf32_cudnn both false). */
static int reduced_precision_possible(const xd_trace *t)
{
    if (!t->producer[0] || strcmp(xd_trace_device_type(t), "gpu") != 0) return 0;
    return !(xd_trace_producer_flag(t, "tf32_matmul") == 0 && xd_trace_producer_flag(t, "tf32_cudnn") == 0);
}

double xd_forward_loss_tolerance(const xd_pair *p, const xd_tolerance *tol)
{
    return reduced_precision_possible(p->ref) || reduced_precision_possible(p->other) ? tol->rounding_rel
                                                                                      : XD_FORWARD_LOSS_REL;
}

/* Appends "; text" (or text) to the pair's mechanism. */
static void say(xd_pair *p, const char *text)
{
    size_t len = strlen(p->mechanism);
    if (len < sizeof p->mechanism)
        snprintf(p->mechanism + len, sizeof p->mechanism - len, "%s%s", len ? "; " : "", text);
}

/* The loss differs beyond rounding at step 1, before any update, from the
 * same initial weights: the forward pass differs.  The causes the traces
 * can support, in this order: the batch, the dropout masks, the loss
 * formula; none of them: unknown (never "rounds differently"). */
static void forward_mechanism(xd_pair *p, const xd_tolerance *tol)
{
    const xd_trace *a = p->ref, *b = p->other;
    char text[512], drop[160];
    int causes = 0;
    snprintf(text, sizeof text,
             "the forward pass differs at step 1, before any update, from the same initial weights: loss %.6g vs "
             "%.6g (rel %.2g > %g, beyond rounding)",
             (double)a->loss[0], (double)b->loss[0], p->first_loss_rel, xd_forward_loss_tolerance(p, tol));
    say(p, text);
    if (p->batch_order_unknown) {
        say(p, "possible cause: the batches, whose order a trace did not record (batch indices -1: not compared); "
               "record them (the indices each step trained on) to rule this out");
        ++causes;
    }
    if (dropout_layers(a, drop, sizeof drop) && !(masks_from_crossdev(a) && masks_from_crossdev(b))) {
        if (masks_from_crossdev(a) || masks_from_crossdev(b))
            snprintf(text, sizeof text,
                     "possible cause: the dropout masks: the model has Dropout (%.80s) and one run draws its masks "
                     "from crossdev's Philox stream, the other from its framework's own generator",
                     drop);
        else
            snprintf(text, sizeof text,
                     "possible cause: the dropout masks: the model has Dropout (%.80s) and each run draws its masks "
                     "from its framework's own generator, the same masks only where it was seeded alike "
                     "(producer.seeding)",
                     drop);
        say(p, text);
        ++causes;
    }
    const char *fa = loss_formula(a), *fb = loss_formula(b);
    if (strcmp(fa, fb) != 0 && probabilities_loss_on_non_probabilities(a)) {
        snprintf(text, sizeof text,
                 "possible cause: the loss formula: the model feeds a last layer without softmax to a probabilities "
                 "loss (from_logits false), and the runs followed %s and %s formula (crossdev follows "
                 "TensorFlow's with --keras-backend tensorflow)",
                 fa, fb);
        say(p, text);
        ++causes;
    }
    if (!causes)
        say(p, "cause unknown: the traces show the same initial weights, batches and dropout masks and no loss "
               "formula known to differ");
}

/* Training settings in words: what the runs were asked to do differently. */
static void training_mechanism(xd_pair *p)
{
    static const struct {
        const char *prefix, *words;
    } WORDS[] = {
        {"optimizer.variant", "the optimizer variant differs (Keras's and PyTorch's Adam differ by ~4% of a weight at "
                              "step 1)"},
        {"optimizer", "optimizer settings differ"},
        {"data", "the data differs"},
        {"seed", "the seeds differ: other initial weights and batch order"},
        {"batch order", "the batch order differs"},
        {"batch content", "the batches differ: the steps trained on other samples or values (batch_hashes)"},
        {"batch", "the batch sizes differ"},
        {"model", "the models differ"},
        {"layout", "the tensor layouts differ"},
        {"training", "the training procedure differs"},
        {"initial weights", "the initial weights differ"},
    };
    for (size_t w = 0; w < sizeof WORDS / sizeof *WORDS; ++w)
        for (size_t i = 0; i < p->nsettings; ++i) {
            const xd_setting_diff *d = &p->settings[i];
            if (d->kind != XD_SETTING_TRAINING || strncmp(d->key, WORDS[w].prefix, strlen(WORDS[w].prefix)) != 0)
                continue;
            if (strcmp(WORDS[w].prefix, "optimizer") == 0 && xd_settings_find(p, "optimizer.variant")) break;
            if (strcmp(WORDS[w].prefix, "batch") == 0 && strcmp(d->key, "batch") != 0) continue;
            say(p, WORDS[w].words);
            break;
        }
}

/* ---- the likely mechanism -------------------------------------------------------- */

/* The value of -DNAME=V in build options, or "" */
static void define_value(const char *opts, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "-D%s=", name);
    const char *q = strstr(opts, pat);
    out[0] = '\0';
    if (q) snprintf(out, cap, "%.*s", (int)strcspn(q + strlen(pat), " "), q + strlen(pat));
}

/* The tunables of build options (-DXD_... besides the mode's and the GEMM
 * path's), for comparing them as one thing. */
static int tunables_differ(const xd_pair *p)
{
    const xd_setting_diff *d = xd_settings_find(p, "build options");
    if (!d) return 0;
    const char *sides[2] = {d->ref, d->other};
    for (int s = 0; s < 2; ++s)
        for (const char *q = strstr(sides[s], "-DXD_"); q; q = strstr(q + 1, "-DXD_"))
            if (strncmp(q, "-DXD_FAST=", 10) != 0 && strncmp(q, "-DXD_DIV_MODE=", 14) != 0 &&
                strncmp(q, "-DXD_CLBLAST=", 13) != 0)
                return 1;
    return 0;
}

/* A framework's run on either side: crossdev's modes, tunables and GEMM
 * paths say nothing about it.  Returns 1 when it said the mechanism. */
static int framework_mechanism(xd_pair *p)
{
    const xd_trace *a = p->ref, *b = p->other;
    char text[600], which[256] = "";
    if (!a->producer[0] && !b->producer[0]) return 0;
    if (a->producer[0] && b->producer[0]) {
        size_t len = 0;
        for (size_t i = 0; i < p->nsettings && len < sizeof which; ++i)
            if (p->settings[i].kind == XD_SETTING_COMPUTATION && strncmp(p->settings[i].key, "producer.", 9) == 0)
                len += (size_t)snprintf(which + len, sizeof which - len, "%s%s %.24s vs %.24s", len ? ", " : "",
                                        p->settings[i].key + 9, p->settings[i].ref, p->settings[i].other);
        if (which[0])
            snprintf(text, sizeof text,
                     "two framework runs (%s vs %s) whose recorded settings differ in %s: their libraries pick "
                     "summation orders and parallel splits by such settings, so the runs part at the first operation "
                     "that rounds differently",
                     a->producer, b->producer, which);
        else
            snprintf(text, sizeof text,
                     "two framework runs (%s vs %s) with the same recorded settings: what differs is not in the "
                     "traces (the hardware, a library the producer does not record, or a nondeterministic kernel)",
                     a->producer, b->producer);
    } else {
        snprintf(text, sizeof text,
                 "one run is %s's (producer in its trace.json): its own kernels and libraries sum, contract and "
                 "parallelise in their own orders, not in crossdev's documented ones, so the runs part at the "
                 "first operation that rounds differently",
                 a->producer[0] ? a->producer : b->producer);
    }
    say(p, text);
    return 1;
}

/* The GEMM path an XD_CLBLAST value names (host/core/core.h). */
static const char *gemm_path(const char *v)
{
    if (strcmp(v, "2") == 0) return "CLBlast's SGEMM for every GEMM";
    return strcmp(v, "1") == 0 ? "CLBlast's SGEMM" : "crossdev's own kernels";
}

/* How the computation differed, in words. */
static void computation_mechanism(xd_pair *p)
{
    const xd_trace *a = p->ref, *b = p->other;
    const int fast_a = strcmp(a->mode, "fast") == 0, fast_b = strcmp(b->mode, "fast") == 0;
    const xd_setting_diff *v = xd_settings_find(p, "crossdev_version");
    char ga[8], gb[8], text[256];
    define_value(a->build_options, "XD_CLBLAST", ga, sizeof ga);
    define_value(b->build_options, "XD_CLBLAST", gb, sizeof gb);
    if (framework_mechanism(p)) return;
    if (fast_a != fast_b)
        say(p, "the modes differ: fast mode uses the vendor's division, exp and log and lets the compiler contract "
               "a*b+c into one rounding (-cl-mad-enable), reproducible mode uses exactly rounded operations without "
               "contraction, so they part at the first operation that rounds differently");
    if (fast_a && fast_b && strcmp(ga, gb) != 0) {
        snprintf(text, sizeof text, "the GEMM path differs: %s on one side, %s on the other (XD_CLBLAST=%s vs %s)",
                 gemm_path(ga), gemm_path(gb), ga, gb);
        say(p, text);
    }
    if (tunables_differ(p) && (fast_a || fast_b || !xd_trace_conforming(a) || !xd_trace_conforming(b)) &&
        !p->guarantee_judged)
        say(p, "the tunables differ (build options): where the rules of reproducible mode do not hold they change "
               "the order of additions");
    if (fast_a && fast_b && strcmp(a->device_id, b->device_id) != 0)
        say(p, "fast mode on two devices: their math libraries and compilers round differently");
    if (v) {
        snprintf(text, sizeof text, "the crossdev versions differ (%.40s vs %.40s): the kernels may have changed",
                 v->ref, v->other);
        say(p, text);
    }
    if (p->guarantee_broken)
        say(p, "reproducible mode on two conforming devices must give the same bits: the device's compiler or "
               "driver broke one of its rules (docs/reproducibility.md); please report it with both traces");
}

/* Initial weights that differ under the same seed: what the producers
 * recorded of their seeding, and the Keras 3 trap (its initializers draw
 * their seeds from Python's random module). */
static void seeding_mechanism(xd_pair *p)
{
    const xd_setting_diff *d = NULL;
    for (size_t i = 0; i < p->nsettings && !d; ++i)
        if (strncmp(p->settings[i].key, "initial weights", 15) == 0) d = &p->settings[i];
    if (!d) return;
    json_t *sa = json_object_get(producer_of(p->ref), "seeding"),
           *sb = json_object_get(producer_of(p->other), "seeding");
    if (!p->ref->producer[0] && !p->other->producer[0]) {
        say(p, "both are crossdev runs of one seed, which draw the same initial weights: other weights were given "
               "(--weights, another .keras file, --resume)");
        return;
    }
    if (!json_is_object(sa) || !json_is_object(sb)) {
        say(p, "the traces do not record how the runs were seeded (producer.seeding, which crossdev's "
               "recorders write since package 0.2): seed every generator the model draws from, e.g. "
               "keras.utils.set_random_seed(S) or torch.manual_seed(S)");
        return;
    }
    const char *k;
    json_t *v;
    char text[400];
    json_object_foreach(sa, k, v)
    {
        if (xd_json_same_value(v, json_object_get(sb, k))) continue;
        char ta[80], tb[80];
        xd_json_value_text(v, ta, sizeof ta);
        xd_json_value_text(json_object_get(sb, k), tb, sizeof tb);
        snprintf(text, sizeof text, "the runs started training with different seeding.%s (%s vs %s)", k, ta, tb);
        say(p, text);
        if (strcmp(k, "python_random") == 0 && strcmp(xd_trace_producer_text(p->ref, "framework"), "keras") == 0)
            say(p, "Keras 3 initializers without a seed draw one from Python's random module, which "
                   "tf.random.set_seed and np.random.seed leave unseeded: use keras.utils.set_random_seed(S)");
    }
}

/* A first difference at the rounding level that training grew until the
 * runs end apart (amplified, or DIVERGED by a final metric): said, so
 * that nobody looks for a larger error at one step. */
static void amplification_mechanism(xd_pair *p, const xd_tolerance *tol)
{
    int rounding_first =
        p->first_measured_step >= 0 && p->first_max_rel <= tol->rounding_rel && p->first_loss_rel <= tol->rounding_rel;
    if (!rounding_first ||
        !(p->amplified || (p->verdict == XD_VERDICT_DIVERGED && p->rule != XD_RULE_FIRST_DIFFERENCE)))
        return;
    char text[400];
    snprintf(text, sizeof text,
             "training amplified a rounding-level first difference (max rel %.2g at step %lld) to %.2g by step %lld "
             "(%s): the runs end apart through that growth, not through a larger error at any one step",
             p->first_max_rel, (long long)p->first_measured_step, p->end_max_rel, (long long)p->end_step,
             p->end_max_tensor[0] ? p->end_max_tensor : "-");
    say(p, text);
}

void xd_pair_mechanism(xd_pair *p, const xd_tolerance *tol)
{
    p->mechanism[0] = '\0';
    if (p->verdict == XD_VERDICT_DIFFERENT_SETTINGS) {
        training_mechanism(p);
        seeding_mechanism(p);
    } else if (p->verdict == XD_VERDICT_ROUNDING_LEVEL || p->verdict == XD_VERDICT_DIVERGED) {
        if (p->forward_differs) forward_mechanism(p, tol);
        else computation_mechanism(p);
        if (!p->forward_differs && p->batch_order_unknown && p->verdict == XD_VERDICT_DIVERGED)
            say(p, "possible cause: the batch order, which a trace did not record (batch indices -1: not compared)");
        amplification_mechanism(p, tol);
    }
}
