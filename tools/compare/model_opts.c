/* The options that say what is trained and how — the model, its initial
 * weights, the optimizer and its hyper-parameters — shared by run (which
 * resolves them) and compare (which checks them once, then hands them to
 * every run it starts). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/common.h"

/* A number in [lo, hi) (the whole string); the message names the option. */
static int parse_unit(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno == ERANGE || !(v >= lo && v < hi)) {
        fprintf(stderr, "%s: %s: '%s' is not a number in [%g, %g)\n", prog, opt, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

int model_option(int c, model_opts *t)
{
    double v = 0;
    switch (c) {
    case MO_MODEL: t->model = optarg; return 1;
    case MO_WEIGHTS: t->weights = optarg; return 1;
    case MO_OPTIMIZER: t->optimizer = optarg; return 1;
    case MO_LR: t->lr = optarg; return parse_f64("--lr", optarg, &v);
    case MO_BETA1: t->beta1 = optarg; return parse_unit("--beta1", optarg, 0, 1, &v);
    case MO_BETA2: t->beta2 = optarg; return parse_unit("--beta2", optarg, 0, 1, &v);
    case MO_EPS: t->eps = optarg; return parse_f64("--eps", optarg, &v);
    case MO_MOMENTUM: t->momentum = optarg; return parse_unit("--momentum", optarg, 0, 1, &v);
    case MO_NESTEROV: t->nesterov = 1; return 1;
    case MO_KERAS_BACKEND:
        t->keras_backend = optarg;
        if (strcmp(optarg, "jax") == 0 || strcmp(optarg, "tensorflow") == 0 || strcmp(optarg, "torch") == 0) return 1;
        fprintf(stderr, "%s: --keras-backend '%s': jax, tensorflow or torch (jax's and torch's formulas are one)\n",
                prog, optarg);
        return 0;
    default: return -1;
    }
}

/* --optimizer NAME: a form by name, or "adam"/"sgd" in the model's own
 * form (Keras's for a Keras model, PyTorch's for seed-cnn). */
static int optimizer_kind(const char *name, const xd_model_spec *spec, xd_optimizer_kind *out)
{
    xd_model_spec own = *spec; /* the form the model trains in without a compile_config */
    own.has_optimizer = 0;
    int keras = xd_train_optimizer(&own).kind == XD_OPT_ADAM_KERAS;
    if (strcmp(name, "adam") == 0) *out = keras ? XD_OPT_ADAM_KERAS : XD_OPT_ADAM_PYTORCH;
    else if (strcmp(name, "sgd") == 0) *out = keras ? XD_OPT_SGD_KERAS : XD_OPT_SGD_PYTORCH;
    else if (xd_optimizer_kind_parse(name, out) != XD_OK) {
        fprintf(stderr,
                "%s: --optimizer: '%s' is not one of adam, sgd (the model's own form), adam-keras, adam-pytorch, "
                "sgd-keras, sgd-pytorch\n",
                prog, name);
        return 0;
    }
    return 1;
}

/* The hyper-parameters given, onto opt; one that the optimizer does not
 * have is refused rather than ignored. */
static int optimizer_overrides(const model_opts *t, xd_optimizer_spec *opt)
{
    int adam = opt->kind == XD_OPT_ADAM_KERAS || opt->kind == XD_OPT_ADAM_PYTORCH;
    const char *wrong = adam ? (t->momentum   ? "--momentum"
                                : t->nesterov ? "--nesterov"
                                              : NULL)
                             : (t->beta1   ? "--beta1"
                                : t->beta2 ? "--beta2"
                                : t->eps   ? "--eps"
                                           : NULL);
    if (wrong) {
        fprintf(stderr,
                "%s: %s does not apply to %s (Adam takes --lr --beta1 --beta2 --eps; SGD --lr --momentum "
                "--nesterov)\n",
                prog, wrong, xd_optimizer_kind_name(opt->kind));
        return 0;
    }
    if (t->lr && opt->schedule.kind != XD_LR_CONSTANT) {
        fprintf(stderr,
                "%s: --lr sets a constant learning rate, but the model's optimizer has the learning-rate schedule %s; "
                "give one or the other (edit the schedule in the model's compile_config)\n",
                prog, xd_lr_schedule_name(opt->schedule.kind));
        return 0;
    }
    if (t->lr) opt->lr = strtod(t->lr, NULL);
    if (t->beta1) opt->beta1 = strtod(t->beta1, NULL);
    if (t->beta2) opt->beta2 = strtod(t->beta2, NULL);
    if (t->eps) opt->eps = strtod(t->eps, NULL);
    if (t->momentum) opt->momentum = strtod(t->momentum, NULL);
    if (t->nesterov) opt->nesterov = 1;
    if (opt->nesterov && !(opt->momentum > 0)) {
        fprintf(stderr, "%s: --nesterov needs --momentum above 0 (Keras and PyTorch both refuse it)\n", prog);
        return 0;
    }
    return 1;
}

/* The model: a built-in name, else a file (.keras, to_json() or
 * crossdev.torch.export's); a
 * built-in name wins over a file of that name (./seed-cnn is the file). */
static int load_spec(const char *model, xd_model_spec *spec, xd_weights *w)
{
    xd_error err;
    const char *name = model ? model : "seed-cnn";
    xd_status st = xd_model_spec_builtin(name, spec, &err);
    if (st != XD_OK && access(name, F_OK) != 0) {
        fprintf(stderr,
                "%s: --model: '%s': no such file, and no built-in model of that name (built-in: seed-cnn, "
                "mnist-convnet, resnet; or a Keras .keras or model.to_json() file, or a crossdev.torch.export file)\n",
                prog, name);
        return 0;
    }
    if (st != XD_OK) st = xd_model_file_load(name, spec, w, &err);
    if (st != XD_OK) {
        fprintf(stderr, "%s: --model: %s\n", prog, err.message);
        return 0;
    }
    return 1;
}

/* --optimizer naming another form: the other framework's form of the same
 * optimizer (sgd-keras -> sgd-pytorch) keeps every hyper-parameter the
 * model's optimizer was given; another optimizer starts from its defaults,
 * said on stderr so that nothing is reset silently. */
static void switch_form(xd_optimizer_spec *opt, xd_optimizer_kind kind)
{
    const xd_optimizer_spec was = *opt;
    const char *a = xd_optimizer_kind_name(was.kind), *b = xd_optimizer_kind_name(kind);
    int same_optimizer = strncmp(a, b, strcspn(a, "-") + 1) == 0;
    *opt = xd_optimizer_defaults(kind);
    if (same_optimizer) {
        opt->lr = was.lr, opt->beta1 = was.beta1, opt->beta2 = was.beta2, opt->eps = was.eps;
        opt->momentum = was.momentum, opt->nesterov = was.nesterov;
        opt->schedule = was.schedule;
        return;
    }
    fprintf(stderr,
            "%s: --optimizer %s: the model's optimizer is %s; its hyper-parameters do not carry over, %s starts "
            "from its defaults (lr %g): give --lr and the others to set them\n",
            prog, b, a, b, opt->lr);
}

int model_opts_optimizer(const model_opts *t, const xd_model_spec *spec, xd_optimizer_spec *opt)
{
    xd_optimizer_kind kind;
    if (t->optimizer) {
        if (!optimizer_kind(t->optimizer, spec, &kind)) return 0;
        if (kind != opt->kind) switch_form(opt, kind);
    }
    return optimizer_overrides(t, opt);
}

int model_opts_optimizer_given(const model_opts *t)
{
    return t->optimizer || t->lr || t->beta1 || t->beta2 || t->eps || t->momentum || t->nesterov;
}

int model_opts_given(const model_opts *t)
{
    return t->model || t->weights || t->keras_backend || model_opts_optimizer_given(t);
}

/* --keras-backend: the formula of a loss from probabilities (recorded in
 * model_spec.loss.form when TensorFlow's); a loss from logits is computed
 * alike by every backend, and said so. */
static void keras_backend(const char *backend, xd_model_spec *spec)
{
    if (spec->loss.from_logits) {
        fprintf(stderr, "%s: --keras-backend %s: the loss is from logits, which Keras's backends compute alike\n", prog,
                backend);
        return;
    }
    spec->loss.form = strcmp(backend, "tensorflow") == 0 ? XD_XENT_CLIP_RENORMALISE : XD_XENT_RENORMALISE_CLIP;
}

int model_opts_resolve(const model_opts *t, xd_model_spec *spec, xd_weights *w, xd_optimizer_spec *opt)
{
    memset(w, 0, sizeof *w);
    if (!load_spec(t->model, spec, w)) return 0;
    if (t->weights) {
        xd_error err;
        xd_weights_free(w);
        if (xd_weights_load_h5(t->weights, spec, w, &err) != XD_OK) {
            fprintf(stderr, "%s: --weights: %s\n", prog, err.message);
            return 0;
        }
    }
    if (t->keras_backend) keras_backend(t->keras_backend, spec);
    *opt = xd_train_optimizer(spec);
    if (model_opts_optimizer(t, spec, opt)) return 1;
    xd_weights_free(w);
    return 0;
}

size_t model_opts_args(const model_opts *t, const char **args, size_t na)
{
    const struct {
        const char *opt, *val;
    } pairs[] = {{"--model", t->model}, {"--weights", t->weights},   {"--optimizer", t->optimizer},
                 {"--lr", t->lr},       {"--beta1", t->beta1},       {"--beta2", t->beta2},
                 {"--eps", t->eps},     {"--momentum", t->momentum}, {"--keras-backend", t->keras_backend}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; ++i)
        if (pairs[i].val) args[na++] = pairs[i].opt, args[na++] = pairs[i].val;
    if (t->nesterov) args[na++] = "--nesterov";
    return na;
}
