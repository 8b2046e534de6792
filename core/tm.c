/* Translation memory: index, lookup, file reading and writing (see tm.h). */
#include "tm.h"

#include "common.h"
#include "lm.h"
#include "model.h"
#include "safetensors.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mslam_tm_free(mslam_tm *tm) {
    if (!tm) return;
    free(tm->path);
    for (int i = 0; tm->langs && i < tm->n_langs; i++) free(tm->langs[i]);
    free(tm->langs);
    free(tm->lang);
    free(tm->sources);
    free(tm->translations);
    free(tm->source_off);
    free(tm->translation_off);
    free(tm->length);
    free(tm->n_grams);
    free(tm->gram_keys);
    free(tm->gram_ids);
    free(tm->post_off);
    free(tm->postings);
    free(tm);
}

int mslam_tm_n_entries(const mslam_tm *tm) { return tm ? tm->n : 0; }

/* Key of the trigram at padded position i of cps (n code points with a space before and after;
 * 0 <= i < n): 21 bits a code point, never 0. */
static uint64_t gram_key(const uint32_t *cps, long n, long i) {
    uint64_t key = 0;
    for (long k = i - 1; k <= i + 1; k++) key = key << 21 | (k < 0 || k >= n ? ' ' : cps[k]);
    return key;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The distinct trigram keys of cps (n code points) into keys (room for n), sorted; their count.
 * For a query; building the index counts each sentence's distinct trigrams through the tallies of
 * build_index instead, which spares 349,520 sorts. */
static int distinct_grams(const uint32_t *cps, long n, uint64_t *keys) {
    for (long i = 0; i < n; i++) keys[i] = gram_key(cps, n, i);
    qsort(keys, (size_t)n, sizeof *keys, cmp_u64);
    int d = 0;
    for (long i = 0; i < n; i++)
        if (!d || keys[i] != keys[d - 1]) keys[d++] = keys[i];
    return d;
}

/* Number of a trigram key, or -1 when no entry has it. */
static long gram_find(const mslam_tm *tm, uint64_t key) {
    size_t at = lm_probe(tm->gram_keys, tm->gram_cap, key);
    return tm->gram_keys[at] ? (long)tm->gram_ids[at] : -1;
}

static int gram_table_grow(mslam_tm *tm) {
    size_t cap = tm->gram_cap ? 2 * tm->gram_cap : 1 << 16;
    uint64_t *keys = calloc(cap, sizeof *keys);
    uint32_t *ids = malloc(cap * sizeof *ids);
    if (!keys || !ids) {
        free(keys), free(ids);
        return mslam_error("out of memory indexing a translation memory");
    }
    for (size_t s = 0; s < tm->gram_cap; s++) {
        if (!tm->gram_keys[s]) continue;
        size_t at = lm_probe(keys, cap, tm->gram_keys[s]);
        keys[at] = tm->gram_keys[s];
        ids[at] = tm->gram_ids[s];
    }
    free(tm->gram_keys), free(tm->gram_ids);
    tm->gram_keys = keys, tm->gram_ids = ids, tm->gram_cap = cap;
    return 0;
}

/* The number of trigram key in tm's table, inserted when new (*n_distinct counts them). */
static long gram_insert(mslam_tm *tm, uint64_t key, size_t *n_distinct) {
    if (2 * (*n_distinct + 1) > tm->gram_cap && gram_table_grow(tm)) return -1;
    size_t slot = lm_probe(tm->gram_keys, tm->gram_cap, key);
    if (!tm->gram_keys[slot]) {
        tm->gram_keys[slot] = key;
        tm->gram_ids[slot] = (uint32_t)(*n_distinct)++;
    }
    return tm->gram_ids[slot];
}

/* A trigram's entries while the index is built: how many, and the last entry (plus one) that
 * counted or listed it, so that a trigram a sentence holds twice counts once without sorting. */
typedef struct {
    size_t entries;
    uint32_t last;
} gram_tally;

/* &(*tallies)[id], *tallies (*cap of them, zero-filled) grown to hold id; NULL when out of memory. */
static gram_tally *tally_at(gram_tally **tallies, size_t *cap, size_t id) {
    if (id >= *cap) {
        size_t grown_cap = *cap ? 2 * *cap : 1 << 16;
        while (grown_cap <= id) grown_cap *= 2;
        gram_tally *grown = realloc(*tallies, grown_cap * sizeof *grown);
        if (!grown) {
            mslam_error("out of memory indexing a translation memory");
            return NULL;
        }
        memset(grown + *cap, 0, (grown_cap - *cap) * sizeof *grown);
        *tallies = grown, *cap = grown_cap;
    }
    return &(*tallies)[id];
}

/* Builds the trigram index over tm's sources: a pass that checks each source, notes its length
 * in code points and counts each trigram's entries, then one filling the lists (the code points
 * are decoded again rather than kept). */
static int build_index(mslam_tm *tm) {
    size_t n_distinct = 0, longest = 1, tallies_cap = 0; /* longest: bytes, at least the code points */
    for (int e = 0; e < tm->n; e++) {
        size_t end = e + 1 < tm->n ? tm->source_off[e + 1] : tm->source_bytes;
        if (end - tm->source_off[e] > longest) longest = end - tm->source_off[e];
    }
    uint32_t *cps = malloc(longest * sizeof *cps);
    gram_tally *tallies = NULL;
    int rc = cps && (tm->n_grams = malloc((size_t)(tm->n ? tm->n : 1) * sizeof *tm->n_grams)) &&
                     (tm->length = malloc((size_t)(tm->n ? tm->n : 1) * sizeof *tm->length))
                 ? gram_table_grow(tm)
                 : mslam_error("out of memory indexing a translation memory");
    for (int pass = 0; pass < 2 && !rc; pass++) {
        if (pass == 1) {
            tm->post_off = malloc((n_distinct + 1) * sizeof *tm->post_off);
            size_t total = 0;
            for (size_t g = 0; g < n_distinct; g++) total += tallies[g].entries;
            tm->postings = malloc((total ? total : 1) * sizeof *tm->postings);
            if (!tm->post_off || !tm->postings) {
                rc = mslam_error("out of memory indexing a translation memory");
                break;
            }
            /* post_off[g] is g's fill position until the lists are full */
            size_t sum = 0;
            for (size_t g = 0; g < n_distinct; g++) tm->post_off[g] = sum, sum += tallies[g].entries, tallies[g].last = 0;
            tm->post_off[n_distinct] = sum;
        }
        for (int e = 0; !rc && e < tm->n; e++) {
            const char *source = tm->sources + tm->source_off[e];
            long len = mslam_utf8_decode_all(source, cps);
            if (len <= 0) {
                char what[64];
                snprintf(what, sizeof what, "entry %d's source", e);
                rc = len ? mslam_utf8_check(source, what) : mslam_error("%s is empty", what);
                break;
            }
            uint32_t distinct = 0;
            for (long i = 0; !rc && i < len; i++) {
                uint64_t key = gram_key(cps, len, i);
                long id = pass ? gram_find(tm, key) : gram_insert(tm, key, &n_distinct);
                gram_tally *t = id < 0 ? NULL : tally_at(&tallies, &tallies_cap, (size_t)id);
                if (!t) rc = -1;
                else if (t->last != (uint32_t)e + 1) {
                    t->last = (uint32_t)e + 1;
                    distinct++;
                    if (pass) tm->postings[tm->post_off[id]++] = (uint32_t)e;
                    else t->entries++;
                }
            }
            if (!pass) tm->length[e] = (uint32_t)len, tm->n_grams[e] = distinct;
        }
    }
    if (!rc) {
        for (size_t g = n_distinct; g > 0; g--) tm->post_off[g] = tm->post_off[g - 1];
        tm->post_off[0] = 0;
    }
    free(cps);
    free(tallies);
    return rc;
}

/* Copies n NUL-terminated strings into one blob with their offsets. */
static int pack_strings(const char *const *s, int n, char **blob, size_t **off, size_t *bytes) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += strlen(s[i]) + 1;
    *blob = malloc(total ? total : 1);
    *off = malloc((size_t)(n ? n : 1) * sizeof **off);
    if (!*blob || !*off) return mslam_error("out of memory for a translation memory of %d entries", n);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(s[i]) + 1;
        (*off)[i] = at;
        memcpy(*blob + at, s[i], k);
        at += k;
    }
    *bytes = total;
    return 0;
}

mslam_tm *tm_new(const char *const *sources, const char *const *translations, const int32_t *lang,
                 const char *const *langs, int n_langs, int n) {
    mslam_tm *tm = mslam_calloc(1, sizeof *tm, "a translation memory");
    if (!tm) return NULL;
    tm->n = n;
    if (modelfile_check_langs(langs, n_langs, "translation memory")) goto fail;
    tm->langs = modelfile_copy_strings(langs, n_langs);
    if (tm->langs) tm->n_langs = n_langs;
    tm->lang = malloc((size_t)(n ? n : 1) * sizeof *tm->lang);
    if (!tm->langs || !tm->lang) {
        mslam_error("out of memory for a translation memory of %d entries", n);
        goto fail;
    }
    for (int e = 0; e < n; e++) {
        if (lang[e] < 0 || lang[e] >= n_langs) {
            mslam_error("entry %d's language is %d, not an index into the %d languages", e, (int)lang[e], n_langs);
            goto fail;
        }
        tm->lang[e] = lang[e];
    }
    if (pack_strings(sources, n, &tm->sources, &tm->source_off, &tm->source_bytes) ||
        pack_strings(translations, n, &tm->translations, &tm->translation_off, &tm->translation_bytes))
        goto fail;
    for (int e = 0; e < n; e++) {
        char what[64];
        snprintf(what, sizeof what, "entry %d's translation", e);
        if (mslam_utf8_check(translations[e], what)) goto fail;
        if (!*translations[e]) {
            mslam_error("%s is empty", what);
            goto fail;
        }
    }
    if (build_index(tm)) goto fail; /* checks the sources */
    return tm;
fail:
    mslam_tm_free(tm);
    return NULL;
}

/* The count strings of a U8 blob, each ended by NUL, as pointers into it (f's mapping). */
static int split_blob(const st_file *f, const char *name, int count, const char ***out) {
    const st_tensor *t = st_find(f, name);
    if (!t) return mslam_error("%s: no tensor \"%s\"", f->path, name);
    if (t->dtype != ST_U8 || t->ndim != 1)
        return mslam_error("%s: \"%s\" must be a 1-D U8 tensor (it is %s with %d dimensions)", f->path, name,
                           st_dtype_name(t->dtype), t->ndim);
    const char *blob = (const char *)(f->data + t->begin);
    size_t bytes = t->numel;
    if (bytes == 0 || blob[bytes - 1] != '\0')
        return mslam_error("%s: \"%s\" does not end with a NUL byte", f->path, name);
    if ((size_t)count > bytes) /* each string takes at least its NUL */
        return mslam_error("%s: \"%s\" has %zu bytes, too few for the %d entries \"entries\" says", f->path, name,
                           bytes, count);
    const char **s = malloc((size_t)(count ? count : 1) * sizeof *s);
    if (!s) return mslam_error("%s: out of memory", f->path);
    int found = 0;
    for (size_t at = 0; at < bytes; at += strlen(blob + at) + 1) {
        if (found == count) {
            free(s);
            return mslam_error("%s: \"%s\" holds more than the %d entries \"entries\" says", f->path, name, count);
        }
        s[found++] = blob + at;
    }
    if (found != count) {
        free(s);
        return mslam_error("%s: \"%s\" holds %d strings, but \"entries\" says %d", f->path, name, found, count);
    }
    *out = s;
    return 0;
}

mslam_tm *mslam_tm_load(const char *path) {
    if (!path) {
        mslam_error("mslam_tm_load: path is NULL");
        return NULL;
    }
    st_file f;
    if (st_open(&f, path)) return NULL;
    mslam_tm *tm = NULL;
    const char **sources = NULL, **translations = NULL, **langs = NULL;
    struct json_object *jlangs = NULL;
    int32_t *lang = NULL;
    int n = 0, n_langs = 0;
    if (modelfile_check_format(&f, TM_FORMAT, "a translation memory") || modelfile_meta_int(&f, "entries", &n))
        goto done;
    if (n < 1) {
        mslam_error("%s: \"entries\" is %d; a translation memory holds at least one", path, n);
        goto done;
    }
    if (f.n_tensors != 3) {
        mslam_error("%s: %d tensors; a translation memory has three, \"sources\", \"translations\" and "
                    "\"languages\"", path, f.n_tensors);
        goto done;
    }
    if (modelfile_meta_strings(&f, "langs", -1, "entries", &jlangs, &langs, &n_langs) ||
        split_blob(&f, "sources", n, &sources) || split_blob(&f, "translations", n, &translations))
        goto done;
    const st_tensor *t = st_find(&f, "languages");
    if (!t || t->ndim != 1 || t->numel != (size_t)n) {
        mslam_error("%s: \"languages\" must be a 1-D tensor of %d entries (one per sentence)", path, n);
        goto done;
    }
    if (!(lang = malloc((size_t)n * sizeof *lang))) {
        mslam_error("%s: out of memory", path);
        goto done;
    }
    if (st_read_i32(&f, t, lang)) goto done;
    const char *outer = mslam_error_context_set(path);
    tm = tm_new(sources, translations, lang, langs, n_langs, n);
    mslam_error_context_set(outer);
    if (tm && !(tm->path = strdup(path))) {
        mslam_error("%s: out of memory", path);
        mslam_tm_free(tm);
        tm = NULL;
    }
done:
    free(sources);
    free(translations);
    free(langs);
    free(lang);
    json_object_put(jlangs);
    st_close(&f);
    return tm;
}

int tm_save(const mslam_tm *tm, const char *path) {
    char version[16], entries[16];
    snprintf(version, sizeof version, "%d", MSLAM_FORMAT_VERSION);
    snprintf(entries, sizeof entries, "%d", tm->n);
    char *codes = modelfile_json_text(modelfile_string_array(tm->langs, tm->n_langs));
    if (!codes) return mslam_error("cannot write '%s': out of memory", path);
    st_write_tensor tensors[] = {{"sources", ST_U8, 1, {(int64_t)tm->source_bytes}, tm->sources},
                                 {"translations", ST_U8, 1, {(int64_t)tm->translation_bytes}, tm->translations},
                                 {"languages", ST_I32, 1, {tm->n}, tm->lang}};
    st_meta meta[] = {{"format", TM_FORMAT}, {"format_version", version}, {"entries", entries}, {"langs", codes}};
    int rc = st_write(path, tensors, 3, meta, 4);
    free(codes);
    return rc;
}

/* Edit distance (insertions, deletions, substitutions of one code point) between a and b, with
 * row (room for nb + 1). */
static long edit_distance(const uint32_t *a, long na, const uint32_t *b, long nb, long *row) {
    for (long j = 0; j <= nb; j++) row[j] = j;
    for (long i = 1; i <= na; i++) {
        long diag = row[0];
        row[0] = i;
        for (long j = 1; j <= nb; j++) {
            long up = row[j];
            long best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

typedef struct {
    float dice;
    uint32_t entry;
} tm_candidate;

/* Min-heap on dice (ties: the later entry is smaller, so earlier entries are kept). */
static int cand_less(tm_candidate a, tm_candidate b) {
    return a.dice < b.dice || (a.dice == b.dice && a.entry > b.entry);
}

static void heap_sift_down(tm_candidate *h, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && cand_less(h[l], h[m])) m = l;
        if (r < n && cand_less(h[r], h[m])) m = r;
        if (m == i) return;
        tm_candidate t = h[i];
        h[i] = h[m], h[m] = t;
        i = m;
    }
}

/* Best first: larger Dice, then the earlier entry. */
static int cmp_candidate_desc(const void *a, const void *b) {
    tm_candidate x = *(const tm_candidate *)a, y = *(const tm_candidate *)b;
    return cand_less(x, y) - cand_less(y, x);
}

/* mslam_tm_lookup, whose errors name fn: the API function the caller called. */
static int tm_lookup(const mslam_tm *tm, const char *text, const char *lang, struct mslam_tm_match *match,
                     const char *fn) {
    if (!tm || !text || !match) return mslam_error("%s: %s is NULL", fn, !tm ? "tm" : !text ? "text" : "match");
    /* one code: a list ("es,fr") would read as a language of no sentence, found nowhere */
    if (lang && strchr(lang, ','))
        return mslam_error("%s: lang \"%s\" names several languages: give one code, or NULL for all", fn, lang);
    int want = -1; /* the language's index; -1: any */
    if (lang && *lang) {
        for (int l = 0; l < tm->n_langs && want < 0; l++)
            if (!mslam_ascii_compare_nocase(tm->langs[l], lang)) want = l; /* codes in any case */
        if (want < 0) return 0; /* no sentence of that language */
    }
    size_t bytes = strlen(text);
    uint32_t *q = malloc((bytes ? bytes : 1) * sizeof *q);
    uint64_t *keys = malloc((bytes ? bytes : 1) * sizeof *keys);
    uint32_t *shared = calloc((size_t)tm->n, sizeof *shared);
    uint32_t *touched = malloc((size_t)tm->n * sizeof *touched);
    tm_candidate heap[TM_CANDIDATES];
    long *row = NULL;
    int rc = 0, n_touched = 0, n_heap = 0;
    long nq = q && keys && shared && touched ? mslam_utf8_decode_all(text, q) : -2;
    if (nq == -2) rc = mslam_error("%s: out of memory", fn);
    else if (nq < 0) {
        char what[96];
        snprintf(what, sizeof what, "%s: the text", fn);
        rc = mslam_utf8_check(text, what);
    }
    int dq = nq > 0 ? distinct_grams(q, nq, keys) : 0;
    for (int g = 0; !rc && g < dq; g++) {
        long id = gram_find(tm, keys[g]);
        if (id < 0) continue;
        for (size_t p = tm->post_off[id]; p < tm->post_off[id + 1]; p++) {
            uint32_t e = tm->postings[p];
            if (want >= 0 && tm->lang[e] != want) continue;
            if (!shared[e]++) touched[n_touched++] = e;
        }
    }
    for (int t = 0; !rc && t < n_touched; t++) {
        uint32_t e = touched[t];
        tm_candidate c = {2.0f * shared[e] / (float)(dq + (int)tm->n_grams[e]), e};
        if (n_heap < TM_CANDIDATES) {
            heap[n_heap++] = c;
            if (n_heap == TM_CANDIDATES)
                for (int i = n_heap / 2 - 1; i >= 0; i--) heap_sift_down(heap, n_heap, i);
        } else if (cand_less(heap[0], c)) {
            heap[0] = c;
            heap_sift_down(heap, n_heap, 0);
        }
    }
    /* best Dice first, so that among equal similarities the better trigram match wins */
    qsort(heap, (size_t)n_heap, sizeof *heap, cmp_candidate_desc);
    long longest = 0;
    for (int i = 0; i < n_heap; i++)
        if ((long)tm->length[heap[i].entry] > longest) longest = (long)tm->length[heap[i].entry];
    uint32_t *s = NULL; /* a candidate's code points */
    if (!rc && n_heap) {
        row = malloc(((size_t)longest + 1) * sizeof *row);
        s = malloc((size_t)longest * sizeof *s);
        if (!row || !s) rc = mslam_error("%s: out of memory", fn);
    }
    float best_sim = -1;
    int best = -1;
    for (int i = 0; !rc && i < n_heap; i++) {
        uint32_t e = heap[i].entry;
        long ns = (long)tm->length[e], longer = ns > nq ? ns : nq;
        /* the distance is at least the difference in length */
        if (1.0f - (float)labs(ns - nq) / (float)longer <= best_sim) continue;
        mslam_utf8_decode_all(tm->sources + tm->source_off[e], s);
        float sim = 1.0f - (float)edit_distance(q, nq, s, ns, row) / (float)longer;
        if (sim > best_sim) best_sim = sim, best = (int)e;
    }
    if (!rc && best >= 0) {
        *match = (struct mslam_tm_match){best, best_sim, tm->sources + tm->source_off[best],
                                         tm->translations + tm->translation_off[best], tm->langs[tm->lang[best]]};
        rc = 1;
    }
    free(q);
    free(keys);
    free(shared);
    free(touched);
    free(row);
    free(s);
    return rc;
}

int mslam_tm_lookup(const mslam_tm *tm, const char *text, const char *lang, struct mslam_tm_match *match) {
    return tm_lookup(tm, text, lang, match, "mslam_tm_lookup");
}

int tm_translate(const mslam_model *model, const mslam_tm *tm, const char *lang, float min_similarity,
                 const char *text, search_result *out, const char *fn) {
    struct mslam_tm_match match;
    *out = (search_result){0};
    int found = tm_lookup(tm, text, lang, &match, fn);
    if (found <= 0 || match.similarity < min_similarity) return found < 0 ? -1 : 0;
    size_t bytes = strlen(match.translation);
    search_token *tokens = mslam_malloc(bytes * sizeof *tokens, "a translation");
    if (!tokens) return -1;
    float logp = logf(match.similarity > 0 ? match.similarity : 1e-30f);
    int n = 0, len = 0;
    for (const char *c = match.translation; *c; c += len) {
        int id = mslam_model_char_id(model, c, &len);
        if (id < 0) {
            mslam_log(MSLAM_LOG_DEBUG, "translation memory: \"%.*s\" of \"%s\" is not in the vocabulary; the "
                      "decoder translates", len, c, match.translation);
            free(tokens);
            return 0;
        }
        tokens[n++] = (search_token){id, -1, logp};
    }
    *out = (search_result){.tokens = tokens, .n = n, .logp = (double)n * logp, .score = match.similarity};
    return 1;
}
