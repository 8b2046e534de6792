#!/bin/sh
# A split's sentences (the test split's by default) spoken by other synthesizers than espeak-ng
# (Festival's voices and flite's), for the languages Debian 12 has such voices of: a manifest of
# them beside the espeak-ng rows of the same sentences, to score a model on speech it was never
# trained on.
#
#   sh models/results/session35/other-synth.sh CORPUS OUT [SPLIT [N]]
#
# SPLIT: the corpus's split whose sentences are spoken (test), N: at most that many a voice (all);
# VOICES (lines of "lang synthesizer:voice encoding") replaces the list below.
#
# It installs packages.txt's group other-synth when missing (Festival, flite, sox and the voices;
# Debian's Hindi, Marathi and Telugu Festival voices fail: no hindi_phones.scm).
# Writes OUT/audio/VOICE/N.wav (16 kHz mono), OUT/other.tsv (those) and OUT/espeak.tsv (the
# corpus's rows of the same sentences; eval with --audio-dir CORPUS).
set -eu
"$(dirname "$0")/../../../tests/install-deps.sh" other-synth
corpus=$1 out=$2 split=${3:-test} most=${4:-1000000}
mkdir -p "$out/audio"
header='path	lang	text	translation	duration	speaker	split'
printf '%s\n' "$header" > "$out/other.tsv"
printf '%s\n' "$header" > "$out/espeak.tsv"
# lang  synthesizer:voice  the text's encoding for it
default_voices='en festival:kal_diphone UTF-8
en festival:cmu_us_slt_arctic_hts UTF-8
en flite:rms UTF-8
en flite:awb UTF-8
it festival:lp_diphone ISO-8859-1
it festival:pc_diphone ISO-8859-1
ca festival:upc_ca_ona_hts UTF-8
cs festival:czech_dita ISO-8859-2
cs festival:czech_machac ISO-8859-2
fi festival:suo_fi_lj_diphone ISO-8859-1
fi festival:hy_fi_mv_diphone ISO-8859-1
ru festival:msu_ru_nsh_clunits UTF-8'
voices=${VOICES:-$default_voices}
awk -F'\t' -v s="$split" 'NR > 1 && $7 == s' "$corpus/manifest.tsv" > "$out/rows.tsv"
for lang in $(printf '%s\n' "$voices" | cut -d' ' -f1 | sort -u); do
    awk -F'\t' -v l="$lang" '$2 == l' "$out/rows.tsv" >> "$out/espeak.tsv"
done
printf '%s\n' "$voices" | while read -r lang voice enc; do
    engine=${voice%%:*} name=${voice#*:}
    mkdir -p "$out/audio/$name"
    i=0
    awk -F'\t' -v l="$lang" -v n="$most" '$2 == l && k++ < n { print $3 }' "$out/rows.tsv" | while IFS= read -r text; do
        wav="audio/$name/$lang-$i.wav" raw="$out/audio/$name/$lang-$i.raw.wav"
        i=$((i + 1))
        if [ "$engine" = flite ]; then
            printf '%s' "$text" | flite -voice "$name" -o "$raw" 2> /dev/null || continue
        else
            printf '%s\n' "$text" | iconv -f UTF-8 -t "$enc//TRANSLIT" 2> /dev/null > "$out/in.txt" || continue
            text2wave -eval "(voice_$name)" -o "$raw" "$out/in.txt" 2> /dev/null || continue
        fi
        sox -q "$raw" -r 16000 -c 1 -b 16 "$out/$wav" 2> /dev/null || { rm -f "$raw"; continue; }
        rm -f "$raw"
        seconds=$(soxi -D "$out/$wav")
        printf '%s\t%s\t%s\t\t%s\t%s\t%s\n' "$wav" "$lang" "$text" "$seconds" "$name" "$split" >> "$out/other.tsv"
    done
done
rm -f "$out/in.txt" "$out/rows.tsv"
echo "$(($(wc -l < "$out/other.tsv") - 1)) utterances from other synthesizers, $(($(wc -l < "$out/espeak.tsv") - 1)) from espeak-ng ($split)"
