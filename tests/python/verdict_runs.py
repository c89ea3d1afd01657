"""Real Keras runs for the verdicts on users' runs (tests/scripts/test_verdicts_real.sh).

    python tests/python/verdict_runs.py make MODEL.keras
    python tests/python/verdict_runs.py fit MODEL.keras CROSSDEV-TRACE OUT (own-shuffle | trace-batches)
    python tests/python/verdict_runs.py seeded-fit CROSSDEV-TRACE OUT

make: the most common Keras CNN pattern (issue 21): Conv2D 5x5 same ->
BatchNormalization -> ReLU -> MaxPooling -> Dropout -> Conv2D ->
AveragePooling -> Flatten -> Dense -> Dense, SGD with Nesterov momentum,
saved with Keras's initial weights.
fit: model.fit of that file, recorded with TraceCallback, for as many
steps as the crossdev trace ran, on the data it names: own-shuffle lets
fit shuffle as it does by default (unseeded; the indices are not given:
the callback records each batch by content); trace-batches trains on the trace's batches.
seeded-fit: the question's "Example 2" under Keras 3: a model built after
tf.random.set_seed-style seeding of numpy alone (np.random.seed(42)), so
its initializers draw from Python's unseeded random, trained on the
trace's batches.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from crossdev.data import load_idx  # noqa: E402
from crossdev.keras import TraceCallback  # noqa: E402


def build():
    return keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(8, 5, padding="same"),
                             layers.BatchNormalization(), layers.ReLU(), layers.MaxPooling2D(2),
                             layers.Dropout(0.25), layers.Conv2D(16, 3), layers.AveragePooling2D(2),
                             layers.Flatten(), layers.Dense(32, activation="relu"),
                             layers.Dense(10, activation="softmax")], name="conv_bn")


def compile_(model):
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy")


def make(path):
    keras.utils.set_random_seed(1)
    model = build()
    compile_(model)
    model.save(path)


def trace_batches(trace):
    with open(os.path.join(trace, "trace.json")) as f:
        t = json.load(f)
    return t, np.load(os.path.join(trace, "batches.npy"))


def fit_model(model, trace, out, how):
    t, batches = trace_batches(trace)
    d = load_idx(t["data"]["source"])
    steps, batch = batches.shape
    if how == "own-shuffle":  # fit's default: shuffled each epoch, from its own (unseeded) generator
        x, y = d.nhwc(d.train_x)[:steps * batch], d.train_y[:steps * batch]
        cb = TraceCallback(out, seed=None, data_name=d.name, data=d.record())  # an unseeded run gives none
        model.fit(x, y, batch_size=batch, shuffle=True, epochs=1, verbose=0, callbacks=[cb])
    else:
        order = batches.reshape(-1)
        cb = TraceCallback(out, seed=t["seed"], data_name=d.name, indices=batches, data=d.record())
        model.fit(d.nhwc(d.train_x)[order], d.train_y[order], batch_size=batch, shuffle=False, epochs=1, verbose=0,
                  callbacks=[cb])
    print(f"verdict_runs: {steps} steps ({how}) -> {out}")


def seeded_fit(trace, out):
    np.random.seed(42)  # the question's Example 2 seeds numpy (and TensorFlow), not Python's random
    model = build()
    compile_(model)
    fit_model(model, trace, out, "trace-batches")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2])
    elif cmd == "fit":
        fit_model(keras.saving.load_model(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        seeded_fit(sys.argv[2], sys.argv[3])
