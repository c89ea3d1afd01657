#!/bin/bash
# A Slurm job array: one task per partition/GPU kind, traces to shared disk,
# then `crossdev-compare diff` once every task is done:
#   sbatch --array=0-2 docs/examples/slurm-array.sh
#   sbatch --dependency=afterok:<jobid> --wrap 'build/crossdev-compare diff traces/0 traces/* --html report.html'
#SBATCH --job-name=crossdev
#SBATCH --gres=gpu:1
#SBATCH --time=00:30:00
set -euo pipefail
OUT=traces/$SLURM_ARRAY_TASK_ID-$(hostname)
mkdir -p traces
build/crossdev-compare run --device gpu --steps 500 --hash-ops --out "$OUT"
