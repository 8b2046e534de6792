/**
 * SECTION:element-mslamasr
 * @title: mslamasr
 * @see_also: mslamtranslate, mslamlid, srtenc, webvttenc, textoverlay
 *
 * Speech recognition with an mSLAM model: 16 kHz mono audio in, captions out as text buffers
 * whose PTS and duration lie on the audio's timeline, so that they feed `srtenc`, `webvttenc`,
 * `textoverlay` and muxers directly.
 *
 * The audio goes through the encoder chunk by chunk (the `latency` property), with the context
 * of earlier chunks cached; the CTC head's characters are collected into a caption until a pause
 * (`pause`: CTC blanks, or silence by an energy rule) or `max-duration` ends it. With
 * `second-pass` (the default), a caption's audio is then encoded again with full attention
 * context and decoded from that: what goes out has the accuracy of offline recognition, for one
 * more encoder pass over each caption (a few milliseconds a second of speech); partial results
 * come from the stream. Characters where the energy rule hears nothing voiced (a model's noise in
 * silence) make no caption.
 *
 * A caption goes out when it ends, stamped with the time its speech started: up to
 * `max-duration`, plus the rest of the chunk that holds its end and 45 ms of look-ahead, after
 * its audio. That is what the LATENCY query answers, so that live sinks and muxers wait for the
 * text. While nothing is said, GAP events tell downstream that no text is coming. A muxer that
 * takes the captions and the audio they come from (through a `tee`) waits for the text of each
 * time, so the queue on the audio branch must hold that much audio (third example).
 *
 * Each caption is also posted as an element message named `mslam-asr`:
 *
 * * `text` (string): the caption;
 * * `start`, `end` (guint64, nanoseconds): its times, as the buffer's PTS and PTS + duration;
 * * `running-time`, `stream-time` (guint64): `start` in running time and stream time;
 * * `final` (boolean): FALSE for partial results (`partial-results`: the open caption's text so
 *   far, posted as it grows), TRUE for the caption as it goes out;
 * * `confidence` (double, 0..1): geometric mean of the characters' probabilities;
 * * `language` (string): the language identified on the caption (with a LID head; else the one
 *   language of `languages`, or "und");
 * * `words` (array of `word` structures): the caption's words in order, each with `text`,
 *   `start` and `end` (guint64, nanoseconds: the frames where CTC emits its first character and
 *   after its last, inside the caption; CTC emits a character at or a little after its sound)
 *   and `confidence` (double, 0..1). A word is a run of characters between spaces: a language
 *   written without them gives one per run.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=talk.wav ! decodebin ! audioconvert ! audioresample ! \
 *     mslamasr ! srtenc ! filesink location=talk.srt
 * ]| Captions a file into SubRip subtitles.
 * |[
 * gst-launch-1.0 -m autoaudiosrc ! audioconvert ! audioresample ! mslamasr latency=320 ! fakesink
 * ]| Live captions from the microphone, printed as `mslam-asr` messages.
 * |[
 * gst-launch-1.0 filesrc location=talk.wav ! decodebin ! audioconvert ! audioresample ! \
 *     mslamasr languages=fr lm=lm.safetensors ! srtenc ! filesink location=talk.srt
 * ]| French captions with a character language model (`mslam-trainer lm`) fused into the beam
 * search (`lm-weight`, `lm-bonus`). Without one language in `languages`, each final caption is
 * decoded again with the LM of the language identified on it (partial results go without).
 * |[
 * gst-launch-1.0 -e filesrc location=talk.wav ! decodebin ! audioconvert ! audioresample ! tee name=t \
 *     t. ! queue ! mslamasr ! mux. \
 *     t. ! queue max-size-time=7000000000 max-size-bytes=0 max-size-buffers=0 ! audioconvert ! \
 *     flacenc ! matroskamux name=mux ! filesink location=talk.mka
 * ]| The audio and its captions in one Matroska file: the audio's queue holds 7 s, more than the
 * element's latency (6.3 s with the default `max-duration` and `latency`); with a 1 s queue the
 * tee would stall while a caption is open.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmslamcaption.h"
#include "gstmslamelements.h"

GST_DEBUG_CATEGORY_STATIC (gst_mslam_asr_debug);
#define GST_CAT_DEFAULT gst_mslam_asr_debug

#define GST_TYPE_MSLAM_ASR (gst_mslam_asr_get_type ())
G_DECLARE_FINAL_TYPE (GstMslamAsr, gst_mslam_asr, GST, MSLAM_ASR, GstMslamCaption)

struct _GstMslamAsr
{
  GstMslamCaption parent;
};

G_DEFINE_TYPE (GstMslamAsr, gst_mslam_asr, GST_TYPE_MSLAM_CAPTION);
GST_ELEMENT_REGISTER_DEFINE (mslamasr, "mslamasr", GST_RANK_NONE, GST_TYPE_MSLAM_ASR);

/* The recognised text is the caption (for a final caption, the base's decoding of the second
 * pass's frames and/or with the LM: see GstMslamCaptionClass.caption). */
static gchar *
gst_mslam_asr_caption (GstMslamCaption * caption, const gfloat * frames, gint n,
    const mslam_result * ctc, const gchar * language, gboolean final, GstStructure * msg,
    gdouble * confidence)
{
  (void) caption;
  (void) frames;
  (void) n;
  (void) language;
  (void) final;
  (void) msg;
  (void) confidence;
  return g_strdup (mslam_result_text (ctc));
}

/* The text's language: the one the languages property names (the captions are in it, whatever
 * the audio's tags say), else the audio's (NULL: upstream's tag is taken), else "und"
 * (undetermined, ISO 639-2, as mslamlid tags: without a tag a Matroska track is read as
 * English). */
static const gchar *
text_language (GstMslamBase * base, const GstTagList * upstream)
{
  if (base->model && base->n_lang_ids == 1)
    return mslam_model_lang (base->model, base->lang_ids[0]);
  if (upstream && gst_tag_list_get_tag_size (upstream, GST_TAG_LANGUAGE_CODE) > 0)
    return NULL;
  return "und";
}

static void
gst_mslam_asr_class_init (GstMslamAsrClass * klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstMslamCaptionClass *caption_class = GST_MSLAM_CAPTION_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_mslam_asr_debug, "mslamasr", 0, "mslam speech recognition");

  gst_element_class_set_static_metadata (element_class, "mSLAM speech recognition",
      "Filter/Audio/Text", "Recognises speech in many languages and puts out timed captions",
      "mslam developers");

  GST_MSLAM_BASE_CLASS (klass)->stream_language = text_language;
  caption_class->message_name = "mslam-asr";
  caption_class->needs_ctc = TRUE;
  caption_class->words_field = "words";
  caption_class->partial_default = TRUE;
  caption_class->beam_blurb = "Beam size of the CTC prefix search (1: greedy)";
  caption_class->caption = gst_mslam_asr_caption;
  gst_mslam_caption_class_install_properties (caption_class);
}

static void
gst_mslam_asr_init (GstMslamAsr * self)
{
  (void) self;
}
