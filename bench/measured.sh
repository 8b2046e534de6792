# shellcheck shell=sh
# Sourced by the benchmark scripts: "$out", a temporary file of the figures for the comparison
# that follows, removed when the script ends (on a signal too). measured COMMAND...: runs it,
# shows its figures and appends them to "$out"; a failure stops the script with the command's
# status (a pipe into tee would hide it).
out=$(mktemp)
trap 'rm -f "$out" "$out.run"' EXIT
trap 'exit 130' INT TERM HUP # (dash runs the EXIT trap on exit, not when a signal kills it)

measured() {
  "$@" > "$out.run" || { status=$?; cat "$out.run"; exit "$status"; }
  tee -a "$out" < "$out.run"
}

# on_mslam_kernels COMMAND...: runs it (PyTorch, on the same OpenBLAS) with OPENBLAS_CORETYPE set
# to the kernels the mslam run before it named in "$out" ("OpenBLAS kernels X" or "kernels=X"):
# mslam's own choice when OpenBLAS fell back to Prescott on an unknown CPU; left alone when the
# variable is set or the kernels unknown.
on_mslam_kernels() {
  kernels=$(sed -n -e 's/^.*OpenBLAS kernels \([A-Za-z0-9]*\)$/\1/p' -e 's/^.* kernels=\([A-Za-z0-9]*\)$/\1/p' \
    "$out" | head -n 1)
  [ "$kernels" != unknown ] || kernels=""
  ( [ -z "$kernels" ] || export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-$kernels}"
    "$@" )
}
