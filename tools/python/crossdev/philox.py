"""crossdev's Philox4x32-10 stream and dropout masks in numpy
(cl/xd_math.h: xd_philox_word, xd_dropout_keep; docs/models.md, "Dropout
masks"), so that a framework replaying a crossdev trace drops exactly the
elements crossdev dropped.

    >>> keep = dropout_keep(seed=42, layer=5, step=1, n=32 * 1600, rate=0.5)
    >>> keep.shape, keep.dtype
    ((51200,), dtype('bool'))

The mask is in crossdev's element order: NCHW for an image, (C, H, W)
flattened for features after a Flatten (crossdev.layout.keras_mask_order
puts it in Keras's order).
"""
import numpy as np

__all__ = ["philox4x32_10", "philox_words", "dropout_stream", "dropout_keep", "dropout_scale"]

_M32 = np.uint64(0xFFFFFFFF)
_DROP = 0x44524F50  # "DROP"


def philox4x32_10(counters, key) -> np.ndarray:
    """Philox4x32-10 (Salmon et al., SC'11; cl/xd_math.h xd_philox4x32_10)
    of each row of `counters` ((n, 4) 32-bit words, or one row of 4) under
    key (k0, k1): the (n, 4) output words, uint32."""
    c = np.asarray(counters, dtype=np.uint64).reshape(-1, 4) & _M32
    c = [c[:, 0], c[:, 1], c[:, 2], c[:, 3]]
    k0, k1 = int(key[0]) & 0xFFFFFFFF, int(key[1]) & 0xFFFFFFFF
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        c = [((p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0)) & _M32, p1 & _M32,
             ((p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1)) & _M32, p0 & _M32]
        k0 = (k0 + 0x9E3779B9) & 0xFFFFFFFF
        k1 = (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return np.stack(c, axis=1).astype(np.uint32)


def philox_words(seed: int, stream: int, n: int) -> np.ndarray:
    """Words 0..n-1 of the stream: word j is word j%4 of the block with
    counter (j/4 low, j/4 high, stream low, stream high) under the key
    (seed low, seed high)."""
    blocks = (n + 3) // 4
    b = np.arange(blocks, dtype=np.uint64)
    ctr = np.stack([b & _M32, b >> np.uint64(32), np.full(blocks, stream & 0xFFFFFFFF, np.uint64),
                    np.full(blocks, (stream >> 32) & 0xFFFFFFFF, np.uint64)], axis=1)
    return philox4x32_10(ctr, (seed, seed >> 32)).reshape(-1)[:n]


def dropout_stream(layer: int, step: int) -> int:
    """"DROP" << 32 | layer << 24 | step (modulo 2^24); layer: the layer's
    index in the model spec, from 0 after the input."""
    return (_DROP << 32) | (layer << 24) | (step & 0xFFFFFF)


def dropout_scale(rate: float) -> np.float32:
    """(float)(1 - rate): the keep threshold, and the divisor of kept values."""
    return np.float32(1.0 - rate)


def dropout_keep(seed: int, layer: int, step: int, n: int, rate: float) -> np.ndarray:
    """The kept elements of a Dropout at a training step: (w >> 8) 2^-24 <
    (float)(1 - rate), in crossdev's element order."""
    u = (philox_words(seed, dropout_stream(layer, step), n) >> 8).astype(np.float32) * np.float32(2.0 ** -24)
    return u < dropout_scale(rate)
