#include "audio.h"

#include "common.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <mpg123.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int audio_reserve(struct audio *a, size_t n) {
    if (n <= a->cap) return 0;
    size_t cap = a->cap ? a->cap : 4096;
    while (cap < n) cap *= 2;
    float *samples = realloc(a->samples, cap * sizeof *samples);
    if (!samples) return mslam_error("out of memory for %zu audio samples", cap);
    a->samples = samples;
    a->cap = cap;
    return 0;
}

int audio_append(struct audio *a, const float *x, size_t n) {
    if (audio_reserve(a, a->n + n)) return -1;
    memcpy(a->samples + a->n, x, n * sizeof *x);
    a->n += n;
    return 0;
}

void audio_free(struct audio *a) {
    free(a->samples);
    *a = (struct audio){0};
}

int audio_resample(const struct audio *in, double speed, double out_rate, struct audio *out) {
    if (!(speed > 0.0) || !(in->rate > 0.0) || !(out_rate > 0.0))
        return mslam_error("cannot resample from %g Hz at speed %g to %g Hz", in->rate, speed, out_rate);
    double in_rate = in->rate * speed;
    size_t capacity = (size_t)ceil((double)in->n * out_rate / in_rate) + 64;
    out->n = 0;
    out->rate = out_rate;
    if (audio_reserve(out, capacity)) return -1;
    /* High quality and one thread: the result must not depend on the machine's load. */
    soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
    size_t done = 0;
    soxr_error_t err = soxr_oneshot(in_rate, out_rate, 1, in->samples, in->n, NULL, out->samples, capacity, &done,
                                    NULL, &quality, &runtime);
    if (err) return mslam_error("resampling %g Hz to %g Hz failed: %s", in_rate, out_rate, err);
    out->n = done;
    return 0;
}

const char *audio_format_extension(enum audio_format format) { return format == AUDIO_WAV ? "wav" : "flac"; }

int audio_format_parse(const char *name) {
    if (strcmp(name, "flac") == 0) return AUDIO_FLAC;
    if (strcmp(name, "wav") == 0) return AUDIO_WAV;
    return -1;
}

int audio_write(const char *path, const struct audio *a, enum audio_format format) {
    char *part = str_printf("%s.part", path);
    if (!part) return -1;
    SF_INFO info = {
        .samplerate = (int)lround(a->rate),
        .channels = 1,
        .format = (format == AUDIO_WAV ? SF_FORMAT_WAV : SF_FORMAT_FLAC) | SF_FORMAT_PCM_16,
    };
    int rc = 0;
    SNDFILE *f = sf_open(part, SFM_WRITE, &info);
    if (!f) {
        rc = mslam_error("cannot write %s: %s", part, sf_strerror(NULL));
    } else {
        sf_command(f, SFC_SET_CLIPPING, NULL, SF_TRUE);
        sf_count_t put = sf_writef_float(f, a->samples, (sf_count_t)a->n);
        if (put != (sf_count_t)a->n) rc = mslam_error("cannot write %s: %s", part, sf_strerror(f));
        if (sf_close(f) != 0 && rc == 0) rc = mslam_error("cannot finish %s", part);
    }
    if (rc == 0 && rename(part, path) != 0) rc = mslam_error("cannot rename %s to %s: %s", part, path, strerror(errno));
    if (rc) unlink(part);
    free(part);
    return rc;
}

/* ---- MPEG audio (MP3) ----
 * Decoded by libmpg123 itself: libsndfile reads an MP3 only up to the length its header gives,
 * which for a stream without a Xing/Info header (a VBR stream cut from a broadcast, what
 * GStreamer's lamemp3enc writes) is a guess from the first frame: 1.6 s of a 3.6 s file, and no
 * error. Mono float at the stream's rate, the channels mixed. */
static mpg123_handle *mp3_open(const char *path, long *rate) {
    int err = MPG123_OK, channels = 0, encoding = 0;
    mpg123_handle *mh = mpg123_new(NULL, &err);
    if (!mh) {
        mslam_error("cannot decode %s: %s", path, mpg123_plain_strerror(err));
        return NULL;
    }
    const long *rates = NULL;
    size_t n_rates = 0;
    mpg123_rates(&rates, &n_rates);
    int rc = mpg123_param(mh, MPG123_FLAGS, MPG123_MONO_MIX | MPG123_FORCE_FLOAT | MPG123_QUIET | MPG123_GAPLESS, 0.0) ||
             mpg123_format_none(mh);
    for (size_t i = 0; i < n_rates && !rc; i++) rc = mpg123_format(mh, rates[i], MPG123_MONO, MPG123_ENC_FLOAT_32);
    if (rc || mpg123_open(mh, path) != MPG123_OK || mpg123_getformat(mh, rate, &channels, &encoding) != MPG123_OK ||
        channels != 1 || encoding != MPG123_ENC_FLOAT_32) {
        mslam_error("cannot decode %s: %s", path, mpg123_strerror(mh));
        mpg123_delete(mh);
        return NULL;
    }
    return mh;
}

static int mp3_read(const char *path, struct audio *out) {
    long rate = 0;
    mpg123_handle *mh = mp3_open(path, &rate);
    if (!mh) return -1;
    out->n = 0;
    out->rate = (double)rate;
    float block[4096];
    int rc = 0, got = MPG123_OK;
    while (rc == 0 && (got == MPG123_OK || got == MPG123_NEW_FORMAT)) {
        size_t bytes = 0;
        got = mpg123_read(mh, block, sizeof block, &bytes);
        long new_rate = rate;
        int channels = 1, encoding = MPG123_ENC_FLOAT_32;
        if (got == MPG123_NEW_FORMAT && (mpg123_getformat(mh, &new_rate, &channels, &encoding) != MPG123_OK ||
                                         new_rate != rate || channels != 1 || encoding != MPG123_ENC_FLOAT_32))
            rc = mslam_error("%s: the stream changes its sample rate (%ld Hz, then %ld Hz)", path, rate, new_rate);
        size_t n = bytes / sizeof *block;
        if (rc == 0 && n && audio_reserve(out, out->n + n)) rc = -1;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (!isfinite(block[i])) rc = mslam_error("%s: sample %zu is not a finite number", path, out->n);
            out->samples[out->n++] = block[i];
        }
    }
    if (rc == 0 && got == MPG123_ERR && out->n > 0 && mpg123_errcode(mh) == MPG123_RESYNC_FAIL)
        /* bytes after the last frame that are none (zeros, a tag mpg123 does not know): the end */
        mslam_log(MSLAM_LOG_WARN, "%s: what follows its last MPEG frame is not audio: ignored", path);
    else if (rc == 0 && got != MPG123_DONE)
        rc = mslam_error("cannot decode %s: %s", path, mpg123_strerror(mh));
    mpg123_close(mh);
    mpg123_delete(mh);
    return rc;
}

/* Frames of an MP3, counted by scanning every frame (its header may not say). */
static int mp3_probe(const char *path, long long *frames, int *rate) {
    long r = 0;
    mpg123_handle *mh = mp3_open(path, &r);
    if (!mh) return -1;
    off_t length = mpg123_scan(mh) == MPG123_OK ? mpg123_length(mh) : MPG123_ERR;
    int rc = length < 0 ? mslam_error("cannot decode %s: %s", path, mpg123_strerror(mh)) : 0;
    *frames = (long long)length;
    *rate = (int)r;
    mpg123_close(mh);
    mpg123_delete(mh);
    return rc;
}

static int is_mpeg(const SF_INFO *info) { return (info->format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG; }

/* The error of a file sf_open refused. libsndfile's own message can be another case's: a damaged
 * MP3 that exists got "File does not exist or is not a regular file (possibly a pipe?)". */
static int cannot_open(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return mslam_error("cannot read audio %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return mslam_error("cannot read audio %s: not a regular file", path);
    const char *said = sf_strerror(NULL);
    if (strstr(said, "does not exist") || strstr(said, "not a regular file"))
        return mslam_error("cannot read audio %s: not a format libsndfile reads, or damaged", path);
    return mslam_error("cannot read audio %s: %s", path, said);
}

/* 0 where path is no FIFO or other irregular file: libsndfile and libmpg123 open one as a file,
 * and wait for a writer, forever when none comes (a missing file: cannot_open says so). */
static int check_regular(const char *path) {
    const char *kind = irregular_file_kind(path);
    return kind ? mslam_error("cannot read audio %s: %s, not a regular file", path, kind) : 0;
}

int audio_probe(const char *path, long long *frames, int *rate, int *channels) {
    if (check_regular(path)) return -1;
    SF_INFO info = {0};
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f) return cannot_open(path);
    sf_close(f);
    if (is_mpeg(&info)) {
        *channels = info.channels;
        return mp3_probe(path, frames, rate);
    }
    *frames = (long long)info.frames;
    *rate = info.samplerate;
    *channels = info.channels;
    if (info.frames < 0 || info.frames == SF_COUNT_MAX) { /* no count in the header (a cut Ogg): decode it */
        struct audio a = {0};
        int rc = audio_read(path, &a);
        *frames = rc ? 0 : (long long)a.n;
        audio_free(&a);
        return rc;
    }
    return 0;
}

int audio_read(const char *path, struct audio *out) {
    if (check_regular(path)) return -1;
    SF_INFO info = {0};
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f) return cannot_open(path);
    if (is_mpeg(&info)) {
        sf_close(f);
        return mp3_read(path, out);
    }
    int channels = info.channels;
    if (channels < 1 || channels > 64 || info.samplerate <= 0) {
        sf_close(f);
        return mslam_error("%s: unusable audio (%d channels at %d Hz)", path, channels, info.samplerate);
    }
    int rc = 0;
    float block[4096];
    sf_count_t per_read = (sf_count_t)(sizeof block / sizeof block[0]) / channels;
    out->n = 0;
    out->rate = info.samplerate;
    while (rc == 0) {
        sf_count_t got = sf_readf_float(f, block, per_read);
        if (got <= 0) break;
        if (audio_reserve(out, out->n + (size_t)got)) {
            rc = -1;
            break;
        }
        for (sf_count_t i = 0; i < got && rc == 0; i++) {
            float sum = 0.0f;
            for (int c = 0; c < channels; c++) sum += block[i * channels + c];
            /* a float file may hold NaN or infinities (or values whose sum is one) */
            if (!isfinite(sum)) rc = mslam_error("%s: sample %zu is not a finite number", path, out->n);
            out->samples[out->n++] = sum / (float)channels;
        }
    }
    if (rc == 0 && sf_error(f) != SF_ERR_NO_ERROR) rc = mslam_error("cannot decode %s: %s", path, sf_strerror(f));
    if (rc == 0 && out->n == 0 && info.frames != 0)
        rc = mslam_error("%s: no sample could be decoded (a truncated or damaged file?)", path);
    sf_close(f);
    return rc;
}
