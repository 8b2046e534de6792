/**
 * SECTION:element-mslamlid
 * @title: mslamlid
 * @see_also: mslamasr, mslamtranslate
 *
 * Spoken language identification with an mSLAM model. The audio passes through unchanged;
 * every `interval` the element decides which language was spoken over the last `window` of
 * audio (skipping windows without voiced audio) and posts an element message named `mslam-lid`.
 * With `second-pass` (the default) the window's audio is encoded again with full attention
 * context for the decision (the streaming encoder's frames see only their chunk and the ones
 * before; offline accuracy costs one more encoder pass over the window per decision). The
 * message:
 *
 * * `language` (string), `confidence` (double): the most probable language and its probability;
 * * `languages` (GstValueArray of strings), `probabilities` (GstValueArray of doubles): the three
 *   most probable, best first (probabilities are over the `languages` property's set when it is
 *   given, else over all of the model's languages);
 * * `start`, `end` (guint64, nanoseconds): the window, as buffer times;
 * * `running-time` (guint64): `end` in running time.
 *
 * The end of the stream (EOS, a segment's end, a gap) decides once more over the audio after the
 * last decision.
 *
 * When the most probable language changes (and on the first decision), a tag event with
 * `GST_TAG_LANGUAGE_CODE` goes downstream ahead of the audio, so that muxers and players label
 * the stream; with `tag-confidence`, only for a decision at least that probable (the end of the
 * stream tags its best guess when none was). The first decision comes an `interval` into the
 * speech; a muxer that writes a track's language in its header (matroskamux) reads only the tags
 * that come before the track's first buffer: `hold-audio` keeps the audio back until the first
 * tag (at most that many milliseconds of it), so that the tag goes out ahead of all of it; again
 * after a flushing seek, a discontinuity or a new stream, which are tagged anew. The LATENCY
 * query then adds `hold-audio`.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m filesrc location=speech.ogg ! decodebin ! audioconvert ! audioresample ! \
 *     mslamlid languages=en,fr,de ! fakesink
 * ]| Prints `mslam-lid` messages and the language tags.
 * |[
 * gst-launch-1.0 -e filesrc location=speech.ogg ! decodebin ! audioconvert ! audioresample ! \
 *     mslamlid hold-audio=30000 ! audioconvert ! flacenc ! matroskamux ! filesink location=speech.mka
 * ]| Writes the language identified as the Matroska track's language.
 * |[
 * gst-launch-1.0 -m filesrc location=speech.ogg ! decodebin ! audioconvert ! audioresample ! \
 *     mslamlid lm=lm.safetensors ! fakesink
 * ]| The same with a character language model (`mslam-trainer lm`): each language's score also
 * counts how likely the window's transcript is in it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmslamcommon.h"
#include "gstmslamelements.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_mslam_lid_debug);
#define GST_CAT_DEFAULT gst_mslam_lid_debug

#define GST_TYPE_MSLAM_LID (gst_mslam_lid_get_type ())
G_DECLARE_FINAL_TYPE (GstMslamLid, gst_mslam_lid, GST, MSLAM_LID, GstMslamBase)

#define TOP_N 3
/* The least voiced audio a window needs for a decision (half of a window shorter than twice
 * this): on less the bundled model is a poor judge (on the first 0.3 / 0.5 / 1 / 2 s of 1000 test
 * utterances it was right 35 / 57 / 84 / 94 % of the time; on "sí", 0.57 s, it said Hebrew at 0.84). */
#define MIN_VOICED_MS 1000

struct _GstMslamLid
{
  GstMslamBase parent;

  /* properties (object lock) */
  guint interval_ms;
  guint window_ms;
  gchar *lm_path;
  gfloat lm_weight;
  guint hold_ms;
  gdouble tag_confidence;

  /* while running */
  gint running_hold_ms;         /* hold-audio as started with */
  gdouble running_tag_confidence;
  mslam_lm *lm;
  gint interval_frames, window_frames;
  gfloat *window;               /* the last window_frames frames, oldest first */
  gint n_window;
  guint64 next_decision;        /* frame count at which to decide next */
  guint64 last_end;             /* the frame the timeline's last decision's window ended at */
  gint best;                    /* the most probable language of that decision; -1: none yet */
  gint current;                 /* language index last tagged; -1: none */
  gboolean undetermined;        /* no language decided when the hold ended: "und" where upstream
                                 * names none */
};

enum
{
  PROP_0,
  PROP_INTERVAL = GST_MSLAM_BASE_N_PROPS,
  PROP_WINDOW,
  PROP_LM,
  PROP_LM_WEIGHT,
  PROP_HOLD_AUDIO,
  PROP_TAG_CONFIDENCE,
};

#define DEFAULT_INTERVAL_MS 1000
#define DEFAULT_WINDOW_MS 3000
#define DEFAULT_HOLD_MS 0
#define DEFAULT_TAG_CONFIDENCE 0.0

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_MSLAM_AUDIO_CAPS));

G_DEFINE_TYPE (GstMslamLid, gst_mslam_lid, GST_TYPE_MSLAM_BASE);
GST_ELEMENT_REGISTER_DEFINE (mslamlid, "mslamlid", GST_RANK_NONE, GST_TYPE_MSLAM_LID);

static void
gst_mslam_lid_finalize (GObject * object)
{
  GstMslamLid *self = GST_MSLAM_LID (object);

  g_free (self->lm_path);
  G_OBJECT_CLASS (gst_mslam_lid_parent_class)->finalize (object);
}

static void
gst_mslam_lid_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstMslamLid *self = GST_MSLAM_LID (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_INTERVAL:
      self->interval_ms = g_value_get_uint (value);
      break;
    case PROP_WINDOW:
      self->window_ms = g_value_get_uint (value);
      break;
    case PROP_LM:
      g_free (self->lm_path);
      self->lm_path = g_value_dup_string (value);
      break;
    case PROP_LM_WEIGHT:
      self->lm_weight = g_value_get_float (value);
      break;
    case PROP_HOLD_AUDIO:
      self->hold_ms = g_value_get_uint (value);
      break;
    case PROP_TAG_CONFIDENCE:
      self->tag_confidence = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
  gst_mslam_base_warn_setting_waits (GST_MSLAM_BASE (self), pspec);
}

static void
gst_mslam_lid_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstMslamLid *self = GST_MSLAM_LID (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_INTERVAL:
      g_value_set_uint (value, self->interval_ms);
      break;
    case PROP_WINDOW:
      g_value_set_uint (value, self->window_ms);
      break;
    case PROP_LM:
      g_value_set_string (value, self->lm_path);
      break;
    case PROP_LM_WEIGHT:
      g_value_set_float (value, self->lm_weight);
      break;
    case PROP_HOLD_AUDIO:
      g_value_set_uint (value, self->hold_ms);
      break;
    case PROP_TAG_CONFIDENCE:
      g_value_set_double (value, self->tag_confidence);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_mslam_lid_start (GstMslamBase * base)
{
  GstMslamLid *self = GST_MSLAM_LID (base);

  if (!base->config.lid_head) {
    gst_mslam_base_model_error (base, "the model has no LID head, which mslamlid needs to "
        "identify languages (train or export it with one)");
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  self->interval_frames = gst_mslam_frames_for_ms (self->interval_ms);
  self->window_frames = gst_mslam_frames_for_ms (self->window_ms);
  gchar *lm_path = self->lm_path && *self->lm_path ? g_strdup (self->lm_path) : NULL;
  base->lid_lm_weight = self->lm_weight;
  self->running_hold_ms = (gint) self->hold_ms;
  self->running_tag_confidence = self->tag_confidence;
  GST_OBJECT_UNLOCK (self);
  if (lm_path) {
    self->lm = gst_mslam_base_load_lm (base, lm_path, FALSE);
    g_free (lm_path);
    if (!self->lm)
      return FALSE;
    base->lid_lm = self->lm;
  }
  self->window = g_new (gfloat, (gsize) self->window_frames * base->config.d_model);
  return TRUE;
}

static void
gst_mslam_lid_stop (GstMslamBase * base)
{
  GstMslamLid *self = GST_MSLAM_LID (base);

  g_free (self->window);
  self->window = NULL;
  base->lid_lm = NULL;
  mslam_lm_free (self->lm);
  self->lm = NULL;
}

/* The audio itself goes on at once, unless hold-audio keeps it back for the first decision. */
static GstClockTime
gst_mslam_lid_latency (GstMslamBase * base)
{
  GstMslamLid *self = GST_MSLAM_LID (base);

  return gst_mslam_base_setting (base, &self->running_hold_ms, &self->hold_ms, NULL) * GST_MSECOND;
}

static void
gst_mslam_lid_reset (GstMslamBase * base)
{
  GstMslamLid *self = GST_MSLAM_LID (base);

  self->n_window = 0;
  self->next_decision = self->interval_frames;
  self->last_end = 0;
  self->best = -1;
  /* a new timeline (flush, seek, new segment, a stream after EOS) may be in another language: tag
   * it again, and hold its audio for that tag as for the first */
  self->current = -1;
  self->undetermined = FALSE;
  base->hold_max = self->running_hold_ms * GST_MSECOND;
}

/* Tags the stream with language lang (and upstream's other stream tags). */
static void
tag_language (GstMslamLid * self, gint lang)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);

  GST_INFO_OBJECT (self, "language now %s", gst_mslam_base_lang (base, lang));
  self->current = lang;
  gst_pad_push_event (base->srcpad, gst_mslam_base_language_tag (base));
}

/* Decides over the window, which ends at frame `end` (exclusive), posts the message and tags a
 * change as sure as tag-confidence. */
static GstFlowReturn
decide (GstMslamLid * self, guint64 end)
{
  GstMslamBase *base = GST_MSLAM_BASE (self);
  guint64 start = end - (guint64) self->n_window;
  gint index[TOP_N], n;
  gfloat prob[TOP_N];
  gchar *reason = NULL;
  GValue langs = G_VALUE_INIT, probs = G_VALUE_INIT;
  GstClockTime t_start, t_end;
  GstStructure *s;
  gfloat *again = NULL;
  gint n_again = 0;

  /* too little said in the window: nothing to identify (a model asked about silence answers at
   * random, which would flip the tag back and forth; a click or a codec's pre-echo before the
   * speech, a voiced frame or two, was tagged Hebrew at 0.74 before a file's Spanish). The
   * window's length, not what of it is filled: a stream's first second is no shorter window.
   * Nor steady noise the energy rule has not yet learnt (white noise from the start, or after a
   * silence, was decided Hebrew at about 0.9). */
  if (self->n_window == 0 || gst_mslam_vad_n_voiced (&base->vad, start, end) <
      (guint64) MIN (gst_mslam_frames_for_ms (MIN_VOICED_MS), (self->window_frames + 1) / 2) ||
      gst_mslam_vad_steady (&base->vad, start, end))
    return GST_FLOW_OK;

  again = gst_mslam_base_encode_again (base, start, end, &n_again);
  if (again)
    n = gst_mslam_base_identify (base, again, n_again, index, prob, TOP_N, &reason);
  else
    n = gst_mslam_base_identify (base, self->window, self->n_window, index, prob, TOP_N, &reason);
  mslam_free (again);
  if (n < 0) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("mslam language identification failed: %s", reason),
        (NULL));
    g_free (reason);
    return GST_FLOW_ERROR;
  }
  if (n == 0)
    return GST_FLOW_OK;

  t_start = gst_mslam_base_frame_time (base, start);
  t_end = gst_mslam_base_frame_time (base, end);
  gst_value_array_init (&langs, n);
  gst_value_array_init (&probs, n);
  for (gint i = 0; i < n; i++) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_string (&v, gst_mslam_base_lang (base, index[i]));
    gst_value_array_append_and_take_value (&langs, &v);
    g_value_init (&v, G_TYPE_DOUBLE);
    g_value_set_double (&v, prob[i]);
    gst_value_array_append_and_take_value (&probs, &v);
  }
  s = gst_structure_new ("mslam-lid",
      "language", G_TYPE_STRING, gst_mslam_base_lang (base, index[0]),
      "confidence", G_TYPE_DOUBLE, (gdouble) prob[0],
      "start", G_TYPE_UINT64, t_start,
      "end", G_TYPE_UINT64, t_end,
      "running-time", G_TYPE_UINT64,
      gst_segment_to_running_time (&base->segment, GST_FORMAT_TIME, t_end), NULL);
  gst_structure_take_value (s, "languages", &langs);
  gst_structure_take_value (s, "probabilities", &probs);
  GST_DEBUG_OBJECT (self, "decision %" GST_PTR_FORMAT, s);
  gst_mslam_base_post (base, s);

  self->last_end = end;
  self->best = index[0];
  if (index[0] != self->current && prob[0] >= self->running_tag_confidence)
    tag_language (self, index[0]);
  /* once the stream is tagged, the audio held back for it follows (until then it waits for a
   * decision sure enough, the hold-audio limit or the end) */
  return self->current >= 0 ? gst_mslam_base_release_held (base) : GST_FLOW_OK;
}

static GstFlowReturn
gst_mslam_lid_process (GstMslamBase * base, const gfloat * frames, gint n, guint64 first)
{
  GstMslamLid *self = GST_MSLAM_LID (base);
  gsize d = (gsize) base->config.d_model;
  GstFlowReturn ret = GST_FLOW_OK;

  /* the earliest window this call decides on starts at frame first + 1 - window_frames */
  if (first + 1 > (guint64) self->window_frames)
    gst_mslam_audio_history_drop_before (&base->audio,
        (first + 1 - (guint64) self->window_frames) * GST_MSLAM_FRAME_SAMPLES);

  for (gint i = 0; i < n && ret == GST_FLOW_OK; i++) {
    /* slide the window by one frame (windows are a few dozen frames: moving is cheap) */
    if (self->n_window == self->window_frames) {
      memmove (self->window, self->window + d, (gsize) (self->n_window - 1) * d * sizeof (gfloat));
      self->n_window--;
    }
    memcpy (self->window + (gsize) self->n_window * d, frames + (gsize) i * d, d * sizeof (gfloat));
    self->n_window++;
    if (first + (guint64) i + 1 >= self->next_decision) {
      ret = decide (self, first + (guint64) i + 1);
      self->next_decision += self->interval_frames;
    }
  }
  return ret;
}

/* Whether the audio going downstream carries a language-code stream tag. */
static gboolean
stream_tagged (GstMslamBase * base)
{
  GstEvent *stream = gst_mslam_pad_stream_tags (base->srcpad);
  gboolean tagged = FALSE;

  if (stream) {
    GstTagList *tags;
    gst_event_parse_tag (stream, &tags);
    tagged = gst_tag_list_get_tag_size (tags, GST_TAG_LANGUAGE_CODE) > 0;
    gst_event_unref (stream);
  }
  return tagged;
}

/* hold-audio ran out before a decision: the audio goes on tagged "und" (undetermined, ISO 639-2),
 * unless upstream's tags name a language; without a tag a muxer writes none, which a reader takes
 * for its default (Matroska's: English). A later decision tags the language found. */
static void
gst_mslam_lid_hold_expired (GstMslamBase * base)
{
  GstMslamLid *self = GST_MSLAM_LID (base);
  GstEvent *tag;

  if (self->current >= 0)
    return;
  self->undetermined = TRUE;
  if ((tag = gst_mslam_base_language_tag (base))) {
    GST_INFO_OBJECT (self, "no language decided within hold-audio or the stream: tagged und");
    gst_pad_push_event (base->srcpad, tag);
  }
}

static GstFlowReturn
gst_mslam_lid_drain (GstMslamBase * base)
{
  GstMslamLid *self = GST_MSLAM_LID (base);

  GstFlowReturn ret = GST_FLOW_OK;

  /* the audio after the last decision (all of it when shorter than an interval) gets one too */
  if (self->best < 0 || base->n_frames > self->last_end)
    ret = decide (self, base->n_frames);
  /* the end came before a decision as sure as tag-confidence: the best guess, rather than none
   * (a discontinuity or a new segment, after which the audio goes on, waits for a sure one) */
  if (ret == GST_FLOW_OK && base->ending && self->current < 0 && self->best >= 0) {
    tag_language (self, self->best);
    ret = gst_mslam_base_release_held (base);
  } else if (ret == GST_FLOW_OK && base->ending && self->best < 0 && base->hold_max > 0) {
    /* no decision (a word, silence) on the audio held for one: "und" ahead of it, as when the
     * hold runs out (untagged, a muxer's reader takes its default: English), unless the stream
     * is tagged already (a language decided before a gap or a new segment, or "und") */
    if (!stream_tagged (base))
      gst_mslam_lid_hold_expired (base);
    ret = gst_mslam_base_release_held (base);
  }
  return ret;
}

/* The language last tagged, which upstream's stream tags passing through carry too. */
static const gchar *
gst_mslam_lid_language (GstMslamBase * base, const GstTagList * upstream)
{
  GstMslamLid *self = GST_MSLAM_LID (base);

  if (self->current >= 0)
    return gst_mslam_base_lang (base, self->current);
  /* "und" says that no language is known: not over one upstream names */
  if (self->undetermined && !(upstream && gst_tag_list_get_tag_size (upstream, GST_TAG_LANGUAGE_CODE) > 0))
    return "und";
  return NULL;
}

static void
gst_mslam_lid_class_init (GstMslamLidClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstMslamBaseClass *base_class = GST_MSLAM_BASE_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_mslam_lid_debug, "mslamlid", 0, "mslam language identification");

  gobject_class->finalize = gst_mslam_lid_finalize;
  gobject_class->set_property = gst_mslam_lid_set_property;
  gobject_class->get_property = gst_mslam_lid_get_property;

  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint ("interval", "Interval",
          "Milliseconds of audio between two decisions (none for a window with less than 1 s of "
          "audio the energy rule hears as voiced, or half of a window under 2 s: silence and a "
          "word or two make no decision)", 40, 60000, DEFAULT_INTERVAL_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_WINDOW,
      g_param_spec_uint ("window", "Window",
          "Milliseconds of audio each decision looks at (the last ones before it)", 200, 60000,
          DEFAULT_WINDOW_MS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LM,
      g_param_spec_string ("lm", "Language model",
          "Character LM file from `mslam-trainer lm`: each language's score gains lm-weight times "
          "the LM's log-probability of the window's transcript in it (needs a CTC head; NULL: none)",
          NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LM_WEIGHT,
      g_param_spec_float ("lm-weight", "LM weight", "Weight of the transcript's LM log-probability",
          0.0f, 10.0f, mslam_decode_default_params ().lid_lm_weight,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_HOLD_AUDIO,
      g_param_spec_uint ("hold-audio", "Hold audio",
          "Keep the audio back until the first decision, at most this many milliseconds of it, so "
          "that the language tag goes downstream ahead of all of it (matroskamux writes the track's "
          "language only from a tag before its first buffer); adds as much latency; with no decision "
          "by then or by the end the audio goes on tagged und (undetermined), unless upstream tagged a language "
          "(0: the audio goes on at once)", 0, 600000, DEFAULT_HOLD_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TAG_CONFIDENCE,
      g_param_spec_double ("tag-confidence", "Tag confidence",
          "A language tag goes downstream only for a decision at least this probable (with hold-audio "
          "the audio waits for one); the end of the stream tags its best guess when none was (0: the "
          "first decision tags)", 0.0, 1.0, DEFAULT_TAG_CONFIDENCE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "mSLAM language identification",
      "Filter/Analyzer/Audio", "Identifies the language spoken and tags the stream with it",
      "mslam developers");

  base_class->passthrough = TRUE;
  base_class->start = gst_mslam_lid_start;
  base_class->stop = gst_mslam_lid_stop;
  base_class->process = gst_mslam_lid_process;
  base_class->drain = gst_mslam_lid_drain;
  base_class->reset = gst_mslam_lid_reset;
  base_class->latency = gst_mslam_lid_latency;
  base_class->stream_language = gst_mslam_lid_language;
  base_class->hold_expired = gst_mslam_lid_hold_expired;
}

static void
gst_mslam_lid_init (GstMslamLid * self)
{
  self->interval_ms = DEFAULT_INTERVAL_MS;
  self->window_ms = DEFAULT_WINDOW_MS;
  self->lm_weight = mslam_decode_default_params ().lid_lm_weight;
  self->hold_ms = DEFAULT_HOLD_MS;
  self->tag_confidence = DEFAULT_TAG_CONFIDENCE;
  self->current = -1;
  self->best = -1;
}
