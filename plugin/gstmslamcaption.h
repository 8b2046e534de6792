/* GstMslamCaption: the abstract element under mslamasr and mslamtranslate.
 *
 * It cuts the stream of encoder frames into captions and puts them out as text/x-raw buffers on
 * the audio timeline, plus element messages. A caption opens at speech (the first character the
 * CTC head emits, or voiced audio by the energy rule when the model has no CTC head) and ends
 *  - at a pause: `pause` ms of CTC blanks, or of silence by the energy rule once the frames
 *    before the silence have been decoded (the faster of the two);
 *  - at `max-duration`: before the last word CTC has begun (which may still be going on), or
 *    after it when it is over, so that words are not cut in two (where the last word began in
 *    the caption's first half, and in languages written without spaces, between characters);
 *    the frames after the cut are decoded again as the next caption's;
 *  - at EOS, a discontinuity or a gap.
 * A caption needs a frame the energy rule heard as voiced: CTC characters in silence are dropped.
 * Subclasses turn a closed caption (its encoder frames and its CTC text) into text. While no
 * caption is open, GAP events tell downstream (textoverlay, muxers) that no text is coming for
 * the time passed, so they need not wait; while one is open, downstream waits for it up to the
 * element's latency (max-duration and a chunk: see caption_latency).
 */
#ifndef GST_MSLAM_CAPTION_H
#define GST_MSLAM_CAPTION_H

#include "gstmslamcommon.h"

G_BEGIN_DECLS

#define GST_TYPE_MSLAM_CAPTION (gst_mslam_caption_get_type ())
#define GST_MSLAM_CAPTION(obj) (G_TYPE_CHECK_INSTANCE_CAST ((obj), GST_TYPE_MSLAM_CAPTION, GstMslamCaption))
#define GST_MSLAM_CAPTION_CLASS(klass) (G_TYPE_CHECK_CLASS_CAST ((klass), GST_TYPE_MSLAM_CAPTION, GstMslamCaptionClass))
#define GST_MSLAM_CAPTION_GET_CLASS(obj) (G_TYPE_INSTANCE_GET_CLASS ((obj), GST_TYPE_MSLAM_CAPTION, GstMslamCaptionClass))

typedef struct _GstMslamCaption GstMslamCaption;
typedef struct _GstMslamCaptionClass GstMslamCaptionClass;

struct _GstMslamCaption
{
  GstMslamBase parent;

  /* properties (object lock) */
  gint beam_size;
  gboolean partial_results;
  guint pause_ms;
  guint max_duration_ms;
  gchar *lm_path;               /* character LM file for the transcript (NULL: none) */
  gfloat lm_weight, lm_bonus;
  gint no_repeat_ngram;         /* mslamtranslate */
  guint line_length;            /* the text buffers' lines (0: one line) */
  guint max_lines;              /* lines of a text buffer, with line_length (0: any) */
  gdouble min_confidence;       /* final captions below it are dropped (object lock) */

  /* while running */
  mslam_lm *lm;
  struct mslam_decode_params decode;    /* beam, threads, languages (for identification) */
  gchar *decode_languages;              /* owns decode.languages */
  mslam_ctc_decoder *ctc;               /* NULL when the model has no CTC head */
  guint64 ctc_first;                    /* the frame ctc counts as its frame 0 */
  gint pause_frames;
  gint max_frames;                      /* max-duration in frames, as started with (the
                                         * LATENCY query: gst_mslam_base_setting) */

  gfloat *seg;                  /* encoder frames since seg_first (the open caption and margin) */
  gsize seg_n, seg_cap;         /* in frames */
  guint64 seg_first;
  gint64 open_frame;            /* first frame with speech of the open caption; -1: none open */
  guint64 scan_frame;           /* without CTC: the first frame not yet looked at for speech */
  GstClockTime out_end;         /* end of the last text or gap pushed (NONE: nothing yet), on the
                                 * timeline's times */
  /* Added to this timeline's times on the way out, so that they follow what the segment put out
   * before it (a timeline that started again earlier: base->text_end); fixed at its first text
   * or gap, so its captions keep their spacing (NONE: not yet). */
  GstClockTime shift;
  gchar *last_partial;
  guint64 partial_frame;        /* n_frames when the last partial result was made */
  guint64 cut_frame;            /* where a max-duration cut ended the last caption (G_MAXUINT64:
                                 * another end, or none since the timeline began) */
};

struct _GstMslamCaptionClass
{
  GstMslamBaseClass parent_class;

  /* Name of the element messages ("mslam-asr"). */
  const gchar *message_name;
  /* TRUE: the model must have a CTC head (speech recognition). */
  gboolean needs_ctc;
  /* Default of the partial-results property. */
  gboolean partial_default;
  /* Blurb of the beam-size property. */
  const gchar *beam_blurb;
  /* TRUE: captions come from the translation decoder (the no-repeat-ngram property). */
  gboolean translates;
  /* Field of the messages that times the recognised words ("words"; NULL: none). */
  const gchar *words_field;

  /* Checks the model and allocates the subclass' state (see GstMslamBaseClass.start). */
  gboolean (*start) (GstMslamCaption * self);
  void (*stop) (GstMslamCaption * self);

  /* The text of a caption: frames (n x d_model) are its encoder frames, ctc its recognised text
   * (NULL without a CTC head), language the code identified on its frames ("und" when
   * unknown). For a final caption with second-pass, the frames are its audio encoded again with
   * full context and ctc their decoding; with an LM but no one language named, ctc is decoded
   * with the LM of the language identified (among `languages`, helped by the LM; without the LM
   * when the LM lacks that language, where mslam_transcribe would pick among the LM's
   * languages only).
   * final: the caption is closed (else a partial result of the open one). Returns the text (NULL
   * or "": nothing to show) and may add fields to msg (text, start, end, final are the base's).
   * *confidence starts as the CTC confidence (0 without). */
  gchar *(*caption) (GstMslamCaption * self, const gfloat * frames, gint n, const mslam_result * ctc,
      const gchar * language, gboolean final, GstStructure * msg, gdouble * confidence);
};

GType gst_mslam_caption_get_type (void);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstMslamCaption, gst_object_unref)

/* Installs beam-size, partial-results, pause and max-duration on a subclass (after setting
 * partial_default, beam_blurb and translates; lm, lm-weight and lm-bonus with needs_ctc or
 * translates, no-repeat-ngram with translates), so that each element shows its own defaults and blurbs. It
 * sets the subclass' set_property/get_property; a subclass with properties of its own numbers
 * them from GST_MSLAM_CAPTION_N_PROPS, installs its handlers after this call and hands the
 * other ids to the ones this call set. */
void gst_mslam_caption_class_install_properties (GstMslamCaptionClass * klass);

#define GST_MSLAM_CAPTION_N_PROPS (GST_MSLAM_BASE_N_PROPS + 11)

G_END_DECLS

#endif
