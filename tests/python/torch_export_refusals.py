"""crossdev.torch.export refuses what crossdev does not train, naming the
module (its qualified name) or the call and the option, and writes no file
(tests/scripts/test_torch_export.sh).  Also: the names and fields of what
it does export.  Exit 1 on any case that is not refused as expected.

    python3 torch_export_refusals.py WORK-DIR
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from crossdev.torch import ExportError, export

X = torch.zeros(2, 1, 8, 8)


class Wrap(nn.Module):
    """body(x) then a Linear on its flattened output (the shape found by a dry run)."""

    def __init__(self, body, fn=None):
        super().__init__()
        self.body, self.fn = body, fn
        with torch.no_grad():
            n = self._features(X).shape[1]
        self.head = nn.Linear(n, 10)

    def _features(self, x):
        x = self.body(x)
        return torch.flatten(self.fn(x) if self.fn else x, 1)

    def forward(self, x):
        return self.head(self._features(x))


class Cat(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(4 * 36, 10)

    def forward(self, x):
        y = self.conv(x)
        return self.fc(torch.flatten(torch.cat([y, y], 1), 1))


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.conv(self.conv(x)), 1))


class AddScalar(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x + 1.0, 1))


def sgd(m, **kw):
    return torch.optim.SGD(m.parameters(), lr=0.1, **kw)


CASES = [  # (what, model, optimizer or None for SGD, words the message must hold)
    ("dilation", Wrap(nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2))), None, ["body.0", "dilation"]),
    ("groups", Wrap(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3, groups=2))), None, ["body.1", "groups"]),
    ("padding_mode", Wrap(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"))), None,
     ["body.0", "padding_mode"]),
    ("padding as large as the kernel", Wrap(nn.Sequential(nn.Conv2d(1, 2, 1, padding=1))), None,
     ["body.0", "padding"]),
    ("ceil_mode", Wrap(nn.Sequential(nn.MaxPool2d(2, ceil_mode=True))), None, ["body.0", "ceil_mode"]),
    ("count_include_pad", Wrap(nn.Sequential(nn.AvgPool2d(3, 1, padding=1))), None, ["body.0", "count_include_pad"]),
    ("pool dilation", Wrap(nn.Sequential(nn.MaxPool2d(2, dilation=2))), None, ["body.0", "dilation"]),
    ("a module class", Wrap(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sigmoid())), None, ["body.1", "Sigmoid"]),
    ("Dropout2d", Wrap(nn.Sequential(nn.Dropout2d(0.2))), None, ["body.0", "Dropout2d"]),
    ("BatchNorm track_running_stats off", Wrap(nn.Sequential(nn.BatchNorm2d(1, track_running_stats=False))), None,
     ["body.0", "track_running_stats"]),
    ("BatchNorm cumulative", Wrap(nn.Sequential(nn.BatchNorm2d(1, momentum=None))), None, ["body.0", "momentum"]),
    ("AdaptiveAvgPool2d(2)", Wrap(nn.Sequential(nn.AdaptiveAvgPool2d(2))), None, ["body.0", "output_size"]),
    ("torch.cat", Cat(), None, ["cat"]),
    ("a function", Wrap(nn.Sequential(nn.Conv2d(1, 2, 3)), torch.sigmoid), None, ["sigmoid"]),
    ("an addition of a number", AddScalar(), None, ["add", "number"]),
    ("a module called twice", Shared(), None, ["conv", "called twice"]),
    ("SGD weight_decay", Wrap(nn.Sequential(nn.Conv2d(1, 2, 3))), lambda m: sgd(m, weight_decay=1e-4),
     ["SGD", "weight_decay"]),
    ("SGD dampening", Wrap(nn.Sequential(nn.Conv2d(1, 2, 3))), lambda m: sgd(m, momentum=0.9, dampening=0.1),
     ["SGD", "dampening"]),
    ("Adam amsgrad", Wrap(nn.Sequential(nn.Conv2d(1, 2, 3))),
     lambda m: torch.optim.Adam(m.parameters(), amsgrad=True), ["Adam", "amsgrad"]),
    ("RMSprop", Wrap(nn.Sequential(nn.Conv2d(1, 2, 3))), lambda m: torch.optim.RMSprop(m.parameters()),
     ["RMSprop", "not supported"]),
]


def main():
    work = sys.argv[1]
    bad = 0
    for i, (what, model, make_opt, words) in enumerate(CASES):
        out = os.path.join(work, f"refused-{i}.xdmodel")
        try:
            export(model, X, (make_opt or sgd)(model), out)
            print(f"FAIL: {what}: exported, not refused")
            bad += 1
            continue
        except ExportError as e:
            msg = str(e)
        missing = [w for w in words if w not in msg]
        if missing or os.path.exists(out) or os.path.exists(out + ".tmp"):
            print(f"FAIL: {what}: {msg!r} lacks {missing} or a file was left")
            bad += 1
        else:
            print(f"refused: {what}: {msg.split(' (crossdev trains')[0]}")
    print(f"torch_export_refusals: {len(CASES) - bad} of {len(CASES)} refused as expected")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
