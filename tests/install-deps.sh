#!/bin/sh
# Installs the packages of the named groups of packages.txt that are missing.
# Usage: tests/install-deps.sh build test [reference]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || set -- build test
wanted=$(awk -v groups=" $* " '
  /^\[/ { g = substr($0, 2, length($0) - 2); next }
  /^#/ || NF == 0 { next }
  index(groups, " " g " ") { print $1 }' "$root/packages.txt")
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
$sudo apt-get install -y $missing
