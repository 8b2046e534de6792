#!/bin/sh
# Session 10: translation and speech scores of the jointly fine-tuned model M (text pairs + CTC +
# LID, encoder unfrozen). README.md's s8/ is train-s8/s8-work/ here. M= and O= name another model and
# output folder (session 11: M=s11/joint3/model.safetensors O=s11/final); the speech row names
# --st-input speech, as a model that records a transcript-reading decoder would default to that.
M=${M:-s10/joint/model.safetensors}
O=${O:-s10/final}
T=build/trainer/mslam-trainer
LM=train-s8/s8-work/lm.safetensors
mkdir -p $O
D="--data train-s7/manifest-st-langs.tsv --audio-dir corpus --tasks st --threads 2"
$T eval --model $M --data train-s8/s8-work/text-st/text.tsv --tasks st --modes offline --st-input text --threads 2 --max-items 2000 --json $O/eval-textst.json > $O/eval-textst.txt 2>&1
$T eval --model $M $D --modes offline --st-input text --json $O/eval-text.json --hyps $O/hyps-text.tsv > $O/eval-text.txt 2>&1
$T eval --model $M $D --modes offline --st-input transcript --ctc-beam 32 --lm $LM --json $O/eval-transcript.json --hyps $O/hyps-transcript.tsv > $O/eval-transcript.txt 2>&1
$T eval --model $M $D --modes offline,streaming --st-input speech --json $O/eval-speech.json --hyps $O/hyps-speech.tsv > $O/eval-speech.txt 2>&1
grep "all languages" $O/eval-*.txt
$T eval --model $M --data corpus/manifest.tsv --split test --threads 2 --lid-seconds 4 --ctc-beam 32 --lm $LM --tasks asr,lid --json $O/eval-test.json > $O/eval-test.txt 2>&1
grep -A0 "^mean\|LID accuracy" $O/eval-test.txt
