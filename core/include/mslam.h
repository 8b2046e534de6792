/* mslam: one Conformer encoder shared by speech and text in many languages (mSLAM).
 *
 * Shape of the API (as whisper.cpp): opaque handles, parameters in structs filled by
 * *_default_params(), int status (0 = ok, negative = error) or NULL on failure. The message of
 * the last failure on the calling thread is mslam_last_error(); it is also sent to the log
 * callback. The library never exits or aborts on bad input.
 *
 * Encoder frames are row-major float arrays: n_frames x d_model, 25 frames per second of audio
 * (log-mel at 100 frames/s, subsampled 4x in time).
 */
#ifndef MSLAM_H
#define MSLAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define MSLAM_API __declspec(dllexport)
#else
#define MSLAM_API __attribute__((visibility("default")))
#endif

#define MSLAM_SAMPLE_RATE 16000
#define MSLAM_FORMAT_VERSION 1

/* ---- errors and logging ---- */

enum mslam_log_level {
    MSLAM_LOG_ERROR = 2,
    MSLAM_LOG_WARN = 3,
    MSLAM_LOG_INFO = 4,
    MSLAM_LOG_DEBUG = 5,
};

typedef void (*mslam_log_callback)(enum mslam_log_level level, const char *message, void *user_data);

/* Routes library messages to cb (NULL: errors and warnings go to stderr). */
MSLAM_API void mslam_log_set(mslam_log_callback cb, void *user_data);
/* Message of the last failed call on this thread ("" when none). */
MSLAM_API const char *mslam_last_error(void);
MSLAM_API const char *mslam_version(void);

/* ---- model ---- */

/* Architecture of a model, as stored in its file's __metadata__ "config". */
struct mslam_model_config {
    int n_mels;          /* log-mel bins (80) */
    int d_model;         /* encoder width */
    int n_heads;         /* attention heads; d_model % n_heads == 0 */
    int d_ff;            /* feed-forward inner width */
    int conv_kernel;     /* depthwise conv kernel (odd) */
    int sub_channels;    /* channels of the 2-D conv subsampler */
    int n_speech_layers; /* speech-only Conformer layers (w2v-BERT contrastive module) */
    int n_shared_layers; /* shared speech/text Conformer layers (MLM module) */
    int vocab_size;      /* characters, including the reserved ids of the vocabulary */
    int n_langs;         /* languages of the language list */
    int causal_conv;     /* 1: depthwise conv sees only the past (required for streaming) */
    /* heads; optional in a file (absent means 0) */
    int ctc_head;         /* 1: CTC over the vocabulary (speech recognition) */
    int lid_head;         /* 1: pooled classifier over the languages (language ID) */
    int n_decoder_layers; /* > 0: Transformer decoder over the vocabulary (speech translation) */
};

typedef struct mslam_model mslam_model;

struct mslam_model_params {
    int n_threads; /* threads for BLAS and OpenMP loops; <= 0: all cores */
};

MSLAM_API struct mslam_model_params mslam_model_default_params(void);

/* Loads a model file (safetensors layout, see README). NULL on failure. */
MSLAM_API mslam_model *mslam_model_load(const char *path, struct mslam_model_params params);
MSLAM_API void mslam_model_free(mslam_model *model);

MSLAM_API struct mslam_model_config mslam_model_get_config(const mslam_model *model);
/* UTF-8 text of character id (NULL when out of range). */
MSLAM_API const char *mslam_model_vocab_token(const mslam_model *model, int id);
/* Language code of language index (NULL when out of range). */
MSLAM_API const char *mslam_model_lang(const mslam_model *model, int index);

/* Frees memory the library returned to the caller (encoder frames). */
MSLAM_API void mslam_free(void *ptr);

/* ---- offline encoding ---- */

struct mslam_encode_params {
    int chunk_frames; /* attention chunk in encoder frames; 0: full context */
    int left_chunks;  /* left chunks a frame sees; < 0: all */
    int n_threads;    /* <= 0: the model's */
};

MSLAM_API struct mslam_encode_params mslam_encode_default_params(void);

/* 16 kHz mono PCM -> encoder frames (n_frames x d_model, free with mslam_free). NULL on failure;
 * *n_frames is 0 (and the result non-NULL) when the audio is shorter than one frame. */
MSLAM_API float *mslam_encode_pcm(mslam_model *model, const float *pcm, size_t n_samples,
                                  const struct mslam_encode_params *params, int *n_frames);

/* UTF-8 text -> one shared-layer frame per character. NULL on failure (a character outside the
 * vocabulary is an error naming it). */
MSLAM_API float *mslam_encode_text(mslam_model *model, const char *utf8,
                                   const struct mslam_encode_params *params, int *n_frames);

/* ---- streaming ---- */

typedef struct mslam_stream mslam_stream;

struct mslam_stream_params {
    int chunk_frames; /* encoder frames per chunk (40 ms each); > 0 */
    int left_chunks;  /* cached left chunks; < 0: all */
    int n_threads;    /* <= 0: the model's */
};

MSLAM_API struct mslam_stream_params mslam_stream_default_params(void);

/* A stream keeps the model referenced by pointer: free the stream before the model.
 * Needs a model with causal_conv = 1. NULL on failure. */
MSLAM_API mslam_stream *mslam_stream_new(mslam_model *model, struct mslam_stream_params params);
/* Feeds 16 kHz mono PCM; encodes every chunk that is complete. Returns the number of frames
 * ready to read, or a negative error. */
MSLAM_API int mslam_stream_push(mslam_stream *stream, const float *pcm, size_t n_samples);
/* End of audio: encodes what is left as a last, shorter chunk. Returns frames ready or < 0. */
MSLAM_API int mslam_stream_finish(mslam_stream *stream);
/* Copies up to max_frames ready frames (each d_model floats) to out and drops them from the
 * stream. Returns the number copied. */
MSLAM_API int mslam_stream_read(mslam_stream *stream, float *out, int max_frames);
MSLAM_API int mslam_stream_n_ready(const mslam_stream *stream);
/* Forgets all audio and cached context; the stream starts again at time 0. */
MSLAM_API void mslam_stream_reset(mslam_stream *stream);
MSLAM_API void mslam_stream_free(mslam_stream *stream);

#ifdef __cplusplus
}
#endif

#endif /* MSLAM_H */
