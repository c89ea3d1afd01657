#!/usr/bin/env bash
# Keras's runs as crossdev traces (tools/python/crossdev), real Keras 3 on
# JAX's CPU backend (build/pypi/keras from tools/setup), nothing mocked:
#  - a user's model.fit recorded with crossdev.keras.TraceCallback against
#    crossdev's training of the same .keras file on the same batches:
#    rounding-level from identical initial weights, the model's spec as
#    crossdev's (but its source), the same tensors in the same layouts;
#  - an exception during fit: nothing published;
#  - mnist-convnet (dropout, Keras's Adam) trained by crossdev, replayed in
#    Keras with crossdev's dropout masks (python3 -m crossdev.replay):
#    rounding-level from step 1;
#  - refusal: an optimizer form Keras lacks;
#  - the tap inside the compiled step (tests/python/keras_tap_check.py):
#    a fit recorded with TraceCallback ends bit for bit where one without
#    does; fit's own shuffle recorded by content and indices; the ops under
#    crossdev's names.
# Verdicts are read from diff --json (docs/compare.md names them).
# Keras missing where setup ran is a FAILURE; only where setup never ran is
# the test skipped (77).
# usage: test_keras_traces.sh PYPI-DIR
. "$(dirname "$0")/common.sh"
PYPI=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=$PYPI/keras/bin/python
export PYTHONPATH=$ROOT/tools/python PYTHONDONTWRITEBYTECODE=1 KERAS_BACKEND=jax
ROUNDING="ROUNDING-LEVEL"
require_framework "$PYPI" "Keras ($PY)" test -x "$PY"
DEV=pocl/pthread
FASHION=/usr/share/datasets/fashion-mnist
[ -d "$FASHION" ] || { echo "FAIL: $FASHION missing (tools/setup installs dataset-fashion-mnist)"; exit 1; }
quiet_keras() { grep -v "UserWarning\|warnings.warn\|saveable.load_own_variables"; }
FIT=("$PY" "$ROOT/tests/python/keras_fit.py")

# ---- model.fit with TraceCallback against crossdev's training of the same file ---------------------
"${FIT[@]}" make "$WORK/fit.keras" 2>&1 | quiet_keras
expect_exit 0 "crossdev trains the .keras file, 20 steps" "$XD_CLI" run --device $DEV --model "$WORK/fit.keras" \
  --steps 20 --eval-limit 0 --quiet --out "$WORK/xd"
OUT=$("${FIT[@]}" fit "$WORK/fit.keras" "$WORK/xd" "$WORK/kf" 2>&1 | quiet_keras); rc=${PIPESTATUS[0]}
echo "$OUT" | tail -1
check "model.fit with TraceCallback" test "$rc" -eq 0
check "the callback names its device and backend" test "$(json_get "$WORK/kf/trace.json" \
  "d['device']['id'], d['producer']['backend'], d['producer']['jit_compile']")" = "keras-jax/cpu jax True"
check "the model's spec is crossdev's, but its source" /usr/bin/python3 -c "
import json, sys
a, b = (json.load(open(p + '/trace.json')) for p in sys.argv[1:3])
for t in (a, b):
    t['model_spec'].pop('source')
sys.exit(0 if all(a[k] == b[k] for k in ('model', 'model_spec', 'tensors', 'optimizer', 'data', 'snapshots')) else 1)
" "$WORK/xd" "$WORK/kf"
"$XD_CLI" diff "$WORK/xd" "$WORK/kf" --json "$WORK/xd-kf.json" >"$WORK/xd-kf.txt" 2>&1; rc=$?
grep "first divergence\|^  loss\|verdict" "$WORK/xd-kf.txt"
check "diff crossdev vs Keras fit: no usage error" test "$rc" -ne 2
check "crossdev vs Keras's fit: rounding-level from identical weights" report_check xd-kf --verdict "$ROUNDING" \
  --first-step 1 --init-identical --magnitudes
OUT=$("${FIT[@]}" fit "$WORK/fit.keras" "$WORK/xd" "$WORK/kx" 3 2>&1); rc=$?
check "an exception during fit propagates" test "$rc" -ne 0
check "... and nothing is published (no trace, no temporary folder)" \
  bash -c "! ls -d '$WORK'/kx* 2>/dev/null | grep -q ."

# ---- a functional model replayed in Keras: its graph rebuilt from the spec -------------------------------
/usr/bin/python3 "$ROOT/tests/python/make_idx.py" "$WORK/d8" 8 8 3 5
expect_exit 0 "crossdev residual.keras, 6 steps" "$XD_CLI" run --device $DEV --model "$ROOT/tests/fixtures/keras/residual.keras" \
  --data "$WORK/d8" --steps 6 --eval-limit 300 --quiet --out "$WORK/res"
OUT=$("$PY" -m crossdev.replay "$WORK/res" --framework keras --out "$WORK/resk" 2>&1 | quiet_keras)
rc=${PIPESTATUS[0]}
check "replay of a functional model in Keras" test "$rc" -eq 0
"$XD_CLI" diff "$WORK/res" "$WORK/resk" --json "$WORK/res-resk.json" >"$WORK/res-resk.txt" 2>&1
grep "first divergence\|^  loss\|verdict\|test accuracy" "$WORK/res-resk.txt"
check "crossdev vs its replay of the functional model in Keras: rounding-level from step 1" report_check res-resk \
  --verdict "$ROUNDING" --first-step 1 --init-identical --magnitudes

# ---- mnist-convnet replayed in Keras, crossdev's dropout masks ------------------------------------------
expect_exit 0 "crossdev mnist-convnet, 6 steps" "$XD_CLI" run --device $DEV --model mnist-convnet --steps 6 \
  --eval-limit 300 --quiet --out "$WORK/mc"
OUT=$("$PY" -m crossdev.replay "$WORK/mc" --framework keras --out "$WORK/mck" 2>&1 | quiet_keras)
rc=${PIPESTATUS[0]}
check "replay in Keras" test "$rc" -eq 0
"$XD_CLI" diff "$WORK/mc" "$WORK/mck" --json "$WORK/mc-mck.json" >"$WORK/mc-mck.txt" 2>&1
grep "first divergence\|^  loss\|verdict\|test accuracy" "$WORK/mc-mck.txt"
check "crossdev vs its replay in Keras: rounding-level from step 1" report_check mc-mck --verdict "$ROUNDING" \
  --first-step 1 --init-identical --magnitudes

# ---- refusal ----------------------------------------------------------------------------------------------
expect_exit 0 "seed-cnn (PyTorch's Adam)" "$XD_CLI" run --device $DEV --steps 1 --eval-limit 0 --quiet --out "$WORK/sc"
OUT=$("$PY" -m crossdev.replay "$WORK/sc" --framework keras --out "$WORK/r1" 2>&1); rc=$?
check "replay of adam-pytorch in Keras refused (exit 2)" test "$rc" -eq 2
check "... naming the form" contains "$OUT" "adam-pytorch, which Keras does not have"
check "nothing written by the refusal" bash -c "! ls -d '$WORK'/r1* 2>/dev/null | grep -q ."
# ---- the tap inside the compiled step (JAX): batches, ops, and the run left as it was -----------------
TAP=$("$PY" "$ROOT/tests/python/keras_tap_check.py" "$WORK/tap" 2>&1 | grep "^ok\|^FAIL"); rc=$?
echo "$TAP"
check "fit recorded from inside its step (JAX): keras_tap_check.py, every line ok" \
  bash -c '[ -n "$1" ] && ! grep -q "^FAIL" <<<"$1" && [ "$(grep -c "^ok" <<<"$1")" -eq 7 ]' _ "$TAP"
finish
