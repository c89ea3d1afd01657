"""crossdev's model spec (trace.json's `model_spec`, docs/models.md) from a
Keras model's config, written field for field as crossdev writes it for the
same model (host/spec/keras_layers.c, keras_compile.c, spec_json.c): every
layer has every field, unused ones zero, so that two specs are the same
exactly when their texts are.  No Keras import: it reads the dicts that
model.get_config() and the compiled optimizer give.

    >>> spec = keras_spec(model, source="keras model.fit")

Also the shapes a spec's layers produce, for the frameworks' builders.
"""
import math
import struct
from typing import List, Optional, Tuple

__all__ = ["keras_spec", "layer_shapes", "SUPPORTED_LAYERS"]

SUPPORTED_LAYERS = ("Conv2D", "MaxPooling2D", "AveragePooling2D", "Flatten", "Dense", "Dropout", "ReLU", "Activation",
                    "BatchNormalization", "Add", "Concatenate", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
                    "ZeroPadding2D", "LeakyReLU", "ELU", "Softmax")
# Keras's activation names as crossdev records them, with the parameter
# (alpha) Keras's function gives by default (host/spec/keras_layers.c)
_ACTIVATIONS = {"swish": ("silu", 0.0), "leaky_relu": ("leaky_relu", 0.2), "elu": ("elu", 1.0)}
# Layers that are an activation in crossdev's spec: its name and alpha
_ACTIVATION_LAYERS = {"ReLU": ("relu", None, 0.0), "LeakyReLU": ("leaky_relu", "negative_slope", 0.3),
                      "ELU": ("elu", "alpha", 1.0), "Softmax": ("softmax", None, 0.0)}
_INIT_ALIASES = {"glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal", "he_uniform": "HeUniform",
                 "he_normal": "HeNormal", "zeros": "Zeros", "ones": "Ones", "random_uniform": "RandomUniform",
                 "random_normal": "RandomNormal"}


def _init(value, default: str) -> dict:
    """An initializer as {kind, a, b}: RandomUniform's minval/maxval,
    RandomNormal's mean/stddev (Keras's defaults), 0 otherwise."""
    if value is None:
        return {"kind": default, "a": 0.0, "b": 0.0}
    cls = value if isinstance(value, str) else value.get("class_name")
    cfg = {} if isinstance(value, str) else (value.get("config") or {})
    kind = _INIT_ALIASES.get(cls, cls)
    if kind not in _INIT_ALIASES.values():
        raise ValueError(f"initializer {cls} is not one crossdev knows")
    if kind == "RandomUniform":
        return {"kind": kind, "a": float(cfg.get("minval", -0.05)), "b": float(cfg.get("maxval", 0.05))}
    if kind == "RandomNormal":
        return {"kind": kind, "a": float(cfg.get("mean", 0.0)), "b": float(cfg.get("stddev", 0.05))}
    return {"kind": kind, "a": 0.0, "b": 0.0}


def _pair(v, default) -> Tuple[int, int]:
    if v is None:
        v = default
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _blank(cls: str, name: str) -> dict:
    zero = {"kind": "GlorotUniform", "a": 0.0, "b": 0.0}
    return {"type": cls, "name": name, "filters": 0, "units": 0, "kh": 0, "kw": 0, "sh": 0, "sw": 0,
            "padding": "valid", "activation": "linear", "use_bias": False, "kernel_init": dict(zero),
            "bias_init": dict(zero), "rate": 0.0, "momentum": 0.0, "epsilon": 0.0, "center": False, "scale": False,
            "gamma_init": dict(zero), "beta_init": dict(zero), "moving_mean_init": dict(zero),
            "moving_variance_init": dict(zero)}


def _activation(s: dict, name) -> None:
    """An activation by Keras's name, with its default parameter."""
    act, alpha = _ACTIVATIONS.get(name or "linear", (name or "linear", 0.0))
    s["activation"] = act
    if alpha:
        s["alpha"] = alpha


def _zero_padding(v) -> List[int]:
    """ZeroPadding2D's padding as [top, bottom, left, right]."""
    if isinstance(v, int):
        return [v, v, v, v]
    rows, cols = v
    rows = (rows, rows) if isinstance(rows, int) else rows
    cols = (cols, cols) if isinstance(cols, int) else cols
    return [int(rows[0]), int(rows[1]), int(cols[0]), int(cols[1])]


def _weighted(s: dict, c: dict) -> None:
    _activation(s, c.get("activation"))
    s["use_bias"] = bool(c.get("use_bias", True))
    s["kernel_init"] = _init(c.get("kernel_initializer"), "GlorotUniform")
    s["bias_init"] = _init(c.get("bias_initializer"), "Zeros")


def _layer(cls: str, c: dict) -> dict:
    """One layer's spec from its Keras class and config."""
    if cls not in SUPPORTED_LAYERS:
        raise ValueError(f"layer '{c.get('name')}' ({cls}): not a layer crossdev supports "
                         f"({', '.join(SUPPORTED_LAYERS)})")
    s = _blank("Activation" if cls in _ACTIVATION_LAYERS else cls, c["name"])
    if cls == "Conv2D":
        s["filters"] = int(c["filters"])
        (s["kh"], s["kw"]), (s["sh"], s["sw"]) = _pair(c["kernel_size"], None), _pair(c.get("strides"), 1)
        s["padding"] = c.get("padding", "valid")
        _weighted(s, c)
    elif cls in ("MaxPooling2D", "AveragePooling2D"):
        s["kh"], s["kw"] = _pair(c.get("pool_size"), 2)
        s["sh"], s["sw"] = _pair(c.get("strides"), (s["kh"], s["kw"]))
        s["padding"] = c.get("padding", "valid")
    elif cls == "Dense":
        s["units"] = int(c["units"])
        _weighted(s, c)
    elif cls == "Dropout":
        s["rate"] = float(c["rate"])
    elif cls in _ACTIVATION_LAYERS:
        act, key, default = _ACTIVATION_LAYERS[cls]
        s["activation"] = act
        if key and float(c.get(key, default)):
            s["alpha"] = float(c.get(key, default))
    elif cls == "Activation":
        _activation(s, c.get("activation"))
    elif cls == "ZeroPadding2D":
        s["pad"] = _zero_padding(c.get("padding", 1))
    elif cls == "Concatenate" and c.get("axis", -1) not in (-1, 1, 3):
        raise ValueError(f"layer '{c.get('name')}' (Concatenate): axis {c.get('axis')} (crossdev: the channels)")
    elif cls == "BatchNormalization":
        s.update(momentum=float(c.get("momentum", 0.99)), epsilon=float(c.get("epsilon", 1e-3)),
                 center=bool(c.get("center", True)), scale=bool(c.get("scale", True)),
                 gamma_init=_init(c.get("gamma_initializer"), "Ones"),
                 beta_init=_init(c.get("beta_initializer"), "Zeros"),
                 moving_mean_init=_init(c.get("moving_mean_initializer"), "Zeros"),
                 moving_variance_init=_init(c.get("moving_variance_initializer"), "Ones"))
    return s


def _inputs(layers: List[dict]) -> List[Optional[List[int]]]:
    """Each layer's inputs as crossdev's spec writes them (host/spec/keras_graph.c):
    None for a layer that reads the one before it (a chain; every layer of
    a Sequential model), else the indices of the layers it reads, -1 the
    model's input, from the layer's one call in a functional config."""
    index = {}
    out = []
    for l in layers:
        name = l["config"]["name"]
        if l["class_name"] == "InputLayer":
            index[name] = -1
            continue
        nodes = l.get("inbound_nodes")
        if not nodes:
            out.append(None)  # Sequential
        else:
            arg = nodes[0]["args"][0]
            tensors = arg if isinstance(arg, list) else [arg]
            src = [index[t["config"]["keras_history"][0]] for t in tensors]
            out.append(None if src == [len(out) - 1] else src)
        index[name] = len(out) - 1
    return out


def _f32(v: float) -> float:
    return struct.unpack("<f", struct.pack("<f", v))[0]


def asked(v) -> float:
    """The value a user wrote for a hyperparameter Keras holds in float32:
    a saved config carries the variable's value (0.001 comes back as
    0.0010000000474974513); the shortest decimal that is the same float32
    is what was asked (0.001), as crossdev's Keras reader takes it
    (host/spec/keras_compile.c).  A value that is not a float32 is kept."""
    v = float(v)
    if _f32(v) != v:
        return v
    for prec in range(1, 10):
        text = "%.*g" % (prec, v)
        if _f32(float(text)) == v:
            return float(text)
    return v


def lr_schedule_record(lr) -> Optional[dict]:
    """A Keras learning-rate schedule (a serialized LearningRateSchedule) as
    crossdev's spec writes it (host/spec/lr_schedule.c): {"class", then
    Keras's option names}; None for a constant rate."""
    if not isinstance(lr, dict):
        return None
    cls, c = lr["class_name"], lr["config"]
    if cls == "PiecewiseConstantDecay":
        return {"class": cls, "boundaries": [int(b) for b in c["boundaries"]], "values": [float(v) for v in c["values"]]}
    if cls not in ("ExponentialDecay", "CosineDecay"):
        raise ValueError(f"learning_rate schedule {cls}: crossdev has ExponentialDecay, PiecewiseConstantDecay, "
                         "CosineDecay")
    s = {"class": cls, "initial_learning_rate": float(c["initial_learning_rate"]),
         "decay_steps": float(c["decay_steps"])}
    if cls == "ExponentialDecay":
        s.update(decay_rate=float(c["decay_rate"]), staircase=bool(c.get("staircase", False)))
        return s
    target = c.get("warmup_target")
    s.update(alpha=float(c.get("alpha", 0.0)), warmup_target=None if target is None else float(target),
             warmup_steps=float(c.get("warmup_steps", 0)))
    return s


def _optimizer(opt_config: Optional[dict], kind_name: Optional[str]) -> dict:
    """The spec's optimizer: Keras's Adam or SGD (Keras's form); Keras's
    Adam defaults when the model has none.  A learning-rate schedule gives
    lr its starting rate and is recorded as `schedule`."""
    o = {"kind": "adam-keras", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "momentum": 0.0,
         "nesterov": False}
    if opt_config is None:
        return o
    c = dict(opt_config)
    schedule = lr_schedule_record(c.get("learning_rate"))
    if schedule:
        c["learning_rate"] = schedule["values"][0] if "values" in schedule else schedule["initial_learning_rate"]
    if kind_name == "SGD":
        o = {"kind": "sgd-keras", "lr": asked(c.get("learning_rate", 0.01)), "beta1": 0.0, "beta2": 0.0,
             "eps": 0.0, "momentum": asked(c.get("momentum", 0.0)), "nesterov": bool(c.get("nesterov", False))}
    elif kind_name == "Adam":
        o.update(lr=asked(c.get("learning_rate", 0.001)), beta1=asked(c.get("beta_1", 0.9)),
                 beta2=asked(c.get("beta_2", 0.999)), eps=asked(c.get("epsilon", 1e-7)))
    else:
        raise ValueError(f"optimizer {kind_name}: crossdev has Adam and SGD")
    if schedule:
        o["schedule"] = schedule
    return o


def _l2(reg) -> float:
    """A kernel_regularizer or bias_regularizer's L2 factor (0: none):
    Keras's L2, or L1L2 without its L1 part (host/spec/keras_regularize.c)."""
    if reg is None:
        return 0.0
    if isinstance(reg, str):
        if reg.lower() == "l2":
            return 0.01
        raise ValueError(f"regularizer {reg}: crossdev has L2")
    cls, c = reg.get("class_name"), reg.get("config") or {}
    if cls == "L2":
        return float(0.01 if c.get("l2") is None else c["l2"])
    if cls == "L1L2" and not c.get("l1"):
        return float(c.get("l2") or 0.0)
    raise ValueError(f"regularizer {cls}: crossdev has L2 (and L1L2 with l1 0)")


def _regularizers(s: dict, c: dict) -> None:
    """A Conv2D's or Dense's L2 factors, written only where non-zero (after
    its inputs, as the C writer does)."""
    if s["type"] not in ("Conv2D", "Dense"):
        return
    k, b = _l2(c.get("kernel_regularizer")), _l2(c.get("bias_regularizer")) if s["use_bias"] else 0.0
    if k:
        s["kernel_l2"] = k
    if b:
        s["bias_l2"] = b


def _loss_record(from_logits: bool) -> dict:
    import keras
    if not from_logits and keras.backend.backend() == "tensorflow":
        return {"from_logits": False, "form": "keras-tensorflow"}
    return {"from_logits": from_logits}


def keras_spec(model, source: str) -> dict:
    """The spec crossdev makes of this Keras model, Sequential or functional
    (its config and graph, input shape, loss and compiled optimizer),
    `source` as given.  A loss
    from probabilities on Keras's TensorFlow backend records TensorFlow's
    formula (loss.form "keras-tensorflow": clip, then renormalise), as
    crossdev's --keras-backend tensorflow does."""
    config = model.get_config()["layers"]
    layers = [l for l in config if l["class_name"] != "InputLayer"]
    specs = [_layer(l["class_name"], l["config"]) for l in layers]
    for s, src, l in zip(specs, _inputs(config), layers):
        if src is not None:
            s["inputs"] = src
        _regularizers(s, l["config"])
    h, w, c = (int(d) for d in model.inputs[0].shape[1:])
    loss = getattr(model, "loss", None)
    from_logits = bool(getattr(loss, "from_logits", False)) if not isinstance(loss, str) else False
    opt = getattr(model, "optimizer", None)
    return {"name": model.name, "source": source, "in_h": h, "in_w": w, "in_c": c,
            "classes": int(model.outputs[0].shape[-1]),
            "layers": specs,
            "loss": _loss_record(from_logits), "has_optimizer": opt is not None,
            "optimizer": _optimizer(None if opt is None else opt.get_config(),
                                    None if opt is None else type(opt).__name__)}


def _out_size(n: int, k: int, s: int, padding: str) -> int:
    return (n - k) // s + 1 if padding == "valid" else math.ceil(n / s)


def layer_shapes(spec: dict) -> List[tuple]:
    """The input shape and each layer's output: (C, H, W) for images,
    (features,) after a Flatten, a Dense or a global pooling."""
    out = [(spec["in_c"], spec["in_h"], spec["in_w"])]
    for i, l in enumerate(spec["layers"]):
        src = l.get("inputs", [i - 1])
        shape = out[src[0] + 1]
        t = l["type"]
        if t == "Conv2D" or t.endswith("Pooling2D"):
            c = l["filters"] if t == "Conv2D" else shape[0]
            shape = (c, _out_size(shape[1], l["kh"], l["sh"], l["padding"]),
                     _out_size(shape[2], l["kw"], l["sw"], l["padding"]))
        elif t == "Flatten":
            shape = (int(math.prod(shape)),)
        elif t == "Dense":
            shape = (l["units"],)
        elif t == "GlobalAveragePooling2D":
            shape = (shape[0],)
        elif t == "Concatenate":
            shape = (sum(out[j + 1][0] for j in src),) + shape[1:]
        out.append(shape)
    return out
