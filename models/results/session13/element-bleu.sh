#!/bin/sh
# mslamtranslate with both LMs and the translation memory of models/make-lms.sh on each test
# utterance of es it pt ca ro (the 221 with a translation), one pipeline per utterance
# (pipelines/translate-subtitles.sh), the captions of each joined and scored against the
# references with sacreBLEU's corpus BLEU (element_bleu.py; the same 13a tokens and brevity
# penalty as mslam-trainer eval). ~10 min.
#   models/make-corpus.sh && models/make-lms.sh
#   sh models/results/session13/element-bleu.sh [LMS=lms] [OUT=s13/element]
set -eu
lms=${1:-lms}
out=${2:-s13/element}
mkdir -p "$out"
export GST_PLUGIN_PATH="$PWD/build/plugin" MSLAM_MODEL="$PWD/models/default.safetensors"
awk -F '\t' 'NR > 1 && $7 == "test" && $4 != "" && $2 ~ /^(es|it|pt|ca|ro)$/ { print $1 "\t" $4 }' corpus/manifest.tsv |
while IFS="$(printf '\t')" read -r path reference; do
  name=$(basename "$path" .flac)
  pipelines/translate-subtitles.sh "corpus/$path" "$out/$name.srt" lm="$lms/lm.safetensors" \
    translation-lm="$lms/translation-lm.safetensors" translation-memory="$lms/translation-memory.safetensors"
  # the SRT's text lines, joined
  hypothesis=$(awk 'NF && !/^[0-9]+$/ && !/-->/' "$out/$name.srt" | tr '\n' ' ' | sed 's/ *$//')
  printf '%s\t%s\t%s\n' "$name" "$reference" "$hypothesis"
done > "$out/hyps.tsv"
/usr/bin/python3 "$(dirname "$0")/element_bleu.py" "$out/hyps.tsv"
