#!/bin/sh
# Installs the packages of the named groups of packages.txt that are missing; with --download DIR,
# downloads the groups' .deb files into DIR instead, without installing them; with --list, prints
# the groups' packages, one per line.
# Usage: tests/install-deps.sh build test [reference]
#        tests/install-deps.sh --download DIR st-catalogs
#        tests/install-deps.sh --list corpus
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
download_dir=""
list=""
if [ "${1:-}" = --download ]; then
  download_dir=${2:?"--download needs a folder"}
  shift 2
elif [ "${1:-}" = --list ]; then
  list=1
  shift
fi
case ${1:-} in -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
[ $# -gt 0 ] || set -- build test
known=$(sed -n 's/^\[\(.*\)\]$/\1/p' "$root/packages.txt" | tr '\n' ' ')
for g in "$@"; do
  case " $known" in *" $g "*) ;; *)
    echo "install-deps.sh: no group '$g' in packages.txt (groups: $known)" >&2; exit 2 ;;
  esac
done
wanted=$(awk -v groups=" $* " '
  /^\[/ { g = substr($0, 2, length($0) - 2); next }
  /^#/ || NF == 0 { next }
  index(groups, " " g " ") { print $1 }' "$root/packages.txt")
if [ -n "$list" ]; then
  echo "$wanted"
  exit
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
if [ -n "$download_dir" ]; then
  mkdir -p "$download_dir"
  # a fresh machine's package lists may be empty: update them when the first try fails
  # shellcheck disable=SC2086 # one name per word
  (cd "$download_dir" && apt-get download $wanted) ||
    { $sudo apt-get update && (cd "$download_dir" && apt-get download $wanted); }
  exit
fi
missing=""
for p in $wanted; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
$sudo apt-get update
# shellcheck disable=SC2086 # one name per word
$sudo apt-get install -y $missing
