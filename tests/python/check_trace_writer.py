"""TraceWriter against the C writer (tests/scripts/test_python_trace.sh).

    python3 tests/python/check_trace_writer.py EVERY-STEP-TRACE REF-TRACE OUT-DIR [--online]

EVERY-STEP-TRACE is a crossdev trace with a snapshot at every step
(`run --snapshot-every 1`); REF-TRACE the same run (same device, seed and
settings, reproducible mode, so the same tensors) with another snapshot
schedule.  Its tensors are fed to crossdev.trace.TraceWriter with REF's
metadata and schedule options, and each step's batch from the data it
names (hashed by crossdev.hashing.batch_hash); every file the writer makes must equal
REF's byte for byte (trace.json with REF's timing: the only field that is
not a function of the run).  --online: the writer is not told the number
of steps ahead (a framework's own loop), and schedules step by step.
Exit 1 on any difference, naming the file.
"""
import filecmp
import os
import sys

import numpy as np

from crossdev.data import load_idx
from crossdev.trace import TraceWriter, load_snapshot, read_trace


def schedule_options(ref):
    """REF's schedule as run's options: every step, or the default one."""
    snaps = ref["snapshots"]
    return {"snapshot_every": 1} if snaps == list(range(ref["steps"] + 1)) else {}


def rewrite(src, ref_dir, out, online):
    t, ref = read_trace(src), read_trace(ref_dir)
    if t["snapshots"] != list(range(t["steps"] + 1)):
        sys.exit(f"{src}: needs a snapshot at every step (crossdev-compare run --snapshot-every 1)")
    batches = np.load(os.path.join(src, "batches.npy"))
    data = load_idx(ref["data"]["source"])  # each step's batch, hashed by Python (batch_hashes)
    ops = ref["op_hashes"]
    w = TraceWriter(out, model=ref["model"], model_spec=ref["model_spec"], seed=ref["seed"], mode=ref["mode"],
                    batch=ref["batch"], tensors=ref["tensors"], optimizer=ref["optimizer"], data=ref["data"],
                    layout=ref["layout"], training=ref["training"], device=ref["device"],
                    build_options=ref["build_options"], guarantee=ref["guarantee"],
                    crossdev_version=ref["crossdev_version"], total_steps=None if online else ref["steps_requested"],
                    op_hashes=ops is not None, **schedule_options(ref))
    w.init(load_snapshot(src, 0, t["tensors"]))
    for k in range(1, ref["steps"] + 1):
        row = None if ops is None else [(n, int(h[5:], 16)) for n, h in zip(ops["ops"], ops["steps"][k - 1])]
        loss = t["loss"][k - 1]
        rows = batches[k - 1]
        w.step(float("nan") if loss is None else loss, load_snapshot(src, k, t["tensors"]), rows, ops=row,
               batch=(data.train_x[rows], data.train_y[rows], "NCHW"))
    for h in ref["eval"]["history"]:
        w.eval(h["step"], float("nan") if h["loss"] is None else h["loss"], h["accuracy"])
    return w.close(final_eval=ref["eval"]["final"], nonfinite=ref["nonfinite"], resumed_from=ref["resumed_from"],
                   timing=ref["timing"])


def compare(ref_dir, out):
    ref = read_trace(ref_dir)
    files = ["trace.json", "batches.npy"]
    for s in ref["snapshots"]:
        files += [f"step-{s:06d}/{n}.npy" for n in ref["tensors"]]
    bad = [f for f in files if not os.path.exists(os.path.join(out, f))
           or not filecmp.cmp(os.path.join(ref_dir, f), os.path.join(out, f), shallow=False)]
    extra = sorted(set(os.listdir(out)) ^ set(os.listdir(ref_dir)))
    for f in bad:
        print(f"FAIL: {f} differs from the C writer's (or is missing)")
    if extra:
        print(f"FAIL: the folders differ: {extra}")
    print(f"check_trace_writer: {len(files) - len(bad)} of {len(files)} files identical to the C writer's "
          f"({ref['steps']} steps, snapshots {ref['snapshots']})")
    return 1 if bad or extra else 0


def main():
    src, ref, out = sys.argv[1:4]
    rewrite(src, ref, out, "--online" in sys.argv[4:])
    return compare(ref, out)


if __name__ == "__main__":
    sys.exit(main())
