#!/bin/sh
# Session 43: what a fine-tune with --noise-prob does, per model: final captions and language
# decisions on noise alone (session 41's noise-kinds.sh: audiotestsrc's colours at volumes 0.01
# and 0.1 and white noise low-passed at 100-1000 Hz; and the colours at 0.001 and 0.0003 with
# voice-threshold=-75), the same noise files for every model (kept in NOISE/), and the test split
# (CER with beam 32 + LM and LID on the first 4 s, offline and streaming; BLEU from es it pt ca ro
# through the cascade with the translation LM).
#   sh models/results/session43/noise-ft-evals.sh MODEL NOISE OUT     (about 10 minutes)
# LMS: models/make-lms.sh's folder for MODEL's vocabulary (default lms); the plugin: build/plugin.
set -eu
model=$1 noise=$2 out=$3
root=$(cd "$(dirname "$0")/../../.." && pwd)
lms=${LMS:-$root/lms}
T=${MSLAM_BUILD_DIR:-$root/build}/trainer/mslam-trainer
kinds=$root/models/results/session41/noise-kinds.sh
mkdir -p "$out"
MODEL=$model NOISE_DIR=$noise/loud sh "$kinds" "$root/build/plugin" > "$out/noise-kinds.txt"
MODEL=$model NOISE_DIR=$noise/quiet sh "$root/models/results/session43/quiet-noise.sh" -75 > "$out/quiet-noise.txt"
"$T" eval --model "$model" --data "$root/corpus/manifest.tsv" --audio-dir "$root/corpus" --split test --threads 2 \
  --lid-seconds 4 --ctc-beam 32 --lm "$lms/lm.safetensors" --json "$out/eval-test.json" > "$out/eval-test.txt"
awk -F '\t' 'NR == 1 || $2 ~ /^(es|it|pt|ca|ro)$/' "$root/corpus/manifest.tsv" > "$out/manifest-st-langs.tsv"
"$T" eval --model "$model" --data "$out/manifest-st-langs.tsv" --audio-dir "$root/corpus" --split test --threads 2 \
  --tasks st --modes offline --ctc-beam 32 --lm "$lms/lm.safetensors" \
  --translation-lm "$lms/translation-lm.safetensors" > "$out/eval-test-st5-tlm.txt"
grep -h -E "^in all" "$out/noise-kinds.txt" "$out/quiet-noise.txt"
grep -E "^mean|LID accuracy" "$out/eval-test.txt"
grep "^translation" "$out/eval-test-st5-tlm.txt"
