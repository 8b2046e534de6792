#!/bin/sh
# mslamasr before (62007a0) and after this session's element changes, on the test utterances of
# five languages (joined per language, 1 s of silence between), scored by session 9's element_cer.py
set -eu
LANGS=${LANGS:-es,it,ro,sk,hr}
OUT=${OUT:-s18/ecer}
mkdir -p "$OUT"
for side in old new; do
  if [ $side = old ]; then plugin=${OLD_PLUGIN:-/tmp/wt-old/build/plugin}; else plugin=$PWD/build/plugin; fi
  echo "== $side ($plugin)"
  GST_REGISTRY=$OUT/registry-$side.bin GST_PLUGIN_PATH=$plugin \
    python3 models/results/session9/element_cer.py --manifest corpus/manifest.tsv \
    --audio-dir corpus --langs "$LANGS" --work "$OUT/wav-$side" \
    --props "model=models/default.safetensors lm=lms/lm.safetensors beam-size=32"
done
