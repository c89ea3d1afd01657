"""Keras's weights in crossdev's names and layouts, with numpy transposes.

An implementation of the permutations independent of crossdev's C one
(host/io/weights.c), used to make the test fixtures and to check what
crossdev exports:

    Conv2D kernel   Keras (kh, kw, in, out)  ->  crossdev "NAME.weight" (out, in, kh, kw)
    Dense kernel    Keras (in, out)          ->  crossdev "NAME.weight" (out, in), the inputs
                    of a Dense after a Flatten of an (H, W, C) image reordered from
                    Keras's (H, W, C) flatten order to crossdev's (C, H, W)
    bias            "NAME.bias", as is
    BatchNormalization  "NAME.gamma" (if scale), "NAME.beta" (if center),
                    "NAME.moving_mean", "NAME.moving_variance"; after a Flatten
                    reordered like a Dense's inputs
"""
import numpy as np


def flatten_sources(model):
    """For each layer, the (H, W, C) image that the Flatten before it
    flattened, when the features reaching it still come from that Flatten
    (no Dense between), else None."""
    out, src = [], None
    for layer in model.layers:
        out.append(src)
        name = type(layer).__name__
        if name == "Flatten" and len(layer.input.shape) == 4:
            src = tuple(int(d) for d in layer.input.shape[1:])
        elif name == "Dense":
            src = None
    return out


def features_to_crossdev(v, src):
    """A per-feature vector (or the first axis of a kernel) from Keras's
    (H, W, C) flatten order to crossdev's (C, H, W)."""
    if src is None:
        return v
    h, w, c = src
    rest = v.shape[1:]
    return v.reshape((h, w, c) + rest).transpose((2, 0, 1) + tuple(range(3, 3 + len(rest)))).reshape(v.shape)


def crossdev_params(model):
    """[(crossdev name, float32 array in crossdev's layout)] in Keras's variable order."""
    params = []
    for layer, src in zip(model.layers, flatten_sources(model)):
        name, cls = layer.name, type(layer).__name__
        values = [np.asarray(v, dtype=np.float32) for v in layer.get_weights()]
        if cls == "Conv2D":
            params.append((name + ".weight", values[0].transpose(3, 2, 0, 1)))
            if layer.use_bias:
                params.append((name + ".bias", values[1]))
        elif cls == "Dense":
            params.append((name + ".weight", features_to_crossdev(values[0], src).T))
            if layer.use_bias:
                params.append((name + ".bias", values[1]))
        elif cls == "BatchNormalization":
            names = (["gamma"] if layer.scale else []) + (["beta"] if layer.center else [])
            names += ["moving_mean", "moving_variance"]
            assert len(names) == len(values), (layer.name, len(values))
            params += [(name + "." + n, features_to_crossdev(v, src)) for n, v in zip(names, values)]
        else:
            assert not values, (layer.name, cls)
    return [(n, np.ascontiguousarray(a, dtype=np.float32)) for n, a in params]
