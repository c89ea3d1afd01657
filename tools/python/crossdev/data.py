"""The data a trace names, decoded as crossdev decodes it
(host/train/dataset.c, host/io/npz.c): MNIST-format IDX files in a folder
(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-..., plain or
.gz), images (count, rows, cols) or (count, rows, cols, channels) as
float32 x/255 in NCHW, labels int32; or an .npz holding x_train, y_train,
x_test, y_test (uint8 images x/255, float32 as stored, float64 rounded to
float32; integer labels (N,) or (N, 1)); and the checksum crossdev records
(XXH3-64 over the decoded train images, train labels, test images, test
labels), so that a replay can tell it trains on the trace's data.

    >>> d = load_idx("/usr/share/datasets/fashion-mnist")
    >>> d.train_x.shape, d.record()["checksum"]
    ((60000, 1, 28, 28), 'xxh3:735886ccf8ef88aa')
"""
import gzip
import os
from typing import Tuple

import numpy as np

from .hashing import Xxh3Stream, hash_hex

__all__ = ["read_idx", "load_idx", "load_npz", "load_data", "Dataset"]

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def read_idx(path: str) -> np.ndarray:
    """An unsigned-byte IDX file (or path + ".gz") as a uint8 array."""
    if os.path.exists(path):
        with open(path, "rb") as f:
            raw = f.read()
    elif os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as f:
            raw = f.read()
    else:
        raise FileNotFoundError(f"{path}(.gz): no such file")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, count=int(np.prod(dims)), offset=4 + 4 * ndim).reshape(dims)


def _images_nchw(img: np.ndarray) -> np.ndarray:
    """uint8 x/255.0f (one correctly rounded float32 division), float32 as
    stored, float64 rounded to float32; in NCHW."""
    x = img[:, None] if img.ndim == 3 else img.transpose(0, 3, 1, 2)
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x.astype(np.float32) / np.float32(255.0))
    return np.ascontiguousarray(x.astype(np.float32))


SCALES = {np.dtype(np.uint8): "x/255", np.dtype(np.float32): "as stored (float32)",
          np.dtype(np.float64): "float64 rounded to float32"}


class Dataset:
    """A decoded IDX folder: train_x/test_x float32 NCHW, train_y/test_y int32."""

    def __init__(self, source: str, train: Tuple[np.ndarray, np.ndarray], test: Tuple[np.ndarray, np.ndarray],
                 name: str = None, scale: str = "x/255"):
        self.source = source
        self.name = name or ("fashion-mnist" if "fashion" in source else "mnist-format")
        self.scale = scale
        self.train_x, self.train_y = train
        self.test_x, self.test_y = test
        h = Xxh3Stream()
        for a in (self.train_x, self.train_y, self.test_x, self.test_y):
            h.update(a)
        self.checksum = hash_hex(h.intdigest())

    def nhwc(self, x: np.ndarray) -> np.ndarray:
        """Images in Keras's (N, H, W, C)."""
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))

    def record(self) -> dict:
        """trace.json's `data`, fields in the C writer's order."""
        _, c, h, w = self.train_x.shape
        classes = int(max(self.train_y.max(), self.test_y.max())) + 1
        return {"name": self.name, "source": self.source, "synthetic": False, "scale": self.scale,
                "checksum": self.checksum, "n_train": int(self.train_x.shape[0]), "n_test": int(self.test_x.shape[0]),
                "height": int(h), "width": int(w), "channels": int(c), "classes": classes}


def load_idx(folder: str) -> Dataset:
    """The four IDX files of a folder, decoded; the source is named as given."""
    missing = [f for f in FILES if not any(os.path.exists(os.path.join(folder, f + z)) for z in ("", ".gz"))]
    if missing:
        raise FileNotFoundError(f"{folder}: a data folder holds the four train-/t10k- IDX files; missing: "
                                + ", ".join(missing))
    arrays = [read_idx(os.path.join(folder, f)) for f in FILES]
    for img, lbl, f in ((arrays[0], arrays[1], FILES[0]), (arrays[2], arrays[3], FILES[2])):
        if img.ndim not in (3, 4) or lbl.ndim != 1 or img.shape[0] != lbl.shape[0]:
            raise ValueError(f"{folder}/{f}: images (count, rows, cols[, channels]) with as many labels")
    return Dataset(folder, (_images_nchw(arrays[0]), arrays[1].astype(np.int32)),
                   (_images_nchw(arrays[2]), arrays[3].astype(np.int32)))


def load_npz(path: str) -> Dataset:
    """An .npz data set as crossdev reads it (the checks crossdev makes,
    briefly: it names the file and the array in full)."""
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in z.files]
        if missing:
            raise ValueError(f"{path}: no array {missing[0]}; it holds: {', '.join(z.files)}")
        a = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    sets = []
    for x, y in (("x_train", "y_train"), ("x_test", "y_test")):
        img, lbl = a[x], a[y]
        if img.dtype not in SCALES or img.ndim not in (3, 4) or img.dtype != a["x_train"].dtype:
            raise ValueError(f"{path}: {x} is {img.dtype} {img.shape}: images (count, rows, cols[, channels]) "
                             f"of uint8, float32 or float64, as x_train")
        if lbl.dtype.kind not in "iu" or lbl.shape not in ((len(img),), (len(img), 1)) or (lbl < 0).any():
            raise ValueError(f"{path}: {y} is {lbl.dtype} {lbl.shape}: class indices from 0, (count,) or (count, 1)")
        sets.append((_images_nchw(img), lbl.reshape(-1).astype(np.int32)))
    return Dataset(path, sets[0], sets[1], name="npz", scale=SCALES[a["x_train"].dtype])


def load_data(path: str) -> Dataset:
    """--data PATH as crossdev takes it: an .npz file, or a folder of IDX files."""
    return load_idx(path) if os.path.isdir(path) else load_npz(path)
