"""Replays a crossdev trace in PyTorch or Keras and records the replay as a
trace, so that `crossdev-compare diff TRACE OUT` says how far the framework,
on this device, is from crossdev's run, and two replays (two devices,
thread counts, settings) say where the framework's own runs part.

    python3 -m crossdev.replay TRACE --framework torch|keras --out DIR
                               [--device cpu|cuda|cuda:N|gpu] [--threads N] [--data DIR|FILE.npz]
                               [--steps N] [--deterministic] [--jit-compile auto|true|false]
                               [--no-hash-ops]

The model is rebuilt from the trace's model_spec (seed-cnn, mnist-convnet,
a Keras model's spec) with Keras's semantics, starts from the trace's
step-0 snapshot, and trains on the trace's batches (batches.npy) with the
trace's optimizer form and settings, its dropout masks drawn as crossdev
draws them (crossdev.philox), on the data the trace names (data.source,
or --data), which must have the trace's checksum.  A trace of synthetic
data, or of an optimizer form the framework does not have (PyTorch has
adam-pytorch and sgd-pytorch, Keras adam-keras and sgd-keras), is
refused with the reason.  The replay snapshots the steps the trace did,
evaluates on the same test samples, records what each step trained on
(batch_hashes), and records the op hashes (PyTorch's module outputs and
gradients; Keras's layer outputs and weight gradients under crossdev's op
names) unless --no-hash-ops.

Exit status: 0 written; 2 refused (the message says why).
"""
import argparse
import os
import sys
import time

import numpy as np

from .data import load_data
from .trace import SnapshotFiles, TraceWriter, read_trace, require_form

__all__ = ["main", "check_trace", "replay_torch", "replay_keras"]


class Refused(Exception):
    """A trace or option this replay cannot honour; the message says why."""


FRAMEWORKS = {"torch": ("pytorch", "PyTorch"), "keras": ("keras", "Keras")}


def check_trace(path: str, trace: dict, framework: str, data_dir):
    """The data (its checksum checked), or Refused: synthetic data, no
    spec, an optimizer form the framework does not have, other data."""
    try:
        require_form(trace["optimizer"], *FRAMEWORKS[framework])
    except ValueError as e:
        raise Refused(f"{path}: {e}") from e
    data = trace.get("data") or {}
    if data.get("synthetic"):
        raise Refused(f"{path}: trained on synthetic data ({data.get('source', 'seeded')}); a replay needs the "
                      f"real data: run crossdev with --data (IDX files or an .npz) and replay that trace")
    if not trace.get("model_spec"):
        raise Refused(f"{path}: has no model_spec (made by an older crossdev, or by a framework recorder)")
    folder = data_dir or data.get("source")
    try:
        ds = load_data(folder)
    except (OSError, ValueError) as e:
        raise Refused(f"{path}: its data ({folder}): {e}; give the folder or .npz with --data") from e
    if data.get("checksum") and ds.checksum != data["checksum"]:
        raise Refused(f"{folder}: its data has checksum {ds.checksum}, the trace's ({path}) is {data['checksum']}: "
                      f"not the data the trace trained on")
    return ds


def _snapshot_steps(trace: dict, steps: int):
    return sorted({s for s in trace["snapshots"] if s <= steps} | {0, steps})


def _final_eval(trace: dict, steps: int, evaluate) -> dict:
    """The trace's final evaluation repeated (same first n test samples)."""
    fin = (trace.get("eval") or {}).get("final")
    if not fin or steps != trace["steps"]:
        return None
    loss, acc = evaluate(int(fin["n"]))
    return {"step": steps, "loss": loss if np.isfinite(loss) else None, "accuracy": acc, "n": int(fin["n"])}


def _training(trace: dict, path: str) -> dict:
    t = dict(trace.get("training") or {})
    t["init"] = f"step 0 of {path}"
    t["replay_of"] = {"trace": path, "device": trace["device"].get("id", ""), "mode": trace.get("mode", "")}
    return t


# ---- PyTorch ---------------------------------------------------------------------------------------
def replay_torch(path: str, trace: dict, ds, args) -> str:
    import torch
    from . import torch as xdt
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    # the weights come from the trace and the dropout masks from crossdev's
    # stream: PyTorch's generator decides nothing, but its seed is recorded
    # (producer.initial_seed), so it is the trace's, not a fresh random one
    torch.manual_seed(int(trace["seed"]) % 2**63)
    device = torch.device(args.device or "cpu")
    spec = trace["model_spec"]
    try:
        net = xdt.SpecNet(spec, seed=int(trace["seed"]))
    except ValueError as e:
        raise Refused(f"{path}: {e}") from e
    net.load_crossdev(SnapshotFiles(path, 0))
    net.to(device)
    opt = xdt.torch_optimizer(trace["optimizer"], net.parameters())
    loss_fn = xdt.keras_loss(spec)
    batches = np.load(os.path.join(path, "batches.npy"))
    steps = args.steps or trace["steps"]
    x_all, y_all = torch.from_numpy(ds.train_x), torch.from_numpy(ds.train_y).long()
    rec = xdt.Recorder(net, opt, args.out, seed=int(trace["seed"]), batch_size=int(trace["batch"]),
                       data_name=ds.name, data=ds.record(), model_name=trace["model"], model_spec=spec,
                       names=net.names(), total_steps=steps, snapshot_at=_snapshot_steps(trace, steps),
                       hash_ops=not args.no_hash_ops, device=device, training=_training(trace, path),
                       recorder="crossdev.replay")
    try:
        for t in range(1, steps + 1):
            idx = torch.from_numpy(batches[t - 1].astype(np.int64))
            net.train()
            net.step = t
            opt.zero_grad()
            loss = loss_fn(net(x_all[idx].to(device)), y_all[idx].to(device))
            loss.backward()
            opt.step()
            rec.step(loss, batches[t - 1], batch=(ds.train_x[batches[t - 1]], ds.train_y[batches[t - 1]]))

        def evaluate(n):
            net.eval()
            with torch.no_grad():
                out = net(torch.from_numpy(ds.test_x[:n]).to(device))
                y = torch.from_numpy(ds.test_y[:n]).long().to(device)
                return float(loss_fn(out, y)), float((out.argmax(1) == y).float().mean())
        rec.close(final_eval=_final_eval(trace, steps, evaluate))
    except BaseException:
        rec.abort()
        raise
    return args.out


# ---- Keras -------------------------------------------------------------------------------------------
def keras_backend_settings(args) -> None:
    """--threads and --deterministic on Keras's backend, set before it runs
    an op, or Refused naming the backend's own setting."""
    import keras
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        if args.threads:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        if args.deterministic:
            tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch
        if args.threads:
            torch.set_num_threads(args.threads)
        if args.deterministic:
            torch.use_deterministic_algorithms(True)
    elif args.threads or args.deterministic:
        raise Refused(f"--{'threads' if args.threads else 'deterministic'} on Keras's {backend} backend: set it "
                      f"before {backend} starts, with XLA_FLAGS (e.g. --xla_cpu_multi_thread_eigen=false "
                      f"intra_op_parallelism_threads=1; on GPU --xla_gpu_deterministic_ops=true)")


def replay_keras(path: str, trace: dict, ds, args) -> str:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras_backend_settings(args)
    from . import keras as xdk
    from .keras_tap import Tap
    spec = trace["model_spec"]
    try:
        model = xdk.model_from_spec(spec)
    except ValueError as e:
        raise Refused(f"{path}: {e}") from e
    prod = xdk.producer(recorder="crossdev.replay")
    want = {"gpu": "gpu", "cuda": "gpu", "cpu": "cpu"}.get((args.device or "cpu").split(":")[0], args.device)
    if prod["platform"] != want:
        raise Refused(f"--device {args.device}: Keras's backend runs on {prod['platform']} here")
    masks = xdk.DropoutMasks(model, int(trace["seed"]))
    xdk.compile_for_trace(model, spec, trace["optimizer"], run_eagerly=bool(masks.layers),
                          jit_compile={"auto": "auto", "true": True, "false": False}[args.jit_compile])
    if masks.layers:
        masks.install()
    opt = model.optimizer
    mapping = xdk.Mapping(model)
    slots = lambda var: xdk.optimizer_slots(opt, var)  # noqa: E731
    mapping.set_keras(SnapshotFiles(path, 0), slots)
    batches = np.load(os.path.join(path, "batches.npy"))
    steps = args.steps or trace["steps"]
    x_all, y_all = ds.nhwc(ds.train_x), ds.train_y
    prod = xdk.producer(model, recorder="crossdev.replay")
    with TraceWriter(args.out, model=trace["model"], model_spec=spec, seed=int(trace["seed"]),
                     batch=int(trace["batch"]), tensors=list(mapping.keras_state(slots)),
                     optimizer=xdk.optimizer_form(opt), data=ds.record(), device=xdk.device_record(prod),
                     producer=prod, layout=xdk._layout(model), training=_training(trace, path),
                     guarantee="none: a framework's run (its determinism settings: producer)", total_steps=steps,
                     snapshot_at=_snapshot_steps(trace, steps), op_hashes=not args.no_hash_ops) as w:
        w.init(mapping.keras_state(slots))
        tap = Tap(model, spec, ops=not args.no_hash_ops)
        for t in range(1, steps + 1):
            idx = batches[t - 1]
            masks.set(t, len(idx))
            logs = model.train_on_batch(x_all[idx], y_all[idx], return_dict=True)
            content, _, ops = tap.take()
            w.step(float(logs["loss"]), mapping.keras_state(slots), idx, ops=ops if w.op_hashes else None,
                   batch=content)
        tap.remove()

        def evaluate(n):
            res = model.evaluate(ds.nhwc(ds.test_x[:n]), ds.test_y[:n], batch_size=int(trace["batch"]), verbose=0,
                                 return_dict=True)
            pred = np.asarray(model.predict(ds.nhwc(ds.test_x[:n]), batch_size=int(trace["batch"]), verbose=0))
            return float(res["loss"]), float(np.mean(pred.argmax(1) == ds.test_y[:n]))
        w.close(final_eval=_final_eval(trace, steps, evaluate))
    return args.out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m crossdev.replay", description=__doc__.split("\n")[0] + "..",
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Then: crossdev-compare diff TRACE OUT")
    ap.add_argument("trace", help="a crossdev trace (crossdev-compare run --out TRACE, real data)")
    ap.add_argument("--framework", required=True, choices=("torch", "keras"))
    ap.add_argument("--out", required=True, help="the replay's trace (must not exist)")
    ap.add_argument("--device", help="torch: cpu (default), cuda, cuda:N; keras: cpu or gpu (its backend's)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch: torch.set_num_threads(N); keras on tensorflow: intra-op threads, on torch: "
                         "torch's (on jax: refused, XLA_FLAGS sets them); default: the framework's")
    ap.add_argument("--data", help="the trace's IDX data folder or .npz, if not at its data.source")
    ap.add_argument("--steps", type=int, default=0, help="replay the first N steps (default: all)")
    ap.add_argument("--deterministic", action="store_true",
                    help="torch (and keras on torch): torch.use_deterministic_algorithms(True); keras on "
                         "tensorflow: tf.config.experimental.enable_op_determinism() (on jax: refused)")
    ap.add_argument("--jit-compile", choices=("auto", "true", "false"), default="auto",
                    help="keras: model.compile's jit_compile (default auto, as a user's compile: XLA on jax, "
                         "none on tensorflow's CPU)")
    ap.add_argument("--no-hash-ops", action="store_true", help="no per-op hashes")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    try:
        trace = read_trace(args.trace)
        if args.steps and not 0 < args.steps <= trace["steps"]:
            raise Refused(f"--steps {args.steps}: the trace has {trace['steps']} steps")
        ds = check_trace(args.trace, trace, args.framework, args.data)
        out = (replay_torch if args.framework == "torch" else replay_keras)(args.trace, trace, ds, args)
    except (Refused, OSError, ValueError, KeyError) as e:
        print(f"crossdev.replay: {e}", file=sys.stderr)
        return 2
    print(f"crossdev.replay: {args.steps or trace['steps']} steps of {args.trace} in {args.framework} "
          f"({time.monotonic() - t0:.1f} s) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
