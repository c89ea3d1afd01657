"""MNIST-format IDX data of another shape, learnable: class templates plus
noise (tests/scripts/test_keras_training.sh, test_torch_traces.sh).

    python3 tests/python/make_idx.py DIR [H W C CLASSES]

Default 12x12x3 images (channels last in the IDX file), 5 classes, 4096
training and 1024 test samples, seed 7.
"""
import os
import struct
import sys

import numpy as np


def main():
    d = sys.argv[1]
    h, w, c, k = (int(v) for v in sys.argv[2:6]) if len(sys.argv) > 5 else (12, 12, 3, 5)
    os.makedirs(d)
    rng = np.random.default_rng(7)
    templ = rng.integers(0, 256, (k, h, w, c))
    for prefix, n in (("train", 4096), ("t10k", 1024)):
        y = rng.integers(0, k, n).astype(np.uint8)
        x = np.clip(templ[y] * 0.5 + rng.integers(0, 128, (n, h, w, c)), 0, 255).astype(np.uint8)
        with open(f"{d}/{prefix}-images-idx3-ubyte", "wb") as f:
            f.write(struct.pack(">IIIII", 0x804, n, h, w, c) + x.tobytes())
        with open(f"{d}/{prefix}-labels-idx1-ubyte", "wb") as f:
            f.write(struct.pack(">II", 0x801, n) + y.tobytes())


if __name__ == "__main__":
    main()
