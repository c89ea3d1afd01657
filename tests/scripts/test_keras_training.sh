#!/usr/bin/env bash
# A user's Keras model trained by crossdev, against real Keras
# (tools/keras/compare-steps.py), on PoCL pthread:
#  - every supported layer (all-layers.keras, SGD with Nesterov momentum in
#    Keras's form, the file's weights), mnist-convnet (dropout, Keras's
#    Adam, crossdev's initial weights) and a functional model (residual.keras:
#    a residual block, a gradient summed from three readers, Concatenate,
#    GlobalAveragePooling2D; residual-l2-schedule.keras with L2 regularizers
#    and a CosineDecay schedule), activations.keras (every activation,
#    ZeroPadding2D, GlobalMaxPooling2D) and the built-in resnet (resnet.keras)
#    agree with Keras step by step when
#    Keras is put back on crossdev's state before each step; a wrong
#    optimizer form is caught (the comparison can fail);
#  - Keras evaluates crossdev's trained state to the same test loss and
#    accuracy (test_keras_epoch.sh trains a whole epoch apart), a Dropout
#    before a Flatten or a linear Activation included;
#  - Keras loads the weights `run --export-weights` wrote, bit for bit;
#  - the seed's buggy example (a linear last layer with from_logits=False)
#    is warned about, naming the layer and the option, and trains to ~10%
#    as in Keras;
#  - compare --model reports the user's model identical across devices;
#  - bad model options and data of the wrong shape are refused by name.
# Keras comes from tools/setup (build/pypi/keras): missing where setup ran
# is a FAILURE; only where setup never ran is the test skipped (77).
# usage: test_keras_training.sh FIXTURES-DIR PYPI-DIR
. "$(dirname "$0")/common.sh"
FIX=$1 PYPI=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=$PYPI/keras/bin/python
require_framework "$PYPI" "Keras ($PY)" test -x "$PY"
STEPS=("$PY" "$ROOT/tools/keras/compare-steps.py")
quiet_keras() { grep -v "UserWarning\|warnings.warn\|saveable.load_own_variables"; }
DEV=pocl/pthread
FASHION=/usr/share/datasets/fashion-mnist
[ -d "$FASHION" ] || { echo "FAIL: $FASHION missing (tools/setup installs dataset-fashion-mnist)"; exit 1; }

# MNIST-format data of the all-layers model's shape (12x12x3, channels last
# in the IDX file, 5 classes): class templates plus noise, learnable
/usr/bin/python3 "$ROOT/tests/python/make_idx.py" "$WORK/d12"

# keras_agrees NAME MODEL TRACE DATA: compare-steps's one-step resync, then
# Keras loading the weights the run exported (TRACE.weights.h5)
keras_agrees() {
  OUT=$("${STEPS[@]}" "$2" "$3" "$4" --json "$3-steps.json" 2>&1 | quiet_keras); rc=$?
  echo "$OUT" | tail -1
  check "$1: crossdev and Keras agree at every step (one-step resync)" test "$rc" -eq 0
  OUT=$("${STEPS[@]}" "$2" "$3" "$4" --export "$3.weights.h5" 2>&1 | quiet_keras); rc=$?
  echo "$OUT" | tail -1
  check "$1: Keras loads the exported weights, equal to the last snapshot" test "$rc" -eq 0
}

# ---- every layer, step by step, and the exported weights ----------------------------
AL=$FIX/all-layers.keras
expect_exit 0 "all-layers: 20 steps" "$XD_CLI" run --device $DEV --model "$AL" --data "$WORK/d12" --steps 20 \
  --snapshot-every 1 --eval-limit 0 --quiet --export-weights "$WORK/al.weights.h5" --out "$WORK/al"
check "all-layers: the optimizer is the file's (SGD, Keras's form, Nesterov)" \
  test "$(json_get "$WORK/al/trace.json" "d['optimizer']['name'], d['optimizer']['variant'], d['optimizer']['nesterov']")" = "sgd keras True"
check "all-layers: the spec is recorded" test "$(json_get "$WORK/al/trace.json" "len(d['model_spec']['layers'])")" = 13
keras_agrees all-layers "$AL" "$WORK/al" "$WORK/d12"

# ---- a functional model: residual block, fan-out, concatenations, global pooling --------------
/usr/bin/python3 "$ROOT/tests/python/make_idx.py" "$WORK/d8" 8 8 3 5
RES=$FIX/residual.keras
expect_exit 0 "residual: 20 steps" "$XD_CLI" run --device $DEV --model "$RES" --data "$WORK/d8" --steps 20 \
  --snapshot-every 1 --eval-limit 0 --quiet --export-weights "$WORK/res.weights.h5" --out "$WORK/res"
check "residual: the graph is recorded (the Add reads two layers)" \
  test "$(json_get "$WORK/res/trace.json" "[l.get('inputs') for l in d['model_spec']['layers'] if l['type'] == 'Add']")" = "[[0, 5]]"
keras_agrees residual "$RES" "$WORK/res" "$WORK/d8"
expect_exit 0 "residual: one epoch" "$XD_CLI" run --device $DEV --model "$RES" --data "$WORK/d8" --epochs 1 \
  --quiet --out "$WORK/rese"
OUT=$("${STEPS[@]}" "$RES" "$WORK/rese" "$WORK/d8" --eval 2>&1 | quiet_keras); rc=$?
echo "$OUT" | tail -1
check "residual: Keras evaluates crossdev's final state to its test loss and accuracy" test "$rc" -eq 0

# ---- L2 regularizers and a learning-rate schedule (residual-l2-schedule.keras) ---------------
# Keras adds each regularizer's penalty to the loss it reports and its
# gradient to the weight's; Adam's rate comes from CosineDecay with a warmup
# at the optimizer's iteration count: both must agree step by step
RLS=$FIX/residual-l2-schedule.keras
expect_exit 0 "residual-l2-schedule: 20 steps" "$XD_CLI" run --device $DEV --model "$RLS" --data "$WORK/d8" \
  --steps 20 --snapshot-every 1 --eval-limit 200 --quiet --export-weights "$WORK/rls.weights.h5" --out "$WORK/rls"
check "residual-l2-schedule: the schedule is recorded in the trace's optimizer" \
  test "$(json_get "$WORK/rls/trace.json" "d['optimizer']['schedule']['class'], d['optimizer']['schedule']['warmup_steps']")" = "CosineDecay 4.0"
check "residual-l2-schedule: the regularizers are recorded in the spec" \
  test "$(json_get "$WORK/rls/trace.json" "[(l['name'], l.get('kernel_l2'), l.get('bias_l2')) for l in d['model_spec']['layers']][0]")" = "('conv2d', 0.001, 0.005)"
keras_agrees residual-l2-schedule "$RLS" "$WORK/rls" "$WORK/d8"
OUT=$("${STEPS[@]}" "$RLS" "$WORK/rls" "$WORK/d8" --eval 2>&1 | quiet_keras); rc=$?
echo "$OUT" | tail -1
check "residual-l2-schedule: Keras evaluates crossdev's state to its test loss (the penalties included)" test "$rc" -eq 0
OUT=$("$XD_CLI" run --device $DEV --model "$RLS" --data "$WORK/d8" --steps 1 --lr 0.01 --out "$WORK/rlslr" 2>&1); rc=$?
check "--lr with a model whose optimizer has a schedule is refused naming both" \
  bash -c '[ "$1" -eq 2 ] && grep -q -- "--lr" <<<"$2" && grep -q "CosineDecay" <<<"$2"' _ "$rc" "$OUT"
# ---- every activation and the padding/global-max layers (activations.keras) ---------------
ACT=$FIX/activations.keras
expect_exit 0 "activations: 12 steps" "$XD_CLI" run --device $DEV --model "$ACT" --data "$WORK/d8" --steps 12 \
  --snapshot-every 1 --eval-limit 0 --quiet --out "$WORK/act"
OUT=$("${STEPS[@]}" "$ACT" "$WORK/act" "$WORK/d8" 2>&1 | quiet_keras); rc=$?
echo "$OUT" | tail -1
check "activations: crossdev and Keras agree at every step (sigmoid, tanh, leaky_relu, elu, relu6, silu, Softmax, ZeroPadding2D, GlobalMaxPooling2D)" test "$rc" -eq 0

# ---- mnist-convnet from crossdev's initial weights: dropout masks, Keras's Adam -----------
MC=$FIX/mnist-convnet.json
expect_exit 0 "mnist-convnet: 12 steps" "$XD_CLI" run --device $DEV --model mnist-convnet --steps 12 \
  --snapshot-every 1 --eval-limit 0 --quiet --out "$WORK/mc"
OUT=$("${STEPS[@]}" "$MC" "$WORK/mc" "$FASHION" --json "$WORK/mc-steps.json" 2>&1 | quiet_keras); rc=$?
echo "$OUT" | tail -1
check "mnist-convnet: crossdev and Keras agree at every step" test "$rc" -eq 0
# the comparison can fail: PyTorch's Adam form against Keras's model
expect_exit 0 "mnist-convnet with PyTorch's Adam" "$XD_CLI" run --device $DEV --model mnist-convnet --steps 3 \
  --optimizer adam-pytorch --snapshot-every 1 --eval-limit 0 --quiet --out "$WORK/mcp"
OUT=$("${STEPS[@]}" "$MC" "$WORK/mcp" "$FASHION" 2>&1 | quiet_keras); rc=$?
check "another optimizer form is caught (step 2 differs)" test "$rc" -eq 1
check "... named in the per-step figures" contains "$OUT" "DIFFER"

# ---- a Dropout before a view of its output (a Flatten, a linear Activation) --------------------
# (crossdev once evaluated it on the dropout's own output, which nothing
# writes at evaluation: chance accuracy where Keras had 0.63)
DV=$FIX/dropout-view.json
expect_exit 0 "dropout-view: 12 steps" "$XD_CLI" run --device $DEV --model "$DV" --steps 12 --snapshot-every 1 \
  --eval-limit 500 --quiet --out "$WORK/dv"
OUT=$("${STEPS[@]}" "$DV" "$WORK/dv" "$FASHION" 2>&1 | quiet_keras); rc=$?
echo "$OUT" | tail -1
check "dropout-view: crossdev and Keras agree at every step" test "$rc" -eq 0
OUT=$("${STEPS[@]}" "$DV" "$WORK/dv" "$FASHION" --eval 2>&1 | quiet_keras); rc=$?
echo "$OUT" | tail -1
check "dropout-view: Keras evaluates crossdev's state alike (the dropouts off, the views on their input)" test "$rc" -eq 0

# ---- evaluation: Keras evaluates crossdev's trained state alike ------------------------------
expect_exit 0 "all-layers: one epoch" "$XD_CLI" run --device $DEV --model "$AL" --data "$WORK/d12" --epochs 1 \
  --quiet --out "$WORK/ale"
OUT=$("${STEPS[@]}" "$AL" "$WORK/ale" "$WORK/d12" --eval 2>&1 | quiet_keras); rc=$?
echo "$OUT" | tail -1
check "Keras evaluates crossdev's final state to its test loss and accuracy (BatchNormalization's moving statistics, no dropout)" test "$rc" -eq 0

# ---- the seed's buggy example ---------------------------------------------------------------
# (Keras 3.15 ends the epoch at test accuracy 0.1000, training loss 8.09;
# crossdev's run meets a row whose outputs sum to ~1e-6, divides by it and
# overflows: a NaN, recorded, and no accuracy.  Either way: nothing learnt.)
OUT=$("$XD_CLI" run --device $DEV --model "$FIX/seed-buggy.json" --epochs 1 --eval-limit 2000 --keep-going \
  --out "$WORK/bug" 2>&1)
check "seed's example: a trace written" test -f "$WORK/bug/trace.json"
check "warned before training" contains "$OUT" "WARNING: model"
check "... naming the layer and the option" bash -c 'grep -q "last layer .dense. (Dense)" <<<"$1" && grep -q "from_logits=False" <<<"$1"' _ "$OUT"
check "it does not learn, as in Keras: a NaN, or test accuracy below 0.2" /usr/bin/python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d['nonfinite'] or d['eval']['final']['accuracy'] < 0.2 else 1)" "$WORK/bug/trace.json"

# ---- compare with the user's model, across devices ---------------------------------------------
expect_exit 0 "compare --model all-layers.keras" "$XD_CLI" compare --model "$AL" --synthetic --devices pocl \
  --modes reproducible --steps 3 --work "$WORK/cmp" --json "$WORK/cmp.json"
check "the user's model reported identical across PoCL's devices" contains "$OUT" "IDENTICAL"
check "the report names the model" contains "$OUT" "crossdev compare: all_layers (all-layers.keras)"

# ---- the built-in resnet (Keras's ResNet v1, depth 8) against resnet.keras, made by real Keras -----
# crossdev's own initial weights (He normal) on Fashion-MNIST: stride-2
# convolutions with "same" padding, 1x1 projections, residual Adds, BN,
# global average pooling; few steps (the model is the largest here).  With
# SGD (Keras's form, compare-steps --optimizer-from-trace): the update is
# the gradient, so the one-step resync judges the gradients themselves.
# (With the model's Adam, steps 1-2 normalise the rounding noise of
# gradients that cancel to ~0 — conv weights before a BatchNormalization —
# into a full step: docs/models.md gives the figures.)  The conv biases
# before BN have no effect and are reported apart.  Measured: 7.1e-4 of a
# step's update (the conv weights before BN: their gradients cancel to
# ~1e-3 of the terms summed), loss 1.2e-7; tolerance 2e-3.
RN=$FIX/resnet.keras
expect_exit 0 "resnet: 5 steps, SGD" "$XD_CLI" run --device $DEV --model resnet --optimizer sgd --lr 0.02 \
  --momentum 0.9 --steps 5 --snapshot-every 1 --eval-limit 0 --quiet --export-weights "$WORK/rn.weights.h5" \
  --out "$WORK/rn"
check "resnet: the graph is recorded (three Adds, the projections read the block's input)" \
  test "$(json_get "$WORK/rn/trace.json" "[l.get('inputs') for l in d['model_spec']['layers'] if l['type'] == 'Add']")" = "[[2, 7], [14, 15], [22, 23]]"
OUT=$("${STEPS[@]}" "$RN" "$WORK/rn" "$FASHION" --optimizer-from-trace --tol-update 2e-3 --json "$WORK/rn-steps.json" \
  2>&1 | quiet_keras); rc=$?
echo "$OUT" | tail -2
check "resnet: crossdev and Keras agree at every step (one-step resync)" test "$rc" -eq 0
check "... the biases before BatchNormalization reported apart" contains "$OUT" "not judged, no effect on the outputs"
OUT=$("${STEPS[@]}" "$RN" "$WORK/rn" "$FASHION" --export "$WORK/rn.weights.h5" 2>&1 | quiet_keras); rc=$?
echo "$OUT" | tail -1
check "resnet: Keras loads the exported weights, equal to the last snapshot" test "$rc" -eq 0

# ---- refusals -----------------------------------------------------------------------------------
expect_exit 2 "data of another shape" "$XD_CLI" run --device $DEV --model "$AL" --data "$FASHION" --steps 1 --out "$WORK/x1"
check "shape refusal names both shapes" bash -c 'grep -q "12x12x3" <<<"$1" && grep -q "28x28x1" <<<"$1"' _ "$OUT"
expect_exit 2 "--beta1 with SGD" "$XD_CLI" run --device $DEV --model "$AL" --synthetic --beta1 0.8 --steps 1 --out "$WORK/x2"
check "--beta1 named" contains "$OUT" "--beta1 does not apply to sgd-keras"
expect_exit 2 "an unknown optimizer" "$XD_CLI" run --device $DEV --optimizer rmsprop --synthetic --steps 1 --out "$WORK/x3"
check "the optimizers named" contains "$OUT" "adam-keras, adam-pytorch"
expect_exit 2 "a model that is no file" "$XD_CLI" run --device $DEV --model no-such.keras --synthetic --steps 1 --out "$WORK/x4"
check "the built-in models named" contains "$OUT" "seed-cnn"
check "... and the file named as missing, once" contains "$OUT" "--model: 'no-such.keras': no such file, and no built-in model"
check "nothing written by a refusal" bash -c "! ls -d $WORK/x1 $WORK/x2 $WORK/x3 $WORK/x4 2>/dev/null | grep -q ."
finish
