"""What a run's random generators held when its recording began
(trace.json's producer.seeding, docs/trace-format.md), so that `diff` can
say why two runs drew other initial weights, batches or dropout masks.

    >>> from crossdev.seeding import seeding_record
    >>> seeding_record()["python_random"]
    'xxh3:...'

Recorded: a hash of Python's `random` state and of numpy's global state
(two runs seeded alike hold the same state at the same point of the same
script; unseeded, they differ), and the framework seeds that can be read:
Keras's global seed (keras.utils.set_random_seed; null when never set),
TensorFlow's global seed (tf.random.set_seed; null when never set),
PyTorch's initial seed.  Frameworks are read only where the script
imported them: recording imports nothing.
"""
import random
import sys
from typing import Optional

import numpy as np

from .hashing import hash_hex, xxh3_64

__all__ = ["seeding_record"]


def _state_hash(obj) -> str:
    return hash_hex(xxh3_64(repr(obj).encode()))


def _numpy_state() -> str:
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return hash_hex(xxh3_64(np.ascontiguousarray(keys).tobytes() + repr((name, pos, has_gauss, gauss)).encode()))


def _keras_seed() -> Optional[int]:
    try:
        from keras.src.backend.common import global_state
        return global_state.get_global_attribute("global_random_seed")
    except Exception:  # another Keras layout: not readable, said as null
        return None


def _tf_seed() -> Optional[int]:
    try:
        tf = sys.modules["tensorflow"]
        return tf.compat.v1.random.get_seed(None)[0]
    except Exception:
        return None


def seeding_record() -> dict:
    """producer.seeding now: python_random and numpy_random state hashes,
    and the seeds of the frameworks this process imported."""
    rec = {"python_random": _state_hash(random.getstate()), "numpy_random": _numpy_state()}
    if "keras" in sys.modules:
        rec["keras_seed"] = _keras_seed()
    if "tensorflow" in sys.modules:
        rec["tf_global_seed"] = _tf_seed()
    if "torch" in sys.modules:
        rec["torch_initial_seed"] = str(sys.modules["torch"].initial_seed())
    return rec
