"""Writes the seed corpus of fuzz_crossdev_model (tests/fuzz/corpus/crossdev_model):
small modules exported by crossdev.torch.export, each as the archive itself
(*.xdmodel) and as fuzz_crossdev_model wraps one into an archive (wrap_*.bin:
the manifest, a NUL, then per entry its name, a NUL, a 16-bit little-endian
length and the bytes), so that mutations reach the readers behind the CRCs.

    PYTHONPATH=tools/python /usr/bin/python3 tests/python/make_crossdev_model_corpus.py tests/fuzz/corpus/crossdev_model
"""
import os
import struct
import sys
import zipfile

import torch
import torch.nn as nn

from crossdev.torch import export


class Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(2)
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.short = nn.Conv2d(1, 2, 1)
        self.fc = nn.Linear(2, 3)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        return self.fc(torch.flatten(self.gap(self.pool(y + self.short(x))), 1))


def models():
    torch.manual_seed(1)
    chain = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.25), nn.Linear(2 * 2 * 2, 3))
    yield "chain-sgd", chain, torch.optim.SGD(chain.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    res = Res()
    yield "residual-adam", res, torch.optim.Adam(res.parameters(), lr=1e-3)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, model, opt in models():
        path = os.path.join(out, name + ".xdmodel")
        export(model, torch.zeros(1, 1, 8, 8), opt, path)
        with zipfile.ZipFile(path) as z:
            blob = z.read("crossdev-model.json") + b"\0"
            for n in z.namelist():
                if n != "crossdev-model.json":
                    data = z.read(n)
                    blob += n.encode() + b"\0" + struct.pack("<H", len(data)) + data
        with open(os.path.join(out, f"wrap_{name}.bin"), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    main()
