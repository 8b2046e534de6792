#!/bin/sh
# Installs the packages of the named groups of packages.txt that are missing; with --list, prints
# the groups' package names instead.
# Usage: tests/install-deps.sh build test [reference]
#        tests/install-deps.sh --list st-catalogs
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
list=0
[ "${1:-}" = --list ] && { list=1; shift; }
[ $# -gt 0 ] || set -- build test
wanted=$(awk -v groups=" $* " '
  /^\[/ { g = substr($0, 2, length($0) - 2); next }
  /^#/ || NF == 0 { next }
  index(groups, " " g " ") { print $1 }' "$root/packages.txt")
# shellcheck disable=SC2086 # one name per word
[ "$list" -eq 1 ] && { echo $wanted; exit 0; }
missing=""
for p in $wanted; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
# shellcheck disable=SC2086 # one name per word
$sudo apt-get install -y $missing
