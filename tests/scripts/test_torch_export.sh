#!/usr/bin/env bash
# PyTorch modules as crossdev models (crossdev.torch.export, issue 25), real
# PyTorch (Debian's python3-torch, CPU), nothing mocked:
#  - a residual module (strided/padded convs, BatchNorm2d, an addition, max
#    and average pooling, global average pooling, Linear) exported with SGD
#    (Nesterov) and with Adam trains in crossdev from the module's own
#    weights, and agrees with the user's own module and optimizer one step
#    at a time (tests/python/torch_export_parity.py);
#  - report names are the module's own (block.conv1.weight, the ops
#    block.conv1.forward), snapshots' files too;
#  - bitwise across every device here (reproducible mode; Oclgrind 1 step);
#  - every unsupported construct refused naming the module and the option
#    (tests/python/torch_export_refusals.py);
#  - invalid files refused naming the file and the entry or field (exit 2,
#    as every --model refusal).
# usage: test_torch_export.sh PYPI-DIR
. "$(dirname "$0")/common.sh"
PYPI=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
export PYTHONPATH=$ROOT/tools/python PYTHONDONTWRITEBYTECODE=1
require_framework "$PYPI" "PyTorch for $PY (python3-torch)" "$PY" -c "import torch"
DEV=pocl/pthread
FASHION=/usr/share/datasets/fashion-mnist
[ -d "$FASHION" ] || { echo "FAIL: $FASHION missing (tools/setup installs dataset-fashion-mnist)"; exit 1; }
PARITY=("$PY" "$ROOT/tests/python/torch_export_parity.py")

# ---- parity with PyTorch, per step ------------------------------------------------------------
for o in sgd adam; do
  expect_exit 0 "export the residual module ($o)" "${PARITY[@]}" make "$WORK/$o.xdmodel" --optimizer $o
  expect_exit 0 "crossdev trains it ($o)" "$XD_CLI" run --device $DEV --model "$WORK/$o.xdmodel" --data "$FASHION" \
    --steps 4 --snapshot-every 1 --hash-ops --eval-limit 200 --quiet --out "$WORK/t-$o"
  expect_exit 0 "... step by step as PyTorch ($o)" "${PARITY[@]}" check "$WORK/$o.xdmodel" "$WORK/t-$o" "$FASHION"
  echo "$OUT" | tail -1 | sed 's/^/  | /'
  check "... from the module's own weights ($o)" contains "$OUT" "the module's own, bit for bit: True"
done
T="$WORK/t-sgd/trace.json"
check "the trace names the module's parameters" test "$(json_get "$T" "sorted(k for k in d['tensors'] if k.startswith('block.bn1'))")" = \
  "['block.bn1.bias', 'block.bn1.bias.m', 'block.bn1.running_mean', 'block.bn1.running_var', 'block.bn1.weight', 'block.bn1.weight.m']"
check "... and its ops" test "$(json_get "$T" "'block.conv1.forward' in d['op_hashes']['ops'] and 'block.short.backward_weights' in d['op_hashes']['ops']")" = True
check "... its snapshots' files" test -f "$WORK/t-sgd/step-000004/block.bn2.running_var.npy"
check "the spec records PyTorch's BatchNorm and explicit padding" test \
  "$(json_get "$T" "[(l['name'], l.get('batchnorm'), l.get('pads')) for l in d['model_spec']['layers'][:2]]")" = \
  "[('stem.0', None, [1, 1, 1, 1]), ('stem.1', 'pytorch', None)]"

expect_exit 0 "run --resume continues it (its spec from the trace)" "$XD_CLI" run --device $DEV --resume "$WORK/t-sgd" \
  --steps 5 --quiet --out "$WORK/t-sgd-5"
check "... with the module's names" test -f "$WORK/t-sgd-5/step-000005/block.bn1.running_mean.npy"
expect_exit 2 "--export-weights (Keras's file) refused for BatchNorm2d" "$XD_CLI" run --device $DEV \
  --model "$WORK/sgd.xdmodel" --synthetic --steps 1 --export-weights "$WORK/w.weights.h5" --quiet --out "$WORK/xw"
check "... naming the layer" contains "$OUT" "layer 'stem.1' is PyTorch's BatchNorm2d"

# ---- bitwise across devices --------------------------------------------------------------------
expect_exit 0 "compare the exported module on every device" "$XD_CLI" compare --model "$WORK/sgd.xdmodel" \
  --synthetic --batch 4 --steps 3 --modes reproducible --slow oclgrind --slow-steps 1 --timeout 600 \
  --work "$WORK/cmp" --json "$WORK/cmp.json"
check "... every device here ran it" test "$(json_get "$WORK/cmp.json" "len(set(r['device'] for r in d['runs']))")" = \
  "$("$XD_CLI" list --ids | wc -l)"
check "every reproducible pair IDENTICAL" test "$(json_get "$WORK/cmp.json" \
  "len(d['pairs']) > 0 and all(p['verdict']=='IDENTICAL' for p in d['pairs'])")" = True

# ---- refusals ----------------------------------------------------------------------------------
expect_exit 0 "every unsupported construct refused by name" "$PY" "$ROOT/tests/python/torch_export_refusals.py" "$WORK"
echo "$OUT" | tail -1 | sed 's/^/  | /'

# ---- invalid files -----------------------------------------------------------------------------
# mutate SRC DST PYTHON: DST is SRC with its manifest m (a dict) and entries e (name -> bytes) changed
mutate() {
  "$PY" - "$1" "$2" "$3" <<'PY'
import io, json, sys, zipfile
import numpy as np
src, dst, code = sys.argv[1:]
z = zipfile.ZipFile(src)
e = {n: z.read(n) for n in z.namelist()}
m = json.loads(e.pop("crossdev-model.json"))
def npy(a):
    b = io.BytesIO(); np.save(b, a); return b.getvalue()
exec(code)
with zipfile.ZipFile(dst, "w") as out:
    out.writestr("crossdev-model.json", m if isinstance(m, str) else json.dumps(m))
    for n, b in e.items():
        out.writestr(n, b)
PY
}
refused() { # refused WHAT PYTHON WORDS...: the mutated file is refused, the message holds each word
  local what=$1 code=$2; shift 2
  mutate "$WORK/sgd.xdmodel" "$WORK/bad.xdmodel" "$code"
  expect_exit 2 "refused: $what" "$XD_CLI" run --device $DEV --model "$WORK/bad.xdmodel" --synthetic --steps 1 \
    --quiet --out "$WORK/bad-run"
  local w
  for w in bad.xdmodel "$@"; do check "... names '$w' ($what)" contains "$OUT" "$w"; done
}
refused "another version" "m['version'] = 2" "crossdev-model.json" "version"
refused "another framework" "m['framework'] = 'jax'" "framework"
refused "a missing weight" "del e['block.conv1.weight.npy']" "block.conv1.weight.npy"
refused "a weight of another shape" "e['fc.bias.npy'] = npy(np.zeros(11, np.float32))" "fc.bias.npy" "[11]" "[10]"
refused "a float64 weight" "e['fc.bias.npy'] = npy(np.zeros(10))" "fc.bias.npy" "float64"
refused "a bad layer field" "m['model_spec']['layers'][0]['pads'] = [1, 1, 1]" "layers[0].pads"
refused "pads without explicit padding" "m['model_spec']['layers'][0]['padding'] = 'valid'" "layers[0].pads"
refused "padding as large as the kernel" "m['model_spec']['layers'][0]['pads'] = [3, 1, 1, 1]" "stem.0" "padding"
refused "Keras's BatchNorm form" "del m['model_spec']['layers'][1]['batchnorm']" "layers[1]" "stem.1" "pytorch"
refused "another batchnorm form" "m['model_spec']['layers'][1]['batchnorm'] = 'keras'" "layers[1].batchnorm"
refused "not JSON" "m = '{'" "crossdev-model.json" "not JSON"
finish
