/* The fuzz tests' shared fixture (fuzz.h). */
#include "fuzz.h"

#include "lmbuild.h"
#include "manifest.h"
#include "model.h"
#include "testutil.h"
#include "tm.h"
#include "train_fixture.h"

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
