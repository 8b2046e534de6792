#!/bin/sh
# A linear CTC probe of an encoder: the CTC head alone (--freeze-encoder --cache-encoder) trained on
# 100 transcribed train utterances of each of en de fr es it pt (600 steps of 8, full context, no
# augmentation), then the dev CER (greedy) of those languages' dev utterances (other voices).
# MODEL may be a checkpoint; with LAYERS (the shared layers to keep, and optionally the speech
# layers) the probe reads that layer's output instead of the top (truncate.py). Run from the
# repository root after models/make-corpus.sh:
#   [VOCAB=data] sh models/results/session25/probe.sh OUT MODEL NAME [SHARED [SPEECH]]
# VOCAB=data: the head over the characters of the probe's data alone (--vocab data), not MODEL's.
# writes OUT/probe-NAME/, OUT/probe-NAME.log and OUT/eval-probe-NAME.{txt,json}; prints the CER.
set -eu
out=$1 model=$2 name=$3
here=$(dirname "$0")
trainer=${MSLAM_BUILD_DIR:-build}/trainer/mslam-trainer
mkdir -p "$out"
six='^(en|de|fr|es|it|pt)$'
[ -f "$out/labelled-6x100.tsv" ] ||
  awk -F '\t' -v six="$six" 'NR == 1 { print; next } $7 == "train" && $2 ~ six && n[$2]++ < 100' corpus/manifest.tsv \
    > "$out/labelled-6x100.tsv"
[ -f "$out/dev-6.tsv" ] || awk -F '\t' -v six="$six" 'NR == 1 || ($7 == "dev" && $2 ~ six)' corpus/manifest.tsv > "$out/dev-6.tsv"
if [ $# -ge 4 ]; then
  python3 "$here/truncate.py" "$model" "$out/$name.safetensors" "$4" ${5:-}
  model=$out/$name.safetensors
fi
"$trainer" train --task asr --freeze-encoder --cache-encoder --no-specaug --full-context 1 --init "$model" \
  --vocab "${VOCAB:-init}" \
  --data "$out/labelled-6x100.tsv" --audio-dir corpus --out "$out/probe-$name" --steps 600 --warmup 50 --lr 3e-3 \
  --batch-size 8 --valid-every 0 --save-every 600 --log-every 50 --threads 1 > "$out/probe-$name.log" 2>&1
"$trainer" eval --model "$out/probe-$name/model.safetensors" --data "$out/dev-6.tsv" --audio-dir corpus --split dev \
  --tasks asr --modes offline --ctc-beam 1 --json "$out/eval-probe-$name.json" > "$out/eval-probe-$name.txt" 2>&1
printf '%s\t%s\n' "$name" "$(awk '$1 == "mean" { print $2 }' "$out/eval-probe-$name.txt")"
