"""A PyTorch user's own training loop, recorded with crossdev.torch.Recorder
(tests/scripts/test_torch_traces.sh): a small CNN with BatchNorm, Adam, its
own seeded shuffle of Fashion-MNIST.

    python3 tests/python/torch_user_loop.py OUT --seed S [--threads N] [--steps K] [--fail-at K]

--fail-at K raises at step K (inside the Recorder's `with`): nothing may be
published.
"""
import argparse
from collections import OrderedDict

import torch
import torch.nn.functional as F

from crossdev.data import load_idx
from crossdev.torch import Recorder


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--fail-at", type=int, default=0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = torch.nn.Sequential(OrderedDict(
        conv=torch.nn.Conv2d(1, 8, 3), bn=torch.nn.BatchNorm2d(8), relu=torch.nn.ReLU(), pool=torch.nn.MaxPool2d(2),
        flat=torch.nn.Flatten(), fc=torch.nn.Linear(8 * 13 * 13, 10)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    d = load_idx(a.data)
    x, y = torch.from_numpy(d.train_x), torch.from_numpy(d.train_y).long()
    order = torch.randperm(len(y))
    with Recorder(model, opt, a.out, seed=a.seed, batch_size=32, data_name=d.name, data=d.record()) as rec:
        for t in range(1, a.steps + 1):
            idx = order[(t - 1) * 32:t * 32]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            rec.step(loss, idx.numpy(), batch=(x[idx], y[idx]))
            if t == a.fail_at:
                raise RuntimeError(f"stopped at step {t} (--fail-at)")


if __name__ == "__main__":
    main()
