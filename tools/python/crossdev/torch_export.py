"""A PyTorch module as a crossdev model file (crossdev.torch.export).

    from crossdev.torch import export
    model = Net()                                   # your nn.Module, its own initial weights
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    export(model, torch.zeros(1, 1, 28, 28), opt, "net.xdmodel")
    # crossdev-compare run --model net.xdmodel   trains it with PyTorch's semantics

The module is traced with torch.fx; its graph may hold Conv2d, BatchNorm2d,
ReLU (the module, F.relu, torch.relu, x.relu()), MaxPool2d, AvgPool2d,
AdaptiveAvgPool2d(1), Flatten (the module, torch.flatten(x, 1),
x.flatten(1)), Linear, Dropout and additions of two tensors (x + y,
operator.add, torch.add); the loss is nn.CrossEntropyLoss on its output
(logits, mean over the batch) and the optimizer torch.optim.SGD or Adam.
Anything else is refused with ExportError naming the module (its
qualified name) or the call and the option.

The file (docs/models.md) is a zip archive: `crossdev-model.json`
({"format": "crossdev-model", "version": 1, "framework": "pytorch",
"producer": {...}, "model_spec": crossdev's spec, as a trace's
`model_spec`}) and one `<name>.npy` (float32, little-endian, C order) per
state_dict entry crossdev trains (num_batches_tracked aside), in the
module's own names and layouts: crossdev's layouts are PyTorch's (conv
OIHW, Linear [out, in], flatten in (C, H, W) order).  numpy reads the
weights as an .npz: np.load(FILE)["fc.weight"].
"""
import io
import json
import operator
import os
import zipfile
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp

from . import __version__

__all__ = ["export", "ExportError", "FORMAT", "MANIFEST"]

FORMAT = "crossdev-model"
MANIFEST = "crossdev-model.json"
NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")
MAX_LAYERS = 128
SUPPORTED = ("Conv2d, BatchNorm2d, ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d(1), Flatten, Linear, Dropout, "
             "additions of two tensors")


class ExportError(ValueError):
    """A module, call or option crossdev does not train (the message names it)."""


def _init(kind="Zeros"):
    return {"kind": kind, "a": 0.0, "b": 0.0}


def _layer(kind: str, name: str) -> dict:
    """Every field of crossdev's layer spec (host/spec/spec_json.c), unused ones zero."""
    return {"type": kind, "name": name, "filters": 0, "units": 0, "kh": 0, "kw": 0, "sh": 0, "sw": 0,
            "padding": "valid", "activation": "linear", "use_bias": False, "kernel_init": _init(),
            "bias_init": _init(), "rate": 0.0, "momentum": 0.0, "epsilon": 0.0, "center": False, "scale": False,
            "gamma_init": _init(), "beta_init": _init(), "moving_mean_init": _init(), "moving_variance_init": _init()}


def _pair(v) -> Tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _refuse(where: str, what: str):
    raise ExportError(f"{where}: {what} (crossdev trains {SUPPORTED})")


def _window(l: dict, where: str, kernel, stride, padding) -> dict:
    """kh, kw, strides and padding ("valid" or "explicit" with pads) of a window layer."""
    (kh, kw), (sh, sw) = _pair(kernel), _pair(stride)
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same" and (sh, sw) == (1, 1):  # PyTorch's: the odd one after
            padding = None
        else:
            _refuse(where, f"padding={padding!r} (int, pair, 'valid', or 'same' with stride 1)")
    if padding is None:
        pads = [(kh - 1) // 2, kh - 1 - (kh - 1) // 2, (kw - 1) // 2, kw - 1 - (kw - 1) // 2]
    else:
        ph, pw = _pair(padding)
        pads = [ph, ph, pw, pw]
    if any(p >= k for p, k in zip(pads, (kh, kh, kw, kw))):
        _refuse(where, f"padding {pads} as large as the kernel {kh}x{kw} (crossdev: smaller than the kernel)")
    l.update(kh=kh, kw=kw, sh=sh, sw=sw)
    if any(pads):
        l.update(padding="explicit", pads=pads)
    return l


def _conv(m: nn.Conv2d, name: str, where: str) -> dict:
    if m.groups != 1:
        _refuse(where, f"groups={m.groups} (only 1)")
    if _pair(m.dilation) != (1, 1):
        _refuse(where, f"dilation={m.dilation} (only 1)")
    if m.padding_mode != "zeros":
        _refuse(where, f"padding_mode={m.padding_mode!r} (only 'zeros')")
    l = _layer("Conv2D", name)
    l.update(filters=m.out_channels, use_bias=m.bias is not None)
    return _window(l, where, m.kernel_size, m.stride, m.padding)


def _batchnorm(m: nn.BatchNorm2d, name: str, where: str) -> dict:
    if not m.track_running_stats:
        _refuse(where, "track_running_stats=False (crossdev evaluates with the running statistics)")
    if m.momentum is None:
        _refuse(where, "momentum=None (the cumulative average; give a number, PyTorch's default 0.1)")
    l = _layer("BatchNormalization", name)
    l.update(momentum=float(m.momentum), epsilon=float(m.eps), center=bool(m.affine), scale=bool(m.affine),
             batchnorm="pytorch")
    return l


def _pool(m, name: str, where: str) -> dict:
    if m.ceil_mode:
        _refuse(where, "ceil_mode=True (only floor mode)")
    stride = m.stride if m.stride is not None else m.kernel_size
    if isinstance(m, nn.MaxPool2d):
        if _pair(m.dilation) != (1, 1):
            _refuse(where, f"dilation={m.dilation} (only 1)")
        if m.return_indices:
            _refuse(where, "return_indices=True")
        return _window(_layer("MaxPooling2D", name), where, m.kernel_size, stride, m.padding)
    if m.divisor_override is not None:
        _refuse(where, f"divisor_override={m.divisor_override}")
    if m.count_include_pad and any(_pair(m.padding)):
        _refuse(where, "count_include_pad=True with padding (crossdev averages over the taps inside the input: "
                       "give count_include_pad=False, or no padding)")
    return _window(_layer("AveragePooling2D", name), where, m.kernel_size, stride, m.padding)


def _module_layer(m: nn.Module, name: str, where: str, in_shape) -> dict:
    if type(m) is nn.Conv2d:
        return _conv(m, name, where)
    if type(m) is nn.BatchNorm2d:
        return _batchnorm(m, name, where)
    if type(m) in (nn.MaxPool2d, nn.AvgPool2d):
        return _pool(m, name, where)
    if type(m) is nn.ReLU:
        return dict(_layer("Activation", name), activation="relu")
    if type(m) is nn.AdaptiveAvgPool2d:
        if _pair(m.output_size) != (1, 1):
            _refuse(where, f"output_size={m.output_size} (only 1 or (1, 1): global average pooling)")
        return _layer("GlobalAveragePooling2D", name)
    if type(m) is nn.Flatten:
        if m.start_dim != 1 or m.end_dim != -1:
            _refuse(where, f"start_dim={m.start_dim}, end_dim={m.end_dim} (only 1 and -1)")
        return _layer("Flatten", name)
    if type(m) is nn.Linear:
        if in_shape is not None and len(in_shape) != 2:
            _refuse(where, f"input of shape {tuple(in_shape)} (Linear on (N, features) only: flatten first)")
        return dict(_layer("Dense", name), units=m.out_features, use_bias=m.bias is not None)
    if type(m) is nn.Dropout:
        return dict(_layer("Dropout", name), rate=float(m.p))
    _refuse(where, f"module class {type(m).__module__}.{type(m).__name__} is not supported")


def _args_ok(node, nargs: int, kwargs=()) -> bool:
    return len(node.args) == nargs and set(node.kwargs) <= set(kwargs)


def _flatten_args(node) -> bool:
    """flatten(x, 1) or flatten(x, 1, -1) (torch.flatten's start_dim defaults to 0)."""
    args, kw = list(node.args[1:]), dict(node.kwargs)
    if len(args) > 2 or set(kw) - {"start_dim", "end_dim"}:
        return False
    start = args[0] if args else kw.get("start_dim", 0)
    end = args[1] if len(args) > 1 else kw.get("end_dim", -1)
    return start == 1 and end == -1


def _call_layer(node, name: str) -> dict:
    """A function or method call of the graph: relu, flatten(x, 1), x + y."""
    f = node.target
    fname = f if isinstance(f, str) else f"{getattr(f, '__module__', '')}.{getattr(f, '__name__', f)}"
    where = f"call {node.name} ({fname}{'()' if node.op == 'call_function' else ' method'})"
    if f in (F.relu, torch.relu, "relu") and _args_ok(node, 1, ("inplace",)):
        return dict(_layer("Activation", name), activation="relu")
    if f in (torch.flatten, "flatten") and _flatten_args(node):
        return _layer("Flatten", name)
    if f in (operator.add, operator.iadd, torch.add, "add") and len(node.args) == 2 and not node.kwargs:
        if all(isinstance(a, torch.fx.Node) for a in node.args):
            return _layer("Add", name)
        _refuse(where, "an addition of a number (only of two tensors)")
    _refuse(where, f"{fname} is not supported (or not with these arguments)")


class _Graph:
    """The traced graph as crossdev layers: one per node, in graph order."""

    def __init__(self, gm: torch.fx.GraphModule):
        self.gm, self.layers, self.index, self.used = gm, [], {}, set()

    def _name(self, node) -> str:
        """The module's qualified name; a parameterless module called again,
        or a function, gets its fx node name (relu_1, add)."""
        name = node.target if node.op == "call_module" and node.target not in self.used else node.name
        if name in self.used or not name or len(name) > 63 or set(name) - NAME_CHARS:
            _refuse(f"node {node.name}", f"the name {name!r} is not unique or not 1..63 of A-Z a-z 0-9 _ - .")
        self.used.add(name)
        return name

    def add(self, node) -> None:
        inputs = [a for a in node.args if isinstance(a, torch.fx.Node)]
        in_shape = getattr(inputs[0].meta.get("tensor_meta"), "shape", None) if inputs else None
        if node.op == "call_module":
            m = self.gm.get_submodule(node.target)
            if any(True for _ in m.parameters(recurse=False)) and node.target in self.used:
                _refuse(f"module {node.target}", "called twice (its weights shared; crossdev gives each layer its own)")
            layer = _module_layer(m, self._name(node), f"module {node.target} ({type(m).__name__})", in_shape)
        elif node.op in ("call_function", "call_method"):
            layer = _call_layer(node, self._name(node))
        else:
            _refuse(f"node {node.name}", f"a graph node of kind {node.op} ({node.target})")
        i = len(self.layers)
        src = [self.index[a] for a in inputs]
        if len(src) != (2 if layer["type"] == "Add" else 1):
            _refuse(f"node {node.name}", "reads values that are not tensors of the graph")
        if src != [i - 1]:
            layer["inputs"] = src
        self.index[node] = i
        self.layers.append(layer)


def _spec_layers(model: nn.Module, example_input: torch.Tensor) -> Tuple[List[dict], int]:
    gm = torch.fx.symbolic_trace(model)
    was = model.training
    try:
        gm.eval()
        ShapeProp(gm).propagate(example_input)
    finally:
        gm.train(was)
    g, out = _Graph(gm), None
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if g.index:
                _refuse(f"input {node.name}", "a second input (crossdev models take one image batch)")
            g.index[node] = -1
        elif node.op == "output":
            out = node.args[0]
        else:
            g.add(node)
    if not isinstance(out, torch.fx.Node) or g.index.get(out) != len(g.layers) - 1 or not g.layers:
        _refuse("output", "the model's output is not its last layer's one tensor")
    shape = tuple(out.meta["tensor_meta"].shape)
    if len(shape) != 2:
        _refuse("output", f"shape {shape} (logits (N, classes) for nn.CrossEntropyLoss)")
    if len(g.layers) > MAX_LAYERS:
        _refuse("model", f"{len(g.layers)} layers (crossdev: at most {MAX_LAYERS})")
    return g.layers, int(shape[1])


def _optimizer(opt: torch.optim.Optimizer, model: nn.Module) -> dict:
    where = f"optimizer {type(opt).__name__}"
    if len(opt.param_groups) != 1:
        _refuse(where, f"{len(opt.param_groups)} parameter groups (only one)")
    g = opt.param_groups[0]
    if {id(p) for p in g["params"]} != {id(p) for p in model.parameters()}:
        _refuse(where, "its parameters are not exactly the model's")
    for key in ("weight_decay", "dampening"):
        if g.get(key):
            _refuse(where, f"{key}={g[key]} (only 0)")
    for key in ("maximize", "amsgrad", "foreach", "capturable", "differentiable", "fused"):
        if g.get(key):
            _refuse(where, f"{key}=True")
    rec = {"lr": float(g["lr"]), "beta1": 0.0, "beta2": 0.0, "eps": 0.0, "momentum": 0.0, "nesterov": False}
    if type(opt) is torch.optim.Adam:
        rec.update(kind="adam-pytorch", beta1=float(g["betas"][0]), beta2=float(g["betas"][1]), eps=float(g["eps"]))
    elif type(opt) is torch.optim.SGD:
        rec.update(kind="sgd-pytorch", momentum=float(g["momentum"]), nesterov=bool(g["nesterov"]))
    else:
        raise ExportError(f"{where}: not supported (crossdev trains torch.optim.SGD and torch.optim.Adam)")
    if any(opt.state.values()):
        _refuse(where, "it has stepped already (crossdev starts from a fresh optimizer state)")
    return rec


def _weights(model: nn.Module, layers: List[dict]) -> Dict[str, np.ndarray]:
    """The state_dict entries of the spec's layers, as float32 arrays."""
    sd, out = model.state_dict(), {}
    keys = {"Conv2D": ("weight", "bias"), "Dense": ("weight", "bias"),
            "BatchNormalization": ("weight", "bias", "running_mean", "running_var")}
    for l in layers:
        for k in keys.get(l["type"], ()):
            if f"{l['name']}.{k}" in sd:
                out[f"{l['name']}.{k}"] = sd[f"{l['name']}.{k}"].detach().cpu().to(torch.float32).contiguous().numpy()
    return out


def model_spec(model: nn.Module, example_input: torch.Tensor, optimizer: torch.optim.Optimizer,
               name: Optional[str] = None) -> dict:
    """crossdev's spec of the module (a trace's `model_spec`)."""
    if example_input.dim() != 4:
        raise ExportError(f"example_input: shape {tuple(example_input.shape)} (an image batch (N, C, H, W))")
    layers, classes = _spec_layers(model, example_input)
    name = name or type(model).__name__
    if not name or len(name) > 63 or set(name) - NAME_CHARS:
        raise ExportError(f"name {name!r}: not 1..63 of A-Z a-z 0-9 _ - . (give export(..., name=...))")
    _, c, h, w = (int(d) for d in example_input.shape)
    return {"name": name, "source": "crossdev.torch.export", "in_h": h, "in_w": w, "in_c": c, "classes": classes,
            "layers": layers, "loss": {"from_logits": True}, "has_optimizer": True,
            "optimizer": _optimizer(optimizer, model)}


def export(model: nn.Module, example_input: torch.Tensor, optimizer: torch.optim.Optimizer, out: str, *,
           name: Optional[str] = None) -> dict:
    """Writes the module, its current weights and the optimizer's settings
    as a crossdev model file at `out` (the loss: nn.CrossEntropyLoss on the
    logits); returns the spec.  ExportError names what is not supported."""
    spec = model_spec(model, example_input, optimizer, name)
    manifest = {"format": FORMAT, "version": 1, "framework": "pytorch",
                "producer": {"crossdev": __version__, "torch": torch.__version__}, "model_spec": spec}
    tmp = f"{out}.tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(MANIFEST, json.dumps(manifest, indent=2))
        for key, arr in _weights(model, spec["layers"]).items():
            buf = io.BytesIO()
            np.save(buf, arr.astype("<f4"), allow_pickle=False)
            z.writestr(f"{key}.npy", buf.getvalue())
    os.replace(tmp, out)
    return spec
