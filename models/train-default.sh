#!/bin/sh
# Trains the default model (task multi: CTC speech recognition, language ID and translation into
# English on one streaming-aware Conformer encoder, 7.2 M parameters) on the default corpus, then
# scores it on the corpus's test split (held-out voices) offline and streaming, exports the model
# file and draws the training curves.
#
#   models/make-corpus.sh                 # builds ./corpus
#   models/train-default.sh [CORPUS] [OUT]
#
# CORPUS defaults to ./corpus, OUT to ./train-default. Hyper-parameters are in
# models/default-train.conf; the environment overrides the run's length and parallelism:
#   STEPS=16000     optimizer steps (the cosine schedule's length); the default fits in about
#                   2 hours on 2 cores at the rate bench/train.sh measures for this size
#   THREADS=2       threads of the one training process
#   RANKS=1         > 1: mpirun -np RANKS processes, THREADS each (the batch is per process)
#   EXTRA="..."     more mslam-trainer train options (e.g. "--batch-size 8" for a tiny corpus)
#   MSLAM_BUILD_DIR=build-x   build folder (default: build)
# An interrupted run (Ctrl-C writes a checkpoint) continues where it stopped when started again.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-corpus}
out=${2:-train-default}
steps=${STEPS:-16000}
threads=${THREADS:-2}
ranks=${RANKS:-1}
extra=${EXTRA:-}
manifest=$corpus/manifest.tsv
[ -f "$manifest" ] || { echo "train-default.sh: no $manifest; build the corpus with models/make-corpus.sh" >&2; exit 1; }
builddir=${MSLAM_BUILD_DIR:-$root/build}
case $builddir in /*) ;; *) builddir=$root/$builddir ;; esac
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" "$root"
ninja -C "$builddir" trainer/mslam-trainer
trainer=$builddir/trainer/mslam-trainer

resume=""
ls "$out"/ckpt-*.safetensors >/dev/null 2>&1 && resume="--resume"
launch=""
[ "$ranks" -gt 1 ] && launch="mpirun --oversubscribe -np $ranks $( [ "$(id -u)" -eq 0 ] && echo --allow-run-as-root )"
# shellcheck disable=SC2086 # $launch, $resume and $extra are lists of words
$launch "$trainer" train --config "$root/models/default-train.conf" --data "$manifest" --valid "$manifest" \
  --out "$out" --steps "$steps" --threads "$threads" $resume $extra
[ -f "$out/model.safetensors" ] || { echo "train-default.sh: stopped before the last step; run again to continue" >&2; exit 0; }

"$trainer" eval --model "$out/model.safetensors" --data "$manifest" --split test --threads "$threads" \
  --lid-seconds 4 --json "$out/eval-test.json" | tee "$out/eval-test.txt"
if command -v gnuplot >/dev/null; then
  "$root/pipelines/plot-training.sh" "$out/train.jsonl" "$out/curves.png"
else
  echo "train-default.sh: gnuplot not installed; no curves (tests/install-deps.sh reference)" >&2
fi
echo "model: $out/model.safetensors; scores: $out/eval-test.txt, $out/eval-test.json"
