#!/usr/bin/env python3
"""PyTorch CPU training throughput of crossdev's built-in models, for
comparison with crossdev-bench and tools/bench-models: seed-cnn is
Conv2d(1,32,3) -> ReLU -> Flatten -> Linear(21632,10); mnist-convnet is
Keras's example, Conv2d(1,32,3) -> ReLU -> MaxPool(2) -> Conv2d(32,64,3) ->
ReLU -> MaxPool(2) -> Flatten -> Dropout(0.5) -> Linear(1600,10); resnet is
Keras's ResNet v1 (depth 8) as crossdev's built-in, Keras's "same" padding
included (a stride-2 3x3 conv on an even side pads one row and column after,
none before), BatchNorm2d with Keras's epsilon 1e-3 and momentum, and the
L2(1e-4) of its convs' kernels as Adam's weight decay on them (2e-4 w, the
penalty's gradient); Adam
(lr 1e-3, eps 1e-7), cross-entropy, batch 32, on Fashion-MNIST (gzip or
plain IDX files).

    tools/pytorch-bench.py [--model seed-cnn|mnist-convnet|resnet] [--steps N] [--data DIR] [--threads N]

Prints images/s (steady: the second half of the steps; whole: every step
including the first).  Without PyTorch: prints "SKIP: PyTorch not installed"
and exits 0."""
import argparse
import gzip
import os
import struct
import sys
import time


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            opener = gzip.open if p.endswith(".gz") else open
            with opener(p, "rb") as f:
                data = f.read()
            break
    else:
        raise FileNotFoundError(path + "[.gz]")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def resnet(nn, side):
    """crossdev's built-in resnet (host/spec/spec.c): conv-BN-ReLU, then per
    stage a block conv-BN-ReLU-conv-BN added to its input (a 1x1 strided
    projection where the block downsamples), ReLU; global average pooling;
    Linear(64, 10) (the softmax is the loss's)."""
    import torch

    def conv(cin, cout, k, stride, size):
        out = -(-size // stride)
        pad = max((out - 1) * stride + k - size, 0)  # Keras's "same": the odd one after
        layers = [nn.ZeroPad2d((pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))] if pad else []
        return nn.Sequential(*layers, nn.Conv2d(cin, cout, k, stride)), out

    def bn(c):
        return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)

    class Block(nn.Module):
        def __init__(self, cin, cout, stride, size):
            super().__init__()
            c1, size1 = conv(cin, cout, 3, stride, size)
            c2, _ = conv(cout, cout, 3, 1, size1)
            self.body = nn.Sequential(c1, bn(cout), nn.ReLU(), c2, bn(cout))
            self.proj = conv(cin, cout, 1, stride, size)[0] if stride != 1 else nn.Identity()
            self.size = size1

        def forward(self, x):
            return torch.relu(self.proj(x) + self.body(x))

    stem, size = conv(1, 16, 3, 1, side)
    blocks, c = [], 16
    for stage in range(3):
        blocks.append(Block(c, 16 << stage, 2 if stage else 1, size))
        c, size = 16 << stage, blocks[-1].size
    return nn.Sequential(stem, bn(16), nn.ReLU(), *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--model", default="seed-cnn", choices=["seed-cnn", "mnist-convnet", "resnet"])
    a = ap.parse_args()
    try:
        import torch
    except Exception:  # ImportError, or a broken install
        print("SKIP: PyTorch not installed")
        return 0
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dims, raw = read_idx(os.path.join(a.data, "train-images-idx3-ubyte"))
    _, lab = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte"))
    n, h, w = dims
    x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(n, 1, h, w).float() / 255.0
    y = torch.frombuffer(bytearray(lab), dtype=torch.uint8).long()
    nn = torch.nn
    if a.model == "seed-cnn":
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Flatten(), nn.Linear(32 * (h - 2) * (w - 2), 10))
    elif a.model == "resnet":
        model = resnet(nn, h)
    else:
        side = ((h - 2) // 2 - 2) // 2
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * side * side, 10))
    params = model.parameters()
    if a.model == "resnet":  # Keras's L2(1e-4) on every conv kernel: its gradient 2e-4 w, as weight decay
        convs = [m.weight for m in model.modules() if isinstance(m, nn.Conv2d)]
        rest = [p for p in model.parameters() if all(p is not c for c in convs)]
        params = [{"params": convs, "weight_decay": 2e-4}, {"params": rest}]
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7)
    lossf = torch.nn.CrossEntropyLoss()
    B = 32
    perm = torch.randperm(n)
    times = []
    t0 = time.perf_counter()
    for s in range(a.steps):
        idx = perm[(s * B) % (n - B + 1):][:B]
        ts = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        loss.item()
        times.append(time.perf_counter() - ts)
    whole = time.perf_counter() - t0
    half = sorted(times[a.steps // 2:])
    med = half[len(half) // 2] if half else float("nan")
    print(f"pytorch-bench: {a.model}, torch {torch.__version__}, {torch.get_num_threads()} threads, {a.steps} steps "
          f"of batch {B}")
    print(f"  steady {B / med:.1f} images/s (median step {med * 1e3:.2f} ms, second half)")
    print(f"  whole  {a.steps * B / whole:.1f} images/s (first step {times[0] * 1e3:.1f} ms), final loss {loss.item():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
