#!/usr/bin/env bash
# The seed question answered: each of its examples recorded twice with
# crossdev.record (train.py unchanged), each pair diffed, one line per pair.
# Usage: walkthrough.sh WORK [PYTHON] [CROSSDEV-COMPARE]
#   PYTHON: one with TensorFlow (build/pypi/tensorflow/bin/python, made by tools/test)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
WORK=${1:?usage: walkthrough.sh WORK [PYTHON] [CROSSDEV-COMPARE]}
PY=${2:-$ROOT/build/pypi/tensorflow/bin/python}
XD=${3:-$ROOT/build/crossdev-compare}
export PYTHONPATH=$ROOT/tools/python KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3
mkdir -p "$WORK"
record() { # record NAME TRAIN-OPTIONS...: train.py under crossdev.record into WORK/NAME
  local name=$1; shift
  [ -d "$WORK/$name" ] || "$PY" -m crossdev.record --out "$WORK/$name" --data-name fashion-mnist-640 -- \
    "$HERE/train.py" "$@" 2>"$WORK/$name.log" || { echo "walkthrough: $name failed:"; tail -5 "$WORK/$name.log"; exit 1; }
}
pair() { # pair LABEL A B: diff, with the verdict and the first line of its mechanism
  local label=$1 a=$2 b=$3
  "$XD" diff "$WORK/$a" "$WORK/$b" --json "$WORK/$a-vs-$b.json" >"$WORK/$a-vs-$b.txt" 2>&1
  /usr/bin/python3 - "$WORK/$a-vs-$b.json" "$label" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["pairs"][0]
first = "none" if p["first_divergent_step"] is None else f"step {p['first_divergent_step']} {p['first_divergent_tensor']}"
keys = ", ".join(s["key"] for s in p["settings"]["differences"] if s["kind"] == "training") or "-"
print(f"{sys.argv[2]:<44} {p['verdict'] + (', AMPLIFIED' if p['amplified'] else ''):<26} {first:<24} {keys:<44} {p['mechanism'][:150]}")
PY
}
record ex1-a --seeding none
record ex1-b --seeding none
record ex2-a --seeding tf-np
record ex2-b --seeding tf-np
record ex3-a --seeding tf-np-determinism
record ex3-b --seeding tf-np-determinism
record fix-a --seeding keras
record fix-b --seeding keras
record fix-1t --seeding keras --threads 1
record fix-2t --seeding keras --threads 2
record fixed-loss --seeding keras --loss fixed
printf '%-44s %-26s %-24s %-44s %s\n' "pair (each recorded with crossdev.record)" verdict "first divergence" \
  "settings that differ" mechanism
pair "Example 1 (no seeds), twice" ex1-a ex1-b
pair "Example 2 (tf + numpy seeds), twice" ex2-a ex2-b
pair "Example 3 (+ op determinism), twice" ex3-a ex3-b
pair "keras.utils.set_random_seed + determinism" fix-a fix-b
pair "... 1 vs 2 intra-op threads" fix-1t fix-2t
pair "... the loss as written vs from_logits=True" fix-a fixed-loss
