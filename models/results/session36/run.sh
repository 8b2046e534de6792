#!/bin/sh
# Session 36, end to end (about 45 minutes on 2 cores), after session 35's run.sh (s35/synth/heldout.tsv,
# s35/eval-*): the utterances, the fine-tune, its scores, and the per-language comparisons.
set -eu
r=models/results/session36
sh $r/corpus.sh
sh $r/finetune.sh s36/ft
sh models/results/session35/evals.sh s36/ft/default-f16.safetensors s36/eval-ft
python3 models/results/session30/compare.py s35/eval-bundled/espeak.json s36/eval-ft/espeak.json
python3 models/results/session30/compare.py s35/eval-control/espeak.json s36/eval-ft/espeak.json
python3 models/results/session30/compare.py s35/eval-bundled/espeak.json s36/eval-ft/espeak.json en,it,cs,fi,ca,ru
