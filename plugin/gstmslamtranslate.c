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
 * Transformer decoder translates each segment's encoder frames.
 *
 * Each translation is also posted as an element message named `mslam-translation`, with the
 * fields of `mslam-asr` (`text`, `start`, `end`, `running-time`, `stream-time`, `final`,
 * `confidence`, `language`, here "en") and:
 *
 * * `source-language` (string): the language identified on the segment ("und" when unknown);
 * * `source-text` (string): what was said, when the model has a CTC head.
 *
 * With `partial-results`, the open segment is translated again whenever its recognised text
 * changes (costly: off by default).
 *
 * `no-repeat-ngram` N keeps any N characters from appearing twice in one translation (the
 * decoder's guard against loops, as fairseq's no_repeat_ngram_size); 0 turns it off.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=interview-fr.ogg ! decodebin ! audioconvert ! audioresample ! \
 *     mslamtranslate ! srtenc ! filesink location=interview-en.srt
 * ]| English subtitles for French speech.
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

struct _GstMslamTranslate
{
  GstMslamCaption parent;
};

G_DEFINE_TYPE (GstMslamTranslate, gst_mslam_translate, GST_TYPE_MSLAM_CAPTION);
GST_ELEMENT_REGISTER_DEFINE (mslamtranslate, "mslamtranslate", GST_RANK_NONE,
    GST_TYPE_MSLAM_TRANSLATE);

static gboolean
gst_mslam_translate_start (GstMslamCaption * caption, gchar ** reason)
{
  GstMslamBase *base = GST_MSLAM_BASE (caption);

  if (base->config.n_decoder_layers <= 0) {
    *reason = g_strdup ("the model has no decoder, which mslamtranslate needs to translate "
        "(train or export it with one)");
    return FALSE;
  }
  return TRUE;
}

static gchar *
gst_mslam_translate_caption (GstMslamCaption * caption, const gfloat * frames, gint n,
    const mslam_result * ctc, const gchar * language, gboolean final, GstStructure * msg,
    gdouble * confidence)
{
  GstMslamBase *base = GST_MSLAM_BASE (caption);
  mslam_result *r;
  gchar *text;

  (void) final;
  r = mslam_translate_frames (base->model, frames, n, &caption->decode);
  if (!r) {
    GST_WARNING_OBJECT (caption, "translation failed: %s", mslam_last_error ());
    return NULL;
  }
  text = g_strdup (mslam_result_text (r));
  *confidence = mslam_result_confidence (r);
  gst_structure_set (msg, "language", G_TYPE_STRING, "en",
      "source-language", G_TYPE_STRING, language, NULL);
  if (ctc)
    gst_structure_set (msg, "source-text", G_TYPE_STRING, mslam_result_text (ctc), NULL);
  mslam_result_free (r);
  return text;
}

static void
gst_mslam_translate_class_init (GstMslamTranslateClass * klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstMslamCaptionClass *caption_class = GST_MSLAM_CAPTION_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_mslam_translate_debug, "mslamtranslate", 0,
      "mslam speech translation");

  gst_element_class_set_static_metadata (element_class, "mSLAM speech translation",
      "Filter/Audio/Text", "Translates speech in many languages into timed English captions",
      "mslam developers");

  caption_class->message_name = "mslam-translation";
  caption_class->needs_ctc = FALSE;
  caption_class->partial_default = FALSE;
  caption_class->translates = TRUE;
  caption_class->beam_blurb = "Beam size of the translation decoder's search (1: greedy)";
  caption_class->start = gst_mslam_translate_start;
  caption_class->caption = gst_mslam_translate_caption;
  gst_mslam_caption_class_install_properties (caption_class);
}

static void
gst_mslam_translate_init (GstMslamTranslate * self)
{
  (void) self;
}
