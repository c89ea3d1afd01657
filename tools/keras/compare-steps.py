#!/usr/bin/env python3
"""crossdev's training of a .keras model against real Keras, step by step.

    build/pypi/keras/bin/python tools/keras/compare-steps.py MODEL.keras|MODEL.json TRACE DATA-DIR [--json OUT]

TRACE is `crossdev-compare run --model MODEL.keras|MODEL.json --data DATA-DIR
--snapshot-every 1` (every step snapshotted).  For each step t, Keras is
put back on crossdev's state after step t-1 (the weights, BatchNormalization's
moving statistics, the optimizer's slots and iteration count: the one-step
resync), trains one step on the batch crossdev drew (batches.npy) with the
dropout mask crossdev drew (its Philox stream, recomputed here in numpy),
and its loss and resulting state are compared with crossdev's step t.  Any
difference of convention (a permutation, an optimizer form, a loss detail)
shows at step 1; what remains is rounding.

Per step and tensor it reports the difference relative to the step's
update, max|w_keras - w_crossdev| / max|w_crossdev - w_before| (state
tensors: relative to max|value|), and the loss's relative difference.  Exit
1 when a figure exceeds the tolerances (--tol-update, --tol-loss).
"""
import argparse
import gzip
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import layout  # noqa: E402

M32 = np.uint64(0xFFFFFFFF)


def philox_words(seed, stream, n):
    """Words 0..n-1 of crossdev's Philox4x32-10 stream (cl/xd_math.h,
    xd_philox_word): block j/4 with counter (block lo, block hi, stream lo,
    stream hi) under key (seed lo, seed hi), word j%4."""
    blocks = (n + 3) // 4
    b = np.arange(blocks, dtype=np.uint64)
    c = [b & M32, b >> np.uint64(32), np.full(blocks, stream & 0xFFFFFFFF, np.uint64),
         np.full(blocks, stream >> 32, np.uint64)]
    k0, k1 = seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        c = [((p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0)) & M32, p1 & M32,
             ((p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1)) & M32, p0 & M32]
        k0 = (k0 + 0x9E3779B9) & 0xFFFFFFFF
        k1 = (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return np.stack(c, axis=1).reshape(-1)[:n].astype(np.uint32)


def dropout_keep(seed, layer, step, n, rate):
    """crossdev's mask (host/train/model_run.c: stream "DROP" << 32 | layer
    << 24 | step; cl/xd_math.h xd_dropout_keep: kept when (w >> 8) 2^-24 <
    (float)(1 - rate)), in crossdev's element order."""
    stream = 0x44524F5000000000 | (layer << 24) | (step & 0xFFFFFF)
    u = (philox_words(seed, stream, n) >> 8).astype(np.float32) * np.float32(2.0 ** -24)
    return u < np.float32(1.0 - rate)


def load_model(path, compile=True):
    """A .keras archive, or a model.to_json() file (compiled from its
    compile_config, which to_json() keeps)."""
    if not path.endswith(".json"):
        return keras.saving.load_model(path, compile=compile)
    text = open(path).read()
    model = keras.models.model_from_json(text)
    config = json.loads(text).get("compile_config")
    if compile and config:
        model.compile_from_config(config)
    return model


def read_idx(path):
    raw = open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz").read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_data(d):
    x = read_idx(os.path.join(d, "train-images-idx3-ubyte"))
    y = read_idx(os.path.join(d, "train-labels-idx1-ubyte")).astype(np.int32)
    if x.ndim == 3:
        x = x[..., None]
    return x.astype(np.float32) / np.float32(255.0), y  # NHWC, as Keras takes it


class Masks:
    """The Dropout layers' masks for the step being run (the layers' call
    patched to use them; Keras's own formula, select(mask, x / keep, 0))."""
    current = {}

    @staticmethod
    def install():
        def call(self, inputs, training=False):
            if not training or self.rate == 0:
                return inputs
            keep = 1.0 - self.rate
            return keras.ops.where(Masks.current[self.name], inputs / keep, keras.ops.zeros_like(inputs))
        keras.layers.Dropout.call = call


def keras_order(mask_xd, shape_keras, src):
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


def slot_name(opt, var):
    """The optimizer slots of a variable: crossdev's suffixes -> Keras's
    variables (Adam: m, v; SGD: its momentum)."""
    kind = type(opt).__name__
    if kind == "Adam":
        return {".m": opt._momentums[opt._get_variable_index(var)],
                ".v": opt._velocities[opt._get_variable_index(var)]}
    if kind == "SGD" and opt.momentum:
        return {".m": opt.momentums[opt._get_variable_index(var)]}
    return {}


class Mapping:
    """Each Keras variable with its crossdev name and the permutations both
    ways (layout.py's, inverted by solving on an index array)."""

    def __init__(self, model):
        self.entries = []  # (crossdev name, keras variable, to_xd, to_keras)
        for layer, src in zip(model.layers, layout.flatten_sources(model)):
            cls = type(layer).__name__
            names = {"Conv2D": ["weight", "bias"], "Dense": ["weight", "bias"],
                     "BatchNormalization": (["gamma"] if getattr(layer, "scale", 0) else [])
                     + (["beta"] if getattr(layer, "center", 0) else []) + ["moving_mean", "moving_variance"]}.get(cls, [])
            for suffix, var in zip(names, layer.weights):
                to_xd = self.permutation(cls, suffix, tuple(var.shape), src)
                self.entries.append((layer.name + "." + suffix, var, to_xd))

    @staticmethod
    def permutation(cls, suffix, shape, src):
        """Index array p: crossdev_flat = keras_flat[p]."""
        idx = np.arange(int(np.prod(shape))).reshape(shape)
        if cls == "Conv2D" and suffix == "weight":
            return idx.transpose(3, 2, 0, 1).reshape(-1)
        if cls == "Dense" and suffix == "weight":
            return layout.features_to_crossdev(idx, src).T.reshape(-1)
        if cls == "BatchNormalization":
            return layout.features_to_crossdev(idx, src).reshape(-1)
        return idx.reshape(-1)

    def set_keras(self, model, snap, opt_slots):
        for name, var, p in self.entries:
            flat = np.empty(p.size, np.float32)
            flat[p] = np.load(os.path.join(snap, name + ".npy")).reshape(-1)
            var.assign(flat.reshape(var.shape))
            for suffix, slot in opt_slots(var).items():
                sflat = np.empty(p.size, np.float32)
                sflat[p] = np.load(os.path.join(snap, name + suffix + ".npy")).reshape(-1)
                slot.assign(sflat.reshape(var.shape))

    def keras_state(self, opt_slots):
        """{crossdev name: array in crossdev's layout (flat)} of Keras's state now."""
        out = {}
        for name, var, p in self.entries:
            out[name] = np.asarray(var.numpy(), np.float32).reshape(-1)[p]
            for suffix, slot in opt_slots(var).items():
                out[name + suffix] = np.asarray(slot.numpy(), np.float32).reshape(-1)[p]
        return out


def dropout_layers(model):
    """(spec layer index, layer, flatten source) of each Dropout: crossdev's
    spec numbers model.layers from 0 (the InputLayer is not a layer)."""
    return [(i, l, src) for i, (l, src) in enumerate(zip(model.layers, layout.flatten_sources(model)))
            if type(l).__name__ == "Dropout"]


def rel(a, b, scale):
    d = float(np.max(np.abs(a.astype(np.float64) - b))) if a.size else 0.0
    return d / scale if scale > 0 else (0.0 if d == 0 else float("inf"))


def run(args):
    trace = json.load(open(os.path.join(args.trace, "trace.json")))
    batches = np.load(os.path.join(args.trace, "batches.npy"))
    x_all, y_all = load_data(args.data)
    model = load_model(args.model)
    model.compile(optimizer=model.optimizer, loss=model.loss, run_eagerly=True, jit_compile=False)
    opt = model.optimizer
    opt.build(model.trainable_variables)
    mapping = Mapping(model)
    Masks.install()
    drops = dropout_layers(model)
    seed = int(trace["seed"])
    steps = min(args.steps or trace["steps"], trace["steps"])
    have = set(trace["snapshots"])
    if not all(t in have for t in range(steps + 1)):
        sys.exit(f"{args.trace}: needs a snapshot at every step 0..{steps} (run with --snapshot-every 1)")

    def slots(var):
        return slot_name(opt, var) if var.trainable else {}

    rows, worst_upd, worst_loss = [], 0.0, 0.0
    for t in range(1, steps + 1):
        before = os.path.join(args.trace, f"step-{t - 1:06d}")
        after = os.path.join(args.trace, f"step-{t:06d}")
        mapping.set_keras(model, before, slots)
        opt.iterations.assign(t - 1)
        idx = batches[t - 1]
        xb, yb = x_all[idx], y_all[idx]
        for li, layer, src in drops:
            shape = (len(idx),) + tuple(int(d) for d in layer.input.shape[1:])
            keep = dropout_keep(seed, li, t, int(np.prod(shape)), layer.rate)
            Masks.current[layer.name] = keras_order(keep, shape, src)
        logs = model.train_on_batch(xb, yb, return_dict=True)
        loss_k, loss_x = float(logs["loss"]), float(trace["loss"][t - 1])
        loss_rel = abs(loss_k - loss_x) / max(abs(loss_x), 1e-30)
        state = mapping.keras_state(slots)
        per = {}
        for name, got in state.items():
            ours = np.load(os.path.join(after, name + ".npy")).reshape(-1)
            prev = np.load(os.path.join(before, name + ".npy")).reshape(-1)
            is_weight = not (name.endswith(".m") or name.endswith(".v"))
            scale = float(np.max(np.abs(ours.astype(np.float64) - prev))) if is_weight else float(np.max(np.abs(ours)))
            per[name] = rel(got, ours, scale)
        upd = max(per.values())
        worst_upd, worst_loss = max(worst_upd, upd), max(worst_loss, loss_rel)
        rows.append({"step": t, "loss_keras": loss_k, "loss_crossdev": loss_x, "loss_rel": loss_rel,
                     "worst_tensor": max(per, key=per.get), "worst_rel": upd, "tensors": per})
        print(f"step {t:4d}  loss keras {loss_k:.8f} crossdev {loss_x:.8f} (rel {loss_rel:.1e})  "
              f"worst {max(per, key=per.get)} {upd:.2e}")
    ok = worst_upd <= args.tol_update and worst_loss <= args.tol_loss
    summary = {"model": args.model, "trace": args.trace, "keras": keras.__version__, "steps": steps,
               "optimizer": type(opt).__name__, "worst_update_rel": worst_upd, "worst_loss_rel": worst_loss,
               "tol_update": args.tol_update, "tol_loss": args.tol_loss, "ok": ok, "per_step": rows}
    if args.json:
        json.dump(summary, open(args.json, "w"), indent=1)
    print(f"compare-steps: {os.path.basename(args.model)} {steps} steps, Keras {keras.__version__}: worst update "
          f"difference {worst_upd:.2e} of a step's update (tolerance {args.tol_update:g}), worst loss difference "
          f"{worst_loss:.2e} (tolerance {args.tol_loss:g}): {'AGREE' if ok else 'DIFFER'}")
    return 0 if ok else 1


def check_export(args):
    """Keras loads the .weights.h5 crossdev exported (model.load_weights) and
    holds exactly the trace's last snapshot, bit for bit."""
    trace = json.load(open(os.path.join(args.trace, "trace.json")))
    model = load_model(args.model, compile=False)
    model.load_weights(args.export)
    last = os.path.join(args.trace, f"step-{trace['snapshots'][-1]:06d}")
    bad = 0
    for name, got in Mapping(model).keras_state(lambda var: {}).items():
        ours = np.load(os.path.join(last, name + ".npy")).reshape(-1)
        if not np.array_equal(got.view(np.uint32), ours.view(np.uint32)):
            print(f"FAIL: {name}: Keras holds other values than crossdev's last snapshot")
            bad += 1
    print(f"compare-steps --export: Keras loaded {os.path.basename(args.export)}: "
          f"{'every weight equals crossdev step ' + str(trace['snapshots'][-1]) if not bad else str(bad) + ' differ'}")
    return 1 if bad else 0


def test_set(data, n):
    xt = read_idx(os.path.join(data, "t10k-images-idx3-ubyte"))
    xt = (xt[..., None] if xt.ndim == 3 else xt).astype(np.float32) / np.float32(255.0)
    yt = read_idx(os.path.join(data, "t10k-labels-idx1-ubyte")).astype(np.int32)
    return xt[:n], yt[:n]


def check_eval(args):
    """Keras evaluates crossdev's last snapshot (inference: dropout off,
    BatchNormalization on its moving statistics) to crossdev's final test
    loss and accuracy: the loss within --tol-loss, the accuracy within 2
    samples (an argmax can flip on a rounding-level tie)."""
    trace = json.load(open(os.path.join(args.trace, "trace.json")))
    final = trace["eval"]["final"]
    model = load_model(args.model)
    model.compile(loss=model.loss, metrics=["accuracy"])
    last = os.path.join(args.trace, f"step-{trace['snapshots'][-1]:06d}")
    Mapping(model).set_keras(model, last, lambda var: {})
    xt, yt = test_set(args.data, final["n"])
    res = model.evaluate(xt, yt, batch_size=trace["batch"], verbose=0, return_dict=True)
    loss_rel = abs(res["loss"] - final["loss"]) / max(abs(final["loss"]), 1e-30)
    acc_diff = abs(res["accuracy"] - final["accuracy"])
    ok = loss_rel <= args.tol_loss and acc_diff * final["n"] <= 2.0 + 1e-9
    print(f"compare-steps --eval: Keras evaluates crossdev's step {trace['snapshots'][-1]} on {final['n']} test "
          f"samples: loss {res['loss']:.8f} vs {final['loss']:.8f} (rel {loss_rel:.1e}), accuracy "
          f"{res['accuracy']:.4f} vs {final['accuracy']:.4f}: {'AGREE' if ok else 'DIFFER'}")
    return 0 if ok else 1


def free_run(args):
    """Keras trained alone from crossdev's step 0 on crossdev's batches and
    dropout masks (no resync), then evaluated on the test set: the final
    accuracies of the two trainings side by side."""
    trace = json.load(open(os.path.join(args.trace, "trace.json")))
    batches = np.load(os.path.join(args.trace, "batches.npy"))
    x_all, y_all = load_data(args.data)
    model = load_model(args.model)
    model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"], run_eagerly=True,
                  jit_compile=False)
    opt = model.optimizer
    opt.build(model.trainable_variables)
    mapping = Mapping(model)
    Masks.install()
    drops = dropout_layers(model)
    seed = int(trace["seed"])
    mapping.set_keras(model, os.path.join(args.trace, "step-000000"),
                      lambda var: slot_name(opt, var) if var.trainable else {})
    opt.iterations.assign(0)
    for t in range(1, trace["steps"] + 1):
        idx = batches[t - 1]
        for li, layer, src in drops:
            shape = (len(idx),) + tuple(int(d) for d in layer.input.shape[1:])
            Masks.current[layer.name] = keras_order(dropout_keep(seed, li, t, int(np.prod(shape)), layer.rate),
                                                    shape, src)
        model.train_on_batch(x_all[idx], y_all[idx])
    final = trace["eval"]["final"]
    n = final["n"]
    xt, yt = test_set(args.data, n)
    res = model.evaluate(xt, yt, batch_size=trace["batch"], verbose=0, return_dict=True)
    diff = abs(res["accuracy"] - final["accuracy"])
    ok = diff <= args.tol_accuracy
    summary = {"model": args.model, "trace": args.trace, "keras": keras.__version__, "steps": trace["steps"],
               "accuracy_keras": res["accuracy"], "accuracy_crossdev": final["accuracy"], "loss_keras": res["loss"],
               "loss_crossdev": final["loss"], "n_test": n, "tol_accuracy": args.tol_accuracy, "ok": ok}
    if args.json:
        json.dump(summary, open(args.json, "w"), indent=1)
    print(f"compare-steps --free: {os.path.basename(args.model)} {trace['steps']} steps from the same start, batches "
          f"and masks: test accuracy Keras {res['accuracy']:.4f}, crossdev {final['accuracy']:.4f} (n {n}; "
          f"difference {diff:.4f}, tolerance {args.tol_accuracy:g}): {'AGREE' if ok else 'DIFFER'}")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("trace")
    ap.add_argument("data")
    ap.add_argument("--steps", type=int, default=0, help="compare the first N steps (default: all)")
    ap.add_argument("--tol-update", type=float, default=1e-3)
    ap.add_argument("--tol-loss", type=float, default=1e-5)
    ap.add_argument("--json")
    ap.add_argument("--free", action="store_true", help="train Keras alone from step 0 and compare test accuracy")
    ap.add_argument("--tol-accuracy", type=float, default=0.005)
    ap.add_argument("--eval", action="store_true", help="check Keras's evaluation of the last snapshot")
    ap.add_argument("--export", help="check that Keras loads this .weights.h5 as the trace's last snapshot")
    args = ap.parse_args()
    if args.export:
        return check_export(args)
    if args.eval:
        return check_eval(args)
    return free_run(args) if args.free else run(args)


if __name__ == "__main__":
    sys.exit(main())
