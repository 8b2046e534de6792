/* Training and evaluation data: examples from manifests, the vocabulary and language list,
 * epochs of length-bucketed batches in a seeded order, and batches of log-mel features computed
 * on the fly from the audio files (libsndfile), with SpecAugment.
 *
 * Everything random is a function of (seed, epoch) or (seed, step, item): a run that stops and
 * resumes at a batch boundary sees the same batches and the same augmentation as one that never
 * stopped. */
#ifndef MSLAM_TRAINER_DATA_H
#define MSLAM_TRAINER_DATA_H

#include "frontend.h"
#include "manifest.h"
#include "model.h"
#include "ops.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>

/* Reserved vocabulary entries, at these ids in every vocabulary the trainer builds. */
#define VOCAB_BLANK 0 /* "<blank>": CTC blank */
#define VOCAB_UNK 1   /* "<unk>" */
#define VOCAB_BOS 2   /* "<s>": first decoder input */
#define VOCAB_EOS 3   /* "</s>": end of a decoded translation */
#define VOCAB_N_RESERVED 4

/* One utterance. Strings are owned; ids are filled by dataset_encode. */
typedef struct {
    char *audio;       /* path of the audio file */
    char *text;        /* transcript in the spoken language ("" when none) */
    char *translation; /* English translation ("" when none) */
    char *lang;        /* language code ("" when unknown) */
    char *speaker;     /* speaker or voice ("" when unknown) */
    double seconds;    /* duration (from the manifest or the file's header) */
    int lang_id;       /* index in the language list, -1 when unknown or not in the list */
    int file;          /* the manifest it came from: index in its dataset's files (-1: none) */
    int *text_ids, n_text;       /* CTC targets: the transcript's character ids */
    int *trans_ids, n_trans;     /* decoder targets: the translation's character ids */
} example;

typedef struct {
    example *items;
    int n, cap;
    int n_incomplete; /* rows of the split dataset_load_text_pairs left out: no transcript (or translation) */
    struct strlist files; /* the manifests read, in order: the warnings name them */
    const char *role;     /* what the data is for ("validation data"), to begin the warnings (NULL: none) */
} dataset;

/* Appends an example (strings copied; NULL reads as ""), from the last of ds->files (none when
 * empty). seconds <= 0: probe the file later. */
int dataset_add(dataset *ds, const char *audio, const char *text, const char *translation,
                const char *lang, const char *speaker, double seconds);
void dataset_free(dataset *ds);

/* Appends the speech examples of a manifest (any layout trainer/manifest.h reads: mslam TSV,
 * Common Voice, CoVoST-2, FLEURS; opts may be NULL) whose split is `split` (SPLIT_N: all).
 * Text-only rows are left out. Returns 0 or -1 (a bad row is an error naming file and line).
 * Every loader here warns once per language code of the rows taken that is none of the
 * languages mslam-trainer knows (trainer/langs.c, corpus --list-langs), with its count of rows:
 * a typo ("ess") would be a language of its own to a new model, and a row of its own in eval. */
struct manifest_options;
int dataset_load(dataset *ds, const char *manifest, const struct manifest_options *opts, int split);
/* dataset_load with the command-line spelling of the choices: layout NULL (from the header),
 * "mslam", "common-voice", "covost2" or "fleurs"; lang and audio_dir NULL or as in
 * manifest_options; split "train", "dev", "test" or "all". An empty result is an error, which
 * names the splits that have rows, or says that the manifest has no split column, and the option
 * that picks the split: split_option ("--split", "--valid-split"; NULL: both of train's). */
int dataset_load_split(dataset *ds, const char *manifest, const char *layout, const char *lang,
                       const char *audio_dir, const char *split, const char *split_option);

/* 0, or an error naming option when one of paths (NULL-terminated; NULL: none), given as
 * manifests of text rows (train --text-data, lm and tm --text), is a folder: a corpus folder
 * holds two, manifest.tsv (the speech's) and text.tsv (its text rows), so the file must be named. */
int text_manifests_check(char *const *paths, const char *option);

/* How the files read tell their rows' splits, for split_counts_note. */
struct split_note {
    int has_splits;     /* whether one had splits (manifest_reader_has_splits) */
    int columns;        /* whether they name the split in a column (mslam's layout), not in the file name */
    const char *unread; /* the header's columns not read (NULL: not said) */
};

/* Adds what reader r (whose rows were read) tells of the splits to how (start from {.columns = 1}). */
void split_note_add(struct split_note *how, const manifest_reader *r);
/* " (HOLDER has them in split dev: 300 rows; PICKS picks the split)" from the counts of rows of
 * each split (in_split: SPLIT_N counts), for a message that none is in the split asked for; ""
 * when every count is 0. Rows in no split where no file has splits (how, NULL: not known) are
 * said so instead, and that TAKES_ALL ("--split all") takes them. g_free it. */
char *split_counts_note(const int *in_split, const struct split_note *how, const char *holder, const char *picks,
                        const char *takes_all);
/* "'s train split" (dev, test) for split, "" for SPLIT_N (all): "no row of the text%s ...". */
const char *text_split_phrase(int split);

/* Appends the rows of a manifest (layout from its header) that have both a transcript and a
 * translation, with or without audio: the text pairs of the translation objective on text; with
 * transcripts_only, every row with a transcript (pre-training's text, translations unread).
 * split as dataset_load_split's; the split's other rows are counted in ds->n_incomplete. An
 * empty result is an error. */
int dataset_load_text_pairs(dataset *ds, const char *manifest, const char *split, int transcripts_only);

/* Transcripts are trained and scored in one normal form (metrics.h mslam_text_normalize:
 * NFKC, case folding, punctuation and symbols removed, spaces collapsed), so that the CTC head
 * spends nothing on distinctions the scores ignore. Returns a new string or NULL. */
char *asr_target_text(const char *text, const char *lang);

/* Character ids of text (malloc'd into *ids); returns the count, -2 when a character is outside
 * the vocabulary or reserved (its text in bad, 5 bytes; bad NULL: such characters are left out
 * instead), -1 on error. */
int encode_text(const mslam_model *model, const char *text, int **ids, char *bad);

/* Vocabulary of a dataset and of more (NULL: none): the reserved entries, then every character
 * of the normalised transcripts and of the translations that occurs at least min_count times in
 * them, by code point. Sets *vocab (n strings, free with strlist_free). */
int vocab_build(const dataset *ds, const dataset *more, int min_count, struct strlist *vocab);
/* Sorted language codes of the dataset. */
int langs_build(const dataset *ds, struct strlist *langs);
/* The index of language code lang in m's list, or -1. */
int lang_index(const mslam_model *m, const char *lang);
/* Refuses two languages that differ only in case ("ES" and "es"); with warn, warns of each that
 * does not look like a language code. */
int langs_check(const struct strlist *langs, int warn);

/* Counts of examples dataset_encode dropped, by reason. */
typedef struct {
    int missing_audio;  /* unreadable file or header */
    int empty_audio;    /* zero length, or too short for one encoder frame */
    int too_long;       /* longer than max_seconds */
    int empty_text;     /* a needed transcript or translation is empty */
    int unknown_chars;  /* transcripts or translations dropped: characters outside the vocabulary */
    int unknown_lang;   /* language not in the model's list where one is needed */
    int kept;
} dataset_report;

/* What an example must have to be kept; KEEP_ALL: the labels named are encoded where there
 * are, and every example with usable audio is kept (pre-training). */
enum { NEED_TEXT = 1, NEED_LANG = 2, NEED_TRANSLATION = 4, KEEP_ALL = 8 };

/* Checks every example against the model (vocabulary, languages) and the audio headers,
 * fills ids, durations and language indices, and removes those that fail: an example lacking
 * all of `need_any` (e.g. NEED_TEXT | NEED_TRANSLATION: at least one of the two) is dropped;
 * a transcript or translation with characters outside the vocabulary is dropped from that
 * example (the example stays when something else is left). need_any = 0 keeps every example
 * with usable audio and encodes no text (evaluation scores the raw text). Warns for each dropped
 * file; of labels with characters outside the vocabulary, and (need_any not 0) of rows in
 * languages the model does not have, one summary each per manifest (a manifest of other
 * languages has one on nearly every row); fills *report. Returns 0, or -1 (error recorded) when
 * nothing is left. */
int dataset_encode(dataset *ds, const mslam_model *model, int need_any, double max_seconds,
                   dataset_report *report);
/* Text pairs: the transcript in the ASR normal form into text_ids (the encoder's input), the
 * translation into trans_ids (not with transcripts_only: n_trans 0); pairs with characters
 * outside the vocabulary (unknown_chars), an empty side (empty_text) or a side longer than
 * max_chars (too_long) are dropped, counted in *report without a warning each. Returns 0, or -1
 * when nothing is left. */
int dataset_encode_text_pairs(dataset *ds, const mslam_model *model, int max_chars, int transcripts_only,
                              dataset_report *report);

/* What tells ds's rows from other rows, for a resume whose position counts in them: their count,
 * a hash of them in their order and one in any order. A row's hash covers its audio file's name
 * (not its folder: one manifest read from another place, or with another --audio-dir, holds the
 * same rows), language, transcript, translation and duration (to the millisecond). */
void dataset_rows_hash(const dataset *ds, long *rows, uint64_t *hash, uint64_t *unordered);

/* ---- epochs and batches ---- */

/* The batches of one epoch: a permutation of the examples by (seed, epoch), cut into pools of
 * 64 batches, each pool sorted by duration (text pairs without audio: by characters of transcript
 * and translation; length bucketing: little padding) and cut into
 * batches of global_batch examples, then the batch order shuffled. The last batch may be short. */
typedef struct {
    int *order;      /* n example indices, batch after batch */
    int n_batches;
    int global_batch;
    int n;
} epoch_plan;

/* file_weights (NULL: every row once an epoch): one per manifest of ds->files, how many times an
 * epoch each of its rows is taken on average (mslam-trainer train --data-weight). A weight w takes
 * every row floor(w) times and round(frac(w) x rows) rows more, the next ones of a sequence of
 * the file's rows shuffled anew each time it runs out (by seed and file), so that over the epochs
 * each row comes as often as the others to within one, and no epoch takes one of them twice. A
 * row's copies fall in different batches (the copies are shuffled and pooled apart; only a batch
 * across two such layers may hold a row twice). Every epoch has the same count,
 * epoch_plan_size's; weights of 1 plan as NULL does. */
int epoch_plan_make(epoch_plan *plan, const dataset *ds, uint64_t seed, long epoch, int global_batch,
                    const double *file_weights);
/* Batches of global_batch in an epoch of size examples: the last may be short. */
long epoch_batches(long size, int global_batch);
/* Examples of one epoch under file_weights (as epoch_plan_make's), or -1 with the error set when
 * they are none or more than an epoch plan holds. */
long epoch_plan_size(const dataset *ds, const double *file_weights);
/* The examples of each manifest of ds->files, and last those of none (files.n + 1 counts; free
 * it), or NULL. */
long *dataset_rows_per_file(const dataset *ds);
/* Examples an epoch takes from a manifest of rows usable rows at weight. */
long epoch_rows_at_weight(double weight, long rows);
void epoch_plan_free(epoch_plan *plan);
/* Examples of batch b: *first (index into order) and *count. */
void epoch_plan_batch(const epoch_plan *plan, int b, int *first, int *count);

/* ---- features ---- */

typedef struct {
    int freq_masks, freq_width; /* masks of up to freq_width mel bins */
    int time_masks;             /* masks of up to time_ratio x length frames (at most time_width) */
    float time_ratio;
    int time_width;
    /* channel and speaker variation, applied before the masks: with probability eq_prob a
     * random equaliser (gains uniform in +-eq_db dB at eq_points points evenly spaced in mel,
     * 2..EQ_POINTS_MAX, 0 meaning EQ_POINTS_DEFAULT, linear between them, the same for every frame); with
     * probability warp_prob a frequency warp (the mel axis stretched by a factor uniform in
     * 1 +- warp, as vocal tract length perturbation). Both 0: none (and no random numbers drawn). */
    float eq_prob, eq_db, warp_prob, warp;
    int eq_points;
    /* speed perturbation, applied to the audio before the features: with probability speed_prob
     * the utterance is played at a speed uniform in 1 +- speed (tempo and pitch together, as
     * Kaldi's 0.9/1.1 copies; its own random draws, so that the others stay as without it) */
    float speed_prob, speed;
    /* level perturbation, applied to the audio before the features: with probability gain_prob
     * the utterance is played gain_db x U(0, 1) dB quieter (a quiet microphone; its own random
     * draws likewise) */
    float gain_prob, gain_db;
    /* with probability noise_prob the utterance's audio is replaced by noise alone
     * (augment_noise_alone), which trains blanks and no language on it: noise_in_slot says which */
    float noise_prob;
} specaug_config;

#define EQ_POINTS_DEFAULT 6
#define EQ_POINTS_MAX 64
#define EQ_DB_MAX 100.0 /* the largest eq_db (+-100 dB already scales power 1e10 times) */
#define SPECAUG_MASKS_MAX 100 /* the most masks of each kind */
#define SPECAUG_WIDTH_MAX 65536 /* the widest mask, in bins or frames (wider ones are cut to the utterance) */

specaug_config specaug_default_config(void);
/* Whether aug replaces the utterance in slot `slot` of the batch drawn with aug_seed by noise
 * alone (feature_batch_load does; its transcript, language and translation are then not its). */
int noise_in_slot(const specaug_config *aug, uint64_t aug_seed, int slot);
/* SpecAugment (Park et al. 2019) without time warping, on mel (T, n_mels) in place: masked
 * values become fill[m] (the feature mean, which normalises to zero). */
void specaugment(float *mel, int T, int n_mels, const float *fill, const specaug_config *c, mslam_rng *rng);
/* The equaliser and frequency warp of c on mel (T, n_mels) in place. Returns 0 or -1. */
int channel_augment(float *mel, int T, int n_mels, const specaug_config *c, mslam_rng *rng);

/* Log-mel features of a batch: items (B, T_mel, n_mels), zero beyond each length. */
typedef struct {
    int B, T_mel, n_mels;
    float *mel;
    int *mel_lens;
    int *example;   /* dataset index of each item */
    int *slot;      /* position of each item in the global batch */
    double seconds; /* audio in the batch */
    int n_failed;   /* examples whose audio could not be read (skipped, warned) */
    int quiet;      /* set by the caller: skip those without a warning (another pass warns of them) */
    size_t max_samples; /* set by the caller: each item's first max_samples (at 16 kHz, after any
                           speed perturbation) alone, as if its audio ended there (the tail
                           padding after them); 0: all */
    mslam_frontend fe;
    struct audio_buf *audio; /* decoding buffers (opaque) */
    float *scratch;
    size_t scratch_size;
} feature_batch;

/* Loads examples[0..count) (dataset indices; slots slot0 + i) into fb: decode, mix to mono,
 * resample to 16 kHz when the file has another rate (or aug's speed perturbation draws another
 * speed), log-mel; with aug not NULL, the channel augmentation and SpecAugment of aug on each item
 * with a generator seeded from (aug_seed, slot), filling with fill (n_mels). Items
 * whose audio fails to decode are skipped with a warning (n_failed). Returns 0 or -1. */
int feature_batch_load(feature_batch *fb, const dataset *ds, const int *examples, int count, int slot0,
                       int n_mels, const specaug_config *aug, uint64_t aug_seed, const float *fill);
void feature_batch_free(feature_batch *fb);

/* Mean and standard deviation of each mel bin over the frames of up to max_items examples
 * spread evenly over the dataset (the model's feature statistics). */
int mel_statistics(const dataset *ds, int n_mels, int max_items, float *mean, float *std);

/* One seed, and one generator, per purpose and step: draws never depend on how many came before. */
uint64_t seed_for(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b);
void rng_for(mslam_rng *rng, uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b);

#endif
