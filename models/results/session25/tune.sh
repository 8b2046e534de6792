#!/bin/sh
# Fine-tuning for recognition as session 24's (its pretrain.sh, tune6): the whole model, CTC, on
# 100 transcribed train utterances of each of en de fr es it pt, 600 steps of 8, full context, no
# augmentation, peak lr 1e-3 (or as given), from MODEL (or from scratch with MODEL "-"); then the
# dev CER (greedy) of those languages. Run from the repository root after models/make-corpus.sh:
#   [LABELS=N] sh models/results/session25/tune.sh OUT MODEL NAME [more train options]
# LABELS (default 100): transcribed utterances of each language (the first N of its train split).
set -eu
out=$1 model=$2 name=$3
shift 3
trainer=${MSLAM_BUILD_DIR:-build}/trainer/mslam-trainer
six='^(en|de|fr|es|it|pt)$'
labels=${LABELS:-100}
mkdir -p "$out"
[ -f "$out/labelled-6x$labels.tsv" ] ||
  awk -F '\t' -v six="$six" -v n="$labels" 'NR == 1 { print; next } $7 == "train" && $2 ~ six && c[$2]++ < n' \
    corpus/manifest.tsv > "$out/labelled-6x$labels.tsv"
[ -f "$out/dev-6.tsv" ] || awk -F '\t' -v six="$six" 'NR == 1 || ($7 == "dev" && $2 ~ six)' corpus/manifest.tsv > "$out/dev-6.tsv"
init=
[ "$model" = - ] || init="--init $model"
# shellcheck disable=SC2086 # init is empty or two words
"$trainer" train --config models/default-train.conf --task asr $init --data "$out/labelled-6x$labels.tsv" --audio-dir corpus \
  --out "$out/tune-$name" --steps 600 --warmup 100 --lr 1e-3 --batch-size 8 --no-specaug --full-context 1 \
  --valid-every 0 --save-every 600 --log-every 20 --threads 1 "$@" > "$out/tune-$name.log" 2>&1
"$trainer" eval --model "$out/tune-$name/model.safetensors" --data "$out/dev-6.tsv" --audio-dir corpus --split dev \
  --tasks asr --modes offline --ctc-beam 1 --json "$out/eval-tune-$name.json" > "$out/eval-tune-$name.txt" 2>&1
printf '%s\t%s\n' "$name" "$(awk '$1 == "mean" { print $2 }' "$out/eval-tune-$name.txt")"
