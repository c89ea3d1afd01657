#!/usr/bin/env bash
# The seed question's walkthrough (docs/examples/seed-question) on real
# TensorFlow 2.21: train.py, unchanged, recorded twice per example with
# python -m crossdev.record, each pair diffed; the verdicts and named causes
# the README's table shows are checked here:
#  - what each step trained on, recorded from fit's own shuffle: every
#    step's batch_hashes and training-set indices, the indices' samples
#    hashing (independently, from the data) to the recorded contents;
#  - Examples 1, 2 and 3 (no seeds; tf.random.set_seed + np.random.seed; and
#    op determinism): other initial weights each run, DIFFERENT SETTINGS,
#    Python's random named, keras.utils.set_random_seed the fix; Example 1's
#    batch order differs, Examples 2 and 3 train on the same batches;
#  - keras.utils.set_random_seed + op determinism: IDENTICAL;
#  - 1 vs 2 intra-op threads: what the traces hold (IDENTICAL where every
#    hash is equal, else parting with the thread counts named, never
#    another cause, and the first op named: a layer's output or gradient);
#  - the loss as written vs from_logits=True: DIFFERENT SETTINGS naming it.
# TensorFlow missing where tools/test ran is a FAILURE; only where tools/setup
# never ran is the test skipped (77).
# usage: test_seed_question.sh PYPI-DIR
. "$(dirname "$0")/common.sh"
PYPI=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=$PYPI/tensorflow/bin/python
if ! [ -x "$PY" ]; then
  [ -f "$PYPI/intel-opencl/.requirements" ] || { echo "SKIP: tools/setup never ran here"; exit 77; }
  echo "FAIL: $PY missing: tools/test makes it (tools/pypi-env $PYPI/tensorflow tools/requirements/tensorflow.txt)"
  exit 1
fi
OUT=$("$ROOT/docs/examples/seed-question/walkthrough.sh" "$WORK/wt" "$PY" "$XD_CLI" 2>&1); rc=$?
echo "$OUT" | cut -c1-200
check "the walkthrough runs" test "$rc" -eq 0
p() { json_get "$WORK/wt/$1.json" "$2"; }  # p PAIR PYTHON-EXPR-ON-d
CONTENT=$(/usr/bin/python3 - "$WORK/wt" "$ROOT/tools/python" <<'PY'
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from crossdev.data import load_idx
from crossdev.hashing import batch_hash, hash_hex
d = load_idx("/usr/share/datasets/fashion-mnist")
x, y = d.nhwc(d.train_x)[:640], d.train_y[:640]  # train.py's data
for name in ("ex1-a", "ex1-b", "fix-a"):
    t = json.load(open(f"{sys.argv[1]}/{name}/trace.json"))
    rows = np.load(f"{sys.argv[1]}/{name}/batches.npy")
    ok = len(t["batch_hashes"]) == t["steps"] == len(rows) and (rows >= 0).all() and \
        [hash_hex(batch_hash(x[r], y[r])) for r in rows] == t["batch_hashes"]
    print(name, ok, sorted(np.concatenate(rows).tolist()) == list(range(640)))
PY
)
check "fit's shuffle recorded: indices found for every sample, hashing to the recorded batch contents, each sample once an epoch" \
  test "$CONTENT" = "$(printf 'ex1-a True True\nex1-b True True\nfix-a True True')"
check "the recorded ops are crossdev's names of the layers' outputs and weight gradients" \
  test "$(json_get "$WORK/wt/fix-a/trace.json" "d['op_hashes']['ops']")" = "['conv2d.activation', 'dense.forward', 'dense.backward_weights', 'dense.backward_bias', 'conv2d.backward_weights', 'conv2d.backward_bias']"
diffs() { p "$1" "[s['key'][:15] for s in d['pairs'][0]['settings']['differences'] if s['kind'] == '$2']"; }
check "ex1 twice: DIFFERENT SETTINGS, the initial weights and fit's shuffle" \
  test "$(p ex1-a-vs-ex1-b "d['pairs'][0]['verdict']") $(diffs ex1-a-vs-ex1-b training)" = "DIFFERENT SETTINGS ['initial weights', 'batch order']"
for ex in ex2 ex3; do
  check "$ex twice: DIFFERENT SETTINGS, the initial weights alone; the same batches" \
    test "$(p "$ex-a-vs-$ex-b" "d['pairs'][0]['verdict']") $(diffs "$ex-a-vs-$ex-b" training) $(p "$ex-a-vs-$ex-b" "[(s['kind'], s['other'][:28]) for s in d['pairs'][0]['settings']['differences'] if s['key'].startswith('batch')]")" = "DIFFERENT SETTINGS ['initial weights'] [('info', 'recorded: the same at all 20')]"
done
for ex in ex1 ex2 ex3; do
  check "... Python's random and keras.utils.set_random_seed named" \
    bash -c 'grep -q "seeding.python_random" <<<"$1" && grep -q "keras.utils.set_random_seed" <<<"$1"' _ \
    "$(p "$ex-a-vs-$ex-b" "d['pairs'][0]['mechanism']")"
done
# whether TensorFlow repeats itself bit for bit is TensorFlow's business: crossdev must say IDENTICAL exactly
# when every recorded hash and loss is equal, and otherwise judge with the same settings (measured: IDENTICAL)
SAME=$(/usr/bin/python3 -c "
import json, sys
a, b = (json.load(open(sys.argv[i] + '/trace.json')) for i in (1, 2))
print(a['hashes'] == b['hashes'] and a['loss'] == b['loss'])" "$WORK/wt/fix-a" "$WORK/wt/fix-b")
check "keras.utils.set_random_seed + op determinism, twice: IDENTICAL exactly when every hash is equal ($SAME)" \
  test "$(p fix-a-vs-fix-b "(d['pairs'][0]['verdict'] == 'IDENTICAL', d['pairs'][0]['settings']['same'])")" = "($SAME, True)"
check "... with the final test metrics recorded (fit's validation_data)" \
  test "$(json_get "$WORK/wt/fix-a/trace.json" "d['eval']['final']['n']")" = 500
T=$(p fix-1t-vs-fix-2t "(d['pairs'][0]['verdict'], d['pairs'][0]['first_divergent_step'])")
if [ "$T" = "('IDENTICAL', None)" ]; then
  check "1 vs 2 threads: IDENTICAL (every hash equal here)" true
else
  check "1 vs 2 threads: they part, the thread counts named as the cause" \
    bash -c 'grep -q "intra_op_threads 1 vs 2" <<<"$1" && ! grep -q "seed\|batch\|dropout" <<<"$1"' _ \
    "$(p fix-1t-vs-fix-2t "d['pairs'][0]['mechanism']")"
  check "... at a named op: a layer's output or weight gradient" \
    bash -c 'grep -Eq "^(conv2d|dense)\.(activation|forward|backward_weights|backward_bias)$" <<<"$1"' _ \
    "$(p fix-1t-vs-fix-2t "d['pairs'][0]['first_divergent_op']")"
fi
check "the recorder warns about the loss as written, naming the layer, and not about the fixed one" \
  bash -c 'grep -q "crossdev.keras: WARNING: model .*last layer .dense. (Dense) has no softmax" "$1" && ! grep -q "crossdev.keras: WARNING" "$2"' _ \
  "$WORK/wt/fix-a.log" "$WORK/wt/fixed-loss.log"
check "the loss as written vs from_logits=True: DIFFERENT SETTINGS naming the loss" \
  test "$(p fix-a-vs-fixed-loss "(d['pairs'][0]['verdict'], [s['key'] for s in d['pairs'][0]['settings']['differences'] if s['kind'] == 'training'])")" = "('DIFFERENT SETTINGS', ['model_spec.loss.from_logits'])"
finish
