#!/bin/sh
# Session 43: session 35's measure of speech from other synthesizers, for a model: the test split's
# sentences spoken by Festival's and flite's voices (session 35's other-synth.sh, into SYNTH when
# it is not there yet) and by espeak-ng (the corpus's rows), scored offline with beam 32 + LM,
# and LID on the whole utterance and on its first 4 s.
#   sh models/results/session43/other-synth.sh MODEL LM SYNTH OUT     (about 20 minutes)
# After models/make-corpus.sh (./corpus); LM: the transcripts' LM of MODEL's vocabulary.
set -eu
model=$1 lm=$2 synth=$3 out=$4
root=$(cd "$(dirname "$0")/../../.." && pwd)
trainer=${MSLAM_BUILD_DIR:-$root/build}/trainer/mslam-trainer
[ -f "$synth/other.tsv" ] || sh "$root/models/results/session35/other-synth.sh" "$root/corpus" "$synth" test
mkdir -p "$out"
common="--model $model --split test --modes offline --ctc-beam 32 --lm $lm --threads 2"
for who in espeak other; do
  dir=$synth
  [ $who = espeak ] && dir=$root/corpus
  # shellcheck disable=SC2086 # $common is a list of words
  "$trainer" eval $common --tasks asr,lid --data "$synth/$who.tsv" --audio-dir "$dir" > "$out/eval-$who.txt" 2>&1
  # shellcheck disable=SC2086
  "$trainer" eval $common --tasks lid --lid-seconds 4 --data "$synth/$who.tsv" --audio-dir "$dir" \
    > "$out/eval-$who-lid4.txt" 2>&1
done
grep -E "^mean|LID accuracy" "$out"/eval-*.txt
