/* Random calls of the public API with edge and bad arguments (suite fuzz), on a tiny model with
 * every head (its decoder reading speech, then transcripts), with and without an LM and a
 * translation memory: PCM of 0 to 2 s (lengths around a frame's edges too) holding NaN,
 * infinities, huge or subnormal samples; text of random bytes (ill-formed UTF-8, characters
 * outside the vocabulary); decode, encode and stream parameters drawn from edge values
 * (negative, zero, huge, NaN) and language lists (unknown codes, empty items, repeats); LMs of
 * transcripts and of translations, each now and then in the other's place. Every call must
 * answer with a result or an error of its own, and every result must hold: valid UTF-8,
 * confidence and token probabilities in [0, 1], recognition tokens' frames inside the result's
 * frames, language probabilities that sum to 1 with the best one highest, finite encoder frames.
 * Under MSLAM_SANITIZE=1 ASan and UBSan watch every call.
 *   MSLAM_FUZZ_SCALE=K   K x 5000 calls (default 1)
 *   MSLAM_FUZZ_SEED=S    the draws' random seed (default 1) */
#include "common.h"
#include "fuzz.h"
#include "model.h"
#include "testutil.h"
#include "train_fixture.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SAMPLES = 32000 };

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Uniform noise of a random length and loudness, with now and then a few edge values. */
static size_t draw_pcm(float *pcm, mslam_rng *rng) {
    static const size_t lengths[] = {0, 1, 159, 160, 399, 400, 401, 560, 1200, 1201, 3199, 6400};
    size_t n = draw(rng, 3) ? PICK(rng, lengths) : draw(rng, MAX_SAMPLES + 1);
    float gain = (float)PICK(rng, ((const double[]){0, 1e-30, 1e-3, 0.3, 1, 40}));
    for (size_t i = 0; i < n; i++) pcm[i] = gain * (mslam_rng_uniform(rng) * 2 - 1);
    static const float edges[] = {NAN, INFINITY, -INFINITY, 3e38f, -3e38f, 1e-45f, 0, 1, -1};
    int count = draw(rng, 3) ? 0 : 1 + (int)draw(rng, 3);
    for (int k = 0; n && k < count; k++) pcm[draw(rng, (uint32_t)n)] = PICK(rng, edges);
    return n;
}

/* NUL-terminated text of up to 40 bytes: the model's characters, other code points, or random
 * bytes. */
static void draw_text(char *text, const mslam_model *m, mslam_rng *rng) {
    size_t n = 0, len = draw(rng, 12);
    uint32_t kind = draw(rng, 4);
    for (size_t i = 0; i < len && n < 36; i++) {
        if (kind < 2 || draw(rng, 4) == 0) {
            const char *c = mslam_model_vocab_token(m, 4 + (int)draw(rng, (uint32_t)m->cfg.vocab_size - 4));
            if (c && c[0] != '<' && n + strlen(c) < 36) memcpy(text + n, c, strlen(c)), n += strlen(c);
        } else if (kind == 2) {
            static const char *const other[] = {"\xe6\x97\xa5", "\xf0\x9f\x98\x80", "Z", "\t", "\xc2\xa0", " "};
            const char *c = PICK(rng, other);
            memcpy(text + n, c, strlen(c)), n += strlen(c);
        } else {
            text[n++] = (char)(1 + draw(rng, 255));
        }
    }
    text[n] = '\0';
}

/* lm: of transcripts; translation_lm: of translations (each also given in the other's place). */
static struct mslam_decode_params draw_params(const mslam_model *m, const mslam_lm *lm, const mslam_lm *translation_lm,
                                              const mslam_tm *tm, mslam_rng *rng) {
    struct mslam_decode_params dp = mslam_decode_default_params();
    static const int ints[] = {-100, -1, 0, 1, 2, 3, 8, 1000, 2000000, INT_MAX};
    static const float floats[] = {NAN, INFINITY, -INFINITY, -1, 0, 0.5f, 1, 2, 1e30f};
    static const char *const langs[] = {NULL, "", ",", "xx", "en,,fr", "en,en", "de", "en,de,fr,es"};
    /* draws 7 to 13 (default) change no number: half the calls */
    switch (draw(rng, 14)) {
    case 0: dp.beam_size = PICK(rng, ints); break;
    case 1: dp.max_len = PICK(rng, ints), dp.length_penalty = PICK(rng, floats); break;
    case 2: dp.no_repeat_ngram = PICK(rng, ints), dp.token_min_logp = PICK(rng, floats); break;
    case 3: dp.chunk_frames = PICK(rng, ints), dp.left_chunks = PICK(rng, ints); break;
    case 4: dp.n_threads = PICK(rng, ((const int[]){-1, 0, 1, 3})); break;
    case 5:
        dp.lm_weight = PICK(rng, floats), dp.lm_bonus = PICK(rng, floats), dp.lid_lm_weight = PICK(rng, floats);
        break;
    case 6: dp.translation_lm_weight = PICK(rng, floats), dp.tm_min_similarity = PICK(rng, floats); break;
    default: break;
    }
    /* a beam of 1000 is valid and slow: calls stay quick with 64; larger ones are refused */
    if (dp.beam_size > 64 && dp.beam_size <= 1024) dp.beam_size = 64;
    if (dp.max_len > 64) dp.max_len = 64;
    dp.languages = PICK(rng, langs);
    if (draw(rng, 3) == 0) dp.languages = mslam_model_lang(m, (int)draw(rng, (uint32_t)m->cfg.n_langs));
    if (draw(rng, 3) == 0) dp.lm = draw(rng, 8) ? lm : translation_lm;
    if (draw(rng, 4) == 0) dp.translation_lm = draw(rng, 4) ? translation_lm : lm;
    if (draw(rng, 3) == 0) dp.translation_memory = tm;
    return dp;
}

static void call_stream(mslam_model *m, const float *pcm, size_t n, const struct mslam_decode_params *dp,
                        mslam_rng *rng) {
    struct mslam_stream_params sp = mslam_stream_default_params();
    sp.chunk_frames = PICK(rng, ((const int[]){-1, 0, 1, 2, 8, 100, 4096, 4097, INT_MAX}));
    sp.left_chunks = PICK(rng, ((const int[]){-5, -1, 0, 1, 4, 1000000, INT_MAX}));
    mslam_stream *s = mslam_stream_new(m, sp);
    if (!s) {
        fuzz_check_error("mslam_stream_new");
        return;
    }
    mslam_ctc_decoder *dec = mslam_ctc_decoder_new(m, dp);
    if (!dec) fuzz_check_error("mslam_ctc_decoder_new");
    int d = m->cfg.d_model;
    float *frames = malloc((size_t)d * 256 * sizeof *frames);
    for (size_t at = 0; at <= n;) {
        size_t piece = at == n ? 0 : 1 + draw(rng, (uint32_t)(n - at));
        mslam_error("%s", FUZZ_NO_ERROR);
        int ready = piece ? mslam_stream_push(s, pcm + at, piece) : mslam_stream_finish(s);
        if (ready < 0) {
            fuzz_check_error(piece ? "mslam_stream_push" : "mslam_stream_finish");
            break;
        }
        int got = mslam_stream_read(s, frames, 256);
        fuzz_n_results++;
        CHECK(got >= 0 && got <= ready && all_finite(frames, (size_t)got * d), "mslam_stream_read: %d of %d ready",
              got, ready);
        if (dec && got > 0) {
            mslam_error("%s", FUZZ_NO_ERROR);
            if (mslam_ctc_decoder_push_frames(dec, frames, got) < 0) fuzz_check_error("mslam_ctc_decoder_push_frames");
            mslam_error("%s", FUZZ_NO_ERROR);
            fuzz_check_result(mslam_ctc_decoder_partial(dec), "mslam_ctc_decoder_partial", 1);
            int blanks = mslam_ctc_decoder_trailing_blanks(dec);
            float blank = mslam_ctc_decoder_blank_prob(dec);
            CHECK(blanks >= 0 && blanks <= mslam_ctc_decoder_n_frames(dec) && blank >= 0 && blank <= 1,
                  "%d trailing blanks of %d frames, blank probability %g", blanks, mslam_ctc_decoder_n_frames(dec),
                  (double)blank);
        }
        if (!piece) break;
        at += piece;
    }
    if (dec) {
        mslam_error("%s", FUZZ_NO_ERROR);
        fuzz_check_result(mslam_ctc_decoder_finish(dec), "mslam_ctc_decoder_finish", 1);
    }
    free(frames);
    mslam_ctc_decoder_free(dec);
    mslam_stream_free(s);
}

/* r's part from a frame drawn at its edges, inside or outside it (mslam_result_from_frame),
 * then r itself; a translation's has no frames to split it at. */
static void check_with_part(const mslam_model *m, mslam_result *r, const char *call, int recognition, mslam_rng *rng) {
    if (r && draw(rng, 2)) {
        const int end = mslam_result_end_frame(r);
        const int frames[] = {INT_MIN, -1, 0, mslam_result_start_frame(r), end / 2, end - 1, end, INT_MAX};
        fuzz_check_result(mslam_result_from_frame(m, r, PICK(rng, frames)), "mslam_result_from_frame", recognition);
    }
    fuzz_check_result(r, call, recognition);
}

static void call_once(mslam_model *m, const mslam_lm *lm, const mslam_lm *translation_lm, const mslam_tm *tm,
                      float *pcm, mslam_rng *rng) {
    struct mslam_decode_params dp = draw_params(m, lm, translation_lm, tm, rng);
    size_t n = draw_pcm(pcm, rng);
    char text[48];
    draw_text(text, m, rng);
    mslam_error("%s", FUZZ_NO_ERROR);
    switch (draw(rng, 8)) {
    case 0: check_with_part(m, mslam_transcribe(m, pcm, n, &dp), "mslam_transcribe", 1, rng); break;
    case 1: check_with_part(m, mslam_translate(m, pcm, n, &dp), "mslam_translate", 0, rng); break;
    case 2: fuzz_check_result(mslam_translate_text(m, text, &dp), "mslam_translate_text", 0); break;
    case 3: {
        float probs[8];
        int best = mslam_identify_language(m, pcm, n, &dp, probs);
        if (best < 0) {
            fuzz_check_error("mslam_identify_language");
            break;
        }
        double sum = 0;
        int highest = 1;
        for (int l = 0; l < m->cfg.n_langs; l++) sum += probs[l], highest &= probs[l] <= probs[best];
        fuzz_n_results++;
        CHECK(best < m->cfg.n_langs && fabs(sum - 1) < 1e-4 && highest, "mslam_identify_language: language %d, "
              "probabilities summing to %g", best, sum);
        break;
    }
    case 4:
    case 5: {
        struct mslam_encode_params ep = mslam_encode_default_params();
        ep.chunk_frames = dp.chunk_frames, ep.left_chunks = dp.left_chunks, ep.n_threads = dp.n_threads;
        int n_frames = -1;
        float *frames = draw(rng, 2) ? mslam_encode_pcm(m, pcm, n, &ep, &n_frames)
                                     : mslam_encode_text(m, text, &ep, &n_frames);
        if (frames) fuzz_n_results++;
        if (!frames) fuzz_check_error("mslam_encode_pcm / mslam_encode_text");
        else CHECK(n_frames >= 0 && all_finite(frames, (size_t)n_frames * m->cfg.d_model), "encoding: %d frames",
                   n_frames);
        mslam_free(frames);
        break;
    }
    case 6: call_stream(m, pcm, n, &dp, rng); break;
    default: {
        struct mslam_tm_match match;
        fuzz_check_lookup(tm, mslam_tm_lookup(tm, text, dp.languages, &match), &match, "mslam_tm_lookup");
        break;
    }
    }
}

int main(void) {
    int rounds = fuzz_rounds(5000);
    uint64_t seed = 1;
    CHECK(rounds >= 0 && fuzz_seed(&seed), "MSLAM_FUZZ_SCALE or MSLAM_FUZZ_SEED");
    mslam_log_set(test_quiet_log, NULL);
    const char *manifest = fixture_write(2, 0);
    fuzz_fixture fx = {0};
    int ready = manifest && fuzz_fixture_make(manifest, &fx) == 0;
    /* (call_once's LID draws probabilities for up to 8 languages) */
    CHECK(ready && fx.model->cfg.n_langs <= 8, "the fixture");
    if (!ready || fx.model->cfg.n_langs > 8 || rounds < 0) return test_result("fuzz_api");
    float *pcm = malloc(MAX_SAMPLES * sizeof *pcm);
    mslam_rng rng;
    mslam_rng_seed(&rng, seed);
    for (int r = 0; r < rounds; r++) {
        /* the decoder reads speech for half the calls and the transcript for the other half */
        fx.model->cfg.translate_input = r % 2 ? MSLAM_TRANSLATE_TRANSCRIPT : MSLAM_TRANSLATE_SPEECH;
        call_once(fx.model, fx.lm, fx.translation_lm, fx.tm, pcm, &rng);
    }
    printf("%d rounds (seed %llu): %ld answers with a result, %ld errors\n", rounds, (unsigned long long)seed,
           fuzz_n_results, fuzz_n_errors);
    free(pcm);
    fuzz_fixture_free(&fx);
    fixture_remove();
    return test_result("fuzz_api");
}
