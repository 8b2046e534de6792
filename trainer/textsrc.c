#include "textsrc.h"

#include "common.h"
#include "mo.h"
#include "util.h"

#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Largest fortune file read (the largest Debian ships is under 1 MB). */
#define FORTUNE_MAX_FILE_SIZE ((size_t)32 << 20)
/* Cleaning works in a fixed buffer: inputs longer than this are over any max_chars anyway. */
#define CLEAN_BUFFER 2048

void pool_init(struct sentence_pool *pool, const struct lang_info *lang) {
    *pool = (struct sentence_pool){.lang = lang};
}

void pool_free(struct sentence_pool *pool) {
    for (size_t i = 0; i < pool->n; i++) {
        free(pool->items[i].text);
        free(pool->items[i].translation);
    }
    free(pool->items);
    free(pool->seen);
    *pool = (struct sentence_pool){0};
}

/* ---- the set of texts already in the pool ---- */

static int seen_grow(struct sentence_pool *pool) {
    size_t cap = pool->seen_cap ? 2 * pool->seen_cap : 1024;
    uint64_t *seen = mslam_calloc(cap, sizeof *seen, "the set of sentences seen");
    if (!seen) return -1;
    for (size_t i = 0; i < pool->seen_cap; i++) {
        uint64_t h = pool->seen[i];
        if (!h) continue;
        size_t j = h & (cap - 1);
        while (seen[j]) j = (j + 1) & (cap - 1);
        seen[j] = h;
    }
    free(pool->seen);
    pool->seen = seen;
    pool->seen_cap = cap;
    return 0;
}

/* Inserts h; returns 1 when it was new, 0 when present, -1 on failure. */
static int seen_insert(struct sentence_pool *pool, uint64_t h) {
    if (h == 0) h = 1; /* 0 marks an empty slot */
    if (2 * (pool->n + 1) > pool->seen_cap && seen_grow(pool)) return -1;
    size_t j = h & (pool->seen_cap - 1);
    while (pool->seen[j]) {
        if (pool->seen[j] == h) return 0;
        j = (j + 1) & (pool->seen_cap - 1);
    }
    pool->seen[j] = h;
    return 1;
}

/* ---- adding sentences ---- */

/* A translation whose length is far from its source's is a fragment or a different message. */
static int lengths_match(const struct lang_info *lang, const char *text, const char *source) {
    double a = (double)mslam_utf8_length(text), b = (double)mslam_utf8_length(source);
    double low = lang->unspaced ? 0.1 : 0.33;
    return a >= low * b && a <= 3.0 * b;
}

int pool_add(struct sentence_pool *pool, const char *text, const char *translation) {
    const struct lang_info *lang = pool->lang;
    struct text_rules rules = text_default_rules(lang->script, lang->unspaced);
    struct text_rules english = text_default_rules(SCRIPT_LATIN, 0);
    char clean[CLEAN_BUFFER], clean_source[CLEAN_BUFFER];
    pool->stats.messages++;
    enum text_verdict verdict = text_clean(text, &rules, clean, sizeof clean);
    if (verdict == TEXT_OK && translation)
        verdict = text_clean(translation, &english, clean_source, sizeof clean_source);
    if (verdict != TEXT_OK) {
        pool->stats.rejected[verdict]++;
        return 0;
    }
    if (translation && (strcasecmp(clean, clean_source) == 0 || !lengths_match(lang, clean, clean_source))) {
        pool->stats.untranslated++;
        return 0;
    }
    uint64_t text_hash = hash_str(clean, 0);
    int is_new = seen_insert(pool, text_hash);
    if (is_new <= 0) {
        if (is_new == 0) pool->stats.duplicates++;
        return is_new;
    }
    if (pool->n == pool->cap) {
        size_t cap = pool->cap ? 2 * pool->cap : 1024;
        struct sentence *items = realloc(pool->items, cap * sizeof *items);
        if (!items) return mslam_error("out of memory for %zu sentences of %s", cap, lang->code);
        pool->items = items;
        pool->cap = cap;
    }
    struct sentence *s = &pool->items[pool->n];
    *s = (struct sentence){.text = str_dup(clean), .translation = translation ? str_dup(clean_source) : NULL};
    if (!s->text || (translation && !s->translation)) {
        free(s->text);
        free(s->translation);
        return -1;
    }
    s->text_hash = text_hash;
    s->key = translation ? hash_str(clean_source, 0) : text_hash;
    pool->n++;
    pool->stats.kept++;
    return 1;
}

/* ---- gettext catalogs ---- */

/* Converts s to UTF-8 into buf (size bytes); NULL when it does not convert or fit. */
static const char *to_utf8(iconv_t cd, const char *s, char *buf, size_t size) {
    char *in = (char *)s, *out = buf;
    size_t in_left = strlen(s), out_left = size - 1;
    iconv(cd, NULL, NULL, NULL, NULL);
    if (iconv(cd, &in, &in_left, &out, &out_left) == (size_t)-1) return NULL;
    *out = '\0';
    return buf;
}

static int is_utf8_charset(const char *charset) {
    return charset[0] == '\0' || strcasecmp(charset, "UTF-8") == 0 || strcasecmp(charset, "UTF8") == 0 ||
           strcasecmp(charset, "ASCII") == 0 || strcasecmp(charset, "US-ASCII") == 0;
}

int pool_add_catalog(struct sentence_pool *pool, const char *mo_path) {
    mo_catalog *catalog = mo_open(mo_path);
    if (!catalog) return -1;
    /* Older GNU catalogs are in ISO-8859-x, KOI8-R, EUC-JP...: convert them. */
    const char *charset = mo_charset(catalog);
    iconv_t cd = (iconv_t)-1;
    if (!is_utf8_charset(charset) && (cd = iconv_open("UTF-8", charset)) == (iconv_t)-1) {
        mo_close(catalog);
        return mslam_error("%s: charset %s cannot be converted to UTF-8", mo_path, charset);
    }
    int english = lang_is_english(pool->lang), rc = 0;
    char original[CLEAN_BUFFER], translation[CLEAN_BUFFER];
    for (size_t i = 0; rc >= 0 && i < mo_count(catalog); i++) {
        struct mo_message m = mo_get(catalog, i);
        if (m.translation[0] == '\0') continue;
        if (cd != (iconv_t)-1) {
            m.original = to_utf8(cd, m.original, original, sizeof original);
            m.translation = to_utf8(cd, m.translation, translation, sizeof translation);
            if (!m.original || !m.translation) {
                pool->stats.rejected[TEXT_ENCODING]++;
                continue;
            }
        }
        rc = english ? pool_add(pool, m.original, NULL) : pool_add(pool, m.translation, m.original);
    }
    if (cd != (iconv_t)-1) iconv_close(cd);
    mo_close(catalog);
    pool->stats.catalogs++;
    return rc < 0 ? -1 : 0;
}

/* The .mo files of one LC_MESSAGES folder (a missing folder adds nothing). */
static int pool_add_catalog_folder(struct sentence_pool *pool, const char *dir) {
    struct strlist files = {0};
    int rc = list_files(dir, &files);
    for (size_t f = 0; rc == 0 && f < files.n; f++) {
        if (!mslam_str_ends_with(files.items[f], ".mo")) continue;
        if (pool_add_catalog(pool, files.items[f])) {
            /* One broken catalog among thousands should not stop a build (the error is already
             * reported). */
            mslam_log(MSLAM_LOG_WARN, "catalog skipped, the build goes on: %s", files.items[f]);
            pool->stats.catalogs_skipped++;
        }
    }
    strlist_free(&files);
    return rc;
}

int pool_add_catalogs(struct sentence_pool *pool, const char *locale_roots) {
    struct strlist roots = {0}, locales = {0};
    int rc = strlist_split_on(&roots, locale_roots, ':');
    if (rc == 0) rc = strlist_split(&locales, pool->lang->locales);
    for (size_t r = 0; rc == 0 && r < roots.n; r++)
        for (size_t l = 0; rc == 0 && l < locales.n; l++) {
            char *dir = str_printf("%s/%s/LC_MESSAGES", roots.items[r], locales.items[l]);
            rc = dir ? pool_add_catalog_folder(pool, dir) : -1;
            free(dir);
        }
    strlist_free(&locales);
    strlist_free(&roots);
    return rc;
}

/* ---- fortune files ---- */

/* A line that is no part of the saying: an attribution ("-- Author"), a quote of an e-mail or
 * chat line, a heading. */
static int fortune_line_skipped(const char *line, size_t n) {
    while (n > 0 && (*line == ' ' || *line == '\t')) line++, n--;
    if (n == 0) return 1;
    if (n >= 2 && line[0] == '-' && line[1] == '-') return 1;
    if (n >= 3 && (memcmp(line, "\xe2\x80\x94", 3) == 0 || memcmp(line, "\xe2\x80\x95", 3) == 0)) return 1;
    return strchr("><#[|*", line[0]) != NULL;
}

/* Sentence ends: . ! ? and their CJK and Indic forms, then closing quotes, then a space. */
static size_t sentence_end(const char *s, size_t n, size_t i) {
    static const char *const enders[] = {".", "!", "?", "\xe2\x80\xa6", "\xe3\x80\x82", "\xef\xbc\x81",
                                         "\xef\xbc\x9f", "\xe0\xa5\xa4"};
    static const char *const closers[] = {"\"", "'", ")", "\xc2\xbb", "\xe2\x80\x9d", "\xe2\x80\x99"};
    size_t at = 0;
    for (size_t k = 0; k < sizeof enders / sizeof enders[0]; k++) {
        size_t len = strlen(enders[k]);
        if (i + len <= n && memcmp(s + i, enders[k], len) == 0) at = i + len;
    }
    if (!at) return 0;
    for (int again = 1; again;) {
        again = 0;
        for (size_t k = 0; k < sizeof closers / sizeof closers[0]; k++) {
            size_t len = strlen(closers[k]);
            if (at + len <= n && memcmp(s + at, closers[k], len) == 0) at += len, again = 1;
        }
    }
    return at == n || s[at] == ' ' ? at : 0;
}

static int add_paragraph(struct sentence_pool *pool, const char *text, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        size_t end = i < n ? sentence_end(text, n, i) : n;
        if (!end) continue;
        while (start < end && text[start] == ' ') start++;
        if (end - start < CLEAN_BUFFER && end > start) {
            char sentence[CLEAN_BUFFER];
            memcpy(sentence, text + start, end - start);
            sentence[end - start] = '\0';
            if (pool_add(pool, sentence, NULL) < 0) return -1;
        }
        start = end;
        i = end > i ? end - 1 : i;
    }
    return 0;
}

/* One fortune: lines up to a line holding only '%'; the kept lines are joined by spaces. */
static int add_fortune_file(struct sentence_pool *pool, const char *path) {
    char *data;
    size_t size;
    if (read_file(path, FORTUNE_MAX_FILE_SIZE, &data, &size)) return -1;
    if (mslam_utf8_length(data) < 0) {
        free(data);
        return mslam_error("%s is not UTF-8 text", path);
    }
    char *paragraph = mslam_malloc(size + 1, "a fortune");
    int rc = paragraph ? 0 : -1;
    size_t p = 0;
    for (size_t i = 0; rc == 0 && i < size;) {
        size_t len = strcspn(data + i, "\n"), line = len;
        if (line > 0 && data[i + line - 1] == '\r') line--;
        if (line == 1 && data[i] == '%') {
            rc = add_paragraph(pool, paragraph, p);
            p = 0;
        } else if (!fortune_line_skipped(data + i, line)) {
            if (p > 0) paragraph[p++] = ' ';
            memcpy(paragraph + p, data + i, line);
            p += line;
        }
        i += len + 1;
    }
    if (rc == 0 && p > 0) rc = add_paragraph(pool, paragraph, p);
    free(paragraph);
    free(data);
    pool->stats.fortune_files++;
    return rc;
}

int pool_add_fortunes(struct sentence_pool *pool, const char *fortune_root) {
    struct strlist entries = {0}, files = {0};
    if (strlist_split(&entries, pool->lang->fortunes)) return -1;
    int rc = 0;
    for (size_t e = 0; rc == 0 && e < entries.n; e++) {
        const char *entry = entries.items[e];
        if (entry[0] == '!') continue;
        char *path = path_join(fortune_root, entry);
        if (!path) rc = -1;
        else if (file_exists(path)) rc = strlist_push(&files, path);
        else rc = list_files(path, &files);
        free(path);
    }
    for (size_t f = 0; rc == 0 && f < files.n; f++) {
        const char *file = files.items[f];
        if (mslam_str_ends_with(file, ".dat") || mslam_str_ends_with(file, ".u8")) continue; /* index, link */
        int excluded = 0;
        for (size_t e = 0; e < entries.n && !excluded; e++) {
            const char *entry = entries.items[e];
            excluded = entry[0] == '!' && mslam_str_ends_with(file, entry + 1);
        }
        if (excluded) continue;
        if (add_fortune_file(pool, file)) {
            mslam_log(MSLAM_LOG_WARN, "skipping fortune file: %s", mslam_last_error());
            rc = 0;
        }
    }
    strlist_free(&files);
    strlist_free(&entries);
    return rc;
}
