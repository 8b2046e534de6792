/* Character n-gram LMs from manifests' transcripts: interpolated Kneser-Ney (Chen & Goodman
 * 1998, one discount per order), optionally pruned, written in backoff form (core/lm.h). */
#include "lmbuild.h"

#include "checkpoint.h"
#include "common.h"
#include "data.h"
#include "manifest.h"
#include "options.h"
#include "train.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every n-gram of one language, orders 1..N, in an open-addressing map. */
typedef struct {
    uint64_t *keys; /* 0: free */
    uint32_t *raw;  /* occurrences */
    uint32_t *adj;  /* Kneser-Ney count: raw at the top order and after "<s>", else distinct left
                     * neighbours */
    uint32_t *ctx_types;
    double *ctx_sum;     /* as a context: sum of its extensions' adj, and their number */
    double *p;           /* interpolated p(last | the others) */
    double *sum_p, *sum_lower; /* bow: kept extensions' p and their lower-order p */
    unsigned char *order, *kept;
    size_t cap, n;
} ngram_map;

static void map_free(ngram_map *m) {
    free(m->keys), free(m->raw), free(m->adj), free(m->ctx_types), free(m->ctx_sum), free(m->p);
    free(m->sum_p), free(m->sum_lower), free(m->order), free(m->kept);
    memset(m, 0, sizeof *m);
}

static int map_grow(ngram_map *m) {
    ngram_map g = {0};
    g.cap = m->cap ? 2 * m->cap : 1 << 12;
    g.keys = calloc(g.cap, sizeof *g.keys);
    g.raw = calloc(g.cap, sizeof *g.raw);
    g.order = calloc(g.cap, 1);
    if (!g.keys || !g.raw || !g.order) {
        map_free(&g);
        return mslam_error("out of memory counting %zu n-grams", m->n);
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t h = lm_probe(g.keys, g.cap, m->keys[i]);
        g.keys[h] = m->keys[i], g.raw[h] = m->raw[i], g.order[h] = m->order[i];
    }
    g.n = m->n;
    map_free(m);
    *m = g;
    return 0;
}

static long map_find(const ngram_map *m, uint64_t key) {
    if (!m->cap) return -1;
    size_t h = lm_probe(m->keys, m->cap, key);
    return m->keys[h] ? (long)h : -1;
}

/* Slot of key, added with count 0 when new; -1 out of memory. */
static long map_add(ngram_map *m, uint64_t key, int order) {
    if (2 * (m->n + 1) > m->cap && map_grow(m)) return -1;
    size_t h = lm_probe(m->keys, m->cap, key);
    if (!m->keys[h]) m->keys[h] = key, m->order[h] = (unsigned char)order, m->n++;
    return (long)h;
}

static int map_alloc_stats(ngram_map *m) {
    m->adj = calloc(m->cap, sizeof *m->adj);
    m->ctx_types = calloc(m->cap, sizeof *m->ctx_types);
    m->ctx_sum = calloc(m->cap, sizeof *m->ctx_sum);
    m->p = calloc(m->cap, sizeof *m->p);
    m->sum_p = calloc(m->cap, sizeof *m->sum_p);
    m->sum_lower = calloc(m->cap, sizeof *m->sum_lower);
    m->kept = calloc(m->cap, 1);
    if (!m->adj || !m->ctx_types || !m->ctx_sum || !m->p || !m->sum_p || !m->sum_lower || !m->kept)
        return mslam_error("out of memory estimating %zu n-grams", m->n);
    return 0;
}

static uint64_t low_bits(uint64_t key, int n_tokens, int bits) {
    return n_tokens * bits >= 64 ? key : key & (((uint64_t)1 << (n_tokens * bits)) - 1);
}

/* Counts the n-grams of ids (ids[0] = "<s>", the last "</s>"): every token but the first is
 * predicted from up to order - 1 before it. */
static int count_sentence(ngram_map *m, const lm_table *t, const int *ids, int n) {
    for (int i = 1; i < n; i++)
        for (int o = 1; o <= t->order && o <= i + 1; o++) {
            long at = map_add(m, lm_key(t, ids + i - o + 1, o), o);
            if (at < 0) return -1;
            m->raw[at]++;
        }
    return 0;
}

/* The n-gram's first token is "<s>". */
static int starts_with_bos(const mslam_lm *lm, const lm_table *t, uint64_t key) {
    return (int)(key & (((uint64_t)1 << t->bits) - 1)) == t->local[lm->bos_id];
}

/* Kneser-Ney estimate of one language into t (see the file comment). */
static int estimate(ngram_map *m, const mslam_lm *lm, lm_table *t, int prune_count, lm_build_stats *st) {
    const int N = t->order, bits = t->bits;
    /* "<s>" is context only: a count-0 entry so that its extensions find it */
    int bos = lm->bos_id;
    if (map_add(m, lm_key(t, &bos, 1), 1) < 0 || map_alloc_stats(m)) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        if (m->order[i] == N || starts_with_bos(lm, t, m->keys[i])) m->adj[i] = m->raw[i];
        if (m->order[i] >= 2 && m->raw[i]) { /* a left neighbour of its suffix */
            long s = map_find(m, m->keys[i] >> bits);
            if (s >= 0 && !(m->order[s] == N || starts_with_bos(lm, t, m->keys[s]))) m->adj[s]++;
        }
    }
    /* one absolute discount per order from the counts of counts: D = n1 / (n1 + 2 n2) */
    double D[LM_MAX_ORDER + 1];
    for (int o = 1; o <= N; o++) {
        double n1 = 0, n2 = 0;
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i] && m->order[i] == o) n1 += m->adj[i] == 1, n2 += m->adj[i] == 2;
        D[o] = n1 > 0 && n2 > 0 ? n1 / (n1 + 2 * n2) : 0.5;
        D[o] = D[o] < 0.1 ? 0.1 : D[o] > 0.95 ? 0.95 : D[o];
    }
    double uni_sum = 0, uni_types = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i] || !m->adj[i]) continue;
        if (m->order[i] == 1) {
            uni_sum += m->adj[i], uni_types++;
        } else {
            long h = map_find(m, low_bits(m->keys[i], m->order[i] - 1, bits));
            if (h < 0) return mslam_error("n-gram counts are inconsistent (a context is missing)");
            m->ctx_sum[h] += m->adj[i], m->ctx_types[h]++;
        }
    }
    if (uni_sum == 0) return mslam_error("language '%s' has no text", t->code);
    const double n_events = (double)(lm->vocab_size - VOCAB_N_RESERVED + 1); /* the characters and "</s>" */
    /* interpolated probabilities, lower orders first */
    for (int o = 1; o <= N; o++)
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i] || m->order[i] != o || !m->adj[i]) continue;
            if (o == 1) {
                m->p[i] = fmax(m->adj[i] - D[1], 0) / uni_sum + D[1] * uni_types / uni_sum / n_events;
            } else {
                long h = map_find(m, low_bits(m->keys[i], o - 1, bits)), lower = map_find(m, m->keys[i] >> bits);
                m->p[i] = fmax(m->adj[i] - D[o], 0) / m->ctx_sum[h] +
                          D[o] * m->ctx_types[h] / m->ctx_sum[h] * m->p[lower];
            }
            /* pruning: n-grams of order 3 and above seen fewer than prune_count times go (a
             * rarer n-gram's extensions are rarer still, so no kept n-gram loses its context) */
            m->kept[i] = o <= 2 || (int)m->raw[i] >= prune_count;
        }
    size_t n_kept = 1; /* "<s>" */
    for (size_t i = 0; i < m->cap; i++) n_kept += m->keys[i] && m->kept[i];
    if (lm_table_reserve(t, n_kept)) return -1;
    double seen = 0, n_seen = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i] || !(m->kept[i] || m->raw[i] == 0)) continue;
        /* "<s>" (count 0) holds a backoff weight only: it is never predicted */
        lm_table_put(t, m->keys[i], m->adj[i] ? (float)log(m->p[i]) : LM_BOS_LOGP, 0.0f);
        if (m->order[i] == 1 && m->adj[i]) seen += m->p[i], n_seen++;
        st->ngrams[m->order[i]] += m->adj[i] > 0;
    }
    t->floor_logp = n_seen < n_events ? (float)log(fmax(1 - seen, 1e-12) / (n_events - n_seen)) : -30.0f;
    /* backoff weights, so that every p(. | h) sums to 1 over the kept n-grams and the backed-off
     * rest: bow(h) = (1 - sum p(w | h)) / (1 - sum p_lm(w | h')) over the kept h w, shorter
     * contexts first (p_lm of h' uses their weights) */
    int ctx[LM_MAX_ORDER];
    for (int o = 2; o <= N; o++) {
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i] || m->order[i] != o || !m->kept[i] || !m->adj[i]) continue;
            long h = map_find(m, low_bits(m->keys[i], o - 1, bits));
            lm_key_decode(t, m->keys[i], ctx);
            m->sum_p[h] += m->p[i];
            m->sum_lower[h] += exp(lm_token_logp(t, ctx + 1, o - 2, ctx[o - 1]));
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i] || m->order[i] != o - 1 || m->sum_p[i] == 0) continue;
            double bow = fmax(1 - m->sum_p[i], 1e-12) / fmax(1 - m->sum_lower[i], 1e-12);
            long at = lm_table_find(t, m->keys[i]);
            if (at >= 0) t->bow[at] = (float)log(bow);
        }
    }
    return 0;
}

/* Reads the transcripts of manifest rows of split (SPLIT_N: all) in the LM's languages into
 * per-language sets of normal-form sentences (translations: the rows' English translations, as
 * written, into the one set of an LM of translations); holdout sentences are skipped (and
 * counted). elsewhere (NULL: not counted) gets, per language, the rows with a sentence in each
 * split that is not split. */
static int read_text(const char *path, int split, const mslam_lm *lm, GHashTable **sets, GHashTable **holdout,
                     lm_build_stats *st, int (*elsewhere)[SPLIT_N], struct split_note *how) {
    const int translations = lm->of_translations;
    manifest_reader *r = manifest_open(path, NULL);
    if (!r) return -1;
    struct manifest_record rec;
    int rc;
    while ((rc = manifest_next(r, &rec)) == 1) {
        const char *text = translations ? rec.translation : rec.text;
        int l = translations ? 0 : mslam_lm_lang_index(lm, rec.lang);
        if (l < 0 || !text || !*text) continue;
        if (split != SPLIT_N && (int)rec.split != split) {
            if (elsewhere && (unsigned)rec.split < SPLIT_N) elsewhere[l][rec.split]++;
            continue;
        }
        char *norm = translations ? str_dup(text) : asr_target_text(text, rec.lang);
        if (!norm) {
            rc = -1;
            break;
        }
        if (!*norm || g_hash_table_contains(sets[l], norm)) {
            free(norm);
        } else if (holdout && g_hash_table_contains(holdout[l], norm)) {
            st->held_out++;
            free(norm);
        } else {
            g_hash_table_add(sets[l], norm);
        }
    }
    if (how) split_note_add(how, r);
    manifest_close(r);
    return rc;
}

int lm_build(const mslam_model *model, const lm_build_options *o, mslam_lm **out, lm_build_stats *st) {
    memset(st, 0, sizeof *st);
    *out = NULL;
    static const char *const english[] = {"en", NULL};
    const char **langs = (const char **)(o->translations ? english : o->langs);
    int n_langs = 0;
    if (langs)
        while (langs[n_langs]) n_langs++;
    /* an LM's language is used only where the model's language ID picks it: each code is the
     * model's, in the model's spelling (EN for en, as the data's codes are matched), and once */
    const char **own = !o->translations && n_langs ? calloc((size_t)n_langs, sizeof *own) : NULL;
    if (!o->translations && n_langs && !own) return mslam_error("out of memory");
    for (int i = 0; own && i < n_langs; i++) {
        for (int k = 0; !own[i] && k < model->cfg.n_langs; k++)
            if (!mslam_ascii_compare_nocase(model->langs[k], langs[i])) own[i] = model->langs[k];
        int twice = 0;
        for (int j = 0; own[i] && j < i; j++) twice |= own[j] == own[i];
        if (!own[i] || twice) {
            int rc = twice ? mslam_error("--langs names %s twice", own[i])
                           : mslam_error("--langs: the model has no language '%s' (codes as `mslam-trainer info "
                                         "MODEL` lists them)", langs[i]);
            free(own);
            return rc;
        }
    }
    if (own) langs = own;
    mslam_lm *lm = lm_new(o->order, (const char *const *)model->vocab, model->cfg.vocab_size,
                          n_langs ? langs : (const char *const *)model->langs, n_langs ? n_langs : model->cfg.n_langs);
    free(own);
    if (!lm) return -1;
    lm->of_translations = o->translations;
    GHashTable **sets = calloc((size_t)lm->n_langs, sizeof *sets), **hold = calloc((size_t)lm->n_langs, sizeof *hold);
    int(*elsewhere)[SPLIT_N] = calloc((size_t)lm->n_langs, sizeof *elsewhere);
    int rc = sets && hold && elsewhere ? 0 : mslam_error("out of memory");
    for (int l = 0; !rc && l < lm->n_langs; l++) {
        sets[l] = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
        hold[l] = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    }
    for (int i = 0; !rc && o->holdout && o->holdout[i]; i++) {
        lm_build_stats ignore = {0};
        rc = read_text(o->holdout[i], SPLIT_DEV, lm, hold, NULL, &ignore, NULL, NULL) ||
             read_text(o->holdout[i], SPLIT_TEST, lm, hold, NULL, &ignore, NULL, NULL);
    }
    struct split_note how = {.columns = 1};
    for (int i = 0; !rc && o->text[i]; i++) rc = read_text(o->text[i], o->split, lm, sets, hold, st, elsewhere, &how);
    if (!rc && !lm->of_translations) {
        /* several languages missing, some there: all named at once, and the --langs that builds
         * (one missing: the loop below says where its sentences are) */
        GString *missing = g_string_new(NULL), *present = g_string_new(NULL);
        int n_missing = 0, in_other_splits = 0;
        for (int l = 0; l < lm->n_langs; l++) {
            GString *list = g_hash_table_size(sets[l]) ? present : missing;
            g_string_append_printf(list, "%s%s", list->len ? "," : "", lm->langs[l].code);
            n_missing += list == missing;
            for (int k = 0; list == missing && k < SPLIT_N; k++) in_other_splits |= elsewhere[l][k] > 0;
        }
        /* (a language with rows in other splits: the loop's message names them, and --split) */
        if (n_missing > 1 && present->len && !in_other_splits)
            rc = mslam_error("no sentence of %d of the %d languages in the text%s (%s); it has %s: name those with "
                             "--langs %s, or add text of the others",
                             n_missing, lm->n_langs, text_split_phrase(o->split), missing->str, present->str,
                             present->str);
        g_string_free(missing, TRUE);
        g_string_free(present, TRUE);
    }
    for (int l = 0; !rc && l < lm->n_langs; l++) {
        ngram_map m = {0};
        lm_table *t = &lm->langs[l];
        /* the sentences as ids between "<s>" and "</s>", one after the other; then the
         * language's characters, numbered in vocabulary order */
        GHashTableIter it;
        gpointer key;
        GArray *ids = g_array_new(FALSE, FALSE, sizeof(int)), *starts = g_array_new(FALSE, FALSE, sizeof(int));
        unsigned char *seen = calloc((size_t)lm->vocab_size, 1);
        int lang_sentences = 0;
        if (!seen) rc = mslam_error("out of memory");
        g_hash_table_iter_init(&it, sets[l]);
        while (!rc && g_hash_table_iter_next(&it, &key, NULL)) {
            char bad[5];
            int *chars = NULL, n = encode_text(model, key, &chars, bad);
            if (n == -1) rc = -1;
            if (n < 0) {
                st->unknown_chars += n == -2;
                continue;
            }
            int at = (int)ids->len;
            g_array_append_val(starts, at);
            g_array_append_val(ids, lm->bos_id);
            g_array_append_vals(ids, chars, (guint)n);
            g_array_append_val(ids, lm->eos_id);
            for (int i = 0; i < n; i++) seen[chars[i]] = 1;
            free(chars);
            st->chars += n;
            lang_sentences++;
        }
        if (!rc) {
            seen[lm->bos_id] = seen[lm->eos_id] = 1;
            int n_chars = 0, *numbered = malloc((size_t)lm->vocab_size * sizeof *numbered);
            for (int v = 0; numbered && v < lm->vocab_size; v++)
                if (seen[v]) numbered[n_chars++] = v;
            rc = numbered ? lm_table_set_chars(lm, t, numbered, n_chars) : mslam_error("out of memory");
            free(numbered);
        }
        for (guint i = 0; !rc && i < starts->len; i++) {
            int from = g_array_index(starts, int, i);
            int to = i + 1 < starts->len ? g_array_index(starts, int, i + 1) : (int)ids->len;
            rc = count_sentence(&m, t, &g_array_index(ids, int, from), to - from);
        }
        free(seen);
        g_array_free(ids, TRUE);
        g_array_free(starts, TRUE);
        st->sentences += lang_sentences;
        guint offered = g_hash_table_size(sets[l]);
        if (!rc && lang_sentences == 0 && offered > 0)
            rc = lm->of_translations ? mslam_error("none of the %u translations in the text is written in the "
                                                   "model's characters alone", offered)
                                     : mslam_error("none of the %u sentences of language '%s' in the text is written "
                                                   "in the model's characters alone", offered, lm->langs[l].code);
        else if (!rc && lang_sentences == 0) {
            char *note = split_counts_note(elsewhere[l], &how, "the text", "--split", "--split all");
            const char *where = text_split_phrase(o->split);
            rc = lm->of_translations
                     ? mslam_error("no row of the text%s has a translation%s", where,
                                   *note ? note : " (--translations reads the manifests' translation column)")
                     : mslam_error("no sentence of language '%s' in the text%s%s", lm->langs[l].code, where,
                                   *note ? note : " (an LM has each of the model's languages, or of --langs: "
                                                  "add text of it, or name the others with --langs)");
            g_free(note);
        }
        if (!rc) rc = estimate(&m, lm, &lm->langs[l], o->prune_count, st);
        map_free(&m);
    }
    for (int l = 0; sets && hold && l < lm->n_langs; l++) {
        if (sets[l]) g_hash_table_destroy(sets[l]);
        if (hold[l]) g_hash_table_destroy(hold[l]);
    }
    free(sets);
    free(hold);
    free(elsewhere);
    if (rc) {
        mslam_lm_free(lm);
        return -1;
    }
    *out = lm;
    return 0;
}

int cmd_lm(int argc, char **argv) {
    gchar *model_path = NULL, *out = NULL, *split = g_strdup("train"), *langs = NULL;
    gchar **text = NULL, **holdout = NULL;
    int order = 6, prune = 2;
    gboolean translations = FALSE;
    GOptionEntry entries[] = {
        {"model", 0, 0, G_OPTION_ARG_STRING, &model_path, "model (or checkpoint) whose vocabulary the LM uses", "FILE"},
        {"text", 0, 0, G_OPTION_ARG_STRING_ARRAY, &text,
         "manifest whose transcripts are the text (any layout `train` reads; repeatable)", "MANIFEST"},
        {"split", 0, 0, G_OPTION_ARG_STRING, &split, "rows of this split: train (default), dev, test or all", "SPLIT"},
        {"holdout", 0, 0, G_OPTION_ARG_STRING_ARRAY, &holdout,
         "manifest whose dev and test transcripts (with --translations: translations) are kept out of the text "
         "(repeatable)", "MANIFEST"},
        {"langs", 0, 0, G_OPTION_ARG_STRING, &langs, "comma-separated languages (default: the model's)", "LIST"},
        {"translations", 0, 0, G_OPTION_ARG_NONE, &translations,
         "model the rows' English translations, as written, instead of the transcripts: one LM for the translation "
         "decoder's beam (eval --translation-lm, mslamtranslate translation-lm=)", NULL},
        {"order", 0, 0, G_OPTION_ARG_INT, &order,
         "n-gram order in characters (default 6; at most 16, and 64 / bits, the bits that number a language's "
         "characters: 10 for 63 characters, 5 for 2047)", "N"},
        {"prune", 0, 0, G_OPTION_ARG_INT, &prune, "drop n-grams of order 3 and above seen fewer times (default 2; 1: keep all)",
         "COUNT"},
        {"out", 0, 0, G_OPTION_ARG_STRING, &out, "LM file to write (safetensors; written atomically)", "FILE"},
        G_OPTION_ENTRY_NULL};
    int n_rest;
    char **rest = NULL;
    int parsed = options_parse(
        "lm", entries, argc, argv, "",
        "Builds a character n-gram language model per language (interpolated Kneser-Ney, backoff form) over a "
        "model's vocabulary from manifests' transcripts, in the normal form the CTC head writes.",
        "Recognition fuses it into the CTC prefix beam search (eval --lm, mslamasr lm=, mslam_decode_params.lm)\n"
        "and language ID adds the transcript's LM score per language. Repeated sentences count once.\n"
        "With --translations it models the English translations instead, which the translation decoder's beam\n"
        "search fuses (eval --translation-lm, mslamtranslate translation-lm=, mslam_decode_params.translation_lm).",
        &n_rest, &rest);
    int rc = parsed < 0 ? 2 : 0;
    int split_id = split_option(split);
    if (!parsed && (n_rest > 0 || !model_path || !out || !text || !text[0])) {
        fprintf(stderr, "mslam-trainer lm: --model, --text and --out are required, and no argument that is not an option (see --help)\n");
        rc = 2;
    } else if (!parsed && split_id < 0) {
        fprintf(stderr, "mslam-trainer lm: %s\n", mslam_last_error());
        rc = 2;
    } else if (!parsed && translations && langs) {
        fprintf(stderr, "mslam-trainer lm: --translations makes one English LM; --langs does not apply\n");
        rc = 2;
    } else if (!parsed && (order < 1 || order > LM_MAX_ORDER)) {
        fprintf(stderr, "mslam-trainer lm: --order %d: must be 1..%d\n", order, LM_MAX_ORDER);
        rc = 2;
    } else if (!parsed && prune < 1) {
        fprintf(stderr, "mslam-trainer lm: --prune %d: must be at least 1\n", prune);
        rc = 2;
    } else if (!parsed && (text_manifests_check(text, "--text") || options_check_output("--out", out, argc, argv) ||
                           check_output_not_input("--out", out, "--model", (const char *const[]){model_path, NULL}) ||
                           check_output_not_input("--out", out, "--text", (const char *const *)text) ||
                           check_output_not_input("--out", out, "--holdout", (const char *const *)holdout))) {
        fprintf(stderr, "mslam-trainer lm: %s\n", mslam_last_error());
        rc = 2;
    }
    g_strfreev(rest);
    if (!parsed && !rc) {
        mslam_model *m = NULL;
        mslam_lm *lm = NULL;
        /* commas, or a key file's semicolons (langs=en;es) */
        struct strlist codes = {0};
        char **lang_list = langs && !strlist_split_list(&codes, langs)
                               ? mslam_calloc(codes.n + 1, sizeof *lang_list, "the languages")
                               : NULL;
        for (size_t i = 0; lang_list && i < codes.n; i++) lang_list[i] = codes.items[i];
        lm_build_options bo = {.text = (const char *const *)text, .holdout = (const char *const *)holdout,
                               .split = split_id, .langs = (const char *const *)lang_list, .order = order,
                               .prune_count = prune, .translations = translations};
        lm_build_stats st;
        if (langs && codes.n == 0) { /* (an unset variable: it had meant every language) */
            fprintf(stderr, "mslam-trainer lm: --langs '%s' names no language\n", langs);
            rc = 2;
        } else if (langs && !lang_list) {
            fprintf(stderr, "mslam-trainer lm: %s\n", mslam_last_error());
            rc = 1;
        } else if (checkpoint_load(model_path, &m, NULL, NULL) || lm_build(m, &bo, &lm, &st) || lm_save(lm, out)) {
            fprintf(stderr, "mslam-trainer lm: %s\n", mslam_last_error());
            rc = 1;
        } else {
            long total = 0;
            for (int k = 1; k <= order; k++) total += st.ngrams[k];
            fprintf(stderr, "%s: %d language%s, order %d, %ld sentences (%ld characters), %ld n-grams:", out,
                    lm->n_langs, plural_s(lm->n_langs), order, st.sentences, st.chars, total);
            for (int k = 1; k <= order; k++) fprintf(stderr, " %ld", st.ngrams[k]);
            fprintf(stderr, "; %ld sentences held out, %ld with characters outside the vocabulary", st.held_out,
                    st.unknown_chars);
            for (int l = 0; l < lm->n_langs; l++)
                if (lm->langs[l].order < order)
                    fprintf(stderr, "; %s: order %d (%d characters)", lm->langs[l].code, lm->langs[l].order,
                            lm->langs[l].n_chars);
            fprintf(stderr, "\n");
        }
        free(lang_list);
        strlist_free(&codes);
        mslam_lm_free(lm);
        mslam_model_free(m);
    }
    options_free(entries);
    return rc;
}
