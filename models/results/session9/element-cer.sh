#!/bin/sh
# mslamasr's final captions with and without second-pass, against mslam-trainer eval offline and
# streaming, on the test utterances of the ten dev-chosen languages (50 each), all scored by
# element_cer.py (joined per language). Run from the repository root after a build; LM is the
# recipe's corpus LM (session 8's README has its command).
set -eu
LM=${LM:-s8/lm.safetensors}
M=${MANIFEST:-s8/manifest-10.tsv}
OUT=${OUT:-s9/element-cer}
LANGS=sr,ms,sl,hy,ro,tr,hr,ne,sk,te
export GST_PLUGIN_PATH=$PWD/build/plugin
mkdir -p "$OUT"
S=models/results/session9/element_cer.py
[ -f "$OUT/eval-hyps.tsv" ] ||
  build/trainer/mslam-trainer eval --model models/default.safetensors --data "$M" --audio-dir corpus --split test \
    --threads 2 --tasks asr --modes offline,streaming --ctc-beam 32 --lm "$LM" --hyps "$OUT/eval-hyps.tsv" \
    > "$OUT/eval.txt" 2>&1
for mode in offline streaming; do
  echo "== eval $mode (beam 32 + LM)"
  python3 $S --manifest "$M" --langs $LANGS --hyps "$OUT/eval-hyps.tsv" --mode $mode
done
n=0
for props in "second-pass=false" "second-pass=true" "second-pass=true pause=600 max-duration=20000"; do
  n=$((n + 1))
  echo "== mslamasr beam-size=32 lm=... $props"
  python3 $S --manifest "$M" --audio-dir corpus --langs $LANGS --work "$OUT/wav" \
    --props "model=models/default.safetensors lm=$LM beam-size=32 $props"
  mkdir -p "$OUT/captions-$n" && mv "$OUT"/wav/*.captions.txt "$OUT/captions-$n/"
done
