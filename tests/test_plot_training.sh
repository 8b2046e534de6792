#!/bin/sh
# pipelines/plot-training.sh without gnuplot's drawing: a stand-in gnuplot on PATH keeps the
# script it is given, which says what would be drawn.
# - a run's folder is read as its train.jsonl (and says so); a folder without one is an error
#   naming it, not awk's "read error (Is a directory)";
# - the losses of tasks the run did not train (logged as 0) are left out of the legend.
# Usage: test_plot_training.sh SOURCE_ROOT
set -u
root=${1:?usage: test_plot_training.sh SOURCE_ROOT}
plot="$root/pipelines/plot-training.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

mkdir "$tmp/bin" "$tmp/run" "$tmp/st-run" "$tmp/empty"
cat >"$tmp/bin/gnuplot" <<'GP'
#!/bin/sh
cat >"$GNUPLOT_SCRIPT"
GP
chmod +x "$tmp/bin/gnuplot"
PATH="$tmp/bin:$PATH"
export PATH
GNUPLOT_SCRIPT="$tmp/script.gp"
export GNUPLOT_SCRIPT

# records as mslam-trainer train writes them: a multi-task run, and one of --task st alone
for step in 5 10; do
  echo "{\"step\":$step,\"epoch\":0,\"loss\":9.7,\"ctc\":4.6,\"lid\":0.9,\"st\":4.2,\"mt\":0,\"lr\":0.001,\"grad_norm\":12,\"audio_s\":65,\"audio_s_per_s\":92,\"elapsed_s\":0.7,\"skipped_steps\":0}"
done >"$tmp/run/train.jsonl"
for step in 5 10; do
  echo "{\"step\":$step,\"epoch\":1,\"loss\":4.4,\"ctc\":0,\"lid\":0,\"st\":4.4,\"mt\":0,\"lr\":0.001,\"grad_norm\":3,\"audio_s\":58,\"audio_s_per_s\":487,\"elapsed_s\":0.1,\"skipped_steps\":0}"
done >"$tmp/st-run/train.jsonl"

# a run's folder: its train.jsonl, the PNG beside it
if ! sh "$plot" "$tmp/run" >"$tmp/out" 2>"$tmp/err"; then
  fail "a run's folder: $(cat "$tmp/err")"
fi
grep -q "reading $tmp/run/train.jsonl" "$tmp/err" || fail "a run's folder: does not say it reads its train.jsonl: $(cat "$tmp/err")"
grep -q "^$tmp/run/curves.png\$" "$tmp/out" || fail "a run's folder: the PNG is not in it: $(cat "$tmp/out")"
for series in '"CTC (per character)"' '"LID (per utterance)"' '"translation (per token)"'; do
  grep -q "title $series" "$tmp/script.gp" || fail "the multi-task run's plot lacks $series"
done

# a folder without train.jsonl: an error saying so
sh "$plot" "$tmp/empty" >"$tmp/out" 2>"$tmp/err"
status=$?
[ $status = 1 ] || fail "a folder without train.jsonl: exit status $status, not 1"
grep -q "is a folder without train.jsonl" "$tmp/err" || fail "a folder without train.jsonl: $(cat "$tmp/err")"
grep -q "read error" "$tmp/err" && fail "a folder without train.jsonl: awk's error: $(cat "$tmp/err")"

# no argument: the usage on standard error, status 2 (the shell's "1: usage" had said it);
# --help: the script's description, gnuplot's install included
sh "$plot" >"$tmp/out" 2>"$tmp/err"
status=$?
{ [ $status = 2 ] && grep -q "^usage: plot-training.sh" "$tmp/err"; } || fail "no argument: status $status, $(cat "$tmp/err")"
sh "$plot" --help >"$tmp/out" 2>&1 && grep -q "^Needs gnuplot: installed when missing" "$tmp/out" ||
  fail "--help: $(cat "$tmp/out")"

# --task st alone: no CTC and no LID series, the translation's there
rm -f "$tmp/script.gp"
sh "$plot" "$tmp/st-run/train.jsonl" "$tmp/st.png" >/dev/null 2>"$tmp/err" || fail "an st run's log: $(cat "$tmp/err")"
grep -q 'title "translation (per token)"' "$tmp/script.gp" 2>/dev/null || fail "the st run's plot lacks its translation loss"
grep -q -e 'title "CTC' -e 'title "LID (per' "$tmp/script.gp" 2>/dev/null && fail "the st run's plot has CTC or LID series without points"

[ $failures = 0 ] && echo "test_plot_training: ok"
exit $((failures > 0))
