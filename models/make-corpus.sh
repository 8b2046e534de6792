#!/bin/sh
# Builds the default corpus (50 languages x 500 utterances, see README "Corpus"): installs the
# packages of packages.txt's [corpus] group (gettext catalogs and fortunes, the text sources),
# builds mslam-trainer and runs `mslam-trainer corpus`, then prints the corpus's statistics.
#   models/make-corpus.sh [OUT_DIR [corpus options...]]     (default OUT_DIR: ./corpus)
#   MSLAM_BUILD_DIR=build-x models/make-corpus.sh           (default build folder: build)
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
