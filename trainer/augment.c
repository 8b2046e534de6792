#include "augment.h"

#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *noise_kind_name(enum noise_kind kind) {
    static const char *const names[] = {"none", "white", "pink", "brown", "babble"};
    return (unsigned)kind < NOISE_N_KINDS ? names[kind] : "?";
}

static double mean_power(const float *x, size_t n) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
    return n ? sum / (double)n : 0.0;
}

/* ---- reverberation ---- */

/* Delays of Schroeder's reverberator in ms: mutually prime-ish combs, short all-passes. */
static const double comb_ms[4] = {29.7, 37.1, 41.1, 43.7};
static const double allpass_ms[2] = {5.0, 1.7};
#define ALLPASS_GAIN 0.7

int augment_reverb(struct audio *a, double rt60, double wet) {
    if (a->n == 0) return 0;
    if (!(rt60 > 0.0) || !(wet >= 0.0 && wet <= 1.0))
        return mslam_error("reverberation needs rt60 > 0 and wet in [0, 1] (got %g, %g)", rt60, wet);
    size_t delays[6], total = 0;
    for (int i = 0; i < 4; i++) delays[i] = (size_t)(comb_ms[i] * 1e-3 * a->rate) + 1;
    for (int i = 0; i < 2; i++) delays[4 + i] = (size_t)(allpass_ms[i] * 1e-3 * a->rate) + 1;
    for (int i = 0; i < 6; i++) total += delays[i];
    float *lines = mslam_calloc(total + a->n, sizeof *lines, "reverberation delay lines");
    if (!lines) return -1;
    float *wet_signal = lines + total;
    float *line[6];
    size_t pos[6] = {0};
    line[0] = lines;
    for (int i = 1; i < 6; i++) line[i] = line[i - 1] + delays[i - 1];
    float comb_gain[4];
    for (int i = 0; i < 4; i++) comb_gain[i] = (float)pow(10.0, -3.0 * comb_ms[i] * 1e-3 / rt60);

    for (size_t t = 0; t < a->n; t++) {
        float x = a->samples[t], sum = 0.0f;
        for (int i = 0; i < 4; i++) { /* y[t] = x[t] + g y[t - D] */
            float y = x + comb_gain[i] * line[i][pos[i]];
            line[i][pos[i]] = y;
            pos[i] = (pos[i] + 1) % delays[i];
            sum += y;
        }
        float y = 0.25f * sum;
        for (int i = 4; i < 6; i++) { /* y[t] = -g x[t] + x[t - D] + g y[t - D], with one line */
            float delayed = line[i][pos[i]];
            float v = y + (float)ALLPASS_GAIN * delayed;
            line[i][pos[i]] = v;
            pos[i] = (pos[i] + 1) % delays[i];
            y = delayed - (float)ALLPASS_GAIN * v;
        }
        wet_signal[t] = y;
    }
    /* Mix at equal power, so that wet sets the balance rather than the combs' gain. */
    double dry_power = mean_power(a->samples, a->n), wet_power = mean_power(wet_signal, a->n);
    float scale = wet_power > 0.0 ? (float)sqrt(dry_power / wet_power) : 0.0f;
    for (size_t t = 0; t < a->n; t++)
        a->samples[t] = (float)(1.0 - wet) * a->samples[t] + (float)wet * scale * wet_signal[t];
    free(lines);
    return 0;
}

/* ---- noise ---- */

int augment_coloured_noise(struct audio *noise, enum noise_kind kind, size_t n, double rate, mslam_rng *rng) {
    if (kind != NOISE_WHITE && kind != NOISE_PINK && kind != NOISE_BROWN)
        return mslam_error("no coloured noise of kind '%s'", noise_kind_name(kind));
    noise->n = 0;
    noise->rate = rate;
    if (audio_reserve(noise, n)) return -1;
    /* pink: Paul Kellet's filter bank (-3 dB/octave); brown: a leaky integrator (-6 dB/octave) */
    double b[7] = {0};
    for (size_t i = 0; i < n; i++) {
        double w = mslam_rng_normal(rng), v = w;
        if (kind == NOISE_PINK) {
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.1538520;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            v = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
            b[6] = w * 0.115926;
        } else if (kind == NOISE_BROWN) {
            b[0] = 0.998 * b[0] + 0.05 * w;
            v = b[0];
        }
        noise->samples[i] = (float)v;
    }
    noise->n = n;
    double power = mean_power(noise->samples, n);
    float scale = power > 0.0 ? (float)(1.0 / sqrt(power)) : 0.0f;
    for (size_t i = 0; i < n; i++) noise->samples[i] *= scale;
    return 0;
}

void augment_add_noise(struct audio *a, const struct audio *noise, double snr_db) {
    double signal_power = mean_power(a->samples, a->n);
    double noise_power = mean_power(noise->samples, noise->n);
    if (signal_power <= 0.0 || noise_power <= 0.0) return;
    float scale = (float)sqrt(signal_power / (noise_power * pow(10.0, snr_db / 10.0)));
    for (size_t t = 0; t < a->n; t++) a->samples[t] += scale * noise->samples[t % noise->n];
}

void augment_gain(struct audio *a, double gain_db) {
    float gain = (float)pow(10.0, gain_db / 20.0), peak = 0.0f;
    for (size_t t = 0; t < a->n; t++) peak = fmaxf(peak, fabsf(a->samples[t]));
    if (peak * gain > 0.99f) gain = 0.99f / peak;
    for (size_t t = 0; t < a->n; t++) a->samples[t] *= gain;
}

int augment_noise_alone(struct audio *a, size_t kept, mslam_rng *rng) {
    struct audio noise = {0};
    uint32_t kind = mslam_rng_u32(rng) % 4; /* white, pink, brown, rumble */
    size_t onset = (size_t)(0.5 * mslam_rng_uniform(rng) * (double)(kept < a->n ? kept : a->n));
    float scale = (float)pow(10.0, (-65.0 + 45.0 * mslam_rng_uniform(rng)) / 20.0);
    enum noise_kind coloured = kind == 0 ? NOISE_WHITE : kind == 1 ? NOISE_PINK : NOISE_BROWN;
    if (augment_coloured_noise(&noise, coloured, a->n - onset, a->rate, rng)) {
        audio_free(&noise);
        return -1;
    }
    if (kind == 3) {
        /* four one-pole stages (24 dB an octave beyond fc): brown noise's -6 dB an octave alone
         * leaves hiss a fan's rumble through a wall does not have */
        double k = 1.0 - exp(-2.0 * M_PI * (80.0 + 220.0 * mslam_rng_uniform(rng)) / a->rate);
        for (int stage = 0; stage < 4; stage++) {
            double y = 0.0;
            for (size_t i = 0; i < noise.n; i++) noise.samples[i] = (float)(y += k * (noise.samples[i] - y));
        }
        double power = mean_power(noise.samples, noise.n);
        if (power > 0.0) scale /= (float)sqrt(power);
    }
    for (size_t i = 0; i < onset; i++) a->samples[i] = 0.0f;
    for (size_t i = onset; i < a->n; i++) a->samples[i] = scale * noise.samples[i - onset];
    audio_free(&noise);
    return 0;
}

int augment_text_noise(const int *ids, int n, int *out, double p, mslam_rng *rng) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (mslam_rng_uniform(rng) >= p) {
            out[m++] = ids[i];
            continue;
        }
        uint32_t kind = mslam_rng_u32(rng) % 3, other = mslam_rng_u32(rng) % (uint32_t)n;
        if (kind == 1) out[m++] = ids[other];
        if (kind == 2) out[m++] = ids[i], out[m++] = ids[other];
    }
    if (m == 0 && n > 0) out[m++] = ids[0];
    return m;
}
