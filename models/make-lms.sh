#!/bin/sh
# Builds the two character LMs the elements and eval can fuse, for a model's vocabulary, and the
# translation memory, from the corpora of models/make-corpus.sh, in about a minute:
#   OUT/text-st                  the text-pair corpus: every gettext message of es it pt ca ro with
#                                an English source, split 8:1:1 as ./corpus (14 s)
#   OUT/text-en, OUT/text-fr     English and French text: the English sources of the same catalogs'
#                                de, fr and es messages and the English fortunes; every French
#                                sentence of the catalogs and fortunes; split likewise (2 s)
#   OUT/lm.safetensors           transcripts' LM (mslamasr/mslamtranslate/mslamlid lm=, eval --lm):
#                                CORPUS's text, the text pairs' sources, OUT/text-en and OUT/text-fr,
#                                order 6 (27 s)
#   OUT/translation-lm.safetensors   English translations' LM (mslamtranslate translation-lm=,
#                                eval --translation-lm): the text pairs' English, order 8 (4 s)
#   OUT/translation-memory.safetensors   known sentences of 49 languages with their English
#                                (mslamtranslate translation-memory=, eval --translation-memory):
#                                the train pairs of CORPUS's text and speech and of the text pairs (9 s)
# Every dev and test sentence of CORPUS is held out of all three (and of the text pairs, of the
# memory), and of the transcripts' LM those of every CORPUS-LANG there is, LANG a language code
# (make-corpus.sh's corpora of one language, EXTRA_LANGS: CORPUS-en and CORPUS-fr).
#   models/make-corpus.sh                          # corpus/, corpus-catalogs/, corpus-st-catalogs/, corpus-en/, corpus-fr/
#   models/make-lms.sh [MODEL [CORPUS [OUT]]]       # defaults: the bundled model, the checkout's corpus/, lms/
#   MSLAM_BUILD_DIR=build-x models/make-lms.sh      # default build folder: build
# The transcripts' LM models the model's languages that the text has: CORPUS's, the text pairs'
# es it pt ca ro, English and French (a corpus of fewer languages than the model, models/make-corpus.sh
# OUT --langs es,de, gets an LM of en de fr es it pt ca ro).
set -eu
case ${1:-} in
  -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;;
  -*) echo "make-lms.sh: the first argument is the model, not '$1' (--help)" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-$root/models/default.safetensors}
corpus=${2:-$root/corpus}
out=${3:-$root/lms}
manifest=$corpus/manifest.tsv
# the catalogs CORPUS was made from and those of the translation corpus (models/make-corpus.sh)
catalogs=$corpus-catalogs
for need in "$manifest" "$catalogs/usr/share/locale" "$corpus-st-catalogs/usr/share/locale"; do
  [ -e "$need" ] || { echo "make-lms.sh: no $need; build it with models/make-corpus.sh" >&2; exit 1; }
done
builddir=${MSLAM_BUILD_DIR:-$root/build}
case $builddir in /*) ;; *) builddir=$root/$builddir ;; esac
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" "$root"
ninja -C "$builddir" trainer/mslam-trainer
trainer=$builddir/trainer/mslam-trainer
mkdir -p "$out"
# text_corpus DIR LANGS: every sentence of LANGS in both groups of catalogs and the fortunes, as
# DIR/text.tsv, split 8:1:1 as CORPUS is; 10 throwaway utterances a language make its manifest,
# written last; run again, the build keeps what is done (and refuses a folder built from other
# catalogs)
text_corpus() {
  "$trainer" corpus --out "$1" --langs "$2" \
    --locale-dir "$catalogs/usr/share/locale:$corpus-st-catalogs/usr/share/locale" \
    --fortune-dir "$catalogs/usr/share/games/fortunes" --train 8 --dev 1 --test 1 --text-per-lang 200000
}
text=$out/text-st
text_corpus "$text" es,it,pt,ca,ro
# English's 56,847 train sentences and French's 36,622, against CORPUS's 4000 rows of each: the
# spelling of the two, which espeak-ng's voices hide, needs them most (session 44: English test CER
# 28.30 -> 26.37 %, WER 66.3 -> 59.2 %, beam 32 + LM; session 45: French 22.20 -> 20.79 %, WER
# 56.2 -> 53.0 %, on corpus-en's and corpus-fr's 500)
text_corpus "$out/text-en" en
text_corpus "$out/text-fr" fr
# the model's languages (info's list, in its order) that the text has
model_langs=$("$trainer" info "$model" | sed -n 's/^  languages    \(.*\) ([0-9]*)$/\1/p')
langs=$(awk -F '\t' -v model_langs="$model_langs" 'FNR > 1 { have[$2] = 1 }
  END { n = split(model_langs, l, " "); for (i = 1; i <= n; i++) if (l[i] in have) { printf "%s%s", s, l[i]; s = "," } }' \
  "$corpus/text.tsv" "$manifest" "$text/text.tsv" "$out/text-en/text.tsv" "$out/text-fr/text.tsv")
[ -n "$langs" ] || { echo "make-lms.sh: the text has none of the languages of $model" >&2; exit 1; }
# the dev and test sentences of the corpora of one language too (CORPUS-LANG, make-corpus.sh's
# EXTRA_LANGS), where they are: 14 train rows of the text are one of corpus-en's as the LM reads
# them, case and punctuation aside (the arguments, read above, now hold those options)
set --
for lang in $("$trainer" corpus --list-langs | awk 'NR > 1 { print $1 }'); do
  if [ -f "$corpus-$lang/manifest.tsv" ]; then set -- "$@" --holdout "$corpus-$lang/manifest.tsv"; fi
done
"$trainer" lm --model "$model" --text "$corpus/text.tsv" --text "$manifest" --text "$text/text.tsv" \
  --text "$out/text-en/text.tsv" --text "$out/text-fr/text.tsv" --langs "$langs" --holdout "$manifest" "$@" --order 6 --prune 2 \
  --out "$out/lm.safetensors"
"$trainer" lm --model "$model" --text "$text/text.tsv" --holdout "$manifest" --translations --order 8 \
  --out "$out/translation-lm.safetensors"
"$trainer" tm --text "$corpus/text.tsv" --text "$manifest" --text "$text/text.tsv" \
  --holdout "$manifest" --holdout "$corpus/text.tsv" --holdout "$text/text.tsv" --out "$out/translation-memory.safetensors"
echo "LMs: $out/lm.safetensors (transcripts), $out/translation-lm.safetensors (translations); translation memory:" \
  "$out/translation-memory.safetensors; text pairs: $text"
