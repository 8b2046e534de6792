/* The clean, deduplicated sentences of one language, from gettext catalogs (with their English
 * source as translation) and fortune files (monolingual). One language at a time is held. */
#ifndef MSLAM_TRAINER_TEXTSRC_H
#define MSLAM_TRAINER_TEXTSRC_H

#include "langs.h"

#include <stddef.h>
#include <stdint.h>

struct sentence {
    char *text;        /* in the language */
    char *translation; /* its English source; NULL for monolingual text and for English */
    /* Decides the split: the hash of the English source when there is one (so that every
     * translation of one message lands in the same split in every language), else of text. */
    uint64_t key;
    uint64_t text_hash;
};

/* What the sources gave and why messages were dropped. */
struct text_source_stats {
    long catalogs, catalogs_skipped, fortune_files;
    long messages, kept, duplicates, untranslated;
    long rejected[TEXT_N_VERDICTS];
};

struct sentence_pool {
    const struct lang_info *lang;
    struct sentence *items;
    size_t n, cap;
    uint64_t *seen; /* open-addressing set of text hashes (0 = empty slot) */
    size_t seen_cap;
    struct text_source_stats stats;
};

void pool_init(struct sentence_pool *pool, const struct lang_info *lang);
void pool_free(struct sentence_pool *pool);

/* Adds the messages of the language's catalogs under locale_roots, a colon-separated list of
 * folders (<root>/<locale>/LC_MESSAGES/ *.mo, roots in list order, files in name order; a message
 * two catalogs share is added once). A catalog that cannot be read is skipped with a warning naming it
 * and the reason; only failures of the machine (memory) are errors. */
int pool_add_catalogs(struct sentence_pool *pool, const char *locale_roots);

/* Adds the sentences of one catalog; an unreadable catalog is an error here. */
int pool_add_catalog(struct sentence_pool *pool, const char *mo_path);

/* Adds the sentences of the language's fortune files under fortune_root. */
int pool_add_fortunes(struct sentence_pool *pool, const char *fortune_root);

/* Adds one candidate (cleaned and checked here; translation may be NULL). Returns 1 when
 * kept, 0 when dropped, -1 on failure. */
int pool_add(struct sentence_pool *pool, const char *text, const char *translation);

#endif
