#!/bin/sh
# Session 20: what `export --dtype int8` costs in accuracy. The bundled model (F16) exported as int8,
# then both scored in one run on the default corpus's test split: recognition and LID of all 50
# languages (prefix beam 32 with the corpus LM, LID on the first 4 s) and translation from es it
# pt ca ro (the decoder alone, from the CTC transcript, no memory).
#   sh models/results/session20/int8.sh [OUT]     (about 5 minutes on 2 cores; needs ./corpus, lms/lm.safetensors
#                                                  and s14/two-hours-8000/manifest-st-langs.tsv as session 14 made them)
set -eu
out=${1:-s20/int8}
T=${MSLAM_BUILD_DIR:-build}/trainer/mslam-trainer
mkdir -p "$out"
$T export --checkpoint models/default.safetensors --out "$out/int8.safetensors" --dtype int8
ls -l models/default.safetensors "$out/int8.safetensors"
for m in f16:models/default.safetensors int8:$out/int8.safetensors; do
  name=${m%%:*} file=${m#*:}
  $T eval --model "$file" --data corpus/manifest.tsv --split test --threads 2 --lid-seconds 4 --ctc-beam 32 \
    --lm lms/lm.safetensors --tasks asr,lid --modes offline --json "$out/eval-$name.json" > "$out/eval-$name.txt"
  $T eval --model "$file" --data s14/two-hours-8000/manifest-st-langs.tsv --audio-dir corpus --split test \
    --threads 2 --tasks st --modes offline --ctc-beam 32 --lm lms/lm.safetensors --json "$out/st-$name.json" \
    > "$out/st-$name.txt"
done
python3 - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
rows = {}
for name in ("f16", "int8"):
    d = json.load(open(f"{out}/eval-{name}.json"))["offline"]
    langs = d["languages"]
    mean = lambda k: 100 * statistics.mean(v[k] for v in langs.values() if v.get(k) is not None)
    bleu = [l for l in open(f"{out}/st-{name}.txt") if l.startswith("translation into English")][0]
    rows[name] = langs
    print(f"{name:5} CER beam+LM {mean('cer_beam'):.2f} %  WER {mean('wer_beam'):.2f} %  greedy CER {mean('cer'):.2f} %  "
          f"LID {100 * d['lid']['accuracy']:.2f} %  BLEU {bleu.split('BLEU = ')[1].split()[0]}")
moves = sorted((100 * (rows["int8"][k]["cer_beam"] - rows["f16"][k]["cer_beam"]), k) for k in rows["f16"])
print("per language, int8 - f16 CER (beam+LM): from %+.2f (%s) to %+.2f (%s) points" % (*moves[0], *moves[-1]))
PY
