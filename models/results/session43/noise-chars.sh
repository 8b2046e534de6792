#!/bin/sh
# Session 43: characters a model writes on noise alone, before any energy rule: CTC greedy over
# each noise file of NOISE (noise-ft-evals.sh's: NOISE/loud, NOISE/quiet; 30 s each), and over the
# first 10 s of each after 1 s of digital silence (a noise's onset), counted from mslam-trainer
# eval's hypotheses (each file's transcript is a placeholder "x").
#   sh models/results/session43/noise-chars.sh NOISE OUT MODEL...     (seconds a model)
set -eu
mkdir -p "$2/onset"
# (absolute: the manifest's paths are read from its folder)
noise=$(cd "$1" && pwd) out=$(cd "$2" && pwd)
shift 2
root=$(cd "$(dirname "$0")/../../.." && pwd)
T=${MSLAM_BUILD_DIR:-$root/build}/trainer/mslam-trainer
printf 'path\tlang\ttext\tsplit\n' > "$out/noise.tsv"
sox -n -r 16000 -c 1 -b 16 "$out/silence.wav" trim 0 1
for f in "$noise"/loud/*.wav "$noise"/quiet/*.wav; do
  name=$(basename "$(dirname "$f")")-$(basename "$f")
  [ -f "$out/onset/$name" ] || sox "$out/silence.wav" "$f" "$out/onset/$name" trim 0 11
  printf '%s\ten\tx\ttest\n' "$f" "$out/onset/$name" >> "$out/noise.tsv"
done
k=0
for model in "$@"; do
  k=$((k + 1))
  "$T" eval --model "$model" --data "$out/noise.tsv" --split test --tasks asr --modes offline --threads 2 \
    --hyps "$out/hyps-$k.tsv" > /dev/null 2>&1
  # (the greedy rows: eval writes the beam's too)
  awk -F'\t' -v model="$model" '$2 == "asr" { n = length($7); all += n; files++; if ($3 ~ /onset/) onset += n; else whole += n }
    END { printf "%s: %d characters on %d files (%d on the 30-s noises, %d on the 10-s onsets)\n", model, all, files, whole, onset }' \
    "$out/hyps-$k.tsv"
done
