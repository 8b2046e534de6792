# shellcheck shell=sh disable=SC2154 # usage: the sourcing script's
# Sourced by the pipelines' IN OUT scripts (file-to-srt.sh and the others): the arguments, and
# outputs that a failed run leaves as they were. A script sets `usage` (its usage line) first.
#   file_args N "$@"   -h/--help: the script's opening comment (its usage among it) on standard
#                      output, exit 0; fewer than N arguments:
#                      usage on standard error, exit 2; an unreadable IN, or one that is not
#                      media (empty, subtitles, text, an image...): exit 1, saying so
#   run_to OUT... -- COMMAND...   runs COMMAND, which writes each OUT as OUT.part, and renames
#                      them into place when it succeeds (removes them when not): an existing OUT
#                      is never emptied by a failed run; after Ctrl-C (or SIGTERM) OUT holds what
#                      was done until then, and the script ends by the signal (not 0), so a
#                      caller's loop stops. An OUT.part that another run is writing (it holds
#                      its lock) is refused. With part_hook set to a function's name, it is called with each
#                      OUT.part before the rename (to complete a file the run left without a
#                      header, say)
#   gst_quoted VALUE   VALUE as one gst-launch-1.0 property value (quotes and backslashes kept)
file_args() {
    min=$1
    shift
    # --help: the script's opening comment (what it runs, its launch line, its usage)
    case ${1:-} in -h | --help)
        sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
        exit 0 ;;
    esac
    [ $# -ge "$min" ] || { echo "$usage" >&2; exit 2; }
    no_newline "$1"
    if [ ! -f "$1" ] || [ ! -r "$1" ]; then
        echo "$0: cannot read $1" >&2
        exit 1
    fi
    # subtitles as IN (IN and OUT swapped): GStreamer's typefinding of a text file fails, or at
    # times hangs the pipeline (seen in the pipelines test); said here instead, with the likely
    # cause (media_check's gst-typefind-1.0 does not recognise an SRT, and names WebVTT's type alone)
    if head -c 1024 -- "$1" | LC_ALL=C grep -a -q -e '^WEBVTT' -e '^[0-9:.,]* --> [0-9:.,]*'; then
        echo "$0: $1 holds subtitles, not audio or video (IN and OUT swapped?); $usage" >&2
        exit 1
    fi
    media_check "$1"
    audio_check "$1"
    file_in=$1
}

# An IN that is not media: refused, saying what it is. gst-launch-1.0 (1.22) can hang on it:
# decodebin's typefinding fails, or finds text, at once, and when that error comes before
# gst-launch-1.0 runs its main loop, the loop never ends (seen on an empty file, a short text
# file, HTML; 1 to 6 runs in 15). gst-typefind-1.0 reads only the first bytes that typefinding
# needs (milliseconds); a run of it that fails or takes over 10 s (a slow disk) refuses nothing.
media_check() {
    [ -s "$1" ] || { echo "$0: $1 is empty, not audio or video" >&2; exit 1; }
    found=$(timeout 10 gst-typefind-1.0 "$(tool_path "$1")" 2>&1) || return 0
    found=${found##* - } # "IN - TYPE": what follows the last " - " (IN may hold one)
    case $found in
    FAILED*)
        echo "$0: $1 is not audio or video that GStreamer recognises" >&2
        exit 1 ;;
    text/* | image/* | application/x-subtitle* | application/x-ssa | application/pdf | \
        application/postscript | application/msword | application/xml | application/zip | \
        application/x-tar | application/x-gzip | application/x-bzip | application/x-rar | \
        application/x-executable | application/x-ms-dos-executable)
        echo "$0: $1 holds ${found%%,*}, not audio or video" >&2
        exit 1 ;;
    esac
}

# IN without an audio stream (a video alone): refused before the run, saying so. GStreamer's run
# would end with "Internal data stream error ... not-linked", which names no cause, and on a busy
# machine that error can come before gst-launch-1.0 runs its main loop, which then never ends
# (3 runs in 40 under load, in the pipelines test), as for the files media_check refuses.
# gst-discoverer-1.0 (gstreamer1.0-plugins-base-apps) lists IN's streams (it prerolls the file: a
# fraction of a second); without the tool, or when it fails or takes over 10 s, nothing is refused.
audio_check() {
    command -v gst-discoverer-1.0 > /dev/null || return 0
    streams=$(timeout 10 gst-discoverer-1.0 "$(tool_path "$1")" 2> /dev/null) || return 0
    printf '%s\n' "$streams" | grep -q '^ *Properties:' || return 0
    n_audio=$(printf '%s\n' "$streams" | grep -c '^ *audio #') || true
    if [ "$n_audio" -gt 1 ]; then
        echo "$0: $1 has $n_audio audio streams: the first is used (decodebin's first audio pad)" >&2
    fi
    [ "$n_audio" -eq 0 ] || return 0
    kinds=$(printf '%s\n' "$streams" | sed -n 's/^ *\([a-z]*\) #[0-9]*: .*/\1/p' | grep -v container | sort -u |
        awk 'NR > 1 { printf " and " } { printf "%s", $0 }')
    echo "$0: $1 ${kinds:+holds $kinds but }has no audio stream: nothing to caption, translate or identify" >&2
    exit 1
}

# NAME as a path that gst-typefind-1.0 and gst-discoverer-1.0 read as a file: a relative one from
# ./ (a leading '-' is then no option, "c:d.webm" no URI; names with a newline are refused first)
tool_path() { case $1 in /*) printf '%s' "$1" ;; *) printf './%s' "$1" ;; esac; }

# A file name with a newline: refused (gst_quoted's $(...) would drop a last one, run_to keeps
# its outputs one per line)
no_newline() {
    case $1 in *"
"*) echo "$0: a file name with a newline is not supported" >&2; exit 1 ;; esac
}

gst_quoted() { printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"; }

# run_to's trap of SIGTERM and SIGHUP: the command ($child, once started) is asked to end its
# files (SIGINT); a second SIGTERM kills it.
run_to_signal() {
    interrupted=$1
    [ "$1" = TERM ] && terms=$((terms + 1))
    [ -n "$child" ] || return 0
    if [ "$terms" -gt 1 ]; then kill -KILL "$child"; else kill -INT "$child"; fi 2> /dev/null || true
}

# run_watched COMMAND...: runs COMMAND for run_to ($child, its exit status in $status), ending
# it when it loses an error. gst-launch-1.0 (1.22, as upstream's) quits its main loop from the
# bus's synchronous handler on an error, yet starts that loop only after setting the pipeline to
# PAUSED has started the streaming threads: an error posted in between is printed, then lost,
# and the run waits forever (seen on files that are not media and on files without audio, which
# file_args now refuses first). COMMAND's standard error passes through perl (perl-base
# is essential), which copies each line as it comes (sed -u and a shell's read take a system call
# a byte: 2 MB/s of GST_DEBUG output) and tells this shell (SIGUSR1) when gst-launch-1.0 prints
# an error; a COMMAND still running lost_error_grace_s later has lost it, and is killed: the run
# fails, saying so. A property value out of its range (GLib's warning, `beam-size=0`, from any
# element) would run with the default instead: the copy marks it (a file `refused` beside the
# FIFO) before the same signal, and COMMAND is killed at once, the run failing. (Without perl,
# which Debian's perl-base always provides, neither is watched.)
lost_error_grace_s=5
run_watched() {
    error_said="" error_timer="" error_lost="" value_refused="" watcher="" running=1 fifo_dir="" reaped=""
    # (a USR1 before child=$! only notes it: the timer's & would replace $!)
    trap 'error_said=1; [ -z "$child" ] || on_error_said' USR1
    trap '[ -z "$running" ] || ! kill -KILL "$child" 2> /dev/null || error_lost=1' USR2
    if command -v perl > /dev/null && command : >&2 && fifo_dir=$(mktemp -d 2> /dev/null); then
        mkfifo "$fifo_dir/stderr" 2> /dev/null || { rm -rf -- "$fifo_dir"; fifo_dir=""; }
    fi
    if [ -n "$fifo_dir" ]; then
        # (the copy outlives Ctrl-C and SIGTERM to the process group: COMMAND's last words pass)
        # shellcheck disable=SC2016 # perl's code, not the shell's
        (trap '' INT TERM HUP && exec perl -e '$| = 1; my ($shell, $mark) = @ARGV; my ($said, $refused);
            while (<STDIN>) {
                print;
                if (!$refused && / is invalid or out of range for property /) {
                    my $f;
                    $refused = open($f, ">", $mark) && close($f) && kill "USR1", $shell;
                }
                $said = kill "USR1", $shell if !$said && /^ERROR: from element /;
            }' $$ "$fifo_dir/refused" < "$fifo_dir/stderr" >&2) &
        watcher=$!
        # (LANGUAGE: gst-launch-1.0's error line untranslated, as the copy looks for it)
        (trap '' TERM HUP && LANGUAGE=en exec "$@" 2> "$fifo_dir/stderr") &
    else
        (trap '' TERM HUP && exec "$@") &
    fi
    child=$!
    [ -z "$error_said" ] || on_error_said
    wait "$child" || status=$?
    # a trapped signal ends the wait before the command does: wait again for its status
    while kill -0 "$child" 2> /dev/null; do
        status=0
        wait "$child" || status=$?
    done
    # (the shell may have reaped it after a trap ended the wait: its status, where still known)
    last=0
    wait "$child" 2> /dev/null || last=$?
    [ "$last" -eq 127 ] || status=$last
    reaped=1 # (its pid may be another process's from now on: no kill of it)
    # the copy to its end (a USR1 it sends now is handled, and its last lines come before ours)
    while [ -n "$watcher" ] && kill -0 "$watcher" 2> /dev/null; do wait "$watcher" || true; done
    # (a COMMAND that ended before the signal's trap ran)
    [ -z "$fifo_dir" ] || [ ! -e "$fifo_dir/refused" ] || value_refused=1
    running=""
    [ -z "$error_timer" ] || kill -KILL "$error_timer" 2> /dev/null || true
    [ -z "$fifo_dir" ] || rm -rf -- "$fifo_dir"
    trap - USR1 USR2
    if [ -n "$value_refused" ]; then
        echo "$0: a property's value above is out of its range, and the run would have taken the default instead (gst-inspect-1.0 ELEMENT lists the ranges): stopped" >&2
        status=1
    elif [ -n "$error_lost" ]; then
        echo "$0: gst-launch-1.0 had not ended ${lost_error_grace_s} s after the error above (it loses an error that comes before its main loop runs): stopped" >&2
        status=1
    fi
}
# (in the trap: a wait for a COMMAND that lost the error would never return to start the timer;
# one process, so that killing it leaves no sleep behind)
on_error_said() {
    if [ -z "$value_refused" ] && [ -n "$fifo_dir" ] && [ -e "$fifo_dir/refused" ]; then
        value_refused=1
        [ -n "$reaped" ] || kill -KILL "$child" 2> /dev/null || true
        return 0
    fi
    [ -z "$error_timer" ] || return 0
    # shellcheck disable=SC2016 # perl's code
    (trap '' INT TERM HUP && exec perl -e 'select undef, undef, undef, $ARGV[0]; kill "USR2", $ARGV[1]' \
        "$lost_error_grace_s" $$) < /dev/null > /dev/null 2>&1 &
    error_timer=$!
}

run_to() {
    outs=""
    while [ "$1" != -- ]; do
        no_newline "$1"
        outs="$outs$1
" # one per line: names may hold spaces
        shift
    done
    shift
    # a missing folder: GStreamer's own error would name OUT.part, a file the user never asked for
    printf '%s' "$outs" | while IFS= read -r o; do
        [ -d "$(dirname -- "$o")" ] || { echo "$0: cannot write $o: no folder $(dirname -- "$o")" >&2; exit 1; }
        # a folder would take OUT.part inside it; IN itself would be replaced by the output
        [ -n "$o" ] || { echo "$0: no OUT file name" >&2; exit 1; }
        [ ! -d "$o" ] || { echo "$0: cannot write $o: a folder (name a file in it)" >&2; exit 1; }
        # (OUT.part too: the run writes it while it reads IN)
        for f in "$o" "$o.part"; do
            # shellcheck disable=SC3013 # -ef: dash's, bash's and busybox's test have it
            if [ -e "$f" ] && [ "$f" -ef "${file_in:-}" ]; then echo "$0: $f is IN: name another file for OUT" >&2; exit 1; fi
        done
    done || exit 1
    # Each OUT.part is opened here and locked (flock, util-linux) for as long as the run lasts:
    # one that another run holds is refused (two runs writing the same OUT would share it, and the
    # one that finished second would move the other's output into place); the lock dies with its
    # process, so an OUT.part that a killed run left behind is simply written again. The traps
    # come first, so that no signal finds OUT.part made and not yet cleaned up.
    status=0 interrupted="" child="" terms=0
    # Ctrl-C reaches gst-launch-1.0 -e too (one process group), which ends the file cleanly: the
    # shell waits for it (dash would die at once and leave only OUT.part). SIGTERM and SIGHUP are
    # passed on as the SIGINT that -e turns into EOS; the command itself ignores them, as
    # timeout(1), systemd, `kill -- -PGID` and a closing terminal send them to the whole process
    # group (it would die without ending the file, and the run's output would be lost). A second
    # SIGTERM kills it (a pipeline that hangs).
    trap 'interrupted=INT' INT
    trap 'run_to_signal TERM' TERM
    trap 'run_to_signal HUP' HUP
    fd=9 refused="" created=""
    old_ifs=$IFS
    IFS='
'
    set -f
    for o in $outs; do
        [ -e "$o.part" ] || created="$created$o.part
"
        # (`command`: a failed redirection of a special built-in would end the shell)
        if ! command eval "exec $fd>>\"\$o.part\"" 2> /dev/null; then
            refused="cannot write $o.part"
        elif ! flock -n "$fd"; then
            refused="$o.part is being written by another run of a script (wait for it, or stop it)"
        fi
        [ -z "$refused" ] || break
        fd=$((fd - 1))
    done
    if [ -n "$refused" ]; then
        # the OUT.part files made here (one another run holds existed before)
        for f in $created; do rm -f -- "$f"; done
    fi
    set +f
    IFS=$old_ifs
    if [ -n "$refused" ]; then
        echo "$0: $refused" >&2
        trap - INT TERM HUP
        exit 1
    fi
    [ -n "$interrupted" ] || run_watched "$@"
    [ -z "$interrupted" ] || [ -n "$child" ] || status=1
    printf '%s' "$outs" | while IFS= read -r o; do
        if [ "$status" -eq 0 ]; then
            if [ -n "${part_hook:-}" ] && ! "$part_hook" "$o.part"; then
                echo "$0: completing $o.part failed; $o is left as it was" >&2
                rm -f -- "$o.part"
            elif ! mv -f -- "$o.part" "$o"; then
                echo "$0: cannot move $o.part to $o" >&2
                rm -f -- "$o.part"
            fi
        else
            rm -f -- "$o.part"
        fi
    done || true
    trap - INT TERM HUP
    if [ -n "$interrupted" ]; then
        # gst-launch-1.0 -e exits 0 after Ctrl-C: say the output is partial, and end as interrupted
        [ "$status" -eq 0 ] && echo "$0: interrupted: the output holds what was done until then" >&2
        kill -s "$interrupted" $$
    fi
    [ "$status" -eq 0 ] || exit "$status"
}
