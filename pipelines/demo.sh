#!/bin/sh
# Set-up plus the main job on the bundled default model (models/default.safetensors): installs
# what is missing (packages.txt groups build, test, demo), builds, then speaks a sentence in a
# few languages with espeak-ng and runs each through pipelines/all-three.sh (mslamasr,
# mslamtranslate and mslamlid through one tee), printing the captions, the English translation
# and the language decisions. The plugin is used uninstalled (GST_PLUGIN_PATH=build/plugin).
#
#   ./pipelines/demo.sh              # the sentences below
#   ./pipelines/demo.sh FILE...      # your own audio or video files instead
#
# Output goes to demo-out/ (SRT files and the pipeline logs). MSLAM_BUILD_DIR picks the build
# folder (default build), MSLAM_MODEL another model.
set -eu
case ${1:-} in -h | --help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tests/install-deps.sh" build test demo
builddir=${MSLAM_BUILD_DIR:-$root/build}
case $builddir in /*) ;; *) builddir=$root/$builddir ;; esac
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" "$root"
ninja -C "$builddir"

model=${MSLAM_MODEL:-$root/models/default.safetensors}
[ -f "$model" ] || { echo "demo.sh: no model at $model" >&2; exit 1; }
export MSLAM_MODEL="$model" GST_PLUGIN_PATH="$builddir/plugin"
out=$root/demo-out
mkdir -p "$out"

if [ $# -eq 0 ]; then
  # language code, espeak-ng voice, sentence
  while IFS='|' read -r lang voice text; do
    espeak-ng -v "$voice" -w "$out/$lang.wav" "$text"
    set -- "$@" "$out/$lang.wav"
  done <<'EOF'
en|en|Could not open the file.
de|de|Die Datei konnte nicht geöffnet werden.
fr|fr|Impossible d'ouvrir le fichier.
es|es|No se pudo abrir el archivo.
it|it|Impossibile aprire il file.
EOF
fi

names=""
for f in "$@"; do
  name=$(basename -- "$f")
  name=${name%.*}
  # outputs are named after the file: two files of one name would write over each other
  case "$names" in *"/$name/"*)
    echo "demo.sh: two files named $name; outputs go to $out/$name-*: rename one" >&2; exit 2 ;;
  esac
  names="$names/$name/"
  echo "== $f"
  "$root/pipelines/all-three.sh" "$f" "$out/$name" > "$out/$name.log" 2>&1 ||
    { cat "$out/$name.log" >&2; exit 1; }
  # SRT: keep the text lines (not the numbers, times and blank separators)
  printf '   captions:    %s\n' "$(grep -v -e '^[0-9]*$' -e '-->' "$out/$name-captions.srt" | tr '\n' ' ')"
  printf '   translation: %s\n' "$(grep -v -e '^[0-9]*$' -e '-->' "$out/$name-english.srt" | tr '\n' ' ')"
  # the last language decision of the mslam-lid messages (gst-launch-1.0 -m prints them)
  lid=$(grep -o 'mslam-lid, language=(string)[^,]*, confidence=(double)[0-9.e-]*' "$out/$name.log" | tail -1 |
    sed 's/.*language=(string)\([^,]*\), confidence=(double)\(.*\)/\1 (probability \2)/')
  printf '   language:    %s\n' "${lid:-(no decision)}"
done
echo "outputs in $out"
