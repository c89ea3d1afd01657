#!/usr/bin/env bash
# Bad trace input (issue 7), each case its own named assertion: a trace.json
# that is not JSON, of another format or version, with missing fields, wrong
# types, NaN or negative counts, a loss array of the wrong length, hashes
# missing for a step...; a trace directory with a missing, truncated or
# corrupt snapshot, one whose bytes are not those trace.json recorded, a
# batches.npy of the wrong shape.  Every case must be
# refused with exit status 2 and a message naming the file (trace.json or
# the .npy path) and the field, and must leave nothing half-written: no
# --json/--html report from `diff`, no trace (nor OUT.tmp-PID) from
# `run --resume`.
#
# One small valid trace is made once on the first device that is not
# Oclgrind (Oclgrind alone: batch 1, 2 steps, ~15 s); every case mutates a
# hard-linked copy of it (files are replaced, never written through the
# links).  No OpenCL device at all: SKIP (77).
. "$(dirname "$0")/common.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY absent"; exit 77; }

ids=$("$XD_CLI" list --ids 2>/dev/null)
DEV=$(grep -v '^oclgrind/' <<<"$ids" | head -1)
SHAPE=(--batch 4 --steps 3)
if [ -z "$DEV" ]; then
  DEV=$(head -1 <<<"$ids")
  SHAPE=(--batch 1 --steps 2)
fi
[ -n "$DEV" ] || { echo "SKIP: no OpenCL device to make the trace these cases mutate"; exit 77; }
RUN=(--device "$DEV" --synthetic --eval-limit 0 --quiet)
GOOD="$WORK/good"
if ! "$XD_CLI" run "${RUN[@]}" "${SHAPE[@]}" --out "$GOOD" >"$WORK/good.log" 2>&1; then
  echo "FAIL: cannot make the valid trace on $DEV:"; sed 's/^/    /' "$WORK/good.log"; exit 1
fi
STEPS=$(json_get "$GOOD/trace.json" "d['steps']")
BATCH=$(json_get "$GOOD/trace.json" "d['batch']")
LAST=$(printf 'step-%06d' "$STEPS")
echo "valid trace: $DEV, ${SHAPE[*]}"
expect_exit 0 "the valid trace diffs against itself" "$XD_CLI" diff "$GOOD" "$GOOD"
mkdir -p "$WORK/out"

# mut.py SRC DST KIND CODE: DST/trace.json := SRC's, changed by CODE.
#   json: python statements on the dict t (json.dumps writes NaN as NaN)
#   text: a python expression of `text` (the original file) giving the new text
cat >"$WORK/mut.py" <<'PY'
import json, os, sys
src, dst, kind, code = sys.argv[1:5]
text = open(src + "/trace.json").read()
p = dst + "/trace.json"
os.unlink(p)  # a hard link to the valid trace: replace, never write through
if kind == "json":
    t = json.loads(text)
    exec(code, {"t": t})
    out = json.dumps(t)
else:
    out = eval(code, {"text": text})
open(p, "w").write(out)
PY
# Helpers for the case commands, which run inside the case's directory:
mut() { "$PY" "$WORK/mut.py" "$GOOD" . "$@"; } # mut KIND CODE
trunc() { # trunc FILE BYTES: FILE cut to its first BYTES (a new file, not through the link)
  "$PY" -c "import os,sys; b=open(sys.argv[1],'rb').read(); os.unlink(sys.argv[1]); open(sys.argv[1],'wb').write(b[:int(sys.argv[2])])" "$@"
}
save_npy() { # save_npy FILE SHAPE DTYPE: FILE := zeros of that shape and dtype (a new file)
  rm -f "$1" && "$PY" -c "import numpy,sys; numpy.save(sys.argv[1], numpy.zeros(eval(sys.argv[2]), sys.argv[3]))" "$@"
}

# judge NAME FILE FIELD RC OUTPUT: one assertion per case: exit 2, the
# message names FILE and FIELD, nothing left in $WORK/out.
judge() {
  local name=$1 file=$2 field=$3 rc=$4 out=$5 why=""
  [ "$rc" -eq 2 ] || why="exit $rc, expected 2; "
  contains "$out" "$file" || why+="message does not name $file; "
  # the field must be in the message's own words, not in the case's path
  contains "${out//"$WORK/$name"/}" "$field" || why+="message does not name '$field'; "
  local left
  left=$(find "$WORK/out" -mindepth 1 -maxdepth 1 -printf '%f ')
  [ -z "$left" ] || why+="left behind: $left; "
  rm -rf "${WORK:?}/out" && mkdir "$WORK/out"
  if [ -z "$why" ]; then
    PASSED=$((PASSED + 1)); echo "ok   $name: $(tail -1 <<<"$out")"
  else
    FAILED=$((FAILED + 1)); echo "FAIL: $name: $why"; tail -5 <<<"$out" | sed 's/^/    /'
  fi
}
# refused NAME FILE FIELD DIR: `diff GOOD DIR --json --html` must refuse DIR
# and write no report.
refused() {
  local out rc
  out=$("$XD_CLI" diff "$GOOD" "$4" --json "$WORK/out/$1.json" --html "$WORK/out/$1.html" 2>&1); rc=$?
  judge "$1" "$2" "$3" "$rc" "$out"
}
# resume_refused NAME FILE FIELD DIR: `run --resume DIR --out OUT` must
# refuse and leave neither OUT nor OUT.tmp-PID.
resume_refused() {
  local out rc
  out=$("$XD_CLI" run "${RUN[@]}" "${SHAPE[@]:0:2}" --steps $((STEPS + 1)) --resume "$4" \
        --out "$WORK/out/$1" 2>&1); rc=$?
  judge "$1" "$2" "$3" "$rc" "$out"
}
# mutated NAME SHELL-COMMAND: $WORK/NAME := a hard-linked copy of the valid
# trace, changed by the command (run inside it); fails the case otherwise.
mutated() {
  if cp -al "$GOOD" "$WORK/$1" && (cd "$WORK/$1" && eval "$2"); then return 0; fi
  FAILED=$((FAILED + 1)); echo "FAIL: $1: could not make the case"; return 1
}
# trace_case NAME FIELD json|text CODE: a trace.json mutation, refused by `diff`.
trace_case() {
  mutated "$1" "mut $3 $(printf %q "$4")" &&
    refused "$1" "$WORK/$1/trace.json" "$2" "$WORK/$1"
  rm -rf "${WORK:?}/$1"
}

# ---- trace.json: not JSON, another format or version ------------------------------
trace_case not-json               "not valid JSON"   text 'text[:len(text) // 2]'
trace_case empty-file             "not valid JSON"   text '""'
trace_case not-an-object          "not a JSON object" text '"[1, 2, 3]"'
trace_case duplicate-key          "steps"            text 'text.replace("{", "{\"steps\": 1, ", 1)'
trace_case other-format           "format"           json 't["format"] = "keras-history"'
trace_case version-2              "version"          json 't["version"] = 2'
trace_case version-0              "version"          json 't["version"] = 0'
trace_case version-string         "version"          json 't["version"] = "1"'
# ---- missing fields -------------------------------------------------------------------
for f in format version model seed mode batch steps device data loss tensors hashes snapshots; do
  trace_case "missing-$f"         "'$f"              json "del t['$f']"
done
trace_case missing-device.id      "device.id"        json 'del t["device"]["id"]'
trace_case missing-data.name      "data.name"        json 'del t["data"]["name"]'
trace_case missing-data.synthetic "data.synthetic"   json 'del t["data"]["synthetic"]'
trace_case missing-hashes.init    "hashes"           json 'del t["hashes"]["init"]'
trace_case missing-hashes.steps   "hashes"           json 'del t["hashes"]["steps"]'
# ---- wrong types ----------------------------------------------------------------------
trace_case steps-string           "'steps'"          json 't["steps"] = str(t["steps"])'
trace_case steps-fraction         "'steps'"          json 't["steps"] = t["steps"] + 0.5'
trace_case batch-string           "'batch'"          json 't["batch"] = "32"'
trace_case batch-bool             "'batch'"          json 't["batch"] = True'
trace_case seed-not-a-number      "'seed'"           json 't["seed"] = "forty-two"'
trace_case seed-fraction          "'seed'"           json 't["seed"] = 4.2'
trace_case model-number           "'model'"          json 't["model"] = 7'
trace_case mode-unknown           "'mode'"           json 't["mode"] = "turbo"'
trace_case device-string          "device"           json 't["device"] = "pthread"'
trace_case data-synthetic-string  "data.synthetic"   json 't["data"]["synthetic"] = "yes"'
trace_case loss-object            "'loss'"           json 't["loss"] = {"0": 1.0}'
trace_case loss-string-entry      "loss[1]"          json 't["loss"][1] = "2.3"'
trace_case loss-bool-entry        "loss[0]"          json 't["loss"][0] = False'
trace_case tensors-string         "'tensors'"        json 't["tensors"] = "conv1.weight"'
trace_case tensors-empty          "'tensors'"        json 't["tensors"] = []'
trace_case tensor-name-number     "tensors[2]"       json 't["tensors"][2] = 3'
trace_case tensor-name-path       "tensors[0]"       json 't["tensors"][0] = "../conv1.weight"'
trace_case snapshots-string       "'snapshots'"      json 't["snapshots"] = "0,1"'
trace_case snapshot-fraction      "snapshots[1]"     json 't["snapshots"][1] = 0.5'
trace_case build-options-number   "build_options"    json 't["build_options"] = 3'
trace_case eval-final-string      "eval.final"       json 't["eval"]["final"] = "0.88"'
trace_case eval-accuracy-string   "eval.final.accuracy" json 't["eval"]["final"] = {"step": 1, "loss": 0.5, "accuracy": "high", "n": 10}'
trace_case nonfinite-string       "nonfinite"        json 't["nonfinite"] = "step 2"'
# ---- NaN and negative counts ----------------------------------------------------------
trace_case steps-nan              "'steps'"          json 't["steps"] = float("nan")'
trace_case steps-infinite         "'steps'"          json 't["steps"] = float("inf")'
trace_case batch-nan              "'batch'"          json 't["batch"] = float("nan")'
trace_case loss-nan-entry         "'loss'"           json 't["loss"][0] = float("nan")'
trace_case steps-negative         "'steps'"          json 't["steps"] = -1'
trace_case batch-negative         "'batch'"          json 't["batch"] = -32'
trace_case batch-zero             "'batch'"          json 't["batch"] = 0'
trace_case seed-negative          "'seed'"           json 't["seed"] = -42'
trace_case version-negative       "version"          json 't["version"] = -1'
trace_case snapshot-negative      "snapshots[0]"     json 't["snapshots"][0] = -1'
trace_case snapshot-beyond-steps  "snapshots["       json 't["snapshots"][-1] = t["steps"] + 1'
trace_case snapshots-unordered    "snapshots["       json 't["snapshots"] = t["snapshots"][::-1]'
trace_case snapshots-empty        "'snapshots'"      json 't["snapshots"] = []'
trace_case nonfinite-step-beyond  "nonfinite.step"   json 't["nonfinite"] = {"step": t["steps"] + 5, "tensor": "conv1.weight"}'
trace_case nonfinite-step-negative "nonfinite.step"  json 't["nonfinite"] = {"step": -1, "tensor": "conv1.weight"}'
# ---- loss of the wrong length, hashes missing for a step ------------------------------
trace_case loss-too-long          "'loss'"           json 't["loss"] += [1.0, 1.0]'
trace_case loss-too-short         "'loss'"           json 't["loss"].pop()'
trace_case steps-more-than-recorded "'loss'"         json 't["steps"] += 1'
trace_case hashes-step-missing    "hashes.steps"     json 't["hashes"]["steps"].pop()'
trace_case hashes-step-short-row  "hashes.steps[1]"  json 't["hashes"]["steps"][1].pop()'
trace_case hashes-step-not-hash   "hashes.steps[0][3]" json 't["hashes"]["steps"][0][3] = "md5:0"'
trace_case hashes-init-short      "hashes.init"      json 't["hashes"]["init"].pop()'
trace_case hashes-init-not-hash   "hashes.init[0]"   json 't["hashes"]["init"][0] = "xxh3:XYZ"'
trace_case op-hashes-step-missing "op_hashes"        json 't["op_hashes"] = {"ops": ["conv1.forward"], "steps": [["xxh3:0000000000000000"]] * (t["steps"] - 1)}'

# ---- the trace directory --------------------------------------------------------------
dir_case() { # dir_case NAME FILE FIELD SHELL-COMMAND: refused by diff
  mutated "$1" "$4" && refused "$1" "$WORK/$1/$2" "$3" "$WORK/$1"
  rm -rf "${WORK:?}/$1"
}
# A changed hash at the last step makes diff read that snapshot.
plant_hash='t["hashes"]["steps"][-1][0] = "xxh3:%016x" % (int(t["hashes"]["steps"][-1][0][5:], 16) ^ 1)'
dir_case missing-trace.json      trace.json                    "No such file"  'rm trace.json'
dir_case trace.json-a-directory  trace.json                    "not a regular file" 'rm trace.json && mkdir trace.json'
out=$("$XD_CLI" diff "$GOOD" "$WORK/no-such-trace" --json "$WORK/out/x.json" 2>&1)
judge missing-directory "$WORK/no-such-trace/trace.json" "No such file" $? "$out"
# the bad trace as the reference (first argument) is refused the same way
mutated bad-reference "mut json 't[\"hashes\"][\"steps\"].pop()'" &&
  { out=$("$XD_CLI" diff "$WORK/bad-reference" "$GOOD" --json "$WORK/out/x.json" 2>&1)
    judge bad-reference "$WORK/bad-reference/trace.json" "hashes.steps" $? "$out"; }
dir_case missing-snapshot-folder "$LAST/conv1.weight.npy"      "snapshot file missing" "rm -r $LAST"
dir_case missing-snapshot-file   "step-000001/dense1.bias.v.npy" "snapshot file missing" 'rm step-000001/dense1.bias.v.npy'
dir_case truncated-snapshot      "$LAST/conv1.weight.npy"      "truncated"     "mut json '$plant_hash' && trunc $LAST/conv1.weight.npy 100"
dir_case short-snapshot-data     "$LAST/conv1.weight.npy"      "bytes of data" "mut json '$plant_hash' && trunc $LAST/conv1.weight.npy 1000"
dir_case corrupt-snapshot        "$LAST/conv1.weight.npy"      "magic"         "mut json '$plant_hash' && rm $LAST/conv1.weight.npy && printf 'PK\3\4 not numpy at all' >$LAST/conv1.weight.npy"
# a well-formed file whose bytes are not the ones trace.json recorded
dir_case snapshot-not-recorded   "$LAST/conv1.weight.npy"      "does not match the hash recorded in trace.json" "mut json '$plant_hash'"

# `run --resume` of a damaged trace (reads every snapshot and batches.npy)
resume_case() { # resume_case NAME FILE FIELD SHELL-COMMAND
  mutated "$1" "$4" && resume_refused "$1" "$WORK/$1/$2" "$3" "$WORK/$1"
  rm -rf "${WORK:?}/$1"
}
# a valid trace resumes (so the refusals below are about the damage)
expect_exit 0 "the valid trace resumes" "$XD_CLI" run "${RUN[@]}" "${SHAPE[@]:0:2}" --steps $((STEPS + 1)) \
  --resume "$GOOD" --out "$WORK/resumed"
rm -rf "$WORK/resumed"
resume_case resume-bad-json             trace.json             "'loss'"  "mut json 't[\"loss\"].pop()'"
resume_case resume-missing-snapshot     "$LAST/dense1.weight.npy" "snapshot file missing" "rm $LAST/dense1.weight.npy"
resume_case resume-truncated-snapshot   "$LAST/dense1.weight.npy" "truncated"   "trunc $LAST/dense1.weight.npy 60"
resume_case resume-short-snapshot-data  "step-000001/conv1.bias.m.npy" "bytes of data" "trunc step-000001/conv1.bias.m.npy 200"
resume_case resume-corrupt-snapshot     "$LAST/conv1.bias.npy" "magic" "rm $LAST/conv1.bias.npy && printf 'garbage' >$LAST/conv1.bias.npy"
# (the expected text is the message's own: case names are in the paths)
resume_case resume-snapshot-wrong-shape "$LAST/conv1.bias.npy" "holds float32 [4, 8], the model's conv1.bias is float32 [32]" "save_npy $LAST/conv1.bias.npy '(4, 8)' '<f4'"
resume_case resume-snapshot-wrong-dtype "$LAST/conv1.bias.npy" "holds int32 [32], the model's conv1.bias is float32 [32]" "save_npy $LAST/conv1.bias.npy '(32,)' '<i4'"
resume_case resume-edited-snapshot      "step-000001/conv1.bias.npy" "does not match the hash recorded in trace.json for conv1.bias at step 1" "save_npy step-000001/conv1.bias.npy '(32,)' '<f4'"
resume_case resume-batches-missing      batches.npy            "No such file" "rm batches.npy"
resume_case resume-batches-wrong-shape  batches.npy            "expected int32 [$STEPS, $BATCH]" "save_npy batches.npy '($STEPS + 1, $BATCH)' '<i4'"
resume_case resume-batches-wrong-dtype  batches.npy            "holds float32 [$STEPS, $BATCH]" "save_npy batches.npy '($STEPS, $BATCH)' '<f4'"
resume_case resume-batches-truncated    batches.npy            "truncated" "trunc batches.npy 50"
# a --hash-ops trace whose op names are not this run's plan (another
# crossdev's): its op rows cannot be continued column for column
if "$XD_CLI" run "${RUN[@]}" "${SHAPE[@]}" --hash-ops --out "$WORK/good-ops" >/dev/null 2>&1 &&
  cp -r "$WORK/good-ops" "$WORK/resume-op-names" &&
  "$PY" "$WORK/mut.py" "$WORK/good-ops" "$WORK/resume-op-names" json 't["op_hashes"]["ops"][0] = "renamed.forward"'; then
  resume_refused resume-op-names "$WORK/resume-op-names" "'op_hashes.ops' differs" "$WORK/resume-op-names"
else
  FAILED=$((FAILED + 1)); echo "FAIL: resume-op-names: could not make the case"
fi
finish
