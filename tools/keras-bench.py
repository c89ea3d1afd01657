#!/usr/bin/env python3
"""Keras (3, JAX CPU backend) training throughput of crossdev's built-in
models, for tools/bench-models: the model from tests/fixtures/keras (its
to_json(), compiled as Keras's example is: Adam, sparse categorical
cross-entropy; resnet from resnet.keras, the built-in's architecture made
by real Keras), or seed-cnn built here (Conv2D(32,3) -> ReLU -> Flatten ->
Dense(10), from_logits=True); model.fit, batch 32, on Fashion-MNIST.

    build/pypi/keras/bin/python tools/keras-bench.py [--model seed-cnn|mnist-convnet|resnet] [--steps N] [--data DIR]

Prints images/s (steady: fit over the steps after a warm-up fit that
compiles; whole: the warm-up included)."""
import argparse
import gzip
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(path):
    raw = open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz").read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return dims, raw[4 + 4 * ndim:]


def build(name, keras):
    if name == "mnist-convnet":
        text = open(os.path.join(ROOT, "tests/fixtures/keras/mnist-convnet.json")).read()
        model = keras.models.model_from_json(text)
        model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
        return model
    if name == "resnet":
        model = keras.saving.load_model(os.path.join(ROOT, "tests/fixtures/keras/resnet.keras"), compile=False)
        model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
        return model
    layers = keras.layers
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Conv2D(32, 3, activation="relu"),
                              layers.Flatten(), layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(epsilon=1e-7),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="seed-cnn", choices=["seed-cnn", "mnist-convnet", "resnet"])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    import keras
    import numpy as np
    dims, raw = read_idx(os.path.join(a.data, "train-images-idx3-ubyte"))
    _, lab = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte"))
    x = np.frombuffer(raw, np.uint8).reshape(dims + [1]).astype(np.float32) / np.float32(255)
    y = np.frombuffer(lab, np.uint8).astype(np.int32)
    model = build(a.model, keras)
    B = 32
    n = min(a.steps * B, len(x))
    t0 = time.perf_counter()
    model.fit(x[:20 * B], y[:20 * B], batch_size=B, epochs=1, verbose=0, shuffle=False)  # compiles
    t1 = time.perf_counter()
    model.fit(x[:n], y[:n], batch_size=B, epochs=1, verbose=0)
    t2 = time.perf_counter()
    print(f"keras-bench: {a.model}, keras {keras.__version__} ({keras.backend.backend()}), {n // B} steps of batch {B}")
    print(f"  steady {n / (t2 - t1):.1f} images/s")
    print(f"  whole  {(n + 20 * B) / (t2 - t0):.1f} images/s (warm-up and compile {t1 - t0:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
