"""Traces in crossdev's format, version 1 (docs/trace-format.md), written
from Python exactly as the C writer writes them, so that `crossdev-compare
diff` reads a framework's run like any other.

    from crossdev.trace import TraceWriter, optimizer_record
    with TraceWriter("run-a", model="my-cnn", seed=1, batch=32, tensors=names,
                     optimizer=optimizer_record("adam-pytorch", lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
                     data={"name": "fashion-mnist", "synthetic": False},
                     device={"id": "pytorch/cpu-2-threads"}, producer={...}) as w:
        w.init(state0)                    # {name: array}, every tensor, crossdev's layouts
        for step in ...:
            w.step(loss, state, indices, batch=(x, y))  # after the update; indices: the batch's
                                                        # samples, batch: what it trained on
    # published as run-a/ on leaving the block; an exception publishes nothing

What makes it the same file as the C writer's: the tensor hashes (XXH3-64
of the float32 bytes), the snapshot schedule (crossdev.schedule), each
.npy and batches.npy (crossdev.npy), trace.json's fields in the C order
and its text (crossdev.jsontext), and the publication: built in
OUT.tmp-PID/, renamed to OUT without replacing anything (crossdev.fs).
A framework run adds `producer` (after `device`): what made it and every
setting that decides its numbers.
"""
import collections.abc
import json
import math
import os
import time
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import __version__, fs, jsontext
from .hashing import batch_hash, hash_hex, tensor_hash, xxh3_64
from .npy import write_npy
from .schedule import Schedule, snapshot_schedule

__all__ = ["TraceWriter", "Publishing", "require_form", "optimizer_record", "read_trace", "load_snapshot",
           "SnapshotFiles", "OPTIMIZER_FORMS", "gradient_op"]

HASH_ALGORITHM = "xxh3-64 of the float32 bytes"
# op_hashes.updates: an op "NAME.update" hashes the parameter, then its optimizer state (crossdev.hashing.tensors_hash)
OP_UPDATES_HASH = "parameter, then its optimizer state (m, v)"
OPTIMIZER_FORMS = ("adam-keras", "adam-pytorch", "sgd-keras", "sgd-pytorch")


def optimizer_record(form: str, *, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7,
                     momentum: float = 0.0, nesterov: bool = False) -> dict:
    """trace.json's `optimizer` for one of crossdev's forms (docs/models.md),
    fields in the C writer's order."""
    if form not in OPTIMIZER_FORMS:
        raise ValueError(f"optimizer form {form!r}: crossdev knows {', '.join(OPTIMIZER_FORMS)}")
    name, variant = form.split("-")
    if name == "adam":
        return {"name": "adam", "variant": variant, "lr": float(lr), "beta1": float(beta1), "beta2": float(beta2),
                "eps": float(eps)}
    return {"name": "sgd", "variant": variant, "lr": float(lr), "momentum": float(momentum),
            "nesterov": bool(nesterov)}


def require_form(record: dict, variant: str, framework: str) -> str:
    """A trace's optimizer form ("adam-pytorch"), if the framework has it
    (its own variant); otherwise ValueError saying how to get one it has."""
    form = f"{record['name']}-{record['variant']}"
    if record["variant"] != variant:
        raise ValueError(f"the trace trained with {form}, which {framework} does not have ({framework} has "
                         f"adam-{variant} and sgd-{variant}): run crossdev with --optimizer {record['name']}-{variant} "
                         f"to compare with {framework}")
    return form


def gradient_op(owner: str, param: str) -> str:
    """The op name of a parameter's gradient, as crossdev's runs name it:
    "<owner>.backward_weights" for a weight, "<owner>.backward_<param>"
    otherwise (bias, gamma, beta); owner "" for a parameter of the root."""
    kind = "backward_weights" if param == "weight" else "backward_" + param
    return f"{owner}.{kind}" if owner else kind


def _seed(seed) -> Union[int, str]:
    """An integer, or above 2^63 - 1 the string of its digits (JSON readers
    take 64-bit signed integers; crossdev's reader takes both)."""
    seed = int(seed)
    if not 0 <= seed < 2 ** 64:
        raise ValueError(f"seed {seed}: crossdev's seeds are 0..2^64-1")
    return seed if seed < 2 ** 63 else str(seed)


def _real_or_null(x) -> Optional[float]:
    x = float(x)
    return x if math.isfinite(x) else None


def _hashable(value) -> Union[int, np.ndarray]:
    """An op output given as a hash (int) or as the tensor itself."""
    if isinstance(value, (int, np.integer)):
        return int(value)
    return tensor_hash(value)


class Publishing:
    """As a context manager: close() (publish) when the block ends, abort()
    (publish nothing) when it raises."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


class TraceWriter(Publishing):
    """One trace, built in OUT.tmp-PID/ and published as OUT by close().

    Required: out_dir, model (its name), seed, batch, tensors (names in
    trace order: each parameter, then its optimizer state), optimizer
    (optimizer_record()), data (an object with at least `name` and
    `synthetic`), device (at least `id`).  Optional fields are written
    when given: model_spec, layout, training, producer, build_options,
    guarantee; mode is "fast" unless said (a framework gives no bitwise
    guarantee of crossdev's kind).  total_steps, when known, plans the
    schedule ahead and checks snapshot_at; otherwise the last step
    recorded is snapshotted at close().
    """

    def __init__(self, out_dir: str, *, model: str, seed: int, batch: int, tensors: Sequence[str], optimizer: dict,
                 data: dict, device: dict, mode: str = "fast", model_spec=None, layout: Optional[dict] = None,
                 training: Optional[dict] = None, producer: Optional[dict] = None,
                 build_options: Optional[str] = None, guarantee: Optional[str] = None,
                 crossdev_version: Optional[str] = __version__, total_steps: Optional[int] = None,
                 snapshot_every: int = 0, snapshot_at: Optional[Iterable[int]] = None, op_hashes: bool = False):
        if mode not in ("reproducible", "fast"):
            raise ValueError(f"mode {mode!r}: a trace's mode is \"reproducible\" or \"fast\"")
        if not tensors or any(not n or "/" in n for n in tensors):
            raise ValueError("tensors: a non-empty list of names without '/'")
        if "id" not in device:
            raise ValueError("device: needs an 'id' (e.g. \"pytorch/cpu-2-threads\")")
        self.out_dir = out_dir
        self.meta = {"model": model, "model_spec": model_spec, "seed": _seed(seed), "mode": mode, "batch": int(batch),
                     "optimizer": optimizer, "data": data, "layout": layout, "training": training, "device": device,
                     "producer": producer, "build_options": build_options, "guarantee": guarantee,
                     "crossdev_version": crossdev_version}
        self.tensors = list(tensors)
        self.total = total_steps
        self.planned = None if total_steps is None else set(
            snapshot_schedule(total_steps, snapshot_at, snapshot_every))
        self.schedule = Schedule(snapshot_at, snapshot_every)
        self.op_hashes = op_hashes
        self.init_hashes: Optional[List[str]] = None
        self.rows: List[List[str]] = []
        self.loss: List[Optional[float]] = []
        self.op_names: List[str] = []
        self.op_rows: List[List[str]] = []
        self.batches: List[np.ndarray] = []
        self.batch_hashes: List[str] = []
        self.snapshots: List[int] = []
        self.history: List[dict] = []
        self.pending: Optional[Tuple[int, Dict[str, np.ndarray]]] = None  # the last step, if not snapshotted
        self.t0 = time.monotonic()
        self.tmp = fs.make_temp_dir(out_dir)
        self.closed = False

    # ---- records ----------------------------------------------------------------
    @property
    def steps(self) -> int:
        return len(self.rows)

    def _ordered(self, state: Mapping[str, np.ndarray]) -> List[np.ndarray]:
        missing = [n for n in self.tensors if n not in state]
        if missing:
            raise KeyError(f"state lacks {', '.join(missing[:5])} (every tensor of the trace, each step)")
        return [np.ascontiguousarray(state[n], dtype=np.float32) for n in self.tensors]

    def _wants(self, step: int) -> bool:
        return step in self.planned if self.planned is not None else self.schedule.wants(step)

    def _snapshot(self, step: int, arrays: Sequence[np.ndarray]) -> None:
        d = os.path.join(self.tmp, f"step-{step:06d}")
        os.mkdir(d)
        for name, a in zip(self.tensors, arrays):
            write_npy(os.path.join(d, name + ".npy"), a)
        self.snapshots.append(step)

    def init(self, state: Mapping[str, np.ndarray]) -> None:
        """The state before training (step 0): hashed and snapshotted."""
        arrays = self._ordered(state)
        self.init_hashes = [hash_hex(tensor_hash(a)) for a in arrays]
        self._snapshot(0, arrays)

    def step(self, loss: float, state: Mapping[str, np.ndarray], indices=None,
             ops: Optional[Sequence[Tuple[str, object]]] = None, batch=None) -> int:
        """Records the next step: its loss (the batch's mean, before the
        update), the state after its update, the batch's training-set
        indices, with op_hashes the outputs (or their hashes) of its ops in
        execution order, and what it trained on: batch = (inputs, labels) in
        (N, H, W, C), (inputs, labels, "NCHW"), or their
        crossdev.hashing.batch_hash (trace.json's batch_hashes: given for
        every step or for none).  Returns the step's number."""
        if self.init_hashes is None:
            raise RuntimeError("init(state) must record step 0 first")
        step = self.steps + 1
        if self.total is not None and step > self.total:
            raise ValueError(f"step {step}: the trace was planned for {self.total} steps")
        arrays = self._ordered(state)
        self.rows.append([hash_hex(tensor_hash(a)) for a in arrays])
        self.loss.append(_real_or_null(loss))
        if indices is not None:
            self.batches.append(np.asarray(indices, dtype=np.int64).reshape(-1))
        if batch is not None:
            self.batch_hashes.append(hash_hex(batch if isinstance(batch, (int, np.integer)) else batch_hash(*batch)))
        if self.op_hashes:
            self._record_ops(step, ops or [])
        if self._wants(step):
            self._snapshot(step, arrays)
            self.pending = None
        else:  # kept in case training ends here (the last step is always snapshotted)
            self.pending = (step, [a.copy() for a in arrays])
        return step

    def _record_ops(self, step: int, ops: Sequence[Tuple[str, object]]) -> None:
        names = [n for n, _ in ops]
        if not self.op_names:
            self.op_names = names
        elif names != self.op_names:
            raise ValueError(f"step {step}: the ops recorded ({len(names)}) are not those of step 1 "
                             f"({len(self.op_names)}); each step must run the same ops in the same order")
        self.op_rows.append([hash_hex(_hashable(v)) for _, v in ops])

    def eval(self, step: int, loss: float, accuracy: float) -> None:
        """An evaluation during training (trace.json's eval.history)."""
        self.history.append({"step": int(step), "loss": _real_or_null(loss), "accuracy": float(accuracy)})

    # ---- the document -------------------------------------------------------------
    def document(self, final_eval: Optional[dict] = None, nonfinite: Optional[dict] = None,
                 resumed_from: Optional[dict] = None, timing: Optional[dict] = None,
                 batches: Optional[np.ndarray] = None) -> dict:
        """trace.json as a dict, fields in the C writer's order; None
        fields of the optional metadata are left out.  batches: batches.npy's
        int32 rows, whose XXH3 is batches_hash (absent when not given)."""
        m = self.meta
        doc = {"format": "crossdev-trace", "version": 1, "model": m["model"], "model_spec": m["model_spec"],
               "seed": m["seed"], "mode": m["mode"], "batch": m["batch"], "steps": self.steps,
               "steps_requested": self.total if self.total is not None else self.steps,
               "batches_hash": None if batches is None else hash_hex(xxh3_64(np.ascontiguousarray(batches, "<i4"))),
               "batch_hashes": self.batch_hashes or None,
               "optimizer": m["optimizer"], "data": m["data"], "layout": m["layout"], "training": m["training"],
               "tensors": self.tensors, "loss": self.loss,
               "hashes": {"algorithm": HASH_ALGORITHM, "init": self.init_hashes, "steps": self.rows},
               "op_hashes": {"ops": self.op_names, "updates": OP_UPDATES_HASH, "steps": self.op_rows}
               if self.op_hashes else None,
               "snapshots": self.snapshots, "op_outputs": None, "device": m["device"], "producer": m["producer"],
               "build_options": m["build_options"], "guarantee": m["guarantee"],
               "crossdev_version": m["crossdev_version"], "eval": {"final": final_eval, "history": self.history},
               "nonfinite": nonfinite, "resumed_from": resumed_from}
        for optional in ("batches_hash", "batch_hashes", "layout", "training", "producer", "build_options", "guarantee", "crossdev_version"):
            if doc[optional] is None:
                del doc[optional]
        seconds = time.monotonic() - self.t0
        doc["timing"] = timing if timing is not None else {"seconds_total": seconds, "seconds_steps": seconds,
                                                           "device_bytes_peak": 0}
        return doc

    def close(self, final_eval: Optional[dict] = None, nonfinite: Optional[dict] = None,
              resumed_from: Optional[dict] = None, timing: Optional[dict] = None) -> str:
        """Writes the last snapshot, batches.npy and trace.json, and publishes
        the trace; returns its path.  final_eval: {step, loss, accuracy, n}."""
        if self.closed:
            return self.out_dir
        try:
            if self.init_hashes is None:
                raise RuntimeError("nothing recorded: init(state) was never called")
            if self.pending is not None:
                self._snapshot(*self.pending)
                self.pending = None
            if self.batches and len(self.batches) != self.steps:
                raise ValueError(f"batch indices were given for {len(self.batches)} of {self.steps} steps")
            if self.batch_hashes and len(self.batch_hashes) != self.steps:
                raise ValueError(f"batch contents were given for {len(self.batch_hashes)} of {self.steps} steps")
            shape = (self.steps, self.meta["batch"])
            rows = np.stack(self.batches).astype(np.int32) if self.batches else np.zeros(shape, np.int32)
            if rows.shape != shape:
                raise ValueError(f"batch indices: {rows.shape[1]} per step, the trace's batch is {shape[1]}")
            write_npy(os.path.join(self.tmp, "batches.npy"), rows)
            text = jsontext.dumps(self.document(final_eval, nonfinite, resumed_from, timing, rows))
            with open(os.path.join(self.tmp, "trace.json"), "x", encoding="utf-8") as f:
                f.write(text)
            fs.rename_noreplace(self.tmp, self.out_dir)
        except BaseException:
            self.abort()
            raise
        self.closed = True
        return self.out_dir

    def abort(self) -> None:
        """Removes the temporary folder: nothing is published."""
        if not self.closed:
            fs.remove_tree(self.tmp)
            self.closed = True


def read_trace(path: str) -> dict:
    """trace.json of a trace folder, parsed (no validation beyond JSON)."""
    with open(os.path.join(path, "trace.json"), encoding="utf-8") as f:
        return json.load(f)


def load_snapshot(path: str, step: int, names: Iterable[str]) -> Dict[str, np.ndarray]:
    """{name: float32 array} of step-XXXXXX/ in a trace."""
    d = os.path.join(path, f"step-{int(step):06d}")
    return {n: np.load(os.path.join(d, n + ".npy")) for n in names}


class SnapshotFiles(collections.abc.Mapping):
    """step-XXXXXX/ of a trace as a read-only {name: array}, each file read
    when asked for."""

    def __init__(self, path: str, step: int):
        self.dir = os.path.join(path, f"step-{int(step):06d}")
        self.names = sorted(f[:-4] for f in os.listdir(self.dir) if f.endswith(".npy"))

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise KeyError(f"{self.dir}: no {name}.npy")
        return np.load(os.path.join(self.dir, name + ".npy"))

    def __iter__(self):
        return iter(self.names)

    def __len__(self):
        return len(self.names)
