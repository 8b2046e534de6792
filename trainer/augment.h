/* Augmentation of synthetic speech: reverberation, additive noise at a signal-to-noise ratio,
 * gain (speed perturbation is a resampling: audio_resample); and of the text pairs' source side.
 * Every random choice comes from the caller's generator, so an augmentation is reproducible. */
#ifndef MSLAM_TRAINER_AUGMENT_H
#define MSLAM_TRAINER_AUGMENT_H

#include "audio.h"
#include "ops.h"

enum noise_kind { NOISE_NONE, NOISE_WHITE, NOISE_PINK, NOISE_BROWN, NOISE_BABBLE, NOISE_N_KINDS };

const char *noise_kind_name(enum noise_kind kind);

/* Schroeder's reverberator (four parallel feedback combs, two all-pass filters in series),
 * with feedback set for the reverberation time rt60 (seconds) and the reverberant part mixed
 * in at wet (0-1). Length is kept: the tail past the end is cut. */
int augment_reverb(struct audio *a, double rt60, double wet);

/* Fills noise (length and rate of the signal it will be added to) with white, pink or brown
 * noise of unit power. */
int augment_coloured_noise(struct audio *noise, enum noise_kind kind, size_t n, double rate, mslam_rng *rng);

/* Adds noise scaled so that signal power / noise power is snr_db (powers over the whole signal;
 * a shorter noise is looped). A silent signal or noise is left as it is. */
void augment_add_noise(struct audio *a, const struct audio *noise, double snr_db);

/* Multiplies by gain_db, then scales down so that the peak stays under 0.99 (no clipping). */
void augment_gain(struct audio *a, double gain_db);
/* Replaces a's samples (its length and rate kept) by noise alone: white, pink, brown or rumble
 * (brown noise through four one-pole low-passes at 80-300 Hz: traffic, a fan through a wall), at
 * -65 to -20 dBFS, after digital silence for the first 0-50 % of its first `kept` samples (those
 * used; a noise's onset, which a model had heard as a character). Returns 0 or -1. */
int augment_noise_alone(struct audio *a, size_t kept, mslam_rng *rng);

/* Recognition-like errors in a transcript's character ids (a cascade's decoder reads the CTC
 * transcript, not the reference): each character, with probability p, is dropped, replaced by a
 * character drawn from the same sequence (the same script and alphabet), or followed by a copy of
 * one, a third each. Writes at most 2 n ids to out and returns their count, at least 1 when n is. */
int augment_text_noise(const int *ids, int n, int *out, double p, mslam_rng *rng);

#endif
