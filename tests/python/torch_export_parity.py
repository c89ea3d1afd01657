"""An exported PyTorch residual module against crossdev's training of it,
one step at a time (tests/scripts/test_torch_export.sh).

    python3 torch_export_parity.py make FILE --optimizer sgd|adam
    python3 torch_export_parity.py check FILE TRACE DATA-DIR [--tol-update 1e-3] [--tol-loss 1e-5]

make: the module below (strided and padded convolutions, BatchNorm2d, a
residual block with an addition and a 1x1 projection (a conv bias before a
BatchNorm2d has no gradient but rounding noise, so none here), max and average pooling, global average
pooling, torch.flatten, Linear; no dropout, whose masks are crossdev's),
seeded, with torch.optim.SGD (momentum, Nesterov) or Adam, exported with
crossdev.torch.export.  check: the same module and optimizer, built again
from the same seed; its initial state must be the trace's step 0 bit for
bit (crossdev trains the module's own weights), then for each step t the
user's own module and optimizer are put on crossdev's state after step
t-1 (state_dict in the module's own names, momentum buffers or Adam's
moments and step), train one step on crossdev's batch with
nn.CrossEntropyLoss, and are compared with crossdev's step t: weights and
running statistics relative to the step's change, optimizer state relative
to its largest value, the loss relative.  Exit 1 beyond the tolerances.
"""
import argparse
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from crossdev.data import load_idx
from crossdev.torch import export
from crossdev.trace import SnapshotFiles, read_trace
from torch_resync import worst  # beside this file: the same measure of a step's change


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.short = nn.Conv2d(c, c, 1)  # a bias no BatchNorm follows

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(self.short(x) + y)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 6, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU())
        self.block = Block(6)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.avg = nn.AvgPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(6, 10)

    def forward(self, x):
        x = self.avg(self.pool(self.block(self.stem(x))))
        return self.fc(torch.flatten(self.gap(x), 1))


def build(kind):
    torch.manual_seed(7)
    net = Net()
    with torch.no_grad():  # running statistics away from their defaults, so that a wrong form shows
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    if kind == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=2e-3, betas=(0.8, 0.99), eps=1e-8)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    return net, opt


def put_state(net, opt, snap, step):
    """crossdev's state after `step` into the user's module and optimizer."""
    sd = net.state_dict()
    net.load_state_dict({k: torch.from_numpy(np.array(snap[k])).reshape(v.shape) if k in snap else v
                         for k, v in sd.items()})
    for key, p in net.named_parameters():
        if step == 0:
            continue  # a fresh optimizer: crossdev's step-0 slots are zeros
        if isinstance(opt, torch.optim.Adam):
            opt.state[p] = {"step": torch.tensor(float(step)),
                            "exp_avg": torch.from_numpy(np.array(snap[key + ".m"])).reshape(p.shape).clone(),
                            "exp_avg_sq": torch.from_numpy(np.array(snap[key + ".v"])).reshape(p.shape).clone()}
        else:
            opt.state[p] = {"momentum_buffer": torch.from_numpy(np.array(snap[key + ".m"])).reshape(p.shape)}


def state_of(net, opt):
    out = {k: v.detach().numpy().reshape(-1) for k, v in net.state_dict().items() if "num_batches" not in k}
    for key, p in net.named_parameters():
        for sfx, slot in ((".m", "exp_avg"), (".v", "exp_avg_sq"), (".m", "momentum_buffer")):
            if slot in opt.state[p]:
                out[key + sfx] = opt.state[p][slot].detach().numpy().reshape(-1)
    return out


def check(a):
    t = read_trace(a.trace)
    net, opt = build(t["optimizer"]["name"])
    step0 = SnapshotFiles(a.trace, 0)
    names = [k for k in net.state_dict() if "num_batches" not in k]
    if sorted(names) != sorted(n for n in step0 if not n.endswith((".m", ".v"))):
        print(f"names differ: module {sorted(names)}, trace {sorted(step0)}")
        return 1
    same = all(np.array_equal(net.state_dict()[k].numpy().reshape(-1), np.asarray(step0[k]).reshape(-1))
               for k in names)
    print(f"initial state: the module's own, bit for bit: {same}")
    ds, batches = load_idx(a.data), np.load(a.trace + "/batches.npy")
    x, y = torch.from_numpy(ds.train_x), torch.from_numpy(ds.train_y).long()
    worst_upd = worst_loss = 0.0
    for s in range(1, t["steps"] + 1):
        before, after = SnapshotFiles(a.trace, s - 1), SnapshotFiles(a.trace, s)
        put_state(net, opt, before, s - 1)
        net.train()
        idx = torch.from_numpy(batches[s - 1].astype(np.int64))
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
        rel_loss = abs(float(loss) - t["loss"][s - 1]) / abs(t["loss"][s - 1])
        upd, name = worst(state_of(net, opt), before, after)
        worst_upd, worst_loss = max(worst_upd, upd), max(worst_loss, rel_loss)
        print(f"step {s:3d}  loss rel {rel_loss:.1e}  worst {name} {upd:.2e}")
    ok = same and worst_upd <= a.tol_update and worst_loss <= a.tol_loss
    print(f"torch_export_parity: {t['steps']} steps, {t['optimizer']['name']}-{t['optimizer']['variant']}: worst "
          f"{worst_upd:.2e} of a step's change (tolerance {a.tol_update:g}), loss {worst_loss:.2e} (tolerance "
          f"{a.tol_loss:g}): {'AGREE' if ok else 'DIFFER'}")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("make", "check"))
    ap.add_argument("file")
    ap.add_argument("trace", nargs="?")
    ap.add_argument("data", nargs="?")
    ap.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    ap.add_argument("--tol-update", type=float, default=1e-3)
    ap.add_argument("--tol-loss", type=float, default=1e-5)
    a = ap.parse_args()
    if a.what == "make":
        net, opt = build(a.optimizer)
        export(net, torch.zeros(2, 1, 28, 28), opt, a.file)
        return 0
    return check(a)


if __name__ == "__main__":
    sys.exit(main())
