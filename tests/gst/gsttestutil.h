/* Helpers of the element tests (suite gst) and the element benchmark: model files made at test
 * time, speech synthesised by the corpus builder's code (espeak-ng), a pipeline runner that collects text buffers and
 * element messages. */
#ifndef MSLAM_GSTTESTUTIL_H
#define MSLAM_GSTTESTUTIL_H

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <mslam.h>
#include <stddef.h>

enum gsttest_model_kind {
    /* Weights chosen by hand so that results follow the audio's loudness, which makes element
     * behaviour predictable on real speech: the encoder passes a "how loud" feature through (every
     * residual branch is zero), the CTC head emits "a" on voiced frames and blanks on silence, the
     * LID head says "en" on speech and "fr" on silence, the decoder writes "h" until its length
     * limit. */
    GSTTEST_MODEL_LOUDNESS,
    /* Random weights: what the elements do with an untrained model (anything but crash). */
    GSTTEST_MODEL_RANDOM,
};

struct gsttest_model_opts {
    enum gsttest_model_kind kind;
    int ctc_head, lid_head, n_decoder_layers;
    int translate_input; /* the config's (enum mslam_translate_input) */
    int d_model, n_layers; /* 0: tiny (8, 1 + 1); n_layers speech and as many shared */
    /* 0: 2 heads, d_ff 2 d_model, kernel 3, 2 channels (16 from d_model 32) */
    int n_heads, d_ff, conv_kernel, sub_channels;
    unsigned seed;
    /* GSTTEST_MODEL_LOUDNESS: what the CTC head emits on silent frames. 0: blanks (and "a" on
     * voiced ones); 'a': "a", and blanks on voiced frames (characters in silence alone, as a
     * trained model emits now and then); ' ': spaces, and "a" on voiced frames (transcripts with
     * spaces at their ends). */
    char ctc_on_silence;
};

/* Writes a model file; returns 0 or -1 (message on stderr). */
int gsttest_write_model(const char *path, const struct gsttest_model_opts *opts);
/* Writes a character LM of the test models' vocabulary and languages that knows no n-gram: every
 * character of a language is equally likely, with floor_logp[l] for language l (NULL: log of one
 * over the characters and "</s>" for all, a normalised LM); returns 0 or -1. */
int gsttest_write_uniform_lm(const char *path, const float *floor_logp);
/* An LM of English translations over the test vocabulary (mslam-trainer lm --translations'
 * kind), of order 1, that gives the character favoured (e.g. "a") probability 0.9. */
int gsttest_write_translation_lm(const char *path, const char *favoured);

/* The message of the first error on pipeline's bus within 5 s (g_free it), or NULL; its GError
 * code in *code when code is not NULL (-1: none). */
char *gsttest_pop_error(GstElement *pipeline, int *code);
/* The pipeline `launch` taken READY->PAUSED: the error message posted when that fails (g_free
 * it), with its GError code as gsttest_pop_error; NULL when the state change worked. */
char *gsttest_launch_error(const char *launch, int *code);
/* The same for "audiotestsrc ! <element_desc> ! fakesink". */
char *gsttest_start_error(const char *element_desc);

/* Speech of text in an espeak-ng voice ("en", "fr", ...) at 16 kHz mono; *n samples. NULL on
 * failure. g_free the result. */
float *gsttest_speak(const char *voice, const char *text, size_t *n);

/* What most element tests use, made once per process (before check forks the tests). */
typedef struct {
    char *loud;       /* GSTTEST_MODEL_LOUDNESS with CTC, LID and decoder */
    char *loud_noctc; /* the same without the CTC head */
    char *random;     /* random weights, every head */
    char *corrupt;    /* a file that is not a model */
    /* two English utterances, trimmed to their speech (the first and last sample above 1% of
     * full scale), 16 kHz */
    float *speech[2];
    size_t n_speech[2];
} gsttest_fixture;

const gsttest_fixture *gsttest_fixture_get(void);

/* Cuts pcm (*n samples) to its speech: from the first to the last sample above 1% of full scale. */
void gsttest_trim(float **pcm, size_t *n);
/* Concatenation helper: appends src (n samples) or, when src is NULL, n samples of silence. */
void gsttest_append(float **dst, size_t *n_dst, const float *src, size_t n);
/* Adds white noise, uniform in [-amplitude, amplitude], to pcm[0..n) from the generator state
 * *x (linear congruential: one state, one noise). */
void gsttest_add_white_noise(float *pcm, size_t n, float amplitude, guint32 *x);
/* Adds rumble, white noise from *x low-passed at 100 Hz (12 dB an octave), of root mean square
 * rms over pcm[0..n): over 10 ms its energy varies as a voice's does. */
void gsttest_add_rumble(float *pcm, size_t n, float rms, guint32 *x);

/* Writes 16 kHz mono 16-bit WAV. 0 or -1. */
int gsttest_write_wav(const char *path, const float *pcm, size_t n);

/* The trained model to run on: $MSLAM_MODEL when set, else the bundled
 * models/default.safetensors of the source tree when it exists, else the installed default
 * (which may not exist either: callers check). */
const char *gsttest_trained_model(void);

/* A temporary directory for the process (removed at exit). */
const char *gsttest_tmpdir(void);
/* tmpdir/name (static buffer per call: copy it). */
char *gsttest_path(const char *name);

/* One caption, as a text buffer or an element message. */
typedef struct {
    char *text;
    GstClockTime pts, duration;   /* buffers */
    GstClockTime start, end;      /* messages */
    gboolean final;
    double confidence;
    char *language, *source_language;
    GstClockTime pushed;          /* running time of the pipeline clock when it came out */
} gsttest_caption;

typedef struct {
    GPtrArray *buffers;   /* gsttest_caption (text buffers, in order) */
    GPtrArray *messages;  /* GstStructure copies of element messages, in order */
    GPtrArray *events;    /* GstEvent refs seen on the src pad (tags, gaps, segments) */
    GstMessage *error;    /* first error message, if any */
    gboolean eos;
} gsttest_run;

void gsttest_run_free(gsttest_run *r);

/* The final element message of r whose "start" is start (NULL: none). */
const GstStructure *gsttest_final_message_at(const gsttest_run *r, GstClockTime start);
/* The samples [*from, *until) of encoder frames [start, end) (buffer times on a timeline whose
 * sample 0 is at t0) and up to 639 after them (which the last frame reads: no more frames),
 * within n samples: what a second pass encodes. */
void gsttest_frames_samples(GstClockTime t0, GstClockTime start, GstClockTime end, size_t n, size_t *from,
                            size_t *until);
/* Frames before a caption that a max-duration cut opened (its messages' `continued`) that the
 * elements' second pass encodes with it: PRIME_FRAMES of plugin/gstmslamcaption.c. */
#define GSTTEST_CONTEXT_FRAMES 8
enum gsttest_offline_kind { GSTTEST_TRANSCRIBE, GSTTEST_TRANSLATE };
/* What the offline API makes of caption c's audio (gsttest_frames_samples of its PTS and
 * duration within pcm, n samples from t0) with params (NULL: defaults): its text, stripped as the
 * elements strip theirs, its confidence, and the language spoken (mslam_identify_language's;
 * NULL for a model without a LID head). That is mslam_transcribe's or mslam_translate's result on
 * those samples, unless the caption is `continued`; then, as the elements' second pass does, the
 * samples and up to GSTTEST_CONTEXT_FRAMES before them (fewer only that near t0) are encoded
 * (mslam_encode_pcm), the language is identified on the caption's frames, the transcript is that
 * of all the frames (mslam_transcribe_frames; with an LM and no language named, in the language
 * identified) from the caption's first frame on (mslam_result_from_frame), and the translation
 * that of the caption's frames, of that transcript for a decoder reading transcripts, or for
 * English the transcript itself. Returns 0, or -1 on an API failure (printed). */
typedef struct {
    char *text;
    double confidence;
    const char *language;
} gsttest_offline;
int gsttest_offline_caption(const gsttest_caption *c, gboolean continued, GstClockTime t0, const float *pcm, size_t n,
                            mslam_model *model, enum gsttest_offline_kind kind,
                            const struct mslam_decode_params *params, gsttest_offline *out);
/* Whether caption c of r (its buffer, and the final message with its start) has the offline
 * API's text (gsttest_offline_caption, `continued` as its message says), confidence within 1e-4
 * and, for a model with a LID head, language (the message's `language`, or `source-language` of
 * a translation); an API failure reads as FALSE. */
gboolean gsttest_caption_is_offline(const gsttest_run *r, const gsttest_caption *c, GstClockTime t0, const float *pcm,
                                    size_t n, mslam_model *model, enum gsttest_offline_kind kind,
                                    const struct mslam_decode_params *params);

/* Runs "appsrc ! <element description> ! fakesink" (a probe on the element's src pad records) over pcm (16 kHz mono F32LE, or S16LE when
 * s16), buffers of buf_samples, timestamps starting at t0 in a segment starting at t0. Returns
 * once EOS or an error came out. */
gsttest_run *gsttest_run_element(const char *element_desc, const float *pcm, size_t n, gboolean s16,
                                 size_t buf_samples, GstClockTime t0);

/* A buffer of pcm[0, n) (16 kHz mono) as F32LE, or S16LE when s16, at pts, with its duration. */
GstBuffer *gsttest_pcm_buffer(const float *pcm, size_t n, gboolean s16, GstClockTime pts);
/* Pushes pcm[from, to) into h as 100 ms buffers of gsttest_pcm_buffer, timed from t0; returns
 * the first flow that is not OK, else GST_FLOW_OK. */
GstFlowReturn gsttest_harness_push_pcm(GstHarness *h, const float *pcm, size_t from, size_t to, GstClockTime t0,
                                       gboolean s16);

/* Resident set size of this process in bytes. */
size_t gsttest_rss(void);

#endif
