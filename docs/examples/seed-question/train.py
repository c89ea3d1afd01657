"""The question crossdev exists to answer -- "Why do tf.keras.layers.Conv2D
results vary across runs?" -- as its asker trains: a Conv2D, ReLU, Flatten,
Dense(10) model, Adam, Fashion-MNIST, model.fit with its own shuffle.
Options select the question's examples and their fixes; the script is run
unchanged under crossdev.record (walkthrough.sh).

    python train.py [--seeding none|tf-np|tf-np-determinism|keras] [--threads N] [--loss as-written|fixed]

--seeding none: Example 1 (no seeds); tf-np: Example 2
(tf.random.set_seed(42); np.random.seed(42)); tf-np-determinism: Example 3
(and tf.config.experimental.enable_op_determinism()); keras: the fix under
Keras 3 (keras.utils.set_random_seed(42), which also seeds Python's random,
and op determinism).  --loss as-written: the question's
SparseCategoricalCrossentropy() on the linear Dense(10) (probabilities
expected, logits given); fixed: from_logits=True.  --threads: TensorFlow's
intra-op threads.  Data: Fashion-MNIST from Debian's dataset-fashion-mnist
(tf.keras.datasets would download it), the first 640 training and 500 test
images, one epoch of batch 32.
"""
import argparse

import numpy as np
import tensorflow as tf

from crossdev.data import load_idx

ap = argparse.ArgumentParser()
ap.add_argument("--seeding", default="none", choices=("none", "tf-np", "tf-np-determinism", "keras"))
ap.add_argument("--threads", type=int, default=0)
ap.add_argument("--loss", default="as-written", choices=("as-written", "fixed"))
args = ap.parse_args()
if args.threads:
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
if args.seeding in ("tf-np", "tf-np-determinism"):
    tf.random.set_seed(42)
    np.random.seed(42)
if args.seeding == "keras":
    tf.keras.utils.set_random_seed(42)
if args.seeding in ("tf-np-determinism", "keras"):
    tf.config.experimental.enable_op_determinism()

d = load_idx("/usr/share/datasets/fashion-mnist")
x_train, y_train = d.nhwc(d.train_x)[:640], d.train_y[:640]
x_test, y_test = d.nhwc(d.test_x)[:500], d.test_y[:500]
model = tf.keras.Sequential([tf.keras.Input((28, 28, 1)), tf.keras.layers.Conv2D(32, (3, 3), activation="relu"),
                             tf.keras.layers.Flatten(), tf.keras.layers.Dense(10)])
model.compile(optimizer="adam",
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=args.loss == "fixed"),
              metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=1, verbose=0, validation_data=(x_test, y_test))
