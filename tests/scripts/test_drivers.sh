#!/usr/bin/env bash
# Driver versions are devices (crossdev-compare drivers, docs/drivers.md),
# with a real vendor runtime from PyPI, nothing mocked:
#  - `drivers add intel-opencl-rt==2024.2.1` (pinned with hashes in
#    tools/requirements/drivers) into the build's drivers folder, the cache:
#    a second add says "already added" and downloads nothing;
#  - its device id carries the version (intel-opencl/amd-epyc@2024.2.1),
#    `list` and `drivers list` show it, a trace records driver_package;
#  - seed-cnn in both modes on it, on tools/setup's Intel runtime (2026.2.0)
#    and on PoCL: reproducible mode one class of three, bit for bit (the
#    guarantee across driver versions); fast mode's classes as measured,
#    every two classes parting at a named step and op, rounding-level;
#  - bad input: a package crossdev does not know, a version not added
#    (exit 2, named).
# Needs the network (PyPI) the first time; Intel's runtime from tools/setup
# missing where setup ran is a FAILURE; no PoCL device: SKIP (77).
# usage: test_drivers.sh PYPI-DIR
. "$(dirname "$0")/common.sh"
PYPI=$1
ids=$("$XD_CLI" list --ids 2>/dev/null)
grep -q "pocl/pthread" <<<"$ids" || { echo "SKIP: no PoCL pthread device"; exit 77; }
if ! grep -q "^intel-opencl/" <<<"$ids"; then
  [ -f "$PYPI/intel-opencl/.requirements" ] || { echo "SKIP: tools/setup never ran here"; exit 77; }
  echo "FAIL: Intel's OpenCL runtime (tools/setup) gives no device"; exit 1
fi
V=2024.2.1
expect_exit 0 "drivers add intel-opencl-rt==$V" "$XD_CLI" drivers add intel-opencl-rt==$V
check "... its device, the version in the id" contains "$OUT" "intel-opencl/amd-epyc@$V"
expect_exit 0 "drivers add again" "$XD_CLI" drivers add intel-opencl-rt==$V
check "... already added: nothing downloaded" contains "$OUT" "already added"
expect_exit 0 "list" "$XD_CLI" list
check "... shows the added driver's device" contains "$OUT" "intel-opencl/amd-epyc@$V"
expect_exit 2 "drivers add of a package crossdev does not know" "$XD_CLI" drivers add numpy==1.0
check "... refused naming the packages it knows" contains "$OUT" "intel-opencl-rt, intel-opencl-fpga-emu-rt"
expect_exit 2 "run on a version never added" "$XD_CLI" run --device intel@0.0.1 --steps 1 --out "$WORK/never"
check "... refused naming the version" contains "$OUT" "no driver of version 0.0.1 added"
check "... nothing written" test ! -e "$WORK/never"

mkdir "$WORK/w"
for m in reproducible fast; do
  for d in "intel-opencl/amd-epyc@$V:i$V" "intel-opencl/amd-epyc:intel" "pocl/pthread:pocl"; do
    expect_exit 0 "run $m on ${d%%:*}" "$XD_CLI" run --device "${d%%:*}" --mode $m --steps 20 --hash-ops \
      --eval-limit 0 --quiet --out "$WORK/w/${d##*:}-$m"
  done
done
check "the trace records the driver package" test "$(json_get "$WORK/w/i$V-fast/trace.json" \
  "d['device']['id'], d['device']['driver_package']")" = "intel-opencl/amd-epyc@$V intel-opencl-rt==$V"
"$XD_CLI" diff "$WORK/w" --json "$WORK/r.json" >"$WORK/r.txt" 2>&1; rc=$?
sed -n '/^Classes/,$p' "$WORK/r.txt"
check "diff over the six runs: no usage error" test "$rc" -ne 2
check "reproducible mode: one class of three across driver versions" \
  test "$(json_get "$WORK/r.json" "[len(c['runs']) for c in d['classes'] if c['mode'] == 'reproducible']")" = "[3]"
check "fast mode: every run in a class" \
  test "$(json_get "$WORK/r.json" "sum(len(c['runs']) for c in d['classes'] if c['mode'] == 'fast')")" = 3
check "... every two fast classes part at a named step and op, at the rounding level" \
  test "$(json_get "$WORK/r.json" "all(p['pair']['first_divergent_step'] and p['pair']['first_divergent_op'] and p['pair']['verdict'] == 'ROUNDING-LEVEL' for p in d['class_pairs'])")" = True
check "... the text report lists the classes" contains "$(cat "$WORK/r.txt")" "Classes of bitwise-equal runs, fast mode"
finish
