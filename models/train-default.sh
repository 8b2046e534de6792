#!/bin/sh
# Trains the default model (task multi: CTC speech recognition, language ID and translation into
# English on one streaming-aware Conformer encoder, 7.0 M parameters) on the default corpus, then
# scores it on the corpus's test split (held-out voices) offline and streaming, exports the model
# file and draws the training curves.
#
#   models/make-corpus.sh                 # builds ./corpus
#   models/train-default.sh [CORPUS] [OUT]
#
# Two stages. Stage 1 trains the encoder with CTC alone, without SpecAugment or chunked
# attention, until the CTC alignment forms; stage 2 starts from it (--init) and trains all three
# heads with augmentation and streaming-aware masks. From scratch, the three losses and the
# augmentation together kept the encoder on the CTC plateau (LID at chance) for as long as we
# watched; after stage 1, LID reached 99 % in 400 steps on 4 languages.
#
# CORPUS defaults to ./corpus, OUT to ./train-default (stage 1 in OUT/stage1). Hyper-parameters
# are in models/default-train.conf; the environment overrides the run's length and parallelism:
#   STEPS1=2000     stage-1 steps
#   STEPS=10000     stage-2 steps (the cosine schedule's length); both stages together are
#                   meant to fit in about 2 hours on 2 cores (~100 audio-s/s for this size)
#   THREADS=2       threads of the one training process
#   RANKS=1         > 1: mpirun -np RANKS processes, THREADS each (the batch is per process)
#   EXTRA="..."     more mslam-trainer train options for both stages (e.g. "--batch-size 8")
#   MSLAM_BUILD_DIR=build-x   build folder (default: build)
# An interrupted run (Ctrl-C writes a checkpoint) continues where it stopped when started again.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-corpus}
out=${2:-train-default}
steps1=${STEPS1:-2000}
steps=${STEPS:-10000}
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

launch=""
[ "$ranks" -gt 1 ] && launch="mpirun --oversubscribe -np $ranks $( [ "$(id -u)" -eq 0 ] && echo --allow-run-as-root )"
# train OUT_DIR OPTIONS...: one stage, resumed when it has checkpoints
train() {
  dir=$1
  shift
  resume=""
  ls "$dir"/ckpt-*.safetensors >/dev/null 2>&1 && resume="--resume"
  # shellcheck disable=SC2086 # $launch, $resume and $extra are lists of words
  $launch "$trainer" train --config "$root/models/default-train.conf" --data "$manifest" --valid "$manifest" \
    --out "$dir" --threads "$threads" $resume "$@" $extra
}
if [ ! -f "$out/stage1/model.safetensors" ]; then
  train "$out/stage1" --task asr --no-specaug --full-context 1 --steps "$steps1" --warmup 300 --valid-every 1000
  [ -f "$out/stage1/model.safetensors" ] || { echo "train-default.sh: stage 1 stopped early; run again to continue" >&2; exit 0; }
fi
train "$out" --init "$out/stage1/model.safetensors" --steps "$steps"
[ -f "$out/model.safetensors" ] || { echo "train-default.sh: stopped before the last step; run again to continue" >&2; exit 0; }

"$trainer" eval --model "$out/model.safetensors" --data "$manifest" --split test --threads "$threads" \
  --lid-seconds 4 --json "$out/eval-test.json" | tee "$out/eval-test.txt"
if command -v gnuplot >/dev/null; then
  "$root/pipelines/plot-training.sh" "$out/stage1/train.jsonl" "$out/curves-stage1.png"
  "$root/pipelines/plot-training.sh" "$out/train.jsonl" "$out/curves.png"
else
  echo "train-default.sh: gnuplot not installed; no curves (tests/install-deps.sh reference)" >&2
fi
echo "model: $out/model.safetensors; scores: $out/eval-test.txt, $out/eval-test.json"
