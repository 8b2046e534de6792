# shellcheck shell=sh disable=SC2154 # usage: the sourcing script's
# Sourced by the pipelines' IN OUT scripts (file-to-srt.sh and the others): the arguments, and
# outputs that appear only when complete. A script sets `usage` (its usage line) first.
#   file_args N "$@"   -h/--help: the script's opening comment (its usage among it) on standard
#                      output, exit 0; fewer than N arguments:
#                      usage on standard error, exit 2; an unreadable IN: exit 1
#   run_to OUT... -- COMMAND...   runs COMMAND, which writes each OUT as OUT.part, and renames
#                      them into place when it succeeds (removes them when not): an existing OUT
#                      is replaced only by a complete one, never emptied by a failed run
file_args() {
    min=$1
    shift
    # --help: the script's opening comment (what it runs, its launch line, its usage)
    case ${1:-} in -h | --help)
        sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
        exit 0 ;;
    esac
    [ $# -ge "$min" ] || { echo "$usage" >&2; exit 2; }
    if [ ! -f "$1" ] || [ ! -r "$1" ]; then
        echo "$0: cannot read $1" >&2
        exit 1
    fi
}

run_to() {
    outs=""
    while [ "$1" != -- ]; do
        outs="$outs$1
" # one per line: names may hold spaces
        shift
    done
    shift
    # a missing folder: GStreamer's own error would name OUT.part, a file the user never asked for
    printf '%s' "$outs" | while IFS= read -r o; do
        [ -d "$(dirname "$o")" ] || { echo "$0: cannot write $o: no folder $(dirname "$o")" >&2; exit 1; }
    done || exit 1
    status=0
    # Ctrl-C reaches gst-launch-1.0 -e, which ends the file cleanly: the shell waits for it (dash
    # would die at once and leave only OUT.part)
    trap : INT TERM
    "$@" || status=$?
    trap - INT TERM
    printf '%s' "$outs" | while IFS= read -r o; do
        if [ "$status" -eq 0 ]; then mv -f "$o.part" "$o"; else rm -f "$o.part"; fi
    done
    [ "$status" -eq 0 ] || exit "$status"
}
