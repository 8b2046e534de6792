/* The fuzz tests' shared fixture (fuzz.h). */
#include "fuzz.h"

#include "common.h"
#include "lmbuild.h"
#include "manifest.h"
#include "model.h"
#include "testutil.h"
#include "tm.h"
#include "train_fixture.h"

#include <string.h>

long fuzz_n_results, fuzz_n_errors;

void fuzz_check_error(const char *call) {
    fuzz_n_errors++;
    const char *e = mslam_last_error();
    CHECK(e && *e && strcmp(e, FUZZ_NO_ERROR), "%s failed without an error", call);
    mslam_error("%s", FUZZ_NO_ERROR);
}

void fuzz_check_result(mslam_result *r, const char *call, int recognition) {
    if (!r) {
        fuzz_check_error(call);
        return;
    }
    fuzz_n_results++;
    float confidence = mslam_result_confidence(r);
    CHECK(mslam_utf8_length(mslam_result_text(r)) >= 0, "%s: the text is not UTF-8", call);
    CHECK(confidence >= 0 && confidence <= 1, "%s: confidence %g", call, (double)confidence);
    int start = mslam_result_start_frame(r), end = mslam_result_end_frame(r);
    CHECK(0 <= start && start <= end, "%s: frames [%d, %d)", call, start, end);
    for (int i = 0; i < mslam_result_n_tokens(r); i++) {
        int frame = mslam_result_token_frame(r, i);
        float p = mslam_result_token_prob(r, i);
        CHECK(mslam_result_token_text(r, i) != NULL && p >= 0 && p <= 1, "%s: token %d, probability %g", call, i,
              (double)p);
        if (recognition)
            CHECK(frame >= start && frame < end, "%s: token %d at frame %d of [%d, %d)", call, i, frame, start, end);
    }
    /* words: UTF-8 without a space, in order inside the result's frames for recognition */
    for (int w = 0, prev_end = start; w < mslam_result_n_words(r); w++) {
        const char *text = mslam_result_word_text(r, w);
        int ws = mslam_result_word_start_frame(r, w), we = mslam_result_word_end_frame(r, w);
        float p = mslam_result_word_prob(r, w);
        CHECK(text && *text && mslam_utf8_length(text) > 0 && !strchr(text, ' ') && p >= 0 && p <= 1,
              "%s: word %d \"%s\", probability %g", call, w, text ? text : "(null)", (double)p);
        CHECK(recognition ? prev_end <= ws && ws < we && we <= end : ws == -1 && we == -1,
              "%s: word %d at frames [%d, %d) of [%d, %d)", call, w, ws, we, start, end);
        prev_end = recognition ? we : start;
    }
    mslam_result_free(r);
    mslam_error("%s", FUZZ_NO_ERROR);
}

void fuzz_check_lookup(const mslam_tm *tm, int found, const struct mslam_tm_match *match, const char *call) {
    if (found < 0) {
        fuzz_check_error(call);
        return;
    }
    fuzz_n_results++;
    CHECK(found <= 1, "%s: %d", call, found);
    if (found == 1)
        CHECK(match->index >= 0 && match->index < mslam_tm_n_entries(tm) && match->source && match->translation &&
                  match->lang && match->similarity >= 0 && match->similarity <= 1,
              "%s: entry %d of %d, similarity %g", call, match->index, mslam_tm_n_entries(tm),
              (double)match->similarity);
}

int fuzz_fixture_make(const char *manifest, fuzz_fixture *fx) {
    *fx = (fuzz_fixture){0};
    struct mslam_model_config cfg = {
        .n_mels = 80, .d_model = 16, .n_heads = 2, .d_ff = 32, .conv_kernel = 3, .sub_channels = 4,
        .n_speech_layers = 1, .n_shared_layers = 1, .n_decoder_layers = 1, .causal_conv = 1, .ctc_head = 1,
        .lid_head = 1};
    fx->model = fixture_model(manifest, &cfg, 7);
    CHECK(fx->model != NULL && fx->model->cfg.n_langs >= 2, "fixture model: %s", mslam_last_error());
    if (!fx->model || fx->model->cfg.n_langs < 2) return -1;
    const char *texts[] = {manifest, NULL};
    lm_build_options transcripts = {.text = texts, .split = SPLIT_N, .order = 3, .prune_count = 1};
    lm_build_options translations = transcripts;
    translations.translations = 1;
    lm_build_stats stats;
    CHECK(lm_build(fx->model, &transcripts, &fx->lm, &stats) == 0, "the LM: %s", mslam_last_error());
    CHECK(lm_build(fx->model, &translations, &fx->translation_lm, &stats) == 0, "the translation LM: %s",
          mslam_last_error());
    const char *sources[] = {"ab ab", "ba", "\xc3\xa9t\xc3\xa9", "abc"};
    const char *english[] = {"yes", "no", "summer", "abc"};
    const int32_t lang[] = {0, 1, 1, 0};
    const char *langs[] = {mslam_model_lang(fx->model, 0), mslam_model_lang(fx->model, 1)};
    fx->tm = tm_new(sources, english, lang, langs, 2, 4);
    CHECK(fx->tm != NULL, "the memory: %s", mslam_last_error());
    return fx->lm && fx->translation_lm && fx->tm ? 0 : -1;
}

void fuzz_fixture_free(fuzz_fixture *fx) {
    mslam_tm_free(fx->tm);
    mslam_lm_free(fx->lm);
    mslam_lm_free(fx->translation_lm);
    mslam_model_free(fx->model);
    *fx = (fuzz_fixture){0};
}
