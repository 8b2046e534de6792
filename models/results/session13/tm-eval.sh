#!/bin/sh
# Session 13: the translation memory (mslam-trainer tm) with the bundled model. Uses the LMs and
# the memory of models/make-lms.sh (LMS), sweeps the memory's minimum similarity on the dev
# splits, scores the test splits without and with it, and counts how often it answers sentences
# from outside its domain (the corpus's dev and test sentences that have no translation: fortunes
# and literature, not software messages).
#   models/make-corpus.sh && models/make-lms.sh
#   sh models/results/session13/tm-eval.sh     (LMS=lms, W=s13/work; about 40 min on 2 cores)
set -eu
M=${M:-models/default.safetensors}
LMS=${LMS:-lms}
W=${W:-s13/work}
O=${O:-$W/session13}
T=build/trainer/mslam-trainer
TM=$LMS/translation-memory.safetensors
TEXT=$LMS/text-st/text.tsv
mkdir -p "$W" "$O"
awk -F '\t' 'NR == 1 || $2 ~ /^(es|it|pt|ca|ro)$/' corpus/manifest.tsv > "$W/manifest-st-langs.tsv"
# sentences the memory should not answer: every non-English dev and test row without a
# translation (its column filled with "-", so that eval translates it)
awk -F '\t' 'BEGIN { OFS = "\t" } NR == 1 { print; next }
  $2 != "en" && $4 == "" && ($7 == "dev" || $7 == "test") { $4 = "-"; $7 = "test"; print }' corpus/text.tsv \
  > "$W/no-translation.tsv"
lms="--lm $LMS/lm.safetensors --translation-lm $LMS/translation-lm.safetensors"
score() { # name eval-options...
  name=$1
  shift
  # shellcheck disable=SC2086 # $lms is a list of words
  $T eval --model "$M" --modes offline --threads 2 --tasks st $lms "$@" > "$O/$name.txt" 2>&1
  echo "$name: $(grep 'translation into English' "$O/$name.txt" | sed 's/.*BLEU = \([0-9.]*\) .*chrF2 = \(.*\)/BLEU \1, chrF2 \2/')" \
    "$(grep 'translations from the memory' "$O/$name.txt" || true)"
}
cascade() { split=$1 name=$2; shift 2; score "$split-cascade-$name" --data "$W/manifest-st-langs.tsv" --audio-dir corpus --split "$split" --ctc-beam 32 "$@"; }
pairs() { split=$1 name=$2; shift 2; score "$split-pairs-$name" --data "$TEXT" --split "$split" --st-input text --max-items "$([ "$split" = dev ] && echo 1000 || echo 2000)" "$@"; }
{
cascade dev none
pairs dev none
for s in 0.4 0.45 0.5 0.55 0.6 0.7; do
  cascade dev m$s --translation-memory "$TM" --tm-min-similarity $s
  pairs dev m$s --translation-memory "$TM" --tm-min-similarity $s
  score ood-m$s --data "$W/no-translation.tsv" --split test --st-input text --max-items 1000 --translation-memory "$TM" \
    --tm-min-similarity $s
done
# the test splits at the default (0.5, chosen on dev)
for input in transcript text; do
  cascade test $input-none --st-input $input --json "$O/test-cascade-$input-none.json"
  cascade test $input-memory --st-input $input --translation-memory "$TM" --json "$O/test-cascade-$input-memory.json" \
    --hyps "$O/hyps-cascade-$input-memory.tsv"
done
pairs test none
pairs test memory --translation-memory "$TM"
for tm in none memory; do
  opt=""
  [ $tm = memory ] && opt="--translation-memory $TM"
  # shellcheck disable=SC2086 # $opt is a list of words
  score test-49-$tm --data corpus/manifest.tsv --audio-dir corpus --split test --ctc-beam 32 --st-input transcript $opt \
    --json "$O/test-49-$tm.json"
done
} | tee "$O/summary.txt"
