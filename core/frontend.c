/* Audio frontend: PCM -> log-mel as two matrix products (see frontend.h for the definition).
 *
 * The reference is tests/reference/make_fixtures.py (torch.fft.rfft of Hann-windowed frames,
 * torchaudio's HTK filterbank). Instead of an FFT the 400-point real DFT is a (400 x 402)
 * matrix with the window folded in: one sgemm per call turns all frames into spectra at BLAS
 * speed, and the tables are computed once in double precision so that the only float32 error
 * is that of the two products. */
#include "frontend.h"

#include "common.h"
#include "ops.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DFT_COLS (2 * MSLAM_N_FREQS)
#define FE_SAMPLE_RATE 16000.0
#define FE_F_MAX 8000.0
#define FE_LOG_FLOOR 1e-10f
/* Same upper bound as the model config check: beyond it most filters would be empty. */
#define FE_MAX_MELS 1024

static double hz_to_mel(double hz) { return 2595.0 * log10(1.0 + hz / 700.0); }
static double mel_to_hz(double mel) { return 700.0 * (pow(10.0, mel / 2595.0) - 1.0); }

/* torchaudio.functional.melscale_fbanks(201, 0, 8000, n_mels, 16000, norm=None, "htk"):
 * n_mels + 2 points evenly spaced in mel between 0 and 8000 Hz; filter m is the triangle
 * rising from point m to m+1 and falling to m+2, evaluated at the bin frequencies
 * 0, 40, ..., 8000 Hz, with peak 1 (no area normalisation). */
static int fill_fbank(float *fbank, int n_mels) {
    double mel_max = hz_to_mel(FE_F_MAX);
    double *f_pts = mslam_malloc((size_t)(n_mels + 2) * sizeof *f_pts, "frontend filter points");
    if (!f_pts) return -1;
    for (int m = 0; m < n_mels + 2; m++) f_pts[m] = mel_to_hz(mel_max * m / (n_mels + 1));
    for (int k = 0; k < MSLAM_N_FREQS; k++) {
        double f = (FE_SAMPLE_RATE / 2) * k / (MSLAM_N_FREQS - 1);
        for (int m = 0; m < n_mels; m++) {
            double down = (f - f_pts[m]) / (f_pts[m + 1] - f_pts[m]);
            double up = (f_pts[m + 2] - f) / (f_pts[m + 2] - f_pts[m + 1]);
            double w = down < up ? down : up;
            fbank[(size_t)k * n_mels + m] = w > 0 ? (float)w : 0.0f;
        }
    }
    free(f_pts);
    return 0;
}

int mslam_frontend_init(mslam_frontend *fe, int n_mels) {
    memset(fe, 0, sizeof *fe);
    if (n_mels <= 0 || n_mels > FE_MAX_MELS)
        return mslam_error("frontend: n_mels = %d is out of range (1..%d)", n_mels, FE_MAX_MELS);
    fe->n_mels = n_mels;
    fe->window = mslam_malloc(MSLAM_WIN_LENGTH * sizeof(float), "frontend window");
    fe->dft = mslam_malloc((size_t)MSLAM_WIN_LENGTH * DFT_COLS * sizeof(float), "frontend DFT matrix");
    fe->fbank = mslam_malloc((size_t)MSLAM_N_FREQS * n_mels * sizeof(float), "frontend filterbank");
    if (!fe->window || !fe->dft || !fe->fbank || fill_fbank(fe->fbank, n_mels)) {
        mslam_frontend_free(fe);
        return -1;
    }

    /* Periodic Hann (torch.hann_window(400), periodic=True): the window of a 401-point
     * symmetric Hann without its last sample, the usual choice for spectral analysis. */
    for (int n = 0; n < MSLAM_WIN_LENGTH; n++)
        fe->window[n] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * n / MSLAM_WIN_LENGTH));

    /* dft[n, k] = w[n] cos(2 pi n k / N), dft[n, 201 + k] = -w[n] sin(2 pi n k / N), so that
     * frames . dft = [Re X | Im X] of the windowed frames. n k is reduced modulo N before the
     * trigonometry to keep the angle small and the table exact to double rounding. */
    for (int n = 0; n < MSLAM_WIN_LENGTH; n++) {
        double w = 0.5 - 0.5 * cos(2.0 * M_PI * n / MSLAM_WIN_LENGTH);
        float *row = fe->dft + (size_t)n * DFT_COLS;
        for (int k = 0; k < MSLAM_N_FREQS; k++) {
            double angle = 2.0 * M_PI * (double)((n * k) % MSLAM_WIN_LENGTH) / MSLAM_WIN_LENGTH;
            row[k] = (float)(w * cos(angle));
            row[MSLAM_N_FREQS + k] = (float)(-w * sin(angle));
        }
    }
    return 0;
}

void mslam_frontend_free(mslam_frontend *fe) {
    free(fe->window);
    free(fe->dft);
    free(fe->fbank);
    memset(fe, 0, sizeof *fe);
}

int mslam_frontend_n_frames(size_t n_samples) {
    if (n_samples == 0) return 0;
    if (n_samples > (size_t)INT_MAX * MSLAM_HOP_LENGTH) return INT_MAX;
    size_t n = 1 + (n_samples + MSLAM_TAIL_PADDING - MSLAM_WIN_LENGTH) / MSLAM_HOP_LENGTH;
    return n > (size_t)INT_MAX ? INT_MAX : (int)n;
}

/* Frames per product: the scratch stays at 3.3 MB for a recording of any length, and each
 * product is still large enough for BLAS speed. */
#define FE_PIECE_FRAMES 1024

/* frames (n, 400) then spectra (n, 402) for a piece of n frames; the power (n, 201) reuses the
 * frames region, which is free once the DFT product is done. */
size_t mslam_frontend_scratch_size(int n_frames) {
    if (n_frames > FE_PIECE_FRAMES) n_frames = FE_PIECE_FRAMES;
    return n_frames > 0 ? (size_t)n_frames * (MSLAM_WIN_LENGTH + DFT_COLS) : 0;
}

/* frames f0 .. f0 + n_frames - 1 of pcm -> mel (n_frames, n_mels) */
static void logmel_piece(const mslam_frontend *fe, const float *pcm, size_t n_samples, int f0, int n_frames,
                         float *mel, float *scratch) {
    float *frames = scratch;
    float *spec = scratch + (size_t)n_frames * MSLAM_WIN_LENGTH;
    /* Frames overlap (hop 160 < 400), so they cannot be handed to BLAS as a strided view of
     * pcm (lda would be below K); gather them into rows. A sample beyond full scale is clipped
     * to it, as a conversion to integer samples would: one of 1e19 (a glitch upstream) made a
     * power above FLT_MAX, and inf - inf in the filterbank NaN features. The mean of the frame's
     * samples is taken off them (the padding after them stays 0). */
    for (int f = 0; f < n_frames; f++) {
        size_t first = (size_t)(f0 + f) * MSLAM_HOP_LENGTH;
        float *row = frames + (size_t)f * MSLAM_WIN_LENGTH;
        int have = first >= n_samples ? 0 : n_samples - first < MSLAM_WIN_LENGTH ? (int)(n_samples - first) : MSLAM_WIN_LENGTH;
        double sum = 0.0;
        for (int k = 0; k < have; k++) {
            float x = pcm[first + k];
            row[k] = x > 1.0f ? 1.0f : x < -1.0f ? -1.0f : x;
            sum += row[k];
        }
        float mean = have ? (float)(sum / have) : 0.0f;
        for (int k = 0; k < have; k++) row[k] -= mean;
        for (int k = have; k < MSLAM_WIN_LENGTH; k++) row[k] = 0.0f;
    }
    mslam_sgemm(0, 0, n_frames, DFT_COLS, MSLAM_WIN_LENGTH, 1.0f, frames, MSLAM_WIN_LENGTH, fe->dft,
                DFT_COLS, 0.0f, spec, DFT_COLS);
    float *power = frames;
    for (int f = 0; f < n_frames; f++) {
        const float *s = spec + (size_t)f * DFT_COLS;
        float *p = power + (size_t)f * MSLAM_N_FREQS;
        for (int k = 0; k < MSLAM_N_FREQS; k++) {
            float re = s[k], im = s[MSLAM_N_FREQS + k];
            p[k] = re * re + im * im;
        }
    }
    mslam_sgemm(0, 0, n_frames, fe->n_mels, MSLAM_N_FREQS, 1.0f, power, MSLAM_N_FREQS, fe->fbank,
                fe->n_mels, 0.0f, mel, fe->n_mels);
    size_t n = (size_t)n_frames * fe->n_mels;
    for (size_t i = 0; i < n; i++) mel[i] = logf(mel[i] > FE_LOG_FLOOR ? mel[i] : FE_LOG_FLOOR);
}

void mslam_logmel(const mslam_frontend *fe, const float *pcm, size_t n_samples, int n_frames, float *mel,
                  float *scratch) {
    for (int f0 = 0; f0 < n_frames; f0 += FE_PIECE_FRAMES) {
        int n = n_frames - f0 < FE_PIECE_FRAMES ? n_frames - f0 : FE_PIECE_FRAMES;
        logmel_piece(fe, pcm, n_samples, f0, n, mel + (size_t)f0 * fe->n_mels, scratch);
    }
}

int mslam_frontend_check_stats(const float *mean, const float *std, int n_mels, const char *fn, const char *path) {
    for (int m = 0; m < n_mels; m++) {
        if (!(std[m] > 0.0f && isfinite(std[m])))
            return mslam_error("%s: model '%s' cannot normalise audio features: frontend.mel_std[%d] is %g, not a "
                               "finite number above 0 (mslam-trainer measures the feature statistics on its "
                               "training audio)", fn, path, m, (double)std[m]);
        if (!isfinite(mean[m]))
            return mslam_error("%s: model '%s' cannot normalise audio features: frontend.mel_mean[%d] is %g, not a "
                               "finite number", fn, path, m, (double)mean[m]);
    }
    return 0;
}
