#!/bin/sh
# Builds the default corpus (50 languages x 500 utterances, see README "Corpus") from the gettext
# catalogs and fortunes of packages.txt's [corpus] group, downloaded and unpacked (not installed)
# into OUT_DIR-catalogs, so that what the machine has installed for other reasons changes nothing;
# it names the packages whose versions differ from models/corpus-catalogs.txt's, those of the
# corpus the README's figures were measured on. Builds mslam-trainer, runs `mslam-trainer
# corpus`, then prints the corpus's statistics.
# Then the translation corpus OUT_DIR-st: ST_TRAIN train utterances in each of five Romance
# languages, on which train-default.sh's stage 3 (4 with BUNDLED=1) trains the translation
# decoder (the default corpus has 400 per language, too few sentences to learn translation from). Its sentences come
# from the same catalogs and from those of packages.txt's [st-catalogs] group, unpacked into
# OUT_DIR-st-catalogs: without them es has 7,590 train sentences, too few for 20,000 utterances;
# with them, the 100,000 train utterances are as many different sentences, 89,880 of them with an
# English translation. Its dev and test sizes keep the default's 8:1:1 proportions, so every
# sentence falls in the same split in both corpora (a sentence's split is drawn from its English
# source and those proportions): no sentence of either test split is trained on.
#   models/make-corpus.sh [OUT_DIR [corpus options...]]     (default OUT_DIR: the checkout's corpus/;
#                             the options are OUT_DIR's, e.g. --langs es,de --jobs 1; OUT_DIR-st
#                             takes ST_LANGS and ST_TRAIN below)
#   MSLAM_BUILD_DIR=build-x models/make-corpus.sh           (default build folder: build)
#   ST_LANGS=es,it,pt,ca,ro   languages of OUT_DIR-st; empty: no translation corpus (its catalogs,
#                             which models/make-lms.sh also reads, are unpacked all the same):
#                             ST_LANGS= models/make-corpus.sh mine --langs es,de is enough for
#                             models/make-lms.sh MODEL mine
#   ST_TRAIN=20000            train utterances per language of OUT_DIR-st (dev, test: 1/8 each, so
#                             a multiple of 8)
#   EXTRA_LANGS=en,fr         languages with a corpus of their own beside OUT_DIR (37 s each on 2
#                             cores), OUT_DIR-en and OUT_DIR-fr, on which train-default.sh's stages
#                             13 (en) and 14 (en, fr) train beside the default corpus: 400
#                             utterances were too few for the spelling of English and French;
#                             empty: none
#   EXTRA_TRAIN=4000          train utterances of each (dev, test: 1/8 each, so a multiple of 8; 0: none)
# An interrupted build resumes when run again with the same options.
set -eu
case ${1:-} in
  -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;;
  -*) echo "make-corpus.sh: the first argument is the output folder, not '$1' (--help)" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/corpus}
[ $# -gt 0 ] && shift
# train_size NAME VALUE: the train utterances of OUT_DIR-st or OUT_DIR-LANG, checked before the
# hours of work: dev and test take an eighth each, so that every sentence falls in the split it
# has in OUT_DIR (a sentence's split is drawn from it and the sizes' proportions, 8:1:1 there)
train_size() {
  case $2 in
    '' | *[!0-9]*) echo "make-corpus.sh: $1=$2: expected a number of utterances" >&2; exit 2 ;;
  esac
  [ $(($2 % 8)) -eq 0 ] ||
    { echo "make-corpus.sh: $1=$2: expected a multiple of 8 (dev and test take an eighth each)" >&2; exit 2; }
}
st_train=${ST_TRAIN:-20000}
extra_train=${EXTRA_TRAIN:-4000}
train_size ST_TRAIN "$st_train"
train_size EXTRA_TRAIN "$extra_train"
# codes of mslam-trainer corpus --list-langs, checked against it once the trainer is built (below);
# lower-case letters and commas alone, so that the words split from them are no file patterns
extra_langs=${EXTRA_LANGS-en,fr}
case $extra_langs in
  *[!a-z,]*)
    echo "make-corpus.sh: EXTRA_LANGS=$extra_langs: expected language codes and commas, e.g. en,fr" \
      "(mslam-trainer corpus --list-langs)" >&2
    exit 2 ;;
esac
extra_langs=$(printf '%s' "$extra_langs" | tr ',' ' ')
[ "$extra_train" -gt 0 ] || extra_langs=""
"$root/tests/install-deps.sh" build test
builddir=${MSLAM_BUILD_DIR:-$root/build}
case $builddir in /*) ;; *) builddir=$root/$builddir ;; esac
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" "$root"
ninja -C "$builddir" trainer/mslam-trainer
known_langs=$("$builddir/trainer/mslam-trainer" corpus --list-langs | awk 'NR > 1 { print $1 }')
for lang in $extra_langs; do
  printf '%s\n' "$known_langs" | grep -qxF -e "$lang" ||
    { echo "make-corpus.sh: EXTRA_LANGS: $lang is no language of mslam-trainer corpus --list-langs" >&2; exit 2; }
done

# Downloads packages.txt's group $2 into $1/debs and unpacks their catalogs and fortunes into $1
# (usr/share/locale, usr/share/games/fortunes); $1/versions.txt lists the packages' versions and
# $1/unpacked the group's packages when done. A folder of another list, or one left half done,
# starts over.
unpack_group() {
  group=$("$root/tests/install-deps.sh" --list "$2")
  [ -f "$1/unpacked" ] && [ "$(cat "$1/unpacked")" = "$group" ] && [ -f "$1/versions.txt" ] && return
  rm -rf "${1:?}/debs" "${1:?}/usr" "${1:?}/tmp" "${1:?}/unpacked" "${1:?}/versions.txt"
  "$root/tests/install-deps.sh" --download "$1/debs" "$2"
  for deb in "$1"/debs/*.deb; do
    dpkg-deb -x "$deb" "$1/tmp"
    for part in usr/share/locale usr/share/games/fortunes; do
      if [ -d "$1/tmp/$part" ]; then
        mkdir -p "$1/$part"
        cp -a "$1/tmp/$part/." "$1/$part/"
      fi
    done
    rm -rf "$1/tmp"
  done
  for deb in "$1"/debs/*.deb; do dpkg-deb -f "$deb" Package Version; done |
    awk '/^Package:/ { p = $2 } /^Version:/ { print p, $2 }' | LC_ALL=C sort > "$1/versions.txt"
  # one version of each package of the group (the pipeline above hides a dpkg-deb failure)
  [ "$(cut -d ' ' -f 1 "$1/versions.txt")" = "$(echo "$group" | LC_ALL=C sort)" ] ||
    { echo "make-corpus.sh: the packages in $1/debs are not those of [$2]" >&2; exit 1; }
  echo "$group" > "$1/unpacked"
}

catalogs=$out-catalogs
unpack_group "$catalogs" corpus
recorded=$root/models/corpus-catalogs.txt
changed=$(grep -v '^#' "$recorded" | LC_ALL=C sort | LC_ALL=C comm -3 - "$catalogs/versions.txt" |
  awk '{ print $1 }' | LC_ALL=C sort -u | tr '\n' ' ')
[ -z "$changed" ] || echo "make-corpus.sh: these packages are not in the versions of $recorded (those of the" \
  "corpus the README's figures were measured on), so their languages may get other sentences: $changed" >&2
locales=$catalogs/usr/share/locale
fortunes=$catalogs/usr/share/games/fortunes
"$builddir/trainer/mslam-trainer" corpus --out "$out" --locale-dir "$locales" --fortune-dir "$fortunes" "$@"
cp "$catalogs/versions.txt" "$out/catalogs.txt"
"$builddir/trainer/mslam-trainer" corpus --stats "$out"
st_langs=${ST_LANGS-es,it,pt,ca,ro}
# split_corpus DIR TRAIN CORPUS-OPTIONS...: DIR of TRAIN train utterances and an eighth of that in
# dev and test (train_size), then its statistics
split_corpus() {
  dir=$1 train=$2
  shift 2
  "$builddir/trainer/mslam-trainer" corpus --out "$dir" --train "$train" --dev $((train / 8)) --test $((train / 8)) "$@"
  "$builddir/trainer/mslam-trainer" corpus --stats "$dir"
}
# the text pairs of models/make-lms.sh come from these catalogs too, with or without OUT_DIR-st
unpack_group "$out-st-catalogs" st-catalogs
if [ -n "$st_langs" ]; then
  split_corpus "$out-st" "$st_train" --langs "$st_langs" \
    --locale-dir "$locales:$out-st-catalogs/usr/share/locale" --fortune-dir "$fortunes"
  cat "$catalogs/versions.txt" "$out-st-catalogs/versions.txt" > "$out-st/catalogs.txt"
fi
# Each language of EXTRA_LANGS (English, the language most users try first, and French by default)
# from the default corpus's catalogs: its sentences fall in the same splits as there (with the
# default corpus's options and seed), so no corpus trains on another's dev or test sentences; the
# first 400 train ones are the default corpus's own, where it has the language
for lang in $extra_langs; do
  split_corpus "$out-$lang" "$extra_train" --langs "$lang" --locale-dir "$locales" --fortune-dir "$fortunes" \
    --text-per-lang 0
  cp "$catalogs/versions.txt" "$out-$lang/catalogs.txt"
done
