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
 * Each language numbers the characters its text has (with "<s>" and "</s>") 1..n_chars, and an
 * n-gram is a 64-bit key of these numbers, `bits` bits each (the fewest that hold n_chars), the
 * oldest in the lowest bits: no two n-grams share a key, and a language's order is at most
 * 64 / bits (a small alphabet gets long n-grams: 6 bits give 10, Cantonese's 11 bits give 5). A
 * character the language never had is seen only through the floor.
 *
 * File (safetensors): per language <code>.chars (I32, n_chars: the vocabulary ids of numbers
 * 1..n_chars), <code>.keys (I64, n), <code>.logp (F32, n: log p*(h w)), <code>.bow (F32, n:
 * log bow of the n-gram as a context, 0 when it is none), <code>.floor (F32, 1); __metadata__:
 * "format" = "mslam-char-lm", "format_version", "order" (the largest), "vocab" (JSON array, as a
 * model's), "langs" (JSON array) and "text": "transcript" (sentences in the normal form the CTC
 * head writes; absent in older files means this) or "translation" (one language, "en": the
 * English the translation decoder writes, as written, for fusion in its beam search). All logs
 * are natural. */
#ifndef MSLAM_LM_H
#define MSLAM_LM_H

#include "mslam.h"

#include <stddef.h>
#include <stdint.h>

#define LM_FORMAT "mslam-char-lm"
#define LM_MAX_ORDER 16
/* The largest log-probability or log backoff weight, in size, a file may hold (an estimate's
 * stay far inside it) */
#define LM_LOG_LIMIT 100.0f
/* The log-probability of "<s>", which is never predicted: its entry holds a backoff weight only
 * and is no n-gram. */
#define LM_BOS_LOGP (-99.0f)

typedef struct {
    char *code;
    uint64_t *keys; /* open addressing, cap slots (a power of 2); 0: a free slot */
    float *logp, *bow;
    size_t cap, n;
    float floor_logp;
    int32_t *chars; /* (n_chars) vocabulary id of character number i + 1 */
    int32_t *local; /* (vocab_size) number of a vocabulary id, 0 when the language lacks it */
    int n_chars, bits, order;
} lm_table;

struct mslam_lm {
    char *path;
    int order, vocab_size, bos_id, eos_id; /* order: the largest a language may have */
    char **vocab;
    int n_langs;
    lm_table *langs;
    int of_translations; /* 1: "text" = "translation", 0: "transcript" */
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
/* Open addressing over keys (cap slots, a power of 2, at least one free; 0 marks a free slot):
 * the slot that holds key, or the free slot where it goes. */
size_t lm_probe(const uint64_t *keys, size_t cap, uint64_t key);
/* Numbers the language's characters: ids (n vocabulary ids, no repeats, "<s>" and "</s>"
 * among them) get 1..n in order; sets bits and order (min(lm->order, 64 / bits)). */
int lm_table_set_chars(const mslam_lm *lm, lm_table *t, const int *ids, int n);
/* Key of the vocabulary ids ids[0 .. n) (1 <= n <= t->order); 0 when the language lacks one. */
uint64_t lm_key(const lm_table *t, const int *ids, int n);
/* The vocabulary ids of a key into ids (room for t->order); their count, or -1 when the key is
 * not 1..order of the language's characters packed without a gap. */
int lm_key_decode(const lm_table *t, uint64_t key, int *ids);
/* log p(token | ctx), ctx the n_ctx vocabulary ids before it, oldest first (only the last
 * t->order - 1 count, and none before a character the language lacks; a sentence's context
 * starts with bos_id). */
double lm_token_logp(const lm_table *t, const int *ctx, int n_ctx, int token);
/* The LM's path, or "(in memory)", for messages. */
const char *lm_name(const mslam_lm *lm);
/* 0 when the LM was built on model's vocabulary from the text named (of_translations 1: English
 * translations, 0: transcripts), else -1 with an error naming the files (fn: the caller, for the
 * message). */
int lm_check_model(const mslam_lm *lm, const mslam_model *model, int of_translations, const char *fn);
/* Language ID with an LM: logits (n_langs, the LID head's) += weight * log p_lm(greedy CTC
 * transcript of frames (n_frames x d_model; its CTC log_probs, n_frames x vocab_size, when the
 * caller has them, else NULL), then "</s>" | language) for the allowed languages
 * (allowed NULL: all); a language the LM lacks gets the lowest score of those it has. Needs
 * the CTC head. Returns 0 or -1. */
int lm_add_lid_scores(mslam_model *m, const mslam_lm *lm, float weight, const float *frames, int n_frames,
                      const float *log_probs, const unsigned char *allowed, float *logits, const char *fn);
/* Language ID on frames (n_frames x d_model) over params->languages (lm_only: and the
 * languages of params->lm), with params->lm's scores when lid_lm_weight > 0: probs (n_langs) as
 * mslam_identify_language_frames; log_probs as lm_add_lid_scores. Returns the best language or -1
 * (fn names the caller). */
struct mslam_decode_params;
int identify_language_frames(mslam_model *model, const struct mslam_decode_params *params, const float *frames,
                             int n_frames, const float *log_probs, float *probs, int lm_only, const char *fn);
/* 0 when params' LM weights are usable (finite; lm_weight, lid_lm_weight not negative), else -1
 * with an error naming them. */
int lm_check_weights(const struct mslam_decode_params *params, const char *fn);
/* Writes the LM atomically. */
int lm_save(const mslam_lm *lm, const char *path);

#endif
