#!/bin/bash
# A Slurm job array: one task per partition/GPU kind, traces to shared disk,
# then `crossdev-compare diff` once every task is done:
#   sbatch --array=0-2 docs/examples/slurm-array.sh
#   sbatch --dependency=afterok:<jobid> --wrap 'build/crossdev-compare diff traces --json report.json --html report.html'
# (`diff traces`: every trace in the folder, the longest of each mode the
# reference.)  Each task takes its node's GPU: `--device gpu` is a type
# selector that leaves simulators such as Oclgrind out; set CROSSDEV_DEVICE
# to pick another device.  tests/scripts/test_examples.sh runs this script
# with a fake SLURM_ARRAY_TASK_ID, on PoCL.
#SBATCH --job-name=crossdev
#SBATCH --gres=gpu:1
#SBATCH --time=00:30:00
set -euo pipefail
OUT=traces/$SLURM_ARRAY_TASK_ID-$(hostname)
mkdir -p traces
build/crossdev-compare run --device "${CROSSDEV_DEVICE:-gpu}" --steps 500 --hash-ops --out "$OUT"
