#!/bin/sh
# Installs what is missing (packages.txt: build, test), configures build/, compiles and runs
# every meson test. Arguments go to `meson test` (e.g. --suite core).
#   MSLAM_SANITIZE=1 tests/run.sh   builds build-asan/ with AddressSanitizer + UBSan instead.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
./tests/install-deps.sh build test

builddir=build
# warnings are errors here and in CI (meson.build leaves them warnings for other builds)
setup_args="-Dwerror=true"
if [ "${MSLAM_SANITIZE:-0}" = 1 ]; then
  builddir=build-asan
  setup_args="$setup_args -Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_lundef=false"
fi
if [ -f "$builddir/build.ninja" ]; then
  meson setup --reconfigure $setup_args "$builddir" >/dev/null
else
  meson setup $setup_args "$builddir"
fi
ninja -C "$builddir"
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@"
