/* Public inference API (mslam.h) on a tiny random model with every head: transcription (greedy
 * and beam) equals the internal searches on the model's CTC log-probs, the incremental decoder
 * equals the offline call and segments correctly, translation equals the internal decoder search
 * (on the speech frames, or on the transcript's text-path frames when the model's translate_input
 * says so), language identification (restricted or not), threads (all cores by default, the
 * caller's OpenMP setting untouched), results after save + load, clear errors, and a log
 * callback replaced while another thread's message is in it. */
#include "common.h"
#include "decoder.h"
#include "heads.h"
#include "lm.h"
#include "model.h"
#include "search.h"
#include "testutil.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *vocab[] = {"<blank>", "<s>", "</s>", "<unk>", " ", "a", "b", "c", "d", "é"};
static const char *langs[] = {"en", "fr", "de"};

static mslam_model *tiny_model(int ctc, int lid, int n_dec) {
    struct mslam_model_config cfg = {
        .n_mels = 80, .d_model = 8, .n_heads = 2, .d_ff = 12, .conv_kernel = 3, .sub_channels = 2,
        .n_speech_layers = 1, .n_shared_layers = 1, .vocab_size = 10, .n_langs = 3, .causal_conv = 1,
        .ctc_head = ctc, .lid_head = lid, .n_decoder_layers = n_dec};
    mslam_model *m = mslam_model_new(&cfg, vocab, langs);
    CHECK(m != NULL, "model: %s", mslam_last_error());
    if (!m) return NULL;
    test_randomise_model(m, 61, 0.5f);
    /* sharper heads than random ones: a varied transcript, a translation of a few characters */
    for (int i = 0; ctc && i < 10 * 8; i++) m->p.ctc_w[i] *= 3.0f;
    for (int i = 0; n_dec && i < 10 * 8; i++) m->p.dec_out_w[i] *= 3.0f;
    if (n_dec) m->p.dec_out_b[m->eos_id] -= 2.0f;
    return m;
}

static float *test_audio(size_t n) {
    float *pcm = malloc(n * sizeof(float));
    mslam_rng rng;
    mslam_rng_seed(&rng, 62);
    double phase = 0;
    for (size_t i = 0; i < n; i++) {
        double f0 = 140 + 50 * sin(2 * M_PI * 1.3 * i / 16000.0);
        phase += 2 * M_PI * f0 / 16000.0;
        double s = 0;
        for (int h = 1; h <= 6; h++) s += sin(h * phase) / h;
        pcm[i] = (float)((0.3 * s + 0.05 * mslam_rng_normal(&rng)) * (0.5 + 0.5 * sin(2 * M_PI * 2.0 * i / 16000.0)));
    }
    return pcm;
}

/* Token ids, texts and frames of r agree with the search's tokens (reserved ones dropped). */
static void check_result(const mslam_model *m, const mslam_result *r, const search_token *tokens, int n,
                         int ctc, const char *what) {
    int k = 0, ok = 1;
    char text[1024] = "";
    for (int i = 0; i < n; i++) {
        if (m->vocab[tokens[i].id][0] == '<') continue;
        ok &= k < mslam_result_n_tokens(r) && mslam_result_token_id(r, k) == tokens[i].id &&
              mslam_result_token_frame(r, k) == (ctc ? tokens[i].frame : -1) &&
              fabsf(mslam_result_token_prob(r, k) - expf(tokens[i].logp)) < 1e-6f &&
              !strcmp(mslam_result_token_text(r, k), m->vocab[tokens[i].id]);
        strncat(text, m->vocab[tokens[i].id], sizeof text - strlen(text) - 1);
        k++;
    }
    CHECK(ok && k == mslam_result_n_tokens(r), "%s: result tokens differ from the search's", what);
    CHECK(!strcmp(text, mslam_result_text(r)), "%s: text \"%s\", want \"%s\"", what, mslam_result_text(r), text);
    float c = mslam_result_confidence(r);
    CHECK(k == 0 ? c == 0.0f : c > 0.0f && c <= 1.0f, "%s: confidence %g", what, c);
    /* its words are the text's runs between spaces, timed for recognition only */
    int w = 0, words_ok = 1;
    for (char *save = NULL, *word = strtok_r(text, " ", &save); word; word = strtok_r(NULL, " ", &save), w++) {
        int start = mslam_result_word_start_frame(r, w), end = mslam_result_word_end_frame(r, w);
        float p = mslam_result_word_prob(r, w);
        words_ok &= w < mslam_result_n_words(r) && !strcmp(mslam_result_word_text(r, w), word) &&
                    (ctc ? start >= 0 && end > start : start == -1 && end == -1) && p > 0.0f && p <= 1.0f;
    }
    CHECK(words_ok && w == mslam_result_n_words(r), "%s: the words of \"%s\" (%d)", what, mslam_result_text(r),
          mslam_result_n_words(r));
}

static void test_transcribe(mslam_model *m, const float *pcm, size_t n) {
    int T = 0;
    float *frames = mslam_encode_pcm(m, pcm, n, NULL, &T);
    const int V = m->cfg.vocab_size;
    float *lp = malloc((size_t)T * V * sizeof(float));
    CHECK(frames && mslam_ctc_log_probs(m, frames, T, lp) == 0, "log-probs: %s", mslam_last_error());
    search_token *g = malloc((size_t)T * sizeof *g);
    int prev = CTC_BLANK, ng = ctc_greedy(lp, T, V, 0, &prev, g);

    struct mslam_decode_params p = mslam_decode_default_params();
    p.beam_size = 1;
    mslam_result *r = mslam_transcribe(m, pcm, n, &p);
    CHECK(r != NULL, "transcribe: %s", mslam_last_error());
    printf("transcribe greedy (%d frames): \"%s\", %d characters, confidence %.3f\n", T, mslam_result_text(r),
           mslam_result_n_tokens(r), mslam_result_confidence(r));
    CHECK(ng >= 3, "the test model should say something (%d tokens)", ng);
    check_result(m, r, g, ng, 1, "transcribe greedy");
    /* the same from the frames: the result, and nothing from no frames */
    mslam_result *from_frames = mslam_transcribe_frames(m, frames, T, &p);
    CHECK(from_frames, "transcribe_frames: %s", mslam_last_error());
    if (from_frames) check_result(m, from_frames, g, ng, 1, "transcribe_frames greedy");
    mslam_result_free(from_frames);
    from_frames = mslam_transcribe_frames(m, frames, 0, &p);
    CHECK(from_frames && !*mslam_result_text(from_frames), "transcribe_frames of no frames: %s", mslam_last_error());
    mslam_result_free(from_frames);
    CHECK(mslam_result_start_frame(r) == 0 && mslam_result_end_frame(r) == T, "frames [%d, %d) of %d",
          mslam_result_start_frame(r), mslam_result_end_frame(r), T);

    /* the incremental decoder, fed in uneven pieces, ends with the same text */
    mslam_ctc_decoder *dec = mslam_ctc_decoder_new(m, &p);
    for (int t = 0; t < T; t += 7) {
        CHECK(mslam_ctc_decoder_push_frames(dec, frames + (size_t)t * m->cfg.d_model, t + 7 <= T ? 7 : T - t) == 0,
              "push: %s", mslam_last_error());
        mslam_result *part = mslam_ctc_decoder_partial(dec);
        CHECK(part && mslam_result_end_frame(part) == (t + 7 <= T ? t + 7 : T), "partial end frame");
        mslam_result_free(part);
    }
    mslam_result *fin = mslam_ctc_decoder_finish(dec);
    CHECK(fin && !strcmp(mslam_result_text(fin), mslam_result_text(r)), "incremental greedy \"%s\" vs \"%s\"",
          mslam_result_text(fin), mslam_result_text(r));
    mslam_result_free(fin);
    mslam_result_free(r);

    /* beam: the internal prefix beam search on the same log-probs */
    p.beam_size = 4;
    r = mslam_transcribe(m, pcm, n, &p);
    ctc_beam s;
    search_result best;
    CHECK(ctc_beam_init(&s, 4, V, p.token_min_logp) == 0 && ctc_beam_step(&s, lp, T, 0) == 0 &&
              ctc_beam_best(&s, 1, &best) == 0, "beam");
    CHECK(r != NULL, "transcribe beam: %s", mslam_last_error());
    printf("transcribe beam 4: \"%s\", confidence %.3f\n", mslam_result_text(r), mslam_result_confidence(r));
    check_result(m, r, best.tokens, best.n, 1, "transcribe beam");
    search_result_free(&best);
    ctc_beam_free(&s);

    /* segments: finishing at half time splits the frames, not the numbering */
    mslam_ctc_decoder_free(dec);
    dec = mslam_ctc_decoder_new(m, &p);
    int half = T / 2;
    mslam_ctc_decoder_push_frames(dec, frames, half);
    mslam_result *r1 = mslam_ctc_decoder_finish(dec);
    mslam_ctc_decoder_push_frames(dec, frames + (size_t)half * m->cfg.d_model, T - half);
    mslam_result *r2 = mslam_ctc_decoder_finish(dec);
    CHECK(r1 && r2 && mslam_result_start_frame(r1) == 0 && mslam_result_end_frame(r1) == half &&
              mslam_result_start_frame(r2) == half && mslam_result_end_frame(r2) == T,
          "segments [%d, %d) and [%d, %d)", mslam_result_start_frame(r1), mslam_result_end_frame(r1),
          mslam_result_start_frame(r2), mslam_result_end_frame(r2));
    for (int i = 0; r1 && i < mslam_result_n_tokens(r1); i++)
        CHECK(mslam_result_token_frame(r1, i) < half, "segment 1 token at frame %d", mslam_result_token_frame(r1, i));
    for (int i = 0; r2 && i < mslam_result_n_tokens(r2); i++)
        CHECK(mslam_result_token_frame(r2, i) >= half, "segment 2 token at frame %d", mslam_result_token_frame(r2, i));
    CHECK(mslam_ctc_decoder_n_frames(dec) == T, "frames fed: %d", mslam_ctc_decoder_n_frames(dec));
    /* a segment's part: frames counted from the frame asked for; a frame before the segment is
     * outside it */
    mslam_result *part = r2 ? mslam_result_from_frame(m, r2, half) : NULL;
    CHECK(part && !strcmp(mslam_result_text(part), mslam_result_text(r2)) && mslam_result_end_frame(part) == T - half &&
              (mslam_result_n_tokens(part) == 0 ||
               mslam_result_token_frame(part, 0) == mslam_result_token_frame(r2, 0) - half),
          "segment 2 from its first frame: %s", part ? mslam_result_text(part) : mslam_last_error());
    mslam_result_free(part);
    CHECK(r2 && !mslam_result_from_frame(m, r2, half - 1), "segment 2 from the frame before it");
    mslam_result_free(r1);
    mslam_result_free(r2);
    mslam_result_free(r);

    /* endpointing signals on hand-made log-probs: "a" for 3 frames, then 5 blank frames */
    float hand[10 * 10];
    for (int t = 0; t < 8; t++)
        for (int c = 0; c < V; c++) hand[t * V + c] = logf(c == (t < 3 ? 5 : 0) ? 0.73f : 0.03f);
    mslam_ctc_decoder_reset(dec);
    CHECK(mslam_ctc_decoder_n_frames(dec) == 0 && mslam_ctc_decoder_blank_prob(dec) == 1.0f, "reset");
    mslam_ctc_decoder_push_log_probs(dec, hand, 8);
    CHECK(mslam_ctc_decoder_trailing_blanks(dec) == 5, "trailing blanks %d, want 5",
          mslam_ctc_decoder_trailing_blanks(dec));
    CHECK(fabsf(mslam_ctc_decoder_blank_prob(dec) - 0.73f) < 1e-5f, "blank prob %g", mslam_ctc_decoder_blank_prob(dec));
    r = mslam_ctc_decoder_partial(dec);
    CHECK(r && !strcmp(mslam_result_text(r), "a") && mslam_result_token_frame(r, 0) == 0, "hand-made partial \"%s\"",
          mslam_result_text(r));
    mslam_result_free(r);

    /* words on hand-made log-probs: " ab" at frames 0-2, blank, " ", "c" at 5-6, "ad" at 8-9:
     * " ab c ad" is three words, "ab" from frame 1 to 3 with a of p 0.9 and b of 0.4 (geometric
     * mean 0.6, where the arithmetic one is 0.65), "c" 5 to 6, "ad" 8 to 10 */
    static const int frame_ids[10] = {4, 5, 6, 0, 4, 7, 7, 4, 5, 8};
    static const float frame_p[10] = {0.73f, 0.9f, 0.4f, 0.73f, 0.73f, 0.73f, 0.73f, 0.73f, 0.73f, 0.73f};
    for (int t = 0; t < 10; t++)
        for (int c = 0; c < V; c++)
            hand[t * V + c] = logf(c == frame_ids[t] ? frame_p[t] : (1.0f - frame_p[t]) / (float)(V - 1));
    mslam_ctc_decoder_reset(dec);
    float nan_frame[10];
    memcpy(nan_frame, hand, sizeof nan_frame);
    nan_frame[3] = NAN;
    CHECK(mslam_ctc_decoder_push_log_probs(dec, nan_frame, 1) < 0 && strstr(mslam_last_error(), "token 3") &&
              mslam_ctc_decoder_n_frames(dec) == 0,
          "a NaN is not a log-probability: %s", mslam_last_error());
    nan_frame[3] = 0.5f;
    CHECK(mslam_ctc_decoder_push_log_probs(dec, nan_frame, 1) < 0, "nor is 0.5");
    mslam_ctc_decoder_push_log_probs(dec, hand, 8);
    mslam_ctc_decoder_push_log_probs(dec, hand + 8 * V, 2);
    r = mslam_ctc_decoder_finish(dec);
    static const char *const words[3] = {"ab", "c", "ad"};
    static const int starts[3] = {1, 5, 8}, ends[3] = {3, 6, 10};
    static const float word_p[3] = {0.6f, 0.73f, 0.73f};
    CHECK(r && !strcmp(mslam_result_text(r), " ab c ad") && mslam_result_n_words(r) == 3, "words of \"%s\": %d",
          mslam_result_text(r), mslam_result_n_words(r));
    for (int w = 0; r && w < 3 && w < mslam_result_n_words(r); w++)
        CHECK(!strcmp(mslam_result_word_text(r, w), words[w]) && mslam_result_word_start_frame(r, w) == starts[w] &&
                  mslam_result_word_end_frame(r, w) == ends[w] && fabsf(mslam_result_word_prob(r, w) - word_p[w]) < 0.01f,
              "word %d: \"%s\" frames %d-%d, probability %g", w, mslam_result_word_text(r, w),
              mslam_result_word_start_frame(r, w), mslam_result_word_end_frame(r, w), mslam_result_word_prob(r, w));
    CHECK(!mslam_result_word_text(r, 3) && mslam_result_word_start_frame(r, -1) == -1 &&
              mslam_result_word_end_frame(r, 3) == -1 && mslam_result_word_prob(r, 3) == 0.0f &&
              mslam_result_n_words(NULL) == 0 && !mslam_result_word_text(NULL, 0),
          "words out of range");
    /* the part from frame 5 on: "c ad" (c, space, a, d at frames 0, 2, 3, 4 of 5), its words and
     * confidence those of its characters alone */
    part = mslam_result_from_frame(m, r, 5);
    CHECK(part && !strcmp(mslam_result_text(part), "c ad") && mslam_result_start_frame(part) == 0 &&
              mslam_result_end_frame(part) == 5 && mslam_result_n_words(part) == 2,
          "the part from frame 5: \"%s\" [%d, %d): %s", part ? mslam_result_text(part) : "",
          mslam_result_start_frame(part), mslam_result_end_frame(part), part ? "" : mslam_last_error());
    static const int part_frames[4] = {0, 2, 3, 4};
    double part_logp = 0;
    for (int i = 0; part && i < 4 && i < mslam_result_n_tokens(part); i++) {
        CHECK(mslam_result_token_frame(part, i) == part_frames[i] &&
                  mslam_result_token_prob(part, i) == mslam_result_token_prob(r, i + 4),
              "the part's character %d: frame %d", i, mslam_result_token_frame(part, i));
        part_logp += log(mslam_result_token_prob(r, i + 4));
    }
    CHECK(part && fabs(mslam_result_confidence(part) - exp(part_logp / 4)) < 1e-6 &&
              mslam_result_word_start_frame(part, 0) == 0 && mslam_result_word_end_frame(part, 0) == 1 &&
              mslam_result_word_start_frame(part, 1) == 3 && mslam_result_word_end_frame(part, 1) == 5 &&
              fabsf(mslam_result_word_prob(part, 1) - word_p[2]) < 0.01f,
          "the part's confidence %g and words", mslam_result_confidence(part));
    mslam_result_free(part);
    /* from the first frame: the whole result; from the last: what is emitted there, nothing */
    part = mslam_result_from_frame(m, r, 0);
    CHECK(part && !strcmp(mslam_result_text(part), mslam_result_text(r)) &&
              mslam_result_confidence(part) == mslam_result_confidence(r),
          "the part from frame 0: \"%s\"", part ? mslam_result_text(part) : mslam_last_error());
    mslam_result_free(part);
    part = mslam_result_from_frame(m, r, 9);
    CHECK(part && !strcmp(mslam_result_text(part), "d") && mslam_result_end_frame(part) == 1,
          "the part from frame 9: \"%s\"", part ? mslam_result_text(part) : mslam_last_error());
    mslam_result_free(part);
    part = mslam_result_from_frame(m, r, 10);
    CHECK(part && !*mslam_result_text(part) && mslam_result_end_frame(part) == 0,
          "the part from the end, frame 10: %s", part ? mslam_result_text(part) : mslam_last_error());
    mslam_result_free(part);
    CHECK(!mslam_result_from_frame(m, r, 11) && strstr(mslam_last_error(), "frame 11 is outside"),
          "frame 11 of 10: %s", mslam_last_error());
    CHECK(!mslam_result_from_frame(m, r, -1) && strstr(mslam_last_error(), "frame -1 is outside"),
          "frame -1: %s", mslam_last_error());
    CHECK(!mslam_result_from_frame(m, NULL, 0) && strstr(mslam_last_error(), "the result is NULL"),
          "no result: %s", mslam_last_error());
    CHECK(!mslam_result_from_frame(NULL, r, 0) && strstr(mslam_last_error(), "the model is NULL"),
          "no model: %s", mslam_last_error());
    mslam_result_free(r);
    mslam_ctc_decoder_free(dec);

    /* a segment finished mid-character (a caption cut at its longest): the next segment's frames
     * of that character continue it, they are not a second one. "b", blank, then "a" for four
     * frames, finished after the first two of them: "ba" and "" (it was "ba" and "a") */
    static const int spans[6] = {6, 0, 5, 5, 5, 5};
    for (int t = 0; t < 6; t++)
        for (int c = 0; c < V; c++) hand[t * V + c] = logf(c == spans[t] ? 0.9f : 0.1f / (float)(V - 1));
    for (int beam = 1; beam <= 4; beam += 3) {
        struct mslam_decode_params bp = mslam_decode_default_params();
        bp.beam_size = beam;
        dec = mslam_ctc_decoder_new(m, &bp);
        mslam_result *first = NULL, *second = NULL;
        if (dec && mslam_ctc_decoder_push_log_probs(dec, hand, 4) == 0 && (first = mslam_ctc_decoder_finish(dec)) &&
            mslam_ctc_decoder_push_log_probs(dec, hand + 4 * V, 2) == 0)
            second = mslam_ctc_decoder_finish(dec);
        CHECK(first && second && !strcmp(mslam_result_text(first), "ba") && !strcmp(mslam_result_text(second), ""),
              "beam %d: a character across two segments: \"%s\" + \"%s\"", beam, first ? mslam_result_text(first) : "",
              second ? mslam_result_text(second) : "");
        mslam_result_free(first);
        mslam_result_free(second);
        /* after a reset the same frames are a new character */
        mslam_ctc_decoder_reset(dec);
        r = dec && mslam_ctc_decoder_push_log_probs(dec, hand + 4 * V, 2) == 0 ? mslam_ctc_decoder_finish(dec) : NULL;
        CHECK(r && !strcmp(mslam_result_text(r), "a"), "beam %d: after a reset: \"%s\"", beam, r ? mslam_result_text(r) : "");
        mslam_result_free(r);
        mslam_ctc_decoder_free(dec);
    }

    free(g);
    free(lp);
    free(frames);
}

static void test_translate(mslam_model *m, const float *pcm, size_t n) {
    int T = 0;
    float *frames = mslam_encode_pcm(m, pcm, n, NULL, &T);
    unsigned char banned[10];
    for (int i = 0; i < 10; i++) banned[i] = vocab[i][0] == '<' && i != m->eos_id;
    for (int beam = 1; beam <= 4; beam += 3) {
        struct mslam_decode_params p = mslam_decode_default_params();
        p.beam_size = beam;
        p.max_len = 12;
        p.languages = "fr"; /* English speech would be its transcript (test_translate_english) */
        mslam_result *r = mslam_translate(m, pcm, n, &p);
        CHECK(r != NULL, "translate: %s", mslam_last_error());
        printf("translate beam %d: \"%s\", %d characters, confidence %.3f\n", beam, mslam_result_text(r),
               mslam_result_n_tokens(r), mslam_result_confidence(r));
        decoder_cache cache = {0};
        search_result best;
        decoder_search_params sp = {.beam_size = beam, .max_len = 12, .length_penalty = p.length_penalty,
                                    .no_repeat_ngram = p.no_repeat_ngram, .banned = banned};
        CHECK(decoder_beam_search(&cache, &m->cfg, &m->p, m->bos_id, m->eos_id, frames, T, &sp, &best) == 0, "search");
        CHECK(best.n > 0, "the test model should say something");
        check_result(m, r, best.tokens, best.n, 0, "translate");
        mslam_result *rf = mslam_translate_frames(m, frames, T, &p);
        CHECK(rf && !strcmp(mslam_result_text(rf), mslam_result_text(r)), "translate_frames differs");
        mslam_result_free(rf);
        CHECK(!mslam_result_from_frame(m, r, 0) && strstr(mslam_last_error(), "no frames"),
              "a translation has no frames to split it at: %s", mslam_last_error());
        search_result_free(&best);
        decoder_cache_free(&cache);
        mslam_result_free(r);
    }
    mslam_result *r = mslam_translate_frames(m, frames, 0, NULL);
    CHECK(r && !strcmp(mslam_result_text(r), ""), "no frames, no text");
    mslam_result_free(r);
    free(frames);
}

/* translate_input = transcript: mslam_translate is mslam_transcribe, mslam_encode_text and
 * mslam_translate_frames in a row, over the audio's frames; the config survives save + load. */
static void test_translate_transcript(mslam_model *m, const float *pcm, size_t n) {
    m->cfg.translate_input = MSLAM_TRANSLATE_TRANSCRIPT;
    struct mslam_decode_params p = mslam_decode_default_params();
    p.max_len = 12;
    p.languages = "fr"; /* English would be its own translation (test_translate_english) */
    for (int beam = 1; beam <= 4; beam += 3) {
        p.beam_size = beam;
        mslam_result *r = mslam_translate(m, pcm, n, &p), *said = mslam_transcribe(m, pcm, n, &p);
        CHECK(r && said && *mslam_result_text(said), "translate from the transcript: %s", mslam_last_error());
        if (!r || !said) continue;
        int n_chars = 0;
        float *chars = mslam_encode_text(m, mslam_result_text(said), NULL, &n_chars);
        mslam_result *by_hand = mslam_translate_frames(m, chars, n_chars, &p);
        int T = 0;
        float *frames = mslam_encode_pcm(m, pcm, n, NULL, &T);
        mslam_result *from_speech = mslam_translate_frames(m, frames, T, &p);
        printf("translate beam %d from the transcript \"%s\": \"%s\" (from the speech: \"%s\")\n", beam,
               mslam_result_text(said), mslam_result_text(r), mslam_result_text(from_speech));
        CHECK(by_hand && !strcmp(mslam_result_text(r), mslam_result_text(by_hand)) &&
                  mslam_result_confidence(r) == mslam_result_confidence(by_hand),
              "transcript translation differs from transcribe + encode_text + translate_frames");
        CHECK(from_speech && strcmp(mslam_result_text(r), mslam_result_text(from_speech)),
              "the transcript path should not give the speech path's translation");
        CHECK(mslam_result_start_frame(r) == 0 && mslam_result_end_frame(r) == T, "frames %d..%d, audio %d",
              mslam_result_start_frame(r), mslam_result_end_frame(r), T);
        mslam_result *from_text = mslam_translate_text(m, mslam_result_text(said), &p);
        CHECK(from_text && !strcmp(mslam_result_text(from_text), mslam_result_text(r)) &&
                  mslam_result_end_frame(from_text) == n_chars,
              "mslam_translate_text of the transcript: %s", mslam_last_error());
        mslam_result_free(from_text);
        mslam_result_free(by_hand);
        mslam_result_free(from_speech);
        mslam_free(chars);
        free(frames);
        mslam_result_free(r);
        mslam_result_free(said);
    }
    /* audio shorter than a frame: an empty transcript, an empty translation */
    mslam_result *r = mslam_translate(m, pcm, 100, &p);
    CHECK(r && mslam_result_n_tokens(r) == 0 && mslam_result_end_frame(r) == 0, "too short to hear: %s",
          r ? mslam_result_text(r) : mslam_last_error());
    mslam_result_free(r);
    r = mslam_translate_text(m, "", &p);
    CHECK(r && mslam_result_n_tokens(r) == 0 && !strcmp(mslam_result_text(r), ""), "no text, no translation");
    mslam_result_free(r);
    CHECK(!mslam_translate_text(m, "abx", &p) && strstr(mslam_last_error(), "('x') is not in the model's vocabulary"),
          "a character outside the vocabulary: %s", mslam_last_error());
    /* not UTF-8: its own error, naming the byte, in a message that is UTF-8 itself */
    CHECK(!mslam_translate_text(m, "ab\xff", &p) &&
              strstr(mslam_last_error(), "is not valid UTF-8 at byte 2 (0xFF)") && mslam_utf8_length(mslam_last_error()) >= 0,
          "text that is not UTF-8: %s", mslam_last_error());
    CHECK(!mslam_translate_text(m, NULL, &p) && strstr(mslam_last_error(), "mslam_translate_text: text is NULL"),
          "NULL text: %s", mslam_last_error());
    char path[] = "/tmp/mslam_test_infer_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "temporary file");
    if (fd >= 0) {
        close(fd);
        mslam_model *back = mslam_model_save(m, path) == 0 ? mslam_model_load(path, mslam_model_default_params()) : NULL;
        CHECK(back && mslam_model_get_config(back).translate_input == MSLAM_TRANSLATE_TRANSCRIPT,
              "translate_input after save + load: %s", back ? "lost" : mslam_last_error());
        mslam_result *a = mslam_translate(m, pcm, n, NULL), *b = back ? mslam_translate(back, pcm, n, NULL) : NULL;
        CHECK(a && b && !strcmp(mslam_result_text(a), mslam_result_text(b)), "transcript translation after load");
        mslam_result_free(a);
        mslam_result_free(b);
        mslam_model_free(back);
        unlink(path);
    }
    m->cfg.translate_input = MSLAM_TRANSLATE_SPEECH;
}

static void test_identify(mslam_model *m, const float *pcm, size_t n) {
    float probs[3];
    int best = mslam_identify_language(m, pcm, n, NULL, probs);
    CHECK(best >= 0 && best < 3, "identify: %s", mslam_last_error());
    double sum = probs[0] + probs[1] + probs[2];
    printf("identify: %s (%.3f %.3f %.3f)\n", mslam_model_lang(m, best), probs[0], probs[1], probs[2]);
    CHECK(fabs(sum - 1) < 1e-6 && probs[best] >= probs[0] && probs[best] >= probs[1] && probs[best] >= probs[2],
          "probabilities sum to %g", sum);
    float all[3] = {probs[0], probs[1], probs[2]};
    struct mslam_decode_params p = mslam_decode_default_params();
    p.languages = " fr,de ";
    best = mslam_identify_language(m, pcm, n, &p, probs);
    CHECK(best == (all[1] >= all[2] ? 1 : 2) && probs[0] == 0.0f && fabs(probs[1] + probs[2] - 1) < 1e-6,
          "restricted to fr,de: %d (%g %g %g)", best, probs[0], probs[1], probs[2]);
    CHECK(fabsf(probs[1] / probs[2] - all[1] / all[2]) < 1e-4f * all[1] / all[2], "restriction renormalises");
    float upper[3];
    p.languages = "FR,De";
    CHECK(mslam_identify_language(m, pcm, n, &p, upper) == best && !memcmp(upper, probs, sizeof upper),
          "codes in another case: %s", mslam_last_error());
    p.languages = "fr,xx";
    CHECK(mslam_identify_language(m, pcm, n, &p, probs) < 0 && strstr(mslam_last_error(), "language 'xx' is not in"),
          "unknown language: %s", mslam_last_error());
    p.languages = "fr,\xe9\n";
    CHECK(mslam_identify_language(m, pcm, n, &p, probs) < 0 && strstr(mslam_last_error(), "language '\\xE9\\x0A' is not in") &&
              mslam_utf8_length(mslam_last_error()) >= 0,
          "an unknown language that is not UTF-8 is quoted byte by byte: %s", mslam_last_error());
    p.languages = ",";
    CHECK(mslam_identify_language(m, pcm, n, &p, probs) < 0, "a list naming no language must fail");
    /* a code the model lacks is an error without an LM or a memory too (it was ignored there) */
    p.languages = "xx";
    mslam_ctc_decoder *dec = mslam_ctc_decoder_new(m, &p);
    CHECK(!dec && strstr(mslam_last_error(), "mslam_ctc_decoder_new: language 'xx' is not in"),
          "an unknown language, the decoder: %s", mslam_last_error());
    /* each error names the function called, not one it calls */
    CHECK(!mslam_transcribe(m, pcm, n, &p) && strstr(mslam_last_error(), "mslam_transcribe: language 'xx' is not in"),
          "an unknown language without an LM: %s", mslam_last_error());
    CHECK(!mslam_translate(m, pcm, n, &p) && strstr(mslam_last_error(), "mslam_translate") &&
              strstr(mslam_last_error(), "language 'xx' is not in") && !mslam_translate_text(m, "ab", &p),
          "an unknown language, translated: %s", mslam_last_error());
    mslam_ctc_decoder_free(dec);
    CHECK(mslam_identify_language(m, pcm, 600, NULL, probs) < 0 && strstr(mslam_last_error(), "no frames"),
          "too short: %s", mslam_last_error());
}

static void test_errors(const float *pcm, size_t n) {
    mslam_model *m = tiny_model(0, 0, 0);
    float probs[3];
    CHECK(mslam_transcribe(m, pcm, n, NULL) == NULL && strstr(mslam_last_error(), "no CTC head"), "no CTC: %s",
          mslam_last_error());
    CHECK(mslam_transcribe_frames(m, pcm, 1, NULL) == NULL &&
              strstr(mslam_last_error(), "mslam_transcribe_frames") && strstr(mslam_last_error(), "no CTC head"),
          "no CTC, frames: %s", mslam_last_error());
    CHECK(mslam_translate(m, pcm, n, NULL) == NULL && strstr(mslam_last_error(), "no decoder"), "no decoder: %s",
          mslam_last_error());
    CHECK(mslam_identify_language(m, pcm, n, NULL, probs) < 0 && strstr(mslam_last_error(), "no LID head"),
          "no LID: %s", mslam_last_error());
    CHECK(mslam_ctc_decoder_new(m, NULL) == NULL && strstr(mslam_last_error(), "no CTC head"), "decoder without CTC");
    mslam_model_free(m);
    CHECK(mslam_transcribe(NULL, pcm, n, NULL) == NULL && strstr(mslam_last_error(), "model is NULL"), "NULL model");
    struct mslam_model_config cfg = {
        .n_mels = 80, .d_model = 8, .n_heads = 2, .d_ff = 12, .conv_kernel = 3, .sub_channels = 2,
        .n_speech_layers = 1, .n_shared_layers = 1, .vocab_size = 10, .n_langs = 3, .causal_conv = 1,
        .ctc_head = 0, .n_decoder_layers = 1, .translate_input = MSLAM_TRANSLATE_TRANSCRIPT};
    m = mslam_model_new(&cfg, vocab, langs);
    CHECK(!m && strstr(mslam_last_error(), "translate_input = 1 (the CTC transcript) needs a CTC head"),
          "transcript input without a CTC head: %s", mslam_last_error());
    mslam_model_free(m);
    cfg.ctc_head = 1, cfg.translate_input = 2;
    m = mslam_model_new(&cfg, vocab, langs);
    CHECK(!m && strstr(mslam_last_error(), "translate_input = 2 must be 0 (speech) or 1 (transcript)"),
          "translate_input 2: %s", mslam_last_error());
    mslam_model_free(m);
    cfg.translate_input = 0, cfg.quantizer = MSLAM_QUANTIZER_RANDOM;
    m = mslam_model_new(&cfg, vocab, langs);
    CHECK(!m && strstr(mslam_last_error(), "quantizer = 1 (random) needs the pre-training tensors"),
          "a random quantizer without codes: %s", mslam_last_error());
    cfg.n_codes = 4, cfg.quantizer = 2;
    m = mslam_model_new(&cfg, vocab, langs);
    CHECK(!m && strstr(mslam_last_error(), "quantizer = 2 must be 0 (Gumbel) or 1 (random)"), "quantizer 2: %s",
          mslam_last_error());
    cfg.quantizer = MSLAM_QUANTIZER_RANDOM;
    m = mslam_model_new(&cfg, vocab, langs);
    CHECK(m && mslam_model_get_config(m).quantizer == MSLAM_QUANTIZER_RANDOM, "a random quantizer of 4 codes: %s",
          m ? "" : mslam_last_error());
    mslam_model_free(m);
    m = tiny_model(1, 1, 1);
    mslam_result *r = NULL;
    CHECK(mslam_transcribe(m, NULL, n, NULL) == NULL, "NULL pcm must fail");
    CHECK(mslam_translate_frames(m, NULL, 5, NULL) == NULL && strstr(mslam_last_error(), "frames is NULL"),
          "NULL frames: %s", mslam_last_error());
    CHECK(mslam_identify_language(m, pcm, n, NULL, NULL) < 0 && strstr(mslam_last_error(), "probs is NULL"),
          "NULL probs: %s", mslam_last_error());
    struct mslam_decode_params p = mslam_decode_default_params();
    p.beam_size = 0;
    CHECK(mslam_ctc_decoder_new(m, &p) == NULL && strstr(mslam_last_error(), "beam_size"), "beam 0: %s",
          mslam_last_error());
    CHECK(mslam_translate(m, pcm, n, &p) == NULL && strstr(mslam_last_error(), "beam size"), "beam 0: %s",
          mslam_last_error());
    CHECK(mslam_ctc_decoder_push_frames(NULL, pcm, 1) < 0, "NULL decoder");
    /* the parameters checked by the call made, and named as its */
    p = mslam_decode_default_params();
    p.token_min_logp = 1e30f;
    CHECK(!mslam_transcribe(m, pcm, n, &p) && strstr(mslam_last_error(), "mslam_transcribe: token_min_logp"),
          "token_min_logp above 0 (no character would pass): %s", mslam_last_error());
    p.token_min_logp = 0; /* as at 0: it was taken, and every beam transcript was empty */
    CHECK(!mslam_transcribe(m, pcm, n, &p) && strstr(mslam_last_error(), "lets no character through"),
          "token_min_logp 0: %s", mslam_last_error());
    p = mslam_decode_default_params();
    p.length_penalty = NAN;
    CHECK(!mslam_translate_text(m, "ab", &p) && strstr(mslam_last_error(), "mslam_translate_text: length_penalty"),
          "length_penalty NaN: %s", mslam_last_error());
    p.length_penalty = 1, p.no_repeat_ngram = -1;
    CHECK(!mslam_translate(m, pcm, n, &p) && strstr(mslam_last_error(), "mslam_translate: no_repeat_ngram"),
          "no_repeat_ngram -1: %s", mslam_last_error());
    p = mslam_decode_default_params();
    CHECK(!mslam_translate_text(m, "abz", &p) && strstr(mslam_last_error(), "mslam_translate_text: ") &&
              !strstr(mslam_last_error(), "mslam_encode_text"),
          "a character outside the vocabulary, named by the call made: %s", mslam_last_error());
    CHECK(mslam_identify_language_frames(m, pcm, 0, NULL, probs) < 0 && strstr(mslam_last_error(), "n_frames is 0") &&
              !strstr(mslam_last_error(), "audio"),
          "no frames: %s", mslam_last_error());
    CHECK(!mslam_transcribe(m, NULL, n, NULL) && strstr(mslam_last_error(), "mslam_transcribe: pcm"),
          "NULL pcm named: %s", mslam_last_error());
    CHECK(mslam_model_device(NULL) == NULL && !strcmp(mslam_model_device(m), "cpu"), "mslam_model_device");
    /* a thread count far past the cores runs (on at most max(64, 4 a core)): 100,000 overflowed
     * libgomp's stacks */
    p = mslam_decode_default_params();
    p.n_threads = 100000;
    r = mslam_transcribe(m, pcm, n, &p);
    CHECK(r != NULL, "n_threads 100000: %s", r ? "" : mslam_last_error());
    mslam_result_free(r);
    /* a stream's first push of nothing (no buffer yet) */
    mslam_stream *st = mslam_stream_new(m, mslam_stream_default_params());
    CHECK(st && mslam_stream_push(st, NULL, 0) == 0, "an empty first push: %s", mslam_last_error());
    mslam_stream_free(st);
    /* getters of a NULL result and out of range */
    CHECK(!strcmp(mslam_result_text(NULL), "") && mslam_result_n_tokens(NULL) == 0 &&
              mslam_result_token_text(NULL, 0) == NULL && mslam_result_token_id(NULL, 0) == -1,
          "NULL result getters");
    r = mslam_transcribe(m, pcm, 100, NULL);
    CHECK(r && mslam_result_n_tokens(r) == 0 && mslam_result_token_text(r, 0) == NULL &&
              mslam_result_confidence(r) == 0.0f, "audio shorter than a frame: empty result");
    mslam_result_free(r);
    mslam_result_free(NULL);
    mslam_ctc_decoder_free(NULL);
    mslam_model_free(m);
}

/* A model whose feature statistics were never measured (mslam_model_new leaves them 0) or are
 * broken: each call that featurises audio fails and names the statistic, where it used to divide
 * by zero and give text from NaN features. Loading such a model stays allowed (the trainer does). */
static void test_feature_stats(const float *pcm, size_t n) {
    mslam_model *m = tiny_model(1, 1, 1);
    if (!m) return;
    float probs[3];
    const float bad_std[] = {0.0f, -1.0f, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_std / sizeof bad_std[0]; i++) {
        const float saved = m->p.mel_std[7];
        m->p.mel_std[7] = bad_std[i];
        mslam_result *r = mslam_transcribe(m, pcm, n, NULL);
        CHECK(!r && strstr(mslam_last_error(), "mslam_transcribe") && strstr(mslam_last_error(), "frontend.mel_std[7]"),
              "transcribe with mel_std %g: %s", (double)bad_std[i], r ? mslam_result_text(r) : mslam_last_error());
        mslam_result_free(r);
        r = mslam_translate(m, pcm, n, NULL);
        CHECK(!r && strstr(mslam_last_error(), "mslam_translate") && strstr(mslam_last_error(), "frontend.mel_std[7]"),
              "translate with mel_std %g: %s", (double)bad_std[i], r ? mslam_result_text(r) : mslam_last_error());
        mslam_result_free(r);
        CHECK(mslam_identify_language(m, pcm, n, NULL, probs) < 0 && strstr(mslam_last_error(), "frontend.mel_std[7]"),
              "identify with mel_std %g: %s", (double)bad_std[i], mslam_last_error());
        int n_frames = -1;
        float *frames = mslam_encode_pcm(m, pcm, n, NULL, &n_frames);
        CHECK(!frames && strstr(mslam_last_error(), "mslam_encode_pcm") && strstr(mslam_last_error(), "frontend.mel_std[7]"),
              "encode with mel_std %g: %s", (double)bad_std[i], mslam_last_error());
        mslam_free(frames);
        /* audio too short for a frame is normalised by nothing, but the model is no better */
        r = mslam_transcribe(m, pcm, 100, NULL);
        CHECK(!r && strstr(mslam_last_error(), "frontend.mel_std[7]"), "short audio with mel_std %g: %s",
              (double)bad_std[i], mslam_last_error());
        mslam_result_free(r);
        m->p.mel_std[7] = saved;
    }
    m->p.mel_mean[0] = NAN;
    mslam_result *r = mslam_transcribe(m, pcm, n, NULL);
    CHECK(!r && strstr(mslam_last_error(), "frontend.mel_mean[0]"), "transcribe with a NaN mel_mean: %s",
          mslam_last_error());
    mslam_result_free(r);
    m->p.mel_mean[0] = -5.0f;
    r = mslam_transcribe(m, pcm, n, NULL);
    CHECK(r != NULL, "good statistics again: %s", mslam_last_error());
    mslam_result_free(r);
    mslam_model_free(m);
}

/* Encoder frames holding a NaN or an infinity (a caller's, or a broken model's) are an error
 * naming the frame for every call on frames, where language ID answered a language with NaN
 * probabilities and the CTC decoder took them in and went on; a refused push leaves the decoder
 * as it was. */
static void test_non_finite_frames(mslam_model *m, const float *pcm, size_t n) {
    const int d = m->cfg.d_model, V = m->cfg.vocab_size;
    int T = 0;
    float *frames = mslam_encode_pcm(m, pcm, n, NULL, &T);
    float *bad = frames ? malloc((size_t)T * d * sizeof(float)) : NULL;
    float *lp = malloc((size_t)T * V * sizeof(float)), probs[3];
    CHECK(bad && lp && T > 6, "frames: %s", mslam_last_error());
    if (!bad || !lp || T <= 6) goto done;
    const float values[] = {NAN, INFINITY, -INFINITY};
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
        memcpy(bad, frames, (size_t)T * d * sizeof(float));
        bad[(size_t)5 * d + 3] = values[v];
        probs[0] = probs[1] = probs[2] = 0.5f;
        int best = mslam_identify_language_frames(m, bad, T, NULL, probs);
        CHECK(best < 0 && strstr(mslam_last_error(), "mslam_identify_language_frames: frame 5, value 3"),
              "identify on a %g: %d (%g %g %g) %s",
              (double)values[v], best, probs[0], probs[1], probs[2], mslam_last_error());
        CHECK(mslam_ctc_log_probs(m, bad, T, lp) < 0 && strstr(mslam_last_error(), "frame 5, value 3"),
              "log-probs of a %g: %s", (double)values[v], mslam_last_error());
        mslam_result *r = mslam_translate_frames(m, bad, T, NULL);
        CHECK(!r && strstr(mslam_last_error(), "frame 5, value 3"), "translate a %g: %s", (double)values[v],
              mslam_last_error());
        mslam_result_free(r);
        r = mslam_transcribe_frames(m, bad, T, NULL);
        CHECK(!r && strstr(mslam_last_error(), "mslam_transcribe_frames: frame 5, value 3"), "transcribe a %g: %s",
              (double)values[v], mslam_last_error());
        mslam_result_free(r);
        for (int beam = 1; beam <= 4; beam += 3) {
            struct mslam_decode_params p = mslam_decode_default_params();
            p.beam_size = beam;
            mslam_ctc_decoder *dec = mslam_ctc_decoder_new(m, &p), *clean = mslam_ctc_decoder_new(m, &p);
            CHECK(dec && clean, "decoder: %s", mslam_last_error());
            if (!dec || !clean) continue;
            CHECK(mslam_ctc_decoder_push_frames(dec, bad, T) < 0 && strstr(mslam_last_error(), "frame 5, value 3") &&
                      mslam_ctc_decoder_n_frames(dec) == 0,
                  "beam %d: push of a %g: %s (%d frames taken)", beam, (double)values[v], mslam_last_error(),
                  mslam_ctc_decoder_n_frames(dec));
            /* the refused frames left nothing behind: the good ones give the clean decoder's text */
            mslam_ctc_decoder_push_frames(dec, frames, T);
            mslam_ctc_decoder_push_frames(clean, frames, T);
            mslam_result *a = mslam_ctc_decoder_finish(dec), *b = mslam_ctc_decoder_finish(clean);
            CHECK(a && b && !strcmp(mslam_result_text(a), mslam_result_text(b)) &&
                      mslam_result_confidence(a) == mslam_result_confidence(b),
                  "beam %d: after a refused push \"%s\", clean \"%s\"", beam, mslam_result_text(a),
                  mslam_result_text(b));
            mslam_result_free(a), mslam_result_free(b);
            mslam_ctc_decoder_free(dec), mslam_ctc_decoder_free(clean);
        }
    }
done:
    free(bad);
    free(lp);
    free(frames);
}

/* An abort callback that says stop at its k-th question (k 0: never), counting them. */
typedef struct {
    int asked, stop_at;
} abort_counter;

static int stop_when_told(void *data) {
    abort_counter *c = data;
    return ++c->asked == c->stop_at;
}

/* The abort callback: asked before each encoder layer and decoder step; the call it stops fails
 * naming itself, and one it never stops gives the result it gives without it. */
static void test_abort(mslam_model *m, const float *pcm, size_t n) {
    const int layers = m->cfg.n_speech_layers + m->cfg.n_shared_layers;
    struct mslam_decode_params p = mslam_decode_default_params();
    mslam_result *plain = mslam_transcribe(m, pcm, n, &p);
    abort_counter never = {0, 0};
    p.abort_callback = stop_when_told, p.abort_callback_user_data = &never;
    mslam_result *asked = mslam_transcribe(m, pcm, n, &p);
    CHECK(plain && asked && !strcmp(mslam_result_text(plain), mslam_result_text(asked)) && never.asked == layers,
          "a callback that never stops: the same text, asked %d times (the %d layers)", never.asked, layers);
    mslam_result_free(plain), mslam_result_free(asked);
    abort_counter second = {0, 2};
    p.abort_callback_user_data = &second;
    CHECK(!mslam_transcribe(m, pcm, n, &p) && second.asked == 2 &&
              !strcmp(mslam_last_error(), "mslam_transcribe: stopped by the abort callback"),
          "stopped at the second layer: asked %d times: %s", second.asked, mslam_last_error());
    /* the translation's search asks at each step, after the encoder's layers */
    never = (abort_counter){0, 0};
    p.abort_callback_user_data = &never;
    mslam_result *r = mslam_translate_text(m, "ab", &p);
    int asked_in_all = never.asked;
    CHECK(r && asked_in_all > m->cfg.n_shared_layers, "translate_text asks %d times", asked_in_all);
    mslam_result_free(r);
    abort_counter last = {0, asked_in_all};
    p.abort_callback_user_data = &last;
    CHECK(!mslam_translate_text(m, "ab", &p) &&
              !strcmp(mslam_last_error(), "mslam_translate_text: stopped by the abort callback"),
          "stopped in the decoder's last step: %s", mslam_last_error());
    /* a decoder reading the transcript: mslam_translate's own name, not mslam_translate_text's */
    const enum mslam_translate_input input_was = m->cfg.translate_input;
    m->cfg.translate_input = MSLAM_TRANSLATE_TRANSCRIPT;
    never = (abort_counter){0, 0};
    p.abort_callback_user_data = &never;
    r = mslam_translate(m, pcm, n, &p);
    mslam_result_free(r);
    last = (abort_counter){0, never.asked};
    p.abort_callback_user_data = &last;
    CHECK(never.asked > layers && !mslam_translate(m, pcm, n, &p) &&
              !strcmp(mslam_last_error(), "mslam_translate: stopped by the abort callback"),
          "mslam_translate of the transcript stopped at its last question (of %d): %s", never.asked,
          mslam_last_error());
    m->cfg.translate_input = input_was;
    struct mslam_encode_params ep = mslam_encode_default_params();
    abort_counter first = {0, 1};
    ep.abort_callback = stop_when_told, ep.abort_callback_user_data = &first;
    int T = -1;
    CHECK(!mslam_encode_pcm(m, pcm, n, &ep, &T) &&
              !strcmp(mslam_last_error(), "mslam_encode_pcm: stopped by the abort callback"),
          "encode stopped: %s", mslam_last_error());
}

/* n_threads <= 0 everywhere (the defaults): the calls run on all cores, and the caller's own
 * OpenMP setting is as it was after each (the library's teams say num_threads). */
static void test_threads(mslam_model *m, const float *pcm, size_t n) {
#ifdef _OPENMP
    /* n_threads 0 (the defaults) is OpenMP's count on the calling thread; a call never changes it */
    const int model_threads = m->n_threads, caller_threads = omp_get_max_threads();
    m->n_threads = 0; /* mslam_model_default_params */
    int T = 0;
    struct mslam_encode_params ep = mslam_encode_default_params();
    for (int want = 1; want <= 3; want += 2) {
        omp_set_num_threads(want);
        mslam_use_threads(7); /* what an earlier call on this thread may have left */
        float *frames = mslam_encode_pcm(m, pcm, n, NULL, &T);
        CHECK(frames && omp_get_max_threads() == want && mslam_get_threads() == want,
              "encode with n_threads 0: the caller's OpenMP threads %d (set %d), the library's %d",
              omp_get_max_threads(), want, mslam_get_threads());
        mslam_use_threads(7);
        float probs[3];
        mslam_result *r = mslam_transcribe(m, pcm, n, NULL);
        CHECK(r && omp_get_max_threads() == want && mslam_get_threads() == want, "transcribe: %d, %d",
              omp_get_max_threads(), mslam_get_threads());
        mslam_result_free(r);
        mslam_use_threads(7);
        r = mslam_translate_frames(m, frames, T, NULL);
        CHECK(r && omp_get_max_threads() == want && mslam_get_threads() == want, "translate_frames: %d, %d",
              omp_get_max_threads(), mslam_get_threads());
        mslam_result_free(r);
        mslam_use_threads(7);
        CHECK(mslam_identify_language_frames(m, frames, T, NULL, probs) >= 0 && omp_get_max_threads() == want &&
                  mslam_get_threads() == want,
              "identify: %d, %d", omp_get_max_threads(), mslam_get_threads());
        /* a stream (of n_threads 0: the caller's; the default is 1) made while this thread's
         * kernels ran on another count is fed on the call's (it sizes its attention scratch, a
         * slice per thread, for the threads it will run on) */
        mslam_use_threads(1);
        struct mslam_stream_params callers = mslam_stream_default_params();
        callers.n_threads = 0;
        mslam_stream *s = mslam_stream_new(m, callers);
        CHECK(s && mslam_stream_push(s, pcm, n) >= 0 && mslam_stream_finish(s) > 0 &&
                  omp_get_max_threads() == want && mslam_get_threads() == want,
              "stream: %s; %d, %d", mslam_last_error(), omp_get_max_threads(), mslam_get_threads());
        mslam_stream_free(s);
        free(frames);
        /* the call's own count wins, and leaves OpenMP's as it was too */
        ep.n_threads = 2 + want;
        frames = mslam_encode_pcm(m, pcm, n, &ep, &T);
        CHECK(frames && omp_get_max_threads() == want && mslam_get_threads() == 2 + want,
              "encode with n_threads %d: the caller's OpenMP threads %d (set %d), the library's %d", 2 + want,
              omp_get_max_threads(), want, mslam_get_threads());
        free(frames);
    }
    /* a stream made where OpenMP's count is 1 and fed where it is 3 (the element's case: made on the
     * application's thread, fed on the streaming thread) grows its scratch for 3 (ASan checks) and
     * gives the frames of a stream that ran on 3 from the start */
    omp_set_num_threads(1);
    mslam_stream *grown = mslam_stream_new(m, mslam_stream_default_params());
    omp_set_num_threads(3);
    mslam_stream *wide = mslam_stream_new(m, mslam_stream_default_params());
    int got_grown = grown && wide && mslam_stream_push(grown, pcm, n) >= 0 ? mslam_stream_finish(grown) : -1;
    int got_wide = wide && mslam_stream_push(wide, pcm, n) >= 0 ? mslam_stream_finish(wide) : -1;
    const int d = m->cfg.d_model;
    float *a = got_grown > 0 ? malloc((size_t)got_grown * d * sizeof(float)) : NULL;
    float *b = got_wide > 0 ? malloc((size_t)got_wide * d * sizeof(float)) : NULL;
    CHECK(a && b && got_grown == got_wide && mslam_stream_read(grown, a, got_grown) == got_grown &&
              mslam_stream_read(wide, b, got_wide) == got_wide &&
              test_max_rel_err(a, b, (size_t)got_grown * d, 1e-3f) < 1e-4,
          "a stream fed on more threads than it was made on: %d / %d frames (%s)", got_grown, got_wide,
          mslam_last_error());
    free(a), free(b);
    mslam_stream_free(grown), mslam_stream_free(wide);
    omp_set_num_threads(caller_threads);
    m->n_threads = model_threads;
#else
    (void)m, (void)pcm, (void)n;
#endif
}

struct slow_log {
    atomic_int entered, left;
};

static void slow_log(enum mslam_log_level level, const char *message, void *user_data) {
    struct slow_log *s = user_data;
    (void)level, (void)message;
    atomic_store(&s->entered, 1);
    usleep(200000);
    atomic_store(&s->left, 1);
}

static void *log_an_error(void *pcm) {
    mslam_result *r = mslam_transcribe(NULL, pcm, 16, NULL); /* "model is NULL", logged */
    mslam_result_free(r);
    return NULL;
}

/* mslam_log_set while another thread's message is in its callback returns once the callback has
 * ended, after which the application may free the callback's user data (it returned at once,
 * and a message could reach one callback with the other's user data). */
static void test_log_set_waits(const float *pcm) {
    mslam_log_callback outer_cb;
    void *outer_user_data;
    mslam_log_get(&outer_cb, &outer_user_data);
    struct slow_log s = {0};
    mslam_log_set(slow_log, &s);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, log_an_error, (void *)pcm) == 0, "cannot start a thread");
    for (int i = 0; i < 5000 && !atomic_load(&s.entered); i++) usleep(1000);
    CHECK(atomic_load(&s.entered), "the other thread's error reached no callback");
    mslam_log_set(outer_cb, outer_user_data);
    CHECK(atomic_load(&s.left), "mslam_log_set returned while the callback it replaced ran");
    pthread_join(thread, NULL);
}

static void test_save_load(mslam_model *m, const float *pcm, size_t n) {
    char path[] = "/tmp/mslam_test_infer_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "temporary file");
    if (fd < 0) return;
    close(fd);
    CHECK(mslam_model_save(m, path) == 0, "save: %s", mslam_last_error());
    mslam_model *back = mslam_model_load(path, mslam_model_default_params());
    CHECK(back != NULL, "load: %s", mslam_last_error());
    if (back) {
        CHECK(back->bos_id == m->bos_id && back->eos_id == m->eos_id, "sentence marks after load");
        mslam_result *a = mslam_transcribe(m, pcm, n, NULL), *b = mslam_transcribe(back, pcm, n, NULL);
        CHECK(a && b && !strcmp(mslam_result_text(a), mslam_result_text(b)), "transcription after save + load");
        mslam_result_free(a);
        mslam_result_free(b);
        a = mslam_translate(m, pcm, n, NULL);
        b = mslam_translate(back, pcm, n, NULL);
        CHECK(a && b && !strcmp(mslam_result_text(a), mslam_result_text(b)), "translation after save + load");
        mslam_result_free(a);
        mslam_result_free(b);
        mslam_model_free(back);
    }
    unlink(path);
}

/* English is its own translation: mslam_translate gives English speech's transcript (each
 * character with recognition's probability and confidence, no frames), whether the
 * language is named or identified and whatever the decoder reads; mslam_translate_text gives
 * English text as it is. Other languages still go to the decoder. */
static void test_translate_english(mslam_model *m, const float *pcm, size_t n) {
    const int input_was = m->cfg.translate_input;
    const float en_bias = m->p.lid_b[0]; /* langs[0] is "en" */
    for (int input = 0; input < 2; input++) {
        m->cfg.translate_input = input ? MSLAM_TRANSLATE_TRANSCRIPT : MSLAM_TRANSLATE_SPEECH;
        for (int way = 0; way < 3; way++) {
            struct mslam_decode_params p = mslam_decode_default_params();
            p.max_len = 12;
            /* named ("EN": codes in any case), then identified: the LID head's bias for English
             * decides, one way and then the other */
            p.languages = way == 0 ? "EN" : NULL;
            m->p.lid_b[0] = way == 1 ? 1e4f : way == 2 ? -1e4f : en_bias;
            mslam_result *r = mslam_translate(m, pcm, n, &p), *said = mslam_transcribe(m, pcm, n, &p);
            CHECK(r && said && *mslam_result_text(said), "translate English (input %d, way %d): %s", input, way,
                  mslam_last_error());
            if (!r || !said) {
                mslam_result_free(r);
                mslam_result_free(said);
                continue;
            }
            const char *text = mslam_result_text(said);
            if (way < 2) {
                int same = mslam_result_n_tokens(r) == mslam_result_n_tokens(said) &&
                           !strcmp(mslam_result_text(r), text) &&
                           mslam_result_confidence(r) == mslam_result_confidence(said);
                for (int i = 0; same && i < mslam_result_n_tokens(r); i++)
                    same = mslam_result_token_id(r, i) == mslam_result_token_id(said, i) &&
                           mslam_result_token_frame(r, i) == -1 &&
                           mslam_result_token_prob(r, i) == mslam_result_token_prob(said, i);
                CHECK(same && mslam_result_start_frame(r) == mslam_result_start_frame(said) &&
                          mslam_result_end_frame(r) == mslam_result_end_frame(said),
                      "English speech (input %d, way %d): \"%s\" is not its transcript \"%s\"", input, way,
                      mslam_result_text(r), text);
            } else {
                /* identified as another language: the decoder's, from what it reads */
                int T = 0, n_chars = 0;
                float *frames = mslam_encode_pcm(m, pcm, n, NULL, &T);
                float *chars = input ? mslam_encode_text(m, text, NULL, &n_chars) : NULL;
                mslam_result *decoded = input ? mslam_translate_frames(m, chars, n_chars, &p)
                                              : mslam_translate_frames(m, frames, T, &p);
                CHECK(decoded && !strcmp(mslam_result_text(r), mslam_result_text(decoded)),
                      "speech identified as French (input %d): \"%s\", the decoder \"%s\"", input,
                      mslam_result_text(r), mslam_result_text(decoded));
                mslam_result_free(decoded);
                mslam_free(chars);
                mslam_free(frames);
            }
            mslam_result_free(r);
            mslam_result_free(said);
        }
    }
    m->p.lid_b[0] = en_bias;
    m->cfg.translate_input = input_was;
    struct mslam_decode_params p = mslam_decode_default_params();
    p.languages = "en";
    mslam_result *r = mslam_translate_text(m, " ab é", &p);
    CHECK(r && !strcmp(mslam_result_text(r), " ab é") && mslam_result_n_tokens(r) == 5 &&
              mslam_result_confidence(r) == 1.0f && mslam_result_token_frame(r, 4) == -1 &&
              mslam_result_end_frame(r) == 5,
          "English text is its own translation: \"%s\"", r ? mslam_result_text(r) : mslam_last_error());
    mslam_result_free(r);
    CHECK(!mslam_translate_text(m, "abx", &p) && strstr(mslam_last_error(), "('x') is not in the model's vocabulary"),
          "English with a character outside the vocabulary: %s", mslam_last_error());
    CHECK(!mslam_translate_text(m, "ab\xff", &p) && strstr(mslam_last_error(), "is not valid UTF-8 at byte 2"),
          "English that is not UTF-8: %s", mslam_last_error());
}

/* A decoder reading speech takes params meant for mslam_transcribe as before: an LM the
 * transcript's search could not use (beam 1, the LM's language alone French) fails nothing; the
 * transcript is searched for English speech alone, without the LM that cannot serve it. */
static void test_translate_params_of_transcribe(mslam_model *m, const float *pcm, size_t n) {
    static const char *const french[] = {"fr"};
    mslam_lm *lm = lm_new(2, (const char *const *)m->vocab, m->cfg.vocab_size, french, 1);
    if (lm) {
        const int ids[2] = {lm->bos_id, lm->eos_id};
        lm_table_set_chars(lm, &lm->langs[0], ids, 2);
        lm_table_reserve(&lm->langs[0], 1);
        lm->langs[0].floor_logp = -1.0f;
    }
    const int input_was = m->cfg.translate_input;
    const float en_bias = m->p.lid_b[0];
    m->cfg.translate_input = MSLAM_TRANSLATE_SPEECH;
    struct mslam_decode_params p = mslam_decode_default_params();
    p.max_len = 12;
    p.beam_size = 1;
    p.lm = lm;
    p.lm_weight = 0.5f;
    for (int english = 0; lm && english < 2; english++) {
        m->p.lid_b[0] = english ? 1e4f : -1e4f;
        mslam_result *r = mslam_translate(m, pcm, n, &p), *expected = NULL;
        struct mslam_decode_params plain = p;
        plain.lm = NULL;
        int T = 0;
        float *frames = mslam_encode_pcm(m, pcm, n, NULL, &T);
        expected = english ? mslam_transcribe(m, pcm, n, &plain) : mslam_translate_frames(m, frames, T, &p);
        CHECK(r && expected && !strcmp(mslam_result_text(r), mslam_result_text(expected)),
              "a speech decoder with mslam_transcribe's params (%s speech): \"%s\", expected \"%s\" (%s)",
              english ? "English" : "French", r ? mslam_result_text(r) : "", mslam_result_text(expected),
              r ? "" : mslam_last_error());
        mslam_result_free(r);
        mslam_result_free(expected);
        mslam_free(frames);
    }
    m->p.lid_b[0] = en_bias;
    m->cfg.translate_input = input_was;
    mslam_lm_free(lm);
}

int main(void) {
    const size_t n = 16000;
    float *pcm = test_audio(n);
    mslam_model *m = tiny_model(1, 1, 2);
    if (m) {
        m->n_threads = 2;
        test_transcribe(m, pcm, n);
        test_translate(m, pcm, n);
        test_translate_transcript(m, pcm, n);
        test_translate_english(m, pcm, n);
        test_translate_params_of_transcribe(m, pcm, n);
        test_identify(m, pcm, n);
        test_non_finite_frames(m, pcm, n);
        test_threads(m, pcm, n);
        test_abort(m, pcm, n);
        test_save_load(m, pcm, n);
        mslam_model_free(m);
    }
    test_errors(pcm, n);
    test_feature_stats(pcm, n);
    test_log_set_waits(pcm);
    free(pcm);
    return test_result("infer");
}
