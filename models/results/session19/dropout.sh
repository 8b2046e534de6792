#!/bin/sh
# Residual dropout against over-fitting: the default model's options, CTC alone, on 150 training
# utterances of each of en de fr es (the first of ./corpus's train split; 600 in all) for 1500
# steps (40 passes), without and with --dropout 0.1, validated on the same languages' dev split.
#   sh models/results/session19/dropout.sh [OUT-DIR]     (about 15 minutes a run on 2 cores)
set -eu
cd "$(dirname "$0")/../../.."
out=${1:-dropout-runs}
mkdir -p "$out"
python3 - "$out/manifest.tsv" <<'PY'
import collections, sys
rows = open('corpus/manifest.tsv', encoding='utf-8').read().split('\n')
kept, per_lang = [rows[0]], collections.Counter()
for row in rows[1:]:
    f = row.split('\t')
    if len(f) < 7 or f[1] not in ('en', 'de', 'fr', 'es'):
        continue
    if f[6] == 'dev' or (f[6] == 'train' and per_lang[f[1]] < 150):
        kept.append(row)
        per_lang[f[1]] += f[6] == 'train'
open(sys.argv[1], 'w', encoding='utf-8').write('\n'.join(kept) + '\n')
PY
for p in 0 0.1; do
  rm -rf "$out/dropout-$p"
  OMP_WAIT_POLICY=passive ./build/trainer/mslam-trainer train --config models/default-train.conf --task asr \
    --data "$out/manifest.tsv" --audio-dir corpus --valid "$out/manifest.tsv" --valid-items 200 --valid-every 250 \
    --out "$out/dropout-$p" --threads 2 --steps 1500 --warmup 100 --lr 2e-3 --no-specaug --full-context 1 \
    --log-every 50 --save-every 1500 --dropout "$p" 2>&1 | grep -E "^valid|^best|^no better|^model|^step 1500/"
done
