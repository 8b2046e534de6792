/**
 * SECTION:element-mslamtranslate
 * @title: mslamtranslate
 * @see_also: mslamasr, mslamlid, srtenc, webvttenc, textoverlay
 *
 * Speech translation into English with an mSLAM model: 16 kHz mono audio in, English captions
 * out as text buffers with the times of the speech they translate.
 *
 * Speech is cut into segments as `mslamasr` cuts captions (a pause of CTC blanks or silence, or
 * `max-duration`; without a CTC head in the model, by the energy rule alone) and the model's
 * Transformer decoder translates each segment's encoder frames (`input=speech`), or with
 * `input=transcript` the segment's CTC transcript through the encoder's text path (a cascade, as
 * mSLAM's shared encoder allows: the decoder then translates what `source-text` says, and a
 * decoder trained on text pairs alone works; `mslam-trainer eval --st-input transcript` scores
 * this cascade). The default, `input=auto`, reads what the model's decoder was trained to read,
 * which its file records (`mslam-trainer train` writes it, `export --translate-input` sets it).
 * With `second-pass` (the default), a closed segment's audio is first encoded again with full
 * attention context, so that the frames, the transcript and the language are offline's.
 *
 * English is its own translation: a segment in English (the language `languages` names, or
 * else the one identified on it) is translated as its transcript, with its confidence, as
 * `mslam_translate` does (a decoder trained on other languages into English writes something
 * else from English). Name the languages spoken where English is not among them.
 *
 * `lm` fuses a character language model (`mslam-trainer lm`) into the CTC search of the
 * transcript, as in `mslamasr`: in the stream when `languages` names one language, else on each
 * final segment in the language identified on it. It sharpens `source-text`, and with
 * `input=transcript` what is translated. `beam-size` is the beam of both searches.
 *
 * Each translation is also posted as an element message named `mslam-translation`, with the
 * fields of `mslam-asr` (`text`, `start`, `end`, `running-time`, `stream-time`, `final`,
 * `confidence`, `language`, here "en") and:
 *
 * * `source-language` (string): the language identified on the segment ("und" when unknown);
 * * `source-text` (string): what was said, when the model has a CTC head;
 * * `source-words` (array of `word` structures): its words, timed as `mslam-asr`'s `words`.
 *
 * With `partial-results`, the open segment is translated again whenever its recognised text
 * changes (costly: off by default).
 *
 * `translation-lm` fuses a character LM of English translations (`mslam-trainer lm
 * --translations`) into the decoder's beam search with weight `translation-lm-weight`: the beam
 * ranks by log p_decoder + weight * log p_lm, which favours fluent English (on the default
 * model's dev split, BLEU 6.67 -> 7.93 through the transcript).
 *
 * `translation-memory` (`mslam-trainer tm`; the model needs a CTC head) holds known sentences
 * and their translations: a segment whose transcript's nearest known sentence (in the language
 * identified on it) is at least `translation-memory-similarity` similar (1 - edit distance / the
 * longer length, in characters) is translated as that sentence was, with the similarity as
 * `confidence`; other segments go to the decoder, whatever its `input`. For speech in the
 * memory's domain (the default corpus's software messages: dev BLEU 6.71 -> 28.91 through the
 * transcript, both LMs on) it outdoes the decoder; outside it, a high enough similarity keeps
 * chance matches rare (24 of 1000 such sentences answered at 0.5).
 *
 * `no-repeat-ngram` N keeps any N characters from appearing twice in one translation (the
 * decoder's guard against loops, as fairseq's no_repeat_ngram_size); 0 turns it off.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=interview-fr.ogg ! decodebin ! audioconvert ! audioresample ! \
 *     mslamtranslate ! srtenc ! filesink location=interview-en.srt
 * ]| English subtitles for French speech.
 * |[
 * gst-launch-1.0 filesrc location=interview-es.ogg ! decodebin ! audioconvert ! audioresample ! \
 *     mslamtranslate input=transcript lm=lm.safetensors ! srtenc ! filesink location=interview-en.srt
 * ]| The cascade: Spanish speech recognised with the help of a character LM, then translated.
 * |[
 * gst-launch-1.0 filesrc location=interview-es.ogg ! decodebin ! audioconvert ! audioresample ! \
 *     mslamtranslate lm=lm.safetensors translation-lm=translation-lm.safetensors ! srtenc ! \
 *     filesink location=interview-en.srt
 * ]| The same with an LM on each side: the transcript's and the translation's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmslamcaption.h"
#include "gstmslamelements.h"

GST_DEBUG_CATEGORY_STATIC (gst_mslam_translate_debug);
#define GST_CAT_DEFAULT gst_mslam_translate_debug

#define GST_TYPE_MSLAM_TRANSLATE (gst_mslam_translate_get_type ())
G_DECLARE_FINAL_TYPE (GstMslamTranslate, gst_mslam_translate, GST, MSLAM_TRANSLATE, GstMslamCaption)

typedef enum
{
  GST_MSLAM_TRANSLATE_INPUT_SPEECH,
  GST_MSLAM_TRANSLATE_INPUT_TRANSCRIPT,
  GST_MSLAM_TRANSLATE_INPUT_AUTO,
} GstMslamTranslateInput;

#define DEFAULT_INPUT GST_MSLAM_TRANSLATE_INPUT_AUTO

enum
{
  PROP_INPUT = GST_MSLAM_CAPTION_N_PROPS,
  PROP_TRANSLATION_LM,
  PROP_TRANSLATION_LM_WEIGHT,
  PROP_TRANSLATION_MEMORY,
  PROP_TRANSLATION_MEMORY_SIMILARITY,
};

/* the caption class's handlers, for the properties it installed on this class */
static GObjectSetPropertyFunc caption_set_property;
static GObjectGetPropertyFunc caption_get_property;

struct _GstMslamTranslate
{
  GstMslamCaption parent;

  /* properties (object lock); read at start */
  GstMslamTranslateInput input;
  gchar *translation_lm_path;   /* NULL: none */
  gfloat translation_lm_weight;
  gchar *tm_path;               /* NULL: none */
  gfloat tm_min_similarity;

  /* while running */
  GstMslamTranslateInput running_input; /* speech or transcript, auto resolved */
  mslam_lm *translation_lm;
  mslam_tm *tm;
};

#define GST_TYPE_MSLAM_TRANSLATE_INPUT (gst_mslam_translate_input_get_type ())
static GType
gst_mslam_translate_input_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_MSLAM_TRANSLATE_INPUT_SPEECH, "The segment's encoder frames (end to end)", "speech"},
    {GST_MSLAM_TRANSLATE_INPUT_TRANSCRIPT,
        "The segment's CTC transcript through the encoder's text path (a cascade)", "transcript"},
    {GST_MSLAM_TRANSLATE_INPUT_AUTO,
        "What the model's decoder was trained to read (its file's translate_input)", "auto"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstMslamTranslateInput", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

G_DEFINE_TYPE (GstMslamTranslate, gst_mslam_translate, GST_TYPE_MSLAM_CAPTION);
GST_ELEMENT_REGISTER_DEFINE (mslamtranslate, "mslamtranslate", GST_RANK_NONE,
    GST_TYPE_MSLAM_TRANSLATE);

static gboolean
gst_mslam_translate_start (GstMslamCaption * caption)
{
  GstMslamBase *base = GST_MSLAM_BASE (caption);
  GstMslamTranslate *self = GST_MSLAM_TRANSLATE (caption);

  if (base->config.n_decoder_layers <= 0) {
    gst_mslam_base_model_error (base, "the model has no decoder, which mslamtranslate needs to "
        "translate (train or export it with one)");
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  self->running_input = self->input;
  gchar *lm_path = self->translation_lm_path && *self->translation_lm_path ?
      g_strdup (self->translation_lm_path) : NULL;
  gchar *tm_path = self->tm_path && *self->tm_path ? g_strdup (self->tm_path) : NULL;
  caption->decode.translation_lm_weight = self->translation_lm_weight;
  caption->decode.tm_min_similarity = self->tm_min_similarity;
  GST_OBJECT_UNLOCK (self);
  if (self->running_input == GST_MSLAM_TRANSLATE_INPUT_AUTO)
    self->running_input = base->config.translate_input == MSLAM_TRANSLATE_TRANSCRIPT ?
        GST_MSLAM_TRANSLATE_INPUT_TRANSCRIPT : GST_MSLAM_TRANSLATE_INPUT_SPEECH;
  GST_DEBUG_OBJECT (self, "translating from the %s", self->running_input ==
      GST_MSLAM_TRANSLATE_INPUT_TRANSCRIPT ? "CTC transcript" : "speech frames");
  gboolean ok = TRUE;
  if (self->running_input == GST_MSLAM_TRANSLATE_INPUT_TRANSCRIPT && !base->config.ctc_head) {
    gst_mslam_base_model_error (base, "input=transcript translates the CTC transcript, but the "
        "model has no CTC head (use input=speech, or a model with one)");
    ok = FALSE;
  } else if (tm_path && !base->config.ctc_head) {
    gst_mslam_base_file_error (base, "translation-memory", tm_path, "the memory matches the CTC "
        "transcript, but the model has no CTC head");
    ok = FALSE;
  }
  if (ok && lm_path && !(self->translation_lm = gst_mslam_base_load_lm (base, lm_path, TRUE)))
    ok = FALSE;
  if (ok && tm_path && !(self->tm = mslam_tm_load (tm_path))) {
    gst_mslam_base_file_error (base, "translation-memory", tm_path, mslam_last_error ());
    ok = FALSE;
  }
  g_free (lm_path);
  g_free (tm_path);
  if (!ok)
    return FALSE;
  caption->decode.translation_lm = self->translation_lm;
  caption->decode.translation_memory = self->tm;
  return TRUE;
}

static void
gst_mslam_translate_stop (GstMslamCaption * caption)
{
  GstMslamTranslate *self = GST_MSLAM_TRANSLATE (caption);

  caption->decode.translation_lm = NULL;
  mslam_lm_free (self->translation_lm);
  self->translation_lm = NULL;
  caption->decode.translation_memory = NULL;
  mslam_tm_free (self->tm);
  self->tm = NULL;
}

static gchar *
gst_mslam_translate_caption (GstMslamCaption * caption, const gfloat * frames, gint n,
    const mslam_result * ctc, const gchar * language, gboolean final, GstStructure * msg,
    gdouble * confidence)
{
  GstMslamBase *base = GST_MSLAM_BASE (caption);
  GstMslamTranslate *self = GST_MSLAM_TRANSLATE (caption);
  mslam_result *r;
  gchar *text = NULL;

  (void) final;
  struct mslam_decode_params decode = caption->decode;
  const gboolean heard = ctc && *mslam_result_text (ctc);
  /* the memory's sentences of the language spoken, when it is known (the decoder reads no
   * language) */
  if (self->tm && language && strcmp (language, "und"))
    decode.languages = language;
  if (ctc && language && !g_ascii_strcasecmp (language, "en")) {
    /* English is its own translation, as mslam_translate gives it: the transcript, with its
     * confidence (the decoder learnt English from other languages, and on English writes
     * something else); nothing heard, nothing to translate */
    if (!heard)
      return NULL;
    r = NULL;
    text = g_strdup (mslam_result_text (ctc));
    *confidence = mslam_result_confidence (ctc);
  } else if (self->running_input == GST_MSLAM_TRANSLATE_INPUT_TRANSCRIPT) {
    /* nothing heard, nothing to translate */
    if (!heard)
      return NULL;
    /* the memory first, then the decoder */
    r = mslam_translate_text (base->model, mslam_result_text (ctc), &decode);
  } else {
    /* a failed lookup fails the caption, as under input=transcript */
    gint used = self->tm && heard
        ? mslam_translate_memory (base->model, mslam_result_text (ctc), &decode, &r) : 0;
    if (used == 0)
      r = mslam_translate_frames (base->model, frames, n, &decode);
  }
  if (r) {
    text = g_strdup (mslam_result_text (r));
    *confidence = mslam_result_confidence (r);
  } else if (!text) {
    if (!gst_mslam_base_flushing (base))
      GST_WARNING_OBJECT (caption, "translation failed: %s", mslam_last_error ());
    return NULL;
  }
  gst_structure_set (msg, "language", G_TYPE_STRING, "en",
      "source-language", G_TYPE_STRING, language, NULL);
  if (ctc) {
    /* without the spaces the search may leave at its ends, as the caption elements' text (the
     * decoder read the transcript as the offline API does) */
    gchar *source = g_strstrip (g_strdup (mslam_result_text (ctc)));
    gst_structure_set (msg, "source-text", G_TYPE_STRING, source, NULL);
    g_free (source);
  }
  mslam_result_free (r);
  return text;
}

static void
gst_mslam_translate_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstMslamTranslate *self = GST_MSLAM_TRANSLATE (object);

  if (prop_id < PROP_INPUT) {
    caption_set_property (object, prop_id, value, pspec);
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_INPUT:
      self->input = g_value_get_enum (value);
      break;
    case PROP_TRANSLATION_LM:
      g_free (self->translation_lm_path);
      self->translation_lm_path = g_value_dup_string (value);
      break;
    case PROP_TRANSLATION_LM_WEIGHT:
      self->translation_lm_weight = g_value_get_float (value);
      break;
    case PROP_TRANSLATION_MEMORY:
      g_free (self->tm_path);
      self->tm_path = g_value_dup_string (value);
      break;
    case PROP_TRANSLATION_MEMORY_SIMILARITY:
      self->tm_min_similarity = g_value_get_float (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
  gst_mslam_base_warn_setting_waits (GST_MSLAM_BASE (self), pspec);
}

static void
gst_mslam_translate_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstMslamTranslate *self = GST_MSLAM_TRANSLATE (object);

  if (prop_id < PROP_INPUT) {
    caption_get_property (object, prop_id, value, pspec);
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_INPUT:
      g_value_set_enum (value, self->input);
      break;
    case PROP_TRANSLATION_LM:
      g_value_set_string (value, self->translation_lm_path);
      break;
    case PROP_TRANSLATION_LM_WEIGHT:
      g_value_set_float (value, self->translation_lm_weight);
      break;
    case PROP_TRANSLATION_MEMORY:
      g_value_set_string (value, self->tm_path);
      break;
    case PROP_TRANSLATION_MEMORY_SIMILARITY:
      g_value_set_float (value, self->tm_min_similarity);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_mslam_translate_finalize (GObject * object)
{
  GstMslamTranslate *self = GST_MSLAM_TRANSLATE (object);

  g_free (self->translation_lm_path);
  g_free (self->tm_path);
  G_OBJECT_CLASS (gst_mslam_translate_parent_class)->finalize (object);
}

static const gchar *
english (GstMslamBase * base, const GstTagList * upstream)
{
  (void) base;
  (void) upstream;
  return "en";
}

static void
gst_mslam_translate_class_init (GstMslamTranslateClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstMslamCaptionClass *caption_class = GST_MSLAM_CAPTION_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_mslam_translate_debug, "mslamtranslate", 0,
      "mslam speech translation");

  gst_element_class_set_static_metadata (element_class, "mSLAM speech translation",
      "Filter/Audio/Text", "Translates speech in many languages into timed English captions",
      "mslam developers");

  GST_MSLAM_BASE_CLASS (klass)->stream_language = english;
  caption_class->message_name = "mslam-translation";
  caption_class->needs_ctc = FALSE;
  caption_class->partial_default = FALSE;
  caption_class->translates = TRUE;
  caption_class->words_field = "source-words";
  caption_class->beam_blurb = "Beam size of the translation decoder's search and of the transcript's CTC search (1: greedy)";
  caption_class->start = gst_mslam_translate_start;
  caption_class->stop = gst_mslam_translate_stop;
  caption_class->caption = gst_mslam_translate_caption;
  gst_mslam_caption_class_install_properties (caption_class);

  caption_set_property = gobject_class->set_property;
  caption_get_property = gobject_class->get_property;
  gobject_class->set_property = gst_mslam_translate_set_property;
  gobject_class->get_property = gst_mslam_translate_get_property;
  gobject_class->finalize = gst_mslam_translate_finalize;
  g_object_class_install_property (gobject_class, PROP_INPUT,
      g_param_spec_enum ("input", "Input",
          "What the decoder translates: the segment's encoder frames, its CTC transcript "
          "through the encoder's text path, or (auto) what the model's decoder was trained to read",
          GST_TYPE_MSLAM_TRANSLATE_INPUT, DEFAULT_INPUT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TRANSLATION_LM,
      g_param_spec_string ("translation-lm", "Translation LM",
          "Character LM of English translations (`mslam-trainer lm --translations`) fused into the "
          "decoder's beam search (NULL: none)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TRANSLATION_LM_WEIGHT,
      g_param_spec_float ("translation-lm-weight", "Translation LM weight",
          "Weight of the translation LM's log-probability in the decoder's beam", 0.0f, 10.0f,
          mslam_decode_default_params ().translation_lm_weight,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TRANSLATION_MEMORY,
      g_param_spec_string ("translation-memory", "Translation memory",
          "Translation memory (`mslam-trainer tm`): a transcript whose nearest known sentence is at "
          "least translation-memory-similarity similar takes that sentence's translation, else the "
          "decoder translates (NULL: none)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TRANSLATION_MEMORY_SIMILARITY,
      g_param_spec_float ("translation-memory-similarity", "Translation memory similarity",
          "Least similarity (1 - edit distance / the longer length, in characters) at which the "
          "memory's translation replaces the decoder's", 0.0f, 1.0f,
          mslam_decode_default_params ().tm_min_similarity,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  gst_type_mark_as_plugin_api (GST_TYPE_MSLAM_TRANSLATE_INPUT, 0);
}

static void
gst_mslam_translate_init (GstMslamTranslate * self)
{
  self->input = DEFAULT_INPUT;
  self->translation_lm_weight = mslam_decode_default_params ().translation_lm_weight;
  self->tm_min_similarity = mslam_decode_default_params ().tm_min_similarity;
}
