#!/bin/sh
# Writes a man page with help2man from a program's --help: mslam-trainer's, or that of one of its
# subcommands (as mslam-trainer-COMMAND(1), git's way), whose one-line description is the one
# `mslam-trainer --help` lists.
#   man.sh HELP2MAN PROGRAM OUT NAME          the program's page (NAME: its one-line description)
#   man.sh HELP2MAN TRAINER OUT - COMMAND     a subcommand's page
set -eu
help2man=$1 program=$2 out=$3 name=$4 command=${5:-}
version=$("$program" --version | sed -n 's/^[^ ]* //p')
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
base=$(basename "$program")
if [ -n "$command" ]; then
  name=$("$program" --help | sed -n "s/^  $command  *//p")
  [ -n "$name" ] || { echo "man.sh: $base --help lists no command $command" >&2; exit 1; }
  printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$program" "$command" > "$dir/$base-$command"
  chmod +x "$dir/$base-$command"
  printf '[SEE ALSO]\n.BR %s (1)\n' "$base" > "$dir/include"
  program=$dir/$base-$command
elif [ "$base" = mslam-trainer ]; then
  # each subcommand's page
  "$program" --help | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p' |
    awk -v base="$base" 'BEGIN { print "[SEE ALSO]" } { printf "%s.BR %s-%s (1)", (NR > 1 ? ",\n" : ""), base, $1 } END { print "" }' \
      > "$dir/include"
fi
include=""
[ -s "$dir/include" ] && include=--include=$dir/include
# shellcheck disable=SC2086 # none or one word
"$help2man" --no-info --no-discard-stderr --version-string="$version" --name="$name" $include --output="$out" "$program"
