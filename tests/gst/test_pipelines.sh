#!/bin/sh
# Runs every pipelines/*.sh on a synthesised talk (two utterances) with a model whose CTC head
# follows the speech's loudness (tests/gst/gsttestutil.h), and checks what each one writes.
# The elements' messages and the tag the muxer wrote back are read with gst-launch-1.0 -m / -t.
# Usage (meson runs it): test_pipelines.sh SOURCE_DIR MAKE_FIXTURES CAPTIONS_APP SLOW_MAIN_LOOP
set -eu
src=$1 make_fixtures=$2 app=$3 slow_main_loop=$4
work=$(mktemp -d)
fail() { echo "FAIL: $*" >&2; exit 1; }

# A watchdog: the whole script takes seconds, yet twice (sessions 22 and 25, not reproduced
# since in ~60 runs alone, under load, after registry rebuilds) a run of the full suite hung
# here until meson's 600 s. After WATCHDOG_S it names the step that is running (`step`), prints
# the threads' stacks of every process still running under this script when gdb is there, and
# ends them all.
watchdog_s=${WATCHDOG_S:-240}
step() { echo "$*" > "$work/step"; }
# descendants PID SKIP: the processes under PID, but for SKIP's (the watchdog's own)
descendants() {
  for child in $(ps -o pid= --ppid "$1"); do
    [ "$child" = "$2" ] && continue
    echo "$child"
    descendants "$child" "$2"
  done
}
watchdog() {
  # (a process gone by the time it is looked at, or a stack without frames, must not end it)
  set +e
  self=$(sh -c 'echo $PPID')
  sleep "$watchdog_s" > /dev/null 2>&1 &
  sleeper=$!
  trap 'kill $sleeper 2> /dev/null; exit 0' TERM
  wait $sleeper
  echo "FAIL: $(cat "$work/step") did not finish in $watchdog_s s" >&2
  stuck=$(descendants "$1" "$self")
  for pid in $stuck; do
    echo "--- $pid: $(ps -o args= -p "$pid")" >&2
    # the shells' stacks tell nothing; frames without a function name neither
    case "$(ps -o comm= -p "$pid")" in sh | dash | bash | timeout | perl | sleep) continue ;; esac
    if command -v gdb > /dev/null; then
      gdb -batch -p "$pid" -ex "thread apply all bt" 2> /dev/null | grep -E "^Thread|^#.* in [A-Za-z_]" >&2
    fi
  done
  # what the step's runs said (gst-launch-1.0 prints an error it then loses: see file-common.sh)
  for err in "$work"/*.err "$work"/err*.txt; do
    [ -s "$err" ] && { echo "--- $err:" >&2; tail -n 5 "$err" >&2; }
  done
  # KILL: the scripts' gst-launch-1.0 ignores SIGTERM, and a hung one never ends on the SIGINT
  # the scripts pass on for it
  # shellcheck disable=SC2086 # one pid a word
  kill -KILL $stuck 2> /dev/null
  kill "$1" 2> /dev/null
}
watchdog $$ &
watchdog_pid=$!
trap 'kill $watchdog_pid 2> /dev/null || true; rm -rf "$work"' EXIT
trap 'exit 1' TERM
step "the fixtures"
"$make_fixtures" "$work"
export MSLAM_MODEL="$work/loud.safetensors"
talk="$work/talk.wav"

step file-to-srt
# an SRT with the two captions, in order
"$src/pipelines/file-to-srt.sh" "$talk" "$work/talk.srt"
grep -q "^2$" "$work/talk.srt" || fail "file-to-srt: no second caption: $(cat "$work/talk.srt")"
grep -q "^3$" "$work/talk.srt" && fail "file-to-srt: more than two captions"
grep -Eq "^00:00:0[0-9],[0-9]{3} --> 00:00:0[0-9],[0-9]{3}$" "$work/talk.srt" || fail "file-to-srt: no times"
# a run that fails leaves an existing output as it was: a missing input (or IN and OUT swapped),
# a bad property, a value out of its range (GLib's warning; the run went on with the default)
cp "$work/talk.srt" "$work/kept.srt"
for args in "$work/missing.wav $work/kept.srt" "$talk $work/kept.srt model=$work/missing.safetensors" \
  "$talk $work/kept.srt beam-size=0"; do
  # shellcheck disable=SC2086 # the arguments are split on purpose (no spaces in $work)
  "$src/pipelines/file-to-srt.sh" $args > /dev/null 2> "$work/err.txt" && fail "file-to-srt: $args succeeded"
  grep -q "no audio stream" "$work/err.txt" && fail "file-to-srt: $args: said there is no audio stream"
  case $args in *=0) grep -q "a property's value above is out of its range" "$work/err.txt" ||
    fail "file-to-srt: $args: $(cat "$work/err.txt")" ;; esac
  cmp -s "$work/talk.srt" "$work/kept.srt" || fail "file-to-srt: $args changed the existing output"
  [ ! -e "$work/kept.srt.part" ] || fail "file-to-srt: $args left kept.srt.part"
done
cp "$talk" "$work/talk-copy.wav"
"$src/pipelines/file-to-srt.sh" "$work/kept.srt" "$talk" > /dev/null 2> "$work/swapped.err" && fail "file-to-srt: captioned an SRT"
grep -q "holds subtitles" "$work/swapped.err" || fail "file-to-srt: IN and OUT swapped: $(cat "$work/swapped.err")"
cmp -s "$work/talk-copy.wav" "$talk" || fail "file-to-srt: IN and OUT swapped changed the audio"
# IN that is not media, refused before GStreamer reads it (gst-launch-1.0 hung now and then on
# the error of decodebin's typefinding), saying what it is: empty, text that typefinds as such,
# bytes that typefind as nothing
: > "$work/empty.wav"
echo "not audio" > "$work/words.wav"
seq 1 2000 > "$work/numbers.wav"
for in in empty.wav:"is empty" words.wav:"not audio or video that GStreamer recognises" numbers.wav:"holds text/plain"; do
  timeout 20 "$src/pipelines/file-to-srt.sh" "$work/${in%%:*}" "$work/kept.srt" > /dev/null 2> "$work/err.txt" &&
    fail "file-to-srt: captioned ${in%%:*}"
  grep -q "${in#*:}" "$work/err.txt" || fail "file-to-srt: ${in%%:*}: $(cat "$work/err.txt")"
  cmp -s "$work/talk.srt" "$work/kept.srt" || fail "file-to-srt: ${in%%:*} changed the existing output"
done
# a video without audio: GStreamer's run fails ("not-linked"), and the script says why
gst-launch-1.0 -q videotestsrc num-buffers=10 ! video/x-raw,width=64,height=48 ! vp8enc ! webmmux ! \
  filesink location="$work/silent film.webm"
timeout 60 "$src/pipelines/file-to-srt.sh" "$work/silent film.webm" "$work/kept.srt" > /dev/null 2> "$work/err.txt" &&
  fail "file-to-srt: captioned a video without audio"
grep -q "silent film.webm holds video but has no audio stream" "$work/err.txt" ||
  fail "file-to-srt: a video without audio: $(cat "$work/err.txt")"
cmp -s "$work/talk.srt" "$work/kept.srt" || fail "file-to-srt: a video without audio changed the existing output"
# OUT that is IN itself (through another path), a folder or empty: refused, nothing changed
for out in "$work/../$(basename "$work")/talk-copy.wav" "$work" ""; do
  "$src/pipelines/file-to-srt.sh" "$work/talk-copy.wav" "$out" > /dev/null 2>&1 && fail "file-to-srt: OUT '$out' accepted"
done
cmp -s "$work/talk-copy.wav" "$talk" || fail "file-to-srt: OUT = IN changed the audio"
cp "$talk" "$work/x.srt.part" # OUT.part is IN: the run would write it while reading it
"$src/pipelines/file-to-srt.sh" "$work/x.srt.part" "$work/x.srt" > /dev/null 2>&1 && fail "file-to-srt: OUT.part = IN accepted"
cmp -s "$work/x.srt.part" "$talk" || fail "file-to-srt: OUT.part = IN changed the audio"
rm -f "$work/x.srt.part"
for part in "$work"/*.part "$work"/.part; do
  [ ! -e "$part" ] || fail "file-to-srt: a refused OUT left $part"
done
# names that gst-launch-1.0 would read otherwise: a backslash, a quote before a space, a leading '-'
for name in 'back\slash' 'a"b c' '-dash'; do
  cp "$talk" "$work/$name.wav"
  (cd "$work" && "$src/pipelines/file-to-srt.sh" "./$name.wav" "$name.srt") ||
    fail "file-to-srt: the file named '$name.wav'"
  grep -q "^2$" "$work/$name.srt" || fail "file-to-srt: '$name.srt' lacks the captions"
done
# Ctrl-C (SIGINT to the script's process group) or SIGTERM to the script alone: what was done is
# kept, and the script ends by the signal, not 0 (a loop over files stops). 5 minutes of silence
# take the bundled model seconds; the signal goes 1 s after OUT.part appears, once gst-launch-1.0
# turns SIGINT into EOS (before, SIGINT ends it: no output, a status all the same). For a
# terminal's foreground job perl gives the script its own process group and SIGINT back (a shell
# starts a background job with it ignored).
gst-launch-1.0 -q audiotestsrc wave=silence num-buffers=300 samplesperbuffer=16000 ! \
  audio/x-raw,rate=16000,channels=1,format=S16LE ! wavenc ! filesink location="$work/long.wav"
# Whether gst-launch-1.0 runs, writing $work/long.EXT.part (run_to opens OUT.part before it starts).
launch_runs() {
  for cmdline in /proc/[0-9]*/cmdline; do
    tr '\0' ' ' < "$cmdline" 2> /dev/null | grep -q "gst-launch-1.0 .*$work/long.$1.part" && return 0
  done
  return 1
}
# Starts SCRIPT (file-to-srt.sh) on long.wav into long.EXT (srt) in a process group of its own
# (its PID in $script) and waits until its gst-launch-1.0 runs.
start_long_run() {
  long_ext=${2:-srt}
  rm -f "$work/long.$long_ext" "$work/long.$long_ext.part"
  # shellcheck disable=SC2016 # perl's code, not the shell's
  perl -e 'setpgrp(0, 0); $SIG{INT} = "DEFAULT"; exec @ARGV or die' "$src/pipelines/${1:-file-to-srt.sh}" \
    "$work/long.wav" "$work/long.$long_ext" model="$src/models/default.safetensors" 2> "$work/err.txt" &
  script=$!
  while ! launch_runs "$long_ext" && kill -0 "$script" 2> /dev/null; do sleep 0.05; done
}
interrupt_check() { # SIGNAL group|script: INT to the group (Ctrl-C), TERM to the script (kill) or the group (timeout(1))
  start_long_run
  sleep 1
  target=$script
  [ "$2" = group ] && target=-$script
  if ! kill "-$1" "$target" 2> /dev/null; then
    wait "$script" || true
    echo "file-to-srt: the run ended before SIG$1 (a fast machine): not checked"
    return 0
  fi
  status=0
  wait "$script" 2> /dev/null || status=$? # (dash says "Terminated")
  [ "$status" -ne 0 ] || fail "file-to-srt: after SIG$1, it ended with status 0"
  [ -e "$work/long.srt" ] || fail "file-to-srt: after SIG$1, no output: $(cat "$work/err.txt")"
  grep -q "interrupted" "$work/err.txt" || fail "file-to-srt: SIG$1 without saying so: $(cat "$work/err.txt")"
  [ ! -e "$work/long.srt.part" ] || fail "file-to-srt: after SIG$1, long.srt.part is left"
}
interrupt_check INT group
interrupt_check TERM script
interrupt_check TERM group
# (not when SIGHUP came ignored, under nohup: a shell cannot trap a signal ignored on entry)
if [ $((0x$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status) & 1)) -eq 0 ]; then
  interrupt_check HUP group
else
  echo "file-to-srt: SIGHUP is ignored here (nohup): not checked"
fi
# a second run onto the same OUT while the first writes it: refused, the first's output its own
start_long_run
rc=0
"$src/pipelines/file-to-srt.sh" "$talk" "$work/long.srt" > /dev/null 2> "$work/err2.txt" || rc=$?
kill -INT "-$script" 2> /dev/null || true
wait "$script" 2> /dev/null || true
[ "$rc" -eq 1 ] && grep -q "long.srt.part is being written by another run" "$work/err2.txt" ||
  fail "file-to-srt: a second run onto the same OUT: rc $rc: $(cat "$work/err2.txt")"
! grep -q -- "-->" "$work/long.srt" 2> /dev/null || fail "file-to-srt: the second run's captions went into the first's OUT"
# an OUT that cannot be written (a folder of /proc): said, not taken for another run's
rc=0
"$src/pipelines/file-to-srt.sh" "$talk" /proc/mslam-test.srt 2> "$work/err.txt" || rc=$?
[ "$rc" -eq 1 ] && grep -q "cannot write /proc/mslam-test.srt.part" "$work/err.txt" ||
  fail "file-to-srt: an OUT in /proc: rc $rc: $(cat "$work/err.txt")"
# an OUT.part that a killed run left (no run holds its lock) is written again
printf 'left by a killed run' > "$work/stale.srt.part"
"$src/pipelines/file-to-srt.sh" "$talk" "$work/stale.srt" 2> "$work/err.txt" ||
  fail "file-to-srt: a stale OUT.part: $(cat "$work/err.txt")"
[ "$(grep -c -- "-->" "$work/stale.srt")" -eq 2 ] && [ ! -e "$work/stale.srt.part" ] ||
  fail "file-to-srt: a stale OUT.part: $(cat "$work/stale.srt")"
# a file with two audio streams: the first is used, and said
gst-launch-1.0 -q matroskamux name=mux ! filesink location="$work/two.mka" \
  filesrc location="$talk" ! wavparse ! audioconvert ! flacenc ! queue ! mux. \
  audiotestsrc num-buffers=20 ! audioconvert ! flacenc ! queue ! mux.
"$src/pipelines/file-to-srt.sh" "$work/two.mka" "$work/two.srt" 2> "$work/err.txt" ||
  fail "file-to-srt: two audio streams: $(cat "$work/err.txt")"
grep -q "has 2 audio streams: the first is used" "$work/err.txt" || fail "file-to-srt: two audio streams not said: $(cat "$work/err.txt")"
[ "$(grep -c -- "-->" "$work/two.srt")" -eq 2 ] || fail "file-to-srt: two audio streams: $(cat "$work/two.srt")"
echo "file-to-srt: ok"

# An error gst-launch-1.0 loses (posted before its main loop runs, made certain by the preloaded
# SLOW_MAIN_LOOP; decodebin on an empty file fails at once): the scripts' run_to stops the run a
# few seconds later, saying so, and keeps the existing output. It waited forever. (LANGUAGE=de:
# under a locale other than C gst-launch-1.0's error line was translated, and not seen.)
step "a lost error"
: > "$work/lost-empty"
cp "$work/talk.srt" "$work/lost.srt"
rc=0
LANGUAGE=de LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD:}$slow_main_loop" timeout -s KILL 60 sh -c '. "$1/pipelines/file-common.sh"
  run_to "$2" -- gst-launch-1.0 -q -e filesrc location="$3" ! decodebin ! fakesink' file-common "$src" \
  "$work/lost.srt" "$work/lost-empty" 2> "$work/err.txt" || rc=$?
# (a gst-launch-1.0 left waiting outlives the shell timeout kills)
[ "$rc" -eq 1 ] || { pkill -KILL -f "$work/lost-empty"; fail "a lost error: rc $rc: $(cat "$work/err.txt")"; }
grep -q "^ERROR: from element .*typefind" "$work/err.txt" && grep -q "it loses an error that comes before its main loop runs): stopped" "$work/err.txt" ||
  fail "a lost error not said: $(cat "$work/err.txt")"
cmp -s "$work/lost.srt" "$work/talk.srt" && [ ! -e "$work/lost.srt.part" ] || fail "a lost error: the output changed"
echo "a lost error: ok"

step file-to-webvtt
"$src/pipelines/file-to-webvtt.sh" "$talk" "$work/talk.vtt" latency=640
head -1 "$work/talk.vtt" | grep -q "^WEBVTT" || fail "file-to-webvtt: not WebVTT"
[ "$(grep -c -- "-->" "$work/talk.vtt")" -eq 2 ] || fail "file-to-webvtt: $(cat "$work/talk.vtt")"
# no speech: a WebVTT file all the same, its header alone
gst-launch-1.0 -q audiotestsrc wave=silence num-buffers=20 samplesperbuffer=1600 ! \
  audio/x-raw,rate=16000,channels=1,format=S16LE ! wavenc ! filesink location="$work/silence.wav"
"$src/pipelines/file-to-webvtt.sh" "$work/silence.wav" "$work/silence.vtt"
[ "$(cat "$work/silence.vtt")" = WEBVTT ] || fail "file-to-webvtt on silence: '$(cat "$work/silence.vtt")'"
# an output in a missing folder is refused naming it; --help shows the script's launch line
"$src/pipelines/file-to-webvtt.sh" "$talk" "$work/nowhere/talk.vtt" 2> "$work/err.txt" && fail "file-to-webvtt: wrote into a missing folder"
grep -q "no folder $work/nowhere" "$work/err.txt" || fail "file-to-webvtt: $(cat "$work/err.txt")"
"$src/pipelines/file-to-webvtt.sh" --help | grep -q "webvttenc" || fail "file-to-webvtt --help lacks the launch line"
# Ctrl-C before the first cue (5 minutes of silence): a WebVTT file all the same, its header alone
start_long_run file-to-webvtt.sh vtt
sleep 1
if kill -INT "-$script" 2> /dev/null; then
  wait "$script" 2> /dev/null || true
  [ "$(cat "$work/long.vtt" 2> /dev/null)" = WEBVTT ] || fail "file-to-webvtt after Ctrl-C: '$(cat "$work/long.vtt" 2>&1)'"
else
  wait "$script" || true
fi
echo "file-to-webvtt: ok"

step translate-subtitles
"$src/pipelines/translate-subtitles.sh" "$talk" "$work/en.srt" languages=en
grep -q "^2$" "$work/en.srt" || fail "translate-subtitles: $(cat "$work/en.srt")"
echo "translate-subtitles: ok"

# French (the model's answer when English is not a candidate): a track without a language reads
# as English, the Matroska default, so "en" would prove nothing; matroskademux tells the track's
# language, which matroskamux writes in the track header, with the tags it posts
step lid-tagging
"$src/pipelines/lid-tagging.sh" "$talk" "$work/talk.mka" languages=fr,de > "$work/lid.log"
grep -q "mslam-lid" "$work/lid.log" || fail "lid-tagging: no mslam-lid message"
gst-launch-1.0 -t filesrc location="$work/talk.mka" ! matroskademux ! fakesink > "$work/tags.log"
grep -Eq "language code: fr" "$work/tags.log" || fail "lid-tagging: not the track's language: $(cat "$work/tags.log")"
echo "lid-tagging: ok"

step tee
# the caption elements beside an audio sink through a tee with the default queues (1 s): speech
# from the first sample, so the first caption comes only after more than a queue of audio; a
# sink prerolls on the GAP of no duration at the timeline's start (without it the audio branch's
# queue filled, the tee stopped, and the pipeline stayed in PAUSED for good)
for element in mslamasr mslamtranslate; do
  timeout 60 gst-launch-1.0 -q filesrc location="$work/said.wav" ! decodebin ! audioconvert ! audioresample ! \
    tee name=t t. ! queue ! "$element" ! fakesink t. ! queue ! fakesink sync=true > "$work/tee.log" 2>&1 ||
    fail "$element beside a sync sink through a tee: $? $(cat "$work/tee.log")"
done
echo "tee: ok"

step all-three
"$src/pipelines/all-three.sh" "$talk" "$work/all" > "$work/all.log"
grep -q "^2$" "$work/all-captions.srt" || fail "all-three: captions"
grep -q "^2$" "$work/all-english.srt" || fail "all-three: translation"
grep -q "mslam-lid" "$work/all.log" || fail "all-three: language"
# properties: unprefixed to each element that has it (interval to mslamlid alone, beam-size to
# the other two, n_threads as GLib reads it: n-threads), asr./translate./lid. to one
"$src/pipelines/all-three.sh" "$talk" "$work/props" languages=fr,de interval=1500 beam-size=2 n_threads=1 translate.max-lines=1 \
  > "$work/props.log"
# (decisions every 1.52 s once a second of voice is in the window: at 3.04 and 4.56 s)
grep -q "mslam-lid, language=(string)fr, .* end=(guint64)3040000000," "$work/props.log" &&
  grep -q "mslam-lid, language=(string)fr, .* end=(guint64)4560000000," "$work/props.log" ||
  fail "all-three: interval and languages: $(grep "mslam-lid," "$work/props.log")"
grep -q "mslam-asr, .*final=(boolean)true.*language=(string)fr" "$work/props.log" || fail "all-three: languages to mslamasr"
"$src/pipelines/all-three.sh" "$talk" "$work/bad" lid.line-length=3 > /dev/null 2>&1 && fail "all-three: lid.line-length"
"$src/pipelines/all-three.sh" "$talk" "$work/bad" vad.x=1 2> "$work/err.txt" && fail "all-three: vad.x=1"
grep -q "vad.x=1: not PROPERTY=VALUE" "$work/err.txt" || fail "all-three: vad.x=1: $(cat "$work/err.txt")"
"$src/pipelines/all-three.sh" "$talk" "$work/bad" size=1 2> "$work/err.txt" && fail "all-three: size=1"
grep -q "size=1: none of mslamasr, mslamtranslate and mslamlid has a property size" "$work/err.txt" ||
  fail "all-three: size=1: $(cat "$work/err.txt")"
if [ -e "$work/bad-captions.srt" ] || [ -e "$work/bad-captions.srt.part" ]; then fail "all-three: a failed run left files"; fi
echo "all-three: ok"

step live-captions
# live: a ticking test source instead of the microphone, 2 s of video, no window
MSLAM_AUDIO_SRC="audiotestsrc is-live=true wave=ticks num-buffers=200" \
MSLAM_VIDEO_SRC="videotestsrc is-live=true num-buffers=50" MSLAM_VIDEO_SINK="fakesink sync=true" \
  timeout 60 "$src/pipelines/live-captions.sh" || fail "live-captions"
# no display and no sink named: a message that says what to do (autovideosink crashed there)
env -u DISPLAY -u WAYLAND_DISPLAY -u MSLAM_VIDEO_SINK timeout 60 "$src/pipelines/live-captions.sh" 2> "$work/err.txt" &&
  fail "live-captions: ran without a display"
grep -q "no display .* MSLAM_VIDEO_SINK" "$work/err.txt" || fail "live-captions without a display: $(cat "$work/err.txt")"
# no sound card nor server, no source named: a hint at MSLAM_AUDIO_SRC before autoaudiosrc's own
# error (OpenAL's "ALC error: Invalid Value" had been all); where there is a card, not tried
if [ ! -e /dev/snd ]; then
  mkdir -p "$work/no-runtime"
  env -u MSLAM_AUDIO_SRC -u PULSE_SERVER XDG_RUNTIME_DIR="$work/no-runtime" MSLAM_VIDEO_SRC="videotestsrc num-buffers=5" \
    MSLAM_VIDEO_SINK="fakesink" timeout 60 "$src/pipelines/live-captions.sh" > /dev/null 2> "$work/err.txt" || true
  grep -q "no sound card (/dev/snd) and no sound server .* MSLAM_AUDIO_SRC names another source" "$work/err.txt" ||
    fail "live-captions without a microphone: $(cat "$work/err.txt")"
fi
echo "live-captions: ok"

step mslam-captions
# the media app prints the captions of the file, and their words
"$app" --translate --lid --words "$talk" > "$work/app.log" || fail "mslam-captions: $(cat "$work/app.log")"
[ "$(grep -c -- "--> .*(en, [0-9]" "$work/app.log")" -eq 2 ] || fail "mslam-captions: $(cat "$work/app.log")"
grep -q "(en, from en" "$work/app.log" || fail "mslam-captions: no translation: $(cat "$work/app.log")"
grep -q "language at" "$work/app.log" || fail "mslam-captions: no language: $(cat "$work/app.log")"
grep -q '^  \[[0-9:.]* --> [0-9:.]*\] [^ ]* (0\.[0-9]*)$' "$work/app.log" ||
  fail "mslam-captions: no words: $(cat "$work/app.log")"
# speech from the first sample (said.wav), a caption from 0: mslamlid's branch prerolls at once,
# the captions' only with that caption (with bounded queues the app waited forever; steady white
# noise stood for the speech until the energy rule learnt such noise in 1.5 s)
timeout 30 "$app" --lid "$work/said.wav" > "$work/app-said.log" ||
  fail "mslam-captions --lid on speech from the start: $? $(cat "$work/app-said.log")"
grep -q -- "^\[00:00:00.000 --> 00:00:0[1-6]" "$work/app-said.log" ||
  fail "mslam-captions: no caption from the start: $(cat "$work/app-said.log")"
# file names that read as an option or as a URI of a scheme "talk"
cp "$talk" "$work/-talk.wav"
cp "$talk" "$work/talk:1.wav"
app_path=$(cd "$(dirname "$app")" && pwd)/$(basename "$app")
app_captions() {
  (cd "$work" && "$app_path" "$@") > "$work/app-name.log" 2>&1 || fail "mslam-captions $*: $(cat "$work/app-name.log")"
  [ "$(grep -c -- "-->" "$work/app-name.log")" -eq 2 ] || fail "mslam-captions $*: $(cat "$work/app-name.log")"
}
app_captions -- -talk.wav
app_captions talk:1.wav
# usage_error MESSAGE ARGS...: mslam-captions ARGS is a usage error (status 2) that says MESSAGE
usage_error() {
  message=$1
  shift
  rc=0
  "$app" "$@" > /dev/null 2> "$work/err.txt" || rc=$?
  [ "$rc" -eq 2 ] && grep -q -- "$message" "$work/err.txt" || fail "mslam-captions $*: rc $rc: $(cat "$work/err.txt")"
}
# no_caption ARGS...: mslam-captions ARGS runs and prints no caption
no_caption() {
  "$app" "$@" > "$work/none.log" 2>&1 || fail "mslam-captions $*: $(cat "$work/none.log")"
  [ "$(grep -c -- "-->" "$work/none.log")" -eq 0 ] || fail "mslam-captions $*: $(cat "$work/none.log")"
}
# --min-confidence: out of 0..1 a usage error; 1 drops every caption (none is that sure)
usage_error "--min-confidence 2: must be 0 to 1" --min-confidence 2 "$talk"
no_caption --min-confidence 1 "$talk"
# --voice-threshold: above 0 dBFS a usage error; at 0 nothing is loud enough to be a voice
usage_error "--voice-threshold 5: must be -100 to 0 dBFS" --voice-threshold 5 "$talk"
no_caption --voice-threshold 0 "$talk"
# a latency out of the elements' range is a usage error (gst_parse_launch kept the default)
usage_error "--latency 5: must be 40 to 10240 ms" --latency 5 "$talk"
# two files, an unknown option: usage errors that say so
usage_error "one file or URI at a time, not 2" "$talk" "$talk"
usage_error "mslam-captions: Unknown option --bogus (see --help)" --bogus "$talk"
# a video without audio: an error once the decoder's streams are out, and why (the demuxer's
# "not-linked" did not come where it had put out the whole file before: 6 runs in 200 waited)
timeout 60 "$app" "$work/silent film.webm" > /dev/null 2> "$work/err.txt" && fail "mslam-captions: a video without audio"
grep -q "none of the file's streams is audio" "$work/err.txt" && grep -q "no audio stream came out of the file" "$work/err.txt" ||
  fail "mslam-captions: a video without audio: $(cat "$work/err.txt")"
# a URI where no server listens: that nothing could be read, not that the file has no audio
# (GStreamer's HTTP source says only "Internal data stream error")
if gst-inspect-1.0 souphttpsrc > /dev/null 2>&1; then
  timeout 60 "$app" http://127.0.0.1:1/talk.wav > /dev/null 2> "$work/err.txt" && fail "mslam-captions: a URI without a server"
  ! grep -q "no audio stream came out of the file" "$work/err.txt" ||
    fail "mslam-captions: a URI without a server taken for a file without audio: $(cat "$work/err.txt")"
  grep -q "Internal data stream error" "$work/err.txt" && ! grep -q "nothing could be read from the file or URI" "$work/err.txt" &&
    fail "mslam-captions: a URI without a server: $(cat "$work/err.txt")"
fi
# a model that is not there: the element's advice, and the app's own option for it
rc=0
"$app" --model "$work/missing.safetensors" "$talk" > /dev/null 2> "$work/err.txt" || rc=$?
[ "$rc" -eq 1 ] && grep -q "(here: --model FILE, or MSLAM_MODEL)" "$work/err.txt" ||
  fail "mslam-captions --model missing: rc $rc: $(cat "$work/err.txt")"
# --live where the default input fails (no card, no server here): a pointer to MSLAM_AUDIO_SRC
if [ ! -e /dev/snd ]; then
  rc=0
  env -u MSLAM_AUDIO_SRC -u PULSE_SERVER XDG_RUNTIME_DIR="$work/no-runtime" timeout 60 "$app" --live \
    > /dev/null 2> "$work/err.txt" || rc=$?
  [ "$rc" -eq 1 ] && grep -q "the default audio input failed: MSLAM_AUDIO_SRC names another source" "$work/err.txt" ||
    fail "mslam-captions --live without a microphone: rc $rc: $(cat "$work/err.txt")"
fi
# Ctrl-C: what was heard comes out, and the app ends by SIGINT (a shell's loop over files stops;
# it had exited 0). A ticking live source, interrupted after 2 s
MSLAM_AUDIO_SRC="audiotestsrc is-live=true wave=ticks" timeout --preserve-status -k 30 -s INT 2 "$app" --live > /dev/null 2>&1 && rc=0 || rc=$?
[ "$rc" -eq 130 ] || fail "mslam-captions --live after Ctrl-C: rc $rc, not 130"
# --version, as mslam-trainer's (help2man reads both)
[ "$("$app" --version)" = "mslam-captions $(sed -n "s/^  version : '\(.*\)',$/\1/p" "$src/meson.build")" ] ||
  fail "mslam-captions --version: $("$app" --version 2>&1)"
echo "mslam-captions: ok"
echo "1 passed, 0 failed"
