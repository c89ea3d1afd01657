"""What a Keras training step computed, seen from inside it, on every
backend (used by crossdev.keras.TraceCallback).

Keras's callbacks see neither the batches nor the layers' outputs: the
step runs compiled (a tf.function on TensorFlow, jax.jit on JAX).  A Tap
wraps, on the model's own instances, the methods that step calls:

- `model.train_step`: the batch it trained on, hashed as trace.json's
  batch_hashes (crossdev.hashing.batch_hash: inputs float32 NHWC, then the
  labels), with its training-set indices where the training arrays are
  known (SampleIndex: each sample looked up by its content);
- each layer's `call` (with ops): the layer's output, hashed in crossdev's
  layout (NCHW, features after a Flatten in (C, H, W) order) under the op
  name crossdev gives it (`conv2d.activation` for a Conv2D with an
  activation, `conv2d.forward` without, `batch_normalization.forward`);
- the optimizer's `apply` / `stateless_apply` (with ops): each weight
  gradient, in crossdev's layout, as `dense.backward_weights`,
  `dense.backward_bias` (`.backward_gamma`, `.backward_beta` for
  BatchNormalization).

The values leave the compiled step through the backend's own host callback
(tf.numpy_function, jax.debug.callback; plain calls on torch) only while
train_step is traced or run, so evaluation and prediction are untouched;
they only read tensors the step computes anyway.  remove() restores every
method and drops the compiled step, so a later fit traces it afresh.
TensorFlow under XLA (jit_compile=True) cannot call back into Python
from the step: there nothing is tapped (no batch contents, no op hashes)
and the Tap says so once.
"""
import sys
import threading
from typing import Dict, List, Optional, Tuple

import keras
import numpy as np

from .hashing import batch_hash, batch_labels, tensor_hash
from .layout import Mapping, features_to_crossdev, flatten_sources, variable_suffixes
from .trace import gradient_op

__all__ = ["Tap", "SampleIndex", "op_plan"]

TRAINED = ("weight", "bias", "gamma", "beta")  # the variable suffixes that get gradients


class SampleIndex:
    """Training-set indices of samples found by content: each sample's
    batch_hash as a batch of one; a sample that occurs twice
    keeps its first index (the two train alike)."""

    def __init__(self, x, y):
        x = np.asarray(x)
        labels = batch_labels(y)
        self.index: Dict[int, int] = {}
        for i in range(len(x) - 1, -1, -1):
            self.index[batch_hash(x[i:i + 1], labels[i:i + 1])] = i

    def lookup(self, x, y) -> np.ndarray:
        """The index of each sample of a batch, -1 where it is not one of them."""
        x, labels = np.asarray(x), batch_labels(y)
        if len(labels) != len(x):
            return np.full(len(x), -1)
        return np.array([self.index.get(batch_hash(x[i:i + 1], labels[i:i + 1]), -1) for i in range(len(x))])


def op_plan(model, spec: dict) -> Tuple[Dict[str, Tuple[str, object]], List[str]]:
    """{layer name: (op name, flatten source)} of the layers whose output
    crossdev names, and every op name in crossdev's execution order: the
    forward outputs by layer, then the weight gradients from the last
    layer back (weights, then bias)."""
    kinds = {l["name"]: l for l in spec["layers"]}
    forward, names, grads = {}, [], []
    for layer, src in zip(model.layers, flatten_sources(model)):
        s = kinds.get(layer.name)
        if s is None or s["type"] == "Flatten" or (s["type"] == "Activation" and s["activation"] == "linear"):
            continue
        fused = s["type"] in ("Conv2D", "Dense") and s.get("activation", "linear") != "linear"
        keeps = s["type"] in ("BatchNormalization", "Dropout", "Activation", "Add")  # features in their input's order
        forward[layer.name] = (layer.name + (".activation" if fused else ".forward"), src if keeps else None)
        names.append(forward[layer.name][0])
    for layer in reversed(model.layers):  # the gradients from the last layer back, in variable order
        grads += [gradient_op(layer.name, s) for s in variable_suffixes(layer) if s in TRAINED]
    return forward, names + grads


def _host_call(fn, *tensors) -> None:
    """fn(*numpy arrays) with the tensors' values when the step runs."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        def run(*arrays):
            fn(*arrays)
            return np.int32(0)
        tf.numpy_function(run, list(tensors), Tout=tf.int32, stateful=True)
    elif backend == "jax":
        import jax
        jax.debug.callback(fn, *tensors)
    else:
        fn(*[keras.ops.convert_to_numpy(t) for t in tensors])


def _nchw(a: np.ndarray, src) -> np.ndarray:
    """A layer output in crossdev's layout."""
    if a.ndim == 4:
        return a.transpose(0, 3, 1, 2)
    return features_to_crossdev(a.T, src).T if src is not None and a.ndim == 2 else a


class Tap:
    """Installed on a compiled model for one fit (see the module's doc)."""

    def __init__(self, model, spec: dict, ops: bool = True, samples: Optional[SampleIndex] = None):
        self.model, self.samples, self.ops = model, samples, ops
        self.lock = threading.Lock()
        self.active = False
        self.batches: List[Tuple[int, Optional[np.ndarray]]] = []
        self.values: Dict[str, int] = {}
        self.forward, self.op_names = op_plan(model, spec) if ops else ({}, [])
        self.grad_of = self._gradient_entries() if ops else []
        self.saved: List[Tuple[object, str]] = []
        if keras.backend.backend() == "tensorflow" and getattr(model, "jit_compile", False):
            print("crossdev.keras: TensorFlow compiles this step with XLA (jit_compile=True), which cannot call back "
                  "into Python: no batch contents or op hashes are recorded", file=sys.stderr)
            self.forward, self.op_names, self.grad_of = {}, [], []
            return
        self._install()

    # ---- what the step hands out ----------------------------------------------------
    def _batch(self, x, y) -> None:
        idx = self.samples.lookup(x, y) if self.samples is not None else None
        with self.lock:
            self.batches.append((batch_hash(x, y), idx))

    def _value(self, name: str, a) -> None:
        with self.lock:
            self.values[name] = tensor_hash(a)

    def take(self) -> Tuple[Optional[int], Optional[np.ndarray], List[Tuple[str, int]]]:
        """The step just run: its batch hash, its indices (or None), and its
        ops' hashes in crossdev's order (missing ones as 0)."""
        if keras.backend.backend() == "jax":
            import jax
            jax.effects_barrier()  # the step's host callbacks have all run
        with self.lock:
            h, idx = self.batches.pop(0) if self.batches else (None, None)
            ops = [(n, self.values.get(n, 0)) for n in self.op_names]
            self.values = {}
        return h, idx, ops

    # ---- the wrappers -------------------------------------------------------------------
    def _gradient_entries(self):
        """For each trainable variable (the order of the step's gradients):
        (op name, crossdev permutation) or None."""
        by_var = {id(var): (name, p) for name, var, p in Mapping(self.model).entries}
        out = []
        for var in self.model.trainable_variables:
            name, p = by_var.get(id(var), ("", None))
            layer, _, suffix = name.rpartition(".")
            out.append((gradient_op(layer, suffix), p) if suffix in TRAINED else None)
        return out

    def _set(self, obj, attr: str, value) -> None:
        self.saved.append((obj, attr))
        setattr(obj, attr, value)

    def _install(self) -> None:
        model, tap = self.model, self
        step = model.train_step
        backend = keras.backend.backend()

        def train_step(*args):
            data = args[-1]  # (state, data) on JAX, (data,) elsewhere
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            if y is not None and not isinstance(x, (list, tuple, dict)):
                _host_call(tap._batch, x, y)
            tap.active = True
            try:
                return step(*args)
            finally:
                tap.active = False
        self._set(model, "train_step", train_step)
        for layer in model.layers:
            if layer.name in self.forward:
                self._wrap_layer(layer, *self.forward[layer.name])
        if self.ops:
            opt = model.optimizer
            attr = "stateless_apply" if backend == "jax" else "apply"
            self._wrap_optimizer(opt, attr, getattr(opt, attr))
        model.make_train_function(force=True)

    def _wrap_layer(self, layer, op: str, src) -> None:
        call, tap = layer.call, self

        def tapped(*args, **kwargs):
            out = call(*args, **kwargs)
            if tap.active:
                _host_call(lambda a: tap._value(op, _nchw(a, src)), out)
            return out
        self._set(layer, "call", tapped)

    def _wrap_optimizer(self, opt, attr: str, apply) -> None:
        tap = self

        def tapped(*args, **kwargs):
            grads = args[1] if attr == "stateless_apply" else args[0]
            if tap.active:
                for g, entry in zip(list(grads), tap.grad_of):
                    if entry is not None:
                        name, p = entry
                        _host_call(lambda a, name=name, p=p: tap._value(name, np.asarray(a, np.float32).reshape(-1)[p]),
                                   g)
            return apply(*args, **kwargs)
        self._set(opt, attr, tapped)

    def remove(self) -> None:
        """Every method back as it was; the compiled step dropped (once)."""
        if not self.saved:
            return
        for obj, attr in reversed(self.saved):
            try:
                delattr(obj, attr)
            except AttributeError:
                pass
        self.saved = []
        self.model.train_function = None
