/* Translation memory: known sentences with their English translations, found by fuzzy match
 * (mslam.h, "translation memory").
 *
 * File (safetensors): "sources" (U8: the sentences in the normal form the CTC head writes, each
 * followed by a NUL byte), "translations" (U8: their English as written, each followed by a NUL
 * byte; as many as sources), "languages" (I32, one per entry: its source's language, an index
 * into "langs"); __metadata__: "format" = "mslam-translation-memory", "format_version",
 * "entries" (the count) and "langs" (JSON array of language codes).
 *
 * In memory each source's length in code points is kept, and a character trigram index over them
 * (each source padded with one space at either end, so "ab" has the trigrams " ab" and "ab ")
 * lists, per trigram, the entries that have it, each entry once. */
#ifndef MSLAM_TM_H
#define MSLAM_TM_H

#include "mslam.h"
#include "search.h"

#include <stddef.h>
#include <stdint.h>

#define TM_FORMAT "mslam-translation-memory"
/* Candidates whose edit distance is computed, by trigram Dice coefficient */
#define TM_CANDIDATES 64

struct mslam_tm {
    char *path; /* as loaded (NULL: built in memory) */
    int n;
    char **langs;  /* (n_langs) codes */
    int n_langs;
    int32_t *lang; /* (n) entry i's language, an index into langs */
    char *sources, *translations; /* the file's two blobs */
    size_t source_bytes, translation_bytes;
    size_t *source_off, *translation_off; /* (n) where entry i starts in each */
    uint32_t *length;                     /* (n) code points of entry i's source */
    uint32_t *n_grams;                    /* (n) distinct trigrams of entry i */
    /* trigram -> its number: open addressing over gram_keys (gram_cap slots, 0 free) */
    uint64_t *gram_keys;
    uint32_t *gram_ids;
    size_t gram_cap;
    size_t *post_off; /* (distinct trigrams + 1): trigram g's entries are postings[post_off[g] ..] */
    uint32_t *postings;
};

/* A memory of n pairs (UTF-8, NUL-terminated; sources in the normal form; lang: each pair's
 * language, an index into langs (n_langs codes)) with its index, for the loader and the builder.
 * NULL on failure. */
mslam_tm *tm_new(const char *const *sources, const char *const *translations, const int32_t *lang,
                 const char *const *langs, int n_langs, int n);
/* Writes the memory to path atomically. */
int tm_save(const mslam_tm *tm, const char *path);

/* Translation by the memory: when text's nearest known sentence (of language lang; NULL: of any)
 * is at least min_similarity
 * similar and every character of its translation is in model's vocabulary, returns 1 with *out
 * the translation's characters (frame -1, log-probability log similarity; search_result_free
 * it); else 0 (the decoder is to translate) or -1 on failure (text not UTF-8, out of memory),
 * the error naming fn. */
int tm_translate(const mslam_model *model, const mslam_tm *tm, const char *lang, float min_similarity,
                 const char *text, search_result *out, const char *fn);

#endif
