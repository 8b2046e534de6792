#!/bin/sh
# Session 12: the translation LM (mslam-trainer lm --translations) on the bundled model. Builds
# the LMs from the default corpus and the text-pair corpus (models/train-default.sh BUNDLED=1
# builds both as OUT/lm.safetensors and OUT/translation-lm.safetensors; here in W), sweeps the
# weight on the dev splits, then scores the test splits without and with it.
#   models/make-corpus.sh  (./corpus; ./corpus-st-catalogs for the text pairs)
#   sh models/results/session12/tlm-eval.sh    (W=s12/work, TEXT=s12/text-st; about 10 min)
set -eu
M=${M:-models/default.safetensors}
W=${W:-s12/work}
TEXT=${TEXT:-s12/text-st}
O=${O:-$W/session12}
T=build/trainer/mslam-trainer
mkdir -p "$W" "$O"
[ -f "$TEXT/manifest.tsv" ] || $T corpus --out "$TEXT" --langs es,it,pt,ca,ro \
  --locale-dir "/usr/share/locale:corpus-st-catalogs/usr/share/locale" --train 8 --dev 1 --test 1 --text-per-lang 200000
[ -f "$W/lm.safetensors" ] || $T lm --model "$M" --text corpus/text.tsv --text corpus/manifest.tsv \
  --holdout corpus/manifest.tsv --order 6 --prune 2 --out "$W/lm.safetensors"
# English of the text pairs' train split; the corpus's dev and test translations held out too
for order in 6 8; do
  [ -f "$W/tlm$order.safetensors" ] || $T lm --model "$M" --text "$TEXT/text.tsv" --holdout corpus/manifest.tsv \
    --translations --order $order --out "$W/tlm$order.safetensors"
done
awk -F '\t' 'NR == 1 || $2 ~ /^(es|it|pt|ca|ro)$/' corpus/manifest.tsv > "$W/manifest-st-langs.tsv"
pairs() { # split name options...
  split=$1 name=$2; shift 2
  $T eval --model "$M" --data "$TEXT/text.tsv" --split $split --tasks st --modes offline --st-input text --threads 2 \
    --max-items $([ $split = dev ] && echo 1000 || echo 2000) "$@" > "$O/$split-pairs-$name.txt" 2>&1
  echo "$split pairs $name: $(grep 'translation into English' "$O/$split-pairs-$name.txt" | sed 's/.*BLEU = //')"
}
cascade() { # split name options...
  split=$1 name=$2; shift 2
  $T eval --model "$M" --data "$W/manifest-st-langs.tsv" --audio-dir corpus --split $split --tasks st --modes offline \
    --threads 2 --ctc-beam 32 --lm "$W/lm.safetensors" "$@" > "$O/$split-cascade-$name.txt" 2>&1
  echo "$split cascade $name: $(grep 'translation into English' "$O/$split-cascade-$name.txt" | sed 's/.*BLEU = //')"
}
{
pairs dev none
cascade dev none --st-input transcript
for w in 0.1 0.15 0.2 0.3; do pairs dev o8-w$w --translation-lm "$W/tlm8.safetensors" --translation-lm-weight $w; done
for w in 0.15 0.2; do pairs dev o6-w$w --translation-lm "$W/tlm6.safetensors" --translation-lm-weight $w; done
for w in 0.1 0.2 0.3 0.5; do
  cascade dev o8-w$w --st-input transcript --translation-lm "$W/tlm8.safetensors" --translation-lm-weight $w
done
# the test splits, the weight chosen on dev (0.2, order 8: the default weight)
pairs test none
pairs test o8-w0.2 --translation-lm "$W/tlm8.safetensors"
for input in transcript text; do
  cascade test $input-none --st-input $input --json "$O/test-cascade-$input-none.json"
  cascade test $input-o8-w0.2 --st-input $input --translation-lm "$W/tlm8.safetensors" \
    --json "$O/test-cascade-$input-o8-w0.2.json" --hyps "$O/hyps-$input-o8-w0.2.tsv"
done
} | tee "$O/summary.txt"
