"""crossdev's learning-rate schedules against Keras's own, value by value.

    build/pypi/keras/bin/python tests/python/check_lr_schedules.py build/tests/test_lr

`test_lr --print` writes the float32 bits crossdev computes for a few
schedules (tests/test_lr.c: the same ones are built here) at iterations
0..130; Keras evaluates each of its schedules at the same iterations (its
optimizer passes the iteration count before the update).  Exit 1 unless
every value is within one ulp (XLA's pow and cos may round otherwise than
crossdev's correctly rounded ones); prints how many are bitwise equal.
"""
import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402

S = keras.optimizers.schedules
SCHEDULES = {
    "exp": S.ExponentialDecay(0.1, 10, 0.9),
    "exp_stair": S.ExponentialDecay(0.1, 10, 0.9, staircase=True),
    "exp_frac": S.ExponentialDecay(0.05, 3.5, 0.5),
    "cos_warm": S.CosineDecay(0.002, 12, alpha=0.1, warmup_target=0.01, warmup_steps=4),
    "cos": S.CosineDecay(0.1, 100),
    "cos_alpha": S.CosineDecay(1e-3, 7, alpha=0.25),
    "piecewise": S.PiecewiseConstantDecay([3, 7, 10], [0.1, 0.05, 0.01, 0.001]),
}


def main():
    out = subprocess.run([sys.argv[1], "--print"], check=True, capture_output=True, text=True).stdout
    n = equal = 0
    worst = 0
    for line in out.splitlines():
        name, t, bits = line.split()
        ours = np.array([int(bits, 16)], dtype=np.uint32).view(np.float32)[0]
        theirs = np.float32(keras.ops.convert_to_numpy(SCHEDULES[name](keras.ops.convert_to_tensor(int(t)))))
        diff = abs(int(np.array([ours]).view(np.int32)[0]) - int(np.array([theirs]).view(np.int32)[0]))
        n += 1
        equal += diff == 0
        worst = max(worst, diff)
        if diff:
            print(f"{name} at iteration {t}: crossdev {ours!r}, Keras {theirs!r} ({diff} ulp)")
        if diff > 1:
            print(f"FAIL: {name} at iteration {t}: crossdev {ours!r}, Keras {theirs!r} ({diff} ulp)")
    ok = n > 0 and worst <= 1
    print(f"check_lr_schedules: {n} values, Keras {keras.__version__}: {equal} bitwise equal, worst {worst} ulp: "
          f"{'AGREE' if ok else 'DIFFER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
