"""What the Keras tap (crossdev.keras_tap) records, on the backend this
Keras runs (tests/scripts/test_keras_traces.sh: JAX; test_tensorflow.sh:
TensorFlow).

    python tests/python/keras_tap_check.py OUT

The same seeded fit (fit's own shuffle, a Conv2D -> BatchNormalization ->
Flatten -> Dense model, Adam) twice: with crossdev.keras.TraceCallback
given the training arrays, and without any callback.  Checks, one line
each ("ok" or "FAIL"): the recorded fit ends bit for bit on the weights
of the fit without a recorder (the taps only read what the step
computes); the trace's last snapshot holds those weights; every step has
its batch contents and indices, each index row hashing (from the arrays,
independently) to the recorded contents, every sample once; the ops are
crossdev's names, none missing.  Exit 1 on any FAIL.
"""
import json
import os
import sys

import keras
import numpy as np

from crossdev.data import load_idx
from crossdev.hashing import batch_hash, hash_hex
from crossdev.keras import TraceCallback
from crossdev.layout import crossdev_params
from crossdev.trace import load_snapshot

N, BATCH = 256, 32


def fit(x, y, out):
    keras.utils.set_random_seed(4)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        tf.config.experimental.enable_op_determinism()  # so that only the tap could make the runs differ
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, activation="relu", name="conv2d"),
                              keras.layers.BatchNormalization(name="batch_normalization"),
                              keras.layers.Flatten(name="flatten"), keras.layers.Dense(10, name="dense")])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    cbs = [TraceCallback(out, seed=None, data_name="fashion-mnist", train_data=(x, y))] if out else []
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=cbs)
    return dict(crossdev_params(model))


def main(out):
    d = load_idx("/usr/share/datasets/fashion-mnist")
    x, y = d.nhwc(d.train_x)[:N], d.train_y[:N]
    recorded, plain = fit(x, y, out), fit(x, y, None)
    t = json.load(open(os.path.join(out, "trace.json")))
    rows = np.load(os.path.join(out, "batches.npy"))
    last = load_snapshot(out, t["steps"], list(plain))
    ops = t["op_hashes"]["ops"] if t["op_hashes"] else []
    checks = [
        ("the recorded fit ends bit for bit where the fit without a recorder does",
         all(np.array_equal(recorded[n], plain[n]) for n in plain)),
        ("the trace's last snapshot holds those weights", all(np.array_equal(last[n], plain[n]) for n in plain)),
        ("every step's batch contents recorded", len(t.get("batch_hashes") or []) == t["steps"] == N // BATCH),
        ("the indices found hash to the recorded contents",
         [hash_hex(batch_hash(x[r], y[r])) for r in rows] == t.get("batch_hashes")),
        ("fit's shuffle: each sample once, not in order",
         sorted(rows.reshape(-1).tolist()) == list(range(N)) and rows.reshape(-1).tolist() != list(range(N))),
        ("the ops under crossdev's names", ops == ["conv2d.activation", "batch_normalization.forward",
                                                   "dense.forward", "dense.backward_weights", "dense.backward_bias",
                                                   "batch_normalization.backward_gamma",
                                                   "batch_normalization.backward_beta", "conv2d.backward_weights",
                                                   "conv2d.backward_bias"]),
        ("no op missing at any step", all(h != "xxh3:0000000000000000" for r in t["op_hashes"]["steps"] for h in r)),
    ]
    for what, ok in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {keras.backend.backend()}: {what}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
