/* Character LMs (core/lm.c, trainer/lmbuild.c): every distribution sums to 1 (pruned or not),
 * the unpruned model equals interpolated Kneser-Ney computed from scratch, files round-trip and
 * bad ones are refused by name, the CTC beam's shallow fusion scores exactly log p_ctc +
 * weight * log p_lm + bonus * length and changes the answer when the LM says so, the API's
 * errors, `mslam-trainer lm` then `eval --lm` on the fixture corpus, and LMs of translations
 * (`lm --translations`): what they hold, and that each kind is refused where the other belongs. */
#include "checkpoint.h"
#include "data.h"
#include "lmbuild.h"
#include "manifest.h"
#include "search.h"
#include "backend_vulkan.h"
#include "testutil.h"
#include "train.h"
#include "train_fixture.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct mslam_model_config cfg = {
    .n_mels = 80, .d_model = 16, .n_heads = 2, .d_ff = 32, .conv_kernel = 3, .sub_channels = 4,
    .n_speech_layers = 1, .n_shared_layers = 1, .causal_conv = 1, .ctc_head = 1, .lid_head = 1};

/* The LM's text: language de only (the others get one sentence each). */
static const char *const sentences[] = {"ab ab", "abe", "a b e", "ba", "base", "sea", "ab", "abab", "bees"};
#define N_SENTENCES (int)(sizeof sentences / sizeof sentences[0])

static char *write_text(const char *name) {
    char *path = str_printf("%s/%s", fixture_dir(), name);
    FILE *f = fopen(path, "w");
    fprintf(f, "path\tlang\ttext\tsplit\n");
    for (int i = 0; i < N_SENTENCES; i++) fprintf(f, "\tde\t%s\ttrain\n", sentences[i]);
    fprintf(f, "\ten\tyes\ttrain\n\tfr\tnon\ttrain\n");
    fprintf(f, "\tde\tsee\ttest\n"); /* another split: not read */
    fclose(f);
    return path;
}

/* The LM of text; *ngrams (may be NULL): the n-grams it kept, as the builder counts them. */
static mslam_lm *build_counted(const mslam_model *m, const char *text, int order, int prune, long *ngrams) {
    const char *texts[] = {text, NULL};
    lm_build_options o = {.text = texts, .split = SPLIT_TRAIN, .order = order, .prune_count = prune};
    lm_build_stats st;
    mslam_lm *lm = NULL;
    CHECK(lm_build(m, &o, &lm, &st) == 0, "lm_build order %d prune %d: %s", order, prune, mslam_last_error());
    CHECK(!lm || st.sentences == N_SENTENCES + 2, "%ld sentences read, want %d", st.sentences, N_SENTENCES + 2);
    if (ngrams) *ngrams = 0;
    for (int k = 1; ngrams && k <= order; k++) *ngrams += st.ngrams[k];
    return lm;
}

static mslam_lm *build(const mslam_model *m, const char *text, int order, int prune) {
    return build_counted(m, text, order, prune, NULL);
}

/* Sums p(w | ctx) over every event (characters and "</s>"). */
static double total_prob(const mslam_lm *lm, const lm_table *t, const int *ctx, int n) {
    double sum = exp(lm_token_logp(t, ctx, n, lm->eos_id));
    for (int w = VOCAB_N_RESERVED; w < lm->vocab_size; w++) sum += exp(lm_token_logp(t, ctx, n, w));
    return sum;
}

static void test_normalised(const mslam_model *m, const char *text) {
    mslam_rng rng;
    mslam_rng_seed(&rng, 3);
    const int V = m->cfg.vocab_size;
    int a = mslam_model_char_id(m, "a", &(int){0}), b = mslam_model_char_id(m, "b", &(int){0});
    for (int order = 2; order <= 8; order += 3) /* 8: de's 7 characters take 3 bits, 21 fit */
        for (int prune = 1; prune <= 2; prune++) {
            mslam_lm *lm = build(m, text, order, prune);
            if (!lm) continue;
            CHECK(lm->langs[0].order == order && lm->langs[0].n_chars == 7, "de: order %d over %d characters",
                  lm->langs[0].order, lm->langs[0].n_chars);
            double worst = 0;
            for (int trial = 0; trial < 300; trial++) {
                int ctx[12], n = (int)(mslam_rng_uniform(&rng) * 11);
                for (int i = 0; i < n; i++) /* mostly seen characters, some never seen */
                    ctx[i] = mslam_rng_uniform(&rng) < 0.8 ? (mslam_rng_uniform(&rng) < 0.5 ? a : b)
                                                           : VOCAB_N_RESERVED + (int)(mslam_rng_uniform(&rng) * (V - 4));
                if (n && mslam_rng_uniform(&rng) < 0.5) ctx[0] = lm->bos_id;
                double err = fabs(total_prob(lm, &lm->langs[0], ctx, n) - 1);
                worst = err > worst ? err : worst;
            }
            CHECK(worst < 1e-5, "order %d prune %d: p(. | h) sums to 1 within %g", order, prune, worst);
            mslam_lm_free(lm);
        }
}

/* ---- interpolated Kneser-Ney from scratch, by scanning the sentences ---- */

typedef struct {
    int ids[N_SENTENCES][16], len[N_SENTENCES];
    int order, V, bos, eos;
} kn_ref;

/* Occurrences of g (n ids) ending at a predicted position (index >= 1). */
static int raw_count(const kn_ref *r, const int *g, int n) {
    int c = 0;
    for (int s = 0; s < N_SENTENCES; s++)
        for (int end = 1; end < r->len[s]; end++)
            if (end - n + 1 >= 0 && !memcmp(r->ids[s] + end - n + 1, g, (size_t)n * sizeof(int))) c++;
    return c;
}

static int adj_count(const kn_ref *r, const int *g, int n) {
    if (n == r->order || g[0] == r->bos) return raw_count(r, g, n);
    int vg[16], c = 0;
    memcpy(vg + 1, g, (size_t)n * sizeof(int));
    for (int v = 0; v < r->V; v++) vg[0] = v, c += raw_count(r, vg, n + 1) > 0;
    return c;
}

static double discount(const kn_ref *r, int n) {
    /* every distinct n-gram that occurs, by scanning all positions */
    double n1 = 0, n2 = 0;
    for (int s = 0; s < N_SENTENCES; s++)
        for (int end = n - 1 > 1 ? n - 1 : 1; end < r->len[s]; end++) {
            const int *g = r->ids[s] + end - n + 1;
            int first = 1; /* count each distinct n-gram once: at its first occurrence */
            for (int s2 = 0; s2 <= s && first; s2++)
                for (int e2 = 1; e2 < r->len[s2] && first; e2++)
                    if ((s2 < s || e2 < end) && e2 - n + 1 >= 0 && !memcmp(r->ids[s2] + e2 - n + 1, g, (size_t)n * sizeof(int)))
                        first = 0;
            if (!first) continue;
            int a = adj_count(r, g, n);
            n1 += a == 1, n2 += a == 2;
        }
    double D = n1 > 0 && n2 > 0 ? n1 / (n1 + 2 * n2) : 0.5;
    return D < 0.1 ? 0.1 : D > 0.95 ? 0.95 : D;
}

/* p(w | h), h of n ids */
static double kn_prob(const kn_ref *r, const int *h, int n, int w) {
    int g[16];
    memcpy(g, h, (size_t)n * sizeof(int));
    double sum = 0, types = 0;
    for (int v = 0; v < r->V; v++) {
        if (v == r->bos || (v < VOCAB_N_RESERVED && v != r->eos)) continue;
        g[n] = v;
        int a = adj_count(r, g, n + 1);
        sum += a, types += a > 0;
    }
    double lower = n == 0 ? 1.0 / (r->V - VOCAB_N_RESERVED + 1) : kn_prob(r, h + 1, n - 1, w);
    if (sum == 0) return lower;
    g[n] = w;
    double D = discount(r, n + 1);
    return (fmax(adj_count(r, g, n + 1) - D, 0) + D * types * lower) / sum;
}

static void test_kneser_ney(const mslam_model *m, const char *text) {
    const int order = 3;
    mslam_lm *lm = build(m, text, order, 1);
    if (!lm) return;
    kn_ref r = {.order = order, .V = m->cfg.vocab_size, .bos = lm->bos_id, .eos = lm->eos_id};
    for (int s = 0; s < N_SENTENCES; s++) {
        int *ids = NULL, n = encode_text(m, sentences[s], &ids, (char[5]){0});
        r.ids[s][0] = r.bos;
        memcpy(r.ids[s] + 1, ids, (size_t)n * sizeof(int));
        r.ids[s][n + 1] = r.eos;
        r.len[s] = n + 2;
        free(ids);
    }
    int chars[5] = {r.bos, mslam_model_char_id(m, "a", &(int){0}), mslam_model_char_id(m, "b", &(int){0}),
                    mslam_model_char_id(m, " ", &(int){0}), mslam_model_char_id(m, "s", &(int){0})};
    double worst = 0;
    int checked = 0;
    /* every context of up to two of <s> a b ' ' s (<s> first only), every event among them */
    for (int n = 0; n <= 2; n++)
        for (int code = 0; code < 25; code++) {
            int h[2] = {chars[code % 5], chars[code / 5]};
            if (n < 2 && code >= (n ? 5 : 1)) continue;
            if (n == 2 && h[1] == r.bos) continue;
            if (n == 1 && h[0] == r.bos && code) continue;
            for (int k = 1; k <= 5; k++) {
                int w = k == 5 ? r.eos : chars[k];
                double want = log(kn_prob(&r, h, n, w)), got = lm_token_logp(&lm->langs[0], h, n, w);
                worst = fmax(worst, fabs(want - got));
                checked++;
            }
        }
    CHECK(checked > 100 && worst < 1e-5, "unpruned LM = interpolated Kneser-Ney from scratch on %d queries (worst "
          "|log p difference| %g)", checked, worst);
    mslam_lm_free(lm);
}

/* ---- files ---- */

static void test_files(const mslam_model *m, const char *text) {
    long ngrams;
    mslam_lm *lm = build_counted(m, text, 4, 2, &ngrams);
    if (!lm) return;
    char *path = str_printf("%s/lm.safetensors", fixture_dir());
    CHECK(lm_save(lm, path) == 0, "save: %s", mslam_last_error());
    /* info counts the n-grams as the builder does ("<s>" is none) */
    char *info = info_text(path, 0), digits[32] = "";
    const char *count = info ? strstr(info, "n-grams      ") : NULL;
    for (size_t i = 0, n = 0; count && count[13 + i] && count[13 + i] != '\n' && n + 1 < sizeof digits; i++)
        if (count[13 + i] != ',') digits[n++] = count[13 + i];
    CHECK(count && atol(digits) == ngrams, "info: %s n-grams, the builder %ld", digits, ngrams);
    free(info);
    mslam_lm *back = mslam_lm_load(path);
    CHECK(back && mslam_lm_order(back) == 4 && mslam_lm_n_langs(back) == 3 && !strcmp(mslam_lm_lang(back, 2), "fr") &&
              !mslam_lm_lang(back, 3) && mslam_lm_lang_index(back, "fr") == 2 &&
              mslam_lm_lang_index(back, "FR") == 2 && mslam_lm_lang_index(back, "xx") == -1,
          "load: %s", mslam_last_error());
    int same = back != NULL;
    int ctx[3] = {lm->bos_id, mslam_model_char_id(m, "a", &(int){0}), mslam_model_char_id(m, "b", &(int){0})};
    for (int l = 0; back && l < 3; l++)
        for (int w = VOCAB_BOS + 1; w < lm->vocab_size; w++)
            for (int n = 0; n <= 3; n++)
                same &= lm_token_logp(&lm->langs[l], ctx + 3 - n, n, w) ==
                        lm_token_logp(&back->langs[l], ctx + 3 - n, n, w);
    CHECK(same, "a loaded LM gives the same probabilities, bit for bit");
    CHECK(back && lm_check_model(back, m, 0, "test") == 0, "built on the model's vocabulary");
    mslam_lm_free(back);
    /* a model file is not an LM */
    char *model_path = str_printf("%s/lm-model.safetensors", fixture_dir());
    mslam_model_save(m, model_path);
    CHECK(!mslam_lm_load(model_path) && strstr(mslam_last_error(), "not a character LM"),
          "a model file is refused: %s", mslam_last_error());
    /* a key with a gap (character, none, character) */
    lm_table_put(&lm->langs[1], 1 | (uint64_t)1 << (2 * lm->langs[1].bits), -1.0f, 0.0f);
    CHECK(lm_save(lm, path) == 0, "save");
    CHECK(!mslam_lm_load(path) && strstr(mslam_last_error(), "invalid key") && strstr(mslam_last_error(), "'en'"),
          "a bad n-gram is refused by language: %s", mslam_last_error());
    CHECK(!mslam_lm_load(NULL) && !mslam_lm_load("/nonexistent/lm.safetensors"), "missing files");
    mslam_lm_free(lm);
    /* a character listed twice; a log-probability of -inf */
    lm = build(m, text, 3, 1);
    if (lm) {
        lm_table *de = &lm->langs[0];
        int32_t first = de->chars[0];
        de->chars[1] = first;
        CHECK(lm_save(lm, path) == 0, "save");
        CHECK(!mslam_lm_load(path) && strstr(mslam_last_error(), path) && strstr(mslam_last_error(), "'de'") &&
                  strstr(mslam_last_error(), "repeat"),
              "a repeated character is refused, naming file and language: %s", mslam_last_error());
        mslam_lm_free(lm);
    }
    lm = build(m, text, 3, 1);
    if (lm) {
        int n = mslam_model_char_id(m, "n", &(int){0}); /* fr's text is "non" */
        CHECK(lm_key(&lm->langs[2], &n, 1) != 0, "fr has 'n'");
        lm_table_put(&lm->langs[2], lm_key(&lm->langs[2], &n, 1), -INFINITY, 0.0f);
        CHECK(lm_save(lm, path) == 0, "save");
        CHECK(!mslam_lm_load(path) && strstr(mslam_last_error(), "'fr'") && strstr(mslam_last_error(), "log p"),
              "an infinite log-probability is refused: %s", mslam_last_error());
        /* a finite backoff weight no estimate gives (a flipped bit: it loaded, and the beam wrote
         * garbage) */
        lm_table_put(&lm->langs[2], lm_key(&lm->langs[2], &n, 1), -1.0f, 3e38f);
        CHECK(lm_save(lm, path) == 0, "save");
        CHECK(!mslam_lm_load(path) && strstr(mslam_last_error(), "'fr'") && strstr(mslam_last_error(), "log bow 3e+38") &&
                  strstr(mslam_last_error(), "within -100..100"),
              "a backoff weight of e^3e38 is refused: %s", mslam_last_error());
        mslam_lm_free(lm);
    }
    free(path), free(model_path);
}

/* ---- shallow fusion in the CTC prefix beam ---- */

static double seq_logp(const float *lp, int T, int V, const int *labels, int L) {
    double scratch[2 * 8 * 17];
    return -ctc_loss(NULL, lp, T, V, labels, L, CTC_BLANK, 1.0f, scratch);
}

static void test_fusion(const mslam_model *m, const char *text) {
    mslam_lm *lm = build(m, text, 3, 1);
    if (!lm) return;
    const int V = m->cfg.vocab_size, T = 4;
    int a = mslam_model_char_id(m, "a", &(int){0}), b = mslam_model_char_id(m, "b", &(int){0});
    /* frames: (b .5, a .4) blank (a .5, b .4) blank: "ba" before "ab", 0.25 to 0.16; the LM (text
     * "ab ab", "abab", "ab", ...) prefers "ab" */
    float *lp = malloc((size_t)T * V * sizeof(float));
    for (int t = 0; t < T; t++) {
        for (int c = 0; c < V; c++) lp[t * V + c] = logf(1e-6f);
        lp[t * V + CTC_BLANK] = logf(t % 2 ? 0.98f : 0.1f);
        lp[t * V + a] = logf(t % 2 ? 0.01f : t == 0 ? 0.4f : 0.5f);
        lp[t * V + b] = logf(t % 2 ? 0.01f : t == 0 ? 0.5f : 0.4f);
    }
    ctc_beam s;
    search_result plain = {0}, fused = {0}, zero = {0};
    CHECK(ctc_beam_init(&s, 8, V, -INFINITY) == 0, "beam");
    ctc_beam_reset(&s);
    ctc_beam_step(&s, lp, T, 0);
    ctc_beam_best(&s, 1, &plain);
    CHECK(plain.n == 2 && plain.tokens[0].id == b && plain.tokens[1].id == a, "without an LM: \"ba\" (%d tokens, "
          "first %d; a %d, b %d)", plain.n, plain.n ? plain.tokens[0].id : -1, a, b);
    ctc_beam_set_lm(&s, lm, 0, 0.0f, 0.0f);
    ctc_beam_reset(&s);
    ctc_beam_step(&s, lp, T, 0);
    ctc_beam_best(&s, 1, &zero);
    CHECK(zero.n == plain.n && zero.score == plain.score, "an LM of weight 0 changes nothing");
    const float weight = 3.0f, bonus = 0.25f;
    ctc_beam_set_lm(&s, lm, 0, weight, bonus);
    ctc_beam_reset(&s);
    ctc_beam_step(&s, lp, T, 0);
    ctc_beam_best(&s, 1, &fused);
    CHECK(fused.n == 2 && fused.tokens[0].id == a && fused.tokens[1].id == b, "with the LM: \"ab\"");
    if (fused.n == 2) {
        int labels[2] = {fused.tokens[0].id, fused.tokens[1].id}, ctx[3] = {lm->bos_id, labels[0], labels[1]};
        double lm_logp = 0;
        for (int i = 1; i <= 3; i++) lm_logp += lm_token_logp(&lm->langs[0], ctx, i, i < 3 ? ctx[i] : lm->eos_id);
        double want = seq_logp(lp, T, V, labels, 2) + weight * lm_logp + 2 * bonus;
        CHECK(fabs(fused.score - want) < 1e-4 && fabs(fused.logp - seq_logp(lp, T, V, labels, 2)) < 1e-4,
              "fused score %.6f = log p_ctc + w log p_lm(ab</s>) + 2 bonus = %.6f; logp stays the CTC's", fused.score,
              want);
    }
    search_result_free(&plain), search_result_free(&fused), search_result_free(&zero);
    ctc_beam_free(&s);
    free(lp);
    mslam_lm_free(lm);
}

/* ---- the public API ---- */

static void test_api(mslam_model *m, const char *text) {
    mslam_lm *lm = build(m, text, 3, 2);
    if (!lm) return;
    struct mslam_decode_params p = mslam_decode_default_params();
    p.lm = lm;
    p.languages = "de,fr";
    CHECK(!mslam_ctc_decoder_new(m, &p) && strstr(mslam_last_error(), "one language"),
          "a stream's LM needs one language: %s", mslam_last_error());
    p.languages = "de";
    p.beam_size = 1;
    CHECK(!mslam_ctc_decoder_new(m, &p) && strstr(mslam_last_error(), "beam_size"), "greedy has no fusion: %s",
          mslam_last_error());
    p.beam_size = 4;
    p.lm_weight = -1;
    CHECK(!mslam_ctc_decoder_new(m, &p) && strstr(mslam_last_error(), "lm_weight"), "a negative weight: %s",
          mslam_last_error());
    p.lm_weight = 0.5f;
    mslam_ctc_decoder *dec = mslam_ctc_decoder_new(m, &p);
    CHECK(dec != NULL, "decoder with an LM: %s", mslam_last_error());
    mslam_ctc_decoder_free(dec);
    /* lm_weight 0: no LM in the search, its bonus neither (a review found the bonus added: a
     * character every frame where the blank is likelier) */
    {
        const int V = m->cfg.vocab_size;
        float lp[6 * 64];
        CHECK(V <= 64, "a vocabulary of %d", V);
        for (int t = 0; t < 6; t++)
            for (int c = 0; c < V && V <= 64; c++) lp[t * V + c] = logf(c == 0 ? 0.8f : 0.2f / (V - 1));
        struct mslam_decode_params z = p;
        z.lm_weight = 0;
        z.lm_bonus = 8.0f; /* far above what a character loses to the blank */
        z.beam_size = 1; /* an LM that takes no part needs no beam and no language */
        z.languages = NULL;
        mslam_ctc_decoder *zero = mslam_ctc_decoder_new(m, &z);
        mslam_result *got = zero && V <= 64 && mslam_ctc_decoder_push_log_probs(zero, lp, 6) == 0
                                ? mslam_ctc_decoder_finish(zero)
                                : NULL;
        CHECK(got && !strcmp(mslam_result_text(got), ""), "lm_weight 0: \"%s\" (%s)", got ? mslam_result_text(got) : "",
              mslam_last_error());
        mslam_result_free(got);
        mslam_ctc_decoder_free(zero);
        z.beam_size = 4;
        ctc_beam beam;
        search_result best = {0};
        CHECK(ctc_beam_init(&beam, 4, V, logf(1e-4f)) == 0, "a beam");
        ctc_beam_set_lm(&beam, lm, 0, 0.0f, 8.0f);
        CHECK(V <= 64 && ctc_beam_step(&beam, lp, 6, 0) == 0 && ctc_beam_best(&beam, 1, &best) == 0 && best.n == 0,
              "a beam with an LM of weight 0 writes nothing: %d characters", best.n);
        search_result_free(&best);
        ctc_beam_free(&beam);
    }
    /* offline without a language: the LID head picks one of the LM's */
    float pcm[8000];
    mslam_rng rng;
    mslam_rng_seed(&rng, 9);
    for (int i = 0; i < 8000; i++) pcm[i] = 0.1f * mslam_rng_normal(&rng);
    p.languages = NULL;
    mslam_result *r = mslam_transcribe(m, pcm, 8000, &p);
    CHECK(r != NULL, "transcribe with an LM and no language: %s", mslam_last_error());
    /* the same on the audio's frames (language ID, then the LM of the language found) */
    int T = 0;
    float *frames = mslam_encode_pcm(m, pcm, 8000, NULL, &T);
    mslam_result *rf = frames ? mslam_transcribe_frames(m, frames, T, &p) : NULL;
    CHECK(r && rf && !strcmp(mslam_result_text(rf), mslam_result_text(r)) &&
              mslam_result_confidence(rf) == mslam_result_confidence(r),
          "transcribe_frames with an LM: \"%s\" against \"%s\" (%s)", rf ? mslam_result_text(rf) : "",
          mslam_result_text(r), mslam_last_error());
    mslam_result_free(rf);
    mslam_free(frames);
    mslam_result_free(r);
    float probs[3], plain[3];
    struct mslam_decode_params q = mslam_decode_default_params();
    int best_plain = mslam_identify_language(m, pcm, 8000, &q, plain);
    q.lm = lm;
    q.lid_lm_weight = 0.5f;
    int best = mslam_identify_language(m, pcm, 8000, &q, probs);
    CHECK(best >= 0 && best_plain >= 0 && fabsf(probs[0] + probs[1] + probs[2] - 1) < 1e-5f &&
              (probs[0] != plain[0] || probs[1] != plain[1]),
          "LID with the LM: probabilities sum to 1 and differ from the head's alone (%g %g %g vs %g %g %g)",
          (double)probs[0], (double)probs[1], (double)probs[2], (double)plain[0], (double)plain[1], (double)plain[2]);
    /* an LM's weights are checked as mslam_transcribe checks them, whether LID reads it or not */
    for (int i = 0; i < 2; i++) {
        struct mslam_decode_params bad = q;
        bad.lid_lm_weight = i ? -1.0f : NAN;
        CHECK(mslam_identify_language(m, pcm, 8000, &bad, probs) < 0 && strstr(mslam_last_error(), "LM weights"),
              "LID with lid_lm_weight %g: %s", (double)bad.lid_lm_weight, mslam_last_error());
    }
    /* too short for one frame: an empty result, as without an LM */
    p.languages = NULL;
    r = mslam_transcribe(m, pcm, 160, &p);
    CHECK(r && !*mslam_result_text(r), "10 ms with an LM: an empty result (%s)", r ? "" : mslam_last_error());
    mslam_result_free(r);
    /* an LM of none of the candidates changes nothing (and no NaN) */
    const char *only_de[] = {"de", NULL}, *texts[] = {text, NULL};
    lm_build_options o = {.text = texts, .split = SPLIT_TRAIN, .langs = only_de, .order = 3, .prune_count = 1};
    lm_build_stats st;
    mslam_lm *de_lm = NULL;
    CHECK(lm_build(m, &o, &de_lm, &st) == 0 && mslam_lm_n_langs(de_lm) == 1, "an LM of de alone");
    q.lm = de_lm;
    q.languages = "en,fr";
    struct mslam_decode_params plain_q = q;
    plain_q.lm = NULL;
    float enfr[3], enfr_plain[3];
    int b1 = mslam_identify_language(m, pcm, 8000, &q, enfr), b0 = mslam_identify_language(m, pcm, 8000, &plain_q, enfr_plain);
    CHECK(b1 == b0 && b1 >= 0 && enfr[1] == enfr_plain[1] && enfr[2] == enfr_plain[2] && isfinite(enfr[1]),
          "LID among languages the LM lacks: as without it (%g %g vs %g %g)", (double)enfr[1], (double)enfr[2],
          (double)enfr_plain[1], (double)enfr_plain[2]);
    mslam_lm_free(de_lm);
    /* another vocabulary */
    struct mslam_model_config c = cfg;
    static const char *const other_vocab[] = {"<blank>", "<unk>", "<s>", "</s>", "x", "y"};
    c.vocab_size = 6;
    mslam_model *other = mslam_model_new(&c, other_vocab, (const char *const *)m->langs);
    p.languages = "de";
    CHECK(other && !mslam_ctc_decoder_new(other, &p) && strstr(mslam_last_error(), "another vocabulary"),
          "an LM of another vocabulary is refused: %s", mslam_last_error());
    mslam_model_free(other);
    mslam_lm_free(lm);
}

/* ---- mslam-trainer lm, then eval --lm ---- */

/* cmd_eval on argv (NULL-terminated), the warnings it logs pushed onto warnings: its status. */
static int eval_warnings(char **argv, struct strlist *warnings) {
    int argc = 0;
    while (argv[argc]) argc++;
    mslam_log_set(fixture_collect_warnings, warnings);
    int rc = cmd_eval(argc, argv);
    mslam_log_set(NULL, NULL);
    return rc;
}

static void test_commands(const char *model_path, const char *manifest) {
    char *lm_path = str_printf("%s/cmd-lm.safetensors", fixture_dir());
    char *json = str_printf("%s/eval-lm.json", fixture_dir());
    char *bad[] = {(char *)"lm", (char *)"--model", (char *)model_path, NULL};
    CHECK(cmd_lm(3, bad) == 2, "lm without --text and --out is a usage error");
    char *args[] = {(char *)"lm", (char *)"--model", (char *)model_path, (char *)"--text", (char *)manifest,
                    (char *)"--holdout", (char *)manifest, (char *)"--order", (char *)"4", (char *)"--out", lm_path, NULL};
    CHECK(cmd_lm(11, args) == 0, "mslam-trainer lm");
    mslam_lm *lm = mslam_lm_load(lm_path);
    CHECK(lm && mslam_lm_n_langs(lm) == 3, "its LM loads: %s", mslam_last_error());
    mslam_lm_free(lm);
    char *info = info_text(lm_path, 0);
    CHECK(info && strstr(info, "mslam character LM") && strstr(info, "models       transcripts") &&
              strstr(info, "order        4\n") && strstr(info, "n-grams      ") && strstr(info, " (3)\n"),
          "info on the LM: %s", info ? info : mslam_last_error());
    free(info);
    char *ev[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", (char *)manifest,
                  (char *)"--modes", (char *)"offline", (char *)"--lm", lm_path, (char *)"--lid-seconds",
                  (char *)"1", (char *)"--json", json, NULL};
    CHECK(cmd_eval(13, ev) == 0, "eval --lm: %s", mslam_last_error());
    char *text = NULL;
    size_t n;
    CHECK(read_file(json, 1 << 20, &text, &n) == 0 && strstr(text, "\"cer_beam\"") && strstr(text, "\"lid\""),
          "eval --lm scores the beam and LID");
    const char *weight = text ? strstr(text, "\"lm_weight\"") : NULL;
    if (weight) weight += strspn(weight + 11, ": ") + 11;
    CHECK(text && strstr(text, "\"decoding\"") && strstr(text, lm_path) && weight && !strncmp(weight, "0.8,", 4),
          "its JSON records the LM and its weights (as given: %.12s)", weight ? weight : "");
    free(text);
    /* the LM reaches the beam (a large bonus per character changes its hypotheses), not greedy */
    char *hyps[2] = {str_printf("%s/hyps-plain.tsv", fixture_dir()), str_printf("%s/hyps-lm.tsv", fixture_dir())};
    char *plain[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", (char *)manifest,
                     (char *)"--modes", (char *)"offline", (char *)"--tasks", (char *)"asr", (char *)"--hyps",
                     hyps[0], NULL};
    char *heavy[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", (char *)manifest,
                     (char *)"--modes", (char *)"offline", (char *)"--tasks", (char *)"asr", (char *)"--hyps",
                     hyps[1], (char *)"--lm", lm_path, (char *)"--lm-weight", (char *)"1", (char *)"--lm-bonus", (char *)"20", NULL};
    CHECK(cmd_eval(11, plain) == 0 && cmd_eval(17, heavy) == 0, "eval with and without --lm");
    char *a = NULL, *b = NULL;
    int beam_differ = 0, greedy_same = 1, n_greedy = 0;
    if (read_file(hyps[0], 1 << 20, &a, &n) == 0 && read_file(hyps[1], 1 << 20, &b, &n) == 0) {
        char *sa, *sb, *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb);
        for (; la && lb; la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb)) {
            static const char beam_row[] = "offline\tasr-beam\t", greedy_row[] = "offline\tasr\t";
            if (!strncmp(la, beam_row, sizeof beam_row - 1)) beam_differ |= strcmp(la, lb) != 0;
            if (!strncmp(la, greedy_row, sizeof greedy_row - 1)) greedy_same &= strcmp(la, lb) == 0, n_greedy++;
        }
    }
    CHECK(beam_differ && greedy_same && n_greedy == 9, "--lm changes beam hypotheses (%d) and none of the %d greedy ones (%d)",
          beam_differ, n_greedy, greedy_same);
    /* an LM of German alone on data in three languages: the other two are named */
    char *de_lm = str_printf("%s/cmd-lm-de.safetensors", fixture_dir());
    char *de_args[] = {(char *)"lm", (char *)"--model", (char *)model_path, (char *)"--text", (char *)manifest,
                       (char *)"--langs", (char *)"de", (char *)"--out", de_lm, NULL};
    heavy[12] = de_lm;
    struct strlist warnings = {0};
    CHECK(cmd_lm(9, de_args) == 0, "lm --langs de: %s", mslam_last_error());
    CHECK(eval_warnings(heavy, &warnings) == 0, "eval --lm of German: %s", mslam_last_error());
    int named = 0;
    for (size_t i = 0; i < warnings.n; i++)
        named |= strstr(warnings.items[i], "has no model of ") && !strstr(warnings.items[i], "of de") &&
                 !strstr(warnings.items[i], " de ");
    CHECK(warnings.n == 1 && named, "eval --lm of German warns of the data's other languages: %s",
          warnings.n ? warnings.items[0] : "(none)");
    strlist_free(&warnings);
    /* greedy decoding without LID reads no LM: said */
    char *greedy_lm[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", (char *)manifest,
                         (char *)"--modes", (char *)"offline", (char *)"--tasks", (char *)"asr", (char *)"--ctc-beam",
                         (char *)"1", (char *)"--lm", lm_path, NULL};
    CHECK(eval_warnings(greedy_lm, &warnings) == 0, "eval --lm --ctc-beam 1: %s", mslam_last_error());
    CHECK(warnings.n == 1 && strstr(warnings.items[0], "--ctc-beam 1"), "eval --lm --ctc-beam 1 warns: %s",
          warnings.n ? warnings.items[0] : "(none)");
    strlist_free(&warnings);
    /* nor does language ID without the LM's weight */
    char *lid_lm[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", (char *)manifest,
                      (char *)"--modes", (char *)"offline", (char *)"--tasks", (char *)"lid", (char *)"--lid-lm-weight",
                      (char *)"0", (char *)"--lm", lm_path, NULL};
    CHECK(eval_warnings(lid_lm, &warnings) == 0, "eval --tasks lid --lm: %s", mslam_last_error());
    CHECK(warnings.n == 1 && strstr(warnings.items[0], "is not used: the tasks scored decode no CTC transcript"),
          "eval --tasks lid --lid-lm-weight 0 --lm warns: %s", warnings.n ? warnings.items[0] : "(none)");
    strlist_free(&warnings);

    /* a language the model lacks would never be picked */
    de_args[6] = (char *)"xx";
    CHECK(cmd_lm(9, de_args) == 1 && strstr(mslam_last_error(), "no language 'xx'"), "lm --langs xx: %s",
          mslam_last_error());
    /* no language at all (an unset variable): a usage error, not every language */
    de_args[6] = (char *)"";
    CHECK(cmd_lm(9, de_args) == 2, "lm --langs '' is not a usage error");
    /* a code in another case is the model's (it was refused, the data's codes being matched in any
     * case), once */
    de_args[6] = (char *)"DE";
    mslam_lm *upper = NULL;
    CHECK(cmd_lm(9, de_args) == 0 && (upper = mslam_lm_load(de_lm)) && upper->n_langs == 1 &&
              !strcmp(upper->langs[0].code, "de"),
          "lm --langs DE: %s", upper ? upper->langs[0].code : mslam_last_error());
    mslam_lm_free(upper);
    de_args[6] = (char *)"de,DE";
    CHECK(cmd_lm(9, de_args) == 1 && strstr(mslam_last_error(), "--langs names de twice"), "lm --langs de,DE: %s",
          mslam_last_error());
    /* a key file's list, at semicolons; and the key file as --out: refused, the file kept */
    char *conf = str_printf("%s/lm.conf", fixture_dir()), *kept = NULL;
    size_t kept_n = 0;
    write_file_atomic(conf, "[lm]\nlangs=de;fr\n", 17);
    char *by_conf[] = {(char *)"lm", (char *)"--model", (char *)model_path, (char *)"--text", (char *)manifest,
                       (char *)"--config", conf, (char *)"--out", de_lm, NULL};
    mslam_lm *two = NULL;
    CHECK(cmd_lm(9, by_conf) == 0 && (two = mslam_lm_load(de_lm)) && two->n_langs == 2,
          "lm with langs=de;fr from a key file: %s", two ? "other languages" : mslam_last_error());
    mslam_lm_free(two);
    by_conf[8] = conf;
    CHECK(cmd_lm(9, by_conf) == 2 && strstr(mslam_last_error(), "is the --config key file") &&
              read_file(conf, 64, &kept, &kept_n) == 0 && !strcmp(kept, "[lm]\nlangs=de;fr\n"),
          "lm --out the --config file: %s", mslam_last_error());
    free(kept), free(conf);
    free(de_lm);
    /* --device vulkan: the same hypotheses, greedy and beam, as on the CPU (when this build and
     * machine have Vulkan; the backend's own test says more) */
    char *vk_hyps = str_printf("%s/hyps-vulkan.tsv", fixture_dir());
    char *on_vulkan[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", (char *)manifest,
                         (char *)"--modes", (char *)"offline", (char *)"--tasks", (char *)"asr", (char *)"--hyps",
                         vk_hyps, (char *)"--device", (char *)"vulkan", NULL};
    mslam_model *probe = mslam_model_load(model_path, mslam_model_default_params());
    mslam_vk *vk = NULL;
    if (probe && mslam_vk_open(&vk, probe, MSLAM_DEVICE_VULKAN) == 0) {
        CHECK(cmd_eval(13, on_vulkan) == 0, "eval --device vulkan: %s", mslam_last_error());
        CHECK(test_files_equal(hyps[0], vk_hyps), "eval --device vulkan gives other hypotheses than the CPU");
        printf("eval --device vulkan: the CPU's hypotheses\n");
    } else {
        /* no Vulkan here: the option says so */
        CHECK(cmd_eval(13, on_vulkan) == 1 && strstr(mslam_last_error(), "--device vulkan: "),
              "eval --device vulkan without a device: %s", mslam_last_error());
        printf("eval --device vulkan: no device (%s)\n", mslam_last_error());
    }
    mslam_vk_close(vk);
    mslam_model_free(probe);
    char *bad_device[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", (char *)manifest,
                          (char *)"--device", (char *)"gpu", NULL};
    CHECK(cmd_eval(7, bad_device) == 2, "eval --device gpu is a usage error");
    free(vk_hyps);
    free(a), free(b), free(hyps[0]), free(hyps[1]);
    char *wrong[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", (char *)manifest,
                     (char *)"--lm", (char *)model_path, NULL};
    CHECK(cmd_eval(7, wrong) == 1 && strstr(mslam_last_error(), "not a character LM but an mslam model"),
          "eval --lm with a model file, named as one: %s", mslam_last_error());
    free(lm_path), free(json);
}

/* An LM of the fixture's English translations: one language "en", "text" = "translation" in its
 * file; the decoder's search fuses it (the translation changes under a heavy weight) and each
 * kind of LM is refused where the other belongs. */
static void test_translation_lm(const mslam_model *m, const char *model_path, const char *manifest) {
    char *path = str_printf("%s/translation-lm.safetensors", fixture_dir());
    char *args[] = {(char *)"lm", (char *)"--model", (char *)model_path, (char *)"--text", (char *)manifest,
                    (char *)"--translations", (char *)"--order", (char *)"3", (char *)"--out", path, NULL};
    CHECK(cmd_lm(10, args) == 0, "mslam-trainer lm --translations");
    char *with_langs[] = {(char *)"lm", (char *)"--model", (char *)model_path, (char *)"--text", (char *)manifest,
                          (char *)"--translations", (char *)"--langs", (char *)"de", (char *)"--out", path, NULL};
    CHECK(cmd_lm(10, with_langs) == 2, "--translations with --langs is a usage error");
    mslam_lm *tlm = mslam_lm_load(path);
    CHECK(tlm && mslam_lm_of_translations(tlm) && mslam_lm_n_langs(tlm) == 1 && !strcmp(mslam_lm_lang(tlm, 0), "en"),
          "an LM of translations: one language, en, marked in its file (%s)", tlm ? "" : mslam_last_error());
    char *info = info_text(path, 0);
    CHECK(info && strstr(info, "models       translations into English") && strstr(info, "languages    en (1)"),
          "info on the LM of translations: %s", info ? info : mslam_last_error());
    free(info);
    if (!tlm) {
        free(path);
        return;
    }
    /* recognition alone reads no translation LM: said */
    char *asr_only[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", (char *)manifest,
                        (char *)"--modes", (char *)"offline", (char *)"--tasks", (char *)"asr",
                        (char *)"--translation-lm", path, NULL};
    struct strlist warnings = {0};
    CHECK(eval_warnings(asr_only, &warnings) == 0, "eval --tasks asr --translation-lm: %s", mslam_last_error());
    CHECK(warnings.n == 1 && strstr(warnings.items[0], "--translation-lm") && strstr(warnings.items[0], "not used"),
          "eval --tasks asr --translation-lm warns: %s", warnings.n ? warnings.items[0] : "(none)");
    strlist_free(&warnings);
    /* the translations are the fixture's English words ("yes", "no", "house", ...): "y" begins
     * some, "j" (of German "ja", a transcript) none, so the LM puts "y" above "j" after "<s>" */
    int ctx[1] = {tlm->bos_id}, y = mslam_model_char_id(m, "y", &(int){0}), j = mslam_model_char_id(m, "j", &(int){0});
    CHECK(y >= 0 && j >= 0 && lm_token_logp(&tlm->langs[0], ctx, 1, y) > lm_token_logp(&tlm->langs[0], ctx, 1, j),
          "the translations' text is what the LM learnt");
    const char *texts[] = {manifest, NULL};
    lm_build_options o = {.text = texts, .split = SPLIT_TRAIN, .order = 3, .prune_count = 1};
    lm_build_stats st;
    mslam_lm *asr_lm = NULL;
    CHECK(lm_build(m, &o, &asr_lm, &st) == 0 && !mslam_lm_of_translations(asr_lm), "an LM of transcripts");
    /* text whose every sentence has a character outside the vocabulary: an error that says so
     * (not that the text has no translation) */
    char *foreign = str_printf("%s/lm-foreign.tsv", fixture_dir());
    FILE *f = fopen(foreign, "w");
    if (f) {
        fputs("path\tlang\ttext\ttranslation\tsplit\n\tde\tja \u0436\tyes \u0436\ttrain\n", f);
        fclose(f);
    }
    const char *foreign_texts[] = {foreign, NULL}, *only_de[] = {"de", NULL};
    lm_build_options of = {.text = foreign_texts, .split = SPLIT_TRAIN, .order = 3, .prune_count = 1, .translations = 1};
    mslam_lm *none = NULL;
    CHECK(f && lm_build(m, &of, &none, &st) == -1 && strstr(mslam_last_error(), "none of the 1 translations"),
          "translations outside the vocabulary: %s", mslam_last_error());
    mslam_lm_free(none);
    none = NULL;
    of.translations = 0, of.langs = only_de;
    CHECK(lm_build(m, &of, &none, &st) == -1 && strstr(mslam_last_error(), "none of the 1 sentences of language 'de'"),
          "transcripts outside the vocabulary: %s", mslam_last_error());
    mslam_lm_free(none);
    none = NULL;
    /* rows in another split than --split's: the error names the splits that have them */
    f = fopen(foreign, "w");
    if (f) {
        fputs("path\tlang\ttext\ttranslation\tsplit\n\tde\tja\tyes\ttest\n\tde\tnein\tno\ttest\n", f);
        fclose(f);
    }
    CHECK(f && lm_build(m, &of, &none, &st) == -1 &&
              strstr(mslam_last_error(), "no sentence of language 'de' in the text's train split (the text has them "
                                         "in split test: 2 rows; --split picks the split)"),
          "transcripts in another split: %s", mslam_last_error());
    mslam_lm_free(none);
    none = NULL;
    of.translations = 1, of.langs = NULL;
    CHECK(lm_build(m, &of, &none, &st) == -1 &&
              strstr(mslam_last_error(), "no row of the text's train split has a translation (the text has them in "
                                         "split test: 2 rows;"),
          "translations in another split: %s", mslam_last_error());
    mslam_lm_free(none);
    /* a text without a split column: said so, not "in split (none)" */
    f = fopen(foreign, "w");
    if (f) fputs("path\tlang\ttext\ttranslation\n\tde\tja\tyes\n", f), fclose(f);
    none = NULL;
    CHECK(f && lm_build(m, &of, &none, &st) == -1 &&
              strstr(mslam_last_error(), "(the text has no split column, so none of its 1 row is in a split: --split "
                                         "all takes it)"),
          "translations without a split column: %s", mslam_last_error());
    mslam_lm_free(none);
    /* text of one of the model's languages, no --langs: the missing ones named at once, and the
     * --langs that builds */
    f = fopen(foreign, "w");
    if (f) {
        fputs("path\tlang\ttext\ttranslation\tsplit\n\tde\tja\tyes\ttrain\n", f);
        fclose(f);
    }
    of.translations = 0, of.langs = NULL;
    const int n_langs = mslam_model_get_config(m).n_langs;
    char *missing = str_printf("no sentence of %d of the %d languages in the text's train split (", n_langs - 1, n_langs);
    CHECK(f && n_langs > 2 && lm_build(m, &of, &none, &st) == -1 && strstr(mslam_last_error(), missing) &&
              strstr(mslam_last_error(), "); it has de: name those with --langs de"),
          "one language of %d: %s", n_langs, mslam_last_error());
    mslam_lm_free(none);
    none = NULL;
    free(missing);
    /* another language's rows in another split: not "name those with --langs de" (--split is the
     * fix there, which the language's own message says) */
    f = fopen(foreign, "w");
    if (f) {
        fputs("path\tlang\ttext\ttranslation\tsplit\n\tde\tja\tyes\ttrain\n\ten\tyes\t\ttest\n", f);
        fclose(f);
    }
    CHECK(f && lm_build(m, &of, &none, &st) == -1 && strstr(mslam_last_error(), "no sentence of language '") &&
              !strstr(mslam_last_error(), "--langs de"),
          "a language in another split: %s", mslam_last_error());
    mslam_lm_free(none);
    none = NULL;
    free(foreign);
    CHECK(lm_check_model(tlm, m, 0, "test") < 0 && strstr(mslam_last_error(), "not transcripts"),
          "an LM of translations is refused for transcripts: %s", mslam_last_error());
    CHECK(lm_check_model(asr_lm, m, 1, "test") < 0 && strstr(mslam_last_error(), "--translations"),
          "an LM of transcripts is refused for translations: %s", mslam_last_error());
    struct mslam_decode_params p = mslam_decode_default_params();
    p.beam_size = 4;
    p.lm = tlm;
    p.languages = "de";
    CHECK(!mslam_ctc_decoder_new((mslam_model *)m, &p) && strstr(mslam_last_error(), "not transcripts"),
          "the CTC search refuses an LM of translations: %s", mslam_last_error());

    /* the decoder's search: a model with a decoder, random frames */
    struct mslam_model_config c = cfg;
    c.n_decoder_layers = 1;
    mslam_model *dm = mslam_model_new(&c, (const char *const *)m->vocab, (const char *const *)m->langs);
    CHECK(dm != NULL, "a model with a decoder: %s", mslam_last_error());
    if (dm) {
        test_randomise_model(dm, 9, 0.3f);
        enum { T = 6 };
        float frames[T * 16];
        mslam_rng rng;
        mslam_rng_seed(&rng, 10);
        test_fill_uniform(frames, sizeof frames / sizeof *frames, -1.0f, 1.0f, &rng);
        struct mslam_decode_params tp = mslam_decode_default_params();
        tp.max_len = 12;
        mslam_result *plain = mslam_translate_frames(dm, frames, T, &tp);
        tp.translation_lm = tlm;
        tp.translation_lm_weight = 5.0f;
        mslam_result *fused = mslam_translate_frames(dm, frames, T, &tp);
        CHECK(plain && fused && strcmp(mslam_result_text(plain), mslam_result_text(fused)),
              "a heavy translation LM changes the translation (\"%s\" -> \"%s\")",
              plain ? mslam_result_text(plain) : "", fused ? mslam_result_text(fused) : mslam_last_error());
        mslam_result_free(fused);
        tp.translation_lm_weight = -1.0f;
        CHECK(!mslam_translate_frames(dm, frames, T, &tp) && strstr(mslam_last_error(), "translation_lm_weight"),
              "a negative translation LM weight: %s", mslam_last_error());
        tp.translation_lm = asr_lm;
        tp.translation_lm_weight = 0.2f;
        CHECK(!mslam_translate_frames(dm, frames, T, &tp) && strstr(mslam_last_error(), "--translations"),
              "an LM of transcripts as the translation LM: %s", mslam_last_error());
        mslam_result_free(plain);
        /* eval of translation alone on a model with CTC and LID heads reads a transcripts' LM:
         * language ID finds the English speech, which is its own translation (said unused before) */
        char *dm_path = str_printf("%s/lm-decoder-model.safetensors", fixture_dir());
        char *lm_path = str_printf("%s/cmd-lm.safetensors", fixture_dir());
        memcpy(dm->p.mel_mean, m->p.mel_mean, (size_t)c.n_mels * sizeof(float));
        memcpy(dm->p.mel_std, m->p.mel_std, (size_t)c.n_mels * sizeof(float));
        char *st_lm[] = {(char *)"eval", (char *)"--model", dm_path, (char *)"--data", (char *)manifest,
                         (char *)"--modes", (char *)"offline", (char *)"--tasks", (char *)"st", (char *)"--lm",
                         lm_path, NULL};
        struct strlist warnings = {0};
        int rc = c.ctc_head && c.lid_head && mslam_model_save(dm, dm_path) == 0 && access(lm_path, R_OK) == 0
                     ? eval_warnings(st_lm, &warnings)
                     : -1;
        int unused = fixture_warned_of(&warnings, "is not used", "");
        CHECK(rc == 0 && !unused, "eval --tasks st --lm with CTC and LID heads: rc %d, %s", rc,
              unused ? "said the LM is not used" : mslam_last_error());
        strlist_free(&warnings);
        free(dm_path), free(lm_path);
        mslam_model_free(dm);
    }
    /* an LM of translations has one language, "en" */
    static const char *const two[] = {"en", "fr"};
    mslam_lm *pair_lm = lm_new(2, (const char *const *)m->vocab, m->cfg.vocab_size, two, 2);
    char *pair_path = str_printf("%s/two-lang-translation-lm.safetensors", fixture_dir());
    for (int l = 0; pair_lm && l < 2; l++) {
        const int ids[2] = {pair_lm->bos_id, pair_lm->eos_id};
        lm_table_set_chars(pair_lm, &pair_lm->langs[l], ids, 2);
        lm_table_reserve(&pair_lm->langs[l], 1);
        pair_lm->langs[l].floor_logp = -1.0f;
    }
    if (pair_lm) pair_lm->of_translations = 1;
    CHECK(pair_lm && lm_save(pair_lm, pair_path) == 0, "a two-language LM marked as translations: %s", mslam_last_error());
    CHECK(!mslam_lm_load(pair_path) && strstr(mslam_last_error(), "one language"),
          "is refused by name: %s", mslam_last_error());
    CHECK(pair_lm && lm_check_model(pair_lm, m, 1, "test") < 0 && strstr(mslam_last_error(), "one language"),
          "also in memory: %s", mslam_last_error());
    mslam_lm_free(pair_lm);
    free(pair_path);
    /* eval names the option whose LM is the wrong kind */
    char *ev[] = {(char *)"eval", (char *)"--model", (char *)model_path, (char *)"--data", (char *)manifest,
                  (char *)"--modes", (char *)"offline", (char *)"--lm", path, NULL};
    CHECK(cmd_eval(9, ev) == 1 && strstr(mslam_last_error(), "--lm"), "eval --lm with an LM of translations: %s",
          mslam_last_error());
    mslam_lm_free(asr_lm);
    mslam_lm_free(tlm);
    free(path);
}

int main(void) {
    const char *manifest = fixture_write(4, 0);
    CHECK(manifest != NULL, "fixture");
    if (!manifest) return test_result("test_lm");
    mslam_model *m = fixture_model(manifest, &cfg, 5);
    CHECK(m != NULL, "model: %s", mslam_last_error());
    if (m) {
        char *text = write_text("lm-text.tsv");
        char *model_path = str_printf("%s/lm-test-model.safetensors", fixture_dir());
        test_normalised(m, text);
        test_kneser_ney(m, text);
        test_files(m, text);
        test_fusion(m, text);
        test_api(m, text);
        CHECK(mslam_model_save(m, model_path) == 0, "save the model");
        test_commands(model_path, manifest);
        test_translation_lm(m, model_path, manifest);
        free(text), free(model_path);
    }
    mslam_model_free(m);
    fixture_remove();
    return test_result("test_lm");
}
