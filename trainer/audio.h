/* Mono float audio: a growable buffer, resampling (libsoxr), files (libsndfile). */
#ifndef MSLAM_TRAINER_AUDIO_H
#define MSLAM_TRAINER_AUDIO_H

#include <stddef.h>

struct audio {
    float *samples; /* mono, nominally in [-1, 1] */
    size_t n, cap;
    double rate; /* samples per second */
};

int audio_reserve(struct audio *a, size_t n);
int audio_append(struct audio *a, const float *x, size_t n);
void audio_free(struct audio *a);

/* Resamples in to out_rate into out (replacing its content). Playing in as if it were recorded at
 * in->rate * speed gives speed perturbation: speed 1.1 is 10 % faster and higher, as sox's
 * "speed" effect and Kaldi's speed perturbation. */
int audio_resample(const struct audio *in, double speed, double out_rate, struct audio *out);

enum audio_format { AUDIO_FLAC, AUDIO_WAV };
const char *audio_format_extension(enum audio_format format);
/* "flac" or "wav" to the format; -1 when neither. */
int audio_format_parse(const char *name);

/* Writes 16-bit mono at a->rate (rounded to whole Hz) through path.part and rename, so that a
 * file at path is always complete. Samples beyond [-1, 1] are clipped. */
int audio_write(const char *path, const struct audio *a, enum audio_format format);

/* Reads any file libsndfile decodes into out as mono (channels averaged); a sample that is not a
 * finite number is an error naming it. */
int audio_read(const char *path, struct audio *out);
/* Frames, sample rate and channels from the file's header, without decoding. */
int audio_probe(const char *path, long long *frames, int *rate, int *channels);

#endif
