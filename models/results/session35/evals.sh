#!/bin/sh
# Session 35: a model on the held-out voices of the other synthesizers (s35/synth/heldout.tsv: the
# test split's sentences by voices and languages the fine-tune did not hear) and on the corpus's
# test split (espeak-ng, the 50 languages): CTC prefix beam 32 with the corpus LM, and LID on the
# first 4 s, offline.
#   sh models/results/session35/evals.sh MODEL OUT
set -eu
model=$1 out=$2
mkdir -p "$out"
T=build/trainer/mslam-trainer
common="--model $model --split test --modes offline --ctc-beam 32 --lm lms/lm.safetensors --threads 2"
$T eval $common --tasks asr,lid --data s35/synth/heldout.tsv --audio-dir s35/synth --json "$out/heldout.json" > "$out/heldout.txt" 2>&1
$T eval $common --tasks lid --lid-seconds 4 --data s35/synth/heldout.tsv --audio-dir s35/synth > "$out/heldout-lid4.txt" 2>&1
$T eval $common --tasks asr,lid --data corpus/manifest.tsv --json "$out/espeak.json" > "$out/espeak.txt" 2>&1
$T eval $common --tasks lid --lid-seconds 4 --data corpus/manifest.tsv > "$out/espeak-lid4.txt" 2>&1
