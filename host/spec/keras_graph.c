/* A Keras functional model (`keras.Model(inputs, outputs)`) into a spec
 * whose layers name their inputs.  Keras 3 writes its graph as
 *
 *   {"class_name": "Functional", "config": {"name", "layers": [
 *      {"class_name", "config", "name", "inbound_nodes": [
 *         {"args": [TENSOR or [TENSOR, ...]], "kwargs": {}}]}, ...],
 *    "input_layers": [NAME, 0, 0], "output_layers": [NAME, 0, 0]}}
 *   TENSOR = {"class_name": "__keras_tensor__",
 *             "config": {"shape", "dtype", "keras_history": [LAYER, NODE, INDEX]}}
 *
 * with the layers in graph order (an InputLayer first, every layer after
 * those it reads, the output last: Keras orders them by depth, and its
 * weights follow that order).  crossdev takes one input and one output,
 * each layer called once on the outputs of layers before it; anything else
 * (several inputs or outputs, a shared layer, a nested model, call
 * arguments) is refused naming the layer. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "spec/keras.h"

typedef struct graph {
    const char *file;
    xd_model_spec *out;
    const char *input;           /* the InputLayer's name */
    int flat[XD_MAX_LAYERS + 1]; /* flat[j + 1]: layer j's output is features (j = -1: the model's input) */
    xd_error *err;
} graph;

/* The layer of that name so far (-1: the input), or -2. */
static int source_of(const graph *g, const char *name)
{
    if (g->input && strcmp(name, g->input) == 0) return -1;
    for (int i = 0; i < g->out->nlayers; i++)
        if (strcmp(g->out->layers[i].name, name) == 0) return i;
    return -2;
}

/* One argument of a call: the output of a layer before this one. */
static xd_status tensor_source(const graph *g, const xd_kopts *o, json_t *t, int *src)
{
    json_t *h = json_object_get(json_object_get(t, "config"), "keras_history");
    const char *cls = json_string_value(json_object_get(t, "class_name"));
    const char *name = json_string_value(json_array_get(h, 0));
    json_t *node = json_array_get(h, 1), *index = json_array_get(h, 2);
    if (!cls || strcmp(cls, "__keras_tensor__") != 0 || !name || json_array_size(h) != 3 || !json_is_integer(node) ||
        !json_is_integer(index))
        return xd_kopt_refuse(o, "inbound_nodes: an argument that is not a layer's output (a __keras_tensor__ "
                                 "with its keras_history)");
    *src = source_of(g, name);
    if (*src == -2) return xd_kopt_refuse(o, "reads '%.63s', which is not a layer before it", name);
    if (json_integer_value(node) != 0 || json_integer_value(index) != 0)
        return xd_kopt_refuse(o,
                              "reads output %lld of call %lld of '%.63s' (only a layer's one output of its one call)",
                              (long long)json_integer_value(index), (long long)json_integer_value(node), name);
    return XD_OK;
}

/* A call's keyword arguments: Keras records `training` (which the model's
 * own call overrides: fit trains, evaluate does not) and a null `mask`;
 * any other is refused. */
static xd_status call_options(const xd_kopts *o, json_t *kwargs)
{
    if (kwargs && !json_is_object(kwargs)) return xd_kopt_refuse(o, "inbound_nodes: kwargs is not an object");
    const char *key;
    json_t *v;
    json_object_foreach(kwargs, key, v)
    {
        if (strcmp(key, "training") == 0 && (json_is_boolean(v) || json_is_null(v))) continue;
        if (strcmp(key, "mask") == 0 && json_is_null(v)) continue;
        return xd_kopt_refuse(o, "call argument '%.63s' is not supported (only the layer's inputs)", key);
    }
    return XD_OK;
}

/* The layer's one call: its inputs in[0 .. *n). */
static xd_status call_inputs(const graph *g, const xd_kopts *o, json_t *layer, int *in, int *n)
{
    json_t *nodes = json_object_get(layer, "inbound_nodes");
    if (!json_is_array(nodes) || json_array_size(nodes) == 0)
        return xd_kopt_refuse(o, "no inbound_nodes: the layer is not called on a tensor");
    if (json_array_size(nodes) > 1)
        return xd_kopt_refuse(o, "called %zu times (a shared layer) is not supported (only layers called once)",
                              json_array_size(nodes));
    json_t *node = json_array_get(nodes, 0), *args = json_object_get(node, "args");
    json_t *kwargs = json_object_get(node, "kwargs");
    if (!json_is_object(node) || !json_is_array(args))
        return xd_kopt_refuse(o, "inbound_nodes in a form crossdev does not read (only Keras 3's {args, kwargs})");
    XD_TRY(call_options(o, kwargs));
    if (json_array_size(args) != 1)
        return xd_kopt_refuse(o, "called with %zu arguments is not supported (only its inputs)", json_array_size(args));
    json_t *a = json_array_get(args, 0);
    size_t count = json_is_array(a) ? json_array_size(a) : 1;
    if (count < 1 || count > XD_MAX_INPUTS) return xd_kopt_refuse(o, "%zu inputs (1 to 8 supported)", count);
    for (size_t k = 0; k < count; k++) XD_TRY(tensor_source(g, o, json_is_array(a) ? json_array_get(a, k) : a, &in[k]));
    *n = (int)count;
    return XD_OK;
}

/* An entry of config.layers that is not the InputLayer: its call, then the
 * layer itself (BatchNormalization's axis is checked against the rank of
 * what it reads). */
static xd_status graph_layer(graph *g, json_t *l, const char *cls)
{
    const char *name = json_string_value(json_object_get(json_object_get(l, "config"), "name"));
    xd_kopts o = {g->file, "", json_object_get(l, "config"), g->err};
    snprintf(o.where, sizeof o.where, "layer '%.63s' (%.64s)", name ? name : "?", cls);
    if (strcmp(cls, "Functional") == 0 || strcmp(cls, "Sequential") == 0 || strcmp(cls, "Model") == 0)
        return xd_kopt_refuse(&o, "a nested model is not supported (build the model from its layers)");
    if (g->out->nlayers == XD_MAX_LAYERS)
        return xd_error_set(g->err, XD_FORMAT, 0, "%s: more than %d layers (crossdev's limit)", g->file, XD_MAX_LAYERS);
    int in[XD_MAX_INPUTS] = {0}, n = 0;
    XD_TRY(call_inputs(g, &o, l, in, &n));
    const int i = g->out->nlayers;
    xd_keras_layer_ctx c = {g->file, g->flat[in[0] + 1]};
    xd_layer_spec *s = &g->out->layers[i];
    XD_TRY(xd_keras_layer_parse(&c, l, s, g->err));
    if (source_of(g, s->name) != -2)
        return xd_error_set(g->err, XD_FORMAT, 0, "%s: two layers are named '%s'", g->file, s->name);
    xd_layer_set_inputs(s, i, in, n);
    g->flat[i + 1] = c.flat;
    g->out->nlayers++;
    return XD_OK;
}

/* config.input_layers or output_layers: one [NAME, 0, 0] (or a list of
 * one), which must be `want`. */
static xd_status endpoint(const graph *g, json_t *cfg, const char *key, const char *want, const char *what)
{
    xd_kopts o = {g->file, "", cfg, g->err};
    snprintf(o.where, sizeof o.where, "model '%s'", g->out->name);
    json_t *v = json_object_get(cfg, key);
    if (json_is_array(v) && json_array_size(v) == 1 && json_is_array(json_array_get(v, 0))) v = json_array_get(v, 0);
    if (json_is_array(v) && json_is_array(json_array_get(v, 0)))
        return xd_kopt_refuse(&o, "%zu %ss are not supported (only one)", json_array_size(v), what);
    const char *name = json_string_value(json_array_get(v, 0));
    if (!json_is_array(v) || json_array_size(v) != 3 || !name)
        return xd_kopt_unsupported(&o, key, "only one layer's output, [name, 0, 0]");
    if (strcmp(name, want) != 0)
        return xd_kopt_refuse(&o, "its %s is '%.63s', not '%.63s' (crossdev's %s is the %s)", what, name, want, what,
                              strcmp(what, "input") == 0 ? "InputLayer" : "last layer");
    return XD_OK;
}

xd_status xd_keras_graph_parse(const char *file, json_t *cfg, xd_model_spec *out, int64_t dims[4], int *rank,
                               xd_error *err)
{
    graph g = {file, out, NULL, {0}, err};
    json_t *layers = json_object_get(cfg, "layers");
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *l = json_array_get(layers, i);
        const char *cls = json_string_value(json_object_get(l, "class_name"));
        const char *name = json_string_value(json_object_get(json_object_get(l, "config"), "name"));
        if (!cls) return xd_error_set(err, XD_FORMAT, 0, "%s: a layer without class_name and config", file);
        if (strcmp(cls, "InputLayer") != 0) {
            XD_TRY(graph_layer(&g, l, cls));
            continue;
        }
        if (g.input)
            return xd_error_set(err, XD_FORMAT, 0,
                                "%s: model '%s': a second input '%.63s' (InputLayer): models with several inputs are "
                                "not supported (only one)",
                                file, out->name, name ? name : "?");
        XD_TRY(xd_keras_input_layer(file, l, dims, rank, err));
        if (!name) return xd_error_set(err, XD_FORMAT, 0, "%s: the InputLayer has no name", file);
        g.input = name;
    }
    if (!g.input) return xd_error_set(err, XD_FORMAT, 0, "%s: the functional model has no InputLayer", file);
    if (out->nlayers == 0)
        return xd_error_set(err, XD_FORMAT, 0, "%s: the model has no layers besides its input", file);
    XD_TRY(endpoint(&g, cfg, "input_layers", g.input, "input"));
    return endpoint(&g, cfg, "output_layers", out->layers[out->nlayers - 1].name, "output");
}
