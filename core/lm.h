/* Character n-gram language models, one per language, over a model's vocabulary: shallow fusion
 * in the CTC prefix beam search and language identification from a transcript.
 *
 * Backoff form (as ARPA files): for a context h and a token w, p(w | h) = p*(h w) when the
 * n-gram h w is stored, otherwise bow(h) * p(w | h') where h' is h without its oldest token and
 * bow(h) = 1 when h is not stored; at the empty context a token never seen gets the language's
 * floor probability. The events are the vocabulary's non-reserved ids and the end of sentence
 * "</s>"; the start of sentence "<s>" is only ever context. Every distribution sums to 1
 * (`mslam-trainer lm` computes bow so, also after pruning).
 *
 * An n-gram is a 64-bit key: the ids + 1, `bits` bits each, the oldest in the lowest bits; so
 * order * bits <= 64 and no two n-grams share a key.
 *
 * File (safetensors): per language <code>.keys (I64, n), <code>.logp (F32, n: log p*(h w)),
 * <code>.bow (F32, n: log bow of the n-gram as a context, 0 when it is none), <code>.floor
 * (F32, 1); __metadata__: "format" = "mslam-char-lm", "format_version", "order", "vocab" (JSON
 * array, as a model's) and "langs" (JSON array). All logs are natural. */
#ifndef MSLAM_LM_H
#define MSLAM_LM_H

#include "mslam.h"

#include <stddef.h>
#include <stdint.h>

#define LM_FORMAT "mslam-char-lm"
#define LM_MAX_ORDER 16

typedef struct {
    char *code;
    uint64_t *keys; /* open addressing, cap slots (a power of 2); 0: a free slot */
    float *logp, *bow;
    size_t cap, n;
    float floor_logp;
} lm_table;

struct mslam_lm {
    char *path;
    int order, bits, vocab_size, bos_id, eos_id;
    char **vocab;
    int n_langs;
    lm_table *langs;
};

/* An empty LM (no n-gram, floor 0) for the builder. NULL on failure. */
mslam_lm *lm_new(int order, const char *const *vocab, int vocab_size, const char *const *langs, int n_langs);
/* Sets the table's capacity for n entries (drops what it holds). */
int lm_table_reserve(lm_table *t, size_t n);
/* Slot of key, or -1. */
long lm_table_find(const lm_table *t, uint64_t key);
/* Inserts or overwrites; the table must have room (lm_table_reserve). */
void lm_table_put(lm_table *t, uint64_t key, float logp, float bow);

/* Mixes a key's bits for open addressing. */
uint64_t lm_hash_key(uint64_t key);
/* Key of ids[0 .. n) (1 <= n <= order). */
uint64_t lm_key(const mslam_lm *lm, const int *ids, int n);
/* log p(token | ctx), ctx the n_ctx tokens before it, oldest first (only the last order - 1
 * count; a sentence's context starts with bos_id). */
double lm_token_logp(const mslam_lm *lm, const lm_table *t, const int *ctx, int n_ctx, int token);
/* Index of language code, or -1. */
int lm_lang_index(const mslam_lm *lm, const char *code);
/* 0 when the LM was built on model's vocabulary, else -1 with an error naming both (fn: the
 * caller, for the message). */
int lm_check_model(const mslam_lm *lm, const mslam_model *model, const char *fn);
/* Language ID with an LM: logits (n_langs, the LID head's) += weight * log p_lm(greedy CTC
 * transcript of frames (n_frames x d_model), then "</s>" | language) for the allowed languages
 * (allowed NULL: all); a language the LM lacks gets the lowest score of those it has. Needs
 * the CTC head. Returns 0 or -1. */
int lm_add_lid_scores(mslam_model *m, const mslam_lm *lm, float weight, const float *frames, int n_frames,
                      const unsigned char *allowed, float *logits, const char *fn);
/* Writes the LM atomically. */
int lm_save(const mslam_lm *lm, const char *path);

#endif
