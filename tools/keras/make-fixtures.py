#!/usr/bin/env python3
"""Makes the Keras test fixtures of tests/fixtures/keras/ with real Keras.

    build/pypi/keras/bin/python tools/keras/make-fixtures.py tests/fixtures/keras tests/fuzz/corpus

Valid models (.keras archives, a model.to_json() file, a separate
.weights.h5), each with its weights in crossdev's layout as .npy under
expected/<fixture>/ (crossdev/layout.py in tools/python, numpy transposes of the
weights Keras holds in memory), and invalid ones that crossdev must refuse
naming the file, the layer and the option.  manifest.json lists them all
with what the C test (tests/test_keras.c) checks: for a valid model the
output shape Keras gives each layer, the parameters, loss and optimizer; for
an invalid one the status and the words the message must contain.

Every weight is set to seeded random values (BatchNormalization's moving
statistics included), so that a wrong permutation cannot go unnoticed.
Regenerating changes the archives' bytes (Keras records the date) but not
their content.
"""
import json
import os
import shutil
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from crossdev import layout  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/keras"
CORPUS = sys.argv[2] if len(sys.argv) > 2 else None  # tests/fuzz/corpus: also write seeds there
# Not made here: the README, and a file fuzz_h5 found that crashes HDF5 1.10.8
# (a NULL read in H5F__accum_read), kept to check that crossdev refuses it.
KEPT = ("README.md", "hdf5-crash.weights.h5")
MANIFEST = {"keras_version": keras.__version__, "valid": [], "invalid": []}


def randomize(model, seed):
    """Seeded values for every weight, multiples of 1/128 in [-1, 1) (exact in
    float32, and compressible in git), variances positive."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for v in layer.weights:
            a = (rng.integers(-128, 128, size=v.shape) / 128).astype(np.float32)
            if "variance" in v.path:
                a = np.abs(a) + np.float32(0.5)
            values.append(a)
        layer.set_weights(values)


def shape_of(layer):
    return [int(d) for d in layer.output.shape[1:]]


def record_valid(key, model, file, weights=None):
    """The manifest entry and expected/<key>/<param>.npy (none for a
    model.to_json() file given without weights: it has none)."""
    exp = os.path.join(OUT, "expected", key)
    params = layout.crossdev_params(model) if weights or not file.endswith(".json") else []
    if params:
        os.makedirs(exp, exist_ok=True)
    for name, a in params:
        np.save(os.path.join(exp, name + ".npy"), a)
    opt = model.optimizer.get_config() if getattr(model, "optimizer", None) is not None else None
    schedule = None
    if opt is not None and isinstance(opt["learning_rate"], dict):  # a schedule: lr is its starting rate
        c = opt["learning_rate"]["config"]
        schedule = {"class": opt["learning_rate"]["class_name"], **{k: v for k, v in c.items() if k != "name"}}
        opt = dict(opt, learning_rate=c["values"][0] if "values" in c else c["initial_learning_rate"])
    MANIFEST["valid"].append({
        "file": file,
        "weights": weights,
        "name": model.name,
        "input": [int(d) for d in model.inputs[0].shape[1:]],
        "layers": [dict({"name": l.name, "class": type(l).__name__, "output": shape_of(l)}, **regularizers(l))
                   for l in model.layers if type(l).__name__ != "InputLayer"],  # a functional model lists its input
        "params": [{"name": n, "shape": list(a.shape)} for n, a in params],
        "expected": "expected/" + key,
        "from_logits": bool(getattr(getattr(model, "loss", None), "from_logits", False)),
        "optimizer": None if opt is None else {k: opt[k] for k in
                                               ("learning_rate", "beta_1", "beta_2", "epsilon", "momentum", "nesterov")
                                               if k in opt},
    })
    if schedule:
        MANIFEST["valid"][-1]["optimizer"]["schedule"] = schedule


def regularizers(layer):
    """A layer's L2 factors, where it has regularizers (the manifest's other entries stay as they were)."""
    out = {}
    for key, attr in (("kernel_l2", "kernel_regularizer"), ("bias_l2", "bias_regularizer")):
        r = getattr(layer, attr, None)
        if r is not None:
            out[key] = float(r.l2)
    return out


def fresh():
    keras.backend.clear_session()  # Keras's layer names start again (conv2d, conv2d_1, ...)
    keras.utils.set_random_seed(1)


def mnist_convnet():
    """Keras's classic example, keras.io/examples/vision/mnist_convnet."""
    fresh()
    m = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    m.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return m


def _all_layers_list(kernel):
    return [
        layers.Conv2D(6, kernel, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(pool_size=3, strides=2, padding="same"),
        layers.Conv2D(8, (3, 2), strides=2, padding="valid", use_bias=False),
        layers.ReLU(),
        layers.AveragePooling2D(pool_size=(1, 2), strides=1, padding="same"),
        layers.Flatten(),
        layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
        layers.Dropout(0.25),
        layers.Dense(7, activation="relu", kernel_initializer="he_uniform"),
        layers.Activation("linear"),
        layers.Dense(5),
        layers.Activation("softmax"),
    ]


def _all_layers_compile(m):
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False))
    return m


def all_layers(kernel=3):
    """Every supported layer and option on a small input: padding same and
    valid, strides 2, a non-square kernel, both poolings, BatchNormalization
    after a conv and after a Flatten, Dropout, ReLU and Activation layers,
    SGD with Nesterov momentum."""
    fresh()
    m = keras.Sequential([keras.Input(shape=(12, 12, 3))] + _all_layers_list(kernel), name="all_layers")
    return _all_layers_compile(m)


def all_layers_functional(kernel=3):
    """all_layers() built with the functional API (keras.Model(inputs,
    outputs)): the same layers, names and weights, so crossdev must give it
    the same spec, and train it to the same trace."""
    fresh()
    x = inputs = keras.Input(shape=(12, 12, 3))
    for layer in _all_layers_list(kernel):
        x = layer(x)
    return _all_layers_compile(keras.Model(inputs, x, name="all_layers"))


def residual():
    """A functional model with what a ResNet needs: a residual block
    (conv-BN-ReLU-conv-BN added to its input, then ReLU), the block's input
    read three times (the block, the Add, a 1x1 projection: its gradient is
    a sum of three), a Concatenate of images (channels), global average
    pooling, a Dropout, and a Concatenate of two Dense layers' features
    reading the same pooled features; SGD with momentum."""
    fresh()
    inputs = keras.Input(shape=(8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    y = layers.Conv2D(4, 3, padding="same", use_bias=False)(x)  # before a BatchNormalization, as ResNets have
    y = layers.BatchNormalization()(y)  # them: a bias there has a gradient of zero plus rounding noise
    y = layers.ReLU()(y)
    y = layers.Conv2D(4, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(layers.Add()([x, y]))
    z = layers.Concatenate()([y, layers.Conv2D(2, 1)(x)])
    g = layers.Dropout(0.25)(layers.GlobalAveragePooling2D()(z))
    f = layers.Concatenate()([layers.Dense(6, activation="relu")(g), layers.Dense(3)(g)])
    m = keras.Model(inputs, layers.Dense(5, activation="softmax")(f), name="residual")
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
              loss="sparse_categorical_crossentropy")
    return m


def residual_l2_schedule():
    """residual() as a ResNet is trained: L2 on every kernel and on a bias
    (Keras adds each penalty to the loss), and a learning-rate schedule
    (CosineDecay with a linear warmup, evaluated at the optimizer's
    iteration count); Adam."""
    fresh()
    l2 = keras.regularizers.L2(1e-3)
    inputs = keras.Input(shape=(8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", activation="relu", kernel_regularizer=l2,
                      bias_regularizer=keras.regularizers.L2(5e-3))(inputs)
    y = layers.Conv2D(4, 3, padding="same", use_bias=False, kernel_regularizer=l2)(x)
    y = layers.ReLU()(layers.BatchNormalization()(y))
    y = layers.Conv2D(4, 3, padding="same", use_bias=False, kernel_regularizer=l2)(y)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(layers.Add()([x, y]))
    z = layers.Concatenate()([y, layers.Conv2D(2, 1, kernel_regularizer=l2)(x)])
    g = layers.GlobalAveragePooling2D()(z)
    m = keras.Model(inputs, layers.Dense(5, activation="softmax", kernel_regularizer=l2)(g),
                    name="residual_l2_schedule")
    schedule = keras.optimizers.schedules.CosineDecay(0.002, decay_steps=12, alpha=0.1, warmup_target=0.01,
                                                      warmup_steps=4)
    m.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule), loss="sparse_categorical_crossentropy")
    return m


def activations():
    """Every activation and layer of the activations item: ZeroPadding2D
    (asymmetric and the int form), conv activations tanh, sigmoid, leaky_relu
    (the function's slope 0.2), elu, relu6; the LeakyReLU (0.3) and ELU
    layers; silu, tanh and gelu (Keras's exact, erf form) as Activation layers; GlobalMaxPooling2D beside
    GlobalAveragePooling2D; swish on a Dense; the Softmax layer last (Keras's
    probabilities loss); SGD with momentum."""
    fresh()
    inputs = keras.Input(shape=(8, 8, 3))
    x = layers.ZeroPadding2D(((1, 0), (2, 1)))(inputs)
    x = layers.Conv2D(4, 3, activation="tanh")(x)
    a = layers.Conv2D(4, 3, padding="same", activation="sigmoid")(x)
    b = layers.LeakyReLU()(layers.Conv2D(4, 1)(x))
    c = layers.Conv2D(4, 3, padding="same", activation="leaky_relu")(x)
    y = layers.ELU()(layers.Add()([a, b, c]))
    y = layers.Conv2D(6, 3, activation="elu")(layers.ZeroPadding2D(1)(y))
    y = layers.Conv2D(6, 1, activation="relu6")(layers.Activation("silu")(y))
    g = layers.Concatenate()([layers.GlobalMaxPooling2D()(y), layers.GlobalAveragePooling2D()(y)])
    d = layers.Activation("tanh")(layers.Dense(8, activation="swish")(g))
    d = layers.Dense(7, activation="sigmoid")(layers.Activation("gelu")(d))
    m = keras.Model(inputs, layers.Softmax()(layers.Dense(5)(d)), name="activations")
    # SGD: Adam's update normalises each gradient by its own size, so a
    # weight whose gradient is mostly cancellation shows rounding as a large
    # share of its step (worst 9e-4 of a step with Adam, 1e-3 the tolerance)
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="sparse_categorical_crossentropy")
    return m


def resnet():
    """crossdev's built-in resnet: Keras's ResNet v1 for small images
    (keras-team's cifar10_resnet.py, resnet_v1, depth 8: one block per
    stage) on 28x28x1, built as the example builds it (its resnet_layer),
    so its layers have the built-in's names and order, every conv with the
    example's L2 kernel regularizer (1e-4)."""
    fresh()

    def resnet_layer(x, filters=16, kernel_size=3, strides=1, activation="relu", batch_normalization=True):
        x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", kernel_initializer="he_normal",
                          kernel_regularizer=keras.regularizers.l2(1e-4))(x)
        if batch_normalization:
            x = layers.BatchNormalization()(x)
        return layers.Activation(activation)(x) if activation else x

    inputs = keras.Input(shape=(28, 28, 1))
    x = resnet_layer(inputs)
    filters = 16
    for stack in range(3):
        strides = 2 if stack > 0 else 1
        y = resnet_layer(x, filters, strides=strides)
        y = resnet_layer(y, filters, activation=None)
        if stack > 0:  # the shortcut downsampled: a 1x1 strided projection, no BatchNormalization
            x = resnet_layer(x, filters, kernel_size=1, strides=strides, activation=None, batch_normalization=False)
        x = layers.Activation("relu")(layers.add([x, y]))
        filters *= 2
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax", kernel_initializer="he_normal")(x)
    m = keras.Model(inputs, outputs, name="resnet")
    m.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def variants():
    """BatchNormalization without center or scale (their variables are
    absent, the others move up), a custom-named non-square conv, a Dense
    without bias straight after a Flatten, Adam with its own settings,
    from_logits=True."""
    fresh()
    m = keras.Sequential([
        keras.Input(shape=(9, 7, 2)),
        layers.Conv2D(3, 2, strides=(2, 1), padding="same", kernel_initializer="he_normal", name="c"),
        layers.BatchNormalization(center=False, momentum=0.5),
        layers.BatchNormalization(scale=False),
        layers.AveragePooling2D(2),
        layers.Flatten(name="flat"),
        layers.BatchNormalization(center=False, scale=False),
        layers.Dense(4, use_bias=False,
                     kernel_initializer=keras.initializers.RandomUniform(minval=-0.1, maxval=0.2)),
    ], name="variants")
    m.compile(optimizer=keras.optimizers.Adam(learning_rate=0.002, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m


def dropout_view():
    """A Dropout right before a view of its output (a Flatten; a linear
    Activation): at evaluation, where the dropout passes its input on, the
    view must still see that input (crossdev once read the dropout's
    unwritten output there)."""
    fresh()
    m = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(8, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.5),
        layers.Flatten(),
        layers.Dense(32, activation="relu"),
        layers.Dropout(0.25),
        layers.Activation("linear"),
        layers.Dense(10, activation="softmax"),
    ], name="dropout_view")
    m.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return m


def tiny(compiled=True, kernel=3, **conv):
    """A small model for the refusals: one conv (with conv's options) and a Dense."""
    fresh()
    m = keras.Sequential([keras.Input(shape=(6, 6, 1)), layers.Conv2D(2, kernel, **conv), layers.Flatten(),
                          layers.Dense(3)])
    if compiled:
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return m


def save(model, file):
    model.save(os.path.join(OUT, file))


def invalid(file, contains, status="XD_FORMAT", model=None):
    MANIFEST["invalid"].append({"file": file, "status": status, "contains": [file] + contains, "model": model})


def seed_buggy():
    """The seed's own Keras example: Dense(10) with no activation and Keras's
    default loss, from_logits=False (crossdev warns; Keras trains it to 10%)."""
    fresh()
    m = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(10),
    ])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def make_valid():
    # models as to_json() files (no weights: crossdev's initializers, or the
    # state crossdev trained, which the Keras comparison puts in)
    m = mnist_convnet()
    with open(os.path.join(OUT, "mnist-convnet.json"), "w") as f:
        f.write(m.to_json())
    record_valid("mnist-convnet", m, "mnist-convnet.json")
    m = seed_buggy()
    with open(os.path.join(OUT, "seed-buggy.json"), "w") as f:
        f.write(m.to_json())
    record_valid("seed-buggy", m, "seed-buggy.json")
    m = all_layers()
    randomize(m, 11)
    save(m, "all-layers.keras")
    record_valid("all-layers", m, "all-layers.keras")
    with open(os.path.join(OUT, "all-layers.json"), "w") as f:
        f.write(m.to_json())
    randomize(m, 12)
    m.save_weights(os.path.join(OUT, "all-layers.weights.h5"))  # a compiled model's: with an optimizer group
    record_valid("all-layers-json", m, "all-layers.json", "all-layers.weights.h5")
    m = all_layers_functional()
    randomize(m, 11)
    save(m, "all-layers-functional.keras")
    record_valid("all-layers-functional", m, "all-layers-functional.keras")
    m = residual()
    randomize(m, 14)
    save(m, "residual.keras")
    record_valid("residual", m, "residual.keras")
    m = residual_l2_schedule()
    randomize(m, 15)
    save(m, "residual-l2-schedule.keras")
    record_valid("residual-l2-schedule", m, "residual-l2-schedule.keras")
    m = tiny()
    m.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)),
              loss="sparse_categorical_crossentropy")
    write("schedule.json", m.to_json())
    record_valid("schedule", m, "schedule.json")
    m = tiny(kernel_regularizer="l2")
    write("regularizer.json", m.to_json())
    record_valid("regularizer", m, "regularizer.json")
    m = activations()
    randomize(m, 15)
    save(m, "activations.keras")
    record_valid("activations", m, "activations.keras")
    m = variants()
    randomize(m, 13)
    save(m, "variants.keras")
    record_valid("variants", m, "variants.keras")
    m = dropout_view()
    with open(os.path.join(OUT, "dropout-view.json"), "w") as f:
        f.write(m.to_json())
    record_valid("dropout-view", m, "dropout-view.json")
    m = resnet()
    randomize(m, 15)
    save(m, "resnet.keras")
    record_valid("resnet", m, "resnet.keras")


def rewrite_zip(src, dst, edit):
    """A copy of the archive src with edit(name, data) -> [(name, data)] applied to each entry."""
    with zipfile.ZipFile(os.path.join(OUT, src)) as z, zipfile.ZipFile(os.path.join(OUT, dst), "w") as out:
        for info in z.infolist():
            for name, data in edit(info.filename, z.read(info)):
                out.writestr(name, data)


def write(file, text):
    with open(os.path.join(OUT, file), "w") as f:
        f.write(text)


def make_invalid_configs():
    """Refusals of the config, as model.to_json() files (a few KiB each)."""
    make_invalid_graphs()
    fresh()
    write("lstm.json", keras.Sequential([keras.Input(shape=(5, 4)), layers.LSTM(3), layers.Dense(2)]).to_json())
    invalid("lstm.json", ["layer 'lstm' (LSTM)", "layer class LSTM", "supported: InputLayer"])
    fresh()
    m = keras.Sequential([keras.Input(shape=(6, 6, 1)), layers.Flatten(), layers.Dense(3, dtype="float16")])
    write("float16.json", m.to_json())
    invalid("float16.json", ["layer 'dense' (Dense)", "dtype policy 'float16'", "only float32"])
    m = tiny()
    m.compile(optimizer="adam", loss="categorical_crossentropy")
    write("cce.json", m.to_json())
    invalid("cce.json", ["compile_config: loss", "categorical_crossentropy", "only sparse_categorical_crossentropy"])
    m = tiny()
    m.layers[0].trainable = False
    write("trainable.json", m.to_json())
    invalid("trainable.json", ["layer 'conv2d' (Conv2D)", "trainable false"])
    m = tiny()
    m.compile(optimizer=keras.optimizers.SGD(keras.optimizers.schedules.PolynomialDecay(0.1, 10)),
              loss="sparse_categorical_crossentropy")
    write("schedule-polynomial.json", m.to_json())
    invalid("schedule-polynomial.json", ["compile_config: optimizer SGD", "learning_rate schedule PolynomialDecay",
                                         "only ExponentialDecay, PiecewiseConstantDecay, CosineDecay"])
    write("regularizer-l1.json", tiny(bias_regularizer=keras.regularizers.L1(0.01)).to_json())
    invalid("regularizer-l1.json", ["layer 'conv2d' (Conv2D)", "bias_regularizer L1", "only L2"])
    write("activity-regularizer.json", tiny(activity_regularizer="l2").to_json())
    invalid("activity-regularizer.json", ["layer 'conv2d' (Conv2D)", "activity_regularizer", "only null"])
    write("conv-softmax.json", tiny(activation="softmax").to_json())
    invalid("conv-softmax.json", ["layer 'conv2d' (Conv2D)", "activation \"softmax\"", "only \"linear\", \"relu\""])
    fresh()
    m = keras.Sequential([keras.Input(shape=(4, 4, 2)), layers.GlobalMaxPooling2D(keepdims=True), layers.Flatten(),
                          layers.Dense(3)])
    write("gmp-keepdims.json", m.to_json())
    invalid("gmp-keepdims.json", ["layer 'global_max_pooling2d' (GlobalMaxPooling2D)", "keepdims"])
    fresh()
    m = keras.Sequential([keras.Input(shape=(4, 4, 2)), layers.ReLU(max_value=6.0), layers.Flatten(), layers.Dense(3)])
    write("relu-max-value.json", m.to_json())
    invalid("relu-max-value.json", ["layer 're_lu' (ReLU)", "max_value"])
    fresh()
    m = keras.Sequential([keras.Input(shape=(4, 4, 2)), layers.Softmax(), layers.Flatten(), layers.Dense(3)])
    write("softmax-image.json", m.to_json())
    invalid("softmax-image.json", ["layer 0 'softmax' (Activation)", "softmax over the channels of an image"],
            status="XD_SHAPE_MISMATCH")
    save(tiny(compiled=False, dilation_rate=2), "dilation2.keras")
    invalid("dilation2.keras", ["layer 'conv2d' (Conv2D)", "dilation_rate [2, 2]", "only 1"])


def make_invalid_graphs():
    """Functional models crossdev refuses: several inputs or outputs, a layer
    called twice, a model inside the model."""
    fresh()
    a, b = keras.Input(shape=(4, 4, 1)), keras.Input(shape=(4, 4, 1))
    write("two-inputs.json", keras.Model([a, b], layers.Dense(3)(layers.Flatten()(layers.Maximum()([a, b])))).to_json())
    invalid("two-inputs.json", ["a second input 'input_layer_1' (InputLayer)", "several inputs"])
    fresh()
    x = keras.Input(shape=(4, 4, 1))
    f = layers.Flatten()(x)
    write("two-outputs.json", keras.Model(x, [layers.Dense(3)(f), layers.Dense(2)(f)]).to_json())
    invalid("two-outputs.json", ["model 'functional'", "2 outputs are not supported (only one)"])
    fresh()
    x = keras.Input(shape=(2, 2, 1))
    d = layers.Dense(4)
    write("shared.json", keras.Model(x, d(d(layers.Flatten()(x)))).to_json())
    invalid("shared.json", ["layer 'dense' (Dense)", "called 2 times (a shared layer)"])
    fresh()
    inner = keras.Sequential([keras.Input(shape=(4, 4, 1)), layers.Flatten()], name="inner")
    x = keras.Input(shape=(4, 4, 1))
    write("nested.json", keras.Model(x, layers.Dense(3)(inner(x))).to_json())
    invalid("nested.json", ["layer 'inner' (Sequential)", "a nested model is not supported"])


def make_invalid_files():
    """Refusals of the archive and of the weights: a zip cut short (no central
    directory), an entry escaping with "..", a model.weights.h5 cut short, a
    .weights.h5 cut short, the weights of another model (a wider kernel)."""
    m = tiny(compiled=False)
    randomize(m, 20)
    save(m, "tiny.keras")
    write("tiny.json", m.to_json())
    with open(os.path.join(OUT, "tiny.keras"), "rb") as f:
        data = f.read()
    with open(os.path.join(OUT, "corrupt.keras"), "wb") as f:
        f.write(data[: len(data) * 2 // 3])
    invalid("corrupt.keras", ["not a readable zip archive"])
    rewrite_zip("tiny.keras", "dotdot.keras",
                lambda n, d: [(n, d)] + ([("../evil.txt", b"x")] if n == "config.json" else []))
    invalid("dotdot.keras", ["'../evil.txt'", "unsafe path"])
    rewrite_zip("tiny.keras", "truncated-h5.keras", lambda n, d: [(n, d[: len(d) // 2] if n.endswith(".h5") else d)])
    invalid("truncated-h5.keras", ["truncated-h5.keras: model.weights.h5", "not a readable HDF5 file"])
    m.save_weights(os.path.join(OUT, "tiny.weights.h5"))
    record_valid("tiny", m, "tiny.json", "tiny.weights.h5")
    with open(os.path.join(OUT, "tiny.weights.h5"), "rb") as f:
        data = f.read()
    with open(os.path.join(OUT, "truncated.weights.h5"), "wb") as f:
        f.write(data[: len(data) // 2])
    invalid("truncated.weights.h5", ["not a readable HDF5 file"], model="tiny.json")
    tiny(compiled=False, kernel=5).save_weights(os.path.join(OUT, "other.weights.h5"))
    invalid("other.weights.h5", ["dataset layers/conv2d/vars/0", "shape (5, 5, 1, 2)", "needs (3, 3, 1, 2)"],
            status="XD_SHAPE_MISMATCH", model="tiny.json")
    invalid("hdf5-crash.weights.h5", [], model="tiny.json")  # whatever HDF5 does with it, crossdev lives
    if CORPUS:  # the fuzz targets' seeds: the small model's config, archive and weights
        for name in ("residual", "residual-l2-schedule"):  # a functional model's graph; regularizers, a schedule
            with zipfile.ZipFile(os.path.join(OUT, name + ".keras")) as z:
                os.makedirs(os.path.join(CORPUS, "keras_config"), exist_ok=True)
                with open(os.path.join(CORPUS, "keras_config", name + ".json"), "wb") as f:
                    f.write(z.read("config.json"))
        for name, target in (("tiny.json", "keras_config"), ("tiny.keras", "zip"), ("tiny.weights.h5", "h5")):
            os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
            shutil.copy(os.path.join(OUT, name), os.path.join(CORPUS, target, name))
    os.remove(os.path.join(OUT, "tiny.keras"))


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):  # all but KEPT is made here
        path = os.path.join(OUT, name)
        if name not in KEPT:
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    make_valid()
    make_invalid_configs()
    make_invalid_files()
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(MANIFEST, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(OUT) for n in ns)
    print(f"make-fixtures: {OUT}, {total // 1024} KiB, Keras {keras.__version__}")


if __name__ == "__main__":
    main()
