/* GstMslamCaption: captions from encoder frames (see gstmslamcaption.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmslamcaption.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_mslam_caption_debug);
#define GST_CAT_DEFAULT gst_mslam_caption_debug

enum
{
  PROP_0,
  PROP_BEAM_SIZE = GST_MSLAM_BASE_N_PROPS,
  PROP_PARTIAL_RESULTS,
  PROP_PAUSE,
  PROP_MAX_DURATION,
  PROP_LM,
  PROP_LM_WEIGHT,
  PROP_LM_BONUS,
  PROP_NO_REPEAT_NGRAM,
  PROP_LINE_LENGTH,
  PROP_MAX_LINES,
  PROP_MIN_CONFIDENCE,
  PROP_N,
};
G_STATIC_ASSERT (PROP_N == GST_MSLAM_CAPTION_N_PROPS);

#define DEFAULT_BEAM_SIZE 4
#define DEFAULT_PAUSE_MS 300
#define DEFAULT_MAX_DURATION_MS 6000

/* A caption starts this many frames before its first character (CTC emits a character once most
 * of its sound has been heard) and ends this many after its last one (the end of that sound). */
#define LEAD_FRAMES 3
#define TAIL_FRAMES 3
/* A trained model's CTC emits a character up to this many frames after its sound ends (the
 * default model's worst lag): the sound of a caption's first character, which makes it speech
 * rather than the model's noise in silence, may lie this much further back than the lead. */
#define CTC_LAG_FRAMES 6
/* Frames kept before an open caption: the lead, and context for translation. */
#define KEEP_FRAMES 12
/* Audio kept before the kept frames: a caption that a max-duration cut opened is encoded again
 * from this many frames (320 ms) before it, and of the transcript only what CTC emits from its
 * first frame on is its own. Without that context a character whose sound the cut split ("not |
 * be": no blank between t and the space) was heard again at its first frame ("kodnot |
 * tbeopend"), and a word's first sound was heard wrong; with it, the cuts of continuous speech
 * cost less (models/results/session36/cuts/). */
#define PRIME_FRAMES 8
/* Without a CTC head, partial results come at most this often (frames). */
#define PARTIAL_EVERY_FRAMES 25

/* Registered by hand: the instance init needs the class of the element being made (see
 * gst_mslam_base_get_type). */
static GstMslamBaseClass *gst_mslam_caption_parent_class = NULL;
static void gst_mslam_caption_class_init (gpointer g_class, gpointer data);
static void gst_mslam_caption_init (GTypeInstance * instance, gpointer g_class);

GType
gst_mslam_caption_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type)) {
    static const GTypeInfo info = {
      sizeof (GstMslamCaptionClass), NULL, NULL, gst_mslam_caption_class_init,
      NULL, NULL, sizeof (GstMslamCaption), 0, gst_mslam_caption_init, NULL,
    };
    GType t = g_type_register_static (GST_TYPE_MSLAM_BASE, "GstMslamCaption", &info,
        G_TYPE_FLAG_ABSTRACT);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void gst_mslam_caption_finalize (GObject * object);
static void gst_mslam_caption_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_mslam_caption_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static gboolean caption_start (GstMslamBase * base);
static void caption_stop (GstMslamBase * base);
static GstFlowReturn caption_process (GstMslamBase * base, const gfloat * frames, gint n, guint64 first);
static GstFlowReturn caption_audio (GstMslamBase * base);
static GstFlowReturn caption_drain (GstMslamBase * base);
static void caption_reset (GstMslamBase * base);
static gint caption_process_limit (GstMslamBase * base);
static GstClockTime caption_latency (GstMslamBase * base);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("text/x-raw, format = (string) utf8"));

static void
gst_mslam_caption_class_init (gpointer g_class, gpointer data)
{
  GstMslamCaptionClass *klass = g_class;
  (void) data;
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstMslamBaseClass *base_class = GST_MSLAM_BASE_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_mslam_caption_debug, "mslamcaption", 0, "mslam captions");
  gst_mslam_caption_parent_class = g_type_class_peek_parent (klass);

  gobject_class->finalize = gst_mslam_caption_finalize;

  gst_element_class_add_static_pad_template (GST_ELEMENT_CLASS (klass), &src_template);

  base_class->passthrough = FALSE;
  base_class->start = caption_start;
  base_class->stop = caption_stop;
  base_class->process = caption_process;
  base_class->process_limit = caption_process_limit;
  base_class->audio = caption_audio;
  base_class->drain = caption_drain;
  base_class->reset = caption_reset;
  base_class->latency = caption_latency;

  klass->partial_default = TRUE;
  klass->beam_blurb = "Beam size of the search (1: greedy)";

  gst_type_mark_as_plugin_api (GST_TYPE_MSLAM_CAPTION, 0);
}

void
gst_mslam_caption_class_install_properties (GstMslamCaptionClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  /* GObject does not inherit set/get_property: each class handles the properties it installs */
  gobject_class->set_property = gst_mslam_caption_set_property;
  gobject_class->get_property = gst_mslam_caption_get_property;
  g_object_class_install_property (gobject_class, PROP_BEAM_SIZE,
      g_param_spec_int ("beam-size", "Beam size", klass->beam_blurb, 1, 64, DEFAULT_BEAM_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_PARTIAL_RESULTS,
      g_param_spec_boolean ("partial-results", "Partial results",
          "Post element messages with the open caption's text as it grows (final = FALSE)",
          klass->partial_default,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_PAUSE,
      g_param_spec_uint ("pause", "Pause",
          "A pause this long (milliseconds of CTC blanks, or of silence by the energy rule) "
          "ends a caption", 80, 10000, DEFAULT_PAUSE_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MAX_DURATION,
      g_param_spec_uint ("max-duration", "Maximum duration",
          "Longest caption in milliseconds: speech without a pause is cut here at the latest, "
          "before the last word begun", 1000, 60000,
          DEFAULT_MAX_DURATION_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LINE_LENGTH,
      g_param_spec_uint ("line-length", "Line length",
          "Break the text buffers' lines between words so that none is longer than this many "
          "characters where a word allows (subtitles: 42; the messages keep one line; 0: one line)",
          0, 1000, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MAX_LINES,
      g_param_spec_uint ("max-lines", "Maximum lines",
          "With line-length: a caption of more lines goes out as several text buffers of at most "
          "this many lines, one after the other over its time, each from its first word's time "
          "(mslamtranslate: for a share in proportion to its characters; subtitles: 2; the message "
          "keeps the whole caption; 0: any number)",
          0, 100, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MIN_CONFIDENCE,
      g_param_spec_double ("min-confidence", "Minimum confidence",
          "Drop a final caption (its text and its message) whose confidence is below this: "
          "noise or music the energy rule hears as voiced comes out as a few stray characters of "
          "low confidence (mslamasr: the transcript's; mslamtranslate: the translation's; "
          "0: keep every one)", 0.0, 1.0, 0.0,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  if (klass->translates)
    g_object_class_install_property (gobject_class, PROP_NO_REPEAT_NGRAM,
        g_param_spec_int ("no-repeat-ngram", "No repeated n-grams",
            "No N characters twice in one translation, against decoder loops (0: off)", 0, 64,
            mslam_decode_default_params ().no_repeat_ngram,
            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  if (!klass->needs_ctc && !klass->translates)
    return;
  /* shallow fusion of a character LM into the CTC beam search of the transcript */
  g_object_class_install_property (gobject_class, PROP_LM,
      g_param_spec_string ("lm", "Language model",
          "Character LM file from `mslam-trainer lm` fused into the CTC beam search of the "
          "transcript (beam-size > 1): while streaming when `languages` names one language, else "
          "on each final caption in the language identified on it (NULL: none)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LM_WEIGHT,
      g_param_spec_float ("lm-weight", "LM weight", "Weight of the LM's log-probability", 0.0f, 10.0f,
          mslam_decode_default_params ().lm_weight,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LM_BONUS,
      g_param_spec_float ("lm-bonus", "LM bonus", "Score added per character with an LM", -20.0f, 20.0f,
          mslam_decode_default_params ().lm_bonus,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
}

static void
gst_mslam_caption_init (GTypeInstance * instance, gpointer g_class)
{
  GstMslamCaption *self = (GstMslamCaption *) instance;
  GstMslamCaptionClass *klass = g_class;
  self->beam_size = DEFAULT_BEAM_SIZE;
  self->partial_results = klass->partial_default;
  self->pause_ms = DEFAULT_PAUSE_MS;
  self->max_duration_ms = DEFAULT_MAX_DURATION_MS;
  self->open_frame = -1;
  self->out_end = GST_CLOCK_TIME_NONE;
  self->shift = GST_CLOCK_TIME_NONE;
  self->cut_frame = G_MAXUINT64;
  self->lm_weight = mslam_decode_default_params ().lm_weight;
  self->lm_bonus = mslam_decode_default_params ().lm_bonus;
  self->no_repeat_ngram = mslam_decode_default_params ().no_repeat_ngram;
}

static void
gst_mslam_caption_finalize (GObject * object)
{
  GstMslamCaption *self = GST_MSLAM_CAPTION (object);

  g_free (self->seg);
  g_free (self->last_partial);
  g_free (self->lm_path);
  G_OBJECT_CLASS (gst_mslam_caption_parent_class)->finalize (object);
}

static void
gst_mslam_caption_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstMslamCaption *self = GST_MSLAM_CAPTION (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_BEAM_SIZE:
      self->beam_size = g_value_get_int (value);
      break;
    case PROP_PARTIAL_RESULTS:
      self->partial_results = g_value_get_boolean (value);
      break;
    case PROP_PAUSE:
      self->pause_ms = g_value_get_uint (value);
      break;
    case PROP_MAX_DURATION:
      self->max_duration_ms = g_value_get_uint (value);
      break;
    case PROP_LM:
      g_free (self->lm_path);
      self->lm_path = g_value_dup_string (value);
      break;
    case PROP_LM_WEIGHT:
      self->lm_weight = g_value_get_float (value);
      break;
    case PROP_LM_BONUS:
      self->lm_bonus = g_value_get_float (value);
      break;
    case PROP_NO_REPEAT_NGRAM:
      self->no_repeat_ngram = g_value_get_int (value);
      break;
    case PROP_LINE_LENGTH:
      self->line_length = g_value_get_uint (value);
      break;
    case PROP_MAX_LINES:
      self->max_lines = g_value_get_uint (value);
      break;
    case PROP_MIN_CONFIDENCE:
      self->min_confidence = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
  gst_mslam_base_warn_setting_waits (GST_MSLAM_BASE (self), pspec);
}

static void
gst_mslam_caption_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstMslamCaption *self = GST_MSLAM_CAPTION (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_BEAM_SIZE:
      g_value_set_int (value, self->beam_size);
      break;
    case PROP_PARTIAL_RESULTS:
      g_value_set_boolean (value, self->partial_results);
      break;
    case PROP_PAUSE:
      g_value_set_uint (value, self->pause_ms);
      break;
    case PROP_MAX_DURATION:
      g_value_set_uint (value, self->max_duration_ms);
      break;
    case PROP_LM:
      g_value_set_string (value, self->lm_path);
      break;
    case PROP_LM_WEIGHT:
      g_value_set_float (value, self->lm_weight);
      break;
    case PROP_LM_BONUS:
      g_value_set_float (value, self->lm_bonus);
      break;
    case PROP_NO_REPEAT_NGRAM:
      g_value_set_int (value, self->no_repeat_ngram);
      break;
    case PROP_LINE_LENGTH:
      g_value_set_uint (value, self->line_length);
      break;
    case PROP_MAX_LINES:
      g_value_set_uint (value, self->max_lines);
      break;
    case PROP_MIN_CONFIDENCE:
      g_value_set_double (value, self->min_confidence);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static gboolean
caption_start (GstMslamBase * base)
{
  GstMslamCaption *self = GST_MSLAM_CAPTION (base);
  GstMslamCaptionClass *klass = GST_MSLAM_CAPTION_GET_CLASS (self);

  if (klass->needs_ctc && !base->config.ctc_head) {
    gst_mslam_base_model_error (base, "the model has no CTC head, which %s needs to recognise "
        "speech (train or export it with one)", GST_OBJECT_NAME (self));
    return FALSE;
  }

  GST_OBJECT_LOCK (self);
  self->decode = mslam_decode_default_params ();
  self->decode.beam_size = self->beam_size;
  self->pause_frames = gst_mslam_frames_for_ms (self->pause_ms);
  self->max_frames = gst_mslam_frames_for_ms (self->max_duration_ms);
  gchar *lm_path = self->lm_path && *self->lm_path ? g_strdup (self->lm_path) : NULL;
  self->decode.lm_weight = self->lm_weight;
  self->decode.lm_bonus = self->lm_bonus;
  self->decode.no_repeat_ngram = self->no_repeat_ngram;
  GST_OBJECT_UNLOCK (self);
  if (lm_path) {
    const gchar *problem = NULL;
    self->lm = gst_mslam_base_load_lm (base, lm_path, FALSE);
    if (!self->lm) {
      g_free (lm_path);
      return FALSE;
    }
    if (self->decode.beam_size < 2)
      problem = "an LM works in the beam search: set beam-size to 2 or more";
    /* one language named: the LM runs in the stream's search; otherwise each final caption is
     * decoded again with the LM of the language identified on it (see GstMslamCaptionClass),
     * which the LM also helps to identify, as in mslamlid */
    else if (base->n_lang_ids == 1)
      self->decode.lm = self->lm;
    else if (!base->config.lid_head)
      problem = "with an LM, `languages` must name the one language spoken (the model has no LID "
          "head to find it)";
    else {
      base->lid_lm = self->lm;
      base->lid_lm_weight = self->decode.lid_lm_weight;
    }
    if (problem)
      gst_mslam_base_file_error (base, "lm", lm_path, problem);
    g_free (lm_path);
    if (problem)
      return FALSE;
  }
  self->decode.n_threads = base->threads;
  self->decode.abort_callback = gst_mslam_base_abort_if_flushing;
  self->decode.abort_callback_user_data = base;
  self->decode_languages = g_strdup (base->lang_list);
  self->decode.languages = self->decode_languages;

  if (base->config.ctc_head) {
    /* (the stream's decoder stops for nothing: a flush resets it) */
    struct mslam_decode_params stream_decode = self->decode;
    stream_decode.abort_callback = NULL;
    self->ctc = mslam_ctc_decoder_new (base->model, &stream_decode);
    if (!self->ctc) {
      gst_mslam_base_model_error (base, "%s", mslam_last_error ());
      return FALSE;
    }
  }
  return klass->start ? klass->start (self) : TRUE;
}

static void
caption_stop (GstMslamBase * base)
{
  GstMslamCaption *self = GST_MSLAM_CAPTION (base);
  GstMslamCaptionClass *klass = GST_MSLAM_CAPTION_GET_CLASS (self);

  if (klass->stop)
    klass->stop (self);
  mslam_ctc_decoder_free (self->ctc);
  self->ctc = NULL;
  base->lid_lm = NULL;
  mslam_lm_free (self->lm);
  self->lm = NULL;
  self->decode.lm = NULL;
  g_free (self->decode_languages);
  self->decode_languages = NULL;
  self->decode.languages = NULL;
  g_free (self->seg);
  self->seg = NULL;
  self->seg_n = self->seg_cap = 0;
  g_free (self->last_partial);
  self->last_partial = NULL;
}

/* How long after its audio a caption can come out: it goes out when it ends, stamped with its
 * start, and ends at max-duration at the latest (caption_process_limit); the frames of its last one
 * come with their chunk, up to a chunk less a frame later, and the chunk waits for the encoder's
 * look-ahead. The GAP events of silence come a chunk and the lead after their audio
 * (caption_process), which is less. */
static GstClockTime
caption_latency (GstMslamBase * base)
{
  GstMslamCaption *self = GST_MSLAM_CAPTION (base);
  gint chunk = gst_mslam_base_chunk_frames (base);
  gint max_frames = gst_mslam_base_setting (base, &self->max_frames, &self->max_duration_ms,
      gst_mslam_frames_for_ms);

  return (max_frames + chunk - 1) * GST_MSLAM_FRAME_DURATION + GST_MSLAM_LOOKAHEAD;
}

static void
caption_reset (GstMslamBase * base)
{
  GstMslamCaption *self = GST_MSLAM_CAPTION (base);

  if (self->ctc)
    mslam_ctc_decoder_reset (self->ctc);
  self->ctc_first = 0;
  self->seg_n = 0;
  self->seg_first = 0;
  self->open_frame = -1;
  self->scan_frame = 0;
  self->out_end = GST_CLOCK_TIME_NONE;
  self->shift = GST_CLOCK_TIME_NONE;
  self->partial_frame = 0;
  self->cut_frame = G_MAXUINT64;
  g_free (self->last_partial);
  self->last_partial = NULL;
}

/* Drops the kept frames before frame `from`, and the audio before them but PRIME_FRAMES. */
static void
seg_drop_before (GstMslamCaption * self, guint64 from)
{
  gsize d = (gsize) GST_MSLAM_BASE (self)->config.d_model, k;

  if (from <= self->seg_first)
    return;
  k = MIN ((gsize) (from - self->seg_first), self->seg_n);
  memmove (self->seg, self->seg + k * d, (self->seg_n - k) * d * sizeof (gfloat));
  self->seg_n -= k;
  self->seg_first += k;
  gst_mslam_audio_history_drop_before (&GST_MSLAM_BASE (self)->audio,
      (self->seg_first - MIN (self->seg_first, PRIME_FRAMES)) * GST_MSLAM_FRAME_SAMPLES);
}

static void
seg_append (GstMslamCaption * self, const gfloat * frames, gint n)
{
  gsize d = (gsize) GST_MSLAM_BASE (self)->config.d_model;

  if (self->seg_n + n > self->seg_cap) {
    self->seg_cap = MAX (self->seg_n + n, 2 * self->seg_cap);
    self->seg = g_renew (gfloat, self->seg, self->seg_cap * d);
  }
  memcpy (self->seg + self->seg_n * d, frames, (gsize) n * d * sizeof (gfloat));
  self->seg_n += n;
}

/* Time t of this timeline as put out: after what the segment put out before the timeline (a
 * source's clock that jumped back, a live RTP source paused and played), as muxers and subtitle
 * encoders want times that never go back. The first time out fixes the timeline's shift. */
static GstClockTime
output_time (GstMslamCaption * self, GstClockTime t)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);

  if (!GST_CLOCK_TIME_IS_VALID (self->shift)) {
    self->shift = GST_CLOCK_TIME_IS_VALID (base->text_end) && t < base->text_end ? base->text_end - t : 0;
    if (self->shift)
      GST_INFO_OBJECT (self, "the timeline starts at %" GST_TIME_FORMAT ", before the text put out (to %"
          GST_TIME_FORMAT "): its text goes out %" GST_TIME_FORMAT " later", GST_TIME_ARGS (t),
          GST_TIME_ARGS (base->text_end), GST_TIME_ARGS (self->shift));
  }
  return t + self->shift;
}

/* Tells downstream that no text starts before `until` (at most the current end). */
static void
push_gap (GstMslamCaption * self, GstClockTime until)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);
  GstClockTime from = GST_CLOCK_TIME_IS_VALID (self->out_end) ? self->out_end : base->t0;

  if (!base->started || until <= from)
    return;
  gst_pad_push_event (base->srcpad, gst_event_new_gap (output_time (self, from), until - from));
  self->out_end = until;
  base->text_end = output_time (self, until);
}

/* A new timeline's first word downstream, before any caption or GAP can come: a GAP of no
 * duration at its start, on which a sink prerolls at once. A caption goes out only when its
 * speech has ended: a sink waiting for it in PAUSED, and a tee whose other branch's queue filled
 * meanwhile (an audio sink prerolls on the first buffer), stalled the pipeline for good. */
static void
announce_timeline (GstMslamCaption * self)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);
  GstClockTime start;

  if (!base->started || GST_CLOCK_TIME_IS_VALID (self->out_end))
    return;
  start = output_time (self, base->t0);
  gst_pad_push_event (base->srcpad, gst_event_new_gap (start, 0));
  self->out_end = base->t0;
  base->text_end = start;
}

/* The language spoken in frames: the LID head's choice among `languages`; without a LID head
 * the one language of `languages` when it names one; else "und" (undetermined, ISO 639-2). */
static gchar *
spoken_language (GstMslamCaption * self, const gfloat * frames, gint n)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);
  gint index;
  gfloat prob;
  gchar *reason = NULL;

  if (base->config.lid_head && n > 0) {
    if (gst_mslam_base_identify (base, frames, n, &index, &prob, 1, &reason) == 1)
      return g_strdup (gst_mslam_base_lang (base, index));
    GST_WARNING_OBJECT (self, "language identification failed: %s", reason);
    g_free (reason);
  }
  if (base->n_lang_ids == 1)
    return g_strdup (gst_mslam_base_lang (base, base->lang_ids[0]));
  return g_strdup ("und");
}

/* frames (n x d_model) decoded by a CTC decoder of their own with params p; NULL on failure. */
static mslam_result *
ctc_decode (GstMslamCaption * self, const struct mslam_decode_params *p, const gfloat * frames, gint n)
{
  mslam_ctc_decoder *dec = mslam_ctc_decoder_new (GST_MSLAM_BASE (self)->model, p);
  mslam_result *r = NULL;

  if (dec && mslam_ctc_decoder_push_frames (dec, frames, n) == 0)
    r = mslam_ctc_decoder_finish (dec);
  mslam_ctc_decoder_free (dec);
  return r;
}

/* A final caption's transcript decoded again: from the second pass's frames, and with the LM of
 * the language identified on them when an LM is set but no one language is named (the stream's
 * search ran without it). NULL when neither applies or on failure (logged): the stream's
 * transcript stands. */
static mslam_result *
final_transcript (GstMslamCaption * self, const gfloat * frames, gint n, gboolean second_pass,
    const gchar * language)
{
  struct mslam_decode_params p = self->decode;
  gboolean lm_again = self->lm && !self->decode.lm && mslam_lm_lang_index (self->lm, language) >= 0;
  mslam_result *r;

  if (!self->ctc || n <= 0 || (!second_pass && !lm_again))
    return NULL;
  if (lm_again) {
    p.lm = self->lm;
    p.languages = language;
  }
  r = ctc_decode (self, &p, frames, n);
  if (!r && !gst_mslam_base_flushing (GST_MSLAM_BASE (self)))
    GST_WARNING_OBJECT (self, "decoding the final caption again failed (%s); the transcript is "
        "the stream's", mslam_last_error ());
  return r;
}

/* The words of a recognised text (mslam_result_word_*), each a "word" structure: `text`,
 * `start` and `end` (its frames' times, kept inside the caption's [start, end) frames) and
 * `confidence`. frame0 is the caption frame of the result's frame 0. */
static void
set_words (GstMslamCaption * self, GstStructure * msg, const gchar * field, const mslam_result * ctc,
    guint64 frame0, guint64 start, guint64 end)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);
  GValue words = G_VALUE_INIT;

  gst_value_array_init (&words, 0);
  for (gint w = 0; w < mslam_result_n_words (ctc); w++) {
    guint64 w_start = CLAMP (frame0 + (guint64) MAX (mslam_result_word_start_frame (ctc, w), 0), start, end - 1);
    guint64 w_end = CLAMP (frame0 + (guint64) MAX (mslam_result_word_end_frame (ctc, w), 0), w_start + 1, end);
    GstStructure *word = gst_structure_new ("word",
        "text", G_TYPE_STRING, mslam_result_word_text (ctc, w),
        "start", G_TYPE_UINT64, gst_mslam_base_frame_time (base, w_start),
        "end", G_TYPE_UINT64, gst_mslam_base_frame_time (base, w_end),
        "confidence", G_TYPE_DOUBLE, (gdouble) mslam_result_word_prob (ctc, w), NULL);
    GValue v = G_VALUE_INIT;

    g_value_init (&v, GST_TYPE_STRUCTURE);
    gst_value_set_structure (&v, word);
    gst_structure_free (word);
    gst_value_array_append_and_take_value (&words, &v);
  }
  gst_structure_take_value (msg, field, &words);
}

/* Runs the subclass on frames [start, end) and fills the message's common fields; ctc counts
 * frames from ctc_first. Returns the text (NULL: none) and the message (NULL with it). */
static gchar *
make_caption (GstMslamCaption * self, guint64 start, guint64 end, const mslam_result * ctc,
    guint64 ctc_first, gboolean final, GstStructure ** msg_out)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);
  GstMslamCaptionClass *klass = GST_MSLAM_CAPTION_GET_CLASS (self);
  gsize d = (gsize) base->config.d_model;
  const gfloat *frames = self->seg + (start - self->seg_first) * d;
  gint n = (gint) (end - start);
  GstClockTime t_start = gst_mslam_base_frame_time (base, start);
  GstClockTime t_end = gst_mslam_base_frame_time (base, end);
  gdouble confidence = ctc ? mslam_result_confidence (ctc) : 0.0;
  /* a caption that a max-duration cut opened continues the speech before it; its second pass
   * encodes from PRIME_FRAMES before it (fewer only near the timeline's start) */
  gboolean continued = self->cut_frame != G_MAXUINT64 && start >= self->cut_frame &&
      start < self->cut_frame + PRIME_FRAMES;
  const GstMslamAudioHistory *h = &base->audio;
  guint64 kept_from = (h->first + GST_MSLAM_FRAME_SAMPLES - 1) / GST_MSLAM_FRAME_SAMPLES;
  gint primed = final && continued && start > kept_from ? (gint) MIN (PRIME_FRAMES, start - kept_from) : 0;
  gint n_full = 0;
  gfloat *full = final ? gst_mslam_base_encode_again (base, start - (guint64) primed, end, &n_full) : NULL;
  gchar *language, *text;
  GstStructure *msg = gst_structure_new_empty (klass->message_name);
  mslam_result *again = NULL;

  if (full && n_full <= primed) {
    mslam_free (full);
    full = NULL;
  }
  if (!full)
    primed = 0;
  if (full) {
    frames = full + (gsize) primed * d;
    n = n_full - primed;
  }
  language = spoken_language (self, frames, n);
  /* primed: the context's frames decoded too, then its part from the caption's first frame */
  again = final ? final_transcript (self, frames - (gsize) primed * d, n + primed, full != NULL, language) : NULL;
  if (again && primed) {
    mslam_result *part = mslam_result_from_frame (base->model, again, primed);
    if (!part)
      GST_WARNING_OBJECT (self, "the caption's part of its transcript: %s", mslam_last_error ());
    mslam_result_free (again);
    again = part;
  }
  if (again) {
    ctc = again;
    confidence = mslam_result_confidence (again);
  }
  text = klass->caption (self, frames, n, ctc, language, final, msg, &confidence);
  /* a result decoded again counts frames from start */
  if (ctc && klass->words_field)
    set_words (self, msg, klass->words_field, ctc, again ? start : ctc_first, start, end);
  mslam_result_free (again);
  mslam_free (full);
  if (text)
    g_strstrip (text);
  if (!text || !*text) {
    g_free (text);
    g_free (language);
    gst_structure_free (msg);
    *msg_out = NULL;
    return NULL;
  }
  gst_structure_set (msg,
      "text", G_TYPE_STRING, text,
      "start", G_TYPE_UINT64, t_start,
      "end", G_TYPE_UINT64, t_end,
      "final", G_TYPE_BOOLEAN, final,
      "continued", G_TYPE_BOOLEAN, continued,
      "confidence", G_TYPE_DOUBLE, confidence,
      "running-time", G_TYPE_UINT64,
      gst_segment_to_running_time (&base->segment, GST_FORMAT_TIME, t_start),
      "stream-time", G_TYPE_UINT64,
      gst_segment_to_stream_time (&base->segment, GST_FORMAT_TIME, t_start), NULL);
  if (!gst_structure_has_field (msg, "language"))
    gst_structure_set (msg, "language", G_TYPE_STRING, language, NULL);
  g_free (language);
  *msg_out = msg;
  return text;
}

/* The end of the frames the energy rule can judge for frames [.., end): on to the audio the last
 * frame reads, 720 samples after it, as far as it came. */
static guint64
heard_frames_end (GstMslamCaption * self, guint64 end)
{
  /* frames holding samples up to the last frame's window end, 640 (end - 1) + 1360, rounded up */
  guint64 read_to = (end * GST_MSLAM_FRAME_SAMPLES + GST_MSLAM_FRAME_WINDOW_SAMPLES - 1) / GST_MSLAM_FRAME_SAMPLES;
  guint64 heard = (GST_MSLAM_BASE (self)->n_samples + GST_MSLAM_FRAME_SAMPLES - 1) / GST_MSLAM_FRAME_SAMPLES;

  return MAX (end, MIN (read_to, heard));
}

/* The first frame a caption opened at frame `open` covers: the lead before it, but no more than
 * the lead before the first frame the energy rule heard a voice in (the stream's first character
 * may come before the voice: a trained model's came up to 350 ms before espeak-ng's speech,
 * making cues 430 ms early). */
static guint64
caption_start_frame (GstMslamCaption * self, gint64 open)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);
  gint64 start = MAX (open - LEAD_FRAMES, (gint64) self->seg_first);
  guint64 voiced = (guint64) start, heard_end = heard_frames_end (self, base->n_frames);

  while (voiced < heard_end && !gst_mslam_vad_frame_voiced (&base->vad, voiced))
    voiced++;
  if (voiced < heard_end)
    start = MAX (start, (gint64) voiced - LEAD_FRAMES);

  /* never before what was already put out */
  while (GST_CLOCK_TIME_IS_VALID (self->out_end) && start < (gint64) base->n_frames &&
      gst_mslam_base_frame_time (base, start) < self->out_end)
    start++;
  return (guint64) start;
}

/* Whether the energy rule heard a voice in a caption whose first character is at frame
 * first_char and whose frames end at `end` (exclusive): looking back for that character's sound
 * as far as CTC may lag behind it, but not before the kept frames (the previous caption's), and
 * on to the audio the last frame reads (heard_frames_end: a word whose sound starts there may
 * have its first character in that frame). */
static gboolean
caption_voiced (GstMslamCaption * self, gint64 first_char, guint64 end)
{
  gint64 from = MAX (first_char - LEAD_FRAMES - CTC_LAG_FRAMES, (gint64) self->seg_first);

  return gst_mslam_vad_any_voiced (&GST_MSLAM_BASE (self)->vad, (guint64) from, heard_frames_end (self, end));
}

/* How many frames the next call of process () may bring (GstMslamBaseClass.process_limit), so
 * that a caption is cut right at max-duration whatever the chunk: the room the open caption has
 * left; with none open, max-duration less the frames kept before the next ones, so that a
 * caption that opens in those frames still fits when they end (it starts at the first kept frame
 * at the earliest: caption_start_frame). */
static gint
caption_process_limit (GstMslamBase * base)
{
  GstMslamCaption *self = GST_MSLAM_CAPTION (base);
  gint64 room = self->max_frames - ((gint64) base->n_frames - (gint64) self->seg_first);

  if (self->open_frame >= 0)
    room = (gint64) caption_start_frame (self, self->open_frame) + self->max_frames -
        (gint64) base->n_frames;
  return (gint) MAX (1, room);
}

/* Breaks text into lines of at most max characters, a space before a word that would pass it
 * becoming a line break (a longer word keeps a line of its own); 0: as it is. In place. */
static void
wrap_lines (gchar * text, guint max)
{
  glong line = 0;

  for (gchar * p = text; max > 0 && *p;) {
    gchar *space = strchr (p, ' ');
    glong word = g_utf8_strlen (p, space ? space - p : -1);
    if (word == 0 && space) {   /* a run of spaces: the last one may break the line */
      p = space + 1;
      continue;
    }
    /* p follows a space whenever the line holds something */
    if (line > 0 && line + 1 + word > (glong) max) {
      p[-1] = '\n';
      line = word;
    } else {
      line += (line > 0) + word;
    }
    if (!space)
      break;
    p = space + 1;
  }
}

/* Lines of text wrapped at max (wrap_lines), text unchanged. */
static guint
wrapped_lines (const gchar * text, guint max)
{
  gchar *copy = g_strdup (text);
  guint n = 1;

  wrap_lines (copy, max);
  for (const gchar * p = copy; *p; p++)
    n += *p == '\n';
  g_free (copy);
  return n;
}

/* wrap_lines at the narrowest width up to max that takes no more lines than max does, or, when
 * the text comes in pieces of max_lines (0: one), no more than those pieces hold: the lines and
 * the pieces come out about as long as each other, so that a caption does not end on a piece of
 * a word or two shown for a fraction of a second (a translation's "use.", 273 ms). */
static void
wrap_lines_balanced (gchar * text, guint max, guint max_lines)
{
  guint lines, width = max;

  if (max == 0)                 /* one line */
    return;
  lines = wrapped_lines (text, max);
  if (max_lines > 0 && lines > max_lines)
    lines = (lines + max_lines - 1) / max_lines * max_lines;
  while (width > 1 && wrapped_lines (text, width - 1) <= lines)
    width--;
  wrap_lines (text, width);
}

/* Words of text: runs of characters between spaces and line breaks. */
static guint
count_words (const gchar * text)
{
  guint n = 0;

  for (const gchar * p = text; *p; p++)
    n += *p != ' ' && *p != '\n' && (p == text || p[-1] == ' ' || p[-1] == '\n');
  return n;
}

/* The start times of the words of the message's words_field (NULL when it has none). */
static GArray *
word_starts (const GstStructure * msg, const gchar * words_field)
{
  const GValue *words = words_field ? gst_structure_get_value (msg, words_field) : NULL;
  GArray *starts;

  if (!words)
    return NULL;
  starts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  for (guint w = 0; w < gst_value_array_get_size (words); w++) {
    const GstStructure *word = gst_value_get_structure (gst_value_array_get_value (words, w));
    guint64 start = 0;

    gst_structure_get_uint64 (word, "start", &start);
    g_array_append_val (starts, start);
  }
  return starts;
}

/* Pushes the caption text (taken; its lines broken) over [t_start, t_end): one buffer, or with
 * max_lines, pieces of at most that many lines one after the other. A piece comes when its first
 * word was said, where starts holds the text's words' times (one per word of the text: the
 * recognised words of mslamasr); else each piece has a share of the time in proportion to its
 * characters (the line breaks between pieces counted with them). */
static GstFlowReturn
push_caption_text (GstMslamCaption * self, gchar * text, guint max_lines, GstClockTime t_start,
    GstClockTime t_end, const GArray * starts)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);
  glong total = MAX (1, g_utf8_strlen (text, -1)), before = 0;
  GstFlowReturn ret = GST_FLOW_OK;
  gchar *piece = text;
  gboolean timed = starts && starts->len == count_words (text);
  guint words_before = 0;
  GstClockTime start = t_start;

  while (piece && ret == GST_FLOW_OK) {
    gchar *next = NULL;
    guint lines = 1;
    for (gchar * p = piece; max_lines > 0 && *p && !next; p++)
      if (*p == '\n' && ++lines > max_lines) {
        *p = '\0';
        next = p + 1;
      }
    glong chars = g_utf8_strlen (piece, -1) + (next ? 1 : 0);
    guint words = count_words (piece);
    GstClockTime end = t_end;
    if (next && timed)
      end = CLAMP (g_array_index (starts, GstClockTime, words_before + words), start, t_end);
    else if (next)
      end = t_start + gst_util_uint64_scale (t_end - t_start, before + chars, total);
    GstBuffer *buf = gst_buffer_new_memdup (piece, strlen (piece));
    GST_BUFFER_PTS (buf) = start;
    GST_BUFFER_DURATION (buf) = end - start;
    ret = gst_pad_push (base->srcpad, buf);
    /* nobody reading the text (only the messages are used) is fine */
    if (ret == GST_FLOW_NOT_LINKED)
      ret = GST_FLOW_OK;
    before += chars;
    words_before += words;
    start = end;
    piece = next;
  }
  g_free (text);
  return ret;
}

static GstFlowReturn
decoder_failed (GstMslamCaption * self)
{
  /* a search the flush stopped (the decode params' abort callback) has not failed */
  if (gst_mslam_base_flushing (GST_MSLAM_BASE (self)))
    return GST_FLOW_FLUSHING;
  GST_ELEMENT_ERROR (self, STREAM, FAILED, ("mslam decoder failed: %s", mslam_last_error ()), (NULL));
  return GST_FLOW_ERROR;
}

/* Closes the open caption at frame end (exclusive) and pushes it; ctc (taken; NULL without a CTC
 * head) is its transcript, counting frames from ctc_first. */
static GstFlowReturn
close_caption (GstMslamCaption * self, guint64 end, mslam_result * ctc, guint64 ctc_first)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);
  GstStructure *msg = NULL;
  GstFlowReturn ret = GST_FLOW_OK;
  guint64 start;
  gchar *text;

  if (ctc) {
    if (mslam_result_n_tokens (ctc) > 0) {
      /* the search's final choice may place characters differently from the partials */
      gint64 first = (gint64) ctc_first + mslam_result_token_frame (ctc, 0);
      gint64 last = (gint64) ctc_first + mslam_result_token_frame (ctc, mslam_result_n_tokens (ctc) - 1);
      self->open_frame = MIN (self->open_frame, first);
      end = MAX (end, (guint64) last + 1);
    }
  }
  start = caption_start_frame (self, self->open_frame);
  end = MIN (end, base->n_frames);
  if (end <= start)
    end = MIN (start + 1, base->n_frames);
  /* the final search may place the first character before the partials did: max-duration holds
   * all the same */
  if (end > start + (guint64) self->max_frames)
    start = end - (guint64) self->max_frames;

  /* characters where the energy rule heard nothing are the model's noise (a trained model now
   * and then hears one in silence): no caption of them; nor of a steady sound (noise that
   * started after a silence or a voice, which is voiced until the floor has learnt it: the
   * bundled model wrote 5 s of Hebrew letters on white noise) */
  if (end > start && !caption_voiced (self, self->open_frame, end))
    GST_DEBUG_OBJECT (self, "nothing voiced in frames %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
        ": no caption", start, end);
  else if (end > start && gst_mslam_vad_steady (&base->vad, start, end))
    GST_DEBUG_OBJECT (self, "a steady sound in frames %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
        ", no voice: no caption", start, end);
  else if (end > start) {
    gdouble confidence = 1.0, min_confidence;
    text = make_caption (self, start, end, ctc, ctc_first, TRUE, &msg);
    GST_OBJECT_LOCK (self);
    min_confidence = self->min_confidence;
    GST_OBJECT_UNLOCK (self);
    if (text && gst_structure_get_double (msg, "confidence", &confidence) && confidence < min_confidence) {
      GST_DEBUG_OBJECT (self, "\"%s\" (confidence %.3f) is below min-confidence: dropped", text, confidence);
      gst_structure_free (msg);
      g_free (text);
      text = NULL;
    }
    if (text) {
      GstClockTime t_start = gst_mslam_base_frame_time (base, start);
      GstClockTime t_end = gst_mslam_base_frame_time (base, end);
      guint max_lines;
      /* the text of mslamasr is its recognised words */
      GArray *starts = GST_MSLAM_CAPTION_GET_CLASS (self)->translates ? NULL :
          word_starts (msg, GST_MSLAM_CAPTION_GET_CLASS (self)->words_field);

      GST_DEBUG_OBJECT (self, "caption %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT ": %s",
          GST_TIME_ARGS (t_start), GST_TIME_ARGS (t_end), text);
      push_gap (self, t_start);
      /* the timeline's own end: its next caption starts after it */
      self->out_end = t_end;
      /* the text's times as put out (the message keeps the audio's) */
      t_start = output_time (self, t_start);
      t_end += self->shift;
      for (guint w = 0; starts && w < starts->len; w++)
        g_array_index (starts, GstClockTime, w) += self->shift;
      /* the message first: an application sees the caption no later than downstream does */
      gst_mslam_base_post (base, msg);
      GST_OBJECT_LOCK (self);
      max_lines = self->line_length > 0 ? self->max_lines : 0;
      wrap_lines_balanced (text, self->line_length, max_lines);
      GST_OBJECT_UNLOCK (self);
      base->text_end = t_end;
      ret = push_caption_text (self, text, max_lines, t_start, t_end, starts);
      if (starts)
        g_array_unref (starts);
    }
  }
  mslam_result_free (ctc);
  seg_drop_before (self, end);
  self->scan_frame = end;
  self->open_frame = -1;
  /* the next caption continues this one only where a cut closed it (close_at_max_duration
   * says so after this) */
  self->cut_frame = G_MAXUINT64;
  g_free (self->last_partial);
  self->last_partial = NULL;
  return ret;
}

/* Closes the open caption at frame end with the stream decoder's final text. */
static GstFlowReturn
finish_caption (GstMslamCaption * self, guint64 end)
{
  mslam_result *ctc = NULL;

  if (self->ctc && !(ctc = mslam_ctc_decoder_finish (self->ctc)))
    return decoder_failed (self);
  return close_caption (self, end, ctc, self->ctc_first);
}

/* Whether token i of r is a space (the separator of words). */
static gboolean
is_space (const mslam_result * r, gint i)
{
  return strcmp (mslam_result_token_text (r, i), " ") == 0;
}

/* Opens a caption at the first character of the stream decoder's partial result, when the energy
 * rule heard a voice there; characters in silence are the model's noise, not the start of a
 * caption (see close_caption), and the decoder forgets them. */
static void
open_at_first_char (GstMslamCaption * self, const mslam_result * partial)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);
  gint64 first_char;

  if (mslam_result_n_tokens (partial) == 0 || self->open_frame >= 0)
    return;
  first_char = (gint64) self->ctc_first + mslam_result_token_frame (partial, 0);
  if (caption_voiced (self, first_char, base->n_frames)) {
    self->open_frame = first_char;
  } else {
    mslam_result *noise = mslam_ctc_decoder_finish (self->ctc);
    GST_DEBUG_OBJECT (self, "\"%s\" heard where nothing is voiced: dropped",
        noise ? mslam_result_text (noise) : "");
    mslam_result_free (noise);
  }
}

/* The quietest encoder frame of [from, to) (least energy in its 640 samples) in the kept audio
 * (the second pass's); -1 when none of them is kept. */
static gint64
quietest_frame (GstMslamCaption * self, guint64 from, guint64 to)
{
  const GstMslamAudioHistory *h = &GST_MSLAM_BASE (self)->audio;
  gint64 best = -1;
  gdouble least = G_MAXDOUBLE;

  for (guint64 f = from; f < to; f++) {
    guint64 a = f * GST_MSLAM_FRAME_SAMPLES, b = a + GST_MSLAM_FRAME_SAMPLES;
    gdouble energy;
    if (a < h->first || b > h->first + h->n)
      continue;
    energy = gst_mslam_energy (h->pcm + (a - h->first), GST_MSLAM_FRAME_SAMPLES);
    if (energy < least) {
      least = energy;
      best = (gint64) f;
    }
  }
  return best;
}

/* Where to cut between a character emitted at frame `after` (its sound over by then: CTC emits a
 * character at or after it) and one emitted at frame `at`: the quietest frame of the kept audio
 * from the frame after `after` up to `at` (the emission of a word's first character lags its
 * start by up to 230 ms, "and" in the tests); without kept audio, the lead before `at` (a caption
 * starts that far before its first character: caption_start_frame), though after `after`. */
static gint64
cut_between (GstMslamCaption * self, gint64 after, gint64 at)
{
  gint64 cut = quietest_frame (self, (guint64) after + 1, (guint64) MAX (at, after + 1));

  return cut >= 0 ? cut : MAX (after + 1, at - LEAD_FRAMES);
}

/* Where a caption cut at max-duration ends, the caption's first frame being start and words its
 * transcript so far (counting frames from frame0), in the caption's second half: before its last
 * word (the run of characters after its last space), which may not be over yet; else, when a
 * space follows that word (it is over), after it; else before its last character (a long run of
 * characters: Chinese, Japanese, Thai); else at the last frame. */
static guint64
max_duration_cut (GstMslamCaption * self, const mslam_result * words, guint64 frame0, guint64 start)
{
  guint64 n_frames = GST_MSLAM_BASE (self)->n_frames, earliest = start + (guint64) self->max_frames / 2;
  gint n = mslam_result_n_tokens (words), last = n - 1, word, n_cuts = 0;
  gint64 cuts[3];

#define FRAME(i) ((gint64) frame0 + mslam_result_token_frame (words, (i)))
  while (last >= 0 && is_space (words, last))
    last--;
  for (word = last; word > 0 && !is_space (words, word - 1);)
    word--;
  if (word > 0) {
    gint before = word - 1;
    while (before > 0 && is_space (words, before))
      before--;
    cuts[n_cuts++] = cut_between (self, FRAME (before), FRAME (word));
  }
  if (last >= 0 && last < n - 1)
    cuts[n_cuts++] = cut_between (self, FRAME (last), FRAME (last + 1) + 1);
  if (last > 0)
    cuts[n_cuts++] = cut_between (self, FRAME (last - 1), FRAME (last));
#undef FRAME
  for (gint k = 0; k < n_cuts; k++)
    if (cuts[k] >= (gint64) earliest && (guint64) cuts[k] < n_frames)
      return (guint64) cuts[k];
  return n_frames;
}

/* Closes the open caption at max-duration itself (no boundary to cut at, or no CTC head to find
 * one): the next caption continues it, as one after a cut does. */
static GstFlowReturn
finish_at_max_duration (GstMslamCaption * self)
{
  guint64 end = GST_MSLAM_BASE (self)->n_frames;
  GstFlowReturn ret = finish_caption (self, end);

  self->cut_frame = end;
  return ret;
}

/* Closes the open caption, which has reached max-duration, where max_duration_cut says on the
 * transcript of its audio encoded again with full context (the second pass: streaming frames
 * emit characters later after their sound, a word's first ones up to a chunk after it began),
 * else on the stream's; the stream decoder then reads the frames after the cut again, as the
 * next caption's. Where there is no cut (rarely: no word or character boundary in the caption's
 * second half) the second pass encodes the caption once more, as at any other end. */
static GstFlowReturn
close_at_max_duration (GstMslamCaption * self, guint64 start)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);
  mslam_result *words = NULL, *partial, *ctc;
  guint64 cut, seg_first = self->seg_first;
  GstFlowReturn ret;
  gint n_full = 0;
  gfloat *full;

  if (!self->ctc)
    return finish_at_max_duration (self);
  full = gst_mslam_base_encode_again (base, start, base->n_frames, &n_full);
  if (full) {
    words = ctc_decode (self, &self->decode, full, n_full);
    mslam_free (full);
  }
  if (words)
    cut = max_duration_cut (self, words, start, start);
  else if ((words = mslam_ctc_decoder_partial (self->ctc)))
    cut = max_duration_cut (self, words, self->ctc_first, start);
  else
    return decoder_failed (self);
  mslam_result_free (words);
  if (cut >= base->n_frames)
    return finish_at_max_duration (self);

  GST_LOG_OBJECT (self, "max-duration: cut at frame %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT,
      cut, base->n_frames);
  /* the caption's frames kept (from seg_first <= start) with a decoder of their own; its text
   * is, with the second pass, the offline API's on its audio to the cut (close_caption encodes
   * it again) */
  if (!(ctc = ctc_decode (self, &self->decode, self->seg, (gint) (cut - seg_first))))
    return decoder_failed (self);
  mslam_ctc_decoder_reset (self->ctc);
  self->ctc_first = cut;
  ret = close_caption (self, cut, ctc, seg_first);
  /* after: the caption just closed may itself have been continued */
  self->cut_frame = cut;
  if (ret != GST_FLOW_OK)
    return ret;
  /* close_caption kept the frames from the cut on */
  g_assert (self->seg_first == cut);
  if (mslam_ctc_decoder_push_frames (self->ctc, self->seg, (gint) self->seg_n) < 0 ||
      !(partial = mslam_ctc_decoder_partial (self->ctc)))
    return decoder_failed (self);
  open_at_first_char (self, partial);
  mslam_result_free (partial);
  return GST_FLOW_OK;
}

/* The last frame with speech in the open caption: CTC's last non-blank frame (a character held
 * over several frames counts until it ends), else the energy rule's last voiced frame. */
static gint64
last_speech_frame (GstMslamCaption * self)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);

  if (self->ctc)
    return (gint64) base->n_frames - 1 - mslam_ctc_decoder_trailing_blanks (self->ctc);
  return (base->vad.last_voiced_end - 1) / GST_MSLAM_FRAME_SAMPLES;
}

/* The first frame of the energy rule's current silence (-1: the audio is voiced now). */
static gint64
silence_frame (GstMslamCaption * self)
{
  const GstMslamVad *vad = &GST_MSLAM_BASE (self)->vad;

  if (vad->silence_start < 0)
    return -1;
  return (vad->silence_start + GST_MSLAM_FRAME_SAMPLES - 1) / GST_MSLAM_FRAME_SAMPLES;
}

/* Where the open caption ends when its speech ended at last_speech, by the energy rule: at the
 * start of the current silence, when that silence came after the caption opened. CTC may put
 * the last characters out well after the sound ends (up to CTC_LAG_FRAMES), so characters up to
 * a pause past the silence's start still belong to the caption. -1 when the rule does not
 * apply. */
static gint64
end_at_silence (GstMslamCaption * self, gint64 last_speech)
{
  gint64 silence = silence_frame (self);

  if (silence < 0 || silence <= self->open_frame || last_speech >= silence + self->pause_frames)
    return -1;
  return MAX (silence, last_speech + 1);
}

/* Where the open caption ends after CTC's last character: a little after it (the end of its
 * sound), or sooner where the energy rule heard the sound end. */
static gint64
end_after_speech (GstMslamCaption * self, gint64 last_speech)
{
  gint64 silence = silence_frame (self), end = last_speech + 1 + TAIL_FRAMES;

  if (silence > last_speech && silence < end)
    end = silence;
  return end;
}

/* Ends the open caption when a pause or the maximum duration says so. */
static GstFlowReturn
check_endpoint (GstMslamCaption * self)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);
  const GstMslamVad *vad = &base->vad;
  guint64 n_frames = base->n_frames;
  gint64 end = -1, last_speech, start;
  const gchar *why = NULL;

  if (self->open_frame < 0)
    return GST_FLOW_OK;
  last_speech = last_speech_frame (self);

  /* the CTC head has emitted nothing but blanks for a pause */
  if (self->ctc && mslam_ctc_decoder_trailing_blanks (self->ctc) >= self->pause_frames) {
    end = end_after_speech (self, last_speech);
    why = "pause (CTC blanks)";
  }

  /* silence for a pause, and the frames up to its start are decoded: the caption is complete
   * without waiting for the chunk that holds the end of the pause (waiting for the CTC-blank
   * rule instead would cost a chunk) */
  if (end < 0 && vad->silence_start >= 0 &&
      base->n_samples - (guint64) vad->silence_start >= (guint64) self->pause_frames * GST_MSLAM_FRAME_SAMPLES &&
      (gint64) n_frames >= silence_frame (self)) {
    end = end_at_silence (self, last_speech);
    why = "pause (energy)";
  }

  /* the caption is as long as max-duration (the frames came up to there: caption_process_limit) */
  start = (gint64) caption_start_frame (self, self->open_frame);
  if (end < 0 && (gint64) n_frames - start >= self->max_frames)
    return close_at_max_duration (self, (guint64) start);

  if (end < 0)
    return GST_FLOW_OK;
  GST_LOG_OBJECT (self, "endpoint at frame %" G_GINT64_FORMAT " (%s; open at %" G_GINT64_FORMAT
      ", last speech at %" G_GINT64_FORMAT ", %" G_GUINT64_FORMAT " frames decoded, silence from sample %"
      G_GINT64_FORMAT ", %" G_GUINT64_FORMAT " samples)", end, why, self->open_frame, last_speech,
      n_frames, vad->silence_start, base->n_samples);
  return finish_caption (self, (guint64) end);
}

static void
post_partial (GstMslamCaption * self, const mslam_result * ctc)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);
  GstStructure *msg = NULL;
  guint64 start = caption_start_frame (self, self->open_frame);
  gchar *text;

  if (self->ctc) {
    /* only when the text changed */
    if (g_strcmp0 (self->last_partial, mslam_result_text (ctc)) == 0)
      return;
  } else if (base->n_frames < self->partial_frame + PARTIAL_EVERY_FRAMES) {
    return;
  }
  self->partial_frame = base->n_frames;
  g_free (self->last_partial);
  self->last_partial = g_strdup (ctc ? mslam_result_text (ctc) : "");
  if (base->n_frames <= start)
    return;
  text = make_caption (self, start, base->n_frames, ctc, self->ctc_first, FALSE, &msg);
  if (text)
    gst_mslam_base_post (base, msg);
  g_free (text);
}

static GstFlowReturn
caption_process (GstMslamBase * base, const gfloat * frames, gint n, guint64 first)
{
  GstMslamCaption *self = GST_MSLAM_CAPTION (base);
  const GstMslamVad *vad = &base->vad;
  mslam_result *partial = NULL;
  GstFlowReturn ret;
  gboolean want_partial;
  guint64 ctc_first;

  g_assert (first == self->seg_first + self->seg_n);
  announce_timeline (self);
  seg_append (self, frames, n);

  if (self->ctc) {
    if (mslam_ctc_decoder_push_frames (self->ctc, frames, n) < 0 ||
        !(partial = mslam_ctc_decoder_partial (self->ctc)))
      return decoder_failed (self);
    open_at_first_char (self, partial);
  } else {
    /* without a CTC head, the first voiced frame after the last caption opens one */
    for (guint64 f = MAX (self->scan_frame, self->seg_first); self->open_frame < 0 && f < base->n_frames; f++)
      if (gst_mslam_vad_frame_voiced (vad, f) && (!GST_CLOCK_TIME_IS_VALID (self->out_end) ||
              gst_mslam_base_frame_time (base, f) >= self->out_end))
        self->open_frame = (gint64) f;
    self->scan_frame = base->n_frames;
  }

  ctc_first = self->ctc_first;
  ret = check_endpoint (self);
  if (ret != GST_FLOW_OK)
    goto done;

  GST_OBJECT_LOCK (self);
  want_partial = self->partial_results;
  GST_OBJECT_UNLOCK (self);
  if (self->open_frame >= 0) {
    /* a cut at max-duration started the decoder again at the cut */
    if (want_partial && self->ctc_first != ctc_first) {
      mslam_result_free (partial);
      if (!(partial = mslam_ctc_decoder_partial (self->ctc))) {
        ret = decoder_failed (self);
        goto done;
      }
    }
    if (want_partial)
      post_partial (self, partial);
  } else {
    /* nothing open: keep a margin of frames, and let downstream move on */
    guint64 n_frames = base->n_frames;
    if (n_frames > KEEP_FRAMES)
      seg_drop_before (self, n_frames - KEEP_FRAMES);
    if (n_frames > LEAD_FRAMES)
      push_gap (self, gst_mslam_base_frame_time (base, n_frames - LEAD_FRAMES));
  }
done:
  mslam_result_free (partial);
  return ret;
}

static GstFlowReturn
caption_audio (GstMslamBase * base)
{
  announce_timeline (GST_MSLAM_CAPTION (base));
  /* the energy rule may end a caption between chunks */
  return check_endpoint (GST_MSLAM_CAPTION (base));
}

static GstFlowReturn
caption_drain (GstMslamBase * base)
{
  GstMslamCaption *self = GST_MSLAM_CAPTION (base);
  GstFlowReturn ret = GST_FLOW_OK;

  /* process() has seen every frame, so a caption with speech is open; it ends where a pause
   * would have ended it, not at the end of the silence after it */
  if (self->open_frame >= 0) {
    gint64 last_speech = last_speech_frame (self), end = end_at_silence (self, last_speech);
    if (end < 0)
      end = end_after_speech (self, last_speech);
    ret = finish_caption (self, MIN ((guint64) end, base->n_frames));
  }
  if (ret == GST_FLOW_OK)
    push_gap (self, gst_mslam_base_frame_time (base, base->n_frames));
  return ret;
}
