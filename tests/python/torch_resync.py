"""PyTorch's replay model (crossdev.torch.SpecNet, Keras's semantics) against
crossdev's training, one step at a time (tests/scripts/test_torch_traces.sh),
as tools/keras/compare-steps.py does for Keras.

    python3 tests/python/torch_resync.py TRACE DATA-DIR [--tol-update 1e-3] [--tol-loss 1e-5]

TRACE: crossdev-compare run --snapshot-every 1 with a PyTorch optimizer form.
For each step t, the model and PyTorch's optimizer are put on crossdev's
state after step t-1 (weights, moving statistics, Adam's moments and step
count or SGD's momentum), train one step on crossdev's batch with
crossdev's dropout masks, and are compared with crossdev's step t: weights
relative to the step's update, optimizer state relative to its largest
value, the loss relative.  A difference of convention (padding, pooling,
BatchNormalization, the loss, an optimizer form) shows at once; what
remains is rounding.  Exit 1 beyond the tolerances.
"""
import argparse
import sys

import numpy as np
import torch

from crossdev import torch as xdt
from crossdev.data import load_idx
from crossdev.trace import SnapshotFiles, read_trace

SLOTS = {".m": "exp_avg", ".v": "exp_avg_sq"}


def put_state(net, opt, snap, names, step):
    """crossdev's state after `step` into the model and the optimizer."""
    net.load_crossdev(snap)
    for key, p in net.named_parameters():
        if step == 0:
            continue  # a fresh optimizer: crossdev's step-0 slots are zeros
        if isinstance(opt, torch.optim.Adam):
            opt.state[p] = {"step": torch.tensor(float(step))}
            opt.state[p].update({slot: torch.from_numpy(np.array(snap[names[key] + sfx])).reshape(p.shape).clone()
                                 for sfx, slot in SLOTS.items()})
        elif opt.param_groups[0]["momentum"]:
            opt.state[p] = {"momentum_buffer": torch.from_numpy(np.array(snap[names[key] + ".m"])).reshape(p.shape)}


def state_of(net, opt, names):
    out = {names[k]: v.detach().numpy().reshape(-1) for k, v in net.state_dict().items()}
    for key, p in net.named_parameters():
        for sfx, slot in list(SLOTS.items()) + [(".m", "momentum_buffer")]:
            if slot in opt.state[p]:
                out[names[key] + sfx] = opt.state[p][slot].detach().numpy().reshape(-1)
    return out


def worst(got, before, after):
    rows = []
    for name, g in got.items():
        ours, prev = np.asarray(after[name]).reshape(-1), np.asarray(before[name]).reshape(-1)
        state = name.endswith(".m") or name.endswith(".v")
        scale = np.abs(ours.astype(np.float64)).max() if state else np.abs(ours.astype(np.float64) - prev).max()
        d = np.abs(g.astype(np.float64) - ours).max()
        rows.append((d / scale if scale > 0 else (0.0 if d == 0 else np.inf), name))
    return max(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("data")
    ap.add_argument("--tol-update", type=float, default=1e-3)
    ap.add_argument("--tol-loss", type=float, default=1e-5)
    a = ap.parse_args()
    t = read_trace(a.trace)
    spec, ds, batches = t["model_spec"], load_idx(a.data), np.load(a.trace + "/batches.npy")
    net = xdt.SpecNet(spec, seed=int(t["seed"]))
    names, loss_fn = net.names(), xdt.keras_loss(spec)
    x, y = torch.from_numpy(ds.train_x), torch.from_numpy(ds.train_y).long()
    worst_upd = worst_loss = 0.0
    for s in range(1, t["steps"] + 1):
        before, after = SnapshotFiles(a.trace, s - 1), SnapshotFiles(a.trace, s)
        opt = xdt.torch_optimizer(t["optimizer"], net.parameters())
        put_state(net, opt, before, names, s - 1)
        net.train()
        net.step = s
        idx = torch.from_numpy(batches[s - 1].astype(np.int64))
        opt.zero_grad()
        loss = loss_fn(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
        rel_loss = abs(float(loss) - t["loss"][s - 1]) / abs(t["loss"][s - 1])
        upd, name = worst(state_of(net, opt, names), before, after)
        worst_upd, worst_loss = max(worst_upd, upd), max(worst_loss, rel_loss)
        print(f"step {s:3d}  loss rel {rel_loss:.1e}  worst {name} {upd:.2e}")
    ok = worst_upd <= a.tol_update and worst_loss <= a.tol_loss
    print(f"torch_resync: {spec['name']} {t['steps']} steps, {t['optimizer']['name']}-{t['optimizer']['variant']}: "
          f"worst {worst_upd:.2e} of a step's update (tolerance {a.tol_update:g}), loss {worst_loss:.2e} "
          f"(tolerance {a.tol_loss:g}): {'AGREE' if ok else 'DIFFER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
