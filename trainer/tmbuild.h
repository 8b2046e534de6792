/* mslam-trainer tm: translation memories (core/tm.h) from manifests' text pairs. */
#ifndef MSLAM_TRAINER_TMBUILD_H
#define MSLAM_TRAINER_TMBUILD_H

#include "tm.h"

typedef struct {
    const char *const *text;    /* manifests (NULL-terminated) whose rows with a translation are read */
    const char *const *holdout; /* manifests whose dev and test sentences are left out, or NULL */
    int split;                  /* enum manifest_split of the rows read; SPLIT_N: all */
} tm_build_options;

typedef struct {
    long pairs;     /* rows read with a sentence and a translation */
    long entries;   /* distinct sentences of a language (in the normal form) kept */
    long held_out;  /* rows left out because a holdout manifest has their sentence */
    long ambiguous; /* sentences with more than one translation (the most frequent is kept) */
} tm_build_stats;

/* Builds the memory of o's text pairs: each distinct source sentence of a language, in the normal
 * form the CTC head writes, with its most frequent translation (ties: the first in byte order),
 * entries by language and then sentence in byte order. No pair is an error. Returns 0 with *out
 * set, or -1. */
int tm_build(const tm_build_options *o, mslam_tm **out, tm_build_stats *stats);

int cmd_tm(int argc, char **argv);

#endif
