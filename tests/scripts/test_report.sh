#!/usr/bin/env bash
# The report tells the truth (issue 13), each case its own named assertion,
# on small synthetic runs of one PoCL device (batch 4, a few steps):
#   - diff keeps each trace's own mode (text, JSON, HTML);
#   - settings before numbers: another lr, other data (by checksum, never by
#     name) are DIFFERENT SETTINGS, exit 0, the difference named;
#   - judged where the runs part: a 1-ULP change is ROUNDING-LEVEL (and a
#     broken guarantee), a 4%-of-max change at step 1 DIVERGED with its size,
#     fast vs reproducible after 300 steps ROUNDING-LEVEL with amplification;
#     sign flips counted apart; snapshot shapes that differ never IDENTICAL;
#   - every run and pair named by a label from its path; diff A A noted;
#   - --json - is standard output; a FIFO, a symlink to a device, a symlink
#     to a regular file are written through / stay links;
#   - diff of a compare work folder, diff WORK/* skipping compare's files;
#   - compare: --devices order picks the reference, --slow is a
#     case-insensitive substring, a --timeout leaves no temporary folder,
#     Ctrl-C writes the partial report and says how to go on, children
#     report progress;
#   - run --resume takes the trace's settings and refuses a conflicting one.
# No OpenCL device other than Oclgrind: SKIP (77).
. "$(dirname "$0")/common.sh"
PY=/usr/bin/python3
# the planted files get their true XXH3 in trace.json (crossdev.hashing),
# as a run that computed them would record: diff checks each file it reads
export PYTHONPATH=$(cd "$(dirname "$0")/../../tools/python" && pwd)
[ -x "$PY" ] || { echo "SKIP: $PY absent"; exit 77; }
SRC=$(cd "$(dirname "$0")/../.." && pwd)
ids=$("$XD_CLI" list --ids 2>/dev/null)
DEV=$(grep -m1 'pocl/pthread' <<<"$ids" || grep -v '^oclgrind/' <<<"$ids" | head -1)
[ -n "$DEV" ] || { echo "SKIP: no OpenCL device other than Oclgrind"; exit 77; }
DEV2=$(grep -v '^oclgrind/' <<<"$ids" | grep -vxF "$DEV" | head -1)
PD=$("$XD_CLI" list --json | $PY -c "import json,sys; print([d['index'] for d in json.load(sys.stdin)['devices'] if d['id']==sys.argv[1]][0])" "$DEV")
echo "device: $DEV ($PD)${DEV2:+, second device $DEV2}"
RUN=(--device "$PD" --synthetic --batch 4 --eval-limit 64 --quiet)
W=$WORK
mk() { # mk NAME ARGS...: a trace $W/NAME, or the test fails here
  local name=$1; shift
  "$XD_CLI" run "${RUN[@]}" "$@" --out "$W/$name" >"$W/$name.log" 2>&1 ||
    { echo "FAIL: cannot make trace $name:"; sed 's/^/    /' "$W/$name.log"; exit 1; }
}
jq_() { json_get "$@"; }
mk r --steps 6 --hash-ops --op-outputs-at 1
mk f --steps 6 --hash-ops --op-outputs-at 1 --mode fast
mk lr --steps 6 --hash-ops --lr 0.01

# ---- 1. diff keeps each trace's mode --------------------------------------------------
expect_exit 0 "reproducible vs fast: exit 0" "$XD_CLI" diff "$W/r" "$W/f" --json "$W/rf.json" --html "$W/rf.html"
check "JSON: runs[1].mode is fast, as its trace says" test "$(jq_ "$W/rf.json" "[r['mode'] for r in d['runs']]")" = "['reproducible', 'fast']"
check "JSON: the pair's other side is fast" test "$(jq_ "$W/rf.json" "d['pairs'][0]['other']['mode']")" = fast
check "text: the runs table shows fast" bash -c 'grep -E "^  2 +f +[^ ]+ +fast " <<<"$1" >/dev/null' _ "$OUT"
check "text: the pair heading shows [fast]" contains "$OUT" "[fast]"
check "HTML: the runs table and headings show fast" bash -c 'grep -q "<td>fast</td>" "$1" && grep -q "· fast" "$1"' _ "$W/rf.html"
check "fast vs reproducible: ROUNDING-LEVEL at step 1" test "$(jq_ "$W/rf.json" "(d['pairs'][0]['verdict'], d['pairs'][0]['first_divergent_step'])")" = "('ROUNDING-LEVEL', 1)"
check "per-op sizes at step 1 from the stored op outputs" test "$(jq_ "$W/rf.json" "len(d['pairs'][0]['first_difference']['ops']) > 0 and all(o['max_rel'] < 1e-4 for o in d['pairs'][0]['first_difference']['ops'])")" = True
check "the mechanism named: the modes differ" contains "$OUT" "likely mechanism: the modes differ"
check "one summary table at the end" bash -c 'tail -5 <<<"$1" | grep -q "^  1 .*#1 vs #2 .*ROUNDING-LEVEL"' _ "$OUT"

# ---- 2. settings first ----------------------------------------------------------------
expect_exit 0 "another lr: DIFFERENT SETTINGS, exit 0" "$XD_CLI" diff "$W/r" "$W/lr" --json "$W/lr.json"
check "the verdict is DIFFERENT SETTINGS" test "$(jq_ "$W/lr.json" "d['pairs'][0]['verdict']")" = "DIFFERENT SETTINGS"
check "the difference named: optimizer.lr 0.001 vs 0.01" contains "$OUT" "optimizer.lr           0.001 vs 0.01"
check "no guarantee judged for other settings" bash -c '! grep -q "GUARANTEE BROKEN" <<<"$1"' _ "$OUT"
cp -r "$W/r" "$W/renamed"
$PY -c "import json,sys; p=sys.argv[1]+'/trace.json'; t=json.load(open(p)); t['data']['name']='FashionMNIST/raw'; json.dump(t, open(p,'w'))" "$W/renamed"
expect_exit 0 "the same data under another name: IDENTICAL" "$XD_CLI" diff "$W/r" "$W/renamed" --json "$W/renamed.json"
check "the data name is information only" test "$(jq_ "$W/renamed.json" "(d['pairs'][0]['verdict'], [s['kind'] for s in d['pairs'][0]['settings']['differences'] if s['key']=='data.name'])")" = "('IDENTICAL', ['info'])"
cp -r "$W/r" "$W/otherbytes"
$PY -c "import json,sys; p=sys.argv[1]+'/trace.json'; t=json.load(open(p)); t['data']['checksum']='xxh3:0123456789abcdef'; json.dump(t, open(p,'w'))" "$W/otherbytes"
expect_exit 0 "other bytes under the same name: DIFFERENT SETTINGS" "$XD_CLI" diff "$W/r" "$W/otherbytes"
check "the checksums named" contains "$OUT" "data.checksum"
if [ -d /usr/share/datasets/fashion-mnist ] &&
   "$XD_CLI" run --device "$PD" --batch 4 --eval-limit 64 --quiet --steps 6 --out "$W/real" >/dev/null 2>&1; then
  expect_exit 0 "synthetic vs real data: DIFFERENT SETTINGS, exit 0" "$XD_CLI" diff "$W/r" "$W/real"
  check "no false guarantee banner for other data" bash -c '! grep -q "GUARANTEE BROKEN" <<<"$1" && grep -q "DIFFERENT SETTINGS" <<<"$1"' _ "$OUT"
fi

# ---- 3. judged where the runs part ------------------------------------------------------
plant() { # plant SRC DST STEP TENSOR PY-EXPR(v, bits, mx): one element changed, its recorded hash too
  cp -r "$1" "$2"
  $PY - "$2" "$3" "$4" "$5" <<'PY'
import json, struct, sys
d, step, name, expr = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
p = "%s/step-%06d/%s.npy" % (d, step, name)
raw = bytearray(open(p, "rb").read())
off = 10 + struct.unpack("<H", raw[8:10])[0]
n = (len(raw) - off) // 4
vals = struct.unpack("<%df" % n, raw[off:])
i = max(range(n), key=lambda k: abs(vals[k]))  # the largest element
v, bits = vals[i], struct.unpack("<I", raw[off + 4 * i:off + 4 * i + 4])[0]
new = eval(expr, {"v": v, "bits": bits, "mx": max(abs(x) for x in vals)})
raw[off + 4 * i:off + 4 * i + 4] = struct.pack("<I", new) if isinstance(new, int) else struct.pack("<f", new)
open(p, "wb").write(raw)
from crossdev.hashing import hash_hex, xxh3_64
t = json.load(open(d + "/trace.json"))
k = t["tensors"].index(name)
t["hashes"]["steps"][step - 1][k] = hash_hex(xxh3_64(bytes(raw[off:])))
json.dump(t, open(d + "/trace.json", "w"))
PY
}
plant "$W/r" "$W/ulp" 3 dense1.weight "bits + 1"
expect_exit 1 "1-ULP change: exit 1 (a broken guarantee)" "$XD_CLI" diff "$W/r" "$W/ulp" --json "$W/ulp.json"
check "1-ULP change: ROUNDING-LEVEL, guarantee broken" test "$(jq_ "$W/ulp.json" "(d['pairs'][0]['verdict'], d['pairs'][0]['guarantee_broken'])")" = "('ROUNDING-LEVEL', True)"
plant "$W/r" "$W/four" 1 dense1.weight "v - 0.04 * mx if v > 0 else v + 0.04 * mx"
expect_exit 1 "4%-of-max change at step 1: exit 1" "$XD_CLI" diff "$W/r" "$W/four" --json "$W/four.json"
check "4%: DIVERGED at step 1 by the first-difference rule" test "$(jq_ "$W/four.json" "(d['pairs'][0]['verdict'], d['pairs'][0]['first_divergent_step'], d['pairs'][0]['rule'])")" = "('DIVERGED', 1, 'first-difference')"
check "4%: its size shown (max rel 0.04)" bash -c 'grep -q "its size (at step 1): max rel 0.04 in dense1.weight" <<<"$1"' _ "$OUT"
plant "$W/r" "$W/flip" 3 dense1.weight "-v"
expect_exit 1 "a sign flip: exit 1" "$XD_CLI" diff "$W/r" "$W/flip" --json "$W/flip.json"
check "a sign flip is its own bin and count, not a ULP distance" test "$(jq_ "$W/flip.json" "[(x['sign_flips'], x['ulp_histogram'][7], x['max_ulp']) for x in d['pairs'][0]['tensors'] if x['tensor']=='dense1.weight' and x['step']==3]")" = "[(1, 1, 0)]"
check "text: the sign bin named" contains "$OUT" "[sign] 1"
cp -r "$W/r" "$W/shape"
$PY - "$W/shape" <<'PY'
import json, struct, sys
d = sys.argv[1]
p = d + "/step-000006/conv1.bias.npy"
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 8), }"
hdr += " " * (64 - (10 + len(hdr) + 1) % 64) + "\n"
open(p, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + b"\0" * 128)
t = json.load(open(d + "/trace.json"))
k = t["tensors"].index("conv1.bias")
from crossdev.hashing import hash_hex, xxh3_64
t["hashes"]["steps"][5][k] = hash_hex(xxh3_64(b"\0" * 128))
json.dump(t, open(d + "/trace.json", "w"))
PY
expect_exit 2 "snapshot shapes that differ: exit 2" "$XD_CLI" diff "$W/r" "$W/shape" --json "$W/shape.json"
check "shapes that differ: INCOMPARABLE naming both, never IDENTICAL" test "$(jq_ "$W/shape.json" "(d['pairs'][0]['verdict'], 'float32 [32] vs float32 [4, 8]' in d['pairs'][0]['note'])")" = "('INCOMPARABLE', True)"
# fast vs reproducible after 300 steps: rounding grows, the verdict does not
mk r300 --steps 300
mk f300 --steps 300 --mode fast
expect_exit 0 "300 steps, fast vs reproducible: exit 0" "$XD_CLI" diff "$W/r300" "$W/f300" --json "$W/300.json"
check "300 steps: ROUNDING-LEVEL" test "$(jq_ "$W/300.json" "d['pairs'][0]['verdict']")" = ROUNDING-LEVEL
check "300 steps: the amplification shown" bash -c 'grep -q "^  amplification: max rel .* at step 1 -> .* at step 300 (.*) x" <<<"$1"' _ "$OUT"
check "300 steps: final accuracies side by side" contains "$OUT" "end of run: test accuracy"

# ---- 4. every run named; the same trace twice -------------------------------------------
mkdir -p "$W/a" "$W/b" "$W/c"
cp -r "$W/r" "$W/a/t"; cp -r "$W/r" "$W/b/t"; cp -r "$W/r" "$W/c/t"
expect_exit 0 "three copies of one trace" "$XD_CLI" diff "$W/a/t" "$W/b/t" "$W/c/t" --json "$W/abc.json" --html "$W/abc.html"
check "JSON: labels a/t, b/t, c/t" test "$(jq_ "$W/abc.json" "[r['label'] for r in d['runs']]")" = "['a/t', 'b/t', 'c/t']"
check "JSON: pair sides carry the labels" test "$(jq_ "$W/abc.json" "[(p['reference']['label'], p['other']['label']) for p in d['pairs']]")" = "[('a/t', 'b/t'), ('a/t', 'c/t')]"
check "text: rows and pair headings carry the labels" bash -c 'grep -q "^  3   c/t " <<<"$1" && grep -q "^     vs #3 c/t" <<<"$1"' _ "$OUT"
check "HTML: the labels shown" bash -c 'grep -q ">b/t<" "$1" && grep -q ">c/t<" "$1"' _ "$W/abc.html"
expect_exit 0 "diff A A" "$XD_CLI" diff "$W/r" "$W/r"
check "diff A A: noted as the same trace given twice" contains "$OUT" "the same trace was given twice"

# ---- 5. report targets ------------------------------------------------------------------
OUTJ=$(cd "$W" && "$XD_CLI" diff r f --json - 2>"$W/text.log"); rc=$?
check "--json -: exit 0" test $rc -eq 0
check "--json -: standard output is the JSON document" bash -c '/usr/bin/python3 -c "import json,sys; json.loads(sys.argv[1])" "$1"' _ "$OUTJ"
check "--json -: the text report went to standard error, no file named -" bash -c 'grep -q "^Pair 1" "$1" && [ ! -e "$2/-" ]' _ "$W/text.log" "$W"
mkfifo "$W/fifo"
timeout 60 cat "$W/fifo" >"$W/fifo.out" &  # a writer that renames over the FIFO never opens it
"$XD_CLI" diff "$W/r" "$W/f" --json "$W/fifo" >/dev/null 2>&1
wait
check "a FIFO is written through and stays a FIFO" bash -c '[ -p "$1" ] && /usr/bin/python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$2"' _ "$W/fifo" "$W/fifo.out"
ln -s /proc/self/fd/1 "$W/stdout-link"
"$XD_CLI" diff "$W/r" "$W/f" --json "$W/stdout-link" >"$W/through.out" 2>/dev/null
check "a symlink to standard output (/dev/stdout's kind) is written through, never renamed over" bash -c '[ -L "$1" ] && grep -q "\"format\": \"crossdev-report\"" "$2"' _ "$W/stdout-link" "$W/through.out"
echo old >"$W/real.json" && ln -s real.json "$W/link.json"
expect_exit 0 "a symlink to a regular file" "$XD_CLI" diff "$W/r" "$W/f" --json "$W/link.json"
check "the link stays a link; its target holds the report" bash -c '[ -L "$1" ] && grep -q crossdev-report "$2"' _ "$W/link.json" "$W/real.json"

# ---- 6. compare: work folders, order, --slow, timeout, Ctrl-C, progress -----------------
C=(--synthetic --batch 4 --timeout 120 --jobs 1)
if [ -n "$DEV2" ]; then
  # against list order: the device listed later goes first
  LATER=$(grep -xF -e "$DEV" -e "$DEV2" <<<"$ids" | tail -1) EARLIER=$(grep -xF -e "$DEV" -e "$DEV2" <<<"$ids" | head -1)
  expect_exit 0 "compare --devices in a given order" "$XD_CLI" compare "${C[@]}" --devices "$LATER,$EARLIER" \
    --modes reproducible --steps 3 --work "$W/order" --json "$W/order.json"
  check "the first device of --devices is the reference" test "$(jq_ "$W/order.json" "d['pairs'][0]['reference']['device']")" = "$LATER"
fi
expect_exit 0 "compare with --slow in other case" "$XD_CLI" compare "${C[@]}" --devices "$DEV" --steps 4 --slow "${DEV^^}" \
  --slow-steps 2 --work "$W/cw" --json "$W/cw.json"
check "--slow is a case-insensitive substring" test "$(jq_ "$W/cw.json" "[r['steps'] for r in d['runs']]")" = "[2, 2]"
check "children report progress lines (step, rate, ETA)" grep -q "^progress: step 2/2, .* steps/s, ETA" "$W"/cw/*-reproducible-r0.log
expect_exit 0 "diff of a compare work folder" "$XD_CLI" diff "$W/cw" --json "$W/cwd.json"
check "diff WORK: its traces, paired by mode" test "$(jq_ "$W/cwd.json" "(len(d['runs']), [(p['reference']['mode'], p['other']['mode']) for p in d['pairs']])")" = "(2, [('reproducible', 'fast')])"
expect_exit 0 "diff WORK/* skips compare's .log and report files" "$XD_CLI" diff "$W"/cw/*
check "diff WORK/*: says what it skipped" bash -c 'grep -q "skipping $2/.*-r0.log (not a trace" <<<"$1"' _ "$OUT" "$W/cw"
expect_exit 2 "a run past --timeout" "$XD_CLI" compare "${C[@]}" --devices "$DEV" --modes reproducible --steps 100000 \
  --timeout 4 --work "$W/to" --json "$W/to.json"
check "timeout: no temporary folder left in the work folder" bash -c '! ls -d "$1"/*.tmp-* 2>/dev/null | grep -q .' _ "$W/to"
check "timeout: the message names the limit and does not end in '; '" test "$(jq_ "$W/to.json" "[r['error'].startswith('timed out after 4 s') and not r['error'].endswith('; ') for r in d['runs']]")" = "[True]"
# Ctrl-C after the first of two runs (the second hangs): the partial report,
# and what to do next
if [ -n "$DEV2" ]; then
  XD_FAULT=hang:"$DEV2" "$XD_CLI" compare "${C[@]}" --devices "$DEV,$DEV2" --modes reproducible --steps 2 \
    --work "$W/int" >"$W/int.out" 2>&1 &
  pid=$!
  for _ in $(seq 150); do grep -q "started $DEV2" "$W/int.out" 2>/dev/null && break; sleep 0.2; done
  sleep 0.5
  kill -INT $pid; wait $pid; rc=$?
  check "Ctrl-C: exit 130" test $rc -eq 130
  check "Ctrl-C: the report of the finished run, marked partial" test "$(jq_ "$W/int/report.json" "(d['partial'], [r['device'] for r in d['runs']])" 2>/dev/null)" = "(True, ['$DEV'])"
  # one run finished: diff WORK would find one trace, so it is not suggested; the rerun needs no --work
  # (that folder exists now: compare would refuse it)
  check "Ctrl-C: says that too few runs finished to report again" grep -q "too few runs finished to compare" "$W/int.out"
  check "Ctrl-C: never suggests diff WORK with one trace" bash -c '! grep -q "diff $2" "$1"' _ "$W/int.out" "$W/int"
  check "Ctrl-C: says how to rerun, without the existing --work" bash -c 'grep "run the whole comparison again" "$1" | grep -q "compare" && ! grep "run the whole comparison again" "$1" | grep -q -- "--work"' _ "$W/int.out"
  check "Ctrl-C: the text says the process exits 130, never exit 0" bash -c 'grep -q "^interrupted: the process exits 130" "$1" && ! grep -q "^exit 0" "$1"' _ "$W/int.out"
  check "Ctrl-C: no temporary folder left" bash -c '! ls -d "$1"/*.tmp-* 2>/dev/null | grep -q .' _ "$W/int"
fi

# ---- 7. run --resume takes the trace's settings -----------------------------------------
mk p --steps 3 --lr 0.01 --hash-ops
mk full --steps 5 --lr 0.01 --hash-ops
expect_exit 0 "resume without repeating --lr, --hash-ops" "$XD_CLI" run --device "$PD" --eval-limit 64 --quiet --steps 5 \
  --resume "$W/p" --out "$W/resumed"
check "resume: the trace's lr and op hashing taken" test "$(jq_ "$W/resumed/trace.json" "(d['optimizer']['lr'], d['op_hashes'] is not None, d['data']['synthetic'], d['batch'])")" = "(0.01, True, True, 4)"
check "resume: the same hashes as an uninterrupted run" bash -c '/usr/bin/python3 -c "
import json, sys
a, b = (json.load(open(p + \"/trace.json\")) for p in sys.argv[1:3])
sys.exit(0 if a[\"hashes\"] == b[\"hashes\"] and a[\"loss\"] == b[\"loss\"] else 1)" "$1" "$2"' _ "$W/full" "$W/resumed"
expect_exit 2 "resume with a conflicting --lr" "$XD_CLI" run "${RUN[@]}" --steps 5 --lr 0.002 --resume "$W/p" --out "$W/x1"
check "the conflict names both values" bash -c 'grep -q "lr 0.002 conflicts with the trace" <<<"$1" && grep -q "0.01" <<<"$1"' _ "$OUT"
check "nothing written for a refused resume" bash -c '! ls -d "$1"/x1* 2>/dev/null | grep -q .' _ "$W"
# ---- 8. type and vendor selectors (test_selector checks them on fake GPUs) ---------------
ncpu=$("$XD_CLI" list --json | $PY -c "import json,sys; print(sum(d['type']=='cpu' for d in json.load(sys.stdin)['devices']))")
if [ "$ncpu" -ge 2 ]; then
  expect_exit 2 "run --device cpu with $ncpu CPU devices" "$XD_CLI" run "${RUN[@]}" --device cpu --steps 1 --out "$W/cpu"
  check "--device cpu: a type selector, $ncpu matches named" contains "$OUT" "--device 'cpu' matches $ncpu devices"
fi
if [[ $DEV == pocl/* ]]; then
  expect_exit 0 "compare --devices vendor:pocl" "$XD_CLI" compare "${C[@]}" --devices vendor:pocl --modes reproducible \
    --steps 2 --work "$W/vendor" --json "$W/vendor.json"
  check "vendor:pocl selects PoCL's devices" test "$(jq_ "$W/vendor.json" "all(r['device'].startswith('pocl/') for r in d['runs']) and len(d['runs']) >= 1")" = True
fi

# ---- 9. smaller items -------------------------------------------------------------------
expect_exit 2 "--epochs 0.5" "$XD_CLI" run "${RUN[@]}" --epochs 0.5 --out "$W/e05"
check "--epochs 0.5: says a whole number" contains "$OUT" "'0.5' is not a whole number"
expect_exit 2 "--steps with --epochs" "$XD_CLI" run "${RUN[@]}" --steps 3 --epochs 1 --out "$W/se"
check "--steps with --epochs refused" contains "$OUT" "--steps and --epochs exclude each other"
expect_exit 0 "run --seed random" "$XD_CLI" run --device "$PD" --synthetic --batch 4 --eval-limit 0 --steps 2 \
  --seed random --out "$W/rnd"
check "--seed random: the drawn seed said and recorded" bash -c 's=$(sed -n "s/.*drew seed \([0-9]*\).*/\1/p" <<<"$1"); [ -n "$s" ] && [ "$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"seed\"])" "$2/trace.json")" = "$s" ]' _ "$OUT" "$W/rnd"
check "--eval-limit 0: test accuracy not evaluated (never nan)" bash -c 'grep -q "test accuracy not evaluated" <<<"$1" && ! grep -qi "nan" <<<"$1"' _ "$OUT"
expect_exit 0 "diff of runs not evaluated" "$XD_CLI" diff "$W/rnd" "$W/rnd"
check "diff says not evaluated" contains "$OUT" "test accuracy: not evaluated vs not evaluated"
echo x >"$W/afile" && mkdir -p "$W/emptydata"
expect_exit 2 "--data a file" "$XD_CLI" run --device "$PD" --data "$W/afile" --steps 1 --out "$W/d1"
check "--data a file: an .npz or a folder of the four IDX files is needed" bash -c 'grep -q "not an .npz file (a zip archive) nor a folder.*--data is an .npz file holding x_train.*or a folder holding the four MNIST-format IDX files" <<<"$1"' _ "$OUT"
expect_exit 2 "--data an empty folder" "$XD_CLI" run --device "$PD" --data "$W/emptydata" --steps 1 --out "$W/d2"
check "--data an empty folder: the missing files listed" bash -c 'grep -q "missing: .*emptydata/train-images-idx3-ubyte(.gz), .*t10k-labels-idx1-ubyte(.gz)" <<<"$1"' _ "$OUT"
expect_exit 2 "--out with a missing parent" "$XD_CLI" run "${RUN[@]}" --steps 1 --out "$W/no/such/parent/t"
check "--out: the missing parent named, no temporary name" bash -c 'grep -q "the folder .*no/such/parent does not exist" <<<"$1" && ! grep -q "tmp-" <<<"$1"' _ "$OUT"
expect_exit 0 "a repeated --snapshot-at: the last one counts" "$XD_CLI" run "${RUN[@]}" --steps 4 --snapshot-at 1 \
  --snapshot-at 2 --out "$W/snaps"
check "a repeated --snapshot-at: snapshots 0, 2, 4" test "$(jq_ "$W/snaps/trace.json" "d['snapshots']")" = "[0, 2, 4]"
check "a repeated --snapshot-at: said, with both values (never silently)" contains "$OUT" \
  "--snapshot-at given twice ('1', then '2'): the last counts"
finish
