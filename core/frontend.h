/* Audio frontend: 16 kHz mono float PCM -> 80-bin log-mel, 25 ms window, 10 ms hop.
 * Frame f covers samples [160 f, 160 f + 400) (no centering: streaming-friendly), clipped to
 * [-1, 1], less their mean (a microphone's DC offset, as Kaldi's remove_dc_offset; in the last
 * frames the mean of the samples the recording has, the zeros after it left 0); periodic Hann
 * window, 400-point DFT as a matrix product on BLAS (201 bins), power spectrum, HTK mel filters
 * 0..8000 Hz without normalisation (torchaudio.functional.melscale_fbanks(201, 0, 8000, n_mels,
 * 16000, None, "htk")), then log(max(mel, 1e-10)). */
#ifndef MSLAM_FRONTEND_H
#define MSLAM_FRONTEND_H

#include <stddef.h>

#define MSLAM_WIN_LENGTH 400
#define MSLAM_HOP_LENGTH 160
#define MSLAM_N_FREQS 201

typedef struct {
    int n_mels;
    float *window;  /* (400) */
    float *dft;     /* (400, 2 * 201): cos columns then -sin columns, window folded in */
    float *fbank;   /* (201, n_mels) */
} mslam_frontend;

int mslam_frontend_init(mslam_frontend *fe, int n_mels);
void mslam_frontend_free(mslam_frontend *fe);
/* Zero samples that follow every recording. Encoder frame t reads samples [640 t, 640 t + 1360)
 * (log-mel frames 4 t .. 4 t + 6): without them the last frame would end 45-85 ms before the audio
 * does and the final sound would be heard by none. With them n samples make n / 640 encoder
 * frames (rounded down), the last of which reads to the audio's end. */
#define MSLAM_TAIL_PADDING 720
/* Frames of n_samples followed by the tail padding: 1 + (n + 720 - 400) / 160; 0 when n is 0. */
int mslam_frontend_n_frames(size_t n_samples);
/* Scratch floats mslam_logmel needs for n_frames frames (at most those of 1024: it works in pieces). */
size_t mslam_frontend_scratch_size(int n_frames);
/* pcm (n_samples; zeros read beyond them, which no frame's mean counts) -> mel (n_frames, n_mels),
 * not normalised. */
void mslam_logmel(const mslam_frontend *fe, const float *pcm, size_t n_samples, int n_frames, float *mel,
                  float *scratch);
/* 0 when a model's feature statistics mean, std (n_mels each) can normalise log-mel frames
 * ((mel - mean) / std): every mean finite, every std finite and > 0; else an error naming fn, the
 * model (path) and the first bad value. Checked where inference featurises audio, not at load: a
 * model that mslam-trainer has just made holds them unset until it measures them on its data. */
int mslam_frontend_check_stats(const float *mean, const float *std, int n_mels, const char *fn, const char *path);

#endif
