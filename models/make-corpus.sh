#!/bin/sh
# Builds the default corpus (50 languages x 500 utterances, see README "Corpus"): installs the
# packages of packages.txt's [corpus] group (gettext catalogs and fortunes, the text sources),
# builds mslam-trainer and runs `mslam-trainer corpus`, then prints the corpus's statistics.
# Then the translation corpus OUT_DIR-st: ST_TRAIN train utterances in each of five Romance
# languages, on which train-default.sh's last stage trains the translation decoder (the default
# corpus has 400 per language, too few sentences to learn translation from). Its sentences come
# from the installed catalogs and from those of packages.txt's [st-catalogs] group, downloaded and
# unpacked (not installed) into OUT_DIR-st-catalogs: with the installed catalogs alone es has
# 7,590 train sentences, too few for 20,000 utterances; with both, the 100,000 train utterances
# are as many different sentences, 89,880 of them with an English translation. Its dev and test
# sizes keep the default's 8:1:1 proportions, so every sentence falls in the same split in both
# corpora (a sentence's split is drawn from its English source and those proportions): no
# sentence of either test split is trained on.
#   models/make-corpus.sh [OUT_DIR [corpus options...]]     (default OUT_DIR: ./corpus)
#   MSLAM_BUILD_DIR=build-x models/make-corpus.sh           (default build folder: build)
#   ST_LANGS=es,it,pt,ca,ro   languages of OUT_DIR-st; empty: no translation corpus
#   ST_TRAIN=20000            train utterances per language of OUT_DIR-st (dev, test: 1/8 each)
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
st_train=${ST_TRAIN:-20000}
if [ -n "$st_langs" ]; then
  catalogs=$out-st-catalogs
  if [ ! -f "$catalogs/unpacked" ]; then
    "$root/tests/install-deps.sh" --download "$catalogs/debs" st-catalogs
    for deb in "$catalogs"/debs/*.deb; do dpkg-deb -x "$deb" "$catalogs"; done
    touch "$catalogs/unpacked"
  fi
  "$builddir/trainer/mslam-trainer" corpus --out "$out-st" --langs "$st_langs" --locale-dir \
    "/usr/share/locale:$catalogs/usr/share/locale" --train "$st_train" --dev $((st_train / 8)) --test $((st_train / 8))
  "$builddir/trainer/mslam-trainer" corpus --stats "$out-st"
fi
