# shellcheck shell=sh disable=SC2154 # out: the sourcing script's file of figures
# Sourced by the benchmark scripts. measured COMMAND...: runs it, shows its figures and appends
# them to "$out" for the comparison that follows; a failure stops the script with the command's
# status (a pipe into tee would hide it).
measured() {
  "$@" > "$out.run" || { status=$?; cat "$out.run"; exit "$status"; }
  tee -a "$out" < "$out.run"
}
