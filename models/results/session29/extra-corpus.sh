#!/bin/sh
# Session 29: 3000 more train utterances of each of en de fr, from the same catalogs and fortunes
# as ./corpus (models/make-corpus.sh), with its voices and augmentation, seed 29; then
# train-clean.tsv: the rows whose text or translation is none of ./corpus's or the text pairs'
# dev and test sentences (or their English), and whose characters are all in the bundled model's
# vocabulary (a new character would change the vocabulary, which the LMs are built on).
#   sh models/results/session29/extra-corpus.sh [OUT]      (about 2 minutes on 2 cores)
set -eu
out=${1:-s29/corpus-edf}
build/trainer/mslam-trainer corpus -o "$out" --langs en,de,fr --train 3000 --dev 0 --test 0 --text-per-lang 0 \
  --seed 29 --locale-dir "$PWD/corpus-catalogs/usr/share/locale" \
  --fortune-dir "$PWD/corpus-catalogs/usr/share/games/fortunes" --no-progress
python3 "$(dirname "$0")/clean.py" models/default.safetensors corpus/manifest.tsv lms/text-st/manifest.tsv \
  "$out/manifest.tsv" > "$out/train-clean.tsv"
