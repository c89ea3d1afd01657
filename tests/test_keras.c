/* Models as data, no device (host/io: spec.c, spec_json.c, keras*.c, zip.c,
 * weights.c, h5.c): the built-in specs and shape inference; every fixture
 * real Keras made (tests/fixtures/keras, tools/keras/make-fixtures.py)
 * loads with the spec Keras describes (each layer's output shape as Keras
 * computed it) and weights equal bit for bit to the expected .npy (numpy's
 * own permutations); every invalid fixture is refused naming the file, the
 * layer and the option; spec JSON and .weights.h5 round trips.
 * usage: test_keras FIXTURES-DIR
 *        test_keras FIXTURES-DIR --export OUT-DIR   (for tests/scripts/test_keras_export.sh:
 *        writes OUT-DIR/<fixture>.weights.h5 with xd_weights_save_h5 and the same
 *        weights in crossdev's layout as OUT-DIR/<fixture>/<name>.npy) */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "crossdev/io.h"
#include "crossdev/model.h"
#include "spec/keras.h"

static xdt T = {.name = "test_keras"};
static const char *fixtures;

static void fixture(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", fixtures, name); }

static int spec_equal(const xd_model_spec *a, const xd_model_spec *b) { return memcmp(a, b, sizeof *a) == 0; }

/* ---- built-in models and shapes ---------------------------------------------------- */
static void check_shape(const char *what, const xd_layer_shape *s, int64_t c, int64_t h, int64_t w)
{
    xdt_check(&T, s->c == c && s->h == h && s->w == w, "%s: shape (c %lld, h %lld, w %lld), wanted (%lld, %lld, %lld)",
              what, (long long)s->c, (long long)s->h, (long long)s->w, (long long)c, (long long)h, (long long)w);
}

static void test_builtins(void)
{
    xd_model_spec s;
    xd_layer_shape sh[XD_MAX_LAYERS + 1];
    xd_error err;
    xdt_check(&T,
              xd_model_spec_builtin("seed-cnn", &s, &err) == XD_OK && s.nlayers == 4 && s.loss.from_logits &&
                  s.optimizer.kind == XD_OPT_ADAM_PYTORCH && s.optimizer.eps == 1e-7 &&
                  strcmp(s.layers[0].name, "conv1") == 0 && strcmp(s.source, "built-in") == 0,
              "seed-cnn spec");
    xdt_check(&T, xd_model_spec_shapes(&s, sh, &err) == XD_OK, "seed-cnn shapes: %s", err.message);
    check_shape("seed-cnn conv1", &sh[1], 32, 26, 26);
    check_shape("seed-cnn flatten", &sh[3], 21632, 1, 1);
    xdt_check(&T, sh[3].fc == 32 && sh[3].fh == 26 && sh[3].fw == 26, "seed-cnn flatten keeps (C, H, W)");
    check_shape("seed-cnn dense1", &sh[4], 10, 1, 1);
    xdt_check(&T,
              xd_model_spec_builtin("mnist-convnet", &s, &err) == XD_OK && s.nlayers == 7 && !s.loss.from_logits &&
                  s.optimizer.kind == XD_OPT_ADAM_KERAS && s.layers[6].activation == XD_ACT_SOFTMAX &&
                  s.layers[5].rate == 0.5,
              "mnist-convnet spec");
    xdt_check(&T, xd_model_spec_shapes(&s, sh, &err) == XD_OK, "mnist-convnet shapes: %s", err.message);
    check_shape("mnist-convnet max_pooling2d_1", &sh[4], 64, 5, 5);
    check_shape("mnist-convnet dropout", &sh[6], 1600, 1, 1);
    xdt_check(&T, xd_model_spec_builtin("resnet", &s, &err) == XD_OK && s.nlayers == 28, "resnet spec");
    xdt_check(&T, xd_model_spec_shapes(&s, sh, &err) == XD_OK, "resnet shapes: %s", err.message);
    check_shape("resnet add (stage 1)", &sh[9], 16, 28, 28);
    check_shape("resnet add_1 (stage 2)", &sh[17], 32, 14, 14);
    check_shape("resnet add_2 (stage 3)", &sh[25], 64, 7, 7);
    check_shape("resnet global_average_pooling2d", &sh[27], 64, 1, 1);
    xd_status st = xd_model_spec_builtin("resnet-20", &s, &err);
    xdt_check(&T,
              st == XD_INVALID_ARGUMENT && strstr(err.message, "'resnet-20'") && strstr(err.message, "seed-cnn") &&
                  strstr(err.message, "mnist-convnet") && strstr(err.message, "resnet;"),
              "unknown built-in refused naming the known ones: %s", err.message);
    xdt_check(&T,
              strcmp(xd_layer_type_name(XD_LAYER_BATCHNORM), "BatchNormalization") == 0 &&
                  strcmp(xd_optimizer_kind_name(XD_OPT_SGD_KERAS), "sgd-keras") == 0 &&
                  strcmp(xd_optimizer_kind_name(XD_OPT_ADAM_PYTORCH), "adam-pytorch") == 0,
              "enum names");
}

/* A one-layer-at-a-time model on an input for the shape rules. */
static xd_layer_spec *push(xd_model_spec *s, xd_layer_type t, int k, int stride, xd_padding p)
{
    xd_layer_spec *l = &s->layers[s->nlayers];
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "l%d", s->nlayers);
    l->type = t;
    l->kh = l->kw = k;
    l->sh = l->sw = stride;
    l->padding = p;
    l->filters = l->units = 4;
    s->nlayers++;
    return l;
}

static void test_shape_rules(void)
{
    xd_model_spec s = {.in_h = 7, .in_w = 12, .in_c = 3};
    xd_layer_shape sh[XD_MAX_LAYERS + 1];
    xd_error err;
    push(&s, XD_LAYER_CONV2D, 3, 2, XD_PADDING_SAME);     /* ceil(7/2) = 4, ceil(12/2) = 6 */
    push(&s, XD_LAYER_AVGPOOL2D, 3, 1, XD_PADDING_VALID); /* 4-3+1 = 2, 6-3+1 = 4 */
    push(&s, XD_LAYER_MAXPOOL2D, 2, 3, XD_PADDING_SAME);  /* ceil(2/3) = 1, ceil(4/3) = 2 */
    push(&s, XD_LAYER_FLATTEN, 0, 0, XD_PADDING_VALID);
    push(&s, XD_LAYER_BATCHNORM, 0, 0, XD_PADDING_VALID);
    push(&s, XD_LAYER_DENSE, 0, 0, XD_PADDING_VALID);
    xdt_check(&T, xd_model_spec_shapes(&s, sh, &err) == XD_OK, "shape rules: %s", err.message);
    check_shape("same conv, stride 2", &sh[1], 4, 4, 6);
    check_shape("valid avg pool", &sh[2], 4, 2, 4);
    check_shape("same max pool, stride 3", &sh[3], 4, 1, 2);
    check_shape("flatten", &sh[4], 8, 1, 1);
    xdt_check(&T, sh[5].fc == 4 && sh[5].fh == 1 && sh[5].fw == 2, "BatchNormalization keeps the flatten's (C, H, W)");
    xdt_check(&T, sh[6].fc == 0 && sh[6].c == 4, "Dense ends the flatten's order");
    s.layers[1].kh = 5; /* 4 rows, a 5-row window: empty */
    xd_status st = xd_model_spec_shapes(&s, sh, &err);
    xdt_check(&T, st == XD_SHAPE_MISMATCH && strstr(err.message, "'l1'") && strstr(err.message, "empty"),
              "an empty output is refused naming the layer: %s", err.message);
    s.layers[1].kh = 3;
    s.layers[4].type = XD_LAYER_CONV2D;
    st = xd_model_spec_shapes(&s, sh, &err);
    xdt_check(&T, st == XD_SHAPE_MISMATCH && strstr(err.message, "'l4' (Conv2D)"),
              "a Conv2D after a Flatten is refused: %s", err.message);
    s.layers[4].type = XD_LAYER_ACTIVATION;
    s.layers[4].activation = XD_ACT_SOFTMAX;
    s.layers[3].type = XD_LAYER_DROPOUT;
    st = xd_model_spec_shapes(&s, sh, &err);
    xdt_check(&T, st == XD_SHAPE_MISMATCH && strstr(err.message, "'l4'") && strstr(err.message, "softmax"),
              "softmax over an image's channels is refused: %s", err.message);
    /* the worked example of the flatten order: (C, H, W) = (4, 1, 2) */
    xdt_check(&T,
              xd_keras_feature_index(1, 4, 1, 2) == 4 && xd_keras_feature_index(2, 4, 1, 2) == 1 &&
                  xd_keras_feature_index(7, 4, 1, 2) == 7 && xd_keras_feature_index(5, 0, 0, 0) == 5,
              "crossdev feature (c, h, w) is Keras feature (h * W + w) * C + c");
}

/* ---- the fixtures real Keras made ------------------------------------------------- */
/* Keras's class for a spec layer type (ReLU and Activation are one type). */
static int same_class(const char *keras, xd_layer_type t)
{
    static const char *const acts[] = {"ReLU", "LeakyReLU", "ELU", "Softmax"};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (strcmp(keras, acts[i]) == 0) return t == XD_LAYER_ACTIVATION;
    return strcmp(keras, xd_layer_type_name(t)) == 0;
}

/* Every layer's name, class and output shape against what Keras recorded. */
static void check_layers(const char *file, const xd_model_spec *s, json_t *m)
{
    json_t *layers = json_object_get(m, "layers");
    xd_layer_shape sh[XD_MAX_LAYERS + 1];
    xd_error err;
    xdt_check(&T, xd_model_spec_shapes(s, sh, &err) == XD_OK && (size_t)s->nlayers == json_array_size(layers),
              "%s: %d layers, Keras has %zu (%s)", file, s->nlayers, json_array_size(layers), err.message);
    for (size_t i = 0; i < json_array_size(layers) && (int)i < s->nlayers; i++) {
        json_t *l = json_array_get(layers, i);
        json_t *o = json_object_get(l, "output");
        int64_t c = json_integer_value(json_array_get(o, json_array_size(o) - 1)), h = 1, w = 1;
        if (json_array_size(o) == 3)
            h = json_integer_value(json_array_get(o, 0)), w = json_integer_value(json_array_get(o, 1));
        char what[160];
        snprintf(what, sizeof what, "%s: layer %zu '%s'", file, i, s->layers[i].name);
        xdt_check(&T,
                  strcmp(s->layers[i].name, json_string_value(json_object_get(l, "name"))) == 0 &&
                      same_class(json_string_value(json_object_get(l, "class")), s->layers[i].type),
                  "%s: Keras says '%s' (%s)", what, json_string_value(json_object_get(l, "name")),
                  json_string_value(json_object_get(l, "class")));
        check_shape(what, &sh[i + 1], c, h, w);
        /* Keras's L2 factors (absent: none), as the layer's regularizer object holds them */
        json_t *kl2 = json_object_get(l, "kernel_l2"), *bl2 = json_object_get(l, "bias_l2");
        xdt_check(&T,
                  s->layers[i].kernel_l2 == (kl2 ? json_number_value(kl2) : 0.0) &&
                      s->layers[i].bias_l2 == (bl2 ? json_number_value(bl2) : 0.0),
                  "%s: L2 factors %g, %g", what, s->layers[i].kernel_l2, s->layers[i].bias_l2);
    }
    json_t *in = json_object_get(m, "input");
    xdt_check(&T,
              s->in_h == json_integer_value(json_array_get(in, 0)) &&
                  s->in_w == json_integer_value(json_array_get(in, 1)) &&
                  s->in_c == json_integer_value(json_array_get(in, 2)) && s->classes == sh[s->nlayers].c,
              "%s: input and classes", file);
}

static const xd_weight *find(const xd_weights *w, const char *name)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->items[i].name, name) == 0) return &w->items[i];
    return NULL;
}

/* The weights, in the manifest's order, bit for bit equal to expected/. */
static void check_weights(const char *file, const xd_weights *w, json_t *m)
{
    json_t *params = json_object_get(m, "params");
    xdt_check(&T, w->n == json_array_size(params), "%s: %zu weights, Keras has %zu", file, w->n,
              json_array_size(params));
    for (size_t i = 0; i < json_array_size(params); i++) {
        json_t *p = json_array_get(params, i);
        const char *name = json_string_value(json_object_get(p, "name"));
        const xd_weight *x = find(w, name);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/%s.npy", fixtures, json_string_value(json_object_get(m, "expected")), name);
        xd_npy_array a;
        xd_error err;
        if (!x || i >= w->n || x != &w->items[i]) {
            xdt_check(&T, 0, "%s: %s is weight %zu", file, name, i);
            continue;
        }
        if (!xdt_check(&T, xd_npy_read(path, &a, &err) == XD_OK, "%s", err.message)) continue;
        int same = a.ndim == x->ndim && a.count == x->count;
        for (int d = 0; d < a.ndim && same; d++) same = a.shape[d] == x->shape[d];
        char what[256];
        snprintf(what, sizeof what, "%s: %s", file, name);
        if (xdt_check(&T, same, "%s: shape differs from %s", what, path))
            xdt_bitwise(&T, what, x->data, a.data, a.count);
        xd_npy_free(&a);
    }
}

/* v has a decimal of at most 9 digits that reads back as v (0.05, not
 * 0.05000000074505806). */
static int short_decimal(double v)
{
    char t[32];
    for (int prec = 1; prec <= 9; ++prec) {
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (strtod(t, NULL) == v) return 1;
    }
    return 0;
}

/* The learning-rate schedule against Keras's config of it (absent: none). */
static void check_schedule(const char *file, const xd_lr_schedule *s, json_t *k)
{
    const char *cls = json_string_value(json_object_get(k, "class"));
    xdt_check(&T, strcmp(xd_lr_schedule_name(s->kind), cls ? cls : "constant") == 0, "%s: schedule %s, Keras's %s",
              file, xd_lr_schedule_name(s->kind), cls ? cls : "constant");
    if (!k) return;
    static const char *const keys[] = {"initial_learning_rate", "decay_steps", "decay_rate", "alpha",
                                       "warmup_target",         "warmup_steps"};
    const double have[] = {s->initial, s->decay_steps, s->decay_rate, s->alpha, s->warmup_target, s->warmup_steps};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(k, keys[i]);
        if (v && !json_is_null(v))
            xdt_check(&T, have[i] == json_number_value(v), "%s: schedule %s %.17g, Keras's %.17g", file, keys[i],
                      have[i], json_number_value(v));
    }
    json_t *vals = json_object_get(k, "values"), *st = json_object_get(k, "staircase");
    xdt_check(&T, !vals || (size_t)s->nboundaries + 1 == json_array_size(vals), "%s: schedule values", file);
    xdt_check(&T, !st || s->staircase == json_is_true(st), "%s: schedule staircase", file);
    xdt_check(&T,
              s->has_warmup ==
                  (json_object_get(k, "warmup_target") && !json_is_null(json_object_get(k, "warmup_target"))),
              "%s: schedule warmup", file);
}

static void check_compile(const char *file, const xd_model_spec *s, json_t *m)
{
    json_t *opt = json_object_get(m, "optimizer");
    xdt_check(&T, s->loss.from_logits == json_is_true(json_object_get(m, "from_logits")), "%s: from_logits", file);
    if (!opt || json_is_null(opt)) return;
    int sgd = json_object_get(opt, "momentum") != NULL;
    xdt_check(&T,
              s->has_optimizer && s->optimizer.kind == (sgd ? XD_OPT_SGD_KERAS : XD_OPT_ADAM_KERAS) &&
                  (float)s->optimizer.lr == (float)json_number_value(json_object_get(opt, "learning_rate")) &&
                  short_decimal(s->optimizer.lr),
              "%s: optimizer %s, learning rate %.17g: Keras's float32, as the decimal asked", file,
              xd_optimizer_kind_name(s->optimizer.kind), s->optimizer.lr);
    check_schedule(file, &s->optimizer.schedule, json_object_get(opt, "schedule"));
    if (sgd)
        xdt_check(&T,
                  s->optimizer.momentum == json_number_value(json_object_get(opt, "momentum")) &&
                      s->optimizer.nesterov == json_is_true(json_object_get(opt, "nesterov")),
                  "%s: SGD momentum and nesterov", file);
    else
        xdt_check(&T,
                  s->optimizer.beta1 == json_number_value(json_object_get(opt, "beta_1")) &&
                      s->optimizer.beta2 == json_number_value(json_object_get(opt, "beta_2")) &&
                      s->optimizer.eps == json_number_value(json_object_get(opt, "epsilon")),
                  "%s: Adam betas and epsilon", file);
}

/* The spec through JSON and back is the same spec, and the same text. */
static void check_json_round_trip(const char *what, const xd_model_spec *s)
{
    xd_model_spec back;
    xd_error err;
    char *text = xd_model_spec_json(s);
    xd_status st = text ? xd_model_spec_from_json(text, &back, &err) : XD_OUT_OF_HOST_MEMORY;
    char *again = st == XD_OK ? xd_model_spec_json(&back) : NULL;
    xdt_check(&T, st == XD_OK && spec_equal(s, &back) && again && strcmp(text, again) == 0,
              "%s: spec JSON round trip (%s)", what, st == XD_OK ? "differs" : err.message);
    free(text);
    free(again);
}

/* xd_weights_save_h5 then xd_weights_load_h5 gives the same bits. */
static void check_h5_round_trip(const char *what, const xd_model_spec *s, const xd_weights *w)
{
    char dir[] = "/tmp/xd-keras-XXXXXX", path[4200];
    if (!xdt_check(&T, mkdtemp(dir) != NULL, "mkdtemp")) return;
    snprintf(path, sizeof path, "%s/out.weights.h5", dir);
    xd_weights back = {0};
    xd_error err;
    xd_status st = xd_weights_save_h5(path, s, w, &err);
    if (st == XD_OK) st = xd_weights_load_h5(path, s, &back, &err);
    int same = st == XD_OK && back.n == w->n;
    for (size_t i = 0; same && i < w->n; i++)
        same = strcmp(back.items[i].name, w->items[i].name) == 0 && back.items[i].count == w->items[i].count &&
               memcmp(back.items[i].data, w->items[i].data, w->items[i].count * sizeof(float)) == 0;
    xdt_check(&T, same, "%s: .weights.h5 round trip (%s)", what, st == XD_OK ? "differs" : err.message);
    xd_weights_free(&back);
    unlink(path);
    rmdir(dir);
}

/* A valid fixture: a .keras with its weights, or a model.to_json() file with a .weights.h5. */
static void test_valid(json_t *m)
{
    const char *file = json_string_value(json_object_get(m, "file"));
    const char *wfile = json_string_value(json_object_get(m, "weights"));
    char path[4096], wpath[4096];
    fixture(path, sizeof path, file);
    xd_model_spec s;
    xd_weights w = {0};
    xd_error err;
    xd_status st = xd_model_spec_load(path, &s, wfile ? NULL : &w, &err);
    if (st == XD_OK && wfile) {
        fixture(wpath, sizeof wpath, wfile);
        st = xd_weights_load_h5(wpath, &s, &w, &err);
    }
    if (!xdt_check(&T, st == XD_OK, "%s loads: %s", file, err.message)) return;
    xdt_check(&T, strcmp(s.name, json_string_value(json_object_get(m, "name"))) == 0 && strcmp(s.source, path) == 0,
              "%s: model name '%s', source", file, s.name);
    check_layers(file, &s, m);
    check_weights(file, &w, m);
    check_compile(file, &s, m);
    check_json_round_trip(file, &s);
    if (w.n) check_h5_round_trip(file, &s, &w); /* a to_json() file alone has no weights to save */
    xd_weights_free(&w);
}

/* An invalid fixture: the status, and a message naming the file, the layer
 * and the option (the manifest's words). */
static void test_invalid(json_t *m)
{
    const char *file = json_string_value(json_object_get(m, "file"));
    const char *model = json_string_value(json_object_get(m, "model"));
    const char *want = json_string_value(json_object_get(m, "status"));
    char path[4096];
    xd_model_spec s;
    xd_weights w = {0};
    xd_error err;
    xd_status st;
    if (model) { /* a .weights.h5 for a model that loads */
        char mpath[4096];
        fixture(mpath, sizeof mpath, model);
        st = xd_model_spec_load(mpath, &s, NULL, &err);
        xdt_check(&T, st == XD_OK, "%s loads: %s", model, err.message);
        fixture(path, sizeof path, file);
        st = xd_weights_load_h5(path, &s, &w, &err);
    } else {
        fixture(path, sizeof path, file);
        st = xd_model_spec_load(path, &s, &w, &err);
    }
    int ok = strcmp(xd_status_name(st), want) == 0 && w.n == 0 && w.items == NULL && err.status == st;
    json_t *words = json_object_get(m, "contains");
    for (size_t i = 0; i < json_array_size(words); i++)
        ok &= strstr(err.message, json_string_value(json_array_get(words, i))) != NULL;
    xdt_check(&T, ok, "%s refused with %s (wanted %s), message \"%s\"", file, xd_status_name(st), want, err.message);
    if (ok && getenv("VERBOSE")) printf("ok   %s\n", err.message);
    xd_weights_free(&w);
}

/* The spec of a fixture real Keras wrote (k) and of a built-in model (b); 0
 * when the fixture does not load. */
static int fixture_and_builtin(const char *file, const char *name, xd_model_spec *k, xd_model_spec *b)
{
    char path[4096];
    xd_error err;
    fixture(path, sizeof path, file);
    if (!xdt_check(&T, xd_model_spec_load(path, k, NULL, &err) == XD_OK, "%s", err.message)) return 0;
    return xdt_check(&T, xd_model_spec_builtin(name, b, &err) == XD_OK, "%s", err.message);
}

/* The mnist-convnet that real Keras wrote is the built-in one. */
static void test_mnist_is_builtin(void)
{
    xd_model_spec k, b;
    xd_error err;
    if (!fixture_and_builtin("mnist-convnet.json", "mnist-convnet", &k, &b)) return;
    xdt_check(&T,
              k.nlayers == b.nlayers && memcmp(k.layers, b.layers, sizeof k.layers) == 0 && k.in_h == b.in_h &&
                  k.in_w == b.in_w && k.in_c == b.in_c && k.classes == b.classes &&
                  k.loss.from_logits == b.loss.from_logits && k.optimizer.kind == b.optimizer.kind,
              "Keras's mnist-convnet is the built-in mnist-convnet");
    check_json_round_trip("seed-cnn", (xd_model_spec_builtin("seed-cnn", &b, &err), &b));
    check_json_round_trip("mnist-convnet", (xd_model_spec_builtin("mnist-convnet", &b, &err), &b));
}

/* Two specs are one model, the file each came from aside: equal as
 * structs, as JSON, and for xd_model_spec_differs. */
static void check_same_spec(const char *what, xd_model_spec *a, xd_model_spec *b)
{
    memset(a->source, 0, sizeof a->source); /* the file aside */
    memset(b->source, 0, sizeof b->source);
    char *ja = xd_model_spec_json(a), *jb = xd_model_spec_json(b);
    xdt_check(&T, spec_equal(a, b) && ja && jb && strcmp(ja, jb) == 0 && !xd_model_spec_differs(a, b),
              "%s:\n  %s\n  %s", what, ja ? ja : "?", jb ? jb : "?");
    free(ja);
    free(jb);
}

/* The resnet that real Keras wrote (resnet.keras, built as keras-team's
 * example builds it) is the built-in resnet. */
static void test_resnet_is_builtin(void)
{
    xd_model_spec k, b;
    if (!fixture_and_builtin("resnet.keras", "resnet", &k, &b)) return;
    check_same_spec("Keras's resnet is the built-in resnet", &k, &b);
    check_json_round_trip("resnet", &b);
}

/* A chain built with the functional API is the Sequential model: the same
 * spec (the file aside) and the same weights, bit for bit. */
static void test_functional_chain(void)
{
    char pf[4096], ps[4096];
    fixture(pf, sizeof pf, "all-layers-functional.keras");
    fixture(ps, sizeof ps, "all-layers.keras");
    xd_model_spec f, s;
    xd_weights wf = {0}, ws = {0};
    xd_error err;
    if (!xdt_check(&T, xd_model_spec_load(pf, &f, &wf, &err) == XD_OK, "%s", err.message)) return;
    if (!xdt_check(&T, xd_model_spec_load(ps, &s, &ws, &err) == XD_OK, "%s", err.message)) return;
    check_same_spec("all-layers as a functional chain: the Sequential model's spec", &f, &s);
    int same = wf.n == ws.n && wf.n > 0;
    for (size_t i = 0; same && i < wf.n; i++)
        same = strcmp(wf.items[i].name, ws.items[i].name) == 0 && wf.items[i].count == ws.items[i].count &&
               memcmp(wf.items[i].data, ws.items[i].data, wf.items[i].count * sizeof(float)) == 0;
    xdt_check(&T, same, "all-layers as a functional chain: the same weights");
    xd_weights_free(&wf);
    xd_weights_free(&ws);
}

/* Saving refuses weights that do not fit the model. */
static void test_save_refusals(void)
{
    char path[4096];
    fixture(path, sizeof path, "variants.keras");
    xd_model_spec s;
    xd_weights w;
    xd_error err;
    if (!xdt_check(&T, xd_model_spec_load(path, &s, &w, &err) == XD_OK, "%s", err.message)) return;
    xd_status st;
    w.items[0].shape[0]++;
    st = xd_weights_save_h5("/tmp/xd-never.weights.h5", &s, &w, &err);
    xdt_check(&T, st == XD_SHAPE_MISMATCH && strstr(err.message, "c.weight"), "a wrong shape is refused: %s",
              err.message);
    w.items[0].shape[0]--;
    snprintf(w.items[0].name, sizeof w.items[0].name, "c.kernel");
    st = xd_weights_save_h5("/tmp/xd-never.weights.h5", &s, &w, &err);
    xdt_check(&T, st == XD_INVALID_ARGUMENT && strstr(err.message, "c.kernel"), "an unknown name is refused: %s",
              err.message);
    snprintf(w.items[0].name, sizeof w.items[0].name, "c.weight");
    w.n--;
    st = xd_weights_save_h5("/tmp/xd-never.weights.h5", &s, &w, &err);
    w.n++;
    xdt_check(&T, st == XD_INVALID_ARGUMENT && strstr(err.message, "missing"), "a missing weight is refused: %s",
              err.message);
    xdt_check(&T, !xd_path_exists("/tmp/xd-never.weights.h5"), "nothing written on refusal");
    xd_weights_free(&w);
}

/* activations.keras (tools/keras/make-fixtures.py activations()): each
 * layer's activation and parameter as the model was written in Keras. */
static void test_activations_fixture(void)
{
    static const struct {
        const char *layer;
        xd_activation act;
        float alpha;
    } want[] = {
        {"conv2d", XD_ACT_TANH, 0},
        {"conv2d_1", XD_ACT_SIGMOID, 0},
        {"leaky_re_lu", XD_ACT_LEAKY_RELU, 0.3f},
        {"conv2d_3", XD_ACT_LEAKY_RELU, 0.2f},
        {"elu", XD_ACT_ELU, 1.0f},
        {"conv2d_4", XD_ACT_ELU, 1.0f},
        {"activation", XD_ACT_SILU, 0},
        {"conv2d_5", XD_ACT_RELU6, 0},
        {"dense", XD_ACT_SILU, 0},
        {"activation_1", XD_ACT_TANH, 0},
        {"dense_1", XD_ACT_SIGMOID, 0},
        {"softmax", XD_ACT_SOFTMAX, 0},
        {"activation_2", XD_ACT_GELU, 0},
    };
    char path[4096];
    xd_model_spec s;
    xd_error err;
    fixture(path, sizeof path, "activations.keras");
    if (!xdt_check(&T, xd_model_spec_load(path, &s, NULL, &err) == XD_OK, "%s", err.message)) return;
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        int i = 0;
        while (i < s.nlayers && strcmp(s.layers[i].name, want[k].layer) != 0) i++;
        xdt_check(&T,
                  i < s.nlayers && s.layers[i].activation == want[k].act && (float)s.layers[i].alpha == want[k].alpha,
                  "activations.keras: layer '%s' has activation %d (alpha %g), Keras's is %d (%g)", want[k].layer,
                  i < s.nlayers ? (int)s.layers[i].activation : -1, i < s.nlayers ? s.layers[i].alpha : 0,
                  (int)want[k].act, (double)want[k].alpha);
    }
    const int *p0 = s.layers[0].pad, *p1 = NULL;
    for (int i = 1; i < s.nlayers; i++)
        if (s.layers[i].type == XD_LAYER_ZEROPADDING2D) p1 = s.layers[i].pad;
    xdt_check(&T, s.layers[0].type == XD_LAYER_ZEROPADDING2D && p0[0] == 1 && p0[1] == 0 && p0[2] == 2 && p0[3] == 1,
              "ZeroPadding2D(((1, 0), (2, 1))): top 1, bottom 0, left 2, right 1");
    xdt_check(&T, p1 && p1[0] == 1 && p1[1] == 1 && p1[2] == 1 && p1[3] == 1, "ZeroPadding2D(1): 1 on every side");
}

/* Refusals of hand-made configs (in memory, through the config parser). */
static void refused_config(const char *what, const char *text, const char *word)
{
    xd_model_spec s;
    xd_error err;
    xd_status st = xd_keras_config_parse(text, strlen(text), "my.json", &s, &err);
    xdt_check(&T, st != XD_OK && strncmp(err.message, "my.json: ", 9) == 0 && strstr(err.message, word),
              "%s: refused naming \"%s\": %s", what, word, err.message);
}

#define SEQ(layers) "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"m\", \"layers\": [" layers "]}}"
#define INPUT "{\"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 8, 8, 2], \"name\": \"in\"}}"
#define FLAT_DENSE                                                                                           \
    "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"f\"}}, {\"class_name\": \"Dense\", \"config\": " \
    "{\"name\": \"d\", \"units\": 3}}"

static void test_config_refusals(void)
{
    xd_model_spec s;
    xd_error err;
    const char *ok = SEQ(INPUT ", " FLAT_DENSE);
    xdt_check(&T,
              xd_keras_config_parse(ok, strlen(ok), "my.json", &s, &err) == XD_OK && s.classes == 3 &&
                  s.layers[1].use_bias && s.layers[1].kernel_init.kind == XD_INIT_GLOROT_UNIFORM && !s.has_optimizer &&
                  s.optimizer.kind == XD_OPT_ADAM_KERAS,
              "a minimal config, Keras's defaults for what it leaves out: %s", err.message);
    refused_config("duplicate key", "{\"class_name\": \"Sequential\", \"class_name\": \"Sequential\"}", "not JSON");
    refused_config("unknown option",
                   SEQ(INPUT ", {\"class_name\": \"Flatten\", \"config\": {\"name\": \"f\", \"fancy\": 1}}"),
                   "option 'fancy' 1");
    refused_config(
        "same names",
        SEQ(INPUT ", " FLAT_DENSE ", {\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 2}}"),
        "two layers are named 'd'");
    refused_config("rank 2 input",
                   SEQ("{\"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 8, 8], \"name\": "
                       "\"in\"}}, " FLAT_DENSE),
                   "rank 2");
    refused_config("bad name", SEQ(INPUT ", {\"class_name\": \"Flatten\", \"config\": {\"name\": \"../x\"}}"),
                   "the name must be");
    refused_config("no flatten",
                   SEQ(INPUT ", {\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 3}}"),
                   "layer 0 'd' (Dense): needs flat features");
    refused_config("BN axis",
                   SEQ(INPUT ", {\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"b\", "
                             "\"axis\": 1}}, " FLAT_DENSE),
                   "layer 'b' (BatchNormalization): axis 1 is not supported (only -1 or 3, the channels)");
    refused_config("ReLU max_value",
                   SEQ(INPUT ", {\"class_name\": \"ReLU\", \"config\": {\"name\": \"r\", "
                             "\"max_value\": 6.0}}, " FLAT_DENSE),
                   "max_value 6.0 is not supported (only null)");
    refused_config("ZeroPadding2D of three",
                   SEQ(INPUT ", {\"class_name\": \"ZeroPadding2D\", \"config\": {\"name\": \"z\", "
                             "\"padding\": [1, 2, 3]}}, " FLAT_DENSE),
                   "layer 'z' (ZeroPadding2D): padding [1, 2, 3] is not supported");
    refused_config("ZeroPadding2D negative",
                   SEQ(INPUT ", {\"class_name\": \"ZeroPadding2D\", \"config\": {\"name\": \"z\", "
                             "\"padding\": [[1, -1], [0, 0]]}}, " FLAT_DENSE),
                   "padding [[1, -1], [0, 0]] is not supported");
    refused_config("ZeroPadding2D channels_first",
                   SEQ(INPUT ", {\"class_name\": \"ZeroPadding2D\", \"config\": {\"name\": \"z\", "
                             "\"padding\": 1, \"data_format\": \"channels_first\"}}, " FLAT_DENSE),
                   "data_format \"channels_first\" is not supported");
    refused_config("Softmax axis",
                   SEQ(INPUT ", " FLAT_DENSE ", {\"class_name\": \"Softmax\", \"config\": {\"name\": \"s\", "
                             "\"axis\": 0}}"),
                   "layer 's' (Softmax): axis 0 is not supported");
    refused_config("LeakyReLU negative slope",
                   SEQ(INPUT ", {\"class_name\": \"LeakyReLU\", \"config\": {\"name\": \"l\", "
                             "\"negative_slope\": -1}}, " FLAT_DENSE),
                   "negative_slope");
    refused_config("an activation crossdev lacks",
                   SEQ(INPUT ", {\"class_name\": \"Activation\", \"config\": {\"name\": \"a\", "
                             "\"activation\": \"softplus\"}}, " FLAT_DENSE),
                   "activation \"softplus\" is not supported (only \"linear\", \"relu\", \"sigmoid\"");
}

#define KT(name) "{\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"" name "\", 0, 0]}}"
#define FLAYER(cls, cfg, args)                                                                                     \
    "{\"class_name\": \"" cls "\", \"config\": {" cfg "}, \"inbound_nodes\": [{\"args\": [" args "], \"kwargs\": " \
    "{}}]}"
#define FUNC(layers, out)                                                                                           \
    "{\"class_name\": \"Functional\", \"config\": {\"name\": \"m\", \"layers\": [{\"class_name\": \"InputLayer\", " \
    "\"config\": {\"batch_shape\": [null, 8, 8, 2], \"name\": \"in\"}, \"inbound_nodes\": []}, " layers             \
    "], \"input_layers\": [\"in\", 0, 0], \"output_layers\": [\"" out "\", 0, 0]}}"
#define F_FLAT(name, from) FLAYER("Flatten", "\"name\": \"" name "\"", KT(from))
#define F_DENSE(from) FLAYER("Dense", "\"name\": \"d\", \"units\": 3", KT(from))

/* Functional configs: a chain parses to the Sequential spec; what is not
 * one graph of layers called once on earlier layers is refused. */
static void test_graph_refusals(void)
{
    xd_model_spec s, q;
    xd_error err;
    const char *ok = FUNC(F_FLAT("f", "in") ", " F_DENSE("f"), "d"), *seq = SEQ(INPUT ", " FLAT_DENSE);
    xdt_check(&T,
              xd_keras_config_parse(ok, strlen(ok), "my.json", &s, &err) == XD_OK &&
                  xd_keras_config_parse(seq, strlen(seq), "my.json", &q, &err) == XD_OK && spec_equal(&s, &q),
              "a functional chain is the Sequential spec: %s", err.message);
    refused_config("a later layer", FUNC(F_FLAT("f", "in") ", " F_DENSE("g"), "d"),
                   "layer 'd' (Dense): reads 'g', which is not a layer before it");
    refused_config("output not last", FUNC(F_FLAT("f", "in") ", " F_DENSE("f"), "f"),
                   "model 'm': its output is 'f', not 'd'");
    refused_config("unused output", FUNC(F_FLAT("f", "in") ", " F_FLAT("g", "in") ", " F_DENSE("f"), "d"),
                   "layer 1 'g' (Flatten): its output is not read by any layer");
    refused_config(
        "two inputs to a Dense",
        FUNC(F_FLAT("f", "in") ", " FLAYER("Dense", "\"name\": \"d\", \"units\": 3", "[" KT("f") ", " KT("f") "]"),
             "d"),
        "layer 1 'd' (Dense): takes one input");
    refused_config("a call argument",
                   FUNC("{\"class_name\": \"Flatten\", \"config\": {\"name\": \"f\"}, \"inbound_nodes\": [{\"args\": "
                        "[" KT("in") "], \"kwargs\": {\"mask\": 1}}]}, " F_DENSE("f"),
                        "d"),
                   "layer 'f' (Flatten): call argument 'mask' is not supported");
    refused_config("Keras 2 nodes",
                   FUNC("{\"class_name\": \"Flatten\", \"config\": {\"name\": \"f\"}, \"inbound_nodes\": "
                        "[[[\"in\", 0, 0, {}]]]}, " F_DENSE("f"),
                        "d"),
                   "only Keras 3's {args, kwargs}");
    refused_config("a second call's output",
                   FUNC(F_FLAT("f", "in") ", " FLAYER(
                            "Dense", "\"name\": \"d\", \"units\": 3",
                            "{\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"f\", 1, 0]}}"),
                        "d"),
                   "reads output 0 of call 1 of 'f'");
    /* the spec's JSON holds the graph to the same rules */
    s.layers[1].ninputs = 1;
    s.layers[1].inputs[0] = 1;
    char *text = xd_model_spec_json(&s);
    xd_status st = xd_model_spec_from_json(text, &q, &err);
    xdt_check(&T,
              st == XD_INVALID_ARGUMENT &&
                  strstr(err.message, "layer 1 'd' (Dense): reads a layer that does not come before it"),
              "a spec whose layer reads itself is refused: %s", err.message);
    free(text);
    s.layers[1].inputs[0] = 0; /* the chain written out: read back as the chain */
    text = xd_model_spec_json(&s);
    st = xd_model_spec_from_json(text, &q, &err);
    xdt_check(&T, st == XD_OK && q.layers[1].ninputs == 0 && strstr(text, "\"inputs\": [") != NULL,
              "inputs [i - 1] read back as the chain's: %s", err.message);
    free(text);
}

#define F_CONV(name, from) FLAYER("Conv2D", "\"name\": \"" name "\", \"filters\": 2, \"kernel_size\": 3", KT(from))
#define F_GAP(from, keep) FLAYER("GlobalAveragePooling2D", "\"name\": \"g\", \"keepdims\": " keep, KT(from))
#define F_MERGE(cls, cfg, a, b) FLAYER(cls, "\"name\": \"m2\"" cfg, "[" KT(a) ", " KT(b) "]")

/* The layers of functional models: their options and shapes. */
static void test_merge_refusals(void)
{
    xd_model_spec q;
    xd_error err;
    refused_config("GlobalAveragePooling2D keepdims", FUNC(F_GAP("in", "true") ", " F_DENSE("g"), "d"),
                   "layer 'g' (GlobalAveragePooling2D): keepdims true is not supported (only false)");
    refused_config(
        "Add of two shapes",
        FUNC(F_CONV("c", "in") ", " F_MERGE("Add", "", "in", "c") ", " F_FLAT("f", "m2") ", " F_DENSE("f"), "d"),
        "layer 1 'm2' (Add): its inputs differ in shape");
    refused_config(
        "Concatenate on the height",
        FUNC(F_MERGE("Concatenate", ", \"axis\": 1", "in", "in") ", " F_FLAT("f", "m2") ", " F_DENSE("f"), "d"),
        "layer 'm2' (Concatenate): axis 1 is not supported (only -1 or 3, the channels)");
    refused_config(
        "Concatenate of flattened images",
        FUNC(F_FLAT("f", "in") ", " F_FLAT("f2", "in") ", " F_MERGE("Concatenate", "", "f", "f2") ", " F_DENSE("m2"),
             "d"),
        "layer 2 'm2' (Concatenate): concatenating features flattened from an image is not supported");
    refused_config(
        "Concatenate of an image and features",
        FUNC(F_FLAT("f", "in") ", " F_MERGE("Concatenate", "", "in", "f") ", " F_FLAT("f2", "m2") ", " F_DENSE("f2"),
             "d"),
        "layer 1 'm2' (Concatenate): its inputs differ in height or width, or are not all images or all features");
    refused_config("an Add in a Sequential model",
                   SEQ(INPUT ", {\"class_name\": \"Add\", \"config\": {\"name\": \"a\"}}, " FLAT_DENSE),
                   "layer 0 'a' (Add): takes 2 to 8 inputs");
    /* a conv reading the input after a conv of other channels: its kernel is the input's */
    const char *two =
        FUNC(FLAYER("Conv2D", "\"name\": \"c\", \"filters\": 5, \"kernel_size\": 3",
                    KT("in")) ", " FLAYER("Conv2D", "\"name\": \"c2\", \"filters\": 5, \"kernel_size\": 3",
                                          KT("in")) ", " F_MERGE("Add", "", "c", "c2") ", " F_GAP("m2", "false"),
             "g");
    static xd_keras_vars vars;
    xdt_check(&T,
              xd_keras_config_parse(two, strlen(two), "my.json", &q, &err) == XD_OK &&
                  xd_keras_vars_of(&q, &vars, &err) == XD_OK && vars.n == 4 && vars.v[2].shape[1] == 2 &&
                  vars.v[2].kshape[2] == 2 && q.classes == 5,
              "a second conv on the input after a conv of 5 channels: its kernel reads 2 (%s)", err.message);
    const char *gap = FUNC(F_CONV("c", "in") ", " F_GAP("c", "false") ", " F_DENSE("g"), "d");
    xdt_check(&T,
              xd_keras_config_parse(gap, strlen(gap), "my.json", &q, &err) == XD_OK && q.classes == 3 &&
                  q.layers[2].ninputs == 0,
              "a conv, global average pooling and a Dense: a chain (%s)", err.message);
}

/* ---- --export: weights for real Keras to load (tests/scripts/test_keras_export.sh) ---- */
static int export_one(const char *name, const char *out)
{
    char path[4096], dir[4096], npy[4200];
    xd_model_spec s;
    xd_weights w;
    xd_error err;
    snprintf(path, sizeof path, "%s/%s.keras", fixtures, name);
    if (xd_model_spec_load(path, &s, &w, &err) != XD_OK) return fprintf(stderr, "%s\n", err.message), 1;
    snprintf(dir, sizeof dir, "%s/%s", out, name);
    mkdir(dir, 0755);
    for (size_t i = 0; i < w.n; i++) { /* new values, so that loading them shows */
        for (size_t e = 0; e < w.items[i].count; e++)
            w.items[i].data[e] = w.items[i].data[e] * 0.5f + (float)((i * 7 + e) % 13) / 16.0f;
        snprintf(npy, sizeof npy, "%s/%s.npy", dir, w.items[i].name);
        if (xd_npy_write(npy, XD_DTYPE_F32, w.items[i].ndim, w.items[i].shape, w.items[i].data, &err) != XD_OK)
            return fprintf(stderr, "%s\n", err.message), 1;
    }
    snprintf(path, sizeof path, "%s/%s.weights.h5", out, name);
    xd_status st = xd_weights_save_h5(path, &s, &w, &err);
    xd_weights_free(&w);
    if (st != XD_OK) return fprintf(stderr, "%s\n", err.message), 1;
    printf("test_keras: wrote %s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return fprintf(stderr, "usage: test_keras FIXTURES-DIR [--export OUT-DIR]\n"), 2;
    fixtures = argv[1];
    if (argc == 4 && strcmp(argv[2], "--export") == 0)
        return export_one("all-layers", argv[3]) || export_one("variants", argv[3]) || export_one("residual", argv[3]);
    char path[4096];
    fixture(path, sizeof path, "manifest.json");
    json_error_t je;
    json_t *manifest = json_load_file(path, 0, &je);
    if (!manifest) return fprintf(stderr, "test_keras: %s: %s\n", path, je.text), 1;
    test_builtins();
    test_shape_rules();
    json_t *valid = json_object_get(manifest, "valid"), *invalid = json_object_get(manifest, "invalid");
    for (size_t i = 0; i < json_array_size(valid); i++) test_valid(json_array_get(valid, i));
    for (size_t i = 0; i < json_array_size(invalid); i++) test_invalid(json_array_get(invalid, i));
    test_mnist_is_builtin();
    test_functional_chain();
    test_resnet_is_builtin();
    test_save_refusals();
    test_config_refusals();
    test_activations_fixture();
    test_graph_refusals();
    test_merge_refusals();
    json_decref(manifest);
    return xdt_finish(&T);
}
