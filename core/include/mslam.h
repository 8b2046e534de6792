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

/* Routes library messages to cb (NULL: errors and warnings go to stderr). One per process. cb
 * runs on the thread whose call logs, at times while that call holds its model's device lock:
 * it must not call into the library on that model nor call mslam_log_set, and a slow cb delays
 * the model's other threads (hand the message to another thread to do more than keep it). May be
 * called while other threads' calls run: it waits for the callbacks under way, after which the
 * old cb is not called and its user data may be freed. */
MSLAM_API void mslam_log_set(mslam_log_callback cb, void *user_data);
/* The callback and user data mslam_log_set set (NULL, NULL: none). */
MSLAM_API void mslam_log_get(mslam_log_callback *cb, void **user_data);
/* Message of the last failed call on this thread ("" when none). As errno, read it after a call
 * failed: a call that succeeds leaves it as it was, or names a failure it recovered from (a lost
 * Vulkan device, the pass run again on the CPU). */
MSLAM_API const char *mslam_last_error(void);
/* The library's version, "MAJOR.MINOR.PATCH" (meson's project version). */
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
    /* what the decoder was trained to read (enum mslam_translate_input); optional in a file
     * (absent means speech); MSLAM_TRANSLATE_TRANSCRIPT needs the CTC head and the decoder */
    int translate_input;
    /* > 0: the self-supervised pre-training tensors (mslam-trainer --task pretrain: w2v-BERT's
     * quantizer of n_codes codes and its contrastive and masked-prediction heads, SpanBERT's
     * character head, the two mask embeddings); optional in a file (absent means 0). Inference
     * ignores them; mslam-trainer export leaves them out. */
    int n_codes;
    /* with n_codes > 0, where the speech targets come from (enum mslam_quantizer); optional in a
     * file (absent means Gumbel). A random quantizer's targets need no tensors: it has none of
     * w2v-BERT's quantizer, codebook and contrastive head. */
    int quantizer;
};

/* Pre-training's speech targets (mslam-trainer --quantizer). */
enum mslam_quantizer {
    MSLAM_QUANTIZER_GUMBEL = 0, /* w2v-BERT's: a Gumbel-softmax quantizer learnt with the encoder */
    MSLAM_QUANTIZER_RANDOM = 1, /* BEST-RQ's: a fixed random projection and codebook, not stored */
};

/* How translation reads its source. A decoder trained on speech frames reads the encoder's
 * speech frames; one trained on text pairs (mslam-trainer --text-data) reads the text path's
 * frames of the CTC transcript (a cascade): end to end from speech it translates poorly. */
enum mslam_translate_input {
    MSLAM_TRANSLATE_SPEECH = 0,
    MSLAM_TRANSLATE_TRANSCRIPT = 1,
};

/* A model (and an LM or translation memory) is read-only once loaded: calls may share it from
 * several threads at once, as the elements do (the Vulkan backend takes a lock per pass). A
 * stream, a CTC decoder or a result belongs to one thread at a time. mslam_last_error is the
 * calling thread's. */
typedef struct mslam_model mslam_model;

/* Where a model's offline encoder passes run: mslam_encode_pcm and mslam_encode_text, and so
 * mslam_transcribe, mslam_translate and mslam_identify_language, which encode through them.
 * Streams (mslam_stream_*), the heads, the decoder and the searches run on the CPU.
 * MSLAM_VULKAN_DEVICE (an index of vkEnumeratePhysicalDevices or part of a device's name, in any case) picks
 * the Vulkan device for AUTO and VULKAN, a CPU implementation such as Mesa's lavapipe included. */
enum mslam_device {
    /* a GPU through Vulkan when there is one (or MSLAM_VULKAN_DEVICE's), else the CPU; if the
     * device is lost (a GPU reset), that pass and every later one run on the CPU, with one warning */
    MSLAM_DEVICE_AUTO = 0,
    MSLAM_DEVICE_CPU = 1,    /* OpenBLAS and the library's threads */
    /* Vulkan, on any device; mslam_model_load fails without one, and once the device is lost every
     * pass fails saying so (reload the model, or load it with MSLAM_DEVICE_CPU) */
    MSLAM_DEVICE_VULKAN = 2,
};

/* Threads: a call runs on the n_threads of its params, else on the model's, else on OpenMP's
 * count on the calling thread (omp_get_max_threads: OMP_NUM_THREADS or the application's
 * omp_set_num_threads, else all cores), at most 64 or four a core, whichever is more (a larger
 * count is taken as that). The
 * count goes to the library's own OpenMP teams
 * (num_threads), so a call leaves the caller's OpenMP setting as it was. Matrix products are split over those threads and OpenBLAS runs each part on one thread
 * (its threads and OpenMP's would fight for the cores): the first large product sets
 * openblas_set_num_threads(1), which is process-wide, so an application's own OpenBLAS calls
 * then run on one thread too. In a build without OpenMP the count is OpenBLAS' (process-wide):
 * calls on other threads with other counts change it under each other, and their results differ
 * in rounding from those of the same calls made alone (OpenBLAS sums in another order). */
struct mslam_model_params {
    int n_threads; /* <= 0: OpenMP's count (all cores unless OMP_NUM_THREADS says otherwise) */
    enum mslam_device device; /* where the encoder's offline passes run (MSLAM_DEVICE_AUTO) */
};

MSLAM_API struct mslam_model_params mslam_model_default_params(void);

/* Loads a model file (safetensors layout, see README). NULL on failure; when the file is a good
 * model but the device it asks for fails, the message is "PATH: device vulkan: WHY". A file with
 * a tensor that is not finite (NaN, infinite) is refused, naming it. A model whose feature
 * statistics were never measured (a frontend.mel_std of 0 or less, as in a model mslam-trainer
 * has only just made) loads, and every call that featurises its audio
 * (mslam_encode_pcm, mslam_transcribe, mslam_translate, mslam_identify_language,
 * mslam_stream_push) fails naming the statistic. */
MSLAM_API mslam_model *mslam_model_load(const char *path, struct mslam_model_params params);
MSLAM_API void mslam_model_free(mslam_model *model);

/* The model's architecture and heads as its file records them (a copy). */
MSLAM_API struct mslam_model_config mslam_model_get_config(const mslam_model *model);
/* Where the model's encoder passes run: "cpu", or "vulkan: " and the device's name; "cpu: Vulkan
 * device NAME was lost" once the device that MSLAM_DEVICE_AUTO took is lost (the passes then run
 * on the CPU). Valid while the model is; NULL for a NULL model. */
MSLAM_API const char *mslam_model_device(const mslam_model *model);
/* UTF-8 text of character id (NULL when out of range). */
MSLAM_API const char *mslam_model_vocab_token(const mslam_model *model, int id);
/* Language code of language index (NULL when out of range). */
MSLAM_API const char *mslam_model_lang(const mslam_model *model, int index);

/* Frees memory the library returned to the caller (encoder frames). */
MSLAM_API void mslam_free(void *ptr);

/* ---- offline encoding ---- */

/* Asked by the long calls, before each of the encoder's layers (and, on a Vulkan device, before
 * its pass) and each step of the translation decoder's search, whether to go on: nonzero stops
 * the call, which then fails with "FN: stopped by the abort callback" (mslam_last_error). Runs on
 * the calling thread, with the params' abort_callback_user_data. E.g. a media app's cancel
 * button: return an atomic flag the button sets. */
typedef int (*mslam_abort_callback)(void *user_data);

struct mslam_encode_params {
    int chunk_frames; /* attention chunk in encoder frames; 0: full context */
    int left_chunks;  /* left chunks a frame sees; < 0: all */
    int n_threads;    /* <= 0: the model's */
    mslam_abort_callback abort_callback; /* NULL: the call runs to its end */
    void *abort_callback_user_data;
};

/* Full context (chunk_frames 0, left_chunks -1) on the model's threads (n_threads 0), no abort
 * callback. */
MSLAM_API struct mslam_encode_params mslam_encode_default_params(void);

/* 16 kHz mono PCM -> encoder frames (n_frames x d_model, free with mslam_free). Samples are
 * floats with full scale at -1 and 1, as every call here takes them: one beyond is clipped to it,
 * as a conversion to integer samples would, and one not finite is an error. NULL on failure.
 * n samples make n / 640 frames (40 ms each, rounded down): frame t reads samples
 * [640 t, 640 t + 1360), and the audio is followed by 720 zero samples so that the last frame reads
 * to its end; *n_frames is 0 (and the result non-NULL) below 640 samples. */
MSLAM_API float *mslam_encode_pcm(mslam_model *model, const float *pcm, size_t n_samples,
                                  const struct mslam_encode_params *params, int *n_frames);

/* UTF-8 text -> one shared-layer frame per character. NULL on failure (a character outside the
 * vocabulary is an error naming it; text that is not valid UTF-8 an error naming the byte). Text
 * is encoded with full attention context, as it is trained: chunk_frames and left_chunks are
 * checked as for speech but not used, and time grows with the square of the length (a character
 * is a frame: a sentence is milliseconds, 5000 characters about 10 s on 2 cores); encode
 * sentences, not documents. The same holds for mslam_translate_text. */
MSLAM_API float *mslam_encode_text(mslam_model *model, const char *utf8,
                                   const struct mslam_encode_params *params, int *n_frames);

/* ---- streaming ---- */

typedef struct mslam_stream mslam_stream;

struct mslam_stream_params {
    int chunk_frames; /* encoder frames per chunk (40 ms each); 1..4096 */
    int left_chunks;  /* cached left chunks; < 0: all (time and memory then grow with the stream:
                         for a live source, bound it) */
    int n_threads;    /* <= 0: the model's */
};

/* 8 frames (320 ms) per chunk, 4 chunks of left context (as the elements and the trainer's
 * streaming batches), 1 thread (a chunk is too small for more to help, and a team that waits for
 * a descheduled member stalls a live push). */
MSLAM_API struct mslam_stream_params mslam_stream_default_params(void);

/* A stream keeps the model referenced by pointer: free the stream before the model.
 * Needs a model with causal_conv = 1. NULL on failure. */
MSLAM_API mslam_stream *mslam_stream_new(mslam_model *model, struct mslam_stream_params params);
/* Feeds 16 kHz mono PCM; encodes every chunk that is complete. Returns the number of frames
 * ready to read, or a negative error. A push refused by its checks (NULL, a sample not finite,
 * a finished stream) takes nothing, nor does one with no memory to buffer its samples (the error
 * begins "out of memory buffering"); one that fails later (out of memory encoding a chunk) has
 * taken its samples: push the next ones, not these again. */
MSLAM_API int mslam_stream_push(mslam_stream *stream, const float *pcm, size_t n_samples);
/* End of audio: appends the 720 zero samples that follow audio offline (mslam_encode_pcm) and
 * encodes what is left as a last, shorter chunk, so a stream gives the frames mslam_encode_pcm
 * gives under the same chunk mask. Returns frames ready or < 0; after a failure (out of memory)
 * call it again (it goes on where it stopped) or reset the stream: a push is refused.
 * After it, mslam_stream_push is an error until mslam_stream_reset; a second finish does nothing. */
MSLAM_API int mslam_stream_finish(mslam_stream *stream);
/* Copies up to max_frames ready frames (each d_model floats) to out and drops them from the
 * stream. Returns the number copied (0: none ready, or max_frames 0), or a negative error (a NULL
 * stream, a NULL out for max_frames above 0, max_frames negative). */
MSLAM_API int mslam_stream_read(mslam_stream *stream, float *out, int max_frames);
MSLAM_API int mslam_stream_n_ready(const mslam_stream *stream);
/* Forgets all audio and cached context, samples not yet encoded included (mslam_stream_finish
 * first to keep them); the stream starts again at time 0. A fresh or reset stream's first frames
 * have no left context: a reset at every pause can make a stray character of the silence that
 * follows (see mslam_transcribe); keep one stream across pauses where the audio is continuous. */
MSLAM_API void mslam_stream_reset(mslam_stream *stream);
MSLAM_API void mslam_stream_free(mslam_stream *stream);

/* ---- recognition, translation, language identification ----
 *
 * Speech recognition runs the CTC head (model config ctc_head = 1), translation into English the
 * Transformer decoder (n_decoder_layers > 0), language identification the LID head
 * (lid_head = 1); a call for a head the model lacks fails and says so.
 *
 * Text results are mslam_result objects. The caller owns each one and frees it with
 * mslam_result_free; the strings a result hands out live as long as the result (not the model).
 * Times are encoder frames, MSLAM_FRAMES_PER_SECOND per second: frame t starts t * 40 ms after
 * the first sample given (for an mslam_ctc_decoder: the first sample since its creation or last
 * reset, when it is fed mslam_stream frames). */

#define MSLAM_FRAMES_PER_SECOND 25

/* ---- character language models ----
 * `mslam-trainer lm` builds one from text: a character n-gram model per language over a model's
 * vocabulary (Kneser-Ney smoothed). Given to recognition (mslam_decode_params.lm), the CTC prefix
 * beam search ranks prefixes by log p_ctc + lm_weight * log p_lm + lm_bonus * characters
 * (shallow fusion) in the language of params->languages when that names one language, else in
 * the one language identification (below, among the LM's languages) finds (offline only).
 * Given to language identification, each language's
 * log-probability gains lid_lm_weight * log p_lm(greedy CTC transcript | language). An LM works
 * only with a model of the vocabulary it was built on. */
typedef struct mslam_lm mslam_lm;

/* Loads an LM file. NULL on failure (the message names the file and the problem). */
MSLAM_API mslam_lm *mslam_lm_load(const char *path);
MSLAM_API void mslam_lm_free(mslam_lm *lm);
/* The n-gram order (characters of context + 1) and the number of languages modelled. */
MSLAM_API int mslam_lm_order(const mslam_lm *lm);
MSLAM_API int mslam_lm_n_langs(const mslam_lm *lm);
/* Language code of index (NULL when out of range). */
MSLAM_API const char *mslam_lm_lang(const mslam_lm *lm, int index);
/* Index of a language code (in any case) in the LM, or -1 when it has none of that language. */
MSLAM_API int mslam_lm_lang_index(const mslam_lm *lm, const char *code);
/* 0 when lm was built on model's vocabulary; else a negative error naming both files. */
MSLAM_API int mslam_lm_check_model(const mslam_lm *lm, const mslam_model *model);
/* 1 when lm models the English the translation decoder writes (`mslam-trainer lm
 * --translations`: mslam_decode_params.translation_lm), 0 when it models transcripts (.lm). */
MSLAM_API int mslam_lm_of_translations(const mslam_lm *lm);

/* ---- translation memory ----
 * `mslam-trainer tm` builds one from text pairs: known sentences, in the normal form the CTC head
 * writes, with their English translations. Given to translation
 * (mslam_decode_params.translation_memory), a source text whose nearest known sentence is at
 * least tm_min_similarity similar is translated as that sentence was, and the decoder does not
 * run; otherwise the decoder translates. Similarity is 1 - (edit distance in characters) /
 * (characters of the longer text); the candidates are the 64 known sentences sharing the most
 * character trigrams with the source (Dice coefficient), among the sentences of the language
 * params->languages names when it names one (none when the memory has no sentence of it), else
 * among all. A translation from the memory has the similarity as each character's probability
 * (and so as its confidence). */
typedef struct mslam_tm mslam_tm;

/* Loads a translation memory file and indexes it (0.4 to 0.8 s for 349,520 sentences on 2
 * cores). NULL on failure (the message names the file and the problem). */
MSLAM_API mslam_tm *mslam_tm_load(const char *path);
MSLAM_API void mslam_tm_free(mslam_tm *tm);
/* The number of (sentence, English) entries the memory holds. */
MSLAM_API int mslam_tm_n_entries(const mslam_tm *tm);

struct mslam_tm_match {
    int index;               /* of the entry, 0 .. mslam_tm_n_entries - 1 */
    float similarity;        /* in [0, 1]; 1: the same characters */
    const char *source;      /* the known sentence (owned by the memory) */
    const char *translation; /* its English (owned by the memory) */
    const char *lang;        /* the language of the source (owned by the memory) */
};

/* The entry nearest text among those of language lang (one code; NULL or "": of any language; a
 * comma-separated list is an error): 1 and
 * *match set; 0 when no such entry shares a character trigram with text (each padded with a
 * space at either end, so "ho" has the trigrams " ho" and "ho "); or a negative error
 * (text NULL or not UTF-8). Safe from several threads at once. */
MSLAM_API int mslam_tm_lookup(const mslam_tm *tm, const char *text, const char *lang,
                              struct mslam_tm_match *match);

/* Defaults: beam 4, max_len 0, length_penalty 1, no_repeat_ngram 8, token_min_logp -12, all languages, no LM
 * (weight 0.8, bonus 2.5 and LID weight 0.1 once one is given: tuned on the default corpus's dev
 * split), no translation LM (weight 0.2 once one is given: tuned on the dev split of the text
 * pairs), no translation memory (minimum similarity 0.5 once one is given: tuned on the default
 * corpus's dev split), full attention context, the model's threads, no abort callback. */
struct mslam_decode_params {
    int beam_size;         /* CTC prefix beam search (1..1024) / decoder beam search (1..256); 1:
                            * greedy */
    int max_len;           /* translation: most characters before the end (at most 65536); <= 0:
                            * 2 * frames + 16, or 65536 when that is more */
    float length_penalty;  /* translation: hypotheses rank by log p / (characters + 1)^penalty */
    int no_repeat_ngram;   /* translation: > 0: no n characters twice in one translation (stops
                            * loops like "a new new new"); 0: off; a too small n bans common
                            * words' second use */
    float token_min_logp;  /* CTC beam: a character less likely than this at a frame does not
                            * extend a hypothesis; a log-probability below 0 (-INFINITY:
                            * exact search) */
    const char *languages; /* language ID: comma-separated codes restricting the candidates
                            * ("en,fr,de", in any case); NULL or "": all of the model's languages */
    const mslam_lm *lm;    /* character LM (NULL: none); see "character language models" */
    float lm_weight;       /* CTC beam: weight of log p_lm (0: the LM takes no part in the search,
                            * lm_bonus neither, and needs no beam or language named) */
    float lm_bonus;        /* CTC beam: added per character, against the LM's pull to short text */
    float lid_lm_weight;   /* language ID: weight of the transcript's log p_lm (0: not used) */
    const mslam_lm *translation_lm; /* LM of English translations (NULL: none): the decoder's beam
                            * ranks by log p_decoder + translation_lm_weight * log p_lm */
    float translation_lm_weight;
    const mslam_tm *translation_memory; /* NULL: none; see "translation memory" */
    float tm_min_similarity; /* translation: a memory match at least this similar is the
                            * translation; in [0, 1] (1: only the same characters) */
    int chunk_frames;      /* encoder attention from PCM, as struct mslam_encode_params */
    int left_chunks;
    int n_threads;         /* <= 0: the model's */
    mslam_abort_callback abort_callback; /* as struct mslam_encode_params' (NULL: none) */
    void *abort_callback_user_data;
};

MSLAM_API struct mslam_decode_params mslam_decode_default_params(void);

typedef struct mslam_result mslam_result;

/* UTF-8 text ("" for an empty result or r NULL). Recognition's is CTC's characters as emitted,
 * spaces included: a segment cut between words (a stream's segment, mslam_result_from_frame's
 * part) can begin or end with one; strip them for display (the words, mslam_result_word_*,
 * have none), as the elements do. */
MSLAM_API const char *mslam_result_text(const mslam_result *r);
/* Geometric mean of the token probabilities, in [0, 1]; 0 for an empty result. */
MSLAM_API float mslam_result_confidence(const mslam_result *r);
/* Tokens are the characters of the text, in order. */
MSLAM_API int mslam_result_n_tokens(const mslam_result *r);
MSLAM_API int mslam_result_token_id(const mslam_result *r, int i);     /* -1 out of range */
MSLAM_API const char *mslam_result_token_text(const mslam_result *r, int i); /* NULL out of range */
/* Recognition: the frame at which character i is emitted (greedy: the first of its run; beam
 * search: its likeliest, its spike, after its prefix entered the beam and before the next
 * character's, so that the times and probabilities do not depend on the beam size or the LM);
 * translation: -1 (no alignment). */
MSLAM_API int mslam_result_token_frame(const mslam_result *r, int i);
/* Recognition: the character's probability at that frame; translation: p(character | before). */
MSLAM_API float mslam_result_token_prob(const mslam_result *r, int i);
/* Words: the runs of characters between spaces, in order (a language written without spaces
 * gives one per run), each with the geometric mean of its characters' probabilities. Recognition:
 * from the frame at which CTC emits its first character to the frame after its last (CTC emits a
 * character at or a little after its sound); translation: both -1. Out of range: NULL, -1, 0. */
MSLAM_API int mslam_result_n_words(const mslam_result *r);
MSLAM_API const char *mslam_result_word_text(const mslam_result *r, int w);
MSLAM_API int mslam_result_word_start_frame(const mslam_result *r, int w);
MSLAM_API int mslam_result_word_end_frame(const mslam_result *r, int w);
MSLAM_API float mslam_result_word_prob(const mslam_result *r, int w);
/* Frames the result covers: [start, end). */
MSLAM_API int mslam_result_start_frame(const mslam_result *r);
MSLAM_API int mslam_result_end_frame(const mslam_result *r);
/* Recognition: the part of r from frame `frame` on, as a result of its own: the characters
 * emitted at that frame or later, their frames counted from there, its frames [0, end - frame),
 * and text, words and confidence of those characters alone. For audio decoded with some before
 * it as context (the elements do so after a max-duration cut, so that a character whose sound
 * the cut split is not heard again at the next caption's start): decode from a little earlier,
 * keep the part from where the audio of interest begins. NULL, with an error, for a NULL
 * argument, a translation with characters (they have no frames), or a frame outside r's
 * [start, end] (its end gives an empty part). */
MSLAM_API mslam_result *mslam_result_from_frame(const mslam_model *model, const mslam_result *r, int frame);
MSLAM_API void mslam_result_free(mslam_result *r);

/* 16 kHz mono PCM -> text in the language spoken (CTC head). params NULL: defaults. NULL on
 * failure. Audio shorter than one frame gives an empty result. Memory grows with the length (an
 * hour: about 1.7 GB with the bundled model); time too under a chunk mask, but with full context
 * (the default, chunk_frames 0) it grows with the square of the length: for recordings of more
 * than a few minutes set chunk_frames (the elements stream with 8, seeing 4 chunks to the left)
 * or cut the audio into utterances (as the elements do). The same holds for every call here that
 * encodes PCM. The call transcribes whatever it is given: silence or noise can come out as a
 * stray character or two of low confidence (the bundled model on 30 s of zeros: "ה", 0.27), so
 * gate on mslam_result_confidence or on the audio's energy, as the elements do (they caption
 * only after a frame their energy rule hears as voiced). */
MSLAM_API mslam_result *mslam_transcribe(mslam_model *model, const float *pcm, size_t n_samples,
                                         const struct mslam_decode_params *params);
/* 16 kHz mono PCM -> English text (decoder). From the speech frames, or, when the model's
 * translate_input is MSLAM_TRANSLATE_TRANSCRIPT, from its transcript (mslam_transcribe with the
 * same params, LM included, then mslam_translate_text); the result's frames are the audio's
 * either way. With a CTC head, English speech is its own translation: where the language
 * params->languages names, or else the one language ID finds (with a LID head), is "en", the
 * result is the transcript (mslam_transcribe's characters, probabilities and confidence, without
 * frames; for a decoder reading speech, with the LM where it can serve: a beam, and English among
 * its languages), as a decoder trained on other languages into English writes something else
 * from English. Otherwise, with a translation memory and a CTC head, the transcript is looked
 * up first (mslam_translate_memory) whatever the decoder reads, in that language. The audio is
 * encoded once. NULL on failure (beam_size outside 1..256 included). */
MSLAM_API mslam_result *mslam_translate(mslam_model *model, const float *pcm, size_t n_samples,
                                        const struct mslam_decode_params *params);
/* UTF-8 text in one of the model's languages -> English text: the text path's frames (one per
 * character, mslam_encode_text with full context) through the decoder; what mslam_translate
 * does with the transcript for a model whose translate_input is MSLAM_TRANSLATE_TRANSCRIPT. A
 * character outside the vocabulary is an error naming it; "" gives an empty result. Text that
 * params->languages says is English ("en" alone) is its own translation, each character
 * certain. Otherwise, with a translation memory the memory is asked first
 * (mslam_translate_memory): text it knows is translated from it, characters outside the
 * vocabulary or not. Text that is not valid UTF-8 is an error naming the byte. NULL on failure. */
MSLAM_API mslam_result *mslam_translate_text(mslam_model *model, const char *utf8,
                                             const struct mslam_decode_params *params);
/* 16 kHz mono PCM -> probs (n_langs floats, indexed as mslam_model_lang): the probability of each
 * language among params->languages (0 for the others). Returns the index of the most probable
 * language, or a negative error (an unknown code in params->languages is named; audio shorter
 * than one frame is an error). */
MSLAM_API int mslam_identify_language(mslam_model *model, const float *pcm, size_t n_samples,
                                      const struct mslam_decode_params *params, float *probs);

/* The translation memory's English for UTF-8 text (a transcript: the memory's sentences are in
 * the normal form the CTC head writes), as a result over frames [0, characters of text): 1 and
 * *out set (free it) when the nearest known sentence (see "translation memory") is at least
 * params->tm_min_similarity similar and its translation's characters are all in the
 * vocabulary; 0 and *out NULL when not, or when params has no memory (the decoder is to
 * translate); a negative error otherwise. mslam_translate_text does this before its decoder. */
MSLAM_API int mslam_translate_memory(mslam_model *model, const char *utf8, const struct mslam_decode_params *params,
                                     mslam_result **out);

/* The same on encoder frames (n_frames x d_model, e.g. from a stream or mslam_encode_pcm), for
 * callers that segment the audio themselves or encode it once for several calls: what
 * mslam_transcribe, mslam_translate (for a decoder reading speech) and mslam_identify_language do
 * after encoding. A value that is not finite is an error naming its frame; no frames give an
 * empty result. mslam_translate_frames runs the decoder on the frames whatever the model's
 * translate_input: on a model whose decoder reads the transcript (MSLAM_TRANSLATE_TRANSCRIPT, the
 * bundled one) it reads what it was not trained on and writes unrelated English, without an
 * error (eval --st-input speech measures just that): there, mslam_transcribe_frames and then
 * mslam_translate_text on its text translate, as mslam_translate does. */
MSLAM_API mslam_result *mslam_transcribe_frames(mslam_model *model, const float *frames, int n_frames,
                                                const struct mslam_decode_params *params);
MSLAM_API mslam_result *mslam_translate_frames(mslam_model *model, const float *frames, int n_frames,
                                               const struct mslam_decode_params *params);
MSLAM_API int mslam_identify_language_frames(mslam_model *model, const float *frames, int n_frames,
                                             const struct mslam_decode_params *params, float *probs);
/* CTC log-probabilities: frames (n_frames x d_model) -> log_probs (n_frames x vocab_size); id 0
 * is the blank. Returns 0 or a negative error (a frame's value that is not finite is named). */
MSLAM_API int mslam_ctc_log_probs(mslam_model *model, const float *frames, int n_frames, float *log_probs);

/* ---- incremental recognition ----
 * Fed encoder frames chunk by chunk (from mslam_stream_read), it keeps the best text of the open
 * segment up to date. Endpointing is the caller's: when trailing_blanks says the speaker paused
 * long enough (or the caption is long enough), mslam_ctc_decoder_finish closes the segment and
 * the next frame opens a new one. Frame numbers count from creation or the last reset. Silence
 * and noise can come out as a stray character of low confidence (see mslam_transcribe): gate a
 * segment on its confidence or the audio's energy. Streaming frames (a chunk mask) transcribe,
 * identify and translate less well than full context: for the final result of a closed segment,
 * keep its audio and run mslam_transcribe, mslam_identify_language or mslam_translate on it (the
 * elements' second pass).
 * A decoder keeps the model referenced by pointer: free the decoder before the model. */
typedef struct mslam_ctc_decoder mslam_ctc_decoder;

/* params: beam_size (1: greedy), token_min_logp, n_threads, and an LM (lm, lm_weight, lm_bonus)
 * with beam_size 2 or more and languages naming the one language spoken (a stream cannot wait
 * for language ID); a code in languages the model lacks is an error. NULL on failure. The
 * decoder keeps the LM referenced by pointer too (the languages string it does not keep): free
 * the decoder before the LM. */
MSLAM_API mslam_ctc_decoder *mslam_ctc_decoder_new(mslam_model *model,
                                                   const struct mslam_decode_params *params);
/* Encoder frames, n_frames x d_model. Returns 0 or a negative error (a value that is not finite
 * is named, and the decoder takes none of the frames). */
MSLAM_API int mslam_ctc_decoder_push_frames(mslam_ctc_decoder *dec, const float *frames, int n_frames);
/* Or CTC log-probabilities, n_frames x vocab_size (mslam_ctc_log_probs); NaN or a value above 0
 * (beyond 0.01 of rounding) is an error naming the frame and token, -INFINITY is a probability 0. */
MSLAM_API int mslam_ctc_decoder_push_log_probs(mslam_ctc_decoder *dec, const float *log_probs,
                                               int n_frames);
/* The open segment's current best text (it may still change). Caller frees. NULL on failure. */
MSLAM_API mslam_result *mslam_ctc_decoder_partial(mslam_ctc_decoder *dec);
/* Closes the open segment and returns its final text; the next frame opens a new segment, which
 * continues a character the last frames were in (closed mid-character, its next frames are not
 * a second one; after mslam_ctc_decoder_reset they are). Caller frees. NULL on failure. */
MSLAM_API mslam_result *mslam_ctc_decoder_finish(mslam_ctc_decoder *dec);
/* Frames at the end of the open segment whose most likely label is the blank (a pause). */
MSLAM_API int mslam_ctc_decoder_trailing_blanks(const mslam_ctc_decoder *dec);
/* Blank probability of the last frame fed (1 before any frame). */
MSLAM_API float mslam_ctc_decoder_blank_prob(const mslam_ctc_decoder *dec);
/* Frames fed since creation or the last reset. */
MSLAM_API int mslam_ctc_decoder_n_frames(const mslam_ctc_decoder *dec);
/* Drops the open segment and starts again at frame 0. */
MSLAM_API void mslam_ctc_decoder_reset(mslam_ctc_decoder *dec);
MSLAM_API void mslam_ctc_decoder_free(mslam_ctc_decoder *dec);

#ifdef __cplusplus
}
#endif

#endif /* MSLAM_H */
