/* A tiny synthetic corpus for the trainer tests, written at test time: three languages, short
 * utterances whose audio is a sequence of tones (one per character, the language shaping the
 * timbre), an mslam TSV manifest with train/dev/test splits, and optionally rows that are bad in
 * each way the trainer must survive. */
#ifndef MSLAM_TRAIN_FIXTURE_H
#define MSLAM_TRAIN_FIXTURE_H

#include "mslam.h"

struct mslam_model_config;
struct mslam_model;
struct strlist;

/* What fixture_write adds beyond the good rows. */
enum {
    FIXTURE_BAD_ROWS = 1, /* a missing file, a zero-length file, a corrupt file, a transcript of punctuation */
};

/* Writes the corpus into a new folder under $TMPDIR (or /tmp): n_per_lang utterances per
 * language in train, 3 in dev and test. Returns the manifest path (static buffer) or NULL. */
const char *fixture_write(int n_per_lang, int flags);
/* Folder of the last fixture_write (static buffer). */
const char *fixture_dir(void);
/* Deletes the folder of the last fixture and everything in it. */
void fixture_remove(void);
/* A new empty folder under the fixture's (static buffer; valid until the next call). */
const char *fixture_subdir(const char *name);
/* The lines of the file at path (0 when it is not there yet). */
int fixture_count_lines(const char *path);
/* Runs argv (argv[0] a path) in a child process, sends it sig once its log file holds `lines`
 * lines and waits for it. Returns its wait status; -1 when it could not start, -2 when it ended
 * or 60 s went by before the log had the lines, or after the signal (then it is killed). */
int fixture_interrupt(char *const argv[], const char *log, int lines, int sig);
/* The same, calling meanwhile(data) once the log has the lines, before the signal. */
int fixture_interrupt_after(char *const argv[], const char *log, int lines, int sig, void (*meanwhile)(void *),
                            void *data);
/* A model of cfg's shape (its vocab_size and n_langs set here) over the vocabulary and languages
 * of every row of manifest, with random weights (seed, scale 0.3). NULL on failure. */
struct mslam_model *fixture_model(const char *manifest, struct mslam_model_config *cfg, unsigned long long seed);
/* Checks that the runs written into dir_a and dir_b (each a model.safetensors and a train.jsonl
 * logged every step) took the same `steps` steps up to the order of float sums: parameters,
 * the encoder's output of one fixture utterance, and every logged loss; `what` names the pair. */
void fixture_compare_runs(const char *dir_a, const char *dir_b, int steps, const char *what);
/* A log callback (mslam_log_set) that pushes each warning onto user_data, a struct strlist. */
void fixture_collect_warnings(enum mslam_log_level level, const char *message, void *user_data);
/* Whether one of the warnings collected holds both a and b ("" for b: a alone). */
int fixture_warned_of(const struct strlist *warnings, const char *a, const char *b);

#endif
