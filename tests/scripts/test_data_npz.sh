#!/usr/bin/env bash
# Data as Keras users keep it (issue 25): `run --data FILE.npz` with x_train,
# y_train, x_test, y_test, made here by numpy (/usr/bin/python3) from the
# Fashion-MNIST IDX files, as keras.datasets.fashion_mnist.load_data()
# gives them.
#   - uint8 (np.savez and np.savez_compressed), uint8 (N, 28, 28, 1),
#     float32 x/255 with int64 (N, 1) labels, float64 x/255: the same
#     data.checksum as the IDX folder, and a 3-step run `diff`s IDENTICAL
#     to the IDX folder's (uint8 is scaled x/255.0f as IDX bytes are;
#     float32 taken as stored, and numpy's float32 x/255 is that same
#     division; float64 x/255 rounded to float32 is too: double rounding
#     of a quotient is exact when 53 >= 2*24 + 2);
#   - data.name/source/scale say what was read (crossdev.data, the Python
#     twin replays use, records the same); --resume finds the .npz
#     again (data.source) and refuses it once its content changed;
#     `compare --data FILE.npz` passes it to its runs;
#   - every refusal (a missing array, counts that disagree, wrong ndim,
#     train/test image shapes or dtypes that differ, bad dtypes, one-hot,
#     float or negative labels, NaN, not a zip, a truncated file, an .npy)
#     exits 2 naming the file and the array, and leaves no trace folder.
# No Fashion-MNIST, no numpy or no OpenCL device besides Oclgrind: SKIP (77).
. "$(dirname "$0")/common.sh"
PY=/usr/bin/python3
SRC=$(cd "$(dirname "$0")/../.." && pwd)
FM=/usr/share/datasets/fashion-mnist
[ -x "$PY" ] && "$PY" -c "import numpy" 2>/dev/null || { echo "SKIP: $PY with numpy absent"; exit 77; }
[ -d "$FM" ] || { echo "SKIP: $FM absent (install dataset-fashion-mnist)"; exit 77; }
ids=$("$XD_CLI" list --ids 2>/dev/null)
DEV=$(grep -m1 'pocl/pthread' <<<"$ids" || grep -v '^oclgrind/' <<<"$ids" | head -1)
[ -n "$DEV" ] || { echo "SKIP: no OpenCL device other than Oclgrind"; exit 77; }
echo "device: $DEV"
W=$WORK
RUN=(--device "$DEV" --steps 3 --eval-limit 64 --quiet)

# make.py OUT KIND: OUT := an .npz made from Fashion-MNIST (FM) as KIND says.
cat >"$W/make.py" <<'PY'
import gzip, os, sys
import numpy as np
fm, out, kind = sys.argv[1:4]
def idx(name):
    p = os.path.join(fm, name)
    raw = open(p, "rb").read() if os.path.exists(p) else gzip.open(p + ".gz").read()
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * raw[3]).reshape(dims)
xtr, ytr = idx("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte")
xte, yte = idx("t10k-images-idx3-ubyte"), idx("t10k-labels-idx1-ubyte")
if kind != "u8" and kind != "u8z":  # the refusals need no more than a few samples
    if kind not in ("f32", "f64", "u8c"):
        xtr, ytr, xte, yte = xtr[:200], ytr[:200], xte[:50], yte[:50]
a = dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
if kind == "f32":   # as the Keras examples normalise, labels int64 (N, 1)
    a = dict(x_train=xtr.astype("float32") / 255, y_train=ytr.astype("int64").reshape(-1, 1),
             x_test=xte.astype("float32") / 255, y_test=yte.astype("int64").reshape(-1, 1))
elif kind == "f64": a.update(x_train=xtr / 255.0, x_test=xte / 255.0, y_train=ytr.astype("int32"))
elif kind == "u8c": a.update(x_train=xtr[..., None], x_test=xte[..., None])
elif kind == "no-y_test": del a["y_test"]
elif kind == "positional": np.savez(out, xtr, ytr, xte, yte); sys.exit(0)
elif kind == "count": a["y_train"] = ytr[:-1]
elif kind == "flat": a["x_train"] = xtr.reshape(len(xtr), -1)
elif kind == "shapes": a["x_test"] = xte[:, :27, :27]
elif kind == "channels": a["x_test"] = np.repeat(xte[..., None], 3, axis=3)
elif kind == "mixed": a["x_test"] = xte.astype("float32") / 255
elif kind == "x-int64": a["x_train"] = xtr.astype("int64")
elif kind == "x-float16": a["x_train"] = xtr.astype("float16")
elif kind == "y-float": a["y_train"] = ytr.astype("float32")
elif kind == "one-hot": a["y_train"] = np.eye(10, dtype="float32")[ytr]
elif kind == "negative": a["y_test"] = yte.astype("int64") - 1
elif kind == "nan":
    a.update(x_train=xtr.astype("float32") / 255, x_test=xte.astype("float32") / 255)
    a["x_train"][7, 3, 4] = np.nan
elif kind == "y-3d": a["y_train"] = ytr.reshape(-1, 1, 1)
(np.savez_compressed if kind == "u8z" else np.savez)(out, **a)
PY
mk() { "$PY" "$W/make.py" "$FM" "$W/$1.npz" "$1" || { echo "FAIL: cannot make $1.npz"; exit 1; }; }
sum() { json_get "$1/trace.json" "d['data']['checksum']"; }

# ---- the same data through IDX and .npz ------------------------------------------------
expect_exit 0 "3 steps from the IDX folder" "$XD_CLI" run "${RUN[@]}" --data "$FM" --out "$W/idx"
IDX_SUM=$(sum "$W/idx")
for k in u8 u8z u8c f32 f64; do
  mk $k
  expect_exit 0 "$k: 3 steps from $k.npz" "$XD_CLI" run "${RUN[@]}" --data "$W/$k.npz" --out "$W/$k"
  check "$k: data.checksum $(sum "$W/$k" 2>/dev/null) is the IDX folder's $IDX_SUM" test "$(sum "$W/$k")" = "$IDX_SUM"
  expect_exit 0 "$k: diff against the IDX run" "$XD_CLI" diff "$W/idx" "$W/$k"
  check "$k: the IDX run and the .npz run are IDENTICAL" contains "$OUT" "verdict: IDENTICAL"
done
check "data.name npz, data.source the file" test "$(json_get "$W/u8/trace.json" "(d['data']['name'], d['data']['source'])")" = "('npz', '$W/u8.npz')"
check "data.scale of uint8: x/255, as IDX" test "$(json_get "$W/u8/trace.json" "d['data']['scale']")" = "x/255"
check "data.scale of float32: as stored" test "$(json_get "$W/f32/trace.json" "d['data']['scale']")" = "as stored (float32)"
check "data.scale of float64: rounded" test "$(json_get "$W/f64/trace.json" "d['data']['scale']")" = "float64 rounded to float32"
check "the IDX trace's data.scale stays x/255" test "$(json_get "$W/idx/trace.json" "d['data']['scale']")" = "x/255"
# the Python twin (crossdev.data.load_data, what replays read) records what the C run recorded
for k in u8 f32 f64; do
  check "$k: crossdev.data's record of $k.npz is the trace's data" env PYTHONPATH="$SRC/tools/python" "$PY" -c "
import json, sys
from crossdev.data import load_data
sys.exit(load_data(sys.argv[1]).record() != json.load(open(sys.argv[2]))['data'])" "$W/$k.npz" "$W/$k/trace.json"
done

# ---- --resume finds the .npz again, and checks it ---------------------------------------
expect_exit 0 "--resume of an .npz trace, no --data" "$XD_CLI" run --device "$DEV" --quiet --eval-limit 64 \
  --resume "$W/u8" --steps 5 --out "$W/u8-5"
check "the resumed run read the .npz (data.source)" test "$(json_get "$W/u8-5/trace.json" "d['data']['source']")" = "$W/u8.npz"
expect_exit 0 "5 steps straight from the .npz" "$XD_CLI" run "${RUN[@]}" --steps 5 --data "$W/u8.npz" --out "$W/u8-5s"
expect_exit 0 "diff: resumed vs straight" "$XD_CLI" diff "$W/u8-5s" "$W/u8-5"
check "resumed from the .npz: IDENTICAL to the straight run" contains "$OUT" "verdict: IDENTICAL"
# the trace's .npz rewritten with one test label changed
"$PY" - "$W/f32.npz" <<'PY'
import sys, numpy as np
a = dict(np.load(sys.argv[1]))
a["y_test"][0] = (a["y_test"][0] + 1) % 10
np.savez(sys.argv[1], **a)
PY
expect_exit 2 "--resume when the .npz changed" "$XD_CLI" run --device "$DEV" --quiet --eval-limit 64 \
  --resume "$W/f32" --steps 5 --out "$W/f32-5"
check "the changed .npz refused by its checksum, named" bash -c 'grep -q "data.checksum.*differs.*f32.npz" <<<"$1"' _ "$OUT"
check "nothing written for the refused resume" test ! -e "$W/f32-5"

# ---- compare --data FILE.npz ------------------------------------------------------------
expect_exit 0 "compare --data FILE.npz" "$XD_CLI" compare --devices "$DEV" --modes reproducible --steps 2 \
  --batch 8 --data "$W/u8.npz" --timeout 120 --jobs 1 --work "$W/cw" --json "$W/cw.json"
check "compare's run read the .npz" test "$(json_get "$(find "$W/cw" -name trace.json | head -1)" "(d['data']['name'], d['data']['checksum'])")" = "('npz', '$IDX_SUM')"
rm -f "$W"/u8z.npz "$W"/u8c.npz "$W"/f64.npz "$W"/f32.npz # keep the disk small

# ---- refusals: exit 2, the file and the array named, nothing written ---------------------
mkdir -p "$W/out"
# refused NAME ARRAY NEEDLE [DATA]: run --data DATA (default NAME.npz, made by make.py)
refused() {
  local name=$1 array=$2 needle=$3 data=${4:-$W/$1.npz} why="" rc
  [ -n "${4:-}" ] || mk "$name"
  OUT=$("$XD_CLI" run "${RUN[@]}" --data "$data" --out "$W/out/t" 2>&1); rc=$?
  [ "$rc" -eq 2 ] || why="exit $rc, expected 2; "
  contains "$OUT" "$data" || why+="the file is not named; "
  contains "$OUT" "$array" || why+="'$array' is not named; "
  contains "$OUT" "$needle" || why+="no '$needle'; "
  [ -z "$(ls -A "$W/out")" ] || why+="left behind: $(ls -A "$W/out"); "
  rm -rf "${W:?}/out" && mkdir "$W/out"
  if [ -z "$why" ]; then PASSED=$((PASSED + 1)); echo "ok   $name: $OUT"; else
    FAILED=$((FAILED + 1)); echo "FAIL: $name: $why"; sed 's/^/    /' <<<"$OUT" | tail -3; fi
  [ -n "${4:-}" ] || rm -f "$W/$name.npz"
}
refused no-y_test   y_test   "it holds: x_train.npy, y_train.npy, x_test.npy"
refused positional  x_train  "it holds: arr_0.npy, arr_1.npy, arr_2.npy, arr_3.npy"
refused count       y_train  "holds 199 labels but x_train 200 images"
refused flat        x_train  "uint8 [200, 784]: images are (count, rows, cols)"
refused shapes      x_test   "holds 27x27x1 images, x_train 28x28x1"
refused channels    x_test   "holds 28x28x3 images, x_train 28x28x1"
refused mixed       x_test   "is float32 but x_train uint8"
refused x-int64     x_train  "is int64: images are uint8"
refused x-float16   x_train  "unsupported dtype '<f2' (float16"
refused y-float     y_train  "is float32: labels are integer class indices"
refused one-hot     y_train  "one-hot"
refused one-hot     y_train  "y_train.argmax(axis=1)"
refused negative    y_test   "is -1: labels are class indices from 0"
refused nan         x_train  "x_train[7] holds a NaN or an infinity"
refused y-3d        y_train  "labels are (count,) or (count, 1)"
echo "not a zip" >"$W/text.npz"
refused text        "not an .npz file" "nor a folder" "$W/text.npz"
head -c 100000 "$W/u8.npz" >"$W/trunc.npz"
refused truncated   "not a readable zip archive" "trunc.npz" "$W/trunc.npz"
"$PY" -c "import numpy, sys; numpy.save(sys.argv[1], numpy.zeros((2, 28, 28), 'uint8'))" "$W/one.npy"
refused npy         "an .npy file holds one array" "not an .npz" "$W/one.npy"
refused missing     "no such file or folder" ".npz file holding x_train" "$W/nowhere.npz"
finish
