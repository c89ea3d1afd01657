"""Keras's weights in crossdev's names and layouts (docs/models.md, "Names
and layouts"), with numpy transposes: an implementation independent of
crossdev's C one (host/spec/weights.c), used by the Keras callback and
replay, the test fixtures and the checks of what crossdev exports.

    Conv2D kernel   Keras (kh, kw, in, out)  ->  crossdev "NAME.weight" (out, in, kh, kw)
    Dense kernel    Keras (in, out)          ->  crossdev "NAME.weight" (out, in), the inputs
                    of a Dense after a Flatten of an (H, W, C) image reordered from
                    Keras's (H, W, C) flatten order to crossdev's (C, H, W)
    bias            "NAME.bias", as is
    BatchNormalization  "NAME.gamma" (if scale), "NAME.beta" (if center),
                    "NAME.moving_mean", "NAME.moving_variance"; after a Flatten
                    reordered like a Dense's inputs

Optimizer state follows its variable: "<param>.m", "<param>.v" in the
same layout.  Functions here take a Keras model but import no Keras.

    >>> params = crossdev_params(model)     # [(crossdev name, array in crossdev's layout)]
"""
import numpy as np

__all__ = ["flatten_sources", "features_to_crossdev", "crossdev_params", "variable_suffixes", "permutation",
           "Mapping", "keras_mask_order"]


def _first_inputs(model):
    """{layer name: the name of the layer whose output it reads first} from
    the model's config: a functional model's calls (keras_history), a
    Sequential model's layer before."""
    out, prev = {}, None
    for entry in model.get_config()["layers"]:
        name, nodes = entry["config"]["name"], entry.get("inbound_nodes")
        if nodes:
            arg = nodes[0]["args"][0]
            out[name] = (arg[0] if isinstance(arg, list) else arg)["config"]["keras_history"][0]
        else:
            out[name] = prev
        prev = name
    return out


def flatten_sources(model):
    """For each layer, the (H, W, C) image that the Flatten before it
    flattened, when the features reaching it still come from that Flatten
    (no Dense, global pooling or concatenation between), else None.  A
    functional model's layers follow its graph."""
    reads, made, out = _first_inputs(model), {}, []
    for layer in model.layers:
        src = made.get(reads.get(layer.name))
        out.append(src)
        name = type(layer).__name__
        if name == "Flatten" and len(layer.input.shape) == 4:
            src = tuple(int(d) for d in layer.input.shape[1:])
        elif name in ("Dense", "GlobalAveragePooling2D", "Concatenate"):
            src = None
        made[layer.name] = src
    return out


def features_to_crossdev(v, src):
    """A per-feature vector (or the first axis of a kernel) from Keras's
    (H, W, C) flatten order to crossdev's (C, H, W)."""
    if src is None:
        return v
    h, w, c = src
    rest = v.shape[1:]
    return v.reshape((h, w, c) + rest).transpose((2, 0, 1) + tuple(range(3, 3 + len(rest)))).reshape(v.shape)


def variable_suffixes(layer):
    """crossdev's suffixes of a layer's variables, in Keras's variable order."""
    cls = type(layer).__name__
    if cls in ("Conv2D", "Dense"):
        return ["weight"] + (["bias"] if layer.use_bias else [])
    if cls == "BatchNormalization":
        return ((["gamma"] if layer.scale else []) + (["beta"] if layer.center else [])
                + ["moving_mean", "moving_variance"])
    return []


def _to_crossdev(cls, suffix, value, src):
    if cls == "Conv2D" and suffix == "weight":
        return value.transpose(3, 2, 0, 1)
    if cls == "Dense" and suffix == "weight":
        return features_to_crossdev(value, src).T
    if cls == "BatchNormalization":
        return features_to_crossdev(value, src)
    return value


def crossdev_params(model):
    """[(crossdev name, float32 array in crossdev's layout)] in Keras's variable order."""
    params = []
    for layer, src in zip(model.layers, flatten_sources(model)):
        values = [np.asarray(v, dtype=np.float32) for v in layer.get_weights()]
        suffixes = variable_suffixes(layer)
        assert len(suffixes) == len(values), (layer.name, type(layer).__name__, len(values))
        params += [(layer.name + "." + s, _to_crossdev(type(layer).__name__, s, v, src))
                   for s, v in zip(suffixes, values)]
    return [(n, np.ascontiguousarray(a, dtype=np.float32)) for n, a in params]


def permutation(cls, suffix, shape, src):
    """Index array p of a variable, in crossdev's shape of it (OIHW for a
    Conv2D kernel): crossdev = keras_flat[p]."""
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    return np.ascontiguousarray(_to_crossdev(cls, suffix, idx, src))


class Mapping:
    """Each Keras variable of a model with its crossdev name and permutation,
    in Keras's layer order (which is crossdev's trace order)."""

    def __init__(self, model):
        self.entries = []  # (crossdev name, keras variable, p: crossdev = keras_flat[p])
        for layer, src in zip(model.layers, flatten_sources(model)):
            cls = type(layer).__name__
            for suffix, var in zip(variable_suffixes(layer), layer.weights):
                self.entries.append((layer.name + "." + suffix, var, permutation(cls, suffix, tuple(var.shape), src)))

    @staticmethod
    def to_keras(flat_crossdev, p, shape):
        """A crossdev-layout array as the Keras variable's."""
        flat = np.empty(p.size, np.float32)
        flat[p.reshape(-1)] = np.asarray(flat_crossdev, np.float32).reshape(-1)
        return flat.reshape(shape)

    def set_keras(self, snapshot, opt_slots):
        """Assigns {crossdev name: array} (a snapshot) to the variables and,
        through opt_slots(var) -> {".m": slot, ...}, to the optimizer's."""
        for name, var, p in self.entries:
            var.assign(self.to_keras(snapshot[name], p, var.shape))
            for suffix, slot in opt_slots(var).items():
                slot.assign(self.to_keras(snapshot[name + suffix], p, var.shape))

    def keras_state(self, opt_slots):
        """{crossdev name: array in crossdev's layout and shape} of the
        variables and their optimizer slots now, in trace order (what a
        crossdev snapshot holds: the same .npy shapes)."""
        out = {}
        for name, var, p in self.entries:
            out[name] = np.asarray(var.numpy(), np.float32).reshape(-1)[p]
            for suffix, slot in opt_slots(var).items():
                out[name + suffix] = np.asarray(slot.numpy(), np.float32).reshape(-1)[p]
        return out


def keras_mask_order(mask_xd, shape_keras, src):
    """A mask in crossdev's order (NCHW, or (C, H, W) features after a
    Flatten) put in Keras's (NHWC, or (H, W, C) features)."""
    n = shape_keras[0]
    if len(shape_keras) == 4:
        _, h, w, c = shape_keras
        return mask_xd.reshape(n, c, h, w).transpose(0, 2, 3, 1)
    if src is not None:
        h, w, c = src
        return mask_xd.reshape(n, c, h, w).transpose(0, 2, 3, 1).reshape(n, -1)
    return mask_xd.reshape(shape_keras)
