/* Streaming: chunk-by-chunk frames equal a whole-utterance forward under the same chunk mask,
 * for many push sizes, after reset, and with bounded and unbounded left context. */
#include "model.h"
#include "testutil.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *vocab[] = {"<blank>", "<unk>", " ", "a", "b"};
static const char *langs[] = {"en"};

static mslam_model *small_model(int causal) {
    struct mslam_model_config cfg = {.n_mels = 80, .d_model = 16, .n_heads = 2, .d_ff = 24, .conv_kernel = 5,
                                     .sub_channels = 3, .n_speech_layers = 2, .n_shared_layers = 1,
                                     .vocab_size = 5, .n_langs = 1, .causal_conv = causal};
    mslam_model *m = mslam_model_new(&cfg, vocab, langs);
    if (!m) return NULL;
    mslam_rng rng;
    mslam_rng_seed(&rng, 21);
    for (int i = 0; i < m->table.n; i++) {
        const mslam_param_entry *e = &m->table.entries[i];
        for (size_t j = 0; j < e->numel; j++) {
            float *x = m->block + e->offset + j;
            if (!strcmp(e->name, "frontend.mel_mean")) *x = -6.0f;
            else if (!strcmp(e->name, "frontend.mel_std")) *x = 3.0f;
            else if (strstr(e->name, ".weight") && (strstr(e->name, "ln") || strstr(e->name, "norm")))
                *x = 1.0f + 0.1f * mslam_rng_normal(&rng);
            else *x = 0.25f * mslam_rng_normal(&rng);
        }
    }
    return m;
}

/* A vowel-like test signal: harmonics of a gliding pitch plus noise. */
static float *test_audio(size_t n) {
    float *pcm = malloc(n * sizeof(float));
    mslam_rng rng;
    mslam_rng_seed(&rng, 4);
    double phase = 0;
    for (size_t i = 0; i < n; i++) {
        double f0 = 120 + 60 * sin(2 * M_PI * 0.7 * i / 16000.0);
        phase += 2 * M_PI * f0 / 16000.0;
        double s = 0;
        for (int h = 1; h <= 8; h++) s += sin(h * phase) / h;
        pcm[i] = (float)(0.2 * s + 0.02 * mslam_rng_normal(&rng));
    }
    return pcm;
}

/* -Wl,--wrap=realloc (tests/meson.build): the realloc_countdown-th call from now fails (0: none). */
static int realloc_countdown;
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n) {
    if (realloc_countdown > 0 && --realloc_countdown == 0) return NULL;
    return __real_realloc(p, n);
}

static double stream_vs_offline(mslam_model *m, const float *pcm, size_t n, int chunk, int left,
                                const size_t *push_sizes, int n_push_sizes, mslam_stream *reuse) {
    struct mslam_encode_params ep = mslam_encode_default_params();
    ep.chunk_frames = chunk;
    ep.left_chunks = left;
    int n_ref = 0;
    float *ref = mslam_encode_pcm(m, pcm, n, &ep, &n_ref);
    CHECK(ref != NULL, "offline: %s", mslam_last_error());
    struct mslam_stream_params sp = mslam_stream_default_params();
    sp.chunk_frames = chunk;
    sp.left_chunks = left;
    mslam_stream *s = reuse ? reuse : mslam_stream_new(m, sp);
    CHECK(s != NULL, "stream: %s", mslam_last_error());
    if (!ref || !s) return INFINITY;
    int d = m->cfg.d_model;
    float *got = malloc(((size_t)n_ref + 1) * d * sizeof(float));
    int n_got = 0;
    size_t pos = 0;
    for (int k = 0; pos < n; k++) {
        size_t step = push_sizes[k % n_push_sizes];
        if (step > n - pos) step = n - pos;
        int ready = mslam_stream_push(s, pcm + pos, step);
        CHECK(ready >= 0, "push: %s", mslam_last_error());
        CHECK(ready % chunk == 0, "before the end only whole chunks are ready (%d)", ready);
        pos += step;
        if (n_got + ready > n_ref) break;
        n_got += mslam_stream_read(s, got + (size_t)n_got * d, n_ref - n_got);
    }
    int ready = mslam_stream_finish(s);
    CHECK(ready >= 0 && n_got + ready == n_ref, "stream gives %d + %d frames, offline %d", n_got, ready, n_ref);
    if (n_got + ready <= n_ref) n_got += mslam_stream_read(s, got + (size_t)n_got * d, ready);
    double worst = 0;
    for (size_t i = 0; i < (size_t)n_got * d; i++) worst = fmax(worst, fabs(got[i] - ref[i]));
    if (!reuse) mslam_stream_free(s);
    free(got);
    mslam_free(ref);
    return n_got == n_ref ? worst : INFINITY;
}

/* A finish that runs out of memory (the k-th reallocation it makes fails, for each k until one
 * succeeds) and is called again gives the frames offline gives: the tail padding appended once,
 * the chunk that failed encoded again. Chunks of 8 frames with all the left context: the chunk
 * after 32 frames grows every layer's attention cache (to 64 frames). */
static void test_finish_after_failure(mslam_model *m, const float *pcm, size_t n) {
    struct mslam_encode_params ep = mslam_encode_default_params();
    ep.chunk_frames = 8;
    ep.left_chunks = -1;
    int n_ref = 0, d = m->cfg.d_model, failed = 0, wrong = 0, refused = 0;
    float *ref = mslam_encode_pcm(m, pcm, n, &ep, &n_ref);
    float *got = malloc(((size_t)n_ref + 8) * d * sizeof(float));
    CHECK(ref && got, "offline: %s", mslam_last_error());
    for (int k = 1; ref && got && k < 64; k++) {
        struct mslam_stream_params sp = mslam_stream_default_params();
        sp.chunk_frames = 8;
        sp.left_chunks = -1;
        mslam_stream *s = mslam_stream_new(m, sp);
        if (!s || mslam_stream_push(s, pcm, n) < 0) {
            CHECK(0, "stream: %s", mslam_last_error());
            mslam_stream_free(s);
            break;
        }
        int n_got = mslam_stream_read(s, got, n_ref + 8);
        realloc_countdown = k;
        int first = mslam_stream_finish(s);
        int fired = realloc_countdown == 0;
        realloc_countdown = 0;
        /* the audio has ended (the padding is in): a push would put samples after it */
        if (first < 0)
            refused += mslam_stream_push(s, pcm, 0) < 0 && strstr(mslam_last_error(), "call it again");
        int again = first < 0 ? mslam_stream_finish(s) : first;
        CHECK(first >= 0 || strstr(mslam_last_error(), "out of memory") || again >= 0, "finish %d: %s", k,
              mslam_last_error());
        n_got += mslam_stream_read(s, got + (size_t)n_got * d, n_ref + 8 - n_got);
        double worst = 0;
        for (size_t i = 0; n_got == n_ref && i < (size_t)n_ref * d; i++) worst = fmax(worst, fabs(got[i] - ref[i]));
        failed += first < 0;
        wrong += again < 0 || n_got != n_ref || worst > 1e-5;
        if (again < 0 || n_got != n_ref || worst > 1e-5)
            printf("  finish failing at reallocation %d, called again: %d frames (offline %d), max diff %.2e\n", k,
                   n_got, n_ref, worst);
        mslam_stream_free(s);
        if (!fired) break; /* the finish made fewer than k reallocations: every one has failed once */
    }
    printf("%zu samples, finish out of memory at each of its reallocations (%d), then again: %d differ from "
           "offline\n", n, failed, wrong);
    CHECK(failed >= 2 && wrong == 0, "a finish that failed and was called again: %d of %d differ from offline", wrong,
          failed);
    CHECK(refused == failed, "a push after a finish that failed: refused %d times of %d", refused, failed);
    free(got);
    mslam_free(ref);
}

int main(void) {
    mslam_set_threads(2);
    mslam_model *m = small_model(1);
    CHECK(m != NULL, "model: %s", mslam_last_error());
    if (!m) return test_result("stream");
    size_t n = 16000 + 16000 / 3 + 77; /* 1.33 s: not a whole number of hops or chunks */
    float *pcm = test_audio(n);

    static const size_t one[] = {1}, odd[] = {7, 333, 1, 160, 999, 3}, hop[] = {160}, all[] = {1u << 30};
    struct {
        const char *name;
        const size_t *sizes;
        int n_sizes;
    } pushes[] = {{"1 sample", one, 1}, {"odd sizes", odd, 6}, {"160 samples", hop, 1}, {"all at once", all, 1}};
    /* (the last two: a left context, and a chunk, whose product with the other overflows an int) */
    int configs[][2] = {{4, 2}, {1, 0}, {3, -1}, {8, 1}, {3, INT_MAX}, {4096, 1000000}};
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        for (size_t p = 0; p < sizeof pushes / sizeof pushes[0]; p++) {
            if (p == 0 && c > 1) continue; /* 1-sample pushes are slow under sanitizers; two configs suffice */
            double e = stream_vs_offline(m, pcm, n, configs[c][0], configs[c][1], pushes[p].sizes,
                                         pushes[p].n_sizes, NULL);
            printf("chunk %d left %d, pushes of %-11s: max abs diff %.2e\n", configs[c][0], configs[c][1],
                   pushes[p].name, e);
            CHECK(e <= 1e-5, "chunk %d left %d %s: streaming differs from offline by %.2e", configs[c][0],
                  configs[c][1], pushes[p].name, e);
        }
    }

    /* A DC offset is taken off each frame, the last ones too, where the tail padding's zeros
     * follow the audio (before, frames of one and of a batch rounded apart near the log floor:
     * 8e-4) */
    float *offset = malloc(n * sizeof *offset);
    if (offset) {
        for (size_t i = 0; i < n; i++) offset[i] = pcm[i] + 0.3f;
        double e = stream_vs_offline(m, offset, n, 4, 2, odd, 6, NULL);
        printf("a DC offset of 0.3, pushes of odd sizes: max abs diff %.2e\n", e);
        CHECK(e <= 1e-5, "with a DC offset streaming differs from offline by %.2e", e);
    }
    free(offset);

    /* a reset stream starts again at time 0 */
    struct mslam_stream_params sp = mslam_stream_default_params();
    sp.chunk_frames = 4;
    sp.left_chunks = 2;
    mslam_stream *s = mslam_stream_new(m, sp);
    CHECK(s != NULL, "stream: %s", mslam_last_error());
    if (s) {
        CHECK(mslam_stream_push(s, pcm, n / 2) >= 0, "push");
        mslam_stream_reset(s);
        CHECK(mslam_stream_n_ready(s) == 0, "reset drops ready frames");
        double e = stream_vs_offline(m, pcm, n, 4, 2, odd, 6, s);
        printf("after reset: max abs diff %.2e\n", e);
        CHECK(e <= 1e-5, "after reset the stream differs by %.2e", e);
        float bad[3] = {0, INFINITY, 0};
        CHECK(mslam_stream_push(s, bad, 3) < 0 && strstr(mslam_last_error(), "sample 1"),
              "an infinite sample is an error: %s", mslam_last_error());
        /* after finish, more audio would run on from the last chunk's leftovers: an error until reset */
        CHECK(mslam_stream_finish(s) == 0 && mslam_stream_push(s, pcm, n / 2) < 0 &&
                  strstr(mslam_last_error(), "the stream is finished"),
              "a push after finish is an error: %s", mslam_last_error());
        mslam_stream_reset(s);
        e = stream_vs_offline(m, pcm, n, 4, 2, odd, 6, s);
        CHECK(e <= 1e-5, "after finish and reset the stream differs by %.2e", e);
        mslam_stream_free(s);
    }

    /* 33 frames: finish's last, shorter chunk grows the caches; 40: the tail padding completes the
     * fifth chunk, which grows them, while finish appends it */
    test_finish_after_failure(m, pcm, n);
    float *longer = test_audio(25900);
    if (longer) test_finish_after_failure(m, longer, 25900);
    free(longer);

    /* a model whose feature statistics were never measured (zero, as mslam_model_new leaves them)
     * cannot featurise: the push fails naming the statistic instead of dividing by zero */
    sp.chunk_frames = 4;
    s = mslam_stream_new(m, sp);
    CHECK(s != NULL, "stream: %s", mslam_last_error());
    if (s) {
        const float saved = m->p.mel_std[11];
        m->p.mel_std[11] = 0.0f;
        CHECK(mslam_stream_push(s, pcm, n) < 0 && strstr(mslam_last_error(), "mslam_stream_push") &&
                  strstr(mslam_last_error(), "frontend.mel_std[11] is 0"),
              "a push with mel_std 0: %s", mslam_last_error());
        CHECK(mslam_stream_n_ready(s) == 0, "a refused push made frames");
        m->p.mel_std[11] = saved;
        CHECK(mslam_stream_push(s, pcm, n) > 0, "a push with the statistics restored: %s", mslam_last_error());
        /* reads that cannot copy are errors, not a silent 0 a drain loop would spin on; 0 asked
         * is 0 read */
        const int ready = mslam_stream_n_ready(s);
        float frame[64];
        CHECK(m->cfg.d_model <= 64 && mslam_stream_read(s, NULL, 1) < 0 && strstr(mslam_last_error(), "out is NULL"),
              "a read into NULL: %s", mslam_last_error());
        CHECK(mslam_stream_read(s, frame, -1) < 0 && strstr(mslam_last_error(), "max_frames -1 is negative"),
              "a read of -1 frames: %s", mslam_last_error());
        CHECK(mslam_stream_read(NULL, frame, 1) < 0 && strstr(mslam_last_error(), "the stream is NULL"),
              "a read of no stream: %s", mslam_last_error());
        CHECK(mslam_stream_read(s, NULL, 0) == 0 && mslam_stream_read(s, frame, 1) == 1 &&
                  mslam_stream_n_ready(s) == ready - 1,
              "reads of 0 and 1 frames: %d of %d left", mslam_stream_n_ready(s), ready);
        mslam_stream_free(s);
    }

    /* bad parameters and models that cannot stream */
    sp.chunk_frames = 0;
    CHECK(mslam_stream_new(m, sp) == NULL && strstr(mslam_last_error(), "chunk_frames"), "chunk 0: %s",
          mslam_last_error());
    mslam_model *sym = small_model(0);
    sp.chunk_frames = 4;
    CHECK(sym && mslam_stream_new(sym, sp) == NULL && strstr(mslam_last_error(), "causal"),
          "non-causal model: %s", mslam_last_error());
    mslam_model_free(sym);
    free(pcm);
    mslam_model_free(m);
    return test_result("stream");
}
