#!/usr/bin/env bash
# Keras 3 on TensorFlow (tensorflow-cpu 2.21, build/pypi/tensorflow, made by
# tools/test), the seed question's own framework, nothing mocked:
#  - crossdev.replay --framework keras under TensorFlow: the user's code path
#    (jit_compile "auto": no XLA on TensorFlow's CPU), producer naming the
#    backend, its version, op determinism and threads; crossdev vs the TF
#    replay of a Conv2D->BatchNormalization file: ROUNDING-LEVEL, the conv
#    bias not judged; --threads 1 --deterministic set TF's own settings;
#  - model.fit with crossdev.keras.TraceCallback under TensorFlow on
#    crossdev's batches (TF 2.21 keeps is_op_determinism_enabled private:
#    the recorder must not crash on it): a trace that diff reads;
#  - the question's "Example 2" (np.random.seed(42), a model built and
#    fitted) twice: other initial weights, DIFFERENT SETTINGS, with the
#    seeding record and keras.utils.set_random_seed named;
#  - the tap inside TensorFlow's tf.function (tests/python/keras_tap_check.py):
#    the recorded fit ends bit for bit where one without a recorder does,
#    batches by content and index, ops under crossdev's names.
# TensorFlow missing where tools/test ran is a FAILURE; only where tools/setup
# never ran is the test skipped (77).
# usage: test_tensorflow.sh PYPI-DIR
. "$(dirname "$0")/common.sh"
PYPI=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=$PYPI/tensorflow/bin/python
export PYTHONPATH=$ROOT/tools/python PYTHONDONTWRITEBYTECODE=1 KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=2
if ! [ -x "$PY" ]; then
  [ -f "$PYPI/intel-opencl/.requirements" ] || { echo "SKIP: tools/setup never ran here"; exit 77; }
  echo "FAIL: $PY missing: tools/test makes it (tools/pypi-env $PYPI/tensorflow tools/requirements/tensorflow.txt)"
  exit 1
fi
DEV=pocl/pthread
RUNS=("$PY" "$ROOT/tests/python/verdict_runs.py")
quiet() { grep -v "UserWarning\|warnings.warn\|saveable.load_own_variables\|oneDNN\|absl::\|cpu_feature_guard\|rebuild TensorFlow"; }
pair() { json_get "$WORK/$1.json" "$2"; }
prod() { json_get "$WORK/$1/trace.json" "$2"; }
diff_pair() {
  "$XD_CLI" diff "$WORK/$2" "$WORK/$3" --json "$WORK/$1.json" >"$WORK/$1.txt" 2>&1; rc=$?
  grep "first divergence\|not judged:\|likely mechanism\|verdict:" "$WORK/$1.txt" | cut -c1-240
}

check "TensorFlow 2.21 with Keras 3" test "$("$PY" -c "import tensorflow as tf, keras; print(tf.__version__[:4], keras.__version__[0], keras.backend.backend())" 2>/dev/null)" = "2.21 3 tensorflow"
"${RUNS[@]}" make "$WORK/convbn.keras" 2>&1 | quiet
expect_exit 0 "crossdev trains the Conv2D->BatchNormalization file" "$XD_CLI" run --device $DEV \
  --model "$WORK/convbn.keras" --steps 12 --eval-limit 500 --hash-ops --quiet --out "$WORK/xd"

# ---- the replay under TensorFlow -------------------------------------------------------------------
OUT=$("$PY" -m crossdev.replay "$WORK/xd" --framework keras --out "$WORK/tf" 2>&1 | quiet); rc=${PIPESTATUS[0]}
echo "$OUT" | tail -1
check "replay under TensorFlow" test "$rc" -eq 0
check "... producer: backend, version, the user's path (no XLA on CPU), op determinism, threads, seeding" \
  test "$(prod tf "(d['device']['id'], d['producer']['backend'], d['producer']['backend_version'], d['producer']['jit_compile'], d['producer']['op_determinism'], 'intra_op_threads' in d['producer'], sorted(d['producer']['seeding']))")" = \
  "('keras-tensorflow/cpu', 'tensorflow', '2.21.0', False, False, True, ['keras_seed', 'numpy_random', 'python_random', 'tf_global_seed'])"
diff_pair xt xd tf
check "crossdev vs the TensorFlow replay: ROUNDING-LEVEL from step 1, exit 0" \
  bash -c 'test "$1" -eq 0' _ "$rc"
check "... verdict (never DIVERGED) and the conv bias not judged" test "$(pair xt "(d['pairs'][0]['verdict'] in ('ROUNDING-LEVEL', 'IDENTICAL'), 'no effect on the outputs: conv2d.bias' in d['pairs'][0]['not_judged'])")" = "(True, True)"
OUT=$("$PY" -m crossdev.replay "$WORK/xd" --framework keras --threads 1 --deterministic --steps 3 --out "$WORK/tf1" 2>&1 | quiet)
check "--threads 1 --deterministic: TensorFlow's own settings, recorded, the threads in the device id" \
  test "$(prod tf1 "(d['producer']['op_determinism'], d['producer']['intra_op_threads'], d['device']['id'])")" = \
  "(True, 1, 'keras-tensorflow/cpu-1-threads')"
OUT=$(KERAS_BACKEND=jax "$PYPI/keras/bin/python" -m crossdev.replay "$WORK/xd" --framework keras --threads 1 \
  --out "$WORK/jx" 2>&1); rc=$?
check "--threads on Keras's jax backend: refused naming XLA_FLAGS, exit 2" \
  bash -c 'test "$1" -eq 2 && grep -q "XLA_FLAGS" <<<"$2"' _ "$rc" "$OUT"

# ---- model.fit with TraceCallback under TensorFlow ------------------------------------------------------
OUT=$("${RUNS[@]}" fit "$WORK/convbn.keras" "$WORK/xd" "$WORK/fit" trace-batches 2>&1 | quiet); rc=${PIPESTATUS[0]}
echo "$OUT" | tail -1
check "model.fit with TraceCallback under TensorFlow 2.21 (no crash on op determinism)" test "$rc" -eq 0
diff_pair xf xd fit
check "... diff reads it: no usage error, the step-1 forward difference explained by the dropout masks" \
  bash -c 'test "$1" -ne 2' _ "$rc"
check "... the dropout masks named" contains "$(pair xf "d['pairs'][0]['mechanism']")" "possible cause: the dropout masks"

# ---- the loss as the seed's model has it (a linear Dense into a probabilities loss): TensorFlow's formula ---
SEED_MODEL=$ROOT/tests/fixtures/keras/seed-buggy.json
expect_exit 0 "crossdev, the seed's model as written (JAX's formula, the default)" "$XD_CLI" run --device $DEV \
  --model "$SEED_MODEL" --steps 8 --eval-limit 300 --quiet --out "$WORK/sj"
expect_exit 0 "... and with --keras-backend tensorflow" "$XD_CLI" run --device $DEV --model "$SEED_MODEL" \
  --keras-backend tensorflow --steps 6 --eval-limit 300 --quiet --out "$WORK/st6"
check "... the formula recorded in model_spec.loss" test "$(prod st6 "d['model_spec']['loss']")" = \
  "{'from_logits': False, 'form': 'keras-tensorflow'}"
expect_exit 0 "... resumed to 8 steps: the trace's formula kept" "$XD_CLI" run --device $DEV --resume "$WORK/st6" \
  --steps 8 --eval-limit 300 --quiet --out "$WORK/st"
for t in sj st; do
  OUT=$("$PY" -m crossdev.replay "$WORK/$t" --framework keras --out "$WORK/$t-tf" 2>&1 | quiet)
  check "replay of $t under TensorFlow" test "${PIPESTATUS[0]}" -eq 0
done
diff_pair sjt sj sj-tf
check "JAX's formula vs TensorFlow's run: the forward differs at step 1, the loss formula named" \
  bash -c 'grep -q "forward pass differs at step 1" <<<"$1" && grep -q "possible cause: the loss formula" <<<"$1"' _ \
  "$(pair sjt "d['pairs'][0]['mechanism']")"
diff_pair stt st st-tf
check "--keras-backend tensorflow vs TensorFlow's run: ROUNDING-LEVEL, never the loss formula, exit 0" \
  test "$(pair stt "(d['pairs'][0]['verdict'] in ('ROUNDING-LEVEL', 'IDENTICAL'), 'loss formula' in d['pairs'][0]['mechanism'])"),$rc" = "(True, False),0"

# ---- python -m crossdev.record on unchanged scripts: every fit, numbered; refusals -----------------------
cat >"$WORK/twofits.py" <<'PY'
import sys
import numpy as np
import tensorflow as tf
tf.keras.utils.set_random_seed(int(sys.argv[1]))
x, y = np.random.rand(64, 28, 28, 1).astype("float32"), np.random.randint(0, 10, 64)
m = tf.keras.Sequential([tf.keras.Input((28, 28, 1)), tf.keras.layers.Flatten(), tf.keras.layers.Dense(10)])
m.compile(optimizer="sgd", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
m.fit(x, y, batch_size=16, epochs=1, verbose=0)
m.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_data=(x[:32], y[:32]))
PY
OUT=$("$PY" -m crossdev.record --out "$WORK/two" -- "$WORK/twofits.py" 5 2>&1 | quiet); rc=${PIPESTATUS[0]}
check "crossdev.record: a script with two fits, its own argument passed" test "$rc" -eq 0
check "... two traces, the second numbered, its validation data evaluated; the global seed recorded" \
  test "$(json_get "$WORK/two-fit2/trace.json" "(d['steps'], d['eval']['final']['n'], d['seed'], d['producer']['seeding']['trace_seed'])"),$(json_get "$WORK/two/trace.json" "d['steps']")" = \
  "(4, 32, 5, \"keras.utils.set_random_seed's\"),4"
echo 'print("no training here")' >"$WORK/nofit.py"
OUT=$("$PY" -m crossdev.record --out "$WORK/none" -- "$WORK/nofit.py" 2>&1); rc=$?
check "crossdev.record: a script without fit: exit 2, said" \
  bash -c 'test "$1" -eq 2 && grep -q "ran no Model.fit: nothing recorded" <<<"$2"' _ "$rc" "$OUT"
OUT=$("$PY" -m crossdev.record --out "$WORK/two" -- "$WORK/twofits.py" 5 2>&1); rc=$?
check "crossdev.record: an existing --out: exit 2, nothing overwritten" \
  bash -c 'test "$1" -eq 2 && grep -q "exists" <<<"$2"' _ "$rc" "$OUT"

# ---- the question's Example 2 on TensorFlow ----------------------------------------------------------------
for r in e1 e2; do
  OUT=$("${RUNS[@]}" seeded-fit "$WORK/xd" "$WORK/$r" 2>&1 | quiet)
  check "np.random.seed(42), a model built and fitted under TensorFlow ($r)" test "${PIPESTATUS[0]}" -eq 0
done
diff_pair ee e1 e2
check "two such runs: DIFFERENT SETTINGS, exit 0" test "$(pair ee "d['pairs'][0]['verdict']"),$rc" = "DIFFERENT SETTINGS,0"
check "... the seeding record and keras.utils.set_random_seed named" \
  bash -c 'grep -q "seeding.python_random" <<<"$1" && grep -q "keras.utils.set_random_seed" <<<"$1"' _ "$(pair ee "d['pairs'][0]['mechanism']")"
# ---- the tap inside the compiled step (TensorFlow): batches, ops, and the run left as it was -----------------
TAP=$("$PY" "$ROOT/tests/python/keras_tap_check.py" "$WORK/tap" 2>&1 | grep "^ok\|^FAIL"); rc=$?
echo "$TAP"
check "fit recorded from inside its step (TensorFlow): keras_tap_check.py, every line ok" \
  bash -c '[ -n "$1" ] && ! grep -q "^FAIL" <<<"$1" && [ "$(grep -c "^ok" <<<"$1")" -eq 7 ]' _ "$TAP"
finish
