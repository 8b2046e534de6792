/* mslam-trainer lm: character n-gram language models (core/lm.h) from manifests' transcripts. */
#ifndef MSLAM_TRAINER_LMBUILD_H
#define MSLAM_TRAINER_LMBUILD_H

#include "lm.h"
#include "model.h"

typedef struct {
    const char *const *text;    /* manifests (NULL-terminated) whose transcripts are the text */
    const char *const *holdout; /* manifests whose dev and test transcripts (translations, with
                                 * translations set) are left out, or NULL */
    int split;                  /* enum manifest_split of the rows read; SPLIT_N: all */
    const char *const *langs;   /* NULL-terminated language codes, or NULL: the model's */
    int translations;           /* 1: one LM ("en") of the rows' English translations, as written
                                 * (the decoder's text), instead of the transcripts' (langs unused) */
    int order;
    int prune_count;            /* n-grams of order >= 3 seen fewer times are dropped */
} lm_build_options;

typedef struct {
    long sentences, chars;      /* distinct normal-form sentences read, and their characters */
    long held_out;              /* sentences left out because a holdout manifest has them */
    long unknown_chars;         /* sentences left out: a character outside the vocabulary */
    long ngrams[LM_MAX_ORDER + 1]; /* kept, by order */
} lm_build_stats;

/* Builds the LM of every language from o's text over model's vocabulary. A language without a
 * sentence is an error naming it. Returns 0 with *out set, or -1. */
int lm_build(const mslam_model *model, const lm_build_options *o, mslam_lm **out, lm_build_stats *stats);

int cmd_lm(int argc, char **argv);

#endif
