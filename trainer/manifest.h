/* Manifests: the list of utterances (audio, language, transcript, translation, ...) that
 * training and evaluation read, in mslam's own TSV layout or in the layouts of real corpora.
 *
 * mslam's layout (what `mslam-trainer corpus` writes): UTF-8, tab-separated, one header line
 * naming the columns, one utterance per line. Columns, in any order (others are ignored):
 *   path         audio file, relative to the manifest's folder (empty: a text-only row)
 *   lang         language code                                           (required)
 *   text         transcript in that language                             (required)
 *   translation  English translation (may be empty)
 *   duration     seconds (may be empty: unknown)
 *   speaker      speaker or voice id (may be empty)
 *   split        train, dev or test (may be empty)
 * Fields hold no tabs or line breaks; there is no quoting.
 *
 * Real corpora give the same records:
 *   Common Voice  <locale>/{train,dev,test,validated,...}.tsv with client_id, path, sentence
 *                 and (in recent releases) locale; audio in clips/ beside the TSV; durations from
 *                 clip_durations.tsv beside it when present; the split from the file name.
 *   CoVoST-2      covost_v2.<src>_<tgt>.<split>.tsv with path, sentence, translation, client_id;
 *                 audio in the Common Voice clips/ of the source language (audio_dir), durations
 *                 from the clip_durations.tsv beside that clips/ when present.
 *   FLEURS        <lang>_<region>/<split>.tsv without a header: id, file name, raw
 *                 transcription, normalised transcription, characters, samples (16 kHz),
 *                 gender; audio in audio/<split>/ beside the TSV. */
#ifndef MSLAM_TRAINER_MANIFEST_H
#define MSLAM_TRAINER_MANIFEST_H

#include <stddef.h>
#include <stdio.h>

enum manifest_split { SPLIT_NONE, SPLIT_TRAIN, SPLIT_DEV, SPLIT_TEST, SPLIT_N };

const char *split_name(enum manifest_split split); /* "" for SPLIT_NONE */
/* "train", "dev", "test" or "" to the split; -1 otherwise. */
int split_parse(const char *name);
/* A --split option: "train", "dev", "test", or "all" (SPLIT_N); -1 and an error naming it for
 * anything else. */
int split_option(const char *name);

enum manifest_layout { LAYOUT_AUTO, LAYOUT_MSLAM, LAYOUT_COMMON_VOICE, LAYOUT_COVOST2, LAYOUT_FLEURS };

const char *layout_name(enum manifest_layout layout);
/* A --layout option: "auto", "mslam", "common-voice", "covost2" or "fleurs" to *layout; an error
 * naming the option otherwise. */
int layout_option(const char *name, enum manifest_layout *layout);

struct manifest_record {
    const char *audio;       /* audio path, usable as is (resolved against the manifest's
                              * folder or the layout's clip folder); NULL for a text-only row */
    const char *lang;
    const char *text;
    const char *translation; /* "" when none */
    const char *speaker;     /* "" when unknown */
    double duration;         /* seconds; < 0 when unknown */
    enum manifest_split split;
};

struct manifest_options {
    enum manifest_layout layout; /* LAYOUT_AUTO: told by the header */
    const char *lang;            /* language of every row, where the layout has no language column
                                  * (NULL: from the file or folder name) */
    const char *audio_dir;       /* folder of the audio files (NULL: the layout's default) */
};

typedef struct manifest_reader manifest_reader;

/* The file a manifest argument reads: PATH/manifest.tsv for a folder (a corpus, as the builder
 * writes it), PATH itself otherwise. malloc'd; NULL when out of memory. */
char *manifest_file(const char *path);
/* path: a manifest, or a folder whose manifest.tsv is read (manifest_file). opts may be NULL
 * (automatic layout). NULL on failure, with a message naming the file. */
manifest_reader *manifest_open(const char *path, const struct manifest_options *opts);
/* Reads the next record: 1, 0 at the end, -1 on a bad row (the message names file, line and
 * field). The record's strings belong to the reader and change at the next call. */
int manifest_next(manifest_reader *reader, struct manifest_record *record);
enum manifest_layout manifest_reader_layout(const manifest_reader *reader);
/* Whether rows can name a split: a split column, or the split in the file's name (CoVoST-2,
 * FLEURS, Common Voice's train.tsv). Without, every row is SPLIT_NONE, which --split all alone
 * takes. */
int manifest_reader_has_splits(const manifest_reader *reader);
/* The columns of an mslam header that no field is read from, space-separated ("" when none): a
 * misspelt name ("splt") shows here. */
const char *manifest_reader_unread_columns(const manifest_reader *reader);
void manifest_close(manifest_reader *reader);

/* A whole manifest in memory (the strings are copies). */
struct manifest {
    struct manifest_record *records;
    size_t n, cap;
    enum manifest_layout layout;
};

int manifest_load(const char *path, const struct manifest_options *opts, struct manifest *manifest);
void manifest_free(struct manifest *manifest);

/* mslam layout. The row's path is written as record->audio is (the caller makes it relative to
 * the manifest); a field holding a tab or line break is an error. */
int manifest_write_header(FILE *f);
int manifest_write_row(FILE *f, const struct manifest_record *record);

#endif
