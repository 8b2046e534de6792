#!/bin/sh
# Writes a man page with help2man from a program's --help: mslam-trainer's, or that of one of its
# subcommands (as mslam-trainer-COMMAND(1), git's way), whose one-line description is the one
# `mslam-trainer --help` lists.
#   man.sh HELP2MAN PROGRAM OUT NAME          the program's page (NAME: its one-line description)
#   man.sh HELP2MAN TRAINER OUT - COMMAND     a subcommand's page
set -eu
help2man=$1 program=$2 out=$3 name=$4 command=${5:-}
version=$("$program" --version | sed -n 's/^[^ ]* //p')
base=$(basename "$program")
# help2man runs `PROGRAM --help` through the shell unquoted: it gets a wrapper's bare name, found
# on PATH, in a folder beside OUT (the build folder runs programs, where /tmp may not)
dir=$(mktemp -d "$(dirname "$out")/man.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'rm -rf "$dir"; exit 1' HUP INT TERM
page=$base${command:+-$command}
quoted=$(printf '%s' "$program" | sed "s/'/'\\\\''/g")
printf "#!/bin/sh\nexec '%s' %s \"\$@\"\n" "$quoted" "$command" > "$dir/$page"
chmod +x "$dir/$page"
if [ -n "$command" ]; then
  name=$("$program" --help | sed -n "s/^  $command  *//p")
  [ -n "$name" ] || { echo "man.sh: $base --help lists no command $command" >&2; exit 1; }
  printf '[SEE ALSO]\n.BR %s (1)\n' "$base" > "$dir/include"
elif [ "$base" = mslam-trainer ]; then
  # each subcommand's page
  "$program" --help | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p' |
    awk -v base="$base" 'BEGIN { print "[SEE ALSO]" } { printf "%s.BR %s-%s (1)", (NR > 1 ? ",\n" : ""), base, $1 } END { print "" }' \
      > "$dir/include"
fi
set --
[ -s "$dir/include" ] && set -- --include="$dir/include"
PATH=$dir:$PATH "$help2man" --no-info --no-discard-stderr --version-string="$version" --name="$name" "$@" \
  --output="$out" "$page"
