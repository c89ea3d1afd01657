"""A Keras user's model.fit recorded with crossdev.keras.TraceCallback
(tests/scripts/test_keras_traces.sh).

    python tests/python/keras_fit.py make MODEL.keras
    python tests/python/keras_fit.py fit MODEL.keras CROSSDEV-TRACE OUT [FAIL-AT]

make: a small convnet with BatchNormalization and a softmax output, Keras's
Adam and sparse_categorical_crossentropy (from probabilities), no dropout
(Keras's masks come from its own RNG), saved with Keras's initial weights.
fit: trains the file with fit() on the batches crossdev's trace drew
(its batches.npy, shuffle=False) from the data the trace names, one epoch
of that many steps, recorded in OUT; FAIL-AT: a callback raises after that
step (nothing may be published).
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from crossdev.data import load_idx  # noqa: E402
from crossdev.keras import TraceCallback  # noqa: E402


def make(path):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3, activation="relu"),
                              keras.layers.MaxPooling2D(2), keras.layers.BatchNormalization(),
                              keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")], name="fit_cnn")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    model.save(path)


class Fail(keras.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.step:
            raise RuntimeError(f"stopped after step {self.step}")


def fit(path, trace, out, fail_at=0):
    with open(os.path.join(trace, "trace.json")) as f:
        t = json.load(f)
    batches = np.load(os.path.join(trace, "batches.npy"))
    d = load_idx(t["data"]["source"])
    model = keras.saving.load_model(path)
    order = batches.reshape(-1)
    model.fit(d.nhwc(d.train_x)[order], d.train_y[order], batch_size=batches.shape[1], shuffle=False, epochs=1,
              verbose=0, callbacks=[TraceCallback(out, seed=t["seed"], data_name=d.name, indices=batches,
                                                  data=d.record())] + ([Fail(int(fail_at))] if fail_at else []))
    print(f"keras_fit: {len(batches)} steps, epoch loss {model.history.history['loss'][0]:.6f} -> {out}")


if __name__ == "__main__":
    make(sys.argv[2]) if sys.argv[1] == "make" else fit(*sys.argv[2:6])
