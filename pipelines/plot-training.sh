#!/bin/sh
# Draws the curves of a training run from its JSONL log (mslam-trainer train writes
# OUT/train.jsonl) into a PNG with gnuplot: the losses (total, CTC, LID, translation from speech
# and from text pairs; with --task pretrain, w2v-BERT's, SpanBERT's and the codes' perplexity and
# prediction accuracies) and the learning rate against the step, and, when the run validated,
# CER, LID accuracy and BLEU.
# The losses of tasks the run did not train (logged as 0) are left out of the plot.
#   pipelines/plot-training.sh OUT/train.jsonl [curves.png]
#   pipelines/plot-training.sh OUT [curves.png]     (the run's folder: its train.jsonl)
# Needs gnuplot: installed when missing (packages.txt group plot, gnuplot-nox; with sudo when not root).
set -eu
usage="usage: plot-training.sh train.jsonl|RUN_FOLDER [curves.png]"
case ${1:-} in
  -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;;
  "") echo "$usage" >&2; exit 2 ;;
esac
log=$1
if [ -d "$log" ]; then
  # a run's folder (train --out) holds its log
  [ -f "$log/train.jsonl" ] || {
    echo "plot-training.sh: $log is a folder without train.jsonl (give a training run's folder, train --out, or its train.jsonl)" >&2
    exit 1
  }
  log=${log%/}/train.jsonl
  echo "plot-training.sh: reading $log" >&2
fi
png=${2:-$(dirname -- "$log")/curves.png}
{ [ -f "$log" ] && [ -r "$log" ]; } || { echo "plot-training.sh: cannot read $log" >&2; exit 1; }
if ! { [ -d "$(dirname -- "$png")" ] && [ -w "$(dirname -- "$png")" ]; }; then
  echo "plot-training.sh: cannot write in $(dirname -- "$png")" >&2
  exit 1
fi
if ! command -v gnuplot >/dev/null; then
  echo "plot-training.sh: gnuplot is not installed: installing packages.txt's group plot" >&2
  "$(dirname "$0")/../tests/install-deps.sh" plot
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# JSONL -> whitespace columns; a resumed run may log a step twice: the last record wins
awk -v train="$tmp/train.dat" -v valid="$tmp/valid.dat" '
  function get(name,   m) {
    if (match($0, "\"" name "\":[^,}]*")) { m = substr($0, RSTART + length(name) + 3, RLENGTH - length(name) - 3); return m == "null" ? "NaN" : m }
    return "NaN"
  }
  function pct(x) { return x == "NaN" ? x : 100 * x }
  /"valid_/ { v[get("step")] = get("step") " " pct(get("valid_cer")) " " pct(get("valid_lid_acc")) " " get("valid_bleu"); next }
  /"loss"/  { t[get("step")] = get("step") " " get("loss") " " get("ctc") " " get("lid") " " get("st") " " get("lr") " " get("audio_s_per_s") " " get("elapsed_s") " " get("mt") " " get("w2v") " " get("diversity") " " get("mlm") " " get("spanbert") " " get("perplexity") " " pct(get("mlm_acc")) " " pct(get("spanbert_acc")) }
  END {
    for (s in t) print t[s] > train
    for (s in v) print v[s] > valid
  }' "$log"
[ -s "$tmp/train.dat" ] || { echo "plot-training.sh: no training records in $log" >&2; exit 1; }
sort -n "$tmp/train.dat" -o "$tmp/train.dat"
touch "$tmp/valid.dat"
sort -n "$tmp/valid.dat" -o "$tmp/valid.dat"
# which scores were measured (a task the run did not train has none): column $1 of $2 (valid.dat)
# not NaN, and with $3 = nonzero not 0 either
has() {
  awk -v c="$1" -v nonzero="${3:-}" '$c != "NaN" && (nonzero == "" || $c != 0) { found = 1 } END { exit !found }' \
    "${2:-$tmp/valid.dat}"
}
# the losses of the tasks trained: train logs 0 for the others ("ctc":0 of an st-only run), which
# would stand in the legend without a line (the y axis is logarithmic)
task_loss=""
has 3 "$tmp/train.dat" nonzero && task_loss="$task_loss, \"\" using 1:3 with lines title \"CTC (per character)\""
has 4 "$tmp/train.dat" nonzero && task_loss="$task_loss, \"\" using 1:4 with lines title \"LID (per utterance)\""
has 5 "$tmp/train.dat" nonzero && task_loss="$task_loss, \"\" using 1:5 with lines title \"translation (per token)\""
# the text-pair translation loss, only for runs with --text-data (train logs "mt":0 without)
text_loss=""
has 9 "$tmp/train.dat" nonzero && text_loss=", \"\" using 1:9 with lines title \"text translation (per token)\""
pretrain=0
if has 10 "$tmp/train.dat"; then
  pretrain=1
  text_loss="$text_loss, \"\" using 1:10 with lines title \"w2v-BERT contrastive (per masked frame)\", \"\" using 1:11 with lines title \"codebook diversity\", \"\" using 1:12 with lines title \"w2v-BERT code prediction (per masked frame)\", \"\" using 1:13 with lines title \"SpanBERT (per masked character)\""
fi
rates="" bleu=0
has 2 && rates="\"$tmp/valid.dat\" using 1:2 with linespoints lw 2 title \"CER (mean over languages)\""
if has 3; then
  [ -n "$rates" ] && rates="$rates, "
  rates="$rates\"$tmp/valid.dat\" using 1:3 with linespoints lw 2 title \"LID accuracy\""
fi
has 4 && bleu=1
rows=1
{ [ -n "$rates" ] || [ $bleu = 1 ] || [ $pretrain = 1 ]; } && rows=2

gnuplot <<GP
set terminal png size 1200,$((rows * 450)) font ",10"
set output "$png"
set datafile missing "NaN"
set grid
set key top right
set multiplot layout $rows,2 title "$(basename "$(dirname -- "$log")")"
set title "training loss"
set xlabel "step"
set logscale y
plot "$tmp/train.dat" using 1:2 with lines lw 2 title "total"$task_loss$text_loss
unset logscale y
set title "learning rate and throughput"
set ylabel "learning rate"
set y2label "audio-seconds per second"
set ytics nomirror
set y2tics
plot "$tmp/train.dat" using 1:6 with lines lw 2 title "learning rate", \
     "" using 1:7 axes x1y2 with lines title "audio-s/s"
unset y2label; unset y2tics; set ytics mirror
set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05
$( [ -n "$rates" ] && printf 'set title "validation: CER and LID accuracy"\nset ylabel "%%"\nplot %s\n' "$rates" )
$( [ $bleu = 1 ] && printf 'set title "validation: BLEU (into English)"\nset ylabel "BLEU"\nplot "%s" using 1:4 with linespoints lw 2 title "BLEU"\n' "$tmp/valid.dat" )
$( [ $pretrain = 1 ] && printf 'set offsets 0, 0, 0, 0\nset title "pre-training: codes and predictions"\nset ylabel "code perplexity"\nset y2label "accuracy (%%)"\nset ytics nomirror\nset y2tics\nplot "%s" using 1:14 with lines lw 2 title "perplexity of the codes in a micro-batch", "" using 1:15 axes x1y2 with lines title "code prediction accuracy", "" using 1:16 axes x1y2 with lines title "SpanBERT accuracy"\n' "$tmp/train.dat" )
unset multiplot
GP
echo "$png"
