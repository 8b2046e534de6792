#!/bin/sh
# Session 36: the train split of en it cs fi spoken by nine voices of Festival and flite (the
# corpus builder's --train-voices festival:NAME,flite:NAME; other-share 1: every train utterance of
# those languages is theirs), with ./corpus's seed, split sizes and catalogs, so that every
# sentence falls in the split it has in ./corpus; the held-out voices of session 35
# (s35/synth/heldout.tsv: festival slt, flite awb, it pc, ca ona, cs machac, fi mv, ru msu) are
# none of them. Then the train rows spoken by those voices: s36/mixed/train-other.tsv.
#   sh models/results/session36/corpus.sh      (about 4 minutes on 2 cores; needs packages.txt's other-synth group)
set -eu
tests/install-deps.sh other-synth
build/trainer/mslam-trainer corpus --out s36/mixed --langs en,it,cs,fi --train 400 --dev 50 --test 50 \
  --locale-dir "$PWD/corpus-catalogs/usr/share/locale" --fortune-dir "$PWD/corpus-catalogs/usr/share/games/fortunes" \
  --train-voices m1,festival:kal_diphone,festival:ked_diphone,flite:rms,flite:kal16,festival:lp_diphone,festival:czech_dita,festival:czech_krb,festival:czech_ph,festival:suo_fi_lj_diphone \
  --other-share 1 --no-progress
awk -F'\t' 'NR == 1 || ($7 == "train" && $6 ~ /:/)' s36/mixed/manifest.tsv > s36/mixed/train-other.tsv
