"""Keras runs as crossdev traces (imports keras; TensorFlow and JAX tested).

Record your own model.fit:

    from crossdev.keras import TraceCallback
    model.fit(x, y, batch_size=32, epochs=1,
              callbacks=[TraceCallback("run-a", seed=1, data_name="fashion-mnist", train_data=(x, y))])

Per batch it records the batch's own loss, every weight and optimizer slot
in crossdev's names and layouts (crossdev.layout; Adam's m and v, SGD's
momentum as ".m"), what the batch held (batch_hashes, seen inside the
compiled step: crossdev.keras_tap), its training-set indices (given as
indices=, or found by content in train_data; otherwise -1: unknown), and
each layer's output and weight gradient under crossdev's op names
(ops=False leaves them out); snapshots on crossdev's schedule; the trace is
published when training ends (an exception publishes nothing).  Keras's
dropout masks come from its own RNG: a model with Dropout layers trained
this way can only agree with another run that drew the same masks
(`python3 -m crossdev.replay --framework keras` uses crossdev's).

Also: the model of a crossdev trace's spec (model_from_spec), crossdev's
dropout masks in Keras (DropoutMasks), the optimizer slots of a variable
(optimizer_slots), and what a Keras run is made of (producer()).
"""
import os
import platform
import re
import sys
import weakref
from typing import Callable, Dict, Optional, Tuple, Union

import keras
import numpy as np

from . import __version__
from .host import cpu_name, slug
from .seeding import seeding_record
from .layout import Mapping, flatten_sources, keras_mask_order
from .philox import dropout_keep, dropout_scale
from .keras_tap import SampleIndex, Tap
from .spec import asked, keras_spec, lr_schedule_record
from .trace import TraceWriter, optimizer_record, require_form

__all__ = ["TraceCallback", "model_from_spec", "compile_for_trace", "DropoutMasks", "optimizer_slots", "producer",
           "device_record", "optimizer_form"]


# ---- what a Keras run is made of ------------------------------------------------------
def _tf_op_determinism(tf) -> bool:
    """tf.config.experimental.enable_op_determinism()'s state: TF 2.21 keeps
    the getter private (tensorflow.python.framework.config)."""
    getter = getattr(tf.config.experimental, "is_op_determinism_enabled", None)
    if getter is None:
        from tensorflow.python.framework import config as tf_config
        getter = tf_config.is_op_determinism_enabled
    return bool(getter())


def _backend_info() -> dict:
    """The backend's version and the settings that decide its numbers."""
    b = keras.backend.backend()
    if b == "jax":
        import jax
        import jaxlib
        dev = jax.devices()[0]
        return {"backend_version": jax.__version__, "jaxlib": jaxlib.__version__, "platform": dev.platform,
                "device_kind": dev.device_kind, "device_count": jax.device_count(),
                "jax_default_matmul_precision": jax.config.jax_default_matmul_precision,
                "jax_enable_x64": bool(jax.config.jax_enable_x64), "xla_flags": os.environ.get("XLA_FLAGS", "")}
    if b == "tensorflow":
        import tensorflow as tf
        gpus = tf.config.list_physical_devices("GPU")
        return {"backend_version": tf.__version__, "platform": "gpu" if gpus else "cpu",
                "device_kind": gpus[0].name if gpus else "cpu",
                "op_determinism": _tf_op_determinism(tf),
                "tf_deterministic_ops": os.environ.get("TF_DETERMINISTIC_OPS", ""),
                "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
                "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
                "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", ""),
                "xla_flags": os.environ.get("XLA_FLAGS", ""), "tf_xla_flags": os.environ.get("TF_XLA_FLAGS", "")}
    if b == "torch":
        from . import torch as xdtorch
        info = xdtorch.producer(device=None)
        info["platform"] = "cuda" if info.get("cuda_device") else "cpu"
        info["device_kind"] = info.get("cuda_device") or info.get("cpu", "")
        return info
    return {"platform": "unknown", "device_kind": ""}


def producer(model=None, recorder: str = "crossdev.keras.TraceCallback") -> dict:
    """trace.json's `producer` for a Keras run: framework, versions, device,
    and the settings that decide its numbers (docs/trace-format.md)."""
    p = {"framework": "keras", "framework_version": keras.__version__, "backend": keras.backend.backend()}
    p.update(_backend_info())
    p.update({"floatx": keras.config.floatx(), "dtype_policy": keras.config.dtype_policy().name})
    if model is not None:
        p.update({"jit_compile": bool(getattr(model, "jit_compile", False)),
                  "run_eagerly": bool(getattr(model, "run_eagerly", False)),
                  "steps_per_execution": int(getattr(model, "steps_per_execution", 1) or 1)})
    p.update({"seeding": seeding_record(), "python": platform.python_version(), "numpy": np.__version__,
              "crossdev_package": __version__, "recorder": recorder})
    return p


def device_record(prod: dict) -> dict:
    """trace.json's `device` for a Keras run: id keras-<backend>/<device>."""
    plat = prod.get("platform", "cpu")
    kind = prod.get("device_kind", "")
    dev = "cpu" if plat == "cpu" else f"{plat}-{slug(kind)}"
    if prod.get("intra_op_threads"):  # TensorFlow told its thread count: named, as pytorch/cpu-N-threads
        dev += f"-{prod['intra_op_threads']}-threads"
    return {"id": f"keras-{prod['backend']}/{dev}", "name": cpu_name() if plat == "cpu" else kind,
            "type": "cpu" if plat == "cpu" else "gpu",
            "driver": f"keras {prod['framework_version']}, {prod['backend']} {prod.get('backend_version', '')}".strip(),
            "platform": f"Keras {prod['framework_version']} ({prod['backend']})"}


# ---- optimizers ------------------------------------------------------------------------
def optimizer_slots(opt, var) -> Dict[str, object]:
    """The optimizer's slots of a trainable variable under crossdev's
    suffixes: Adam's ".m", ".v"; SGD's momentum ".m" (none without)."""
    kind = type(opt).__name__
    if not var.trainable:
        return {}
    i = opt._get_variable_index(var)
    if kind == "Adam":
        return {".m": opt._momentums[i], ".v": opt._velocities[i]}
    if kind == "SGD" and opt.momentum:
        return {".m": opt.momentums[i]}
    return {}


def optimizer_form(opt) -> dict:
    """trace.json's `optimizer` for a compiled Keras optimizer (Keras's form);
    a learning-rate schedule as crossdev records it (`schedule`, lr its
    starting rate)."""
    kind, c = type(opt).__name__, opt.get_config()
    schedule = lr_schedule_record(c["learning_rate"])
    lr = c["learning_rate"] if schedule is None else schedule.get("initial_learning_rate",
                                                                  (schedule.get("values") or [0.0])[0])
    if kind == "Adam":
        if c.get("amsgrad") or c.get("weight_decay"):
            raise ValueError("Adam with amsgrad or weight_decay is not one of crossdev's optimizer forms")
        rec = optimizer_record("adam-keras", lr=asked(lr), beta1=asked(c["beta_1"]), beta2=asked(c["beta_2"]),
                               eps=asked(c["epsilon"]))
    elif kind == "SGD":
        rec = optimizer_record("sgd-keras", lr=asked(lr), momentum=asked(c["momentum"]), nesterov=c["nesterov"])
    else:
        raise ValueError(f"optimizer {kind}: crossdev's traces know Adam and SGD")
    if schedule is not None:
        rec["schedule"] = schedule
    return rec


def _keras_lr(record: dict):
    """The learning rate of a trace's `optimizer` for Keras: its schedule
    rebuilt (Keras's class and option names), else the constant lr."""
    s = record.get("schedule")
    if not s:
        return record["lr"]
    return getattr(keras.optimizers.schedules, s["class"])(**{k: v for k, v in s.items() if k != "class"})


def keras_optimizer(record: dict):
    """A Keras optimizer for a trace's `optimizer`; PyTorch's forms, which
    Keras does not have, are refused."""
    require_form(record, "keras", "Keras")
    if record["name"] == "adam":
        return keras.optimizers.Adam(learning_rate=_keras_lr(record), beta_1=record["beta1"], beta_2=record["beta2"],
                                     epsilon=record["eps"])
    return keras.optimizers.SGD(learning_rate=_keras_lr(record), momentum=record["momentum"],
                                nesterov=record["nesterov"])


# ---- the model of a spec -------------------------------------------------------------------
def _regularizers(l: dict) -> dict:
    """A Conv2D's or Dense's L2 regularizers from the spec's factors."""
    return {key: keras.regularizers.L2(l[f]) for key, f in (("kernel_regularizer", "kernel_l2"),
                                                             ("bias_regularizer", "bias_l2")) if l.get(f)}


def _spec_layer(l: dict):
    t, name = l["type"], l["name"]
    if t == "Conv2D":
        return keras.layers.Conv2D(l["filters"], (l["kh"], l["kw"]), strides=(l["sh"], l["sw"]),
                                   padding=l["padding"], activation=l["activation"], use_bias=l["use_bias"],
                                   name=name, **_regularizers(l))
    if t in ("MaxPooling2D", "AveragePooling2D"):
        return getattr(keras.layers, t)(pool_size=(l["kh"], l["kw"]), strides=(l["sh"], l["sw"]),
                                        padding=l["padding"], name=name)
    if t == "Flatten":
        return keras.layers.Flatten(name=name)
    if t == "Dense":
        return keras.layers.Dense(l["units"], activation=l["activation"], use_bias=l["use_bias"], name=name,
                                  **_regularizers(l))
    if t == "Dropout":
        return keras.layers.Dropout(l["rate"], name=name)
    if t == "Activation":
        return keras.layers.Activation(l["activation"], name=name)
    if t == "BatchNormalization":
        return keras.layers.BatchNormalization(momentum=l["momentum"], epsilon=l["epsilon"], center=l["center"],
                                               scale=l["scale"], name=name)
    if t in ("Add", "Concatenate", "GlobalAveragePooling2D"):
        return getattr(keras.layers, t)(name=name)
    raise ValueError(f"layer '{name}': type {t} is not one crossdev's specs have")


def model_from_spec(spec: dict):
    """A Keras model of a crossdev spec (weights: Keras's own draws until a
    snapshot is loaded): Sequential for a chain, functional where layers
    name their inputs."""
    name = re.sub(r"[^A-Za-z0-9_.]", "_", spec["name"])
    inputs = keras.Input(shape=(spec["in_h"], spec["in_w"], spec["in_c"]))
    if not any("inputs" in l for l in spec["layers"]):
        return keras.Sequential([inputs] + [_spec_layer(l) for l in spec["layers"]], name=name)
    outs = [inputs]  # outs[j + 1]: layer j's output
    for i, l in enumerate(spec["layers"]):
        src = [outs[j + 1] for j in l.get("inputs", [i - 1])]
        outs.append(_spec_layer(l)(src if l["type"] in ("Add", "Concatenate") else src[0]))
    return keras.Model(inputs, outs[-1], name=name)


def compile_for_trace(model, spec: dict, optimizer: dict, run_eagerly: bool = False, jit_compile="auto"):
    """Compiles with the trace's optimizer (Keras's form) and the spec's loss;
    jit_compile as model.compile takes it ("auto", Keras's default: XLA on
    JAX, none on TensorFlow's CPU), never with run_eagerly."""
    model.compile(optimizer=keras_optimizer(optimizer),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=spec["loss"]["from_logits"]),
                  run_eagerly=run_eagerly, jit_compile=False if run_eagerly else jit_compile)
    model.optimizer.build(model.trainable_variables)
    return model


class DropoutMasks:
    """crossdev's dropout masks in Keras: install() replaces Dropout.call (in
    this process) by Keras's own formula, select(mask, x / keep, 0), with the
    mask set() drew for the step (the model must run eagerly: the masks are
    data, not traced)."""

    def __init__(self, model, seed: int):
        self.seed = int(seed)
        spec_layers = [(l, src) for l, src in zip(model.layers, flatten_sources(model))
                       if type(l).__name__ != "InputLayer"]  # a functional model lists its input; the spec does not
        self.layers = [(i, l, src) for i, (l, src) in enumerate(spec_layers) if type(l).__name__ == "Dropout"]
        self.current: Dict[str, object] = {}

    def install(self):
        masks = self

        def call(layer, inputs, training=False):
            if not training or layer.rate == 0:
                return inputs
            keep = float(dropout_scale(layer.rate))
            return keras.ops.where(masks.current[layer.name], inputs / keep, keras.ops.zeros_like(inputs))
        keras.layers.Dropout.call = call
        return self

    def set(self, step: int, batch: int):
        """The masks of a training step (1-based) for a batch of that size."""
        for li, layer, src in self.layers:
            shape = (batch,) + tuple(int(d) for d in layer.input.shape[1:])
            keep = dropout_keep(self.seed, li, step, int(np.prod(shape)), layer.rate)
            self.current[layer.name] = keras_mask_order(keep, shape, src)


# ---- the callback ------------------------------------------------------------------------------
class TraceCallback(keras.callbacks.Callback):
    """Records model.fit as a crossdev trace in out_dir (see the module's doc).

    seed: the seed the run used (recorded, compared by diff); None for a
    run that set none: the trace records Keras's global seed if
    keras.utils.set_random_seed set one, else 0, and says which in
    producer.seeding.trace_seed; data_name:
    what the data is ("fashion-mnist"); indices: the training-set indices
    of each batch, an array [steps, batch] (or flat), or a function
    step -> indices; data: more of trace.json's `data` (source,
    checksum, ...); snapshot_every / snapshot_at: as crossdev-compare
    run's options; model_spec: the spec to record (default: crossdev's
    spec of this model, crossdev.spec.keras_spec); evaluate: (x_test,
    y_test) with integer labels, evaluated when training ends (test loss
    and accuracy in eval.final, so that diff compares them; crossdev.record
    passes fit's validation_data); ops: record each layer's output and each
    weight gradient per step (op_hashes, named as crossdev names its ops,
    so that diff names the first op where two runs part; crossdev.keras_tap);
    train_data: the (x, y) arrays given to fit, so that each batch's
    training-set indices are found by content even when fit shuffles
    (crossdev.record passes them).  Every step's batch content is recorded
    (batch_hashes) whether or not indices are known.

        model.fit(x, y, callbacks=[TraceCallback("run-a", seed=1, data_name="fashion-mnist",
                                                 evaluate=(x_test, y_test))])
    """

    def __init__(self, out_dir: str, *, seed: Optional[int], data_name: str,
                 indices: Union[None, np.ndarray, Callable[[int], np.ndarray]] = None, data: Optional[dict] = None,
                 snapshot_every: int = 0, snapshot_at=None, model_spec: Optional[dict] = None,
                 evaluate: Optional[Tuple[np.ndarray, np.ndarray]] = None, ops: bool = True,
                 train_data: Optional[Tuple[np.ndarray, np.ndarray]] = None):
        super().__init__()
        self.evaluate, self.ops, self.train_data = evaluate, ops, train_data
        self.tap: Optional[Tap] = None
        self.out_dir, self.seed, self.data_name = out_dir, None if seed is None else int(seed), data_name
        self.indices = indices
        self.data = data or {}
        self.snapshot_every, self.snapshot_at, self.model_spec = snapshot_every, snapshot_at, model_spec
        self.writer: Optional[TraceWriter] = None
        self._sum = self._count = np.float32(0)

    def _state(self, model, mapping):
        opt = model.optimizer
        return mapping.keras_state(lambda var: optimizer_slots(opt, var))

    def on_train_begin(self, logs=None):
        model = self.model
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        self.mapping = Mapping(model)
        self.state0 = self._state(model, self.mapping)
        self.writer = None
        self.spec = self.model_spec or keras_spec(model, source="keras model.fit")
        samples = None
        if self.train_data is not None and self.indices is None:
            samples = SampleIndex(*self.train_data)
        self.tap = Tap(model, self.spec, ops=self.ops, samples=samples)
        weakref.finalize(self, self.tap.remove)  # a fit that raises never reaches on_train_end
        if self._batch_size():
            self._open(model, self._batch_size())

    def _open(self, model, batch: int) -> None:
        """The trace, once the batch size is known, with step 0 recorded."""
        steps = self.params.get("steps")
        total = steps * self.params["epochs"] if steps else None
        prod = producer(model)
        spec = self.spec
        _warn_probabilities_loss(spec)
        seed, said = self.seed, "given to TraceCallback"
        if seed is None:
            global_seed = prod["seeding"].get("keras_seed")
            seed, said = (int(global_seed), "keras.utils.set_random_seed's") if global_seed is not None else \
                (0, "none given: recorded as 0")
        prod["seeding"]["trace_seed"] = said
        self.writer = TraceWriter(
            self.out_dir, model=model.name, seed=seed, batch=batch, tensors=list(self.state0),
            optimizer=optimizer_form(model.optimizer), data={"name": self.data_name, "synthetic": False, **self.data},
            device=device_record(prod), producer=prod, layout=_layout(model),
            model_spec=spec,
            guarantee="none: a framework's run (its determinism settings: producer)",
            total_steps=total, snapshot_every=self.snapshot_every, snapshot_at=self.snapshot_at,
            op_hashes=bool(self.tap.op_names))
        weakref.finalize(self, self.writer.abort)  # training that raises never reaches on_train_end
        self.writer.init(self.state0)
        self.state0 = None

    def _batch_size(self) -> int:
        """From the indices [steps, batch] when given so; else 0, and the
        first batch tells (Keras does not tell its callbacks)."""
        if self.indices is not None and not callable(self.indices):
            a = np.asarray(self.indices)
            if a.ndim == 2:
                return int(a.shape[1])
        return 0

    def _indices(self, step: int, batch: int, found: Optional[np.ndarray]) -> np.ndarray:
        if self.indices is None:
            return found if found is not None and len(found) == batch else np.full(batch, -1)
        if callable(self.indices):
            return np.asarray(self.indices(step))
        return np.asarray(self.indices).reshape(-1, batch)[step - 1]

    def on_epoch_begin(self, epoch, logs=None):
        self._sum = self._count = np.float32(0)

    def _batch_loss(self, model, batch: int, logs) -> float:
        """This batch's own loss.  Keras's loss tracker holds a running mean
        (total += loss * batch, count += batch); it is emptied after each
        batch, so that it then holds this batch alone, and its running sums
        are kept here and handed back at the epoch's last batch, with the
        usual running mean put in the logs the other callbacks see."""
        tracker = model._loss_tracker
        total = np.float32(tracker.total.numpy())
        count = np.float32(tracker.count.numpy())  # the batch's samples
        if self.writer is None:
            self._open(model, int(count))
        loss = total / count
        self._sum, self._count = np.float32(self._sum + total), np.float32(self._count + count)
        last = self.params.get("steps") is not None and batch + 1 == self.params["steps"]
        tracker.total.assign(self._sum if last else 0.0)
        tracker.count.assign(self._count if last else 0.0)
        if logs is not None and "loss" in logs:
            logs["loss"] = float(self._sum / self._count)
        return float(loss)

    def on_train_batch_end(self, batch, logs=None):
        model = self.model  # (on JAX, this brings the step's state back into the variables)
        loss = self._batch_loss(model, batch, logs)
        step = self.writer.steps + 1
        content, found, ops = self.tap.take()
        self.writer.step(loss, self._state(model, self.mapping), self._indices(step, self.writer.meta["batch"], found),
                         ops=ops if self.writer.op_hashes else None, batch=content)

    def _final_eval(self) -> Optional[dict]:
        """Test loss (the compiled loss, Keras's evaluate) and accuracy
        (argmax of predict against the integer labels) at the end."""
        if self.evaluate is None:
            return None
        x, y = self.evaluate
        y = np.asarray(y).reshape(-1).astype(np.int64)
        batch = int(self.writer.meta["batch"])
        res = self.model.evaluate(x, y, batch_size=batch, verbose=0, return_dict=True)
        pred = np.asarray(self.model.predict(x, batch_size=batch, verbose=0))
        loss = float(res["loss"])
        return {"step": self.writer.steps, "loss": loss if np.isfinite(loss) else None,
                "accuracy": float(np.mean(pred.argmax(-1) == y)), "n": int(len(y))}

    def on_train_end(self, logs=None):
        if self.tap is not None:
            self.tap.remove()
            self.tap = None
        if self.writer is not None:
            self.writer.close(final_eval=self._final_eval())


def _warn_probabilities_loss(spec: dict) -> None:
    """As crossdev-compare run warns: a loss from probabilities fed by a last
    layer without softmax (Keras treats the outputs as probabilities: the
    model barely learns), named with the layer and the fix."""
    last = spec["layers"][-1] if spec.get("layers") else None
    if last is None or spec["loss"]["from_logits"] or last.get("activation") == "softmax":
        return
    print(f"crossdev.keras: WARNING: model '{spec['name']}': the loss is SparseCategoricalCrossentropy"
          f"(from_logits=False) but the last layer '{last['name']}' ({last['type']}) has no softmax: its outputs are "
          f"treated as probabilities, as Keras does; training will barely learn.  Give the layer "
          f"activation=\"softmax\" or the loss from_logits=True", file=sys.stderr)


def _layout(model) -> dict:
    out = {"input": "NHWC"}
    for layer in model.layers:
        cls = type(layer).__name__
        if cls in ("Conv2D", "Dense"):
            out[layer.name + ".weight"] = "OIHW" if cls == "Conv2D" else "OI"
    out.update({"flatten": "CHW", "npy": "<f4 C-order"})
    return out
