#!/bin/sh
# the elements' stream at latency=640 and 1000 ms: chunks of 16 and 25 frames, left context of
# about 32 frames (2 chunks), as gstmslamcommon.c sets it
T=build/trainer/mslam-trainer
for c in 16 25; do
  $T eval --model models/default.safetensors --data corpus/manifest.tsv --split test --threads 1 \
    --modes streaming --chunk $c --left-chunks 2 --lid-seconds 4 --ctc-beam 32 --lm s8/lm.safetensors --json s8/stream-full-$c.json > s8/stream-full-$c.txt 2>&1
done
