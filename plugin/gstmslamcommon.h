/* What the three mslam elements have in common.
 *
 * - A model cache: elements in one process that load the same file share one copy of the
 *   weights (refcounted by canonical path and file identity).
 * - GstMslamBase, the abstract element under mslamasr, mslamtranslate and mslamlid: the sink pad
 *   (16 kHz mono F32LE or S16LE), the common properties (model, device, latency, n-threads,
 *   languages), the model and the streaming encoder from READY->PAUSED to PAUSED->READY, audio
 *   conversion to F32, the audio timeline (sample and encoder-frame index -> buffer time, with
 *   segments, seeks and discontinuities), an energy voice-activity rule, EOS, FLUSH and LATENCY.
 *   Subclasses get encoder frames as they come out of the stream.
 */
#ifndef GST_MSLAM_COMMON_H
#define GST_MSLAM_COMMON_H

#include <gst/audio/audio.h>
#include <gst/gst.h>
#include <mslam.h>

G_BEGIN_DECLS

/* ---- model cache ---- */

/* The device property: where the model's full-context encoder passes run (enum mslam_device). */
typedef enum
{
  GST_MSLAM_DEVICE_AUTO,
  GST_MSLAM_DEVICE_CPU,
  GST_MSLAM_DEVICE_VULKAN,
} GstMslamDevice;

/* The model file elements load when their `model` property is not set: $MSLAM_MODEL when set
 * and not empty, else the installed default model; *from (when from is not NULL) says which. */
const gchar *gst_mslam_default_model_path (const gchar ** from);

/* Loads path for device, or takes another reference to the copy already loaded from the same
 * file for the same device. NULL on failure, with *reason (free it) saying why. */
mslam_model *gst_mslam_model_acquire (const gchar * path, GstMslamDevice device,
    gchar ** reason);
/* Drops one reference; the last one frees the weights. */
void gst_mslam_model_release (mslam_model * model);

/* What the elements take: 16 kHz mono, 32-bit float or 16-bit integer. */
#define GST_MSLAM_AUDIO_CAPS "audio/x-raw, format = (string) { F32LE, S16LE }, " \
    "rate = (int) 16000, channels = (int) 1, layout = (string) interleaved"

/* ---- timing ---- */

/* Samples per encoder frame (40 ms: 10 ms log-mel hop, subsampled 4x). */
#define GST_MSLAM_FRAME_SAMPLES 640
#define GST_MSLAM_FRAME_DURATION (40 * GST_MSECOND)
/* An encoder frame t reads log-mel frames 4t .. 4t+6, that is samples [640 t, 640 t + 1360): a
 * chunk's last frame needs 45 ms of audio after the chunk. */
#define GST_MSLAM_FRAME_WINDOW_SAMPLES 1360
#define GST_MSLAM_LOOKAHEAD \
  ((GST_MSLAM_FRAME_WINDOW_SAMPLES - GST_MSLAM_FRAME_SAMPLES) * GST_SECOND / MSLAM_SAMPLE_RATE)

/* ---- energy rule ---- */

/* Voice activity from the energy of 10 ms blocks about their mean: a block is voiced when it is
 * above an absolute floor and well above the running noise floor (which follows the quietest
 * blocks, creeps up slowly, and rises at once to the quietest of the last
 * GST_MSLAM_VAD_FLOOR_BLOCKS when none of them was voiced above it, so that steady background
 * noise stops counting as speech, those blocks' frames too). The frames
 * remembered (82 s) outlast the longest caption and LID window (60 s) and a chunk. */
#define GST_MSLAM_VAD_FRAMES 2048
/* The blocks (10 ms each) whose quietest the noise floor rises to at once where none stood out
 * from it as a voice does: steady noise is learnt in this long. */
#define GST_MSLAM_VAD_FLOOR_BLOCKS 150
/* 10-ms blocks remembered: those of the frames remembered */
#define GST_MSLAM_VAD_BLOCKS (GST_MSLAM_VAD_FRAMES * GST_MSLAM_FRAME_SAMPLES / 160)

typedef struct
{
  gdouble threshold_db;         /* never a voice below this (dBFS): voice-threshold */
  gdouble noise_db;             /* running noise floor */
  /* (a ring of GST_MSLAM_VAD_BLOCKS, allocated: a GType's instance is under 64 KB) */
  gfloat *block_db;             /* the blocks' energies (dBFS): block b at b % size */
  gfloat *block_rise_db;        /* their sample-to-sample differences' (dB), as block_db */
  gfloat last_sample;           /* the last block's last sample (have_last: there was one) */
  gboolean have_last;
  guint n_recent;               /* blocks this timeline has, up to GST_MSLAM_VAD_FLOOR_BLOCKS */
  gfloat block[160];            /* samples of the unfinished block */
  guint n_block;
  guint64 n;                    /* samples seen */
  gint64 voiced_start;          /* first sample of the current voiced run; -1 while silent */
  gint64 silence_start;         /* first sample of the current silent run; -1 while voiced */
  gint64 last_voiced_end;       /* end of the last voiced block; -1 when none yet */
  guint8 frame_voiced[GST_MSLAM_VAD_FRAMES]; /* encoder frame f (640 samples) at f % size */
} GstMslamVad;

/* The energy of n samples about their mean (their sum of squares less the DC offset's part): a
 * microphone's offset is no sound. */
gdouble gst_mslam_energy (const gfloat * pcm, gsize n);
/* Allocates the ring and forgets everything; gst_mslam_vad_clear frees it. */
void gst_mslam_vad_init (GstMslamVad * vad);
void gst_mslam_vad_clear (GstMslamVad * vad);
/* Forgets everything, the noise floor too (a new stream). */
void gst_mslam_vad_reset (GstMslamVad * vad);
/* A new timeline of the same stream (a seek, a gap, a discontinuity): forgets what was heard
 * but keeps the noise floor, which takes seconds of steady noise heard as speech to learn. */
void gst_mslam_vad_restart (GstMslamVad * vad);
void gst_mslam_vad_push (GstMslamVad * vad, const gfloat * pcm, gsize n);
/* The timeline ends after the samples pushed: the encoder's last frame (n / 640 - 1) also reads
 * the n % 640 samples after it (mslam's tail padding), so a voiced block among them counts for
 * it. Call before the last frames are judged; a restart follows. */
void gst_mslam_vad_end (GstMslamVad * vad);
/* Whether encoder frame f (samples [640 f, 640 f + 640)) holds a voiced block; frames older
 * than the last GST_MSLAM_VAD_FRAMES read as unvoiced. */
gboolean gst_mslam_vad_frame_voiced (const GstMslamVad * vad, guint64 f);
/* Whether what was voiced in the encoder frames [start, end) is a steady sound, not a voice: the
 * 50-ms energies of the blocks from its first voiced frame to its last lie within a few dB of
 * one another, both as heard and tilted up 6 dB an octave (the samples' differences: speech over
 * loud rumble is no steady sound, nor speech in loud hiss as heard) (steady noise that starts
 * after a silence is voiced until the floor has learnt it, 1.5 s later; rumble, whose 10-ms
 * energies vary as a voice's, is voiced in bursts; a tone).
 * Where that span is under 1.5 s, the whole voiced run up to that, and where that too is short,
 * what was heard before it (at a stream's start, after it) as well, from which its own loudest
 * must not stand out. No voiced frame: all of [start, end). FALSE where under a second was
 * heard. */
gboolean gst_mslam_vad_steady (const GstMslamVad * vad, guint64 start, guint64 end);
/* Encoder frames for a duration in milliseconds, rounded to the nearest frame, at least one. */
gint gst_mslam_frames_for_ms (guint ms);

/* Whether one of the encoder frames [start, end) holds a voiced block: whether anything was
 * said there. */
gboolean gst_mslam_vad_any_voiced (const GstMslamVad * vad, guint64 start, guint64 end);
/* How many of the encoder frames [start, end) hold a voiced block. */
guint64 gst_mslam_vad_n_voiced (const GstMslamVad * vad, guint64 start, guint64 end);

/* ---- kept audio, for a second pass ---- */

/* The samples from index `first` of the timeline on (n of them). */
typedef struct
{
  gfloat *pcm;
  gsize n, cap;
  guint64 first;
} GstMslamAudioHistory;

/* Appends pcm, whose first sample has timeline index `first` (the history's end; anything else
 * is logged and the history starts again at `first`). */
void gst_mslam_audio_history_append (GstMslamAudioHistory * h, const gfloat * pcm, gsize n,
    guint64 first);
/* Forgets the samples before index `from`. */
void gst_mslam_audio_history_drop_before (GstMslamAudioHistory * h, guint64 from);
/* Empty, starting at sample 0 (memory kept). */
void gst_mslam_audio_history_reset (GstMslamAudioHistory * h);
void gst_mslam_audio_history_free (GstMslamAudioHistory * h);

/* ---- GstMslamBase ---- */

#define GST_TYPE_MSLAM_DEVICE (gst_mslam_device_get_type ())
GType gst_mslam_device_get_type (void);

#define GST_TYPE_MSLAM_BASE (gst_mslam_base_get_type ())
#define GST_MSLAM_BASE(obj) (G_TYPE_CHECK_INSTANCE_CAST ((obj), GST_TYPE_MSLAM_BASE, GstMslamBase))
#define GST_MSLAM_BASE_CLASS(klass) (G_TYPE_CHECK_CLASS_CAST ((klass), GST_TYPE_MSLAM_BASE, GstMslamBaseClass))
#define GST_MSLAM_BASE_GET_CLASS(obj) (G_TYPE_INSTANCE_GET_CLASS ((obj), GST_TYPE_MSLAM_BASE, GstMslamBaseClass))

typedef struct _GstMslamBase GstMslamBase;
typedef struct _GstMslamBaseClass GstMslamBaseClass;

struct _GstMslamBase
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* properties (object lock) */
  gchar *model_path;            /* NULL: gst_mslam_default_model_path (NULL) */
  GstMslamDevice device;
  guint latency_ms;
  gint n_threads;
  gchar *languages;             /* comma-separated codes; NULL: every language of the model */
  gboolean second_pass;
  guint stall_timeout_ms;       /* 0: never */
  guint discont_wait_ms;        /* 0: a drift of the timestamps is acted on at once */
  gdouble voice_threshold_db;   /* the energy rule's absolute floor (dBFS) */

  gboolean ending;              /* while drain runs for the end of the audio (EOS, a segment's end,
                                 * a long gap), not for a new timeline that goes on after it */
  gboolean running;             /* from a successful start to stop: the settings start took, not
                                 * the properties, stand (object lock; gst_mslam_base_setting) */

  /* from READY->PAUSED to PAUSED->READY (streaming thread once running) */
  mslam_model *model;
  gchar *model_file;            /* the path loaded */
  struct mslam_model_config config;
  mslam_stream *stream;
  gint chunk_frames;            /* the latency started with; the LATENCY query reads it through
                                 * gst_mslam_base_setting */
  gint threads;                 /* n-threads as passed to the library (<= 0: the model's) */
  gchar *lang_list;             /* the languages property as started with (NULL: all) */
  gint *lang_ids;               /* allowed language indices of the model (n_lang_ids of them) */
  gint n_lang_ids;              /* 0: all */
  const mslam_lm *lid_lm;       /* language ID adds lid_lm_weight * the transcript's LM score (NULL: not) */
  gfloat lid_lm_weight;
  gboolean running_second_pass;
  GstMslamAudioHistory audio;   /* with second-pass: the timeline's audio the subclass still needs
                                 * (it drops what it no longer does) */

  /* A live source that stops sending (a sender gone; a discontinuous transmission that sends
   * nothing in silence) is a long gap once stall-timeout passes without audio: the watch thread
   * waits on the element's clock for stall_deadline, which each buffer and serialized event moves
   * (watch_lock), and then ends the timeline under the sink pad's stream lock, as the streaming
   * thread would, unless the streaming thread was in the element since (watch_activity). */
  GThread *watch_thread;
  GMutex watch_lock;
  GCond watch_cond;
  gboolean watch_quit;
  GstClockTime stall_deadline;  /* clock time; GST_CLOCK_TIME_NONE: nothing to watch */
  guint64 watch_activity;       /* buffers and serialized events handled */
  GstClockID watch_id;          /* the wait in progress, to unschedule */
  GstClockTime watch_until;     /* its time */
  /* FLUSH_STARTs received, and their count when the element last handled a FLUSH_STOP (atomic;
   * 0 from each start): FLUSH_STOP clears the pad's flushing flag before it waits for the work
   * under the stream lock, whose results the flush has thrown away all the same, so the element
   * flushes until it has handled the FLUSH_STOP */
  gint flush_starts;
  gint flush_starts_stopped;
  gint upstream_live;           /* the latency query's answer at the timeline's first buffer
                                 * (streaming thread; atomic, as PLAYING reads it) */

  GstAudioInfo info;
  gboolean have_info;
  GstCaps *refused_caps;        /* the last caps refused, not to post their error again */
  GstFormat refused_format;     /* the format of the last segment refused, for the same reason
                                 * (GST_FORMAT_UNDEFINED: none) */
  gboolean reverse_said;        /* a segment played backwards was warned of (once a start) */
  GstSegment segment;

  /* the audio timeline: sample 0 of the stream is at buffer time t0 */
  gboolean started;
  GstClockTime t0;
  guint64 n_samples;            /* samples pushed since t0 */
  guint64 n_frames;             /* encoder frames delivered since t0 */
  /* A buffer time more than the tolerance off the samples counted (a drift) is acted on at once
   * for a buffer marked DISCONT or the first after a dropout's GAP, else once the drift has lasted
   * discont-wait (as GstAudioBaseSink does): until then the samples are continuous. */
  GstClockTime drift_since;     /* the buffer time at which the drift was first seen; NONE: none */
  gboolean resync;              /* the next buffer's drift is acted on at once (after a GAP) */
  /* The end of the text put out in this segment (NONE: none yet): a timeline that starts again
   * earlier (a live source's clock that jumped back) puts no text before it. Kept across
   * timelines; a flush or another segment forgets it. */
  GstClockTime text_end;
  GstMslamVad vad;

  gfloat *pcm;                  /* conversion buffer */
  gsize pcm_cap;
  guint8 split_sample[4];       /* the first bytes of a sample whose rest is in the next buffer */
  guint n_split;                /* how many (0: the last buffer ended with a whole sample) */
  gfloat *frames;               /* encoder frames read from the stream */
  gsize frames_cap;             /* in frames */

  /* passthrough: with hold_max set (by the subclass' reset, for each timeline), the audio, and
   * the serialized events that come after it, wait in `held` until gst_mslam_base_release_held ()
   * or until the audio waiting lasts hold_max; then nothing more is held (streaming thread). The
   * held audio is copied (upstream's buffers may be a small pool's); a serialized query lets it
   * go first; a flush drops it but keeps its sticky events (CAPS, TAG...) on the source pad. */
  GstClockTime hold_max;        /* 0: nothing is held */
  GQueue held;                  /* GstBuffer and GstEvent, oldest first */
  GstClockTime held_duration;
};

struct _GstMslamBaseClass
{
  GstElementClass parent_class;

  /* TRUE: the source pad carries the audio unchanged (mslamlid); FALSE: text/x-raw. */
  gboolean passthrough;
  /* The language of what the source pad carries, for its stream tags (language-code), given the
   * upstream stream tags it goes with (NULL: none known): the text's (mslamtranslate: en), the
   * audio's as decided so far (mslamlid), or NULL: the audio's as upstream's tags say
   * (mslamasr), or none yet. */
  const gchar *(*stream_language) (GstMslamBase * self, const GstTagList * upstream);
  /* The audio held back (hold_max) reached the limit before the subclass released it: called just
   * before it goes on (optional). */
  void (*hold_expired) (GstMslamBase * self);

  /* The model is loaded (self->model, config, lang_ids, chunk_frames set): check that it has what
   * the element needs and allocate the element's state. FALSE fails READY->PAUSED, after the
   * subclass posted the element error: gst_mslam_base_model_error for what the model lacks,
   * gst_mslam_base_file_error for a file another property names. */
  gboolean (*start) (GstMslamBase * self);
  /* Frees what start allocated (also after a failed start). */
  void (*stop) (GstMslamBase * self);
  /* New encoder frames (n x config.d_model floats); first is the index of frames[0] on the
   * stream's timeline (see gst_mslam_base_frame_time). Called on the streaming thread, after the
   * audio that produced them went through the energy rule (self->vad). */
  GstFlowReturn (*process) (GstMslamBase * self, const gfloat * frames, gint n, guint64 first);
  /* How many frames the next call of process () may bring at most (at least 1), asked before
   * each call. Streaming thread. NULL: all the frames that are ready. */
  gint (*process_limit) (GstMslamBase * self);
  /* The audio after the frames delivered so far arrived (self->n_samples, self->vad are up to
   * date) but completed no chunk: a chance to act on the energy rule between chunks. */
  GstFlowReturn (*audio) (GstMslamBase * self);
  /* End of the stream or a discontinuity: every frame has been delivered; emit what is pending. */
  GstFlowReturn (*drain) (GstMslamBase * self);
  /* A flush, or the start of a new timeline: forget what is pending. */
  void (*reset) (GstMslamBase * self);
  /* The longest the element's output can come after the audio it is about (beyond compute), for
   * the LATENCY query: from the settings it runs with once started, else from its properties.
   * Any thread. NULL: the output comes with the audio. */
  GstClockTime (*latency) (GstMslamBase * self);
};

/* The stream-scope tag event sticky on pad (upstream's on a sink pad, what went downstream on a
 * source pad; a STREAM_START forgets it, a flush keeps it), a reference; NULL: none. */
GstEvent *gst_mslam_pad_stream_tags (GstPad * pad);

GType gst_mslam_base_get_type (void);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstMslamBase, gst_object_unref)

/* Property ids of the base class; subclasses number theirs from GST_MSLAM_BASE_N_PROPS. */
enum
{
  GST_MSLAM_BASE_PROP_0,
  GST_MSLAM_BASE_PROP_MODEL,
  GST_MSLAM_BASE_PROP_DEVICE,
  GST_MSLAM_BASE_PROP_LATENCY,
  GST_MSLAM_BASE_PROP_N_THREADS,
  GST_MSLAM_BASE_PROP_LANGUAGES,
  GST_MSLAM_BASE_PROP_SECOND_PASS,
  GST_MSLAM_BASE_PROP_STALL_TIMEOUT,
  GST_MSLAM_BASE_PROP_DISCONT_WAIT,
  GST_MSLAM_BASE_PROP_VOICE_THRESHOLD,
  GST_MSLAM_BASE_N_PROPS
};

/* Buffer time of sample n or encoder frame i of the current timeline. */
GstClockTime gst_mslam_base_sample_time (GstMslamBase * self, guint64 n);
GstClockTime gst_mslam_base_frame_time (GstMslamBase * self, guint64 i);

/* A setting as the element runs with it, for any thread (the LATENCY query): while it runs,
 * *running, what start made of the property; stopped, what start would make of the property
 * now: convert (*property), or *property itself when convert is NULL. Both are read under the
 * object lock: a property set while the element runs changes nothing until it starts again. */
gint gst_mslam_base_setting (GstMslamBase * self, const gint * running, const guint * property,
    gint (*convert) (guint));

/* Encoder frames per chunk: the running stream's once started, else the latency property's.
 * Any thread. */
gint gst_mslam_base_chunk_frames (GstMslamBase * self);

/* Pushes the held audio and events downstream (passthrough, see hold_max) and holds nothing
 * more. Streaming thread. */
GstFlowReturn gst_mslam_base_release_held (GstMslamBase * self);

/* A stream tag event of upstream's stream tags (sticky on the sink pad; none: an empty list) with
 * the language of the stream_language hook: a stream tag event stands for all of a stream's tags,
 * so one of the language alone would drop the others. NULL when the hook names no language. */
GstEvent *gst_mslam_base_language_tag (GstMslamBase * self);

/* A property read only at start (GST_PARAM_MUTABLE_READY) set while the element runs: a warning
 * that it applies from the next start. Call from set_property after the object lock is let go. */
void gst_mslam_base_warn_setting_waits (GstMslamBase * self, GParamSpec * pspec);

/* Posts the element error for a model that cannot serve the element as it is set up (a head the
 * element needs): the headline names the model file and the reason (printf format). */
void gst_mslam_base_model_error (GstMslamBase * self, const gchar * format, ...) G_GNUC_PRINTF (2, 3);

/* Posts the element error for a file that the property `property` names and that cannot be used
 * (an LM, a translation memory): the headline names both. */
void gst_mslam_base_file_error (GstMslamBase * self, const gchar * property, const gchar * path,
    const gchar * reason);

/* Language code of the model's language index (NULL when out of range). */
const gchar *gst_mslam_base_lang (GstMslamBase * self, gint index);

/* Language identification on frames restricted to the `languages` property: fills up to
 * max_out (index, probability) pairs, most probable first, probabilities renormalised over the
 * allowed languages. Returns how many, or -1 on failure (*reason set). */
gint gst_mslam_base_identify (GstMslamBase * self, const gfloat * frames, gint n,
    gint * out_index, gfloat * out_prob, gint max_out, gchar ** reason);

/* Loads the character LM at path for the element's model, an LM of transcripts (translations
 * FALSE: the property lm) or of English translations (TRUE: translation-lm). NULL after an
 * element error naming the property and the file (gst_mslam_base_file_error) when the file
 * cannot be read, was built for another vocabulary, is of the other kind, or (transcripts) the
 * model has no CTC head to give it a transcript. */
mslam_lm *gst_mslam_base_load_lm (GstMslamBase * self, const gchar * path, gboolean translations);

/* The second pass: encoder frames [start, end) of the timeline computed again from the audio
 * kept in self->audio: the frames' samples and up to 639 after them, as far as it has them (the
 * last frame reads those, and mslam_encode_pcm's tail padding after them), with full attention
 * context as mslam_encode_pcm does for a file: the result is the offline API's on those samples. Returns n x
 * d_model frames (mslam_free them; n <= end - start), or NULL without second-pass, when the audio
 * is not kept (logged) or encoding fails (logged): the caller keeps the stream's frames. */
gfloat *gst_mslam_base_encode_again (GstMslamBase * self, guint64 start, guint64 end, gint * n);

/* Posts an element message whose structure is s (taken), unless the element is flushing (a
 * seek or a stop threw the audio away). */
void gst_mslam_base_post (GstMslamBase * self, GstStructure * s);
/* Whether a flush (a flushing seek) or a stop has begun on the sink pad: the work under way is
 * for audio that is thrown away. Any thread. */
gboolean gst_mslam_base_flushing (GstMslamBase * self);
/* mslam_abort_callback of the element's full-context passes and searches (user data: the
 * element): they stop when it is flushing, as a seek or a stop should not wait for them. */
int gst_mslam_base_abort_if_flushing (void *self);

G_END_DECLS

#endif
