/* Training checkpoints: the model file (config, vocabulary, languages, every parameter) plus
 * the optimizer moments as tensors "optimizer.m" and "optimizer.v" (flat, the parameter block's
 * layout) and the training position in the __metadata__ key "training" (JSON). One safetensors
 * file, written atomically (temporary file, fsync, rename), so a crash leaves the previous
 * checkpoint intact. `mslam-trainer export` strips the optimizer and position. */
#ifndef MSLAM_TRAINER_CHECKPOINT_H
#define MSLAM_TRAINER_CHECKPOINT_H

#include "model.h"
#include "optim.h"

#include <stdint.h>

#define CHECKPOINT_OPTIMIZER_PREFIX "optimizer."
/* Most processes, and most micro-batches a process, a checkpoint's position may record. */
#define CHECKPOINT_MAX_SPLIT 65536

/* The usable rows of a dataset that a position counts in (the epochs' order indexes them): how
 * many, a hash of them in their order and one in any order (rows 0: not recorded, as in the
 * checkpoints written before it). */
typedef struct {
    long rows;
    uint64_t hash, unordered;
} train_rows;

/* Scores a log record averages over its interval (train.c's step_report: losses, accuracies,
 * the codes' figures, the gradient norm). */
#define CHECKPOINT_LOG_SCORES 14

/* Where training stands. Every random draw is a function of (seed, step), so these numbers are
 * the whole state needed to continue exactly. */
typedef struct {
    long step;            /* optimizer steps taken (including skipped ones) */
    long epoch;           /* epoch of the next batch */
    long batch;           /* index of the next batch in that epoch's order */
    uint64_t seed;
    int world_size;       /* processes that trained */
    int accumulate;       /* micro-batches per step and process (--accumulate; 1 in older checkpoints) */
    int global_batch;     /* examples per step: processes x micro-batches x batch size */
    double audio_seconds; /* audio trained on so far */
    long skipped_steps;   /* steps skipped for a non-finite loss or gradient */
    double elapsed_s;     /* training time so far */
    /* --best-metric: its name ("" before the first validation), the best score so far
     * (best_step 0: none yet) and the validations since without a better one (--patience) */
    char best_metric[8];
    long best_step;
    double best_score;
    int stale_validations;
    int validation_pending; /* a signal stopped this step's validation: a resume runs it first */
    train_rows data;        /* --data's usable examples */
    train_rows text;        /* --text-data's usable text rows (rows 0: none) */
    /* the log interval (--log-every) under way: its steps so far (0: none, as in checkpoints
     * before it was kept) and the sums of their scores, so that a resumed run's first record
     * averages the same steps as an uninterrupted run's */
    int log_steps;
    double log_sums[CHECKPOINT_LOG_SCORES];
} train_position;

/* Writes model, opt (NULL: no optimizer state), pos and options (the run's options_record, in
 * the __metadata__ key "training_options"; NULL: none) to path. */
int checkpoint_save(const char *path, const mslam_model *model, const adamw *opt, const train_position *pos,
                    const char *options);

/* Reads a checkpoint or a plain model file: *model gets the model; pos (may be NULL) the
 * training position (zero for a plain model), and *has_state (may be NULL) whether the file is a
 * checkpoint. */
int checkpoint_load(const char *path, mslam_model **model, train_position *pos, int *has_state);
/* The same from an opened file. */
int checkpoint_read(const st_file *f, mslam_model **model, train_position *pos, int *has_state);
/* The options record a checkpoint was written with; NULL when it has none (checkpoints before
 * session 14) or cannot be read. New string. */
char *checkpoint_options(const char *path);
/* The same in an opened file, NULL when it has none (the file's string). */
const char *checkpoint_options_of(const st_file *f);
/* Fills the moments and update count of opt (adamw_init'd for the checkpoint's model). */
int checkpoint_load_optimizer(const char *path, adamw *opt);

/* Path of step's checkpoint in dir: dir/ckpt-00001234.safetensors. New string. */
char *checkpoint_path(const char *dir, long step);
/* Step of a checkpoint file name (ckpt-STEP.safetensors), or -1 when the name is not one. */
long checkpoint_step(const char *path);
/* Newest checkpoint in dir (highest step), or NULL when there is none (no error). */
char *checkpoint_latest(const char *dir);
/* Newest checkpoint in dir older than step (a lower step), or NULL when there is none. */
char *checkpoint_before(const char *dir, long step);
/* Deletes all but the newest keep checkpoints in dir, and what interrupted saves left there
 * (ckpt-*.safetensors.tmp-*); a file that cannot be deleted is warned of. -1 only when dir
 * cannot be read. */
int checkpoint_prune(const char *dir, int keep);

/* For the commands that read one model file (eval --model, info, export --checkpoint): an error
 * when path is a folder, naming the files of a training run's folder (train --out) to give
 * instead: model.safetensors, best.safetensors and its latest checkpoint, or with
 * checkpoint_only (export) the checkpoint alone. option ("--model ", or "" for info) starts the
 * message. 0 when path is not a folder (or cannot be read: the reader says why). */
int refuse_run_folder(const char *path, const char *option, int checkpoint_only);

#endif
