"""Writes the seed corpus of fuzz_npz, which test_npz also reads
(tests/fuzz/corpus/npz): tiny .npz data sets as numpy writes them, valid_*
(np.savez, np.savez_compressed; uint8, channels last, float32, float64,
int64 (N, 1) labels, an extra array) and invalid_* (each a refusal); and
wrap_*.bin, the four .npy files as fuzz_npz wraps them into an archive
itself (the lengths of the first three as 16-bit little-endian numbers,
then the files).
Pixel (i, h, w, c) of a set is (37 i + 11 h + 5 w + 3 c) % 256 (test images
from 100), label i is i % 3, which test_npz checks the decoding against.

    /usr/bin/python3 tests/python/make_npz_corpus.py tests/fuzz/corpus/npz
"""
import io
import os
import struct
import sys

import numpy as np


def images(n, h, w, c=None, first=0):
    i, y, x, ch = np.meshgrid(np.arange(first, first + n), np.arange(h), np.arange(w), np.arange(c or 1),
                              indexing="ij")
    a = ((37 * i + 11 * y + 5 * x + 3 * ch) % 256).astype(np.uint8)
    return a if c else a[..., 0]


def arrays(c=None):
    return dict(x_train=images(3, 4, 5, c), y_train=(np.arange(3) % 3).astype(np.uint8),
                x_test=images(2, 4, 5, c, first=100), y_test=(np.arange(2) % 3).astype(np.uint8))


def wrapped(a):
    """The four arrays as fuzz_npz's input that it wraps into an archive."""
    files = []
    for k in ("x_train", "y_train", "x_test", "y_test"):
        f = io.BytesIO()
        np.save(f, a[k])
        files.append(f.getvalue())
    return struct.pack("<3H", *(len(f) for f in files[:3])) + b"".join(files)


def main(out):
    os.makedirs(out, exist_ok=True)
    save = lambda name, a, z=False: (np.savez_compressed if z else np.savez)(os.path.join(out, name), **a)
    save("valid_u8.npz", arrays())
    a = arrays(2)
    a.update(y_train=a["y_train"].astype(np.int64).reshape(-1, 1), y_test=a["y_test"].astype(np.int64).reshape(-1, 1))
    save("valid_u8_hwc2_compressed.npz", a, z=True)
    a = arrays()
    a.update(x_train=a["x_train"].astype(np.float32) / 255, x_test=a["x_test"].astype(np.float32) / 255,
             y_train=a["y_train"].astype(np.int32), y_test=a["y_test"].astype(np.int32))
    save("valid_f32.npz", a)
    a = arrays()
    a.update(x_train=a["x_train"] / 255.0, x_test=a["x_test"] / 255.0, class_names=np.array([1.5, 2.5]))
    save("valid_f64_extra.npz", a)
    for name, change in [("one_hot", lambda a: a.update(y_train=np.eye(3, dtype=np.float32)[a["y_train"]])),
                         ("missing_y_test", lambda a: a.pop("y_test")),
                         ("float_labels", lambda a: a.update(y_test=a["y_test"].astype(np.float64))),
                         ("negative_label", lambda a: a.update(y_test=a["y_test"].astype(np.int32) - 1)),
                         ("count", lambda a: a.update(y_train=a["y_train"][:2])),
                         ("nan", lambda a: a.update(x_train=np.full((3, 4, 5), np.nan, np.float32),
                                                    x_test=np.zeros((2, 4, 5), np.float32))),
                         ("test_shape", lambda a: a.update(x_test=a["x_test"][:, :3])),
                         ("fortran", lambda a: a.update(x_train=np.asfortranarray(a["x_train"]))),
                         ("float16", lambda a: a.update(x_train=a["x_train"].astype(np.float16)))]:
        a = arrays()
        change(a)
        save(f"invalid_{name}.npz", a)
    np.savez(os.path.join(out, "invalid_positional.npz"), *arrays().values())
    for name, a in [("u8", arrays()), ("hwc2", arrays(2))]:
        with open(os.path.join(out, f"wrap_{name}.bin"), "wb") as f:
            f.write(wrapped(a))
    a = arrays()
    a.update(x_train=a["x_train"] / 255.0, x_test=a["x_test"] / 255.0, y_train=a["y_train"].astype(np.int64))
    with open(os.path.join(out, "wrap_f64.bin"), "wb") as f:
        f.write(wrapped(a))
    with open(os.path.join(out, "valid_u8.npz"), "rb") as f:
        whole = f.read()
    with open(os.path.join(out, "invalid_truncated.npz"), "wb") as f:
        f.write(whole[:len(whole) - 30])


if __name__ == "__main__":
    main(sys.argv[1])
