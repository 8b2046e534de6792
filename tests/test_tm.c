/* Translation memories (core/tm.c, trainer/tmbuild.c): lookups find the most similar known
 * sentence exactly as brute force does (where every sentence sharing a trigram is a candidate),
 * in the language asked for; files round-trip and bad ones are refused by name; translation
 * takes the memory's English above the threshold and the decoder's below it; `mslam-trainer tm`
 * on the fixture corpus (held-out sentences, per language), then `eval --translation-memory`. */
#include "checkpoint.h"
#include "data.h"
#include "manifest.h"
#include "safetensors.h"
#include "testutil.h"
#include "tmbuild.h"
#include "train.h"
#include "train_fixture.h"
#include "util.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct mslam_model_config cfg = {
    .n_mels = 80, .d_model = 16, .n_heads = 2, .d_ff = 32, .conv_kernel = 3, .sub_channels = 4,
    .n_speech_layers = 1, .n_shared_layers = 1, .n_decoder_layers = 1, .causal_conv = 1, .ctc_head = 1,
    .lid_head = 1};

/* ---- the reference: edit distance and trigrams, written plainly (ASCII) ---- */

static int ref_distance(const char *a, const char *b) {
    int na = (int)strlen(a), nb = (int)strlen(b);
    int d[64][64];
    for (int i = 0; i <= na; i++) d[i][0] = i;
    for (int j = 0; j <= nb; j++) d[0][j] = j;
    for (int i = 1; i <= na; i++)
        for (int j = 1; j <= nb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    return d[na][nb];
}

/* Whether a and b share a trigram of their space-padded forms. */
static int share_trigram(const char *a, const char *b) {
    char pa[70], pb[70];
    snprintf(pa, sizeof pa, " %s ", a);
    snprintf(pb, sizeof pb, " %s ", b);
    for (size_t i = 0; i + 3 <= strlen(pa); i++)
        for (size_t j = 0; j + 3 <= strlen(pb); j++)
            if (!strncmp(pa + i, pb + j, 3)) return 1;
    return 0;
}

static void random_sentence(char *s, int max_len, mslam_rng *rng) {
    int n = 1 + (int)(mslam_rng_uniform(rng) * max_len);
    for (int i = 0; i < n; i++) s[i] = "abcd e"[(int)(mslam_rng_uniform(rng) * 6)];
    s[n] = '\0';
    if (s[0] == ' ') s[0] = 'a';
}

/* 40 random sentences in two languages: every lookup equals brute force over the candidates. */
static void test_lookup_exact(void) {
    enum { N = 40, QUERIES = 300 };
    static char src[N][32], tr[N][32];
    const char *sources[N], *translations[N];
    int32_t lang[N];
    static const char *const langs[] = {"es", "it"};
    mslam_rng rng;
    mslam_rng_seed(&rng, 11);
    for (int i = 0; i < N; i++) {
        random_sentence(src[i], 12, &rng);
        snprintf(tr[i], sizeof tr[i], "t%d", i);
        sources[i] = src[i], translations[i] = tr[i], lang[i] = i % 2;
    }
    mslam_tm *tm = tm_new(sources, translations, lang, langs, 2, N);
    CHECK(tm != NULL, "tm_new: %s", mslam_last_error());
    if (!tm) return;
    int mismatches = 0, found_some = 0, none_some = 0;
    for (int q = 0; q < QUERIES; q++) {
        char query[32];
        random_sentence(query, 14, &rng);
        for (int want = -1; want < 2; want++) {
            double best = -1;
            for (int i = 0; i < N; i++) {
                if ((want >= 0 && lang[i] != want) || !share_trigram(query, src[i])) continue;
                int longer = (int)(strlen(query) > strlen(src[i]) ? strlen(query) : strlen(src[i]));
                double sim = 1.0 - (double)ref_distance(query, src[i]) / longer;
                if (sim > best) best = sim;
            }
            struct mslam_tm_match match;
            int rc = mslam_tm_lookup(tm, query, want < 0 ? NULL : langs[want], &match);
            if (best < 0) {
                none_some += rc == 0;
                mismatches += rc != 0;
                continue;
            }
            found_some++;
            int longer = (int)(strlen(query) > strlen(match.source) ? strlen(query) : strlen(match.source));
            mismatches += rc != 1 || fabs(match.similarity - best) > 1e-6 ||
                          fabs(match.similarity - (1.0 - (double)ref_distance(query, match.source) / longer)) > 1e-6 ||
                          (want >= 0 && strcmp(match.lang, langs[want])) ||
                          strcmp(match.translation, tr[match.index]) || strcmp(match.source, src[match.index]);
        }
    }
    CHECK(mismatches == 0 && found_some > 100 && none_some > 0,
          "lookups equal brute force (%d mismatches; %d found, %d with no shared trigram)", mismatches, found_some,
          none_some);
    struct mslam_tm_match match;
    CHECK(mslam_tm_lookup(tm, src[3], NULL, &match) == 1 && match.similarity == 1.0f && !strcmp(match.source, src[3]),
          "a known sentence matches itself with similarity 1");
    CHECK(mslam_tm_lookup(tm, src[3], "fr", &match) == 0, "a language the memory lacks finds nothing");
    CHECK(mslam_tm_lookup(tm, src[3], "de,fr", &match) < 0 && strstr(mslam_last_error(), "names several languages"),
          "a list of languages is an error, not a language of no sentence: %s", mslam_last_error());
    CHECK(mslam_tm_lookup(tm, "", NULL, &match) == 0, "empty text finds nothing");
    CHECK(mslam_tm_lookup(tm, "ab\xff", NULL, &match) < 0 && strstr(mslam_last_error(), "UTF-8"),
          "invalid UTF-8 is an error: %s", mslam_last_error());
    CHECK(mslam_tm_lookup(tm, NULL, NULL, &match) < 0, "NULL text is an error");
    mslam_tm_free(tm);

    /* the candidates are the 64 best by Dice: with many sentences the nearest still wins when
     * it shares the most trigrams (here: the query itself, among 3000 others) */
    enum { BIG = 3000 };
    char (*big)[32] = malloc(BIG * sizeof *big);
    const char **bs = malloc(BIG * sizeof *bs);
    int32_t *bl = calloc(BIG, sizeof *bl);
    for (int i = 0; big && bs && i < BIG; i++) {
        random_sentence(big[i], 20, &rng);
        bs[i] = big[i];
    }
    mslam_tm *large = big && bs && bl ? tm_new(bs, bs, bl, langs, 1, BIG) : NULL;
    CHECK(large != NULL, "a memory of %d sentences: %s", BIG, mslam_last_error());
    int wrong = 0;
    for (int i = 0; large && i < BIG; i += 97)
        wrong += mslam_tm_lookup(large, big[i], "es", &match) != 1 || match.similarity != 1.0f ||
                 strcmp(match.source, big[i]);
    CHECK(wrong == 0, "every probed sentence of the large memory finds itself (%d did not)", wrong);
    mslam_tm_free(large);
    free(big), free(bs), free(bl);
}

/* The distinct trigrams of " s " (ASCII) into grams (room for strlen(s)); their count. */
static int ref_grams(const char *s, char grams[][4]) {
    char padded[70];
    snprintf(padded, sizeof padded, " %s ", s);
    int n = 0;
    for (size_t i = 0; i + 3 <= strlen(padded); i++) {
        int seen = 0;
        for (int k = 0; k < n && !seen; k++) seen = !strncmp(grams[k], padded + i, 3);
        if (!seen) memcpy(grams[n], padded + i, 3), grams[n][3] = '\0', n++;
    }
    return n;
}

typedef struct {
    float dice;
    int index;
} ref_candidate;

/* Larger Dice first, then the earlier entry. */
static int cmp_ref_candidate(const void *a, const void *b) {
    const ref_candidate *x = a, *y = b;
    if (x->dice != y->dice) return x->dice < y->dice ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index);
}

/* More sentences than candidates: the lookup is exactly the documented rule, computed plainly:
 * the 64 sentences of the best trigram Dice (ties: the earlier), and of those the most similar
 * (ties: the better Dice). */
static void test_lookup_candidates(void) {
    enum { N = 600, QUERIES = 200 };
    static char src[N][32];
    const char *sources[N];
    int32_t lang[N] = {0};
    static const char *const langs[] = {"es"};
    mslam_rng rng;
    mslam_rng_seed(&rng, 12);
    for (int i = 0; i < N; i++) {
        random_sentence(src[i], 12, &rng);
        sources[i] = src[i];
    }
    mslam_tm *tm = tm_new(sources, sources, lang, langs, 1, N);
    CHECK(tm != NULL, "tm_new: %s", mslam_last_error());
    if (!tm) return;
    int mismatches = 0, truncated = 0;
    for (int q = 0; q < QUERIES; q++) {
        char query[32], qg[40][4], eg[40][4];
        random_sentence(query, 14, &rng);
        int dq = ref_grams(query, qg), n_cand = 0;
        ref_candidate cand[N];
        for (int i = 0; i < N; i++) {
            int de = ref_grams(src[i], eg), shared = 0;
            for (int a = 0; a < dq; a++)
                for (int b = 0; b < de; b++) shared += !strcmp(qg[a], eg[b]);
            if (shared) cand[n_cand++] = (ref_candidate){2.0f * (float)shared / (float)(dq + de), i};
        }
        qsort(cand, (size_t)n_cand, sizeof *cand, cmp_ref_candidate);
        truncated += n_cand > 64;
        int best = -1;
        float best_sim = -1;
        for (int c = 0; c < n_cand && c < 64; c++) {
            const char *e = src[cand[c].index];
            int longer = (int)(strlen(query) > strlen(e) ? strlen(query) : strlen(e));
            float sim = 1.0f - (float)ref_distance(query, e) / (float)longer;
            if (sim > best_sim) best_sim = sim, best = cand[c].index;
        }
        struct mslam_tm_match match;
        int rc = mslam_tm_lookup(tm, query, NULL, &match);
        mismatches += best < 0 ? rc != 0 : rc != 1 || match.index != best || match.similarity != best_sim;
    }
    CHECK(mismatches == 0 && truncated > QUERIES / 2,
          "lookups follow the candidate rule exactly (%d mismatches; %d of %d queries had more than 64 candidates)",
          mismatches, truncated, QUERIES);
    mslam_tm_free(tm);
}

/* Unicode: distances count code points, not bytes. */
static void test_unicode(void) {
    static const char *const sources[] = {"não há", "camión"}, *const translations[] = {"there is none", "truck"};
    static const char *const langs[] = {"pt"};
    const int32_t lang[] = {0, 0};
    mslam_tm *tm = tm_new(sources, translations, lang, langs, 1, 2);
    struct mslam_tm_match match;
    /* one substitution in 6 code points (7 bytes) */
    CHECK(tm && mslam_tm_lookup(tm, "nao há", NULL, &match) == 1 && fabsf(match.similarity - 5.0f / 6) < 1e-6f &&
              !strcmp(match.translation, "there is none"),
          "similarity over code points: %g", tm ? (double)match.similarity : 0.0);
    mslam_tm_free(tm);
    static const char *const bad[] = {"ok", "b\xc3"};
    CHECK(!tm_new(bad, translations, lang, langs, 1, 2) && strstr(mslam_last_error(), "entry 1"),
          "a source that is not UTF-8 is refused by entry: %s", mslam_last_error());
    static const char *const empty[] = {"ok", ""};
    CHECK(!tm_new(sources, empty, lang, langs, 1, 2) && strstr(mslam_last_error(), "empty"),
          "an empty translation is refused: %s", mslam_last_error());
    const int32_t out_of_range[] = {0, 3};
    CHECK(!tm_new(sources, translations, out_of_range, langs, 1, 2) && strstr(mslam_last_error(), "language"),
          "a language index out of range is refused: %s", mslam_last_error());
}

static void test_files(const char *dir, const char *model_path) {
    static const char *const sources[] = {"ja nein", "haus", "oui non"};
    static const char *const translations[] = {"yes no", "house", "yes no"};
    static const char *const langs[] = {"de", "fr"};
    const int32_t lang[] = {0, 0, 1};
    mslam_tm *tm = tm_new(sources, translations, lang, langs, 2, 3);
    char *path = str_printf("%s/tm.safetensors", dir);
    CHECK(tm && tm_save(tm, path) == 0, "tm_save: %s", mslam_last_error());
    mslam_tm *back = mslam_tm_load(path);
    CHECK(back && mslam_tm_n_entries(back) == 3, "the file loads: %s", mslam_last_error());
    struct mslam_tm_match a, b;
    CHECK(back && mslam_tm_lookup(back, "oui nom", NULL, &a) == 1 && mslam_tm_lookup(tm, "oui nom", NULL, &b) == 1 &&
              a.index == b.index && a.similarity == b.similarity && !strcmp(a.lang, "fr") &&
              !strcmp(a.translation, "yes no"),
          "and answers as the memory written");
    struct mslam_tm_match upper;
    CHECK(back && mslam_tm_lookup(back, "oui nom", "FR", &upper) == 1 && upper.index == a.index,
          "a language code in another case names the same language");
    mslam_tm_free(back);
    CHECK(!mslam_tm_load(model_path) && strstr(mslam_last_error(), "not a translation memory"),
          "a model file is refused: %s", mslam_last_error());
    CHECK(!mslam_tm_load(NULL), "a NULL path is refused");
    /* hand-made files: a count that disagrees, a blob without its final NUL, a missing tensor */
    static const char blob[] = "ja\0nein";
    const int32_t idx[2] = {0, 0};
    st_write_tensor t[] = {{"sources", ST_U8, 1, {sizeof blob}, blob},
                           {"translations", ST_U8, 1, {sizeof blob}, blob},
                           {"languages", ST_I32, 1, {2}, idx}};
    struct {
        char *entries;
        const char *why;
        int n_tensors;
        int64_t source_bytes;
    } cases[] = {{(char *)"3", "entries", 3, sizeof blob}, {(char *)"2", "NUL", 3, sizeof blob - 1},
                 {(char *)"2", "three", 2, sizeof blob}, {(char *)"-5", "at least one", 3, sizeof blob},
                 {(char *)"2000000000", "too few", 3, sizeof blob}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        t[0].shape[0] = cases[k].source_bytes;
        st_meta meta[] = {{"format", TM_FORMAT}, {"format_version", "1"}, {"entries", cases[k].entries},
                          {"langs", "[\"de\"]"}};
        char *bad = str_printf("%s/bad-tm-%zu.safetensors", dir, k);
        CHECK(st_write(bad, t, cases[k].n_tensors, meta, 4) == 0, "write %s", bad);
        CHECK(!mslam_tm_load(bad) && strstr(mslam_last_error(), cases[k].why) && strstr(mslam_last_error(), bad),
              "a bad file is refused, naming it and \"%s\": %s", cases[k].why, mslam_last_error());
        free(bad);
    }
    /* the languages tensor: a float one, and an index past the languages */
    static const float float_idx[2] = {0, 0};
    const int32_t past[2] = {0, 5};
    t[0].shape[0] = sizeof blob;
    st_meta meta[] = {{"format", TM_FORMAT}, {"format_version", "1"}, {"entries", "2"}, {"langs", "[\"de\"]"}};
    char *bad = str_printf("%s/bad-tm-languages.safetensors", dir);
    t[2] = (st_write_tensor){"languages", ST_F32, 1, {2}, float_idx};
    CHECK(st_write(bad, t, 3, meta, 4) == 0 && !mslam_tm_load(bad) && strstr(mslam_last_error(), "languages"),
          "a float languages tensor is refused: %s", mslam_last_error());
    t[2] = (st_write_tensor){"languages", ST_I32, 1, {2}, past};
    CHECK(st_write(bad, t, 3, meta, 4) == 0 && !mslam_tm_load(bad) && strstr(mslam_last_error(), "entry 1") &&
              strstr(mslam_last_error(), bad),
          "a language index past the languages is refused: %s", mslam_last_error());
    free(bad);
    mslam_tm_free(tm);
    free(path);
}

/* Translation with a memory: its English above the threshold, the decoder's below it. */
static void test_translate(mslam_model *m) {
    static const char *const sources[] = {"ja nein", "haus brot"};
    static const char *const translations[] = {"yes no", "house bread"};
    static const char *const langs[] = {"de"};
    const int32_t lang[] = {0, 0};
    mslam_tm *tm = tm_new(sources, translations, lang, langs, 1, 2);
    struct mslam_decode_params p = mslam_decode_default_params();
    p.max_len = 12;
    mslam_result *plain = mslam_translate_text(m, "ja neim", &p);
    p.translation_memory = tm;
    mslam_result *known = mslam_translate_text(m, "ja neim", &p); /* 6 of 7 characters alike */
    CHECK(plain && known && !strcmp(mslam_result_text(known), "yes no") &&
              fabsf(mslam_result_confidence(known) - 6.0f / 7) < 1e-5f && mslam_result_n_tokens(known) == 6 &&
              mslam_result_end_frame(known) == 7,
          "a near sentence takes the memory's translation, its similarity as confidence (\"%s\", %g)",
          known ? mslam_result_text(known) : mslam_last_error(), known ? (double)mslam_result_confidence(known) : 0.0);
    p.tm_min_similarity = 0.9f;
    mslam_result *below = mslam_translate_text(m, "ja neim", &p);
    CHECK(plain && below && !strcmp(mslam_result_text(below), mslam_result_text(plain)),
          "below the threshold the decoder translates (\"%s\" = \"%s\")", below ? mslam_result_text(below) : "",
          plain ? mslam_result_text(plain) : "");
    p.tm_min_similarity = 0.5f;
    p.languages = "fr";
    mslam_result *other = mslam_translate_text(m, "ja neim", &p);
    CHECK(plain && other && !strcmp(mslam_result_text(other), mslam_result_text(plain)),
          "with another language named, the memory's German sentences do not match");
    p.languages = "de";
    mslam_result *named = mslam_translate_text(m, "ja neim", &p);
    CHECK(named && !strcmp(mslam_result_text(named), "yes no"), "with German named they do");
    p.languages = NULL;
    p.tm_min_similarity = 1.5f;
    CHECK(!mslam_translate_text(m, "ja nein", &p) && strstr(mslam_last_error(), "tm_min_similarity"),
          "a threshold outside [0, 1]: %s", mslam_last_error());
    p.tm_min_similarity = NAN;
    CHECK(!mslam_translate_text(m, "ja nein", &p), "a NaN threshold is refused");
    mslam_result_free(plain), mslam_result_free(known), mslam_result_free(below), mslam_result_free(other);
    mslam_result_free(named);
    mslam_tm_free(tm);
    /* a translation with a character outside the vocabulary: the decoder translates */
    static const char *const odd[] = {"ja nein €"};
    mslam_tm *odd_tm = tm_new(sources, odd, lang, langs, 1, 1);
    p = mslam_decode_default_params();
    p.max_len = 12;
    p.translation_memory = odd_tm;
    mslam_result *r = mslam_translate_text(m, "ja nein", &p), *ref = NULL;
    p.translation_memory = NULL;
    ref = mslam_translate_text(m, "ja nein", &p);
    CHECK(r && ref && !strcmp(mslam_result_text(r), mslam_result_text(ref)),
          "a memory translation outside the vocabulary falls back to the decoder");
    mslam_result_free(r), mslam_result_free(ref);
    mslam_tm_free(odd_tm);

    /* from speech: the memory holds the transcript of some audio, so mslam_translate gives its
     * translation over the audio's frames, whether the decoder reads speech or transcripts */
    enum { SAMPLES = 16000 };
    float *pcm = malloc(SAMPLES * sizeof *pcm);
    mslam_rng rng;
    mslam_rng_seed(&rng, 4);
    test_fill_uniform(pcm, SAMPLES, -0.3f, 0.3f, &rng);
    p = mslam_decode_default_params();
    p.max_len = 12;
    mslam_result *said = mslam_transcribe(m, pcm, SAMPLES, &p);
    CHECK(said && *mslam_result_text(said), "the random model hears something (\"%s\")",
          said ? mslam_result_text(said) : mslam_last_error());
    /* the memory's sentence is in the language identified on the audio, where mslam_translate
     * looks (no language named) */
    float probs[8];
    int spoken = mslam_identify_language(m, pcm, SAMPLES, &p, probs);
    CHECK(spoken >= 0, "language ID: %s", mslam_last_error());
    if (said && *mslam_result_text(said) && spoken >= 0) {
        const char *heard[] = {mslam_result_text(said)}, *english[] = {"yes"}, *spoken_code[] = {m->langs[spoken]};
        const int32_t first[] = {0};
        mslam_tm *heard_tm = tm_new(heard, english, first, spoken_code, 1, 1);
        p.translation_memory = heard_tm;
        for (int input = MSLAM_TRANSLATE_SPEECH; input <= MSLAM_TRANSLATE_TRANSCRIPT; input++) {
            m->cfg.translate_input = input;
            mslam_result *t = mslam_translate(m, pcm, SAMPLES, &p);
            CHECK(t && !strcmp(mslam_result_text(t), "yes") &&
                      mslam_result_end_frame(t) == mslam_result_end_frame(said),
                  "mslam_translate (decoder input %d) takes the memory's translation of the transcript (\"%s\")", input,
                  t ? mslam_result_text(t) : mslam_last_error());
            mslam_result_free(t);
        }
        m->cfg.translate_input = MSLAM_TRANSLATE_SPEECH;
        /* the same sentence in another language than the one identified: not looked at */
        const char *other_code[] = {m->langs[(spoken + 1) % m->cfg.n_langs]};
        mslam_tm *other_tm = tm_new(heard, english, first, other_code, 1, 1);
        p.translation_memory = other_tm;
        mslam_result *t = mslam_translate(m, pcm, SAMPLES, &p);
        CHECK(t && strcmp(mslam_result_text(t), "yes"), "a memory of another language is not used (\"%s\")",
              t ? mslam_result_text(t) : mslam_last_error());
        mslam_result_free(t);
        mslam_tm_free(other_tm);
        p.translation_memory = heard_tm;
        mslam_result *direct = NULL;
        CHECK(mslam_translate_memory(m, mslam_result_text(said), &p, &direct) == 1 && direct &&
                  !strcmp(mslam_result_text(direct), "yes"),
              "mslam_translate_memory finds it too");
        mslam_result_free(direct);
        p.translation_memory = NULL;
        CHECK(mslam_translate_memory(m, "ja", &p, &direct) == 0 && !direct, "without a memory: 0, no result");
        mslam_tm_free(heard_tm);
    }
    mslam_result_free(said);
    free(pcm);
}

/* The st rows of eval's --hyps file (columns: mode task path lang speaker reference hypothesis):
 * their count; *equal gets those whose hypothesis is the reference and *known (when english is
 * not NULL) those whose hypothesis is in english. */
static int st_hyps(const char *hyps, GHashTable *english, int *equal, int *known) {
    char *text = NULL;
    size_t n;
    int rows = 0;
    *equal = 0;
    if (known) *known = 0;
    gchar **lines = read_file(hyps, 1 << 20, &text, &n) == 0 ? g_strsplit(text, "\n", -1) : NULL;
    for (gchar **line = lines; line && *line; line++) {
        gchar **field = g_strsplit(*line, "\t", 7);
        if (g_strv_length(field) == 7 && !strcmp(field[1], "st")) {
            rows++;
            *equal += !strcmp(field[5], field[6]);
            if (known) *known += g_hash_table_contains(english, field[6]);
        }
        g_strfreev(field);
    }
    g_strfreev(lines);
    free(text);
    return rows;
}

/* The translations (st rows of eval's --hyps file) that are some row's translation in manifest. */
static int memory_translations_in(const char *hyps, const char *manifest) {
    GHashTable *english = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    manifest_reader *r = manifest_open(manifest, NULL);
    struct manifest_record rec;
    while (r && manifest_next(r, &rec) == 1)
        if (*rec.translation) g_hash_table_add(english, g_strdup(rec.translation));
    manifest_close(r);
    int equal, found;
    st_hyps(hyps, english, &equal, &found);
    g_hash_table_destroy(english);
    return found;
}

static int json_int_after(const char *text, const char *key) {
    const char *at = text ? strstr(text, key) : NULL;
    return at ? atoi(at + strlen(key) + strspn(at + strlen(key), "\": ")) : -1;
}

/* Under --st-input text the memory's key is the reference's normal form with every character:
 * test sentences that end in a letter the model never saw are still found exactly (the ids the
 * decoder reads leave it out). */
static void test_key_outside_vocabulary(const char *model_path, const char *manifest, const char *json) {
    const char *dir = fixture_dir();
    char *oov = str_printf("%s/tm-oov.tsv", dir), *oov_tm = str_printf("%s/tm-oov.safetensors", dir);
    char *text = NULL;
    size_t n;
    int n_pairs = 0; /* test sentences with a translation */
    FILE *f = read_file(manifest, 1 << 20, &text, &n) == 0 ? fopen(oov, "w") : NULL;
    CHECK(f != NULL, "writing %s", oov);
    gchar **lines = f ? g_strsplit(text, "\n", -1) : NULL;
    for (int row = 0; lines && lines[row] && *lines[row]; row++) {
        /* columns: path lang text translation duration speaker split */
        gchar **field = g_strsplit(lines[row], "\t", -1);
        CHECK(g_strv_length(field) == 7, "the fixture manifest has 7 columns");
        if (row > 0 && g_strv_length(field) == 7 && !strcmp(field[6], "test") && *field[3]) {
            gchar *marked = g_strconcat(field[2], " \u0436", NULL);
            g_free(field[2]);
            field[2] = marked;
            n_pairs++;
        }
        gchar *joined = g_strjoinv("\t", field);
        fprintf(f, "%s\n", joined);
        g_free(joined);
        g_strfreev(field);
    }
    g_strfreev(lines);
    if (f) fclose(f);
    free(text);
    char *build[] = {(char *)"tm", (char *)"--text", oov, (char *)"--split", (char *)"all", (char *)"--out", oov_tm, NULL};
    CHECK(cmd_tm(7, build) == 0, "tm of the manifest with a letter outside the vocabulary: %s", mslam_last_error());
    char *ev[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", oov, (char *)"--tasks",
                  (char *)"st", (char *)"--st-input", (char *)"text", (char *)"--modes", (char *)"offline",
                  (char *)"--translation-memory", oov_tm, (char *)"--tm-min-similarity", (char *)"1",
                  (char *)"--json", (char *)json, NULL};
    remove(json);
    CHECK(cmd_eval(17, ev) == 0, "eval with that memory: %s", mslam_last_error());
    text = NULL;
    int counted = read_file(json, 1 << 20, &text, &n) == 0 ? json_int_after(text, "\"st_from_memory\"") : -1;
    free(text);
    CHECK(n_pairs > 0 && counted == n_pairs,
          "all %d test sentences found exactly, the letter outside the vocabulary too (%d)", n_pairs, counted);
    /* recognition alone reads no memory: said, as of an unused translation LM */
    ev[6] = (char *)"asr";
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    int rc = cmd_eval(17, ev);
    mslam_log_set(test_quiet_log, NULL);
    CHECK(rc == 0 && fixture_warned_of(&warnings, "--translation-memory", "is not used"),
          "eval --tasks asr --translation-memory: rc %d, not warned", rc);
    strlist_free(&warnings);
    free(oov), free(oov_tm);
}

static void test_commands(const char *model_path, const char *manifest) {
    const char *dir = fixture_dir();
    char *tm_path = str_printf("%s/cmd-tm.safetensors", dir), *all_path = str_printf("%s/cmd-tm-all.safetensors", dir);
    char *json = str_printf("%s/eval-tm.json", dir);
    char *bad[] = {(char *)"tm", (char *)"--text", (char *)manifest, NULL};
    CHECK(cmd_tm(3, bad) == 2, "tm without --out is a usage error");
    /* a folder as --text: which of its manifests is meant is asked, and --out (its text.tsv, say)
     * is not written */
    char *folder_out = str_printf("%s/text.tsv", dir);
    char *folder[] = {(char *)"tm", (char *)"--text", (char *)dir, (char *)"--out", folder_out, NULL};
    CHECK(cmd_tm(5, folder) == 2 && strstr(mslam_last_error(), "is a folder: name the manifest") &&
              access(folder_out, F_OK) != 0,
          "tm --text FOLDER: %s", mslam_last_error());
    free(folder_out);
    char *args[] = {(char *)"tm", (char *)"--text", (char *)manifest, (char *)"--holdout", (char *)manifest,
                    (char *)"--out", tm_path, NULL};
    CHECK(cmd_tm(7, args) == 0, "mslam-trainer tm: %s", mslam_last_error());
    /* the memory holds the train rows with a translation (de, fr; English rows have none) */
    const char *texts[] = {manifest, NULL}, *holdout[] = {manifest, NULL};
    tm_build_options o = {.text = texts, .holdout = holdout, .split = SPLIT_TRAIN};
    tm_build_stats st;
    mslam_tm *built = NULL;
    CHECK(tm_build(&o, &built, &st) == 0 && built->n_langs == 2 && !strcmp(built->langs[0], "de") &&
              !strcmp(built->langs[1], "fr") && st.pairs == 4 && st.entries + st.held_out <= 4 && st.entries > 0,
          "tm_build: %ld pairs, %ld sentences, %ld held out", st.pairs, st.entries, st.held_out);
    mslam_tm *loaded = mslam_tm_load(tm_path);
    CHECK(loaded && built && mslam_tm_n_entries(loaded) == built->n, "the command wrote the same memory");
    char *info = info_text(tm_path, 0), *sentences = built ? str_printf("sentences    %d, ", built->n) : NULL;
    CHECK(info && sentences && strstr(info, "mslam translation memory") && strstr(info, sentences) &&
              strstr(info, "languages    de fr (2)"),
          "info on the memory: %s", info ? info : mslam_last_error());
    free(info), free(sentences);
    /* another library's safetensors file (PyTorch's says format "pt") */
    char *torch = str_printf("%s/torch.safetensors", dir), key[] = "format", value[] = "pt";
    const float weight[2] = {1, 2};
    st_write_tensor tensor = {"weight", ST_F32, 1, {2}, weight};
    st_meta meta = {key, value};
    info = st_write(torch, &tensor, 1, &meta, 1) == 0 ? info_text(torch, 0) : NULL;
    CHECK(!info && strstr(mslam_last_error(), "not an mslam model, LM or memory") && strstr(mslam_last_error(), "PyTorch"),
          "info on a PyTorch file: %s", info ? info : mslam_last_error());
    free(info), free(torch);
    mslam_tm_free(loaded);
    mslam_tm_free(built);
    /* every split read, the same manifest held out: the 12 dev and test pairs are offered and
     * none of their sentences gets in */
    o.split = SPLIT_N;
    mslam_tm *held = NULL;
    CHECK(tm_build(&o, &held, &st) == 0 && st.held_out >= 12, "tm_build of every split: %ld held out", st.held_out);
    manifest_reader *r = manifest_open(manifest, NULL);
    struct manifest_record rec;
    int leaked = 0;
    while (held && r && manifest_next(r, &rec) == 1) {
        if (rec.split == SPLIT_TRAIN || !*rec.translation) continue;
        struct mslam_tm_match match;
        leaked += mslam_tm_lookup(held, rec.text, rec.lang, &match) == 1 && match.similarity == 1.0f;
    }
    manifest_close(r);
    CHECK(leaked == 0, "held-out sentences stay out (%d found)", leaked);
    mslam_tm_free(held);
    /* codes in other cases are one language, as the LMs take them (tm_new refused "ES" beside "es") */
    char *cases = str_printf("%s/tm-cases.tsv", dir);
    FILE *cf = fopen(cases, "w");
    if (cf) fputs("path\tlang\ttext\ttranslation\n\tES\tsi\tyes\n\tes\tno\tno\n", cf), fclose(cf);
    const char *case_texts[] = {cases, NULL};
    tm_build_options case_o = {.text = case_texts, .split = SPLIT_N};
    mslam_tm *merged = NULL;
    CHECK(cf && tm_build(&case_o, &merged, &st) == 0 && merged->n_langs == 1 && !strcmp(merged->langs[0], "es") &&
              merged->n == 2,
          "ES and es: %s", merged ? "other languages" : mslam_last_error());
    mslam_tm_free(merged);
    free(cases);
    /* pairs in another split than --split's alone: the error names the splits that have them */
    o.split = SPLIT_DEV, o.holdout = NULL;
    char *test_only = str_printf("%s/tm-test-only.tsv", dir);
    FILE *f = fopen(test_only, "w");
    if (f) fputs("path\tlang\ttext\ttranslation\tsplit\n\tde\tja\tyes\ttest\n", f), fclose(f);
    const char *test_texts[] = {test_only, NULL};
    o.text = test_texts;
    mslam_tm *none = NULL;
    CHECK(f && tm_build(&o, &none, &st) == -1 &&
              strstr(mslam_last_error(), "no row of the text's dev split has both a sentence and a translation (the "
                                         "text has them in split test: 1 row; --split picks the split)"),
          "pairs in another split: %s", mslam_last_error());
    mslam_tm_free(none);
    /* a text without a split column: said so, not "in split (none)" */
    if ((f = fopen(test_only, "w"))) fputs("path\tlang\ttext\ttranslation\n\tde\tja\tyes\n", f), fclose(f);
    none = NULL;
    CHECK(f && tm_build(&o, &none, &st) == -1 &&
              strstr(mslam_last_error(), "(the text has no split column, so none of its 1 row is in a split: --split "
                                         "all takes it)"),
          "pairs without a split column: %s", mslam_last_error());
    mslam_tm_free(none);
    free(test_only);

    /* every split, nothing held out: each test sentence is known, so eval's translations of the
     * test split all come from the memory and equal the references */
    char *all[] = {(char *)"tm", (char *)"--text", (char *)manifest, (char *)"--split", (char *)"all",
                   (char *)"--out", all_path, NULL};
    CHECK(cmd_tm(7, all) == 0, "tm --split all");
    char *hyps = str_printf("%s/hyps-tm.tsv", dir);
    char *ev[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", (char *)manifest,
                  (char *)"--tasks", (char *)"st", (char *)"--st-input", (char *)"text", (char *)"--modes",
                  (char *)"offline", (char *)"--translation-memory", all_path, (char *)"--json", json,
                  (char *)"--hyps", hyps, NULL};
    CHECK(cmd_eval(17, ev) == 0, "eval --translation-memory: %s", mslam_last_error());
    char *text = NULL;
    size_t n;
    CHECK(read_file(json, 1 << 20, &text, &n) == 0 && strstr(text, all_path) && strstr(text, "\"tm_min_similarity\""),
          "its JSON records the memory");
    CHECK(json_int_after(text, "\"st_from_memory\"") == 6, "all 6 test translations from the memory (%d)",
          json_int_after(text, "\"st_from_memory\""));
    free(text);
    text = NULL;
    int equal, rows = st_hyps(hyps, NULL, &equal, NULL);
    CHECK(rows == 6 && equal == 6, "and each equals its reference (%d of %d)", equal, rows);
    free(text);
    /* the decoder reads the speech: the memory still matches the CTC transcript first */
    char *speech[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", (char *)manifest,
                      (char *)"--tasks", (char *)"st", (char *)"--st-input", (char *)"speech", (char *)"--modes",
                      (char *)"offline", (char *)"--translation-memory", all_path, (char *)"--json", json,
                      (char *)"--hyps", hyps, NULL};
    remove(json);
    CHECK(cmd_eval(17, speech) == 0, "eval --translation-memory --st-input speech: %s", mslam_last_error());
    /* the count must be the translations that are one of the memory's (a random decoder writes
     * none of them). A random model's transcripts (mostly blank) find nothing, so this catches a
     * count of the decoder's translations; the --st-input text run above, one that misses the
     * memory's */
    text = NULL;
    int counted = read_file(json, 1 << 20, &text, &n) == 0 ? json_int_after(text, "\"st_from_memory\"") : -1;
    free(text);
    int known = memory_translations_in(hyps, manifest);
    CHECK(counted >= 0 && counted == known, "the memory's translations counted: %d, found in the hypotheses: %d",
          counted, known);
    test_key_outside_vocabulary(model_path, manifest, json);
    struct mslam_model_config no_ctc = cfg;
    no_ctc.ctc_head = 0;
    mslam_model *nc = fixture_model(manifest, &no_ctc, 6);
    char *nc_path = str_printf("%s/tm-no-ctc.safetensors", dir);
    CHECK(nc && mslam_model_save(nc, nc_path) == 0, "a model without a CTC head");
    mslam_model_free(nc);
    speech[2] = nc_path;
    CHECK(cmd_eval(17, speech) == 1 && strstr(mslam_last_error(), "no CTC head"),
          "eval --translation-memory without a CTC head: %s", mslam_last_error());
    free(nc_path);
    char *wrong[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", (char *)manifest,
                     (char *)"--tasks", (char *)"st", (char *)"--st-input", (char *)"text",
                     (char *)"--translation-memory", (char *)model_path, NULL};
    CHECK(cmd_eval(11, wrong) == 1 && strstr(mslam_last_error(), "not a translation memory"),
          "eval --translation-memory with a model file: %s", mslam_last_error());
    free(tm_path), free(all_path), free(json), free(hyps);
}

int main(void) {
    test_lookup_exact();
    test_lookup_candidates();
    test_unicode();
    const char *manifest = fixture_write(2, 0);
    CHECK(manifest != NULL, "fixture");
    if (!manifest) return test_result("test_tm");
    mslam_model *m = fixture_model(manifest, &cfg, 5);
    CHECK(m != NULL, "model: %s", mslam_last_error());
    if (m) {
        char *model_path = str_printf("%s/tm-test-model.safetensors", fixture_dir());
        CHECK(mslam_model_save(m, model_path) == 0, "save the model");
        test_files(fixture_dir(), model_path);
        test_translate(m);
        test_commands(model_path, manifest);
        free(model_path);
    }
    mslam_model_free(m);
    fixture_remove();
    return test_result("test_tm");
}
