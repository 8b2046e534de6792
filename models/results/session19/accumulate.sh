#!/bin/sh
# One global batch of 32 utterances split three ways (--batch-size x --accumulate), 30 steps of the
# default model's options on ./corpus: the logged losses agree, the peak memory falls with the
# micro-batch. Needs GNU time (/usr/bin/time, Debian's `time`).
#   sh models/results/session19/accumulate.sh [OUT-DIR]
set -eu
cd "$(dirname "$0")/../../.."
out=${1:-accumulate-runs}
for split in "32 1" "16 2" "8 4"; do
  set -- $split
  rm -rf "$out/$1x$2"
  OMP_WAIT_POLICY=passive /usr/bin/time -f "batch $1 x accumulate $2: peak RSS %M KB, wall %e s" \
    ./build/trainer/mslam-trainer train --config models/default-train.conf --data corpus/manifest.tsv \
    --out "$out/$1x$2" --threads 2 --steps 30 --warmup 10 --log-every 10 --batch-size "$1" --accumulate "$2" \
    --stats-items 100 --no-specaug 2>&1 | grep -E "^step 20|^step 30|peak RSS|^training:"
done
