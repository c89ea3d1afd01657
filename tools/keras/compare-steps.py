#!/usr/bin/env python3
"""crossdev's training of a .keras model against real Keras, step by step.

    build/pypi/keras/bin/python tools/keras/compare-steps.py MODEL.keras|MODEL.json TRACE DATA-DIR [--json OUT]

TRACE is `crossdev-compare run --model MODEL.keras|MODEL.json --data DATA-DIR
--snapshot-every 1` (every step snapshotted).  For each step t, Keras is
put back on crossdev's state after step t-1 (the weights, BatchNormalization's
moving statistics, the optimizer's slots and iteration count: the one-step
resync), trains one step on the batch crossdev drew (batches.npy) with the
dropout mask crossdev drew (its Philox stream, recomputed in numpy: crossdev.philox),
and its loss and resulting state are compared with crossdev's step t.  Any
difference of convention (a permutation, an optimizer form, a loss detail)
shows at step 1; what remains is rounding.

Per step and tensor it reports the difference relative to the step's
update, max|w_keras - w_crossdev| / max|w_crossdev - w_before| (state
tensors: relative to max|value|), and the loss's relative difference.  Exit
1 when a figure exceeds the tolerances (--tol-update, --tol-loss).
"""
import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import keras  # noqa: E402
import numpy as np  # noqa: E402
from crossdev.data import load_idx  # noqa: E402
from crossdev.keras import DropoutMasks, optimizer_slots  # noqa: E402
from crossdev.layout import Mapping  # noqa: E402
from crossdev.trace import SnapshotFiles  # noqa: E402


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


def load_data(d):
    """The IDX folder as crossdev decodes it, images in Keras's NHWC."""
    data = load_idx(d)
    return data, data.nhwc(data.train_x), data.train_y


def rel(a, b, scale):
    d = float(np.max(np.abs(a.astype(np.float64) - b))) if a.size else 0.0
    return d / scale if scale > 0 else (0.0 if d == 0 else float("inf"))


def no_effect(spec):
    """The biases (and their optimizer slots) of the linear layers only a
    BatchNormalization reads: its batch mean takes them out again, so their
    true gradient is 0 and what a step computes for them is rounding noise,
    which Adam scales to a full-size step (keras-team's ResNet example
    keeps its conv biases before BN).  Reported apart, never judged (as
    crossdev's verdict rules treat them).  The readers come from the
    trace's model_spec (a layer's `inputs`, else the layer before it), not
    from Keras's internals."""
    layers = spec["layers"]
    readers = [[] for _ in layers]
    for j, l in enumerate(layers):
        for i in l.get("inputs", [j - 1]):
            if i >= 0:
                readers[i].append(l["type"])
    out = set()
    for l, r in zip(layers, readers):
        linear = l.get("activation", "linear") == "linear"  # a ReLU's bias counts
        if l.get("use_bias") and linear and r and all(t == "BatchNormalization" for t in r):
            out |= {f"{l['name']}.bias", f"{l['name']}.bias.m", f"{l['name']}.bias.v"}
    return out


def trace_optimizer(trace):
    """Keras's optimizer for the trace's (crossdev's --optimizer over the
    model's own): Adam or SGD in Keras's form with its hyper-parameters."""
    o = trace["optimizer"]
    if o.get("variant") != "keras":
        sys.exit(f"--optimizer-from-trace: {o['name']} in {o.get('variant')}'s form has no Keras optimizer")
    if o["name"] == "sgd":
        return keras.optimizers.SGD(learning_rate=o["lr"], momentum=o.get("momentum", 0.0),
                                    nesterov=bool(o.get("nesterov", False)))
    return keras.optimizers.Adam(learning_rate=o["lr"], beta_1=o["beta1"], beta_2=o["beta2"], epsilon=o["eps"])


def run(args):
    trace = json.load(open(os.path.join(args.trace, "trace.json")))
    batches = np.load(os.path.join(args.trace, "batches.npy"))
    _, x_all, y_all = load_data(args.data)
    model = load_model(args.model)
    optimizer = trace_optimizer(trace) if args.optimizer_from_trace else model.optimizer
    model.compile(optimizer=optimizer, loss=model.loss, run_eagerly=True, jit_compile=False)
    opt = model.optimizer
    opt.build(model.trainable_variables)
    mapping = Mapping(model)
    masks = DropoutMasks(model, int(trace["seed"])).install()
    steps = min(args.steps or trace["steps"], trace["steps"])
    have = set(trace["snapshots"])
    if not all(t in have for t in range(steps + 1)):
        sys.exit(f"{args.trace}: needs a snapshot at every step 0..{steps} (run with --snapshot-every 1)")

    def slots(var):
        return optimizer_slots(opt, var)

    rows, worst_upd, worst_loss, worst_noise = [], 0.0, 0.0, 0.0
    noise = no_effect(trace["model_spec"])
    for t in range(1, steps + 1):
        before = os.path.join(args.trace, f"step-{t - 1:06d}")
        after = os.path.join(args.trace, f"step-{t:06d}")
        mapping.set_keras(SnapshotFiles(args.trace, t - 1), slots)
        opt.iterations.assign(t - 1)
        idx = batches[t - 1]
        xb, yb = x_all[idx], y_all[idx]
        masks.set(t, len(idx))
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
            per[name] = rel(got.reshape(-1), ours, scale)
        judged = {k: v for k, v in per.items() if k not in noise}
        upd = max(judged.values())
        worst_noise = max([worst_noise] + [v for k, v in per.items() if k in noise])
        worst_upd, worst_loss = max(worst_upd, upd), max(worst_loss, loss_rel)
        rows.append({"step": t, "loss_keras": loss_k, "loss_crossdev": loss_x, "loss_rel": loss_rel,
                     "worst_tensor": max(judged, key=judged.get), "worst_rel": upd, "tensors": per})
        print(f"step {t:4d}  loss keras {loss_k:.8f} crossdev {loss_x:.8f} (rel {loss_rel:.1e})  "
              f"worst {max(judged, key=judged.get)} {upd:.2e}")
    ok = worst_upd <= args.tol_update and worst_loss <= args.tol_loss
    summary = {"model": args.model, "trace": args.trace, "keras": keras.__version__, "steps": steps,
               "optimizer": type(opt).__name__, "worst_update_rel": worst_upd, "worst_loss_rel": worst_loss,
               "tol_update": args.tol_update, "tol_loss": args.tol_loss, "ok": ok, "per_step": rows,
               "no_effect": sorted(noise), "worst_no_effect_rel": worst_noise}
    if args.json:
        json.dump(summary, open(args.json, "w"), indent=1)
    print(f"compare-steps: {os.path.basename(args.model)} {steps} steps, Keras {keras.__version__}: worst update "
          f"difference {worst_upd:.2e} of a step's update (tolerance {args.tol_update:g}), worst loss difference "
          f"{worst_loss:.2e} (tolerance {args.tol_loss:g}): {'AGREE' if ok else 'DIFFER'}")
    if noise:
        print(f"compare-steps: not judged, no effect on the outputs (biases only a BatchNormalization reads): "
              f"{len(noise) // 3} biases, worst {worst_noise:.2e} of a step's update")
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
        if got.shape != np.load(os.path.join(last, name + ".npy")).shape or \
                not np.array_equal(got.reshape(-1).view(np.uint32), ours.view(np.uint32)):
            print(f"FAIL: {name}: Keras holds other values than crossdev's last snapshot")
            bad += 1
    print(f"compare-steps --export: Keras loaded {os.path.basename(args.export)}: "
          f"{'every weight equals crossdev step ' + str(trace['snapshots'][-1]) if not bad else str(bad) + ' differ'}")
    return 1 if bad else 0


def test_set(data, n):
    d = load_idx(data)
    return d.nhwc(d.test_x[:n]), d.test_y[:n]


def check_eval(args):
    """Keras evaluates crossdev's last snapshot (inference: dropout off,
    BatchNormalization on its moving statistics) to crossdev's final test
    loss and accuracy: the loss within --tol-loss, the accuracy within 2
    samples (an argmax can flip on a rounding-level tie)."""
    trace = json.load(open(os.path.join(args.trace, "trace.json")))
    final = trace["eval"]["final"]
    model = load_model(args.model)
    model.compile(loss=model.loss, metrics=["accuracy"])
    Mapping(model).set_keras(SnapshotFiles(args.trace, trace["snapshots"][-1]), lambda var: {})
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
    _, x_all, y_all = load_data(args.data)
    model = load_model(args.model)
    model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"], run_eagerly=True,
                  jit_compile=False)
    opt = model.optimizer
    opt.build(model.trainable_variables)
    mapping = Mapping(model)
    masks = DropoutMasks(model, int(trace["seed"])).install()
    mapping.set_keras(SnapshotFiles(args.trace, 0), lambda var: optimizer_slots(opt, var))
    opt.iterations.assign(0)
    for t in range(1, trace["steps"] + 1):
        idx = batches[t - 1]
        masks.set(t, len(idx))
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
    ap.add_argument("--optimizer-from-trace", action="store_true",
                    help="train Keras with the trace's optimizer (crossdev's --optimizer) instead of the model's")
    args = ap.parse_args()
    if args.export:
        return check_export(args)
    if args.eval:
        return check_eval(args)
    return free_run(args) if args.free else run(args)


if __name__ == "__main__":
    sys.exit(main())
