#!/bin/sh
# LID accuracy of the bundled model on the first S seconds of 1000 test utterances, S = 0.3 .. 2
set -eu
for s in 0.3 0.5 0.75 1 2 4; do
  build/trainer/mslam-trainer eval --model models/default.safetensors --data corpus --split test \
    --tasks lid --modes offline --max-items 1000 --lid-seconds $s --threads 2 --json models/results/session39/lid-$s.json > models/results/session39/lid-$s.txt 2>&1
  echo "$s $(grep -m1 -i 'accuracy' models/results/session39/lid-$s.txt)"
done
