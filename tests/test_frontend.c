/* Audio frontend against the PyTorch reference (tests/reference/fixtures/logmel.safetensors,
 * written by make_fixtures.py: torch rfft + torchaudio HTK filterbank in float64).
 *
 * Metric: max over elements of |c - ref| / max(|ref|, 1) on the log-mel, i.e. relative error
 * for |log-mel| > 1 and absolute error in log units (= relative error of the mel power) near
 * zero. Bound 1e-4. */
#include "frontend.h"
#include "params.h"
#include "mslam.h"
#include "safetensors.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOGMEL_TOL 1e-4
#define N_MELS 80

/* Reads a float tensor of exactly the given shape (ndim dims) into a malloc'd buffer. */
static float *read_f32(const st_file *f, const char *name, int ndim, const int64_t *shape) {
    const st_tensor *t = st_find(f, name);
    if (!t) {
        CHECK(0, "fixture has no tensor %s", name);
        return NULL;
    }
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        if (shape[i] >= 0 && t->shape[i] != shape[i]) ok = 0;
    if (!ok) {
        CHECK(0, "tensor %s has an unexpected shape", name);
        return NULL;
    }
    float *out = malloc((t->numel ? t->numel : 1) * sizeof *out);
    if (!out || st_read_f32(f, t, out)) {
        CHECK(0, "cannot read %s: %s", name, mslam_last_error());
        free(out);
        return NULL;
    }
    return out;
}

static void test_frame_count(void) {
    static const struct {
        size_t samples;
        int frames;
    } cases[] = {{0, 0}, {1, 3}, {159, 3}, {160, 4}, {639, 6}, {640, 7}, {720, 7}, {16000, 103}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = mslam_frontend_n_frames(cases[i].samples);
        CHECK(n == cases[i].frames, "n_frames(%zu) = %d, expected %d", cases[i].samples, n, cases[i].frames);
    }
    /* the documented rule: n samples make n / 640 encoder frames, and the last one reads to the end */
    int wrong = 0;
    for (size_t n = 0; n < 40000; n += 7) {
        int T = mslam_subsampled_frames(mslam_frontend_n_frames(n));
        if (T != (int)(n / 640) || (T > 0 && 640 * (size_t)(T - 1) + 1360 < n)) wrong++;
    }
    CHECK(wrong == 0, "%d lengths do not make n / 640 encoder frames reading to their end", wrong);
}

static void test_init(void) {
    mslam_frontend fe;
    mslam_log_set(test_quiet_log, NULL);
    CHECK(mslam_frontend_init(&fe, 0) == -1, "n_mels = 0 accepted");
    CHECK(strstr(mslam_last_error(), "n_mels") != NULL, "error does not name n_mels: '%s'", mslam_last_error());
    CHECK(fe.window == NULL && fe.dft == NULL && fe.fbank == NULL, "failed init left tables behind");
    CHECK(mslam_frontend_init(&fe, -5) == -1, "n_mels = -5 accepted");
    CHECK(mslam_frontend_init(&fe, 1 << 20) == -1, "n_mels = 2^20 accepted");
    mslam_log_set(NULL, NULL);

    CHECK(mslam_frontend_init(&fe, N_MELS) == 0, "init(80) failed: %s", mslam_last_error());
    /* Periodic Hann: w[0] = 0, w[200] = 1 and w[n] = w[400 - n]; a symmetric 400-point window
     * would have w[399] = 0 instead. */
    CHECK(fe.window[0] == 0.0f && fabsf(fe.window[200] - 1.0f) < 1e-7f, "window ends/peak wrong");
    int symmetric = 1;
    for (int n = 1; n < MSLAM_WIN_LENGTH; n++)
        if (fabsf(fe.window[n] - fe.window[MSLAM_WIN_LENGTH - n]) > 1e-6f) symmetric = 0;
    CHECK(symmetric && fe.window[399] > 1e-5f, "window is not the periodic Hann");
    /* Every filter has weight (no empty band at 80 mels), and no weight exceeds the peak 1. */
    int empty = 0, over = 0;
    for (int m = 0; m < N_MELS; m++) {
        float sum = 0;
        for (int k = 0; k < MSLAM_N_FREQS; k++) {
            float w = fe.fbank[(size_t)k * N_MELS + m];
            sum += w;
            if (w < 0 || w > 1.0f + 1e-6f) over++;
        }
        if (!(sum > 0)) empty++;
    }
    CHECK(empty == 0 && over == 0, "filterbank: %d empty filters, %d weights outside [0, 1]", empty, over);
    mslam_frontend_free(&fe);
}

/* Computes n frames starting at frame `first` from an exact-size copy of the samples they need
 * (no tail padding read), so that a read past the last frame shows up under a sanitizer. */
static float *logmel_range(const mslam_frontend *fe, const float *pcm, int first, int n) {
    size_t need = MSLAM_WIN_LENGTH + (size_t)MSLAM_HOP_LENGTH * (n - 1);
    float *samples = malloc(need * sizeof *samples);
    float *scratch = malloc(mslam_frontend_scratch_size(n) * sizeof *scratch);
    float *mel = malloc((size_t)n * N_MELS * sizeof *mel);
    if (!samples || !scratch || !mel) {
        CHECK(0, "out of memory");
        free(samples), free(scratch), free(mel);
        return NULL;
    }
    memcpy(samples, pcm + (size_t)first * MSLAM_HOP_LENGTH, need * sizeof *samples);
    mslam_logmel(fe, samples, need, n, mel, scratch);
    free(samples);
    free(scratch);
    return mel;
}

/* The frames of pcm followed by the tail padding (mslam_frontend_n_frames of them), computed from
 * the samples alone in pieces, checked against those of a copy padded with MSLAM_TAIL_PADDING
 * zeros computed a frame at a time as a stream does (its buffer holds the zeros, and it passes
 * the recorded samples left from the frame's start, so that no frame's mean counts the zeros). */
static float *logmel_padded(const mslam_frontend *fe, const float *pcm, size_t n_samples) {
    int n_frames = mslam_frontend_n_frames(n_samples);
    size_t padded_len = n_samples + MSLAM_TAIL_PADDING;
    float *padded = calloc(padded_len, sizeof *padded);
    float *mel = malloc((size_t)n_frames * N_MELS * sizeof *mel);
    float *scratch = malloc(mslam_frontend_scratch_size(n_frames) * sizeof *scratch);
    float *expected = NULL;
    if (padded && mel && scratch) {
        memcpy(padded, pcm, n_samples * sizeof *pcm);
        expected = malloc((size_t)n_frames * N_MELS * sizeof *expected);
        for (int f = 0; expected && f < n_frames; f++) {
            size_t first = (size_t)f * MSLAM_HOP_LENGTH;
            mslam_logmel(fe, padded + first, n_samples > first ? n_samples - first : 0, 1,
                         expected + (size_t)f * N_MELS, scratch);
        }
    }
    CHECK(expected != NULL, "out of memory");
    if (expected) {
        CHECK(1 + (padded_len - MSLAM_WIN_LENGTH) / MSLAM_HOP_LENGTH == (size_t)n_frames,
              "%zu samples: %d frames, not those of the samples and the padding", n_samples, n_frames);
        mslam_logmel(fe, pcm, n_samples, n_frames, mel, scratch);
        /* not bit-identical: BLAS picks other kernels for one row than for many, and the long
         * recording's 25-Hz tone, which the frames' means mostly take off, leaves low bins that
         * round apart by up to 1.2e-4 (in log units; the speech-like fixture: 9e-6) */
        double e = test_max_rel_err(mel, expected, (size_t)n_frames * N_MELS, 1.0f);
        CHECK(e <= 5 * LOGMEL_TOL, "%zu samples: the padded frames differ from a padded copy's a frame at a time by %.3e",
              n_samples, e);
        printf("  %zu samples with the tail padding: %d frames, within %.3e of a padded copy's a frame at a time\n",
               n_samples, n_frames, e);
    }
    free(padded), free(scratch), free(expected);
    if (!expected) {
        free(mel);
        return NULL;
    }
    return mel;
}

static void test_fixture(void) {
    st_file f;
    if (st_open(&f, test_data_path("reference/fixtures/logmel.safetensors"))) {
        CHECK(0, "cannot open the logmel fixture: %s", mslam_last_error());
        return;
    }
    const st_tensor *tp = st_find(&f, "pcm");
    CHECK(tp && tp->ndim == 1, "fixture: pcm missing or not 1-D");
    if (!tp || tp->ndim != 1) {
        st_close(&f);
        return;
    }
    /* the reference frames the samples alone (no tail padding) */
    size_t n_samples = tp->numel;
    int n_frames = n_samples < MSLAM_WIN_LENGTH ? 0 : 1 + (int)((n_samples - MSLAM_WIN_LENGTH) / MSLAM_HOP_LENGTH);
    float *pcm = read_f32(&f, "pcm", 1, (int64_t[]){(int64_t)n_samples});
    float *ref = read_f32(&f, "logmel", 2, (int64_t[]){-1, N_MELS});
    const st_tensor *tl = st_find(&f, "logmel");
    CHECK(tl && tl->shape[0] == n_frames, "frame count %d differs from the reference's %lld", n_frames,
          tl ? (long long)tl->shape[0] : -1LL);
    mslam_frontend fe;
    if (!pcm || !ref || !tl || tl->shape[0] != n_frames || mslam_frontend_init(&fe, N_MELS)) {
        CHECK(pcm && ref, "fixture tensors missing");
        free(pcm), free(ref);
        st_close(&f);
        return;
    }

    float *mel = logmel_range(&fe, pcm, 0, n_frames);
    size_t n = (size_t)n_frames * N_MELS;
    double err = mel ? test_max_rel_err(mel, ref, n, 1.0f) : INFINITY;
    printf("  logmel: %d frames x %d mels, max err (rel, floor 1) = %.3e\n", n_frames, N_MELS, err);
    CHECK(err <= LOGMEL_TOL, "logmel differs from the reference: %.3e > %.1e", err, LOGMEL_TOL);

    /* Streaming: frames [a, b) computed from the samples at offset 160 a equal those rows of the
     * whole; also one frame alone and the last frames up to the end of the buffer. */
    static const int ranges[][2] = {{13, 40}, {0, 1}, {37, 38}, {50, 71}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0] && mel; r++) {
        int a = ranges[r][0], b = ranges[r][1];
        float *part = logmel_range(&fe, pcm, a, b - a);
        if (!part) break;
        double e_whole = test_max_rel_err(part, mel + (size_t)a * N_MELS, (size_t)(b - a) * N_MELS, 1.0f);
        double e_ref = test_max_rel_err(part, ref + (size_t)a * N_MELS, (size_t)(b - a) * N_MELS, 1.0f);
        /* Not bit-identical: BLAS picks other kernels for other M (one row: ~1.5e-6 apart). */
        CHECK(e_whole <= 1e-5, "frames [%d, %d) differ from the whole: %.3e", a, b, e_whole);
        CHECK(e_ref <= LOGMEL_TOL, "frames [%d, %d) differ from the reference: %.3e", a, b, e_ref);
        free(part);
    }

    /* Silence hits the floor: log(1e-10) exactly, not -inf or NaN. */
    float zeros[MSLAM_WIN_LENGTH] = {0};
    float scratch_buf[MSLAM_WIN_LENGTH + 2 * MSLAM_N_FREQS], silent[N_MELS];
    CHECK(mslam_frontend_scratch_size(1) <= sizeof scratch_buf / sizeof scratch_buf[0],
          "scratch size for one frame is %zu floats", mslam_frontend_scratch_size(1));
    if (mslam_frontend_scratch_size(1) <= sizeof scratch_buf / sizeof scratch_buf[0]) {
        mslam_logmel(&fe, zeros, MSLAM_WIN_LENGTH, 1, silent, scratch_buf);
        int floor_ok = 1;
        for (int m = 0; m < N_MELS; m++)
            if (fabsf(silent[m] - logf(1e-10f)) > 1e-5f) floor_ok = 0;
        CHECK(floor_ok, "silence does not give log(1e-10) in every band");
    }

    /* with the tail padding: the reference's mslam_ref.logmel_padded, whose first frames are those
     * of the samples alone */
    int n_padded = mslam_frontend_n_frames(n_samples);
    float *ref_padded = read_f32(&f, "logmel_padded", 2, (int64_t[]){n_padded, N_MELS});
    float *padded_mel = logmel_padded(&fe, pcm, n_samples);
    double e_padded = padded_mel && ref_padded
                          ? test_max_rel_err(padded_mel, ref_padded, (size_t)n_padded * N_MELS, 1.0f)
                          : INFINITY;
    double e_first = padded_mel ? test_max_rel_err(padded_mel, ref, n, 1.0f) : INFINITY;
    printf("  with the tail padding: %d frames, max err %.3e (the first %d: %.3e)\n", n_padded, e_padded, n_frames,
           e_first);
    CHECK(e_padded <= LOGMEL_TOL && e_first <= LOGMEL_TOL,
          "frames with the tail padding differ from the reference: %.3e (the first: %.3e)", e_padded, e_first);
    free(padded_mel);
    free(ref_padded);

    free(mel);
    free(pcm);
    free(ref);
    mslam_frontend_free(&fe);
    st_close(&f);
}

/* A recording longer than a piece (1024 frames) goes through the products a piece at a time: its
 * scratch stays that of a piece (an hour's was 1.2 GB), and the frames equal those computed in
 * short runs, across the pieces' edges too. */
static void test_long_recording(void) {
    int n_frames = 2600;
    size_t n_samples = MSLAM_WIN_LENGTH + (size_t)MSLAM_HOP_LENGTH * (n_frames - 1);
    CHECK(mslam_frontend_scratch_size(n_frames) == mslam_frontend_scratch_size(1024),
          "scratch for %d frames: %zu floats, more than a piece's %zu", n_frames,
          mslam_frontend_scratch_size(n_frames), mslam_frontend_scratch_size(1024));
    float *pcm = malloc(n_samples * sizeof *pcm);
    mslam_frontend fe;
    if (!pcm || mslam_frontend_init(&fe, N_MELS)) {
        CHECK(0, "set-up failed");
        free(pcm);
        return;
    }
    uint64_t state = 7;
    for (size_t i = 0; i < n_samples; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        pcm[i] = (float)((double)(state >> 40) / (1 << 24) - 0.5) * 0.5f + 0.3f * sinf(0.01f * (float)i);
    }
    float *whole = logmel_range(&fe, pcm, 0, n_frames);
    double worst = 0;
    for (int a = 0; whole && a < n_frames; a += 100) {
        float *part = logmel_range(&fe, pcm, a, 100);
        if (!part) break;
        double e = test_max_rel_err(part, whole + (size_t)a * N_MELS, (size_t)100 * N_MELS, 1.0f);
        if (e > worst) worst = e;
        free(part);
    }
    printf("  logmel of %d frames in pieces vs runs of 100: max err %.3e\n", n_frames, worst);
    /* within the products' float32 rounding, as against the reference: OpenBLAS may sum a row in
     * another order for another number of rows (2.4e-5 on an AMD EPYC with AVX2; 1e-5 had held
     * on the machines before) */
    CHECK(whole && worst <= LOGMEL_TOL, "a long recording's frames differ from short runs' by %.3e", worst);
    free(whole);
    /* the tail padding read in the last of three pieces, and a length that ends mid-hop */
    free(logmel_padded(&fe, pcm, n_samples));
    free(logmel_padded(&fe, pcm, n_samples - 77));
    free(pcm);
    mslam_frontend_free(&fe);
}

/* Samples beyond full scale are clipped to it: 1e19 (which overflowed the power into NaN
 * features) and 1.5 give the log-mel of +-1. */
static void test_beyond_full_scale(void) {
    int n_frames = 40;
    size_t n_samples = MSLAM_WIN_LENGTH + (size_t)MSLAM_HOP_LENGTH * (n_frames - 1);
    float *loud = malloc(n_samples * sizeof *loud), *clipped = malloc(n_samples * sizeof *clipped);
    mslam_frontend fe;
    if (!loud || !clipped || mslam_frontend_init(&fe, N_MELS)) {
        CHECK(0, "set-up failed");
        free(loud), free(clipped);
        return;
    }
    for (size_t i = 0; i < n_samples; i++) {
        float x = sinf(0.05f * (float)i);
        loud[i] = i % 97 == 0 ? (x < 0 ? -1e19f : 1e19f) : i % 13 == 0 ? 1.5f * x : x;
        clipped[i] = i % 97 == 0 ? (x < 0 ? -1.0f : 1.0f) : i % 13 == 0 ? fmaxf(-1.0f, fminf(1.0f, 1.5f * x)) : x;
    }
    float *a = logmel_range(&fe, loud, 0, n_frames), *b = logmel_range(&fe, clipped, 0, n_frames);
    int finite = a != NULL;
    for (size_t i = 0; a && i < (size_t)n_frames * N_MELS; i++) finite &= isfinite(a[i]) != 0;
    CHECK(a && b && finite && !memcmp(a, b, (size_t)n_frames * N_MELS * sizeof *a),
          "samples beyond full scale: %s", !finite ? "features not finite" : "not those of the clipped audio");
    free(a), free(b), free(loud), free(clipped);
    mslam_frontend_free(&fe);
}

/* A DC offset changes no feature: the same sound, 0.2 (-14 dBFS) above and below zero, gives the
 * log-mel of the sound within float rounding, in the last frames too, where the tail padding's
 * zeros follow it (without the frames' means taken off the offset moved them by 2.4). */
static void test_dc_offset(void) {
    size_t n_samples = 9000;
    int n_frames = mslam_frontend_n_frames(n_samples);
    float *sound = malloc(n_samples * sizeof *sound), *up = malloc(n_samples * sizeof *up);
    float *down = malloc(n_samples * sizeof *down);
    float *mel[3];
    float *scratch = malloc(mslam_frontend_scratch_size(n_frames) * sizeof *scratch);
    for (int i = 0; i < 3; i++) mel[i] = malloc((size_t)n_frames * N_MELS * sizeof *mel[i]);
    mslam_frontend fe;
    if (!sound || !up || !down || !scratch || !mel[0] || !mel[1] || !mel[2] || mslam_frontend_init(&fe, N_MELS)) {
        CHECK(0, "set-up failed");
    } else {
        uint64_t state = 11;
        for (size_t i = 0; i < n_samples; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            float noise = (float)((double)(state >> 40) / (1 << 24) - 0.5) * 0.02f;
            sound[i] = 0.3f * sinf(0.08f * (float)i) * sinf(0.0007f * (float)i) + noise;
            up[i] = sound[i] + 0.2f;
            down[i] = sound[i] - 0.2f;
        }
        mslam_logmel(&fe, sound, n_samples, n_frames, mel[0], scratch);
        mslam_logmel(&fe, up, n_samples, n_frames, mel[1], scratch);
        mslam_logmel(&fe, down, n_samples, n_frames, mel[2], scratch);
        size_t n = (size_t)n_frames * N_MELS;
        double e_up = test_max_rel_err(mel[1], mel[0], n, 1.0f), e_down = test_max_rel_err(mel[2], mel[0], n, 1.0f);
        printf("  DC offset +-0.2: log-mel within %.3e / %.3e of the sound's (%d frames, tail padding included)\n",
               e_up, e_down, n_frames);
        CHECK(e_up <= 1e-3 && e_down <= 1e-3, "a DC offset changes the log-mel by %.3e / %.3e", e_up, e_down);
        mslam_frontend_free(&fe);
    }
    free(sound), free(up), free(down), free(scratch);
    for (int i = 0; i < 3; i++) free(mel[i]);
}

int main(void) {
    test_frame_count();
    test_dc_offset();
    test_beyond_full_scale();
    test_long_recording();
    test_init();
    test_fixture();
    return test_result("frontend");
}
