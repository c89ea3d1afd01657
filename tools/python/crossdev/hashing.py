"""XXH3-64 hashes as crossdev records them: of a tensor's float32 bytes,
written "xxh3:<16 lowercase hex>" (host/common/hash.c).

    >>> from crossdev.hashing import tensor_hash, hash_hex
    >>> hash_hex(tensor_hash(numpy.zeros(3, numpy.float32)))
    'xxh3:...'

The hash comes from the xxhash binding (Debian's python3-xxhash, PyPI's
xxhash).  Where the binding is absent (a virtual environment made without
it, such as tools/setup's Keras one), the same function is taken from
libxxhash itself through ctypes: the library crossdev's C code links, so
the two can never disagree.
"""
import ctypes
import ctypes.util
import os

import numpy as np

try:
    import xxhash as _xxhash
except ImportError:  # the ctypes path below
    _xxhash = None
if os.environ.get("CROSSDEV_HASH_BACKEND") == "libxxhash":  # the tests check that both agree
    _xxhash = None

__all__ = ["xxh3_64", "tensor_hash", "hash_hex", "Xxh3Stream", "backend", "batch_hash", "batch_labels", "tensors_hash"]


def _load_libxxhash():
    name = ctypes.util.find_library("xxhash") or "libxxhash.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError as e:
        raise ImportError("crossdev needs XXH3: install the xxhash binding (apt install python3-xxhash, or "
                          "pip install xxhash) or libxxhash") from e
    lib.XXH3_64bits.restype = ctypes.c_uint64
    lib.XXH3_64bits.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.XXH3_createState.restype = ctypes.c_void_p
    lib.XXH3_freeState.argtypes = [ctypes.c_void_p]
    lib.XXH3_64bits_reset.argtypes = [ctypes.c_void_p]
    lib.XXH3_64bits_update.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    lib.XXH3_64bits_digest.restype = ctypes.c_uint64
    lib.XXH3_64bits_digest.argtypes = [ctypes.c_void_p]
    return lib


_lib = None if _xxhash is not None else _load_libxxhash()


def backend() -> str:
    """"xxhash" (the binding) or "libxxhash" (ctypes)."""
    return "xxhash" if _xxhash is not None else "libxxhash"


def _contiguous_bytes(data):
    """A buffer over data's bytes: bytes as they are, an array in C order."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return data
    return np.ascontiguousarray(data)


def _pointer(buf):
    """(address, length) of a buffer's bytes, for libxxhash (readonly ones too)."""
    a = np.frombuffer(memoryview(buf).cast("B"), np.uint8)
    return (a.ctypes.data if a.size else None), a.size


def xxh3_64(data) -> int:
    """XXH3-64 (seed 0) of bytes or of an array's memory."""
    buf = _contiguous_bytes(data)
    if _xxhash is not None:
        return _xxhash.xxh3_64_intdigest(buf)
    return _lib.XXH3_64bits(*_pointer(buf))


def tensor_hash(a) -> int:
    """The hash crossdev records for a tensor: of its float32 bytes, C order,
    little-endian."""
    return xxh3_64(np.ascontiguousarray(a, dtype="<f4"))


def hash_hex(h: int) -> str:
    return "xxh3:%016x" % h


class Xxh3Stream:
    """XXH3-64 of a sequence of buffers, as if concatenated (the data
    checksum is one over four arrays)."""

    def __init__(self):
        if _xxhash is not None:
            self._h = _xxhash.xxh3_64()
        else:
            self._state = _lib.XXH3_createState()
            _lib.XXH3_64bits_reset(self._state)

    def update(self, data):
        buf = _contiguous_bytes(data)
        if _xxhash is not None:
            self._h.update(buf)
            return
        _lib.XXH3_64bits_update(self._state, *_pointer(buf))

    def intdigest(self) -> int:
        if _xxhash is not None:
            return self._h.intdigest()
        return _lib.XXH3_64bits_digest(self._state)

    def __del__(self):
        if _xxhash is None and getattr(self, "_state", None):
            _lib.XXH3_freeState(self._state)
            self._state = None


def tensors_hash(*arrays) -> int:
    """The hash of an op that writes several tensors (an update: the
    parameter, then its optimizer state m, v): XXH3-64 of their float32
    bytes one after the other."""
    h = Xxh3Stream()
    for a in arrays:
        h.update(np.ascontiguousarray(a, "<f4"))
    return h.intdigest()


def batch_labels(y) -> np.ndarray:
    """A batch's labels as crossdev hashes them: int32 class indices.
    Integer labels as they are; float labels holding whole numbers (a
    tf.data pipeline's) converted; one-hot rows (categorical
    cross-entropy) as the index of their 1; anything else (soft labels)
    as float32, which no class-index run will equal."""
    y = np.asarray(y)
    if y.dtype.kind in "iub":
        return np.ascontiguousarray(y.reshape(-1), "<i4")
    if y.ndim == 2 and y.shape[1] > 1 and np.all((y == 0) | (y == 1)) and np.all(y.sum(1) == 1):
        return np.ascontiguousarray(y.argmax(1), "<i4")
    flat = y.reshape(-1) if y.ndim <= 1 or y.shape[-1] == 1 else None
    if flat is not None and np.all(np.isfinite(flat)) and np.all(flat == np.round(flat)):
        return np.ascontiguousarray(flat, "<i4")
    return np.ascontiguousarray(y, "<f4")


def batch_hash(x, y, layout: str = "NHWC") -> int:
    """What a training step trained on, as trace.json's batch_hashes records
    it (crossdev's runs: host/train/dataset.c): XXH3-64 of the batch's
    inputs as float32 in (N, H, W, C) order, then its labels
    (batch_labels).  layout "NCHW" (PyTorch's images) is transposed
    first; inputs of another rank are hashed as they are."""
    x = np.asarray(x)
    if layout == "NCHW" and x.ndim == 4:
        x = x.transpose(0, 2, 3, 1)
    elif layout not in ("NHWC", "NCHW"):
        raise ValueError(f"layout {layout!r}: NHWC or NCHW")
    h = Xxh3Stream()
    h.update(np.ascontiguousarray(x, "<f4"))
    h.update(batch_labels(y))
    return h.intdigest()
