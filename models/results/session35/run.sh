#!/bin/sh
# Session 35, end to end (about 90 minutes on 2 cores): the test split spoken by other
# synthesizers, the bundled model scored on it, 1500 train utterances by five of their voices, the
# fine-tune with them and without them (the control: the same run with their weight 0), and the
# scores of the three models. After models/make-corpus.sh and models/make-lms.sh (./corpus, ./lms)
# and with the packages other-synth.sh names installed.
set -eu
r=models/results/session35
sh $r/other-synth.sh corpus s35/synth test
# the bundled model on both (other-synth-bundled/)
T=build/trainer/mslam-trainer
common="--model models/default.safetensors --split test --modes offline --ctc-beam 32 --lm lms/lm.safetensors --threads 2"
$T eval $common --tasks asr,lid --data s35/synth/espeak.tsv --audio-dir corpus > s35/synth/eval-espeak.txt 2>&1
$T eval $common --tasks asr,lid --data s35/synth/other.tsv --audio-dir s35/synth > s35/synth/eval-other.txt 2>&1
$T eval $common --tasks lid --lid-seconds 4 --data s35/synth/espeak.tsv --audio-dir corpus > s35/synth/eval-espeak-lid4.txt 2>&1
$T eval $common --tasks lid --lid-seconds 4 --data s35/synth/other.tsv --audio-dir s35/synth > s35/synth/eval-other-lid4.txt 2>&1
# the held-out voices: all but the five the fine-tune hears
awk -F'\t' 'NR == 1 || ($6 != "kal_diphone" && $6 != "rms" && $6 != "lp_diphone" && $6 != "czech_dita" &&
    $6 != "suo_fi_lj_diphone")' s35/synth/other.tsv > s35/synth/heldout.tsv
VOICES='en festival:kal_diphone UTF-8
en flite:rms UTF-8
fi festival:suo_fi_lj_diphone ISO-8859-1' sh $r/other-synth.sh corpus s35/synth-train-a train 300 &
VOICES='it festival:lp_diphone ISO-8859-1
cs festival:czech_dita ISO-8859-2' sh $r/other-synth.sh corpus s35/synth-train-b train 300
wait
{ head -1 s35/synth-train-a/other.tsv
  for d in a b; do awk -F'\t' -v OFS='\t' -v p="synth-train-$d/" 'NR > 1 { $1 = p $1; print }' s35/synth-train-$d/other.tsv; done
} > s35/synth-train.tsv
sh $r/finetune.sh s35/ft
sh models/results/session29/finetune.sh s35/ft-control s35/synth-train.tsv --data-weight 1 --data-weight 0 --steps 1000 --seed 35
build/trainer/mslam-trainer export --checkpoint s35/ft-control/model.safetensors --out s35/ft-control/default-f16.safetensors --dtype f16
sh $r/evals.sh models/default.safetensors s35/eval-bundled
sh $r/evals.sh s35/ft/default-f16.safetensors s35/eval-ft
sh $r/evals.sh s35/ft-control/default-f16.safetensors s35/eval-control
# per language against the bundled model: en de fr and the other 47 (session 30's view), then the
# six languages of the other synthesizers
for m in ft control; do
  python3 models/results/session30/compare.py s35/eval-bundled/espeak.json s35/eval-$m/espeak.json
  python3 models/results/session30/compare.py s35/eval-bundled/espeak.json s35/eval-$m/espeak.json en,it,cs,fi,ca,ru
done
