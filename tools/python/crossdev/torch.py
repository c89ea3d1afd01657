"""PyTorch runs as crossdev traces (imports torch).

Record your own training loop:

    from crossdev.torch import Recorder
    torch.manual_seed(1)
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with Recorder(model, opt, "run-a", seed=1, batch_size=32, data_name="fashion-mnist") as rec:
        for idx in batches:                     # idx: the batch's training-set indices
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            rec.step(loss, idx, batch=(x[idx], y[idx]))  # what it trained on (batch_hashes)
    # published as run-a/ when the block ends; an exception publishes nothing

Then `crossdev-compare diff run-a run-b` says where two runs part.  Each
step records the loss, the hash of every parameter and optimizer state
tensor (Adam's exp_avg / exp_avg_sq as ".m" / ".v", SGD's momentum buffer
as ".m"), snapshots on crossdev's schedule and, with hash_ops, the hash of
every module's output ("<module path>.forward"), of the gradient it hands
back ("<module path>.backward_data", from register_full_backward_hook)
and, after backward, of each parameter's gradient
("<module path>.backward_weights", ".backward_bias"), so that diff names
the first op where the runs part.  Tensor names are state_dict keys; conv
and linear weights are in crossdev's layouts already (OIHW, [out, in]).

Your module as a crossdev model (crossdev.torch.export, in torch_export.py):
export(model, example_input, optimizer, "net.xdmodel"), then
`crossdev-compare run --model net.xdmodel`.

Also: the model of a crossdev trace's spec with Keras's semantics
(SpecNet), the optimizer of a trace (torch_optimizer), and what a PyTorch
run is made of (producer()).
"""
import math
import os
import platform
import re
import weakref
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from . import __version__
from .host import cpu_name, slug
from .seeding import seeding_record
from .philox import dropout_keep, dropout_scale
from .trace import Publishing, TraceWriter, gradient_op, optimizer_record, require_form

from .torch_export import ExportError, export  # noqa: E402  (a module as a crossdev model file)

__all__ = ["Recorder", "SpecNet", "torch_optimizer", "keras_loss", "producer", "device_record", "to_numpy", "export",
           "ExportError"]

# ---- what a PyTorch run is made of ----------------------------------------------------------
def _parallel_backend() -> str:
    m = re.search(r"ATen parallel backend: (.*)", torch.__config__.parallel_info())
    return m.group(1).strip() if m else ""


def _cuda_info(device: Optional[torch.device]) -> dict:
    if not torch.cuda.is_available():
        return {}
    i = device.index if device is not None and device.type == "cuda" and device.index is not None else 0
    major, minor = torch.cuda.get_device_capability(i)
    info = {"cuda_device": torch.cuda.get_device_name(i), "cuda_capability": f"{major}.{minor}",
            "cuda_runtime": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
            "cudnn_enabled": torch.backends.cudnn.enabled, "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32,
            "fp16_reduced_precision_reduction": torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction,
            "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG", "")}
    driver = getattr(torch._C, "_cuda_getDriverVersion", None)
    if driver is not None:
        v = driver()
        info["cuda_driver"] = f"{v // 1000}.{v % 1000 // 10}"
    return info


def producer(device=None, recorder: str = "crossdev.torch.Recorder") -> dict:
    """trace.json's `producer` for a PyTorch run: framework, versions,
    device, and every setting that decides its numbers."""
    device = torch.device(device) if device is not None else None
    p = {"framework": "pytorch", "framework_version": torch.__version__,
         "git_version": getattr(torch.version, "git_version", ""),
         "device": str(device) if device is not None else "", "cpu": cpu_name(),
         "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
         "parallel_backend": _parallel_backend(), "mkldnn_enabled": torch.backends.mkldnn.enabled,
         "mkl_available": torch.backends.mkl.is_available(),
         "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
         "deterministic_warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
         "float32_matmul_precision": torch.get_float32_matmul_precision(),
         "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
         "initial_seed": str(torch.initial_seed())}  # up to 2^64 - 1: more than a JSON integer of jansson's
    p.update(_cuda_info(device))
    p.update({"seeding": seeding_record(), "python": platform.python_version(), "numpy": np.__version__,
              "crossdev_package": __version__, "recorder": recorder})
    return p


def device_record(prod: dict) -> dict:
    """trace.json's `device`: id pytorch/cpu-N-threads or pytorch/cuda-<name>."""
    if prod.get("device", "").startswith("cuda"):
        name = prod.get("cuda_device", "cuda")
        return {"id": "pytorch/cuda-" + slug(name), "name": name, "type": "gpu", "driver": prod.get("cuda_driver", ""),
                "platform": f"PyTorch {prod['framework_version']}, CUDA {prod.get('cuda_runtime')}, "
                            f"cuDNN {prod.get('cudnn')}"}
    return {"id": f"pytorch/cpu-{prod['threads']}-threads", "name": prod["cpu"], "type": "cpu",
            "driver": f"torch {prod['framework_version']}",
            "platform": f"PyTorch {prod['framework_version']} ({prod['parallel_backend']})"}


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A tensor's values as float32 in host memory (its bytes are what is hashed)."""
    return t.detach().to(dtype=torch.float32, device="cpu").contiguous().numpy()


# ---- optimizers -----------------------------------------------------------------------------------
def optimizer_form(opt: torch.optim.Optimizer) -> dict:
    """trace.json's `optimizer`: crossdev's adam-pytorch / sgd-pytorch
    record for plain Adam and SGD; for any other optimizer its class and
    scalar settings (its traces compare with its own kind only)."""
    g = opt.param_groups[0]
    if type(opt) is torch.optim.Adam and not g.get("amsgrad") and not g.get("weight_decay"):
        return optimizer_record("adam-pytorch", lr=g["lr"], beta1=g["betas"][0], beta2=g["betas"][1], eps=g["eps"])
    if type(opt) is torch.optim.SGD and not g.get("dampening") and not g.get("weight_decay"):
        return optimizer_record("sgd-pytorch", lr=g["lr"], momentum=g["momentum"], nesterov=g["nesterov"])
    rec = {"name": type(opt).__name__.lower(), "variant": "pytorch"}
    for k, v in g.items():
        if isinstance(v, bool):
            rec[k] = v
        elif isinstance(v, (int, float)):
            rec[k] = float(v)
        elif isinstance(v, tuple) and all(isinstance(x, (int, float)) for x in v):
            rec.update({f"{k}{i + 1}": float(x) for i, x in enumerate(v)})
    return rec


def torch_optimizer(record: dict, params) -> torch.optim.Optimizer:
    """PyTorch's optimizer for a trace's `optimizer`; Keras's forms, which
    PyTorch does not have, are refused."""
    require_form(record, "pytorch", "PyTorch")
    if record["name"] == "adam":
        return torch.optim.Adam(params, lr=record["lr"], betas=(record["beta1"], record["beta2"]), eps=record["eps"])
    return torch.optim.SGD(params, lr=record["lr"], momentum=record["momentum"], nesterov=record["nesterov"])


# ---- a crossdev spec as a PyTorch model, with Keras's semantics --------------------------------------
def _same_padding(n: int, k: int, s: int) -> Tuple[int, int]:
    """Keras's (TensorFlow's) "same": the extra row or column goes after."""
    out = math.ceil(n / s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _activation(x: torch.Tensor, name: str) -> torch.Tensor:
    if name == "relu":
        return F.relu(x)
    if name == "softmax":
        return F.softmax(x, dim=1)
    return x


class _Layer(torch.nn.Module):
    """One layer of a spec: its parameters under crossdev's names."""

    def __init__(self, spec: dict, index: int, in_shape: tuple, net):
        super().__init__()
        self.spec, self.index, self.in_shape = spec, index, in_shape
        self._net = weakref.ref(net)  # the step and seed of the dropout masks
        t = spec["type"]
        if t in ("Conv2D", "Dense"):
            fan_in = in_shape[0]
            shape = (spec["filters"], fan_in, spec["kh"], spec["kw"]) if t == "Conv2D" else (spec["units"], fan_in)
            self.weight = torch.nn.Parameter(torch.zeros(shape))
            if spec["use_bias"]:
                self.bias = torch.nn.Parameter(torch.zeros(shape[0]))
        elif t == "BatchNormalization":
            c = in_shape[0]
            if spec["scale"]:
                self.gamma = torch.nn.Parameter(torch.ones(c))
            if spec["center"]:
                self.beta = torch.nn.Parameter(torch.zeros(c))
            self.register_buffer("moving_mean", torch.zeros(c))
            self.register_buffer("moving_variance", torch.ones(c))

    def _pad(self, x, value=0.0):
        s = self.spec
        if s["padding"] != "same":
            return x
        top, bottom = _same_padding(x.shape[2], s["kh"], s["sh"])
        left, right = _same_padding(x.shape[3], s["kw"], s["sw"])
        return F.pad(x, (left, right, top, bottom), value=value)

    def forward(self, x):
        s, t = self.spec, self.spec["type"]
        if t == "Conv2D":
            y = F.conv2d(self._pad(x), self.weight, getattr(self, "bias", None), stride=(s["sh"], s["sw"]))
            return _activation(y, s["activation"])
        if t == "MaxPooling2D":
            return F.max_pool2d(self._pad(x, -math.inf), (s["kh"], s["kw"]), (s["sh"], s["sw"]))
        if t == "AveragePooling2D":
            return self._average(x)
        if t == "Flatten":
            return x.flatten(1)  # NCHW memory: (C, H, W) order, crossdev's
        if t == "Dense":
            return _activation(F.linear(x, self.weight, getattr(self, "bias", None)), s["activation"])
        if t == "Dropout":
            return self._dropout(x)
        if t == "Activation":
            return _activation(x, s["activation"])
        return self._batchnorm(x)

    def _average(self, x):
        """Keras's average over the taps inside the image only."""
        s = self.spec
        k, st = (s["kh"], s["kw"]), (s["sh"], s["sw"])
        if s["padding"] != "same":
            return F.avg_pool2d(x, k, st)
        total = F.avg_pool2d(self._pad(x), k, st, divisor_override=1)
        count = F.avg_pool2d(self._pad(torch.ones_like(x[:1, :1])), k, st, divisor_override=1)
        return total / count

    def _dropout(self, x):
        """crossdev's mask (Philox, keyed by seed, layer and step) in
        Keras's formula select(mask, x / keep, 0); nothing at evaluation."""
        net = self._net()
        if not self.training or self.spec["rate"] == 0:
            return x
        keep = dropout_keep(net.seed, self.index, net.step, x.numel(), self.spec["rate"])
        mask = torch.from_numpy(keep.reshape(tuple(x.shape))).to(x.device)
        return torch.where(mask, x / float(dropout_scale(self.spec["rate"])), torch.zeros_like(x))

    def _batchnorm(self, x):
        """Keras's BatchNormalization: batch statistics (biased variance) in
        training, moving ones at evaluation; moving = moving*momentum +
        batch*(1 - momentum)."""
        s = self.spec
        axes = (0, 2, 3) if x.dim() == 4 else (0,)
        view = (1, -1, 1, 1) if x.dim() == 4 else (1, -1)
        if self.training:
            mean = x.mean(dim=axes)
            var = ((x - mean.view(view)) ** 2).mean(dim=axes)
            with torch.no_grad():
                m = s["momentum"]
                self.moving_mean.copy_(self.moving_mean * m + mean * (1 - m))
                self.moving_variance.copy_(self.moving_variance * m + var * (1 - m))
        else:
            mean, var = self.moving_mean, self.moving_variance
        inv = torch.rsqrt(var + s["epsilon"])
        if hasattr(self, "gamma"):
            inv = inv * self.gamma
        y = (x - mean.view(view)) * inv.view(view)
        return y + self.beta.view(view) if hasattr(self, "beta") else y


class SpecNet(torch.nn.Module):
    """The model of a crossdev spec (seed-cnn, mnist-convnet, a Keras
    model's spec) with Keras's semantics: "same" padding as Keras pads,
    Keras's BatchNormalization, crossdev's dropout masks.  Inputs NCHW.
    Its modules are the spec's layers; names() maps state_dict keys to
    crossdev's tensor names.  Set `step` (1-based) before each training
    forward: it keys the dropout masks."""

    def __init__(self, spec: dict, seed: int = 0):
        super().__init__()
        from .spec import layer_shapes
        self.seed, self.step = int(seed), 1
        shapes = layer_shapes(spec)
        self.layer_names = []  # (module name, the spec's layer name)
        for i, l in enumerate(spec["layers"]):
            key = re.sub(r"[^A-Za-z0-9_]", "_", l["name"])
            self.add_module(key, _Layer(l, i, shapes[i], self))
            self.layer_names.append((key, l["name"]))

    def forward(self, x):
        for key, _ in self.layer_names:
            x = getattr(self, key)(x)
        return x

    def names(self) -> Dict[str, str]:
        """{state_dict key: crossdev name}: the same but where a layer's name
        is not a Python identifier ("dense.1.weight" -> module dense_1)."""
        out = {}
        for key, name in self.layer_names:
            for k in getattr(self, key).state_dict():
                out[f"{key}.{k}"] = f"{name}.{k}"
        return out

    def load_crossdev(self, snapshot) -> None:
        """Parameters and moving statistics from {crossdev name: array}."""
        sd = self.state_dict()
        for key, name in self.names().items():
            sd[key].copy_(torch.from_numpy(np.asarray(snapshot[name], np.float32)).reshape(sd[key].shape))


def keras_loss(spec: dict):
    """The spec's SparseCategoricalCrossentropy, as Keras computes it: from
    logits, or from probabilities normalised by their sum and clipped to
    [1e-7, 1 - 1e-7]; the mean over the batch."""
    if spec["loss"]["from_logits"]:
        return F.cross_entropy

    def from_probabilities(p, y):
        p = p / p.sum(dim=1, keepdim=True)
        p = p.clamp(1e-7, 1 - 1e-7)
        return -torch.log(p.gather(1, y.view(-1, 1).long())).mean()
    return from_probabilities


# ---- the recorder -------------------------------------------------------------------------------------
class _OpHooks:
    """Module hooks that hash every module's output and the gradient it
    hands back, in execution order, while the model trains."""

    def __init__(self, model: torch.nn.Module):
        self.row: List[Tuple[str, int]] = []
        self.handles = []
        for path, m in model.named_modules():
            if path == "" or any(True for _ in m.children()):
                continue  # leaves only: a container's output is its last child's
            self.handles.append(m.register_forward_hook(self._forward(path)))
            if not getattr(m, "inplace", False):  # full backward hooks refuse in-place modules
                self.handles.append(m.register_full_backward_hook(self._backward(path)))

    def _forward(self, path):
        def hook(module, inputs, output):
            if module.training and torch.is_grad_enabled() and isinstance(output, torch.Tensor):
                self.row.append((path + ".forward", to_numpy(output)))
        return hook

    def _backward(self, path):
        def hook(module, grad_input, grad_output):
            if grad_input and isinstance(grad_input[0], torch.Tensor):
                self.row.append((path + ".backward_data", to_numpy(grad_input[0])))
        return hook

    def take(self) -> List[Tuple[str, object]]:
        row, self.row = self.row, []
        return row

    def remove(self):
        for h in self.handles:
            h.remove()


class Recorder(Publishing):
    """A crossdev trace of the user's own PyTorch loop (see the module's doc).

    After optimizer.step(), rec.step(loss, indices) records the step.  The
    state before the first step is recorded when the Recorder is made.
    close() (or leaving a `with` block) publishes out_dir.  Optional:
    snapshot_every / snapshot_at as crossdev-compare run's options;
    total_steps (the schedule then matches crossdev's exactly); names
    {state_dict key: trace name}; data (more of trace.json's `data`);
    model_name, model_spec; device (default: the parameters').
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, out_dir: str, *, seed: int,
                 batch_size: int, data_name: str, snapshot_every: Optional[int] = None, hash_ops: bool = True,
                 snapshot_at: Optional[Sequence[int]] = None, total_steps: Optional[int] = None,
                 names: Optional[Dict[str, str]] = None, data: Optional[dict] = None,
                 model_name: Optional[str] = None, model_spec=None, device=None, training: Optional[dict] = None,
                 recorder: str = "crossdev.torch.Recorder"):
        self.model, self.optimizer = model, optimizer
        self.entries = self._entries(names or {})
        device = device if device is not None else next(model.parameters()).device
        prod = producer(device, recorder)
        self.hooks = _OpHooks(model) if hash_ops else None
        spec = model_spec if model_spec is not None else {"name": model_name or type(model).__name__,
                                                           "source": "torch.nn.Module", "repr": str(model)}
        self.writer = TraceWriter(
            out_dir, model=model_name or type(model).__name__, model_spec=spec, seed=seed, batch=batch_size,
            tensors=[n for n, _, _ in self.entries], optimizer=optimizer_form(optimizer),
            data={"name": data_name, "synthetic": False, **(data or {})}, device=device_record(prod), producer=prod,
            layout=self._layout(), training=training,
            guarantee="none: a framework's run (its determinism settings: producer)", total_steps=total_steps,
            snapshot_every=snapshot_every or 0, snapshot_at=snapshot_at, op_hashes=hash_ops)
        self._finalizer = weakref.finalize(self, self.writer.abort)
        self.writer.init(self.state())

    def _entries(self, names: Dict[str, str]) -> List[Tuple[str, object, Optional[str]]]:
        """(trace name, tensor, optimizer slot or None) in trace order: each
        floating state_dict entry, a parameter followed by its slots."""
        slots = self._slot_names()
        out = []
        for key, t in self.model.state_dict(keep_vars=True).items():
            if not torch.is_floating_point(t):
                continue  # BatchNorm's num_batches_tracked: a counter, not state
            name = names.get(key, key)
            out.append((name, t, None))
            if isinstance(t, torch.nn.Parameter):
                out += [(name + suffix, t, slot) for slot, suffix in slots]
        return out

    def _slot_names(self) -> List[Tuple[str, str]]:
        """The optimizer's per-parameter state tensors and their suffixes:
        Adam's (and AdamW's) moments, SGD's momentum buffer; other
        optimizers' state is not recorded (their parameters are)."""
        opt, g = self.optimizer, self.optimizer.param_groups[0]
        if isinstance(opt, (torch.optim.Adam, torch.optim.AdamW)):
            amsgrad = [("max_exp_avg_sq", ".vmax")] if g.get("amsgrad") else []
            return [("exp_avg", ".m"), ("exp_avg_sq", ".v")] + amsgrad
        if isinstance(opt, torch.optim.SGD) and g["momentum"]:
            return [("momentum_buffer", ".m")]
        return []

    def _layout(self) -> dict:
        out = {"input": "NCHW"}
        for path, m in self.model.named_modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                out[(path + "." if path else "") + "weight"] = "OIHW" if isinstance(m, torch.nn.Conv2d) else "OI"
        out.update({"flatten": "CHW", "npy": "<f4 C-order"})
        return out

    def state(self) -> Dict[str, np.ndarray]:
        """{trace name: float32 array} now; optimizer state not yet made is zeros."""
        out = {}
        for name, t, slot in self.entries:
            if slot is None:
                out[name] = to_numpy(t)
                continue
            s = self.optimizer.state.get(t, {}).get(slot)
            out[name] = to_numpy(s) if isinstance(s, torch.Tensor) else np.zeros(tuple(t.shape), np.float32)
        return out

    def _gradients(self) -> List[Tuple[str, object]]:
        ops = []
        for path, m in self.model.named_modules():
            for pname, p in m.named_parameters(recurse=False):
                if p.grad is not None:
                    ops.append((gradient_op(path, pname), to_numpy(p.grad)))
        return ops

    def step(self, loss, indices=None, batch=None) -> int:
        """Records the step just taken (call after optimizer.step()): the
        loss (a tensor or number: the batch's mean, before the update),
        the batch's training-set indices, the state, the op hashes, and
        batch = (inputs, labels), what it trained on (images NCHW as
        PyTorch holds them: hashed as trace.json's batch_hashes, so that
        diff says "same batches" or where they differ even when a
        DataLoader shuffles; give it at every step or at none)."""
        ops = self.hooks.take() + self._gradients() if self.hooks else None
        value = float(loss.detach().float().cpu()) if isinstance(loss, torch.Tensor) else float(loss)
        if isinstance(indices, torch.Tensor):
            indices = indices.detach().cpu().numpy()
        if batch is not None:
            batch = tuple(t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
                          for t in batch[:2]) + ("NCHW",)
        return self.writer.step(value, self.state(), indices, ops=ops, batch=batch)

    def close(self, final_eval: Optional[dict] = None) -> str:
        """Publishes the trace; final_eval: {step, loss, accuracy, n} if evaluated."""
        if self.hooks:
            self.hooks.remove()
        self._finalizer.detach()
        return self.writer.close(final_eval=final_eval)

    def abort(self) -> None:
        if self.hooks:
            self.hooks.remove()
        self._finalizer.detach()
        self.writer.abort()
