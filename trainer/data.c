#include "data.h"

#include "audio.h"
#include "augment.h"
#include "common.h"
#include "langs.h"
#include "manifest.h"
#include "metrics.h"
#include "ops.h"
#include "params.h"

#include <errno.h>
#include <limits.h>
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t seed_for(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b) {
    return hash_mix(hash_mix(hash_mix(seed, purpose), a), b);
}

void rng_for(mslam_rng *rng, uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b) {
    mslam_rng_seed(rng, seed_for(seed, purpose, a, b));
}

/* ---- examples ---- */

static void example_free(example *e) {
    free(e->audio);
    free(e->text);
    free(e->translation);
    free(e->lang);
    free(e->speaker);
    free(e->text_ids);
    free(e->trans_ids);
}

int dataset_add(dataset *ds, const char *audio, const char *text, const char *translation,
                const char *lang, const char *speaker, double seconds) {
    if (ds->n == ds->cap) {
        int cap = ds->cap ? ds->cap * 2 : 256;
        example *items = realloc(ds->items, (size_t)cap * sizeof *items);
        if (!items) return mslam_error("out of memory for %d examples", cap);
        ds->items = items;
        ds->cap = cap;
    }
    example *e = &ds->items[ds->n];
    *e = (example){.audio = str_dup(audio ? audio : ""),
                   .text = str_dup(text ? text : ""),
                   .translation = str_dup(translation ? translation : ""),
                   .lang = str_dup(lang ? lang : ""),
                   .speaker = str_dup(speaker ? speaker : ""),
                   .seconds = seconds,
                   .lang_id = -1,
                   .file = (int)ds->files.n - 1};
    if (!e->audio || !e->text || !e->translation || !e->lang || !e->speaker) {
        example_free(e);
        return mslam_error("out of memory for an example");
    }
    ds->n++;
    return 0;
}

void dataset_free(dataset *ds) {
    for (int i = 0; i < ds->n; i++) example_free(&ds->items[i]);
    free(ds->items);
    strlist_free(&ds->files);
    memset(ds, 0, sizeof *ds);
}

/* What load_rows keeps: rows with audio, rows with a transcript and a translation (text pairs),
 * rows with a transcript. */
enum rows_wanted { ROWS_AUDIO, ROWS_TEXT_PAIRS, ROWS_TRANSCRIPTS };

/* Whether code is a language mslam-trainer knows (trainer/langs.c), alone or with subtags
 * ("es-MX", FLEURS's "fr_fr": its first part). */
static int known_language(const char *code) {
    char primary[8];
    size_t n = strcspn(code, "-_");
    if (lang_find(code)) return 1;
    if (n == 0 || n >= sizeof primary || !code[n]) return 0;
    memcpy(primary, code, n);
    primary[n] = '\0';
    return lang_find(primary) != NULL;
}

/* A warning for each language code of ds's rows from first on that mslam-trainer does not know,
 * once, with its count of rows: a typo ("ess" for "es") would otherwise be a language of its own
 * to a new model, and a row of its own in eval's tables. Not refused: a model may learn other
 * languages. */
static int warn_unknown_languages(const dataset *ds, int first, const char *path) {
    GHashTable *rows = g_hash_table_new(g_str_hash, g_str_equal); /* code -> count, codes ds's */
    struct strlist order = {0};                                     /* as they first occur */
    int rc = 0;
    for (int i = first; i < ds->n && !rc; i++) {
        const char *code = ds->items[i].lang;
        if (!*code || known_language(code)) continue;
        int count = GPOINTER_TO_INT(g_hash_table_lookup(rows, code));
        if (!count) rc = strlist_push(&order, code);
        g_hash_table_insert(rows, (gpointer)code, GINT_TO_POINTER(count + 1));
    }
    for (size_t i = 0; i < order.n && !rc; i++) {
        int count = GPOINTER_TO_INT(g_hash_table_lookup(rows, order.items[i]));
        mslam_log(MSLAM_LOG_WARN, "%s: language '%s' (%d row%s) is not one mslam-trainer knows (mslam-trainer corpus "
                  "--list-langs lists them): a new model learns it as a language of its own and eval scores it apart; "
                  "if the code is misspelt, correct the manifest", path, order.items[i], count, plural_s(count));
    }
    strlist_free(&order);
    g_hash_table_destroy(rows);
    return rc;
}

/* How a manifest tells the splits, for the message when none of its rows is kept. */
struct split_info {
    int in_split[SPLIT_N]; /* the rows of the kind in each split, kept or not */
    int has_splits;        /* manifest_reader_has_splits */
    int columns;           /* whether its layout names the split in a column (mslam's), not in the file name */
    char *unread;          /* the header's columns not read (manifest_reader_unread_columns) */
};

/* Appends the rows of kind in split (SPLIT_N: all) from path, which joins ds->files; info (NULL:
 * not wanted) gets how the manifest tells its splits, for the message when none is kept (free its
 * unread); *others (NULL: not counted) the split's other rows. */
static int load_rows(dataset *ds, const char *path, const struct manifest_options *opts, int split,
                     enum rows_wanted kind, struct split_info *info, int *others) {
    int first = ds->n;
    if (strlist_push(&ds->files, path)) return -1;
    manifest_reader *r = manifest_open(path, opts);
    if (!r) return -1;
    struct manifest_record rec;
    int got, rc = 0;
    while (!rc && (got = manifest_next(r, &rec)) != 0) {
        if (got < 0) {
            rc = -1;
            continue;
        }
        int wanted = kind == ROWS_AUDIO ? rec.audio != NULL
                                        : rec.text && *rec.text &&
                                              (kind == ROWS_TRANSCRIPTS || (rec.translation && *rec.translation));
        if (wanted && info && (unsigned)rec.split < SPLIT_N) info->in_split[rec.split]++;
        if (split != SPLIT_N && (int)rec.split != split) continue;
        if (wanted) rc = dataset_add(ds, rec.audio, rec.text, rec.translation, rec.lang, rec.speaker, rec.duration);
        else if (others) ++*others;
    }
    if (info) {
        info->has_splits = manifest_reader_has_splits(r);
        info->columns = manifest_reader_layout(r) == LAYOUT_MSLAM;
        if (!(info->unread = str_dup(manifest_reader_unread_columns(r)))) rc = -1;
    }
    /* the other layouts' codes are their readers' mapping of locales (Mandarin's "zh"), not typed */
    int typed_codes = manifest_reader_layout(r) == LAYOUT_MSLAM;
    manifest_close(r);
    return rc || !typed_codes ? rc : warn_unknown_languages(ds, first, path);
}

/* " (the manifest has them in split dev: 300 rows; --split picks the split)" when rows of the kind
 * are in other splits, else ""; rows without a split (Common Voice's validated.tsv, a manifest
 * without a split column) are taken by --split all alone, which it then says. option: the option
 * that picks the split (NULL: train's two). g_free it. */
static char *found_in_other_splits(const struct split_info *info, const char *option) {
    struct split_note note = {info->has_splits, info->columns, info->unread};
    if (!option)
        return split_counts_note(info->in_split, &note, "the manifest", "--split (--valid-split for train --valid)",
                                 "--split all (--valid-split all for train --valid)");
    char *takes_all = g_strdup_printf("%s all", option);
    char *said = split_counts_note(info->in_split, &note, "the manifest", option, takes_all);
    g_free(takes_all);
    return said;
}

int text_manifests_check(char *const *paths, const char *option) {
    for (; paths && *paths; paths++) {
        if (!is_folder(*paths)) continue;
        char *text = path_join(*paths, "text.tsv"), *speech = path_join(*paths, "manifest.tsv");
        mslam_error("%s %s is a folder: name the manifest, %s (a corpus's text rows) or %s (its utterances' "
                    "transcripts and translations)", option, *paths, text ? text : "text.tsv",
                    speech ? speech : "manifest.tsv");
        free(text), free(speech);
        return -1;
    }
    return 0;
}

const char *text_split_phrase(int split) {
    switch (split) {
    case SPLIT_TRAIN: return "'s train split";
    case SPLIT_DEV: return "'s dev split";
    case SPLIT_TEST: return "'s test split";
    default: return "";
    }
}

void split_note_add(struct split_note *how, const manifest_reader *r) {
    how->has_splits |= manifest_reader_has_splits(r);
    how->columns &= manifest_reader_layout(r) == LAYOUT_MSLAM;
}

char *split_counts_note(const int *in_split, const struct split_note *how, const char *holder, const char *picks,
                        const char *takes_all) {
    GString *text = g_string_new(NULL);
    if (how && !how->has_splits && in_split[SPLIT_NONE]) {
        /* every row is without a split: say why, rather than name a split "(none)" */
        g_string_printf(text, " (%s has no split %s, so none of its %d row%s is in a split: %s takes %s", holder,
                        how->columns ? "column" : "in its file name (as train.tsv)", in_split[SPLIT_NONE],
                        plural_s(in_split[SPLIT_NONE]), takes_all, in_split[SPLIT_NONE] == 1 ? "it" : "them");
        if (how->unread && *how->unread)
            g_string_append_printf(text, "; its header has columns not read: %s", how->unread);
        g_string_append_c(text, ')');
        return g_string_free(text, FALSE);
    }
    for (int s = 0; s < SPLIT_N; s++)
        if (in_split[s])
            g_string_append_printf(text, "%s %s: %d row%s", text->len ? "," : "", s == SPLIT_NONE ? "(none)" :
                                   split_name((enum manifest_split)s), in_split[s], plural_s(in_split[s]));
    if (!text->len) return g_string_free(text, FALSE);
    g_string_prepend(text, " has them in split");
    g_string_prepend(text, holder);
    g_string_prepend(text, " (");
    g_string_append_printf(text, "; %s picks the split%s)", picks, in_split[SPLIT_NONE] ? ", all those without one" : "");
    return g_string_free(text, FALSE);
}

int dataset_load(dataset *ds, const char *path, const struct manifest_options *opts, int split) {
    return load_rows(ds, path, opts, split, ROWS_AUDIO, NULL, NULL);
}

int dataset_load_text_pairs(dataset *ds, const char *path, const char *split, int transcripts_only) {
    struct manifest_options mo = {.layout = LAYOUT_AUTO};
    int split_id = split_option(split);
    if (split_id < 0) return -1;
    int before = ds->n;
    struct split_info info = {0};
    int rc = load_rows(ds, path, &mo, split_id, transcripts_only ? ROWS_TRANSCRIPTS : ROWS_TEXT_PAIRS, &info,
                       &ds->n_incomplete);
    if (!rc && ds->n == before) {
        char *elsewhere = found_in_other_splits(&info, "--split");
        mslam_error("%s: no rows with a transcript%s in split '%s'%s", path, transcripts_only ? "" : " and a translation",
                    split, elsewhere);
        g_free(elsewhere);
        rc = -1;
    }
    free(info.unread);
    return rc;
}

int dataset_load_split(dataset *ds, const char *path, const char *layout, const char *lang, const char *audio_dir,
                       const char *split, const char *option) {
    struct manifest_options mo = {.layout = LAYOUT_AUTO, .lang = lang, .audio_dir = audio_dir};
    if (layout && layout_option(layout, &mo.layout)) return -1;
    int split_id = split_option(split);
    if (split_id < 0) return -1;
    int before = ds->n;
    struct split_info info = {0};
    int rc = load_rows(ds, path, &mo, split_id, ROWS_AUDIO, &info, NULL);
    if (!rc && ds->n == before) {
        char *elsewhere = found_in_other_splits(&info, option);
        if (*elsewhere) mslam_error("%s: no speech examples in split '%s'%s", path, split, elsewhere);
        else
            mslam_error("%s: no speech examples in split '%s' (rows without audio, as a text-pair manifest's, are "
                        "read by train --text-data and by eval --tasks st --st-input text)", path, split);
        g_free(elsewhere);
        rc = -1;
    }
    free(info.unread);
    return rc;
}

char *asr_target_text(const char *text, const char *lang) {
    return mslam_text_normalize(text, lang, mslam_lang_written_without_spaces(lang) ? MSLAM_NORM_NO_SPACES : 0,
                                NULL);
}

/* ---- vocabulary and languages ---- */

typedef struct {
    uint32_t cp;
    long count;
} char_count;

static int cmp_char_count(const void *a, const void *b) {
    const char_count *x = a, *y = b;
    return (x->cp > y->cp) - (x->cp < y->cp);
}

/* Adds the code points of s to counts (a list kept unsorted until the end). */
static int count_chars(const char *s, char_count **counts, size_t *n, size_t *cap) {
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = mslam_utf8_decode(s + i, len - i, &cp);
        if (!k) { /* invalid bytes never make it into a vocabulary */
            i++;
            continue;
        }
        i += (size_t)k;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 1024;
            char_count *grown = realloc(*counts, c * sizeof *grown);
            if (!grown) return mslam_error("out of memory counting characters");
            *counts = grown;
            *cap = c;
        }
        (*counts)[(*n)++] = (char_count){cp, 1};
    }
    /* merge now and then so that the list stays near the number of distinct characters */
    if (*n > 65536) {
        qsort(*counts, *n, sizeof **counts, cmp_char_count);
        size_t w = 0;
        for (size_t r = 0; r < *n; r++) {
            if (w && (*counts)[w - 1].cp == (*counts)[r].cp) (*counts)[w - 1].count += (*counts)[r].count;
            else (*counts)[w++] = (*counts)[r];
        }
        *n = w;
    }
    return 0;
}

int vocab_build(const dataset *ds, const dataset *more, int min_count, struct strlist *vocab) {
    static const char *const reserved[VOCAB_N_RESERVED] = {"<blank>", "<unk>", "<s>", "</s>"};
    char_count *counts = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (const dataset *set = ds; set; set = set == ds ? more : NULL)
        for (int i = 0; i < set->n && !rc; i++) {
            const example *e = &set->items[i];
            char *norm = asr_target_text(e->text, e->lang);
            if (!norm) rc = -1;
            else rc = count_chars(norm, &counts, &n, &cap) || count_chars(e->translation, &counts, &n, &cap);
            free(norm);
        }
    memset(vocab, 0, sizeof *vocab);
    for (int i = 0; i < VOCAB_N_RESERVED && !rc; i++) rc = strlist_push(vocab, reserved[i]);
    if (!rc && n) {
        qsort(counts, n, sizeof *counts, cmp_char_count);
        for (size_t r = 0; r < n && !rc;) {
            uint32_t cp = counts[r].cp;
            long total = 0;
            for (; r < n && counts[r].cp == cp; r++) total += counts[r].count;
            /* control characters cannot be read aloud; they are noise in a transcript */
            if (total < min_count || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) continue;
            char buf[5];
            buf[utf8_encode(cp, buf)] = '\0';
            rc = strlist_push(vocab, buf);
        }
    }
    free(counts);
    if (rc) strlist_free(vocab);
    return rc;
}

int langs_build(const dataset *ds, struct strlist *langs) {
    memset(langs, 0, sizeof *langs);
    for (int i = 0; i < ds->n; i++) {
        const char *l = ds->items[i].lang;
        if (*l && !strlist_contains(langs, l) && strlist_push(langs, l)) {
            strlist_free(langs);
            return -1;
        }
    }
    strlist_sort(langs);
    return 0;
}

/* Whether code has the shape of an ISO 639 code, alone or with BCP 47 subtags ("es", "yue",
 * "zh-CN", "sr-Latn"; "_" also separates, as in FLEURS's "fr_fr"). */
static int looks_like_lang_code(const char *code) {
    size_t n = strspn(code, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    if (n < 2 || n > 3) return 0;
    for (const char *at = code + n; *at;) {
        if (*at != '-' && *at != '_') return 0;
        size_t k = strspn(at + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
        if (k < 1 || k > 8) return 0;
        at += 1 + k;
    }
    return 1;
}

int langs_check(const struct strlist *langs, int warn) {
    for (size_t i = 0; i < langs->n; i++) {
        for (size_t j = i + 1; j < langs->n; j++)
            if (strlen(langs->items[i]) == strlen(langs->items[j]) &&
                mslam_ascii_equal_nocase(langs->items[i], langs->items[j], strlen(langs->items[i])))
                return mslam_error("languages '%s' and '%s' differ only in case: one language written two ways "
                                   "would be two to the model (write it one way in the manifests)",
                                   langs->items[i], langs->items[j]);
        if (warn && !looks_like_lang_code(langs->items[i]))
            mslam_log(MSLAM_LOG_WARN, "language '%s' does not look like a language code (as 'es', 'yue' or 'zh-CN'); "
                      "the model, the elements' languages= and their messages will name it so", langs->items[i]);
    }
    return 0;
}

/* ---- checking examples against a model ---- */

int encode_text(const mslam_model *m, const char *text, int **ids, char *bad) {
    size_t len = strlen(text);
    *ids = mslam_malloc((len ? len : 1) * sizeof(int), "character ids");
    if (!*ids) return -1;
    int n = 0;
    for (size_t i = 0; i < len;) {
        int k = 1;
        int id = mslam_model_char_id(m, text + i, &k);
        if (id < VOCAB_N_RESERVED && !bad) { /* the caller leaves such characters out */
            i += (size_t)k;
            continue;
        }
        if (id < VOCAB_N_RESERVED) { /* unknown, or a reserved token's text: not a character */
            snprintf(bad, 5, "%.*s", k, text + i);
            free(*ids);
            *ids = NULL;
            return -2;
        }
        (*ids)[n++] = id;
        i += (size_t)k;
    }
    return n;
}

int lang_index(const mslam_model *m, const char *lang) {
    for (int i = 0; *lang && i < m->cfg.n_langs; i++)
        if (!strcmp(m->langs[i], lang)) return i;
    return -1;
}

/* What dataset_encode says of one manifest's rows in one line each, rather than one a row. */
#define NOTED_CHARS 5
typedef struct {
    int unknown_char_rows;                /* rows with a label left out: characters outside the vocabulary */
    char unknown_chars[NOTED_CHARS][5];   /* the first few such characters, each once */
    int n_unknown_chars;
    int unknown_lang_rows;                /* rows in languages the model does not have */
    struct strlist unknown_langs;         /* those languages, as they first occur */
} file_notes;

static void note_unknown_char(file_notes *notes, const char *c) {
    for (int i = 0; i < notes->n_unknown_chars; i++)
        if (!strcmp(notes->unknown_chars[i], c)) return;
    if (notes->n_unknown_chars < NOTED_CHARS) snprintf(notes->unknown_chars[notes->n_unknown_chars++], 5, "%s", c);
}

/* The summary lines of notes of the manifest file (NULL: rows added one by one), read as role
 * (NULL: none said; the same manifest may give training and validation rows). */
static void warn_file_notes(const file_notes *notes, const char *file, const char *role) {
    char *where = g_strdup_printf("%s%s%s%s", role ? role : "", role && file ? ", " : "", file ? file : "",
                                  role || file ? ": " : "");
    if (notes->unknown_char_rows) {
        char chars[NOTED_CHARS * 8] = "";
        for (int i = 0; i < notes->n_unknown_chars; i++)
            snprintf(chars + strlen(chars), sizeof chars - strlen(chars), "%s'%s'", i ? " " : "",
                     notes->unknown_chars[i]);
        mslam_log(MSLAM_LOG_WARN, "%s%d row%s with characters outside the model's vocabulary (%s%s): %s transcript "
                  "or translation with them is left out", where, notes->unknown_char_rows,
                  plural_s(notes->unknown_char_rows), notes->n_unknown_chars == NOTED_CHARS ? "e.g. " : "", chars,
                  notes->unknown_char_rows == 1 ? "its" : "each one's");
    }
    if (notes->unknown_lang_rows) {
        GString *langs = g_string_new(NULL);
        for (size_t i = 0; i < notes->unknown_langs.n; i++)
            g_string_append_printf(langs, "%s%s", i ? " " : "", notes->unknown_langs.items[i]);
        mslam_log(MSLAM_LOG_WARN, "%s%d row%s in languages the model does not have (%s)", where,
                  notes->unknown_lang_rows, plural_s(notes->unknown_lang_rows), langs->str);
        g_string_free(langs, TRUE);
    }
    g_free(where);
}

/* Fills the ids and language of e; returns 1 to keep, 0 to drop (reason counted), -1 on error.
 * Labels with characters outside the vocabulary, and languages the model does not have, go
 * to notes (the caller's summary). */
static int encode_example(example *e, const mslam_model *m, int need_any, double max_seconds,
                          dataset_report *r, file_notes *notes) {
    /* with a duration in the manifest the header is read only when the audio is (a corpus has many
     * files), but a missing or unreadable file is counted now */
    if (e->seconds > 0 && access(e->audio, R_OK) != 0) {
        mslam_log(MSLAM_LOG_WARN, "skipping %s: %s", e->audio, strerror(errno));
        r->missing_audio++;
        return 0;
    }
    if (e->seconds <= 0) {
        long long frames;
        int rate, channels;
        if (audio_probe(e->audio, &frames, &rate, &channels)) {
            mslam_log(MSLAM_LOG_WARN, "skipping %s: %s", e->audio, mslam_last_error());
            r->missing_audio++;
            return 0;
        }
        e->seconds = rate > 0 ? (double)frames / rate : 0;
    }
    /* a duration past any file's (a damaged header or manifest: 1e300 s) is not a sample count: its
     * conversion would overflow (0 on x86-64, which read as too short) */
    double samples = e->seconds * MSLAM_SAMPLE_RATE;
    if (samples < 1e15 && mslam_subsampled_frames(mslam_frontend_n_frames((size_t)samples)) <= 0) {
        mslam_log(MSLAM_LOG_WARN, "skipping %s: %.3f s of audio is too short for one encoder frame",
                  e->audio, e->seconds);
        r->empty_audio++;
        return 0;
    }
    if (max_seconds > 0 && e->seconds > max_seconds) {
        r->too_long++;
        return 0;
    }
    char bad[5];
    int oov = 0;
    e->lang_id = lang_index(m, e->lang);
    if (*e->text && (need_any & NEED_TEXT)) {
        char *norm = asr_target_text(e->text, e->lang);
        if (!norm) return -1;
        int n = encode_text(m, norm, &e->text_ids, bad);
        free(norm);
        if (n == -1) return -1;
        if (n == -2) {
            note_unknown_char(notes, bad);
            r->unknown_chars++;
            oov = 1;
        }
        e->n_text = n > 0 ? n : 0;
    }
    if (*e->translation && (need_any & NEED_TRANSLATION)) {
        int n = encode_text(m, e->translation, &e->trans_ids, bad);
        if (n == -1) return -1;
        if (n == -2) {
            note_unknown_char(notes, bad);
            r->unknown_chars++;
            oov = 1;
        }
        e->n_trans = n > 0 ? n : 0;
    }
    notes->unknown_char_rows += oov;
    /* evaluation (need_any 0) counts these in its own summary */
    if (need_any && e->lang_id < 0 && *e->lang) {
        notes->unknown_lang_rows++;
        if (!strlist_contains(&notes->unknown_langs, e->lang) && strlist_push(&notes->unknown_langs, e->lang))
            return -1;
    }
    int has = (e->n_text > 0 ? NEED_TEXT : 0) | (e->lang_id >= 0 ? NEED_LANG : 0) |
              (e->n_trans > 0 ? NEED_TRANSLATION : 0);
    if (!need_any || (has & need_any) || (need_any & KEEP_ALL)) return 1;
    if (oov) return 0; /* counted above */
    if ((need_any & NEED_LANG) && *e->lang) r->unknown_lang++;
    else r->empty_text++;
    return 0;
}

int dataset_encode(dataset *ds, const mslam_model *model, int need_any, double max_seconds,
                   dataset_report *report) {
    memset(report, 0, sizeof *report);
    /* one summary per manifest (the last slot: rows from none) */
    size_t n_notes = ds->files.n + 1;
    file_notes *notes = mslam_calloc(n_notes, sizeof *notes, "the data's notes");
    if (!notes) return -1;
    int w = 0, rc = 0;
    for (int i = 0; i < ds->n; i++) {
        const example *e = &ds->items[i];
        file_notes *of = &notes[e->file >= 0 && (size_t)e->file < ds->files.n ? (size_t)e->file : ds->files.n];
        int keep = rc ? 1 : encode_example(&ds->items[i], model, need_any, max_seconds, report, of);
        if (keep < 0) rc = -1, keep = 1; /* the rest stays as it is, to be freed by the caller */
        if (keep) ds->items[w++] = ds->items[i];
        else example_free(&ds->items[i]);
    }
    for (size_t f = 0; f < n_notes; f++) {
        if (!rc) warn_file_notes(&notes[f], f < ds->files.n ? ds->files.items[f] : NULL, ds->role);
        strlist_free(&notes[f].unknown_langs);
    }
    free(notes);
    ds->n = w;
    report->kept = w;
    if (rc) return -1;
    int dropped = report->missing_audio + report->empty_audio + report->too_long + report->empty_text +
                  report->unknown_chars + report->unknown_lang;
    /* mostly files not found: most likely paths read from the wrong folder */
    if (w == 0 && report->missing_audio > 0 && 2 * report->missing_audio >= dropped)
        return mslam_error("no usable example is left: %d of the audio files could not be read (the warnings above "
                           "name them); is --audio-dir right? (without it, relative paths are read from the "
                           "manifest's folder, or the layout's audio folder: Common Voice's clips/)",
                           report->missing_audio);
    if (w == 0) return mslam_error("no usable example is left (see the warnings above)");
    return 0;
}

int dataset_encode_text_pairs(dataset *ds, const mslam_model *model, int max_chars, int transcripts_only,
                              dataset_report *report) {
    memset(report, 0, sizeof *report);
    int w = 0;
    for (int i = 0; i < ds->n; i++) {
        example *e = &ds->items[i];
        char *norm = asr_target_text(e->text, e->lang);
        if (!norm) return -1;
        char bad[5];
        int n_src = *norm ? encode_text(model, norm, &e->text_ids, bad) : 0;
        free(norm);
        int n_trans = n_src > 0 && !transcripts_only ? encode_text(model, e->translation, &e->trans_ids, bad) : 0;
        if (n_src == -1 || n_trans == -1) return -1;
        e->n_text = n_src > 0 ? n_src : 0;
        e->n_trans = n_trans > 0 ? n_trans : 0;
        e->lang_id = lang_index(model, e->lang);
        e->seconds = 0; /* batches of pairs are bucketed by characters (epoch_plan), audio or not */
        int keep = 0;
        if (n_src == -2 || n_trans == -2) report->unknown_chars++; /* too many to warn about each */
        else if (n_src == 0 || (n_trans == 0 && !transcripts_only)) report->empty_text++;
        else if (n_src > max_chars || n_trans > max_chars) report->too_long++;
        else keep = 1;
        if (keep) ds->items[w++] = *e;
        else example_free(e);
    }
    ds->n = w;
    report->kept = w;
    if (w == 0)
        return mslam_error("no usable text %s is left: %d with characters outside the vocabulary, %d empty, %d longer "
                           "than --text-max-chars", transcripts_only ? "row" : "pair", report->unknown_chars,
                           report->empty_text, report->too_long);
    return 0;
}

void dataset_rows_hash(const dataset *ds, long *rows, uint64_t *hash, uint64_t *unordered) {
    uint64_t ordered = hash_str("dataset rows", 0), sum = 0;
    for (int i = 0; i < ds->n; i++) {
        const example *e = &ds->items[i];
        const char *name = strrchr(e->audio, '/');
        uint64_t h = hash_str(name ? name + 1 : e->audio, 0x705);
        h = hash_str(e->translation, hash_str(e->text, hash_str(e->lang, h)));
        h = hash_mix(h, (uint64_t)llround(e->seconds * 1000));
        ordered = hash_mix(ordered, h);
        sum += h;
    }
    *rows = ds->n;
    *hash = ordered;
    *unordered = sum;
}

/* ---- epochs ---- */

#define POOL_BATCHES 64

static uint64_t rng_below(mslam_rng *rng, uint64_t n) {
    uint64_t x = ((uint64_t)mslam_rng_u32(rng) << 32) | mslam_rng_u32(rng);
    return x % n;
}

static void shuffle(int *x, int n, mslam_rng *rng) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(rng, (uint64_t)i + 1);
        int t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

static const dataset *sort_ds; /* qsort has no context argument */

static int cmp_duration(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    const example *a_item = &sort_ds->items[i], *b_item = &sort_ds->items[j];
    double x = a_item->seconds, y = b_item->seconds;
    if (x != y) return (x > y) - (x < y);
    /* text pairs without audio: their characters decide */
    int m = a_item->n_text + a_item->n_trans, n = b_item->n_text + b_item->n_trans;
    if (x <= 0 && m != n) return (m > n) - (m < n);
    return (i > j) - (i < j);
}

/* The rows beyond floor(w) copies that a manifest's weight w gives an epoch. */
static long fraction_rows(double w, long rows) { return lround((w - floor(w)) * (double)rows); }

long epoch_rows_at_weight(double weight, long rows) {
    return (long)floor(weight) * rows + fraction_rows(weight, rows);
}

long *dataset_rows_per_file(const dataset *ds) {
    long *rows = mslam_calloc(ds->files.n + 1, sizeof(long), "rows per manifest");
    if (!rows) return NULL;
    for (int i = 0; i < ds->n; i++) {
        int f = ds->items[i].file;
        rows[f >= 0 && (size_t)f < ds->files.n ? (size_t)f : ds->files.n]++;
    }
    return rows;
}

long epoch_plan_size(const dataset *ds, const double *file_weights) {
    if (!file_weights) return ds->n;
    long *rows = dataset_rows_per_file(ds);
    if (!rows) return -1;
    double size = (double)rows[ds->files.n];
    for (size_t f = 0; f < ds->files.n; f++)
        size += (double)epoch_rows_at_weight(file_weights[f], rows[f]);
    free(rows);
    if (size < 1) return mslam_error("the weights take no example into an epoch");
    if (size > INT_MAX / 2) return mslam_error("the weights make an epoch of %.0f examples, more than %d", size, INT_MAX / 2);
    return (long)size;
}

/* The weight of example i's manifest (rows of no manifest: 1). */
static double weight_of(const dataset *ds, const double *file_weights, int i) {
    int f = ds->items[i].file;
    return f >= 0 && (size_t)f < ds->files.n ? file_weights[f] : 1;
}

/* One step of a manifest's fraction sequence (its n rows, m of them an epoch): cycle holds cycle
 * k - 1 and becomes cycle k (k 0: cycle holds nothing yet), the rows shuffled by (seed, file, k)
 * and then those that the epoch straddling cycles k - 1 and k took from the end of k - 1 moved, in
 * their order, to the end, so that no epoch takes a row twice (m <= n leaves it enough others).
 * work: n ints; taken: a flag per dataset example, left zero. */
static void fraction_cycle_step(const int *rows, long n, long m, uint64_t seed, uint64_t file, uint64_t k,
                                int *cycle, int *work, unsigned char *taken) {
    mslam_rng rng;
    rng_for(&rng, seed, 0x3e19, file, k);
    memcpy(work, rows, (size_t)n * sizeof(int));
    shuffle(work, (int)n, &rng);
    uint64_t boundary = k * (uint64_t)n, start = boundary / (uint64_t)m * (uint64_t)m;
    if (k == 0 || start == boundary) {
        memcpy(cycle, work, (size_t)n * sizeof(int));
        return;
    }
    long from = (long)(start - (k - 1) * (uint64_t)n), w = 0;
    for (long r = from; r < n; r++) taken[cycle[r]] = 1;
    for (long r = 0; r < n; r++)
        if (!taken[work[r]]) cycle[w++] = work[r];
    for (long r = 0; r < n; r++)
        if (taken[work[r]]) cycle[w++] = work[r];
    for (long r = from; r < n; r++) taken[cycle[r]] = 0; /* the rows moved to the end */
}

/* The examples of one weighted epoch, unshuffled, into order (epoch_plan_size's count), in layers
 * that no row repeats within: layer L holds, in dataset order, every row whose weight's floor is
 * over L (rows of no manifest count 1), then the fraction rows of the manifests whose floor is L:
 * places e x m to e x m + m - 1 of the manifest's sequence of cycles (fraction_cycle_step), m
 * its fraction rows. *layer_end (malloc'd) gets where each of the *n_layers layers ends. */
static int weighted_epoch_rows(const dataset *ds, const double *file_weights, uint64_t seed, long epoch, int *order,
                               int **layer_end, int *n_layers) {
    double most = 1;
    for (size_t f = 0; f < ds->files.n; f++) most = file_weights[f] > most ? file_weights[f] : most;
    *n_layers = (int)floor(most) + 1;
    size_t n_alloc = (size_t)(ds->n ? ds->n : 1);
    int *rows = mslam_malloc(n_alloc * sizeof(int), "a manifest's rows");
    int *cycle = mslam_malloc(n_alloc * sizeof(int), "a manifest's rows");
    int *work = mslam_malloc(n_alloc * sizeof(int), "a manifest's rows");
    unsigned char *taken = mslam_calloc(n_alloc, 1, "the rows an epoch took");
    *layer_end = mslam_malloc((size_t)*n_layers * sizeof(int), "the epoch's layers");
    if (!rows || !cycle || !work || !taken || !*layer_end) {
        free(rows), free(cycle), free(work), free(taken), free(*layer_end);
        *layer_end = NULL;
        return -1;
    }
    int w = 0;
    for (int layer = 0; layer < *n_layers; layer++) {
        for (int i = 0; i < ds->n; i++)
            if (floor(weight_of(ds, file_weights, i)) > layer) order[w++] = i;
        for (size_t f = 0; f < ds->files.n; f++) {
            if (floor(file_weights[f]) != layer) continue;
            long n = 0;
            for (int i = 0; i < ds->n; i++)
                if (ds->items[i].file == (int)f) rows[n++] = i;
            long m = fraction_rows(file_weights[f], n);
            if (!m) continue;
            uint64_t first = (uint64_t)epoch * (uint64_t)m, end = first + (uint64_t)m;
            for (uint64_t k = 0; k * (uint64_t)n < end; k++) {
                fraction_cycle_step(rows, n, m, seed, (uint64_t)f, k, cycle, work, taken);
                uint64_t lo = k * (uint64_t)n, hi = lo + (uint64_t)n;
                for (uint64_t place = first > lo ? first : lo; place < (end < hi ? end : hi); place++)
                    order[w++] = cycle[place - lo];
            }
        }
        (*layer_end)[layer] = w;
    }
    free(rows), free(cycle), free(work), free(taken);
    return 0;
}

long epoch_batches(long size, int global_batch) { return (size + global_batch - 1) / global_batch; }

int epoch_plan_make(epoch_plan *plan, const dataset *ds, uint64_t seed, long epoch, int global_batch,
                    const double *file_weights) {
    memset(plan, 0, sizeof *plan);
    if (global_batch < 1) return mslam_error("batch size %d must be at least 1", global_batch);
    long size = file_weights ? epoch_plan_size(ds, file_weights) : ds->n;
    if (size < 0) return -1;
    int n = (int)size;
    plan->order = mslam_malloc((size_t)(n ? n : 1) * sizeof(int), "epoch order");
    int n_batches = (int)epoch_batches(n, global_batch);
    int *batch_order = mslam_malloc((size_t)(n_batches ? n_batches : 1) * sizeof(int), "batch order");
    int *tmp = mslam_malloc((size_t)(n ? n : 1) * sizeof(int), "epoch order");
    int one_layer = n, *layer_end = &one_layer, n_layers = 1;
    if (!plan->order || !batch_order || !tmp ||
        (file_weights && weighted_epoch_rows(ds, file_weights, seed, epoch, tmp, &layer_end, &n_layers))) {
        free(batch_order);
        free(tmp);
        epoch_plan_free(plan);
        return -1;
    }
    mslam_rng rng;
    rng_for(&rng, seed, 0x0e0c, (uint64_t)epoch, 0);
    if (!file_weights)
        for (int i = 0; i < n; i++) tmp[i] = i;
    /* each layer shuffled and pooled apart: a pool sorted by duration would put a row's copies
     * side by side, in one batch */
    int pool = POOL_BATCHES * global_batch;
    sort_ds = ds;
    for (int layer = 0, start = 0; layer < n_layers; start = layer_end[layer++]) {
        int end = layer_end[layer];
        shuffle(tmp + start, end - start, &rng);
        for (int p = start; p < end; p += pool)
            qsort(tmp + p, (size_t)(end - p < pool ? end - p : pool), sizeof(int), cmp_duration);
    }
    if (layer_end != &one_layer) free(layer_end);
    for (int b = 0; b < n_batches; b++) batch_order[b] = b;
    shuffle(batch_order, n_batches, &rng);
    /* the short batch (if any) is the last of the sorted order; it stays last in the epoch so
     * that every other batch is full */
    int w = 0, short_batch = n % global_batch ? n_batches - 1 : -1;
    for (int k = 0; k <= n_batches; k++) {
        int b = k < n_batches ? batch_order[k] : short_batch;
        if (b < 0 || (k < n_batches && b == short_batch)) continue;
        int first = b * global_batch, count = n - first < global_batch ? n - first : global_batch;
        memcpy(plan->order + w, tmp + first, (size_t)count * sizeof(int));
        w += count;
    }
    free(tmp);
    free(batch_order);
    plan->n = n;
    plan->n_batches = n_batches;
    plan->global_batch = global_batch;
    return 0;
}

void epoch_plan_free(epoch_plan *plan) {
    free(plan->order);
    memset(plan, 0, sizeof *plan);
}

void epoch_plan_batch(const epoch_plan *plan, int b, int *first, int *count) {
    *first = b * plan->global_batch;
    *count = plan->n - *first < plan->global_batch ? plan->n - *first : plan->global_batch;
}

/* ---- features ---- */

specaug_config specaug_default_config(void) {
    return (specaug_config){.freq_masks = 2, .freq_width = 27, .time_masks = 2, .time_ratio = 0.05f,
                            .time_width = 40};
}

void specaugment(float *mel, int T, int n_mels, const float *fill, const specaug_config *c, mslam_rng *rng) {
    for (int k = 0; k < c->freq_masks && n_mels > 0; k++) {
        int w = (int)(mslam_rng_uniform(rng) * (c->freq_width + 1));
        if (w > n_mels) w = n_mels;
        int f0 = (int)(mslam_rng_uniform(rng) * (n_mels - w + 1));
        for (int t = 0; t < T; t++)
            for (int m = f0; m < f0 + w; m++) mel[(size_t)t * n_mels + m] = fill[m];
    }
    int max_w = (int)(c->time_ratio * T);
    if (max_w > c->time_width) max_w = c->time_width;
    for (int k = 0; k < c->time_masks && T > 0; k++) {
        int w = (int)(mslam_rng_uniform(rng) * (max_w + 1));
        int t0 = (int)(mslam_rng_uniform(rng) * (T - w + 1));
        for (int t = t0; t < t0 + w; t++) memcpy(mel + (size_t)t * n_mels, fill, (size_t)n_mels * sizeof(float));
    }
}

/* log-mel features are natural logs of power: x dB adds x * ln(10) / 10 */
#define DB_TO_LOG_POWER 0.23025851f
int channel_augment(float *mel, int T, int n_mels, const specaug_config *c, mslam_rng *rng) {
    if (n_mels < 2 || T <= 0) return 0;
    int points = c->eq_points ? c->eq_points : EQ_POINTS_DEFAULT;
    if (c->eq_prob > 0 && (points < 2 || points > EQ_POINTS_MAX))
        return mslam_error("equaliser points must be 2..%d, not %d", EQ_POINTS_MAX, points);
    if (c->eq_prob > 0 && mslam_rng_uniform(rng) < c->eq_prob) {
        float gain[EQ_POINTS_MAX];
        for (int j = 0; j < points; j++) gain[j] = (2 * mslam_rng_uniform(rng) - 1) * c->eq_db * DB_TO_LOG_POWER;
        for (int m = 0; m < n_mels; m++) {
            float pos = (float)m * (points - 1) / (float)(n_mels - 1);
            int j = pos >= points - 1 ? points - 2 : (int)pos;
            float w = pos - (float)j, g = (1 - w) * gain[j] + w * gain[j + 1];
            for (int t = 0; t < T; t++) mel[(size_t)t * n_mels + m] += g;
        }
    }
    if (c->warp_prob > 0 && mslam_rng_uniform(rng) < c->warp_prob) {
        float factor = 1 + (2 * mslam_rng_uniform(rng) - 1) * c->warp;
        float *row = mslam_malloc((size_t)n_mels * sizeof(float), "frequency warp row");
        if (!row) return -1;
        for (int t = 0; t < T; t++) {
            float *frame = mel + (size_t)t * n_mels;
            memcpy(row, frame, (size_t)n_mels * sizeof(float));
            for (int m = 0; m < n_mels; m++) {
                float src = (float)m * factor;
                if (src >= (float)(n_mels - 1)) {
                    frame[m] = row[n_mels - 1];
                    continue;
                }
                int k = (int)src;
                float w = src - (float)k;
                frame[m] = (1 - w) * row[k] + w * row[k + 1];
            }
        }
        free(row);
    }
    return 0;
}

struct audio_buf {
    struct audio raw, resampled;
};

/* Decodes an example into fb's buffers. Returns 0 or -1 (error recorded). */
static int read_audio(feature_batch *fb, const char *path) {
    if (!fb->audio && !(fb->audio = mslam_calloc(1, sizeof *fb->audio, "audio buffers"))) return -1;
    return audio_read(path, &fb->audio->raw);
}

/* The audio read_audio read, at 16 kHz and played at `speed` (1: as recorded); the samples
 * (owned by fb) or NULL (error recorded). */
static const struct audio *audio_at_speed(feature_batch *fb, double speed) {
    if (fb->audio->raw.rate == MSLAM_SAMPLE_RATE && speed == 1.0) return &fb->audio->raw;
    if (audio_resample(&fb->audio->raw, speed, MSLAM_SAMPLE_RATE, &fb->audio->resampled)) return NULL;
    return &fb->audio->resampled;
}

/* Whether the audio perturbation of stream `purpose` (its own random draws, so that the others
 * stay as without it), taken with probability prob, applies to the utterance in slot `slot`;
 * *rng then draws its amount. */
static int slot_perturbed(mslam_rng *rng, uint64_t aug_seed, uint64_t purpose, int slot, float prob) {
    if (!(prob > 0)) return 0;
    rng_for(rng, aug_seed, purpose, (uint64_t)slot, 0);
    return mslam_rng_uniform(rng) < prob;
}

/* The gain in dB (0 or below) of the utterance in slot `slot` under aug's level perturbation. */
static double perturbed_gain_db(const specaug_config *aug, uint64_t aug_seed, int slot) {
    mslam_rng rng;
    if (!aug || !slot_perturbed(&rng, aug_seed, 0x6a17, slot, aug->gain_prob)) return 0.0;
    return -aug->gain_db * mslam_rng_uniform(&rng);
}

int noise_in_slot(const specaug_config *aug, uint64_t aug_seed, int slot) {
    mslam_rng rng;
    return aug && slot_perturbed(&rng, aug_seed, 0x40a5, slot, aug->noise_prob);
}

/* The speed of the utterance in slot `slot` under aug's speed perturbation. */
static double perturbed_speed(const specaug_config *aug, uint64_t aug_seed, int slot) {
    mslam_rng rng;
    if (!aug || !slot_perturbed(&rng, aug_seed, 0x5bee, slot, aug->speed_prob)) return 1.0;
    return 1.0 + aug->speed * (2.0 * mslam_rng_uniform(&rng) - 1.0);
}

int feature_batch_load(feature_batch *fb, const dataset *ds, const int *examples, int count, int slot0,
                       int n_mels, const specaug_config *aug, uint64_t aug_seed, const float *fill) {
    if (fb->fe.n_mels != n_mels) {
        mslam_frontend_free(&fb->fe);
        if (mslam_frontend_init(&fb->fe, n_mels)) return -1;
    }
    free(fb->mel_lens);
    free(fb->example);
    free(fb->slot);
    fb->mel_lens = mslam_malloc((size_t)(count ? count : 1) * sizeof(int), "mel lengths");
    fb->example = mslam_malloc((size_t)(count ? count : 1) * sizeof(int), "batch examples");
    fb->slot = mslam_malloc((size_t)(count ? count : 1) * sizeof(int), "batch slots");
    if (!fb->mel_lens || !fb->example || !fb->slot) return -1;
    fb->B = 0;
    fb->T_mel = 0;
    fb->n_mels = n_mels;
    fb->seconds = 0;
    fb->n_failed = 0;
    /* each item's features go to their own buffer first: the padded (B, T_mel) layout is
     * written once the longest item is known */
    size_t mel_cap = 0;
    float **item_mel = mslam_calloc((size_t)(count ? count : 1), sizeof *item_mel, "item features");
    if (!item_mel) return -1;
    int rc = 0;
    for (int i = 0; i < count && !rc; i++) {
        const example *e = &ds->items[examples[i]];
        double speed = perturbed_speed(aug, aug_seed, slot0 + i);
        const struct audio *a = read_audio(fb, e->audio) ? NULL : audio_at_speed(fb, speed);
        int n_frames = a ? mslam_frontend_n_frames(a->n) : 0;
        /* sped up below one encoder frame: the utterance as it is, rather than none */
        if (a && speed != 1.0 && mslam_subsampled_frames(n_frames) <= 0) {
            a = audio_at_speed(fb, 1.0);
            n_frames = a ? mslam_frontend_n_frames(a->n) : 0;
        }
        size_t n_samples = a ? a->n : 0;
        if (a && fb->max_samples && n_samples > fb->max_samples) {
            n_samples = fb->max_samples;
            n_frames = mslam_frontend_n_frames(n_samples);
        }
        if (!a || mslam_subsampled_frames(n_frames) <= 0) {
            if (!fb->quiet)
                mslam_log(MSLAM_LOG_WARN, "skipping %s: %s", e->audio,
                          a ? "audio too short for one encoder frame" : mslam_last_error());
            fb->n_failed++;
            continue;
        }
        /* a is one of fb's own buffers, decoded again for the next item */
        struct audio *own = a == &fb->audio->raw ? &fb->audio->raw : &fb->audio->resampled;
        double gain_db = perturbed_gain_db(aug, aug_seed, slot0 + i);
        if (noise_in_slot(aug, aug_seed, slot0 + i)) {
            mslam_rng rng;
            rng_for(&rng, aug_seed, 0x40a5, (uint64_t)(slot0 + i), 1);
            if (augment_noise_alone(own, n_samples, &rng)) {
                rc = -1;
                break;
            }
        } else if (gain_db < 0) {
            augment_gain(own, gain_db);
        }
        size_t need = mslam_frontend_scratch_size(n_frames);
        if (buffer_grow((void **)&fb->scratch, &fb->scratch_size, need, sizeof(float), "frontend scratch") ||
            !(item_mel[fb->B] = mslam_malloc((size_t)n_frames * n_mels * sizeof(float), "item features"))) {
            rc = -1;
            break;
        }
        mslam_logmel(&fb->fe, a->samples, n_samples, n_frames, item_mel[fb->B], fb->scratch);
        if (aug) {
            mslam_rng rng;
            rng_for(&rng, aug_seed, 0x5a5a, (uint64_t)(slot0 + i), 0);
            if (channel_augment(item_mel[fb->B], n_frames, n_mels, aug, &rng)) {
                rc = -1;
                break;
            }
            specaugment(item_mel[fb->B], n_frames, n_mels, fill, aug, &rng);
        }
        fb->mel_lens[fb->B] = n_frames;
        fb->example[fb->B] = examples[i];
        fb->slot[fb->B] = slot0 + i;
        fb->seconds += (double)n_samples / MSLAM_SAMPLE_RATE;
        if (n_frames > fb->T_mel) fb->T_mel = n_frames;
        fb->B++;
    }
    if (!rc) {
        size_t row = (size_t)fb->T_mel * n_mels;
        if (buffer_grow((void **)&fb->mel, &mel_cap, (size_t)fb->B * row, sizeof(float), "batch features")) rc = -1;
        for (int b = 0; b < fb->B && !rc; b++) {
            size_t have = (size_t)fb->mel_lens[b] * n_mels;
            memcpy(fb->mel + b * row, item_mel[b], have * sizeof(float));
            memset(fb->mel + b * row + have, 0, (row - have) * sizeof(float));
        }
    }
    for (int b = 0; b < count; b++) free(item_mel[b]);
    free(item_mel);
    return rc;
}

void feature_batch_free(feature_batch *fb) {
    free(fb->mel);
    free(fb->mel_lens);
    free(fb->example);
    free(fb->slot);
    free(fb->scratch);
    if (fb->audio) {
        audio_free(&fb->audio->raw);
        audio_free(&fb->audio->resampled);
        free(fb->audio);
    }
    mslam_frontend_free(&fb->fe);
    memset(fb, 0, sizeof *fb);
}

int mel_statistics(const dataset *ds, int n_mels, int max_items, float *mean, float *std) {
    int n = ds->n < max_items ? ds->n : max_items;
    double *sum = calloc((size_t)n_mels, sizeof *sum), *sq = calloc((size_t)n_mels, sizeof *sq);
    feature_batch fb = {.quiet = 1}; /* dataset_encode warns of what cannot be read, and counts it */
    long frames = 0;
    int rc = sum && sq ? 0 : mslam_error("out of memory for feature statistics"), first_unread = -1;
    for (int i = 0; i < n && !rc; i++) {
        int ex = (int)((long)i * ds->n / n); /* evenly over the dataset, not its first files */
        rc = feature_batch_load(&fb, ds, &ex, 1, 0, n_mels, NULL, 0, NULL);
        if (!rc && !fb.B && first_unread < 0) first_unread = ex;
        for (int t = 0; !rc && fb.B && t < fb.mel_lens[0]; t++, frames++)
            for (int m = 0; m < n_mels; m++) {
                double x = fb.mel[(size_t)t * n_mels + m];
                sum[m] += x;
                sq[m] += x * x;
            }
    }
    if (!rc && frames == 0 && first_unread >= 0) {
        /* most likely a wrong --audio-dir: say where the first file was looked for */
        const char *path = ds->items[first_unread].audio;
        rc = mslam_error("no audio to measure feature statistics on: none of the %d utterances read could be (the first, "
                         "%s: %s); is --audio-dir right?", n, path,
                         access(path, R_OK) ? strerror(errno) : "not audio the reader takes, or too short");
    } else if (!rc && frames == 0) {
        rc = mslam_error("no audio to measure feature statistics on");
    }
    for (int m = 0; m < n_mels && !rc; m++) {
        double mu = sum[m] / frames, var = sq[m] / frames - mu * mu;
        mean[m] = (float)mu;
        std[m] = (float)sqrt(var > 1e-6 ? var : 1e-6);
    }
    free(sum);
    free(sq);
    feature_batch_free(&fb);
    return rc;
}
