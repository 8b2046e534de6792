/* Translation memories from manifests' text pairs. */
#include "tmbuild.h"

#include "common.h"
#include "data.h"
#include "manifest.h"
#include "options.h"
#include "util.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Adds the normal-form sentences of path's dev and test rows to held. */
static int read_holdout(const char *path, GHashTable *held) {
    manifest_reader *r = manifest_open(path, NULL);
    if (!r) return -1;
    struct manifest_record rec;
    int rc;
    while ((rc = manifest_next(r, &rec)) == 1) {
        if ((rec.split != SPLIT_DEV && rec.split != SPLIT_TEST) || !rec.text || !*rec.text) continue;
        char *norm = asr_target_text(rec.text, rec.lang);
        if (!norm) {
            rc = -1;
            break;
        }
        g_hash_table_add(held, norm);
    }
    manifest_close(r);
    return rc;
}

/* Counts path's pairs of split into pairs: normal-form sentence -> (translation -> count);
 * elsewhere gets the pairs of each split that is not split. */
static int read_pairs(const char *path, int split, GHashTable *held, GHashTable *pairs, GHashTable *langs,
                      tm_build_stats *st, int *elsewhere, struct split_note *how) {
    manifest_reader *r = manifest_open(path, NULL);
    if (!r) return -1;
    struct manifest_record rec;
    int rc;
    while ((rc = manifest_next(r, &rec)) == 1) {
        if (!rec.text || !*rec.text || !*rec.translation) continue;
        if (split != SPLIT_N && (int)rec.split != split) {
            if ((unsigned)rec.split < SPLIT_N) elsewhere[rec.split]++;
            continue;
        }
        char *norm = asr_target_text(rec.text, rec.lang);
        if (!norm) {
            rc = -1;
            break;
        }
        if (!*norm) {
            free(norm);
            continue;
        }
        st->pairs++;
        if (g_hash_table_contains(held, norm)) {
            st->held_out++;
            free(norm);
            continue;
        }
        /* codes in any case are one language, as for the LMs and the lookups ("ES" and "es") */
        char *code = g_ascii_strdown(rec.lang, -1);
        if (!g_hash_table_contains(langs, code)) g_hash_table_add(langs, g_strdup(code));
        /* a sentence is known per language: "<lang>\t<sentence>" */
        char *key = g_strdup_printf("%s\t%s", code, norm);
        g_free(code);
        free(norm);
        GHashTable *counts = g_hash_table_lookup(pairs, key);
        if (!counts) {
            counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
            g_hash_table_insert(pairs, key, counts);
        } else {
            g_free(key);
        }
        size_t n = GPOINTER_TO_SIZE(g_hash_table_lookup(counts, rec.translation)); /* 0 when new */
        g_hash_table_insert(counts, g_strdup(rec.translation), GSIZE_TO_POINTER(n + 1));
    }
    split_note_add(how, r);
    manifest_close(r);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The most frequent key of counts (ties: the first in byte order); *n_keys gets their number. */
static const char *most_frequent(GHashTable *counts, guint *n_keys) {
    GHashTableIter it;
    gpointer key, value;
    const char *best = NULL;
    gsize best_n = 0;
    g_hash_table_iter_init(&it, counts);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        gsize n = GPOINTER_TO_SIZE(value);
        if (n > best_n || (n == best_n && strcmp(key, best) < 0)) best = key, best_n = n;
    }
    *n_keys = g_hash_table_size(counts);
    return best;
}

int tm_build(const tm_build_options *o, mslam_tm **out, tm_build_stats *st) {
    memset(st, 0, sizeof *st);
    *out = NULL;
    GHashTable *held = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    GHashTable *pairs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_destroy);
    GHashTable *langs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    int rc = 0;
    for (int i = 0; !rc && o->holdout && o->holdout[i]; i++) rc = read_holdout(o->holdout[i], held);
    int elsewhere[SPLIT_N] = {0};
    struct split_note how = {.columns = 1};
    for (int i = 0; !rc && o->text[i]; i++)
        rc = read_pairs(o->text[i], o->split, held, pairs, langs, st, elsewhere, &how);
    guint n = g_hash_table_size(pairs);
    if (!rc && n == 0) {
        char *note = split_counts_note(elsewhere, &how, "the text", "--split", "--split all");
        rc = mslam_error("no row of the text%s has both a sentence and a translation%s%s", text_split_phrase(o->split),
                         st->held_out ? " outside the holdout manifests" : "", note);
        g_free(note);
    }
    char **keys = NULL, **codes = NULL;
    const char **sources = NULL, **translations = NULL;
    int32_t *lang = NULL;
    guint n_langs = g_hash_table_size(langs);
    if (!rc) {
        keys = (char **)g_hash_table_get_keys_as_array(pairs, NULL);
        codes = (char **)g_hash_table_get_keys_as_array(langs, NULL);
        sources = malloc(n * sizeof *sources);
        translations = malloc(n * sizeof *translations);
        lang = malloc(n * sizeof *lang);
        if (!sources || !translations || !lang) rc = mslam_error("out of memory");
    }
    if (!rc) {
        /* by language, then sentence: a file's bytes depend only on its pairs */
        qsort(keys, n, sizeof *keys, cmp_str);
        qsort(codes, n_langs, sizeof *codes, cmp_str);
        for (guint i = 0; i < n; i++) {
            guint n_translations;
            const char *tab = strchr(keys[i], '\t');
            sources[i] = tab + 1;
            /* looked up: the keys' order need not be the codes' ("e\x01\t" sorts before "e\t") */
            char *code = g_strndup(keys[i], (gsize)(tab - keys[i]));
            char **found = bsearch(&code, codes, n_langs, sizeof *codes, cmp_str);
            g_free(code);
            lang[i] = (int32_t)(found - codes); /* (every key's code is one of them) */
            translations[i] = most_frequent(g_hash_table_lookup(pairs, keys[i]), &n_translations);
            st->ambiguous += n_translations > 1;
        }
        st->entries = n;
        *out = tm_new(sources, translations, lang, (const char *const *)codes, (int)n_langs, (int)n);
        if (!*out) rc = -1;
    }
    g_free(keys);
    g_free(codes);
    free(sources);
    free(translations);
    free(lang);
    g_hash_table_destroy(held);
    g_hash_table_destroy(pairs);
    g_hash_table_destroy(langs);
    return rc;
}

int cmd_tm(int argc, char **argv) {
    gchar *out = NULL, *split = g_strdup("train");
    gchar **text = NULL, **holdout = NULL;
    GOptionEntry entries[] = {
        {"text", 0, 0, G_OPTION_ARG_STRING_ARRAY, &text,
         "manifest whose rows with a translation are the pairs (any layout `train` reads; repeatable)", "MANIFEST"},
        {"split", 0, 0, G_OPTION_ARG_STRING, &split, "rows of this split: train (default), dev, test or all", "SPLIT"},
        {"holdout", 0, 0, G_OPTION_ARG_STRING_ARRAY, &holdout,
         "manifest whose dev and test sentences are kept out of the memory (repeatable)", "MANIFEST"},
        {"out", 0, 0, G_OPTION_ARG_STRING, &out, "translation memory file to write (safetensors; written atomically)",
         "FILE"},
        G_OPTION_ENTRY_NULL};
    int n_rest;
    char **rest = NULL;
    int parsed = options_parse(
        "tm", entries, argc, argv, "",
        "Builds a translation memory from manifests' text pairs: each distinct sentence, in the normal form the "
        "CTC head writes, with its most frequent English translation.",
        "Translation takes a known sentence's translation when the source is near enough to it (eval\n"
        "--translation-memory, mslamtranslate translation-memory=, mslam_decode_params.translation_memory);\n"
        "otherwise the decoder translates. A sentence is known in its language, and a lookup searches the language\n"
        "spoken when it is known (else all). No model is needed: the memory works with any.",
        &n_rest, &rest);
    int rc = parsed < 0 ? 2 : 0;
    int split_id = split_option(split);
    if (!parsed && (n_rest > 0 || !out || !text || !text[0])) {
        fprintf(stderr, "mslam-trainer tm: --text and --out are required, and no argument that is not an option (see --help)\n");
        rc = 2;
    } else if (!parsed && (split_id < 0 || text_manifests_check(text, "--text") ||
                           options_check_output("--out", out, argc, argv) ||
                           check_output_not_input("--out", out, "--text", (const char *const *)text) ||
                           check_output_not_input("--out", out, "--holdout", (const char *const *)holdout))) {
        fprintf(stderr, "mslam-trainer tm: %s\n", mslam_last_error());
        rc = 2;
    }
    g_strfreev(rest);
    if (!parsed && !rc) {
        mslam_tm *tm = NULL;
        tm_build_options bo = {.text = (const char *const *)text, .holdout = (const char *const *)holdout,
                               .split = split_id};
        tm_build_stats st;
        if (tm_build(&bo, &tm, &st) || tm_save(tm, out)) {
            fprintf(stderr, "mslam-trainer tm: %s\n", mslam_last_error());
            rc = 1;
        } else {
            GString *codes_list = g_string_new(NULL);
            for (int l = 0; l < tm->n_langs; l++)
                g_string_append_printf(codes_list, "%s%s", l ? "," : "", tm->langs[l]);
            gchar *codes = g_string_free(codes_list, FALSE);
            fprintf(stderr,
                    "%s: %ld sentences (%s) with their translations, from %ld pairs; %ld pairs held out; %ld sentences "
                    "had more than one translation (the most frequent kept)\n",
                    out, st.entries, codes, st.pairs, st.held_out, st.ambiguous);
            g_free(codes);
        }
        mslam_tm_free(tm);
    }
    options_free(entries);
    return rc;
}
