/* What the fuzz tests share: the run's size and seed, the random draws, the "no error yet" mark,
 * and (fuzz.c, for fuzz_files and fuzz_api) a tiny model with every head, its LMs and a
 * translation memory. */
#ifndef MSLAM_FUZZ_H
#define MSLAM_FUZZ_H

#include "mslam.h"
#include "ops.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Recorded (mslam_error) before each call, so that a call that fails without recording an error
 * of its own is caught. */
#define FUZZ_NO_ERROR "fuzz: no error recorded"

/* A test's rounds: its default base times MSLAM_FUZZ_SCALE (a positive integer, default 1); -1,
 * with a message, when the variable holds anything else (a typo must not make a run of 0 rounds
 * that passes). */
static inline int fuzz_rounds(int base) {
    const char *s = getenv("MSLAM_FUZZ_SCALE");
    if (!s || !*s) return base;
    char *end;
    long k = strtol(s, &end, 10);
    if (*end || k < 1 || k > INT_MAX / base) {
        fprintf(stderr, "MSLAM_FUZZ_SCALE=%s is not a positive integer (up to %d)\n", s, INT_MAX / base);
        return -1;
    }
    return (int)(base * k);
}

/* The draws' seed: MSLAM_FUZZ_SEED (default 1); 0 with a message when it is not a number. */
static inline int fuzz_seed(uint64_t *seed) {
    const char *s = getenv("MSLAM_FUZZ_SEED");
    char *end = NULL;
    *seed = s && *s ? strtoull(s, &end, 10) : 1;
    if (end && *end) {
        fprintf(stderr, "MSLAM_FUZZ_SEED=%s is not a number\n", s);
        return 0;
    }
    return 1;
}

/* Uniform in [0, n); 0 when n is 0. */
static inline uint32_t draw(mslam_rng *rng, uint32_t n) { return n ? mslam_rng_u32(rng) % n : 0; }

/* One element of an array (a compound literal too). */
#define PICK(rng, array) (array)[draw(rng, sizeof(array) / sizeof *(array))]

/* Answers counted by the checks below: results (or lookups) and errors. */
extern long fuzz_n_results, fuzz_n_errors;

/* A call failed: it must have recorded an error of its own (not FUZZ_NO_ERROR). */
void fuzz_check_error(const char *call);
/* A call's result (NULL: fuzz_check_error): valid UTF-8, confidence and token probabilities in
 * [0, 1], frames [start, end) with recognition tokens inside them. Frees r. Both checks record
 * FUZZ_NO_ERROR again for the next call. */
void fuzz_check_result(mslam_result *r, const char *call, int recognition);
/* mslam_tm_lookup's answer found (with *match when 1): an error of its own, none, or an entry of
 * tm with its strings and a similarity in [0, 1]. */
void fuzz_check_lookup(const mslam_tm *tm, int found, const struct mslam_tm_match *match, const char *call);

/* A model with CTC, LID and a 1-layer decoder over the fixture corpus's vocabulary and languages
 * (tests/train_fixture.h), the LMs of its transcripts and translations, and a memory of 4
 * sentences in its first two languages. */
typedef struct {
    mslam_model *model;
    mslam_lm *lm, *translation_lm;
    mslam_tm *tm;
} fuzz_fixture;

/* Builds it from the fixture corpus's manifest; 0, or -1 with what failed recorded by CHECK. */
int fuzz_fixture_make(const char *manifest, fuzz_fixture *fx);
void fuzz_fixture_free(fuzz_fixture *fx);

#endif
