#!/usr/bin/env python3
"""Real Keras loads what crossdev exported (tests/scripts/test_keras_export.sh).

    build/pypi/keras/bin/python tools/keras/check-export.py FIXTURES-DIR OUT-DIR NAME...

For each NAME, FIXTURES-DIR/NAME.keras is loaded with keras.saving.load_model
(compile=False: crossdev exports no optimizer state, and Keras would only
warn that its optimizer was skipped), then
model.load_weights(OUT-DIR/NAME.weights.h5) loads the file that
xd_weights_save_h5 wrote; every weight Keras then holds, permuted to
crossdev's layout with numpy (crossdev/layout.py in tools/python), must equal bit for
bit OUT-DIR/NAME/<param>.npy, the weights crossdev saved.  Exit 1 on any
difference.
"""
import os
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from crossdev import layout  # noqa: E402


def check(fixtures, out, name):
    model = keras.saving.load_model(os.path.join(fixtures, name + ".keras"), compile=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Ss]kipping variable loading")  # a skipped layer fails
        model.load_weights(os.path.join(out, name + ".weights.h5"))
    bad = 0
    params = layout.crossdev_params(model)
    files = sorted(f[:-4] for f in os.listdir(os.path.join(out, name)))
    if sorted(n for n, _ in params) != files:
        print(f"FAIL: {name}: Keras has {sorted(n for n, _ in params)}, crossdev wrote {files}")
        return 1
    for pname, keras_value in params:
        ours = np.load(os.path.join(out, name, pname + ".npy"))
        same = ours.shape == keras_value.shape and np.array_equal(ours.view(np.uint32), keras_value.view(np.uint32))
        print(f"{'ok  ' if same else 'FAIL'} {name}: {pname} {list(keras_value.shape)}")
        bad += not same
    return bad


def main():
    fixtures, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    bad = sum(check(fixtures, out, n) for n in names)
    print(f"check-export: Keras {keras.__version__}, {len(names)} models, {'all equal' if not bad else f'{bad} differ'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
