"""The .npy files of a trace, written byte for byte as crossdev's C writer
writes them (host/io/npy.c, itself numpy >= 1.24's format 1.0 header): the
dict "{'descr': '<f4', 'fortran_order': False, 'shape': (a, b), }", room
for the first axis to grow to 21 digits, spaces up to a multiple of 64
bytes, a newline; then the elements little-endian in C order.  Reading is
numpy.load's.

    >>> write_npy("w.npy", numpy.zeros((2, 3), numpy.float32))
"""
import numpy as np

__all__ = ["npy_bytes", "write_npy"]

_DESCR = {np.dtype("<f4"): "<f4", np.dtype("<i4"): "<i4"}
_GROWTH_AXIS_DIGITS = 21


def _header(descr: str, shape) -> bytes:
    dims = ", ".join(str(int(d)) for d in shape) + ("," if len(shape) == 1 else "")
    text = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
    if len(shape) > 0:
        text += " " * max(0, _GROWTH_AXIS_DIGITS - len(str(int(shape[0]))))
    while (10 + len(text) + 1) % 64:
        text += " "
    text += "\n"
    n = len(text)
    return b"\x93NUMPY\x01\x00" + bytes([n & 0xFF, n >> 8]) + text.encode("ascii")


def npy_bytes(a) -> bytes:
    """The file's bytes for a float32 or int32 array (other dtypes refused:
    a trace holds only these)."""
    a = np.asarray(a)
    dt = a.dtype.newbyteorder("<") if a.dtype.byteorder not in ("<", "=", "|") else a.dtype
    if dt.kind == "f" and dt.itemsize == 4:
        dt = np.dtype("<f4")
    elif dt.kind == "i" and dt.itemsize == 4:
        dt = np.dtype("<i4")
    else:
        raise TypeError(f"a trace's .npy holds float32 or int32, not {a.dtype}")
    body = np.asarray(a, dtype=dt, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
    return _header(_DESCR[dt], body.shape) + body.tobytes()


def write_npy(path: str, a) -> None:
    """Writes a new file (an existing one is an error, as in a fresh trace)."""
    data = npy_bytes(a)
    with open(path, "xb") as f:
        f.write(data)
