#!/bin/sh
# Trains the default model (task multi: CTC speech recognition, language ID and translation into
# English on one streaming-aware Conformer encoder, 8.2 M parameters) on the default corpus,
# builds its character LMs and translation memory (models/make-lms.sh, a minute; without
# make-corpus.sh's catalogs, the LM of the corpus's text alone), then scores it on the corpus's
# test split (held-out voices) offline and streaming, exports the model file and draws the
# training curves. STAGE3=0 models/train-default.sh is the two-hour run (stages 0-2).
#
#   models/make-corpus.sh                 # builds ./corpus
#   models/train-default.sh [CORPUS] [OUT]
#
# Four stages, each started from the one before (--init):
#   0. CTC alone on 6 Latin-script languages (en de fr es it pt), 400 steps, without SpecAugment
#      or chunked attention: the CTC alignment forms here. On all 50 languages at once the loss
#      sat on the plateau (4.9 nats per character) for 700 steps; on 6 it leaves it in ~100.
#   1. CTC alone on every language, STEPS1 steps: the new characters and languages join.
#   2. All three heads (CTC, LID, translation) with streaming-aware masks, STEPS steps at half
#      the peak learning rate, without SpecAugment: the whole run sees each utterance about 4
#      times (6 with 8000 steps), far from over-fitting, and with SpecAugment (and the peak rate
#      of stages 0-1) the CTC loss went from 1.7 back up to 3.6 in 700 steps. From scratch, the
#      three losses and the augmentation together kept the encoder on the CTC plateau (LID at
#      chance). Half the utterances go through a random equaliser and half get a warped frequency
#      axis: the test voice m8 (espeak-ng's strongly filtered "tone" voice, unlike every training
#      voice) scored LID 42 % and CER 63 % without them, the four other test voices 93-97 % and
#      27-32 %. With 6 equaliser points of +-15 dB, how well a run generalised to m8 varied
#      (beam CER 20.5 % in session 14's run, 25.2 % in session 16's); the two-hour run's
#      equaliser has 12 points of +-18 dB, finer peaks and notches (session 17: m8 20.3 % and,
#      with another seed, 19.5 %; models/results/session17/). Otherwise stage 2 keeps 6 of
#      +-15 dB, so that STEPS=6000 gives session 3's model, which stages 3-14 start from.
#   3. The translation decoder alone (--freeze-encoder: the encoder, CTC and LID stay as stage 2
#      left them), grown to 4 layers, STEPS3 steps of 32 utterances on the translation corpus
#      CORPUS-st (20,000 train utterances in each of es it pt ca ro, from models/make-corpus.sh):
#      400 sentences per language are too few to learn translation from. --cache-encoder runs the
#      frozen encoder once over the training set and keeps its outputs (F16, ~2 GB), so a step is
#      the decoder's alone (~0.26 s, against ~0.8 s with the encoder's forward pass in each step);
#      the encoder then sees each utterance once, unaugmented (--no-specaug, no equaliser or
#      warp). Skipped when CORPUS-st is missing.
# With BUNDLED=1, stage 3 gives way to the stages that made models/default.safetensors (sessions
# 8-11 and 42-45, models/results/session8..11 and session42..45; about 11 h more on 2 cores,
# 13 h in all), each from the one before, on the translation corpus, a text-pair corpus OUT/text-st
# built from the same catalogs (176,017 train pairs of es it pt ca ro -> English within 120
# characters) and CORPUS:
#   4. stage 2's model in F16; the decoder (4 layers) alone on CORPUS-st's cached encoder outputs
#      and text pairs through the text path, 32 + 32 a step (STEPS4=5000; ~30 min cache + 46 min)
#   5. the decoder alone on text pairs, 64 a step (STEPS5=9000, ~2 h)
#   6. the same at a lower rate, another seed (STEPS6=3000, 33 min)
#   7. text pairs with the encoder's text embedding and shared layers unfrozen (STEPS7=1000, 21 min)
#   8. joint: 8 utterances of CORPUS (CTC, LID, equaliser, warp) and 64 text pairs a step, the
#      whole model trained (STEPS8=3400, ~1 h 50 min)
#   9. the same at peak lr 2e-4, a STEPS9=6000-step cosine stopped at STOP9=850 (~30 min)
#  10. the same from stage 9's checkpoint, a new STEPS10=2800-step cosine, seed 11 (~1 h 25 min)
#  11. the same from stage 10's F16 file (the bundled model of sessions 11-41), with the frontend
#      that takes each frame's mean off (session 42) and half the utterances played up to 40 dB
#      quieter (--gain-prob 0.5), peak lr 1e-4, STEPS11=800 steps, seed 12 (~40 min)
#  12. the same from stage 11's F16 file (the bundled model of session 42), 15 % of the
#      utterances replaced by noise alone (--noise-prob 0.15: blanks on noise), STEPS12=400
#      steps, seed 13 (~10 min)
#  13. the same from stage 12's F16 file (the bundled model of session 43) with CORPUS-en beside
#      CORPUS (4000 English train utterances from models/make-corpus.sh, each taken 1.5 times an
#      epoch: a quarter of the utterances English, where CORPUS has 2 %), STEPS13=1500 steps,
#      seed 14 (~40 min)
#  14. the same from stage 13's F16 file (the bundled model of session 44) with CORPUS-fr as well
#      (4000 French train utterances, 1.5 times an epoch as CORPUS-en's: each a fifth of the
#      utterances), STEPS14=1500 steps, seed 15 (~40 min)
# From stage 5 on the model records that its decoder reads the CTC transcript (it learnt from
# text pairs, and from the speech translates at ~0.2 BLEU), which mslamtranslate's input=auto
# follows; OUT/bundled.safetensors is stage 14's F16 file. OUT/lm.safetensors and
# OUT/translation-lm.safetensors are models/make-lms.sh's: the transcripts' LM (the corpus's
# text, the text pairs' sources and the English and French text OUT/text-en, OUT/text-fr) and the
# LM of the text pairs' English, which the decoder's beam fuses (eval --translation-lm,
# mslamtranslate translation-lm=).
#
# CORPUS defaults to the checkout's corpus/ (where models/make-corpus.sh writes it), OUT to its
# train-default/ (stages 0 and 1 in OUT/stage0, OUT/stage1).
# Hyper-parameters are in models/default-train.conf; the environment overrides the run's length
# and parallelism:
#   STEPS1=1000     stage-1 steps
#   STEPS=6000      stage-2 steps (its cosine schedule's length), 8000 with STAGE3=0: the steps
#                   are a function of the seed, so 6000 give session 3's model bit for bit, which
#                   stages 3-14 start from; in session 14 stages 0-2 of 400, 1000 and 8000
#                   steps took 3.7, 8.0 and 65.5 min on 2 cores (~105 audio-s/s; 6000: ~50 min)
#   STEPS3=10000    stage-3 steps (about 25 min caching the encoder's outputs, then 45 min)
#   STAGE3=0        no stage 3: the two-hour run (stages 0-2, STEPS 8000, the finer equaliser,
#                   then the LMs and the translation memory of models/make-lms.sh and the
#                   scores, translation through the memory)
#   BUNDLED=1       stages 4-14 instead of stage 3; STEPS4..STEPS14 and STOP9 their steps (above)
#   THREADS=2       threads of the one training process
#   RANKS=1         > 1: mpirun -np RANKS processes, THREADS each (the batch is per process)
#   EXTRA="..."     more mslam-trainer train options for every stage (e.g. "--batch-size 8")
#   MSLAM_BUILD_DIR=build-x   build folder (default: build)
# An interrupted run (Ctrl-C writes a checkpoint) continues where it stopped when started again.
set -eu
case ${1:-} in
  -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;;
  -*) echo "train-default.sh: unknown option $1 (--help says how to run it)" >&2; exit 2 ;;
  *=*) echo "train-default.sh: $1 is a setting of the environment: put it before the command (${1%%=*}=${1#*=} $0)" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$root/corpus}
out=${2:-$root/train-default}
steps1=${STEPS1:-1000}
steps3=${STEPS3:-10000}
stage3=${STAGE3:-1}
bundled=${BUNDLED:-0}
steps_default=6000
[ "$stage3" = 0 ] && [ "$bundled" != 1 ] && steps_default=8000
steps=${STEPS:-$steps_default}
eq_points=6 eq_db=15
[ "$stage3" = 0 ] && [ "$bundled" != 1 ] && eq_points=12 eq_db=18
steps4=${STEPS4:-5000}
steps5=${STEPS5:-9000}
steps6=${STEPS6:-3000}
steps7=${STEPS7:-1000}
steps8=${STEPS8:-3400}
steps9=${STEPS9:-6000}
stop9=${STOP9:-850}
steps10=${STEPS10:-2800}
steps11=${STEPS11:-800}
steps12=${STEPS12:-400}
steps13=${STEPS13:-1500}
steps14=${STEPS14:-1500}
threads=${THREADS:-2}
ranks=${RANKS:-1}
extra=${EXTRA:-}
manifest=$corpus/manifest.tsv
[ -f "$manifest" ] || { echo "train-default.sh: no $manifest; build the corpus with models/make-corpus.sh" >&2; exit 1; }
builddir=${MSLAM_BUILD_DIR:-$root/build}
case $builddir in /*) ;; *) builddir=$root/$builddir ;; esac
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" "$root"
ninja -C "$builddir" trainer/mslam-trainer
trainer=$builddir/trainer/mslam-trainer

launch=""
[ "$ranks" -gt 1 ] && launch="mpirun --oversubscribe -np $ranks $( [ "$(id -u)" -eq 0 ] && echo --allow-run-as-root )"
# train OUT_DIR OPTIONS...: one stage, resumed when it has checkpoints; OPTIONS name the stage's
# --data (given several times, --data trains on them all)
train() {
  dir=$1
  shift
  resume=""
  ls "$dir"/ckpt-*.safetensors >/dev/null 2>&1 && resume="--resume"
  # shellcheck disable=SC2086 # $launch, $resume and $extra are lists of words
  $launch "$trainer" train --config "$root/models/default-train.conf" --valid "$manifest" \
    --out "$dir" --threads "$threads" $resume "$@" $extra
}
# stage DIR OPTIONS...: runs a stage unless its model exists; stops the script when the stage
# was interrupted (its checkpoint lets the next run continue)
stage() {
  dir=$1
  [ -f "$dir/model.safetensors" ] && return 0
  train "$@"
  [ -f "$dir/model.safetensors" ] ||
    { echo "train-default.sh: $dir stopped before its last step; run again to continue" >&2; exit 0; }
}
# scored TXT COMMAND...: an evaluation, its table into TXT and onto the terminal; a failure stops
# the script with its status (a pipe into tee would hide it)
scored() {
  txt=$1
  shift
  "$@" > "$txt" || { status=$?; cat "$txt"; exit "$status"; }
  cat "$txt"
}
mkdir -p "$out"
awk -F '\t' 'NR == 1 || $2 ~ /^(en|de|fr|es|it|pt)$/' "$manifest" > "$out/manifest-stage0.tsv"
stage "$out/stage0" --data "$out/manifest-stage0.tsv" --audio-dir "$corpus" --task asr --no-specaug \
  --full-context 1 --steps 400 --warmup 100 --valid-every 0
stage "$out/stage1" --init "$out/stage0/model.safetensors" --data "$manifest" --task asr --no-specaug --full-context 1 \
  --steps "$steps1" --warmup 100 --valid-every "$steps1"
stage "$out" --init "$out/stage1/model.safetensors" --data "$manifest" --steps "$steps" --lr 1e-3 --warmup 200 --no-specaug \
  --eq-prob 0.5 --eq-points "$eq_points" --eq-db "$eq_db" --warp-prob 0.5 --valid-every 1000 --valid-items 300
model=$out/model.safetensors
# stage 2's weights in F16, half the size: models/default.safetensors until session 9, and the
# file stage 4 starts from
"$trainer" export --checkpoint "$model" --out "$out/default.safetensors" --dtype f16
st_corpus=$corpus-st
if [ "$bundled" = 1 ]; then
  # (make-lms.sh names the catalogs it lacks)
  for needed in "$st_corpus" "$corpus-en" "$corpus-fr"; do
    [ -f "$needed/manifest.tsv" ] ||
      { echo "train-default.sh: BUNDLED=1 needs $needed/manifest.tsv (models/make-corpus.sh)" >&2; exit 1; }
  done
  # the text-pair corpus OUT/text-st (every gettext message of the five languages with an English
  # source, split 8:1:1 as in ./corpus and CORPUS-st, so no test sentence is trained on), which
  # stages 4-14 learn translation from: models/make-lms.sh builds it (and LMs for stage 2's
  # vocabulary, a minute, which the scores do not use: those of stage 14 follow it)
  [ -f "$out/stage14/model.safetensors" ] ||
    MSLAM_BUILD_DIR=$builddir "$root/models/make-lms.sh" "$out/default.safetensors" "$corpus" "$out"
  text=$out/text-st
  stage "$out/stage4" --init "$out/default.safetensors" --data "$st_corpus/manifest.tsv" \
    --valid "$st_corpus/manifest.tsv" --task st --freeze-encoder --cache-encoder --no-specaug --decoder-layers 4 \
    --steps "$steps4" --batch-size 32 --text-data "$text/text.tsv" --text-max-chars 120 --text-batch 32 --lr 1e-3 \
    --warmup 300 --valid-every 2500 --valid-items 300
  # text_only_stage DIR INIT OPTIONS...: the decoder on 64 text pairs a step (the 2 utterances a
  # step are throwaway, weight 0)
  text_only_stage() {
    dir=$1 init=$2
    shift 2
    stage "$dir" --init "$init" --data "$text/manifest.tsv" --audio-dir "$text" --task st --no-specaug \
      --decoder-layers 4 --batch-size 2 --st-weight 0 --text-data "$text/text.tsv" --text-max-chars 120 \
      --text-batch 64 --valid-every 0 "$@"
  }
  text_only_stage "$out/stage5" "$out/stage4/model.safetensors" --freeze-encoder --steps "$steps5" --lr 5e-4 \
    --warmup 200 --save-every 1000
  text_only_stage "$out/stage6" "$out/stage5/model.safetensors" --freeze-encoder --steps "$steps6" --lr 3e-4 \
    --warmup 100 --seed 2 --save-every 500
  # the text pairs' gradient reaches the text embedding and the shared layers
  text_only_stage "$out/stage7" "$out/stage6/model.safetensors" --ctc-weight 0 --lid-weight 0 --steps "$steps7" \
    --lr 3e-4 --warmup 100 --save-every 500
  # joint_stage RUN DIR INIT OPTIONS...: 8 utterances of CORPUS (CTC and LID, equaliser and warp)
  # and 64 text pairs a step, the whole model trained; RUN is stage or train; OPTIONS may add
  # --data (each manifest's audio in its own folder)
  joint_stage() {
    run=$1 dir=$2 init=$3
    shift 3
    "$run" "$dir" --init "$init" --data "$manifest" --task multi --no-specaug --eq-prob 0.5 \
      --warp-prob 0.5 --decoder-layers 4 --batch-size 8 --st-weight 0 --text-data "$text/text.tsv" \
      --text-max-chars 120 --text-batch 64 --valid-every 0 "$@"
  }
  joint_stage stage "$out/stage8" "$out/stage7/model.safetensors" --steps "$steps8" --lr 3e-4 --warmup 100 \
    --save-every 500
  # the same at a lower peak rate (session 11): a 6000-step cosine stopped at step 850, then a new
  # 2800-step cosine from that checkpoint with another seed
  checkpoint9=$out/stage9/ckpt-$(printf %08d "$stop9").safetensors
  if [ ! -f "$out/stage10/model.safetensors" ] && [ ! -f "$checkpoint9" ]; then
    joint_stage train "$out/stage9" "$out/stage8/model.safetensors" --steps "$steps9" --stop-at "$stop9" --lr 2e-4 \
      --warmup 100 --save-every 250
    [ -f "$checkpoint9" ] ||
      { echo "train-default.sh: $out/stage9 stopped before step $stop9; run again to continue" >&2; exit 0; }
  fi
  # export_f16 DIR: DIR/f16.safetensors, the stage's model in F16, which the next stage starts from (as
  # the bundled files it reproduces were); written again when the stage was trained anew
  export_f16() {
    [ "$1/f16.safetensors" -nt "$1/model.safetensors" ] ||
      "$trainer" export --checkpoint "$1/model.safetensors" --out "$1/f16.safetensors" --dtype f16
  }
  joint_stage stage "$out/stage10" "$checkpoint9" --steps "$steps10" --lr 2e-4 --warmup 50 --seed 11 \
    --save-every 250
  export_f16 "$out/stage10"
  joint_stage stage "$out/stage11" "$out/stage10/f16.safetensors" --steps "$steps11" --lr 1e-4 --warmup 50 --seed 12 \
    --save-every 200 --gain-prob 0.5 --gain-db 40
  export_f16 "$out/stage11"
  joint_stage stage "$out/stage12" "$out/stage11/f16.safetensors" --steps "$steps12" --lr 1e-4 --warmup 50 --seed 13 \
    --save-every 200 --gain-prob 0.5 --gain-db 40 --noise-prob 0.15
  export_f16 "$out/stage12"
  joint_stage stage "$out/stage13" "$out/stage12/f16.safetensors" --data "$corpus-en/manifest.tsv" \
    --data-weight 1 --data-weight 1.5 --steps "$steps13" --lr 1e-4 --warmup 50 --seed 14 --save-every 250 \
    --gain-prob 0.5 --gain-db 40 --noise-prob 0.15
  export_f16 "$out/stage13"
  joint_stage stage "$out/stage14" "$out/stage13/f16.safetensors" --data "$corpus-en/manifest.tsv" \
    --data "$corpus-fr/manifest.tsv" --data-weight 1 --data-weight 1.5 --data-weight 1.5 --steps "$steps14" \
    --lr 1e-4 --warmup 50 --seed 15 --save-every 250 --gain-prob 0.5 --gain-db 40 --noise-prob 0.15
  model=$out/stage14/model.safetensors
  # the LMs of the scores below, for stage 14's vocabulary: the joint stages (8-14) take in the
  # characters of their data that it lacks (session 42's stage 11 took 13 of the rebuilt corpus),
  # and an LM of another vocabulary is refused; the text pairs are kept
  MSLAM_BUILD_DIR=$builddir "$root/models/make-lms.sh" "$model" "$corpus" "$out"
elif [ "$stage3" = 1 ] && [ -f "$st_corpus/manifest.tsv" ]; then
  stage "$out/stage3" --init "$out/model.safetensors" --data "$st_corpus/manifest.tsv" --valid "$st_corpus/manifest.tsv" \
    --task st --freeze-encoder --cache-encoder --decoder-layers 4 --steps "$steps3" --batch-size 32 --lr 1e-3 \
    --warmup 300 --no-specaug --valid-every 2500 --valid-items 300
  model=$out/stage3/model.safetensors
elif [ "$stage3" = 1 ]; then
  echo "train-default.sh: no $st_corpus/manifest.tsv (models/make-corpus.sh makes it): no stage 3" >&2
fi

# the character LM of the corpus's text (train split; the dev and test transcripts held out): a few
# seconds, and the CTC beam and LID of the scores below use it (the greedy columns do not). With
# BUNDLED=1 make-lms.sh built it above, with the text pairs' sources too (session 12: test CER of
# es it pt ca ro 9.35 -> 7.75 %, of all 50 12.90 -> 12.74 %) and more English and French (sessions 44, 45)
# Without BUNDLED=1, make-lms.sh builds it the same way (with the translation LM and memory) when
# models/make-corpus.sh's catalogs are there; otherwise the corpus's text alone makes it.
if [ "$bundled" != 1 ] && [ -d "$corpus-catalogs/usr/share/locale" ] && [ -d "$corpus-st-catalogs/usr/share/locale" ]; then
  MSLAM_BUILD_DIR=$builddir "$root/models/make-lms.sh" "$model" "$corpus" "$out"
elif [ "$bundled" != 1 ]; then
  "$trainer" lm --model "$model" --text "$corpus/text.tsv" --text "$manifest" \
    --holdout "$manifest" --order 6 --prune 2 --out "$out/lm.safetensors"
fi
scored "$out/eval-test.txt" \
  "$trainer" eval --model "$model" --data "$manifest" --split test --threads "$threads" \
  --lid-seconds 4 --ctc-beam 32 --lm "$out/lm.safetensors" --json "$out/eval-test.json"
# translation into English from the five languages of CORPUS-st, on the test split of each corpus
# (from what the model's decoder reads: the speech after stage 3, the transcript, with the LM,
# after stages 5-14)
awk -F '\t' 'NR == 1 || $2 ~ /^(es|it|pt|ca|ro)$/' "$manifest" > "$out/manifest-st-langs.tsv"
if [ -f "$st_corpus/manifest.tsv" ]; then
  scored "$out/eval-test-st.txt" \
    "$trainer" eval --model "$model" --data "$out/manifest-st-langs.tsv" --audio-dir "$corpus" --split test \
    --threads "$threads" --tasks st --ctc-beam 32 --lm "$out/lm.safetensors" --json "$out/eval-test-st.json"
  scored "$out/eval-test-st-corpus.txt" \
    "$trainer" eval --model "$model" --data "$st_corpus/manifest.tsv" --split test --threads "$threads" --tasks st \
    --modes offline --max-items 2000 --ctc-beam 32 --lm "$out/lm.safetensors" --json "$out/eval-test-st-corpus.json"
fi
if [ "$bundled" = 1 ]; then
  scored "$out/eval-test-text-pairs.txt" \
    "$trainer" eval --model "$model" --data "$text/text.tsv" --tasks st --modes offline --st-input text \
    --threads "$threads" --max-items 2000 --json "$out/eval-test-text-pairs.json"
  # the LM of English translations (make-lms.sh, above) fused into the decoder's beam at the
  # default weight: the cascade and the text pairs again with it
  scored "$out/eval-test-st-tlm.txt" \
    "$trainer" eval --model "$model" --data "$out/manifest-st-langs.tsv" --audio-dir "$corpus" --split test \
    --threads "$threads" --tasks st --modes offline --ctc-beam 32 --lm "$out/lm.safetensors" \
    --translation-lm "$out/translation-lm.safetensors" --json "$out/eval-test-st-tlm.json"
  scored "$out/eval-test-text-pairs-tlm.txt" \
    "$trainer" eval --model "$model" --data "$text/text.tsv" --tasks st --modes offline --st-input text \
    --threads "$threads" --max-items 2000 --translation-lm "$out/translation-lm.safetensors" \
    --json "$out/eval-test-text-pairs-tlm.json"
fi
# translation through the translation memory (make-lms.sh, which builds the translation LM with
# it): each test utterance's CTC transcript (beam and LM) is looked up, and the decoder
# translates what the memory does not know; from es it pt ca ro, and from all 49 languages with
# a translation
if [ -f "$out/translation-memory.safetensors" ]; then
  for langs in 5 49; do
    data=$manifest
    [ $langs = 5 ] && data=$out/manifest-st-langs.tsv
    scored "$out/eval-test-st$langs-memory.txt" \
      "$trainer" eval --model "$model" --data "$data" --audio-dir "$corpus" --split test --threads "$threads" \
      --tasks st --modes offline --ctc-beam 32 --lm "$out/lm.safetensors" \
      --translation-lm "$out/translation-lm.safetensors" \
      --translation-memory "$out/translation-memory.safetensors" --json "$out/eval-test-st$langs-memory.json"
  done
fi
# the last stage's weights in F16: with BUNDLED=1 stage 14's, the bundled model since session 45
if [ "$bundled" = 1 ]; then
  "$trainer" export --checkpoint "$model" --out "$out/bundled.safetensors" --dtype f16
elif [ "$model" != "$out/model.safetensors" ]; then
  "$trainer" export --checkpoint "$model" --out "$out/stage3/translate.safetensors" --dtype f16
fi
if command -v gnuplot >/dev/null; then
  for s in 0 1 3 4 5 6 7 8 9 10 11 12 13 14; do
    if [ -f "$out/stage$s/train.jsonl" ]; then
      "$root/pipelines/plot-training.sh" "$out/stage$s/train.jsonl" "$out/curves-stage$s.png"
    fi
  done
  "$root/pipelines/plot-training.sh" "$out/train.jsonl" "$out/curves.png"
else
  echo "train-default.sh: gnuplot not installed; no curves (tests/install-deps.sh plot)" >&2
fi
f16="$out/default.safetensors (stage 2)"
[ "$bundled" = 1 ] && f16="$f16, $out/bundled.safetensors (stage 14)"
[ -f "$out/stage3/translate.safetensors" ] && [ "$bundled" != 1 ] && f16="$f16, $out/stage3/translate.safetensors (stage 3)"
lms="LM: $out/lm.safetensors"
[ -f "$out/translation-memory.safetensors" ] &&
  lms="LMs: $out/lm.safetensors, $out/translation-lm.safetensors (translations); translation memory: $out/translation-memory.safetensors"
echo "model: $model (F16: $f16), $lms; scores: $out/eval-test.txt, $out/eval-test.json"
