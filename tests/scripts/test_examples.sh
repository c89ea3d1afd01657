#!/usr/bin/env bash
# The fleet examples run as written (issue 13), on this machine's devices:
#   - docs/examples/slurm-array.sh, twice with a fake SLURM_ARRAY_TASK_ID,
#     then the `--wrap` command its header gives;
#   - docs/examples/github-actions-matrix.yml: the `run:` commands of every
#     matrix job, extracted from the YAML (${{ matrix.* }} substituted as
#     GitHub does), then the diff job's; an artifact uploaded from a folder
#     and downloaded by name lands as that folder again, so both jobs share
#     one directory here;
#   - docs/compare.md's fleet recipe, extracted from its sh block.
# tools/setup steps are skipped (the build under test is the one set up).
# There is no GPU here: CROSSDEV_DEVICE points the examples' `--device` at
# PoCL, as their comments say a user does; `--device gpu` itself is checked
# to name no device here (Oclgrind, a simulator, reports a GPU) and is
# covered with fake GPUs by test_selector.  No device: SKIP (77).
. "$(dirname "$0")/common.sh"
PY=/usr/bin/python3
SRC=$(cd "$(dirname "$0")/../.." && pwd)
ids=$("$XD_CLI" list --ids 2>/dev/null)
DEV=$(grep -m1 'pocl/pthread' <<<"$ids" || grep -v '^oclgrind/' <<<"$ids" | head -1)
[ -n "$DEV" ] || { echo "SKIP: no OpenCL device other than Oclgrind"; exit 77; }
$PY -c "import yaml" 2>/dev/null || { echo "SKIP: python3-yaml absent (tools/setup installs it)"; exit 77; }
export CROSSDEV_DEVICE=$DEV
echo "examples on $DEV"
# a folder like a checkout: build/ is the build under test
example_dir() { mkdir -p "$WORK/$1" && ln -s "$(cd "$(dirname "$XD_CLI")" && pwd)" "$WORK/$1/build"; }

# 0. `--device gpu`: a type selector; here it names no device
expect_exit 2 "--device gpu on a machine without a GPU" "$XD_CLI" run --device gpu --steps 1 --synthetic --out "$WORK/gpu"
check "--device gpu: says it matches no device (not 'unknown selector')" contains "$OUT" "device selector 'gpu' matches no device"

# 1. the Slurm array: two tasks, then the --wrap diff
example_dir slurm
for task in 0 1; do
  expect_exit 0 "slurm-array.sh, SLURM_ARRAY_TASK_ID=$task" env SLURM_ARRAY_TASK_ID=$task \
    bash -c 'cd "$1" && bash "$2"' _ "$WORK/slurm" "$SRC/docs/examples/slurm-array.sh"
done
wrap=$(sed -n "s/^#.*--wrap '\(.*\)'$/\1/p" "$SRC/docs/examples/slurm-array.sh")
check "slurm-array.sh gives its diff command" test -n "$wrap"
expect_exit 0 "the --wrap diff: $wrap" bash -c 'cd "$1" && eval "$2"' _ "$WORK/slurm" "$wrap"
check "slurm: the two tasks' traces IDENTICAL" test "$(json_get "$WORK/slurm/report.json" "[p['verdict'] for p in d['pairs']]")" = "['IDENTICAL']"

# 2. the GitHub Actions matrix: every job's run: commands, in order
example_dir gha
$PY - "$SRC/docs/examples/github-actions-matrix.yml" >"$WORK/gha.cmds" <<'PY'
import itertools, re, sys, yaml
wf = yaml.safe_load(open(sys.argv[1]))
def commands(job, matrix):
    for step in job["steps"]:
        cmd = step.get("run")
        if not cmd or cmd.strip() == "tools/setup":
            continue
        yield re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda m: str(matrix[m.group(1)]), cmd).strip()
for name in ("run", "diff"):
    job = wf["jobs"][name]
    axes = job.get("strategy", {}).get("matrix", {})
    keys = list(axes)
    for values in itertools.product(*(axes[k] for k in keys)):
        for cmd in commands(job, dict(zip(keys, values))):
            print(cmd.replace("\n", " "))
PY
check "the workflow gives 6 run commands and 2 diffs" test "$(grep -c ' run ' "$WORK/gha.cmds"),$(grep -c ' diff ' "$WORK/gha.cmds")" = "6,2"
while IFS= read -r cmd; do
  expect_exit 0 "workflow: ${cmd:0:110}" bash -c 'cd "$1" && set -eo pipefail && eval "$2"' _ "$WORK/gha" "$cmd"
done <"$WORK/gha.cmds"
check "workflow: reproducible runs IDENTICAL" test "$(json_get "$WORK/gha/repro.json" "[p['verdict'] for p in d['pairs']]")" = "['IDENTICAL', 'IDENTICAL']"
check "workflow: fast runs (one device here) IDENTICAL" test "$(json_get "$WORK/gha/fast.json" "[p['verdict'] for p in d['pairs']]")" = "['IDENTICAL', 'IDENTICAL']"
check "workflow: the HTML reports written" test -s "$WORK/gha/repro.html" -a -s "$WORK/gha/fast.html"

# 3. docs/compare.md's recipe: its sh block under "Scaling out", two machines
example_dir recipe
sed -n '/^## Scaling out/,/^## /p' "$SRC/docs/compare.md" | sed -n '/^```sh$/,/^```$/p' | grep -v '^```' |
  grep -v '^#' | grep -v '^tools/setup' >"$WORK/recipe.cmds"
check "compare.md gives a run and a diff command" test "$(grep -c ' run ' "$WORK/recipe.cmds"),$(grep -c ' diff ' "$WORK/recipe.cmds")" = "1,1"
run_cmd=$(grep ' run ' "$WORK/recipe.cmds") diff_cmd=$(grep ' diff ' "$WORK/recipe.cmds")
for machine in node-a node-b; do
  expect_exit 0 "recipe on $machine: $run_cmd" env MACHINE=$machine bash -c 'cd "$1" && eval "$2"' _ "$WORK/recipe" "$run_cmd"
done
expect_exit 0 "recipe: $diff_cmd" bash -c 'cd "$1" && eval "$2"' _ "$WORK/recipe" "$diff_cmd"
check "recipe: the two machines' traces IDENTICAL" test "$(json_get "$WORK/recipe/report.json" "[p['verdict'] for p in d['pairs']]")" = "['IDENTICAL']"
finish
