/* `mslam-trainer corpus`: builds a multilingual speech/text corpus from what Debian ships.
 *
 * Per language: clean sentences from gettext catalogs (with their English source as the
 * translation) and fortune files; each sentence gets a split from a hash of its English source
 * (so a message and all its translations share a split in every language); utterances are
 * spoken by espeak-ng with voice variants that differ between splits (test voices are never
 * heard in training), at varied rate and pitch, and where asked, in the languages they speak, by
 * Festival's and flite's voices (othersynth.h), then augmented (speed, reverberation, coloured
 * or babble noise, gain) and written at 16 kHz mono. Output folder:
 *   manifest.tsv     the utterances (mslam layout, see manifest.h)
 *   text.tsv         text-only rows (empty path) for the text objectives
 *   audio/<lang>/    the audio files
 *   corpus.conf      the options the content depends on (a resumed build must match them)
 *   .parts/          per-language manifests; a language whose parts exist is done
 * The same options and seed give byte-identical files, with any number of jobs, resumed or not. */
#ifndef MSLAM_TRAINER_CORPUS_H
#define MSLAM_TRAINER_CORPUS_H

#include "audio.h"
#include "manifest.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>

struct range {
    double min, max;
};

struct corpus_options {
    const char *out_dir;
    struct strlist langs; /* codes; empty: the default languages */
    int utterances[SPLIT_N];  /* per language and split */
    int text_per_lang;        /* rows of text.tsv per language */
    uint64_t seed;
    int jobs; /* worker processes; <= 0: the number of cores */
    const char *locale_dir;
    const char *fortune_dir;
    const char *espeak_data; /* NULL: the installed espeak-ng-data */
    enum audio_format format;
    /* each split's voices: espeak-ng voice variants ("m3"), and other synthesizers' voices
     * ("festival:kal_diphone"), which speak their language's utterances with probability
     * other_share (one of them drawn evenly) */
    struct strlist voices[SPLIT_N];
    double other_share;
    struct range rate;              /* words per minute */
    struct range pitch;             /* 0-100 */
    double noise_prob, speed_prob, reverb_prob;
    struct range snr_db, speed, rt60, gain_db;
    int progress; /* < 0: on a terminal */
    int quiet;
    /* an utterance's worker still speaking after this long is stopped, and the build fails
     * saying so (a hung espeak-ng would hang it); a few tenths of a second are normal; 0: never */
    unsigned worker_seconds;
};

/* Defaults (see `mslam-trainer corpus --help`). Free with corpus_options_free. */
int corpus_default_options(struct corpus_options *o);
void corpus_options_free(struct corpus_options *o);

/* Speaks each utterance in a forked child and reaps children with waitpid(-1): a caller must
 * not be waiting for other children of its own meanwhile. */
int corpus_build(const struct corpus_options *o);

/* Hours, utterances and characters per language and split of a manifest in any layout, and its
 * text rows (rows without audio); of a corpus folder, its manifest.tsv's and the text rows of its
 * text.tsv. */
int corpus_print_stats(const char *path, const struct manifest_options *opts, FILE *out);

/* The subcommand: argv[0] is "corpus". Returns the process exit status. */
int corpus_main(int argc, char **argv);

#endif
