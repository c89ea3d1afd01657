#!/usr/bin/env bash
# Driver versions are devices (crossdev-compare drivers, docs/drivers.md),
# with a real vendor runtime from PyPI, nothing mocked:
#  - `drivers add intel-opencl-rt==2024.2.1` (pinned with hashes in
#    tools/requirements/drivers) into the build's drivers folder, the cache:
#    a second add says "already added" and downloads nothing;
#  - its device id carries the version (intel-opencl/amd-epyc@2024.2.1),
#    `list` and `drivers list` show it, a trace records driver_package;
#  - one `compare --devices pthread,intel --drivers 2024.2.1`: seed-cnn in
#    both modes on PoCL, tools/setup's Intel runtime (2026.2.0) and the
#    added version (its own process): reproducible mode one class of every
#    run that ran, bit for bit (the guarantee across driver versions; a run
#    that did not was refused by the self-test, which depends on the CPU a
#    runtime compiles for; all three ran here); fast mode's classes as
#    measured, every two classes parting at a named step and op;
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

# one command: PoCL and tools/setup's Intel in this process's devices, the added version in its own
"$XD_CLI" compare --devices pthread,intel --drivers $V --steps 20 --work "$WORK/w" --json "$WORK/r.json" \
  >"$WORK/r.txt" 2>&1; rc=$?
sed -n '/^Classes/,$p' "$WORK/r.txt"
check "compare --drivers $V over three devices and both modes: no usage error" test "$rc" -ne 2
check "... six runs, the added version's named by its id" test "$(json_get "$WORK/r.json" \
  "len(d['runs']), sum(r['device'] == 'intel-opencl/amd-epyc@$V' for r in d['runs'])")" = "6 2"
T=$(ls -d "$WORK"/w/intel-opencl-amd-epyc-2024*-fast-r0 | head -1)
check "the trace records the driver package" test "$(json_get "$T/trace.json" \
  "d['device']['id'], d['device']['driver_package']")" = "intel-opencl/amd-epyc@$V intel-opencl-rt==$V"
expect_exit 2 "compare --drivers of a version not added" "$XD_CLI" compare --drivers 0.0.1 --work "$WORK/w2"
check "... refused naming it" contains "$OUT" "no driver of version 0.0.1 added"
# what the probe accepts depends on the runtime and the CPU it compiles for (Intel 2021.4.0 is
# refused on an AVX-512 EPYC): every reproducible run that ran is in one class, and one that did not
# was refused by the self-test, never a difference of numbers (here all three ran)
ok_runs() { json_get "$WORK/r.json" "sum(not r['failed'] for r in d['runs'] if r['mode'] == '$1')"; }
check "reproducible mode: one class of every run that ran, across driver versions ($(ok_runs reproducible) ran)" \
  test "$(json_get "$WORK/r.json" "[len(c['runs']) for c in d['classes'] if c['mode'] == 'reproducible']")" = "[$(ok_runs reproducible)]"
check "... a reproducible run that did not run was refused by the self-test" \
  test "$(json_get "$WORK/r.json" "all('self-test' in r['error'] or 'refused' in r['error'] for r in d['runs'] if r['mode'] == 'reproducible' and r['failed'])")" = True
check "... PoCL among them" test "$(json_get "$WORK/r.json" "[r['failed'] for r in d['runs'] if r['mode'] == 'reproducible' and r['device'].startswith('pocl/')]")" = "[False]"
check "fast mode: every run that ran in a class" \
  test "$(json_get "$WORK/r.json" "sum(len(c['runs']) for c in d['classes'] if c['mode'] == 'fast')")" = "$(ok_runs fast)"
check "... every two fast classes part at a named step and op" \
  test "$(json_get "$WORK/r.json" "all(p['pair']['first_divergent_step'] and p['pair']['first_divergent_op'] and p['pair']['verdict'] in ('ROUNDING-LEVEL', 'DIVERGED') for p in d['class_pairs'])")" = True
check "... the text report lists the classes" contains "$(cat "$WORK/r.txt")" "Classes of bitwise-equal runs, fast mode"
finish
