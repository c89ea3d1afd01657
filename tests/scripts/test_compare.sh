#!/usr/bin/env bash
# crossdev-compare end to end on every device here: reproducible pairs
# IDENTICAL, fast mode's differences quantified, planted differences found,
# crashed and hung children reported as FAILED, JSON valid against the
# schema, the HTML page rendering in headless chromium.
# usage: test_compare.sh --slow REGEX
. "$(dirname "$0")/common.sh"
SLOW=oclgrind
[ "${1:-}" = "--slow" ] && SLOW=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
RUN=(--synthetic --batch 4 --slow "$SLOW" --slow-steps 1 --timeout 600)

# 1. every device, both modes
expect_exit 0 "compare on every device" "$XD_CLI" compare "${RUN[@]}" --steps 6 --work "$WORK/c" \
  --json "$WORK/c.json" --html "$WORK/c.html"
echo "$OUT" | grep -E "^Pair|verdict|first divergence" | sed 's/^/  | /'
J="$WORK/c.json"
check "report lists every device" test "$(json_get "$J" "len(set(r['device'] for r in d['runs']))")" = "$("$XD_CLI" list --ids | wc -l)"
check "every reproducible pair IDENTICAL" test "$(json_get "$J" "all(p['verdict']=='IDENTICAL' for p in d['pairs'] if p['reference']['mode']==p['other']['mode']=='reproducible')")" = True
check "no guarantee broken" test "$(json_get "$J" "any(p['guarantee_broken'] for p in d['pairs'])")" = False
check "reproducible vs fast quantified (differs, ULP and first op named)" test \
  "$(json_get "$J" "[p for p in d['pairs'] if p['reference']['mode']!=p['other']['mode']][0]['verdict'] != 'IDENTICAL' and [p for p in d['pairs'] if p['reference']['mode']!=p['other']['mode']][0]['max_ulp'] >= 1 and [p for p in d['pairs'] if p['reference']['mode']!=p['other']['mode']][0]['first_divergent_op'] is not None")" = True
check "slow devices ran fewer steps, compared over common steps" test \
  "$(json_get "$J" "all(p['steps_compared']==min(1 if '$SLOW' in p['reference']['device'] else 6, 1 if '$SLOW' in p['other']['device'] else 6) for p in d['pairs'])")" = True
if /usr/bin/python3 -c "import jsonschema" 2>/dev/null; then
  check "JSON report valid against docs/report.schema.json" /usr/bin/python3 -c "
import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))" "$J" "$SRC/docs/report.schema.json"
else
  echo "SKIP: python3-jsonschema absent (tools/setup installs it)"
fi
check "HTML report written" test -s "$WORK/c.html"
if [ -x "$SRC/tools/check-html-report" ]; then
  "$SRC/tools/check-html-report" "$WORK/c.html" "$WORK/c.png" >"$WORK/html.log" 2>&1; rc=$?
  if [ $rc -eq 77 ]; then echo "SKIP: $(tail -1 "$WORK/html.log")"; else check "HTML renders in headless chromium" test $rc -eq 0; fi
  [ $rc -ne 0 ] && [ $rc -ne 77 ] && sed 's/^/    /' "$WORK/html.log"
fi

# 1b. a functional model (residual block, concatenations, global average
# pooling, gradients that fan out) on every device: bitwise in reproducible mode
RES="$SRC/tests/fixtures/keras/residual.keras"
expect_exit 0 "compare residual.keras on every device" "$XD_CLI" compare --model "$RES" "${RUN[@]}" --steps 4 \
  --work "$WORK/cr" --json "$WORK/cr.json"
check "residual.keras: every reproducible pair IDENTICAL" test "$(json_get "$WORK/cr.json" "len(d['pairs']) > 0 and all(p['verdict']=='IDENTICAL' for p in d['pairs'] if p['reference']['mode']==p['other']['mode']=='reproducible')")" = True
check "residual.keras: no guarantee broken" test "$(json_get "$WORK/cr.json" "any(p['guarantee_broken'] for p in d['pairs'])")" = False
# 1c. every activation, ZeroPadding2D and GlobalMaxPooling2D (crossdev's
# expm1, tanh and sigmoid in reproducible mode): bitwise on every device
ACT="$SRC/tests/fixtures/keras/activations.keras"
expect_exit 0 "compare activations.keras on every device" "$XD_CLI" compare --model "$ACT" "${RUN[@]}" --steps 2 \
  --work "$WORK/ca" --json "$WORK/ca.json"
check "activations.keras: every reproducible pair IDENTICAL" test "$(json_get "$WORK/ca.json" "len(d['pairs']) > 0 and all(p['verdict']=='IDENTICAL' for p in d['pairs'] if p['reference']['mode']==p['other']['mode']=='reproducible')")" = True
check "activations.keras: no guarantee broken" test "$(json_get "$WORK/ca.json" "any(p['guarantee_broken'] for p in d['pairs'])")" = False

# 1c. L2 regularizers and a learning-rate schedule (the penalty's sum in one
# work-item, the schedule on the host): bitwise in reproducible mode
RLS="$SRC/tests/fixtures/keras/residual-l2-schedule.keras"
expect_exit 0 "compare residual-l2-schedule.keras on every device" "$XD_CLI" compare --model "$RLS" "${RUN[@]}" \
  --steps 4 --work "$WORK/crl" --json "$WORK/crl.json"
check "residual-l2-schedule.keras: every reproducible pair IDENTICAL" test "$(json_get "$WORK/crl.json" "len(d['pairs']) > 0 and all(p['verdict']=='IDENTICAL' for p in d['pairs'] if p['reference']['mode']==p['other']['mode']=='reproducible')")" = True

# 1c. the built-in resnet (strided convolutions with "same" padding, 1x1
# projections, three residual Adds, BatchNormalization) on every device but
# the simulator (one step of it takes Oclgrind over 10 minutes; test_bitwise
# holds the simulator's kernels to the others' on the same ops, small)
FASTDEVS=$("$XD_CLI" list --ids | grep -iv "$SLOW" | paste -sd, -)
expect_exit 0 "compare resnet on every device but $SLOW" "$XD_CLI" compare --model resnet --devices "$FASTDEVS" \
  --modes reproducible --synthetic --batch 4 --steps 2 --timeout 600 --work "$WORK/crn" \
  --json "$WORK/crn.json"
check "resnet: every pair IDENTICAL" test "$(json_get "$WORK/crn.json" "len(d['pairs']) > 0 and all(p['verdict']=='IDENTICAL' for p in d['pairs'])")" = True

# 2. planted differences in a copy of a PoCL trace
T=$(ls -d "$WORK"/c/pocl-*reproducible-r0 | head -1)
[ -n "$T" ] || { echo "FAIL: no PoCL trace"; exit 1; }
plant() { # plant SRC DST STEP NEWVALUE-EXPR: one element of dense1.weight changed, its recorded hash too
  cp -r "$1" "$2"
  /usr/bin/python3 - "$2" "$3" "$4" "$(cd "$(dirname "$0")/../../tools/python" && pwd)" <<'PY'
import json, struct, sys
d, step, expr = sys.argv[1], int(sys.argv[2]), sys.argv[3]
p = "%s/step-%06d/dense1.weight.npy" % (d, step)
raw = bytearray(open(p, "rb").read())
hl = struct.unpack("<H", raw[8:10])[0]; off = 10 + hl
v = struct.unpack("<f", raw[off:off + 4])[0]; bits = struct.unpack("<I", raw[off:off + 4])[0]
new = eval(expr, {"v": v, "bits": bits, "struct": struct})
raw[off:off + 4] = struct.pack("<I", new) if isinstance(new, int) else struct.pack("<f", new)
open(p, "wb").write(raw)
sys.path.insert(0, sys.argv[4])
from crossdev.hashing import hash_hex, xxh3_64  # the file's true hash, as a run would record it
t = json.load(open(d + "/trace.json"))
i = t["tensors"].index("dense1.weight")
t["hashes"]["steps"][step - 1][i] = hash_hex(xxh3_64(bytes(raw[off:])))
json.dump(t, open(d + "/trace.json", "w"))
PY
}
plant "$T" "$WORK/ulp" 3 "bits + 1"
expect_exit 1 "1-ULP plant: not identical, exit 1" "$XD_CLI" diff "$T" "$WORK/ulp" --json "$WORK/ulp.json"
check "1-ULP plant: first divergent step 3, dense1.weight" contains "$OUT" "first divergence: step 3, dense1.weight"
check "1-ULP plant: exactly one element differs by 1 ULP" test \
  "$(json_get "$WORK/ulp.json" "[(x['differing'], x['max_ulp']) for x in d['pairs'][0]['tensors'] if x['tensor']=='dense1.weight' and x['step']==3]")" = "[(1, 1)]"
check "1-ULP plant: guarantee flagged" contains "$OUT" "GUARANTEE BROKEN"
check "1-ULP plant: judged where it parts: ROUNDING-LEVEL" test "$(json_get "$WORK/ulp.json" "d['pairs'][0]['verdict']")" = ROUNDING-LEVEL
plant "$T" "$WORK/big" 3 "v + 1000.0"
expect_exit 1 "large plant: DIVERGED, exit 1" "$XD_CLI" diff "$T" "$WORK/big"
check "large plant: verdict DIVERGED" contains "$OUT" "DIVERGED"

# 3. traces that cannot be compared, and files that are not traces
cp -r "$T" "$WORK/otherbatch"
/usr/bin/python3 -c "import json,sys; p=sys.argv[1]+'/trace.json'; t=json.load(open(p)); t['batch']=8; json.dump(t, open(p,'w'))" "$WORK/otherbatch"
expect_exit 0 "another batch size: DIFFERENT SETTINGS, nothing judged (exit 0)" "$XD_CLI" diff "$T" "$WORK/otherbatch"
check "the difference named with both values" contains "$OUT" "batch                  4 vs 8"
mkdir -p "$WORK/notatrace" && echo x >"$WORK/notatrace/file"
expect_exit 2 "not a trace" "$XD_CLI" diff "$T" "$WORK/notatrace"
check "not-a-trace message names trace.json" contains "$OUT" "trace.json"

# 4. a crashing and a hanging child: FAILED rows, the others still compared
expect_exit 2 "aborting child" env XD_FAULT=abort:pocl/basic "$XD_CLI" compare "${RUN[@]}" --devices pocl \
  --modes reproducible --steps 2 --work "$WORK/f" --json "$WORK/f.json" --html "$WORK/f.html"
check "abort: FAILED with signal 6" test "$(json_get "$WORK/f.json" "[(r['failed'], r['signal']) for r in d['runs'] if 'basic' in r['device']]")" = "[(True, 6)]"
check "abort: the other device still ran" test "$(json_get "$WORK/f.json" "[r['failed'] for r in d['runs'] if 'pthread' in r['device']]")" = "[False]"
expect_exit 2 "hanging child" env XD_FAULT=hang:pocl/basic "$XD_CLI" compare "${RUN[@]}" --devices pocl \
  --modes reproducible --steps 2 --timeout 3 --work "$WORK/h" --json "$WORK/h.json" --html "$WORK/h.html"
check "hang: FAILED by timeout" test "$(json_get "$WORK/h.json" "[r['timed_out'] for r in d['runs'] if 'basic' in r['device']]")" = "[True]"
check "hang: report still printed" contains "$OUT" "FAILED (timeout)"
check "hang: the message does not end in '; '" test "$(json_get "$WORK/h.json" "[r['error'].endswith('; ') for r in d['runs'] if 'basic' in r['device']]")" = "[False]"
# 4b. a driver that cannot compile crossdev's kernels (PoCL 1.3 from PyPI: "unknown target CPU
# 'generic'"), planted: list --probe refuses it with its build log's error line, as run says it
OUT=$(XD_PROBE_PLANT=build-error "$XD_CLI" list --probe 2>&1); rc=$?
check "list --probe, every build failing: exit 0 (refused is an answer, not an error)" test "$rc" -eq 0
check "... the probe column says refused" bash -c 'grep -q "pocl/pthread.* refused$" <<<"$1"' _ "$OUT"
check "... with the build log's error line" contains "$OUT" "cannot compile crossdev's kernels:"
check "... the planted error quoted" bash -c 'grep "cannot compile" <<<"$1" | grep -q "error.*planted build failure"' _ "$OUT"
# 4c. a run whose driver crashed (SIGSEGV: Intel 2021.4.0's fast mode) leaves OUT.tmp-PID: the
# next run of that OUT removes it, saying so, and leaves a live one's alone
DEAD=$(sh -c 'echo $$')
mkdir -p "$WORK/st.tmp-$DEAD/step-000000" "$WORK/st.tmp-$$"
expect_exit 0 "run over a dead run's temporary folder" "$XD_CLI" run --device pthread --steps 1 --eval-limit 0 \
  --quiet --out "$WORK/st"
check "... removed and said" bash -c '! [ -e "$1" ] && grep -q "removed .*st.tmp-$2, left by a run of --out .* whose process ($2) died" <<<"$3"' _ \
  "$WORK/st.tmp-$DEAD" "$DEAD" "$OUT"
check "... a live process's folder kept" test -d "$WORK/st.tmp-$$"
# 5. --repeat on a slow device (a simulator's runs take minutes): once, said
expect_exit 0 "--repeat 2 with pthread as the slow device" "$XD_CLI" compare --synthetic --batch 4 --devices pthread \
  --modes reproducible --slow pthread --slow-steps 1 --repeat 2 --work "$WORK/rs" --json "$WORK/rs.json"
check "the slow device ran once, and it was said" bash -c 'test "$(/usr/bin/python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))[\"runs\"]))" "$2")" = 1 && grep -q "is slow (--slow .pthread.): run once, not --repeat 2 times" <<<"$1"' _ "$OUT" "$WORK/rs.json"
finish
