#!/bin/sh
# Session 25: what pre-training gives, measured by a linear CTC probe (probe.sh) as well as by
# session 24's fine-tuning (tune.sh). The default model's architecture pre-trained on the default
# corpus (w2v-BERT or BEST-RQ on the 20,000 train utterances, SpanBERT on the transcripts of
# corpus/text.tsv, no CTC), 4000-step schedules, checkpoints every 400 steps. Run from the
# repository root after models/make-corpus.sh (about 3.5 hours on 2 cores, one job at a time;
# the session ran two probes or fine-tunings side by side, a thread each); OUT defaults to s25.
#   MSLAM_BUILD_DIR=build-dev sh models/results/session25/pretrain.sh [OUT]
set -eu
out=${1:-s25}
here=$(dirname "$0")
trainer=${MSLAM_BUILD_DIR:-build}/trainer/mslam-trainer
mkdir -p "$out"
pretrain() { # NAME FILE-IT-LEAVES [options]
  name=$1 leaves=$2
  shift 2
  [ -f "$out/$name/$leaves" ] ||
    "$trainer" train --config models/default-train.conf --task pretrain --ctc-weight 0 --data corpus/manifest.tsv \
      --text-data corpus/text.tsv --text-max-chars 120 --out "$out/$name" --steps 4000 --warmup 300 --lr 1e-3 \
      --no-specaug --valid-every 0 --save-every 400 --keep 10 --log-every 20 --threads 2 "$@" > "$out/$name.log" 2>&1
}
# the random encoder the probes compare with: the same model, vocabulary and statistics, step 0
[ -f "$out/random/model.safetensors" ] ||
  "$trainer" train --config models/default-train.conf --task pretrain --ctc-weight 0 --data corpus/manifest.tsv \
    --text-data corpus/text.tsv --text-max-chars 120 --out "$out/random" --steps 1 --lr 0 --lr-min 0 --warmup 0 \
    --valid-every 0 --threads 2 > "$out/random.log" 2>&1
# w2v-BERT, stopped at step 1238 (--stop-at 1200 gives the same checkpoint at 1200)
pretrain pt ckpt-00001200.safetensors --stop-at 1200
# BEST-RQ's targets, 1024 codes
pretrain rq model.safetensors --quantizer random --codes 1024

# the linear probes (probe.sh: OUT MODEL NAME [SHARED [SPEECH]]); the random encoder's top is
# "random", its speech layers "random-speech", its subsampler "random-sub"
probe() { sh "$here/probe.sh" "$out" "$@"; }
probe "$out/random/model.safetensors" random
probe "$out/random/model.safetensors" random-speech 0
probe "$out/random/model.safetensors" random-sub 0 0
probe "$out/pt/ckpt-00000400.safetensors" pt400 6
probe "$out/pt/ckpt-00000400.safetensors" pt400-speech 0
probe "$out/pt/ckpt-00000400.safetensors" pt400-sub 0 0
for step in 800 1200; do
  probe "$out/pt/ckpt-0000$(printf %04d $step).safetensors" pt$step-top 6
  probe "$out/pt/ckpt-0000$(printf %04d $step).safetensors" pt$step-speech 0
done
probe "$out/rq/ckpt-00000800.safetensors" rq800-top 6
probe "$out/rq/ckpt-00000800.safetensors" rq800-speech 0
probe "$out/rq/model.safetensors" rq4000-top 6
probe "$out/rq/model.safetensors" rq4000-speech 0
# the same over the probe data's 103 characters
for model in random rq; do
  VOCAB=data probe "$out/$model/model.safetensors" "$(echo $model | sed 's/^rq$/rq4000/')-v-top" 6
  VOCAB=data probe "$out/$model/model.safetensors" "$(echo $model | sed 's/^rq$/rq4000/')-v-speech" 0
done

# the fine-tunings (tune.sh: OUT MODEL NAME [options]); "-v103": over the 103 characters of the
# fine-tuning data (the scratch model's vocabulary), made by revocab.py before --vocab data existed
tune() { sh "$here/tune.sh" "$out" "$@"; }
tune - scratch
tune "$out/rq/model.safetensors" rq4000
tune "$out/random/model.safetensors" random
python3 "$here/revocab.py" "$out/random/model.safetensors" "$out/tune-scratch/model.safetensors" "$out/random-v103.safetensors"
python3 "$here/revocab.py" "$out/rq/model.safetensors" "$out/tune-scratch/model.safetensors" "$out/rq4000-v103.safetensors"
python3 "$here/revocab.py" "$out/pt/ckpt-00001200.safetensors" "$out/tune-scratch/model.safetensors" "$out/w2v1200-v103.safetensors"
tune "$out/random-v103.safetensors" random-v103
tune "$out/rq4000-v103.safetensors" rq4000-v103
tune "$out/w2v1200-v103.safetensors" w2v1200-v103
tune "$out/rq4000-v103.safetensors" rq4000-v103-1500 --steps 1500
tune "$out/rq/model.safetensors" rq4000-vocab-data --vocab data
tune - scratch-1500 --steps 1500
# BEST-RQ's subsampler and speech layers under the random model's shared layers and text embedding
python3 "$here/splice.py" "$out/rq/model.safetensors" "$out/random/model.safetensors" "$out/rq4000-speech-only.safetensors" \
  shared_layers. text.
tune "$out/rq4000-speech-only.safetensors" rq4000-speech-only --vocab data
