#!/bin/sh
# Builds the default corpus (50 languages x 500 utterances, see README "Corpus"): installs the
# packages of packages.txt's [corpus] group (gettext catalogs and fortunes, the text sources),
# builds mslam-trainer and runs `mslam-trainer corpus`, then prints the corpus's statistics.
# Then the translation corpus OUT_DIR-st: 10,000 train utterances in each of five Romance
# languages, on which train-default.sh's last stage trains the translation decoder (the default
# corpus has 400 per language, too few sentences to learn translation from). Its dev and test
# sizes keep the default's 8:1:1 proportions, so every sentence falls in the same split in both
# corpora (a sentence's split is drawn from its English source and those proportions): no
# sentence of either test split is trained on.
#   models/make-corpus.sh [OUT_DIR [corpus options...]]     (default OUT_DIR: ./corpus)
#   MSLAM_BUILD_DIR=build-x models/make-corpus.sh           (default build folder: build)
#   ST_LANGS=es,it,pt,ca,ro   languages of OUT_DIR-st; empty: no translation corpus
# An interrupted build resumes when run again with the same options.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/corpus}
[ $# -gt 0 ] && shift
"$root/tests/install-deps.sh" build test corpus
builddir=${MSLAM_BUILD_DIR:-$root/build}
case $builddir in /*) ;; *) builddir=$root/$builddir ;; esac
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" "$root"
ninja -C "$builddir" trainer/mslam-trainer
"$builddir/trainer/mslam-trainer" corpus --out "$out" "$@"
"$builddir/trainer/mslam-trainer" corpus --stats "$out"
st_langs=${ST_LANGS-es,it,pt,ca,ro}
if [ -n "$st_langs" ]; then
  "$builddir/trainer/mslam-trainer" corpus --out "$out-st" --langs "$st_langs" --train 10000 --dev 1250 --test 1250
  "$builddir/trainer/mslam-trainer" corpus --stats "$out-st"
fi
